/* cmd_data.c - coinbc data info|verify|split|export: look at, check, split
 * and export datasets. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture/capture.h"
#include "cli/cli.h"
#include "game/game.h"

/* data info --json: jansson, so that any path comes out as valid JSON */
static int print_info_json(const ds_info *in) {
    ds_reader *r = in->r;
    int n = ds_nlevels(r);
    double raw = (double)in->frames * CB_FRAME_BYTES;
    json_t *seeds = json_array(), *lab = json_array(), *ex = json_array();
    for (int i = 0; i < n && seeds; i++) json_array_append_new(seeds, json_integer(ds_level_seed(r, i)));
    for (int a = 0; a < CB_NUM_ACTIONS && lab && ex; a++) {
        json_array_append_new(lab, json_integer((json_int_t)in->label_hist[a]));
        json_array_append_new(ex, json_integer((json_int_t)in->executed_hist[a]));
    }
    json_t *path = json_string(ds_path(r));
    if (!path) {
        json_decref(seeds);
        json_decref(lab);
        json_decref(ex);
        return cli_error("data info", "%s: the path is not UTF-8, which JSON cannot carry; rename the folder, or leave "
                                      "out --json", ds_path(r));
    }
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", ds_manifest_crc(r));
    json_t *o = json_pack("{s:o, s:i, s:I, s:I, s:I, s:f, s:f, s:i, s:i, s:s, s:{s:i, s:i, s:i}, s:o, s:o, s:o}",
                          "path", path, "levels", n, "frames", (json_int_t)in->frames, "episodes",
                          (json_int_t)in->episodes, "bytes", (json_int_t)in->bytes, "raw_frame_bytes", raw,
                          "compression_ratio", in->bytes ? raw / (double)in->bytes : 0.0, "first_seed",
                          n ? ds_level_seed(r, 0) : 0, "last_seed", n ? ds_level_seed(r, n - 1) : 0,
                          "manifest_crc", crc, "modes", "easy", in->modes[1], "hard", in->modes[2], "unknown",
                          in->modes[0], "seeds", seeds, "label_histogram", lab, "executed_histogram", ex);
    char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) return cli_error("data info", "out of memory"), 1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_info_table(const ds_info *in) {
    ds_reader *r = in->r;
    int n = ds_nlevels(r);
    int64_t frames = in->frames;
    double raw = (double)frames * CB_FRAME_BYTES;
    printf("dataset    %s\nsource     %s\ncommand    %s\n", ds_path(r), ds_source(r), ds_command(r));
    printf("levels     %d (seeds %d..%d; %d easy, %d hard, %d unknown mode)\n", n, n ? ds_level_seed(r, 0) : 0,
           n ? ds_level_seed(r, n - 1) : 0, in->modes[1], in->modes[2], in->modes[0]);
    printf("frames     %lld in %lld episodes\n", (long long)frames, (long long)in->episodes);
    printf("size       %.1f MB on disk, %.1f MB of raw frames, compression %.1fx\n", in->bytes / 1e6, raw / 1e6,
           in->bytes ? raw / (double)in->bytes : 0);
    printf("actions       label (to learn)     executed\n");
    for (int a = 0; a < CB_NUM_ACTIONS; a++) {
        int64_t h = in->label_hist[a], x = in->executed_hist[a];
        if (h || x)
            printf("  %2d %-10s %9lld %5.1f%%  %9lld %5.1f%%\n", a, game_action_name(a), (long long)h,
                   frames ? 100.0 * h / frames : 0, (long long)x, frames ? 100.0 * x / frames : 0);
    }
}

static int data_info(int argc, char **argv) {
    int json = 0, quiet = 0;
    cli_opt opts[] = {{"json", CLI_FLAG, &json, NULL, "print JSON instead of a table", 0},
                      {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0}};
    cli_cmd_info info = {"data info", "Levels, frames, sizes, compression ratio and the label histogram of a dataset.",
                         "coinbc data info DATA [--json]",
                         "Every shard is read for the histograms (labels: the action to learn; executed: the action\n"
                         "played). example: coinbc data info train.cbd"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error("data info", "give one DATA folder"), 2;
    ds_info in;
    cb_err e = {0};
    if (ds_info_open(&in, pos[0], quiet, &e)) return cli_fail("data info", &e);
    int status = 0;
    if (json) status = print_info_json(&in);
    else print_info_table(&in);
    ds_info_close(&in);
    return status;
}

static void print_bad(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "coinbc data verify: BAD: %s\n", msg);
}

static int data_verify(int argc, char **argv) {
    int quiet = 0;
    cli_opt opts[] = {{"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0}};
    cli_cmd_info info = {"data verify", "Check every shard of a dataset: size and CRC32 against the manifest, header and\n"
                                        "payload CRCs, the header against the manifest (seed, mode, frames), values, and the\n"
                                        "rules between frames (episodes 0, 1, ... in order, steps increasing within one, done\n"
                                        "only at an episode's end, the episode count). Exits non-zero naming each bad shard.",
                         "coinbc data verify DATA", "The manifest itself is read exactly as docs/FORMATS.md gives it."};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error("data verify", "give one DATA folder"), 2;
    cb_err e = {0};
    int n = 0, bad = 0;
    if (ds_verify_all(&n, &bad, pos[0], quiet, print_bad, NULL, &e)) return cli_fail("data verify", &e);
    printf("%s: %d levels, %d good, %d bad\n", pos[0], n, n - bad, bad);
    return bad ? 1 : 0;
}

static int data_split(int argc, char **argv) {
    cli_range tr = {0, 0}, te = {0, 0};
    const char *out = NULL;
    int quiet = 0;
    cli_opt opts[] = {
        {"train", CLI_RANGE, &tr, "A-B", "training level seeds", 0},
        {"test", CLI_RANGE, &te, "C-D", "test level seeds (must not overlap --train)", 0},
        {"out", CLI_STR, &out, "PREFIX", "writes PREFIX-train.cbd and PREFIX-test.cbd (-o)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    cli_cmd_info info = {"data split", "Split a dataset by level seed (never by frame) into a training and a test dataset.",
                         "coinbc data split DATA --train A-B --test C-D -o PREFIX",
                         "Shards are copied as levels (decoded, checked, re-encoded); the input is not changed.\n"
                         "example: coinbc data split all.cbd --train 0-63 --test 1000-1999 -o coinrun"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1 || !CLI_SEEN(opts, "train") || !CLI_SEEN(opts, "test") || !out)
        return cli_error("data split", "give DATA, --train A-B, --test C-D and -o PREFIX"), 2;
    if (!(tr.hi < te.lo || te.hi < tr.lo))
        return cli_error("data split", "--train %d-%d and --test %d-%d overlap", tr.lo, tr.hi, te.lo, te.hi), 2;
    cb_err e = {0};
    char a[4200], b[4200], cmd[600];
    snprintf(a, sizeof a, "%s-train.cbd", out);
    snprintf(b, sizeof b, "%s-test.cbd", out);
    if (cb_path_check_output("-o", a, CB_OUT_DATASET, pos, 1, &e) || cb_path_check_output("-o", b, CB_OUT_DATASET, pos, 1, &e))
        return cli_fail("data split", &e), 2;
    snprintf(cmd, sizeof cmd, "coinbc data split %.200s --train %d-%d --test %d-%d", pos[0], tr.lo, tr.hi, te.lo, te.hi);
    ds_split_opts o = {.in = pos[0], .a = a, .b = b, .alo = tr.lo, .ahi = tr.hi, .blo = te.lo, .bhi = te.hi,
                       .command = cmd, .quiet = quiet};
    int na = 0, nb = 0;
    if (ds_split(&na, &nb, &o, &e)) return cli_fail("data split", &e);
    printf("%s: %d levels\n%s: %d levels\n", a, na, b, nb);
    return 0;
}

static int data_export(int argc, char **argv) {
    cli_range lv = {0, INT32_MAX};
    const char *fmt = "png", *out = NULL;
    int quiet = 0, force = 0;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "only these level seeds (default all)", 0},
        {"format", CLI_STR, &fmt, "png|npz", "PNG level folders (default) or one .npz per episode", 0},
        {"out", CLI_STR, &out, "DIR", "output folder (-o); must be new or empty unless --force", 0},
        {"force", CLI_FLAG, &force, NULL, "replace the content of an existing DIR (swapped in whole at the end)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    cli_cmd_info info = {"data export", "Export levels as recordings; capturing the export gives the same frames and labels.",
                         "coinbc data export DATA [--levels A-B] --format png|npz -o DIR [--force]",
                         "png: DIR/level_SEED/frame_NNNNNN.png + actions.csv (step,action,reward,done,label,executed,\n"
                         "episode,episode_step). npz: one DIR/{timestamp}_{index}_{T}_{seed}_{return}.npz per episode,\n"
                         "channels last, stored members. The export is written beside DIR and moved into place at the\n"
                         "end, so DIR holds either its old content or the whole export, never a mixture.\n"
                         "example: coinbc data export test.cbd --levels 5-9 --format npz -o out"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1 || !out) return cli_error("data export", "give DATA and -o DIR"), 2;
    int npz = !strcmp(fmt, "npz");
    if (!npz && strcmp(fmt, "png")) return cli_error("data export", "unknown --format '%s' (png or npz)", fmt), 2;
    cb_err e = {0};
    if (cb_path_check_output("-o", out, CB_OUT_FILE, pos, 1, &e)) return cli_fail("data export", &e), 2;
    char command[2048];
    cli_join_args(command, sizeof command, argc, argv);
    capture_export_run_opts o = {.data = pos[0], .out = out, .lo = lv.lo, .hi = lv.hi, .npz = npz, .force = force,
                                 .quiet = quiet, .command = command};
    int count = 0;
    if (capture_export_run(&count, &o, &e)) return cli_fail("data export", &e);
    printf("exported %d levels as %s to %s\n", count, fmt, out);
    return 0;
}

int cli_cmd_data(int argc, char **argv) {
    static const char *usage = "usage: coinbc data info|verify|split|export|relabel ...   (coinbc data SUB --help)\n"
                               "  info     levels, frames, sizes, compression ratio, label histogram\n"
                               "  verify   check every shard; non-zero exit naming each bad one\n"
                               "  split    split by level seed into training and test datasets\n"
                               "  export   levels back out as PNG folders or .npz episodes\n"
                               "  relabel  copy with random labels on some levels (the memorization probe)\n";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) return data_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "verify")) return data_verify(argc - 1, argv + 1);
    if (!strcmp(argv[1], "split")) return data_split(argc - 1, argv + 1);
    if (!strcmp(argv[1], "export")) return data_export(argc - 1, argv + 1);
    if (!strcmp(argv[1], "relabel")) return cli_cmd_data_relabel(argc - 1, argv + 1);
    cli_error("data", "unknown subcommand '%s'", argv[1]);
    fputs(usage, stderr);
    return 2;
}

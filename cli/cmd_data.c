/* cmd_data.c - coinbc data info|verify|split|export: look at, check, split
 * and export datasets. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture/capture.h"
#include "cli/cli.h"
#include "game/game.h"

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
    ds_reader *r;
    cb_err e = {0};
    if (ds_open(&r, pos[0], &e)) return cli_fail("data info", &e);
    int n = ds_nlevels(r);
    int64_t frames = ds_total_frames(r), episodes = 0;
    uint64_t bytes = 0;
    int modes[3] = {0};
    for (int i = 0; i < n; i++) {
        const ds_entry *en = ds_level_entry(r, i);
        bytes += en->bytes;
        episodes += en->episodes;
        modes[en->mode + 1]++;
    }
    /* label histogram: read every level (one at a time) */
    int64_t hist[DS_NUM_ACTIONS] = {0}, exec[DS_NUM_ACTIONS] = {0};
    int status = 0;
    cb_progress p;
    cb_progress_start(&p, "info", "levels", n, quiet);
    for (int i = 0; i < n; i++) {
        int32_t s = ds_level_seed(r, i);
        ds_level l;
        if (ds_load(r, &s, 1, &l, 1, &e)) {
            status = cli_fail("data info", &e);
            break;
        }
        for (int64_t t = 0; t < l.n; t++) {
            hist[l.label[t]]++;
            exec[l.action[t]]++;
        }
        ds_level_free(&l);
        cb_progress_update(&p, i + 1);
    }
    cb_progress_finish(&p);
    if (status) {
        ds_close(r);
        return status;
    }
    double raw = (double)frames * DS_FRAME_BYTES;
    if (json) {
        /* jansson, so that any path comes out as valid JSON */
        json_t *seeds = json_array(), *lab = json_array(), *ex = json_array();
        for (int i = 0; i < n && seeds; i++) json_array_append_new(seeds, json_integer(ds_level_seed(r, i)));
        for (int a = 0; a < DS_NUM_ACTIONS && lab && ex; a++) {
            json_array_append_new(lab, json_integer((json_int_t)hist[a]));
            json_array_append_new(ex, json_integer((json_int_t)exec[a]));
        }
        json_t *path = json_string(ds_path(r));
        if (!path) {
            json_decref(seeds);
            json_decref(lab);
            json_decref(ex);
            cli_error("data info", "%s: the path is not UTF-8, which JSON cannot carry; rename the folder, or leave out "
                      "--json", ds_path(r));
            ds_close(r);
            return 1;
        }
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", ds_manifest_crc(r));
        json_t *o = json_pack("{s:o, s:i, s:I, s:I, s:I, s:f, s:f, s:i, s:i, s:s, s:{s:i, s:i, s:i}, s:o, s:o, s:o}",
                              "path", path, "levels", n, "frames", (json_int_t)frames, "episodes",
                              (json_int_t)episodes, "bytes", (json_int_t)bytes, "raw_frame_bytes", raw,
                              "compression_ratio", bytes ? raw / (double)bytes : 0.0, "first_seed",
                              n ? ds_level_seed(r, 0) : 0, "last_seed", n ? ds_level_seed(r, n - 1) : 0,
                              "manifest_crc", crc, "modes", "easy", modes[1], "hard", modes[2], "unknown", modes[0],
                              "seeds", seeds, "label_histogram", lab, "executed_histogram", ex);
        char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(o);
        if (!text) {
            ds_close(r);
            return cli_error("data info", "out of memory"), 1;
        }
        printf("%s\n", text);
        free(text);
    } else {
        printf("dataset    %s\nsource     %s\ncommand    %s\n", ds_path(r), ds_source(r), ds_command(r));
        printf("levels     %d (seeds %d..%d; %d easy, %d hard, %d unknown mode)\n", n, n ? ds_level_seed(r, 0) : 0,
               n ? ds_level_seed(r, n - 1) : 0, modes[1], modes[2], modes[0]);
        printf("frames     %lld in %lld episodes\n", (long long)frames, (long long)episodes);
        printf("size       %.1f MB on disk, %.1f MB of raw frames, compression %.1fx\n", bytes / 1e6, raw / 1e6,
               bytes ? raw / (double)bytes : 0);
        printf("actions       label (to learn)     executed\n");
        for (int a = 0; a < DS_NUM_ACTIONS; a++)
            if (hist[a] || exec[a])
                printf("  %2d %-10s %9lld %5.1f%%  %9lld %5.1f%%\n", a, game_action_name(a), (long long)hist[a],
                       frames ? 100.0 * hist[a] / frames : 0, (long long)exec[a], frames ? 100.0 * exec[a] / frames : 0);
    }
    ds_close(r);
    return status;
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
    ds_reader *r;
    cb_err e = {0};
    if (ds_open(&r, pos[0], &e)) return cli_fail("data verify", &e);
    int n = ds_nlevels(r), bad = 0;
    cb_progress p;
    cb_progress_start(&p, "verify", "levels", n, quiet);
    for (int i = 0; i < n; i++) {
        if (ds_verify_level(r, i, &e)) {
            fprintf(stderr, "coinbc data verify: BAD: %s\n", e.msg);
            bad++;
        }
        cb_progress_update(&p, i + 1);
    }
    cb_progress_finish(&p);
    printf("%s: %d levels, %d good, %d bad\n", pos[0], n, n - bad, bad);
    ds_close(r);
    return bad ? 1 : 0;
}

/* Opens a fresh dataset at `out` (locked until commit or abort) and copies
 * the levels lo..hi into it; the caller commits or aborts. */
static int copy_levels(const char *cmd, ds_reader *r, const char *out, int32_t lo, int32_t hi, const char *command,
                       int quiet, int *count, ds_writer **wout) {
    cb_err e = {0};
    ds_writer *w;
    *wout = NULL;
    *count = 0;
    int total = 0;
    for (int i = 0; i < ds_nlevels(r); i++) total += ds_level_seed(r, i) >= lo && ds_level_seed(r, i) <= hi;
    if (total == 0) return cli_error(cmd, "%s: no levels in %d-%d", ds_path(r), lo, hi);
    if (ds_writer_open(&w, out, 0, ds_source(r), command, &e)) return cli_fail(cmd, &e);
    cb_progress p;
    cb_progress_start(&p, out, "levels", total, quiet);
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < lo || s > hi) continue;
        ds_level l;
        if (ds_load(r, &s, 1, &l, 1, &e) || ds_writer_add(w, &l, &e)) {
            ds_level_free(&l);
            ds_writer_abort(w);
            return cli_fail(cmd, &e);
        }
        ds_level_free(&l);
        (*count)++;
        cb_progress_update(&p, *count);
    }
    cb_progress_finish(&p);
    *wout = w;
    return 0;
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
    ds_reader *r;
    cb_err e = {0};
    char a[4200], b[4200], cmd[600];
    snprintf(a, sizeof a, "%s-train.cbd", out);
    snprintf(b, sizeof b, "%s-test.cbd", out);
    if (cb_path_check_output("-o", a, CB_OUT_DATASET, pos, 1, &e) || cb_path_check_output("-o", b, CB_OUT_DATASET, pos, 1, &e))
        return cli_fail("data split", &e), 2;
    if (ds_open(&r, pos[0], &e)) return cli_fail("data split", &e);
    snprintf(cmd, sizeof cmd, "coinbc data split %.200s --train %d-%d --test %d-%d", pos[0], tr.lo, tr.hi, te.lo, te.hi);
    int na = 0, nb = 0;
    ds_writer *wa = NULL, *wb = NULL;
    /* both outputs are written, then committed: a failure leaves neither */
    int status = copy_levels("data split", r, a, tr.lo, tr.hi, cmd, quiet, &na, &wa);
    if (!status) status = copy_levels("data split", r, b, te.lo, te.hi, cmd, quiet, &nb, &wb);
    /* both manifests go into place while both locks are held; a failure of
     * either takes both back out */
    if (!status && (ds_writer_prepare(wa, &e) || ds_writer_prepare(wb, &e))) status = cli_fail("data split", &e);
    if (status) {
        ds_writer_abort(wa);
        ds_writer_abort(wb);
    } else { /* prepared: commit only releases the locks */
        ds_writer_commit(wa, &e);
        ds_writer_commit(wb, &e);
    }
    if (!status) printf("%s: %d levels\n%s: %d levels\n", a, na, b, nb);
    ds_close(r);
    return status;
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
    ds_reader *r;
    cb_err e = {0};
    if (cb_path_check_output("-o", out, CB_OUT_FILE, pos, 1, &e)) return cli_fail("data export", &e), 2;
    if (ds_open(&r, pos[0], &e)) return cli_fail("data export", &e);
    int count = 0, status = 0, total = 0;
    for (int i = 0; i < ds_nlevels(r); i++) total += ds_level_seed(r, i) >= lv.lo && ds_level_seed(r, i) <= lv.hi;
    if (total == 0) {
        status = cli_error("data export", "%s: no levels in %d-%d", pos[0], lv.lo, lv.hi);
        ds_close(r);
        return status;
    }
    char command[2048];
    cli_join_args(command, sizeof command, argc, argv);
    capture_export_out xo;
    if (capture_export_open(&xo, out, force, command, &e)) {
        ds_close(r);
        return cli_fail("data export", &e);
    }
    cb_progress p;
    cb_progress_start(&p, "export", "levels", total, quiet);
    for (int i = 0; i < ds_nlevels(r) && !status; i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < lv.lo || s > lv.hi) continue;
        ds_level l;
        if (ds_load(r, &s, 1, &l, 1, &e) || (npz ? capture_export_npz(&l, xo.tmp, &e) : capture_export_png(&l, xo.tmp, &e)))
            status = cli_fail("data export", &e);
        ds_level_free(&l);
        count++;
        cb_progress_update(&p, count);
    }
    cb_progress_finish(&p);
    if (status) capture_export_abort(&xo);
    else if (capture_export_commit(&xo, &e)) status = cli_fail("data export", &e);
    if (!status) printf("exported %d levels as %s to %s\n", count, fmt, out);
    ds_close(r);
    return status;
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

/* cmd_capture.c - coinbc capture: recordings (PNG level folders, .npz
 * episodes) -> a dataset. */
#include <pthread.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/cli.h"

typedef struct {
    cb_progress prog;
    pthread_mutex_t mu;
    int quiet;
} cap_ui;

static void on_warn(void *ctx, const char *msg) {
    cap_ui *u = ctx;
    pthread_mutex_lock(&u->mu);
    fprintf(stderr, "\ncoinbc capture: warning: %s\n", msg);
    pthread_mutex_unlock(&u->mu);
}

static void on_progress(void *ctx, int done, int total) {
    cap_ui *u = ctx;
    u->prog.total = total; /* known once the inputs are grouped by level */
    cb_progress_update(&u->prog, done);
}

static const cli_cmd_info INFO = {
    "capture", "Convert recordings into a dataset: PNG level folders (level_SEED/frame_NNNNNN.png + actions.csv)\n"
               "and NumPy episodes ({timestamp}_{index}_{T}_{seed}_{return}.npz, savez or savez_compressed).",
    "coinbc capture INPUT... -o DATA.cbd [--levels A-B] [--skip-bad] [--append] [--allow-incomplete]",
    "An INPUT is a recordings folder (holding level_SEED folders and/or .npz files), one level_SEED\n"
    "folder, or one .npz file. Several inputs of one level go into that level's shard in a stable order.\n"
    "By default one bad level aborts the capture and nothing is written; with --skip-bad the good\n"
    "levels are written, the bad ones listed, and the exit status is 1.\n"
    "A recordings folder of coinbc record that has its plan.json but not its meta.json (record was\n"
    "stopped) is refused, naming the missing levels, unless --allow-incomplete is given; folders of\n"
    "other tools (no plan.json, no meta.json) are taken as they are.\n"
    "example: coinbc capture rec/ -o train.cbd --levels 0-63"};

int cli_cmd_capture(int argc, char **argv) {
    const char *out = NULL;
    cli_range levels = {0, 0};
    int skip_bad = 0, append = 0, quiet = 0, threads = 0, allow_incomplete = 0;
    const char *mode = NULL;
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "DATA.cbd", "the dataset folder to write (required; -o)", 0},
        {"levels", CLI_RANGE, &levels, "A-B", "only levels with seeds A..B", 0},
        {"skip-bad", CLI_FLAG, &skip_bad, NULL, "capture the good levels when some are bad, and list the bad ones", 0},
        {"append", CLI_FLAG, &append, NULL, "add levels to an existing dataset (rewrites only its manifest)", 0},
        {"allow-incomplete", CLI_FLAG, &allow_incomplete, NULL,
         "capture the finished levels of a recordings folder whose coinbc record was stopped, and say which are missing", 0},
        {"mode", CLI_STR, &mode, "easy|hard", "the mode of recordings that do not say (meta.json does)", 0},
        {"threads", CLI_INT, &threads, "T", "worker threads (default: all cores)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    const char *pos[4096];
    int npos = 0;
    int rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), pos, 4096, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (!npos) return cli_error("capture", "give at least one INPUT (see coinbc capture --help)"), 2;
    if (!out) return cli_error("capture", "-o DATA.cbd is required"), 2;
    {
        cb_err pe = {0};
        if (cb_path_check_output("-o", out, CB_OUT_DATASET, pos, npos, &pe)) return cli_fail("capture", &pe), 2;
    }
    int mode_v = -1;
    if (mode && !strcmp(mode, "easy")) mode_v = 0;
    else if (mode && !strcmp(mode, "hard")) mode_v = 1;
    else if (mode) return cli_error("capture", "--mode must be easy or hard, not '%s'", mode), 2;
    char command[2048];
    cli_join_args(command, sizeof command, argc, argv);
    cap_ui ui = {.quiet = quiet};
    pthread_mutex_init(&ui.mu, NULL);
    cb_progress_start(&ui.prog, "capture", "levels", 0, quiet);
    capture_opts o = {.has_range = CLI_SEEN(opts, "levels"), .lo = levels.lo, .hi = levels.hi, .skip_bad = skip_bad,
                      .allow_incomplete = allow_incomplete, .append = append, .threads = threads, .has_mode = mode_v >= 0, .mode = mode_v, .command = command, .warn = on_warn,
                      .progress = on_progress, .ctx = &ui};
    capture_summary s;
    cb_err e = {0};
    double t0 = cb_now();
    rc = capture_run(pos, npos, out, &o, &s, &e);
    cb_progress_finish(&ui.prog);
    if (rc) {
        capture_summary_free(&s);
        return cli_fail("capture", &e);
    }
    for (int i = 0; i < s.nskipped; i++) fprintf(stderr, "coinbc capture: skipped: %s\n", s.skipped[i]);
    printf("captured %d levels (%lld frames, %lld episodes) from %d recordings into %s in %.1f s%s\n", s.levels,
           (long long)s.frames, (long long)s.episodes, s.inputs, out, cb_now() - t0,
           s.nskipped ? "; some levels were skipped (listed above)" : "");
    int status = s.nskipped ? 1 : 0;
    capture_summary_free(&s);
    return status;
}

/* cmd_record.c - coinbc record: the options, and capture_record_run
 * (capture/record_run.c): levels played with the expert planner into a
 * recordings folder or a dataset (capture/record.h, docs/FORMATS.md). */
#include "capture/record.h"
#include "cli/cli.h"

static const cli_cmd_info INFO = {
    "record",
    "Play levels with the expert planner and write a recordings folder: per level\n"
    "level_SEED/frame_NNNNNN.png, actions.csv and meta.json (docs/FORMATS.md, section Recordings folders).",
    "coinbc record --levels A-B [--mode easy|hard] --states N [--noise EPS] [--seed S] --out DIR|DATA.cbd",
    "Each level is played until it has N states, starting a new episode of the same level\n"
    "after each end. With probability EPS a uniformly random action is executed instead of\n"
    "the expert's; the recorded label is always the expert's action at that state.\n"
    "With --out NAME.cbd the levels go straight into a dataset (no PNG files in between);\n"
    "with --force an existing dataset is extended (levels already in it are refused).\n"
    "example: coinbc record --levels 0-63 --states 1000 --noise 0.1 --out rec/train\n"
    "         coinbc record --levels 0-63 --states 1000 --out train.cbd"};

int cli_cmd_record(int argc, char **argv) {
    cli_range levels = {0, 0};
    const char *mode_s = "easy", *out = NULL;
    int64_t states = 0, seed = 0;
    double noise = 0;
    int force = 0, quiet = 0, threads = cb_default_threads();
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &levels, "A-B", "level seeds to record, inclusive (required)", 0},
        {"mode", CLI_STR, &mode_s, "M", "easy (default) or hard", 0},
        {"states", CLI_I64, &states, "N", "states recorded per level (required, >= 1)", 0},
        {"noise", CLI_F64, &noise, "EPS", "probability of executing a random action instead (default 0)", 0},
        {"seed", CLI_I64, &seed, "S", "seed of the noise RNG (default 0)", 0},
        {"out", CLI_STR, &out, "DIR", "output recordings folder (required)", 0},
        {"force", CLI_FLAG, &force, NULL, "write into an existing folder, replacing its level files", 0},
        {"threads", CLI_INT, &threads, "T", "worker threads (default: online cores; output does not depend on it)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress on stderr", 0},
    };
    int rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), NULL, 0, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    if (!CLI_SEEN(opts, "levels")) return cli_error("record", "--levels A-B is required (see coinbc record --help)"), 2;
    if (!CLI_SEEN(opts, "states")) return cli_error("record", "--states N is required"), 2;
    if (!out || !out[0]) return cli_error("record", "--out DIR is required"), 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("record", "unknown mode '%s' (use easy or hard)", mode_s), 2;
    if (states <= 0 || states > 1000000000)
        return cli_error("record", "--states %lld: need 1 <= N <= 1000000000", (long long)states), 2;
    if (!(noise >= 0 && noise <= 1)) return cli_error("record", "--noise %g: need 0 <= EPS <= 1", noise), 2;
    if (seed < 0) return cli_error("record", "--seed %lld: need S >= 0", (long long)seed), 2;
    if (threads < 1 || threads > 64) return cli_error("record", "--threads %d: need 1..64", threads), 2;
    if (levels.lo < 0 || levels.hi < levels.lo)
        return cli_error("record", "--levels %d-%d: the range is empty or reversed (need 0 <= A <= B)", levels.lo, levels.hi), 2;
    cb_err e = {0};
    /* no inputs; the output must still not lie in a run or dataset folder */
    if (cb_path_check_output("--out", out, capture_record_is_dataset(out) ? CB_OUT_DATASET : CB_OUT_FILE, NULL, 0, &e))
        return cli_fail("record", &e), 2;
    char command[1024];
    cli_join_args(command, sizeof command, argc, argv);
    capture_record_run_opts o = {.rec = {.lo = levels.lo, .hi = levels.hi, .mode = mode, .states = states,
                                         .noise = noise, .seed = (uint64_t)seed, .out = out, .force = force,
                                         .threads = threads, .command = command},
                                 .mode_word = mode_s, .quiet = quiet};
    capture_record_summary s;
    double dt;
    if (capture_record_run(&s, &dt, &o, &e)) return cli_fail("record", &e);
    printf("recorded %lld levels (%d-%d, %s), %lld states, %lld episodes ended: %lld coins (%.1f%%), "
           "%lld deaths, %lld timeouts; %lld random actions (noise %g); expert: %lld plans, %lld found no path, %lld ran out of budget; "
           "%.1f s, %.0f states/s -> %s\n",
           (long long)s.levels, levels.lo, levels.hi, game_mode_name(mode), (long long)s.states,
           (long long)s.episodes, (long long)s.coins, s.episodes ? 100.0 * (double)s.coins / (double)s.episodes : 0.0,
           (long long)s.deaths, (long long)s.timeouts, (long long)s.random_actions, noise, (long long)s.searches,
           (long long)s.expert_nopath, (long long)s.expert_budget, dt, dt > 0 ? (double)s.states / dt : 0.0, out);
    return 0;
}

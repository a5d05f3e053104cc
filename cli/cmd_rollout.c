/* cmd_rollout.c - coinbc rollout: the options, and the table of
 * eval_rollout_run (eval/rollout_run.c), which does the work: the run's
 * policy plays levels in the engine from its 64x64 frames, next to the
 * expert and a random policy on the same levels. */
#include "cli/cli.h"
#include "eval/eval.h"

static void print_row(const char *who, const eval_rollout_summary *s) {
    printf("  %-8s %5.1f%% [%5.1f, %5.1f]   %5.1f%%   %5.1f%%   %6.1f +- %.1f\n", who, 100 * s->success,
           100 * s->success_lo, 100 * s->success_hi, 100 * s->death_rate, 100 * s->timeout_rate, s->mean_steps_to_coin,
           s->steps_half);
}

static const cli_cmd_info INFO = {
    "rollout", "Closed-loop play: the run's policy plays each level from its 64x64 frames. Reports success\n"
               "(coin reached), death and timeout rates with 95% intervals and the mean steps to the coin, next\n"
               "to the expert's and a uniformly random policy's on the same levels. Writes RUN/rollout.json.",
    "coinbc rollout RUN --levels A-B [--mode easy|hard] [--episodes K] [--sample|--greedy] [--film FILE.png]",
    "example: coinbc rollout runs/and --levels 1000-1199 --film and.png"};

int cli_cmd_rollout(int argc, char **argv) {
    cli_range lv = {0, 0};
    const char *mode_s = "easy", *ckpt = NULL, *film = NULL;
    int episodes = 1, sample = 0, greedy = 0, threads = 0, quiet = 0, json = 0;
    int64_t seed = 0;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "level seeds to play (required)", 0},
        {"mode", CLI_STR, &mode_s, "M", "easy (default) or hard", 0},
        {"episodes", CLI_INT, &episodes, "K", "episodes per level (default 1)", 0},
        {"sample", CLI_FLAG, &sample, NULL, "sample actions from the policy's probabilities", 0},
        {"greedy", CLI_FLAG, &greedy, NULL, "take the most likely action (default)", 0},
        {"seed", CLI_I64, &seed, "S", "seed for sampling and the random policy (default 0)", 0},
        {"checkpoint", CLI_STR, &ckpt, "FILE", "checkpoint to play (default RUN/best.ckpt)", 0},
        {"film", CLI_STR, &film, "FILE.png", "contact sheet of the first episodes of up to 8 levels", 0},
        {"threads", CLI_INT, &threads, "T", "worker threads (default: all cores); results do not depend on it", 0},
        {"json", CLI_FLAG, &json, NULL, "print rollout.json instead of the table", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress output", 0},
    };
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error("rollout", "give one RUN folder"), 2;
    if (!CLI_SEEN(opts, "levels")) return cli_error("rollout", "--levels A-B is required"), 2;
    if (sample && greedy) return cli_error("rollout", "--sample and --greedy exclude each other"), 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("rollout", "unknown mode '%s'", mode_s), 2;
    if (episodes < 1 || episodes > 1000) return cli_error("rollout", "--episodes must be in 1..1000"), 2;
    if (seed < 0) return cli_error("rollout", "--seed must be >= 0"), 2;
    int64_t n = (int64_t)lv.hi - lv.lo + 1;
    if (n > 1000000) return cli_error("rollout", "at most 1000000 levels at once"), 2;
    char ckbuf[4200], rec[4200];
    if (!ckpt) {
        snprintf(ckbuf, sizeof ckbuf, "%s/best.ckpt", pos[0]);
        ckpt = ckbuf;
    }
    cb_err e = {0};
    snprintf(rec, sizeof rec, "%s/rollout.json", pos[0]); /* RUN/rollout.json and the film, against the checkpoint */
    if (cb_path_check_output("RUN", rec, CB_OUT_RUN_RECORD, &ckpt, 1, &e) ||
        (film && cb_path_check_output("--film", film, CB_OUT_FILE, &ckpt, 1, &e)))
        return cli_fail("rollout", &e), 2;
    eval_rollout_run_opts o = {.run = pos[0], .checkpoint = ckpt, .lo = lv.lo, .hi = lv.hi, .mode = mode,
                               .episodes = episodes, .sample = sample, .seed = (uint64_t)seed,
                               .threads = threads > 0 ? threads : cb_default_threads(), .quiet = quiet, .film = film};
    eval_rollout_run_result r;
    rc = eval_rollout_run(&r, &o, &e);
    if (r.json && json) {
        fputs(r.json, stdout);
    } else if (r.json) {
        printf("rollout of %s on %d %s levels (%d-%d), %d episode%s each, %s actions\n", ckpt, (int)n, mode_s, lv.lo,
               lv.hi, episodes, episodes == 1 ? "" : "s", sample ? "sampled" : "greedy");
        printf("  who      success [95%% interval]     death   timeout   steps to coin\n");
        static const char *const who[3] = {"policy", "expert", "random"};
        for (int k = 0; k < 3; k++) print_row(who[k], &r.who[k]);
    }
    eval_rollout_run_free(&r);
    return rc ? cli_fail("rollout", &e) : 0;
}

/* cmd_rollout.c - coinbc rollout: the run's policy plays levels in the engine
 * from its 64x64 frames, next to the expert and a random policy on the same
 * levels. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/policy.h"
#include "run/run.h"

static void print_row(const char *who, const eval_rollout_summary *s) {
    printf("  %-8s %5.1f%% [%5.1f, %5.1f]   %5.1f%%   %5.1f%%   %6.1f +- %.1f\n", who, 100 * s->success,
           100 * s->success_lo, 100 * s->success_hi, 100 * s->death_rate, 100 * s->timeout_rate, s->mean_steps_to_coin,
           s->steps_half);
}

/* the film levels (the first fl) another rank played, to rank 0 */
static int gather_film(int fl, int fsteps, uint8_t *fbuf, uint8_t *fact, int *flen, int *fout, int n, cb_err *e) {
    int P = cb_dist_size(), me = cb_dist_rank(), rc = 0;
    for (int r = 1; r < P && !rc; r++) {
        if (me != r && me != 0) continue;
        int64_t lo, hi;
        cb_dist_share(n, r, P, &lo, &hi);
        if (hi > fl) hi = fl;
        if (hi <= lo) continue;
        size_t a = (size_t)lo, m = (size_t)(hi - lo);
        void *part[4] = {fbuf + a * fsteps * GAME_OBS_BYTES, fact + a * fsteps, flen + a, fout + a};
        size_t bytes[4] = {m * fsteps * GAME_OBS_BYTES, m * fsteps, m * sizeof(int), m * sizeof(int)};
        for (int j = 0; j < 4 && !rc; j++)
            rc = me == 0 ? cb_dist_recv(part[j], bytes[j], r, e) : cb_dist_send(part[j], bytes[j], 0, e);
    }
    return rc;
}

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
    cli_cmd_info info = {
        "rollout", "Closed-loop play: the run's policy plays each level from its 64x64 frames. Reports success\n"
                   "(coin reached), death and timeout rates with 95% intervals and the mean steps to the coin, next\n"
                   "to the expert's and a uniformly random policy's on the same levels. Writes RUN/rollout.json.",
        "coinbc rollout RUN --levels A-B [--mode easy|hard] [--episodes K] [--sample|--greedy] [--film FILE.png]",
        "example: coinbc rollout runs/and --levels 1000-1199 --film and.png"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error("rollout", "give one RUN folder"), 2;
    if (!CLI_SEEN(opts, "levels")) return cli_error("rollout", "--levels A-B is required"), 2;
    if (sample && greedy) return cli_error("rollout", "--sample and --greedy exclude each other"), 2;
    int mode;
    if (game_mode_parse(mode_s, &mode)) return cli_error("rollout", "unknown mode '%s'", mode_s), 2;
    if (episodes < 1 || episodes > 1000) return cli_error("rollout", "--episodes must be in 1..1000"), 2;
    if (seed < 0) return cli_error("rollout", "--seed must be >= 0"), 2;
    int64_t n64 = (int64_t)lv.hi - lv.lo + 1;
    if (n64 > 1000000) return cli_error("rollout", "at most 1000000 levels at once"), 2;
    int n = (int)n64;
    if (threads <= 0) threads = cb_default_threads();
    char ckbuf[4200];
    if (!ckpt) {
        snprintf(ckbuf, sizeof ckbuf, "%s/best.ckpt", pos[0]);
        ckpt = ckbuf;
    }
    cb_err e = {0};
    { /* RUN/rollout.json and the film, against the checkpoint */
        char rec[4200];
        snprintf(rec, sizeof rec, "%s/rollout.json", pos[0]);
        const char *in[] = {ckpt};
        if (cb_path_check_output("RUN", rec, CB_OUT_RUN_RECORD, in, 1, &e) ||
            (film && cb_path_check_output("--film", film, CB_OUT_FILE, in, 1, &e)))
            return cli_fail("rollout", &e), 2;
    }
    cli_ckpt_policy pol;
    if (cli_ckpt_policy_open(&pol, ckpt, threads, &e)) {
        if (e.code == CB_ENOTFOUND) return cli_no_checkpoint("rollout", pos[0], ckpt);
        return cli_fail("rollout", &e);
    }
    cli_expert_pool xp;
    if (cli_expert_pool_open(&xp, threads, &e)) {
        cli_ckpt_policy_close(&pol);
        return cli_fail("rollout", &e);
    }
    if (threads > 1) openblas_set_num_threads(1); /* parallel over levels instead */
    int32_t *seeds = malloc(sizeof(int32_t) * (size_t)n);
    eval_level_result *res[3];
    for (int k = 0; k < 3; k++) res[k] = malloc(sizeof(eval_level_result) * (size_t)n);
    int fl = film ? (n < 8 ? n : 8) : 0, fsteps = 200;
    uint8_t *fbuf = fl ? malloc((size_t)fl * fsteps * GAME_OBS_BYTES) : NULL, *fact = fl ? malloc((size_t)fl * fsteps) : NULL;
    int flen[8], fout[8];
    int status = 0;
    run_text js = {0};
    if (!seeds || !res[0] || !res[1] || !res[2] || (fl && (!fbuf || !fact))) {
        status = cli_error("rollout", "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) seeds[i] = lv.lo + i;
    const char *labels[3] = {"policy", "expert", "random"};
    eval_rollout_summary sum[3];
    for (int k = 0; k < 3; k++) {
        eval_rollout_opts o = {.agent = k == 0 ? EVAL_AGENT_POLICY : k == 1 ? EVAL_AGENT_EXPERT : EVAL_AGENT_RANDOM,
                               .policy = &pol.policy, .expert_level = cli_expert_level, .expert_self = &xp,
                               .mode = mode, .episodes = episodes, .sample = sample, .seed = (uint64_t)seed,
                               .threads = threads, .quiet = quiet, .label = labels[k]};
        /* under mpirun each rank plays its share of the levels (each level's
         * RNG is its own, so the split changes nothing) and rank 0 gathers */
        int64_t lo, hi;
        cb_dist_share(n, cb_dist_rank(), cb_dist_size(), &lo, &hi);
        int flo = (int)lo, fhi = (int)(hi < fl ? hi : fl); /* the film levels in this share */
        if (k == 0 && fhi > flo) {
            o.film_levels = fhi - flo;
            o.film_steps = fsteps;
            o.film = fbuf + (size_t)flo * fsteps * GAME_OBS_BYTES;
            o.film_action = fact + (size_t)flo * fsteps;
            o.film_len = flen + flo;
            o.film_outcome = fout + flo;
        }
        if ((hi > lo && eval_rollout(res[k] + lo, seeds + lo, (int)(hi - lo), &o, &e)) ||
            cli_dist_gather(res[k], sizeof(eval_level_result), n, &e) ||
            (k == 0 && fl && gather_film(fl, fsteps, fbuf, fact, flen, fout, n, &e))) {
            status = cli_fail("rollout", &e);
            goto done;
        }
        if (cb_dist_rank() == 0) eval_rollout_summarize(&sum[k], res[k], n); /* the others hold only their share */
    }
    if (cb_dist_rank() > 0) goto done; /* rank 0 writes */
    run_rollout rec = {.level_lo = lv.lo, .level_hi = lv.hi, .hard = mode != GAME_EASY, .episodes_per_level = episodes,
                       .sample = sample, .episodes = sum[0].episodes, .success = sum[0].success,
                       .success_lo = sum[0].success_lo, .success_hi = sum[0].success_hi,
                       .death_rate = sum[0].death_rate, .timeout_rate = sum[0].timeout_rate,
                       .mean_steps_to_coin = sum[0].mean_steps_to_coin, .expert_success = sum[1].success,
                       .expert_mean_steps_to_coin = sum[1].mean_steps_to_coin, .random_success = sum[2].success,
                       .random_success_lo = sum[2].success_lo, .random_success_hi = sum[2].success_hi};
    snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", ckpt);
    if (run_rollout_encode(&js, &rec, &e) || run_rollout_write(pos[0], &rec, &e)) {
        status = cli_fail("rollout", &e);
        goto done;
    }
    if (json) {
        fputs(js.s, stdout);
    } else {
        printf("rollout of %s on %d %s levels (%d-%d), %d episode%s each, %s actions\n", ckpt, n, mode_s, lv.lo, lv.hi,
               episodes, episodes == 1 ? "" : "s", sample ? "sampled" : "greedy");
        printf("  who      success [95%% interval]     death   timeout   steps to coin\n");
        for (int k = 0; k < 3; k++) print_row(labels[k], &sum[k]);
    }
    if (fl && eval_film_write(film, seeds, fl, fbuf, fact, flen, fout, fsteps, 10, &e)) status = cli_fail("rollout", &e);
done:
    run_text_free(&js);
    free(seeds);
    for (int k = 0; k < 3; k++) free(res[k]);
    free(fbuf);
    free(fact);
    cli_expert_pool_close(&xp);
    cli_ckpt_policy_close(&pol);
    return status;
}

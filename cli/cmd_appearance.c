/* cmd_appearance.c - coinbc appearance: the appearance probe.
 * Offline, the run's policy sees the same states in their own look and in
 * other looks; how often its decisions move says what it owes to the look.
 * In the closed loop it plays the levels greedily in those looks. The
 * training levels come from RUN/config.json and the training dataset's
 * manifest; the logic is eval_appearance_offline (eval/appearance.c) and
 * eval_appearance_episodes / _play (eval/appearance_rollout.c). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/policy.h"
#include "dataset/dataset.h"
#include "run/run.h"

#define CMD "appearance"

/* The run's training levels: the levels of its training dataset in the
 * seed range config.json records. Returns 0 or prints a one-line error. */
static int training_levels(const char *run, int32_t **seeds, int *n, int *mode, cb_err *e) {
    run_config cfg;
    int rc = run_config_read(&cfg, run, e);
    if (rc == CB_ENOTFOUND)
        return cli_error(CMD, "%s: no config.json, so the run's training levels are unknown (is it a run folder made "
                              "by coinbc train?)", run);
    if (rc) return cli_fail(CMD, e);
    if (!cfg.has_data)
        return cli_error(CMD, "%s/config.json names no training data, so the run's training levels are unknown", run);
    ds_reader *r;
    if (ds_open(&r, cfg.data, e)) {
        cb_err_prefix(e, "the training levels of %s cannot be found: ", run);
        return cli_fail(CMD, e);
    }
    int m = 0, dmode = -1;
    *seeds = malloc(sizeof **seeds * (size_t)(ds_nlevels(r) ? ds_nlevels(r) : 1));
    if (!*seeds) {
        ds_close(r);
        return cli_error(CMD, "out of memory");
    }
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < cfg.train_seed_lo || s > cfg.train_seed_hi) continue;
        (*seeds)[m++] = s;
        int lm = ds_level_entry(r, i)->mode;
        if (lm >= 0 && dmode < 0) dmode = lm;
        if (lm >= 0 && lm != dmode) {
            ds_close(r);
            return cli_error(CMD, "%s: the training levels mix easy and hard mode", cfg.data);
        }
    }
    ds_close(r);
    if (m == 0)
        return cli_error(CMD, "%s: none of the run's training levels (%d-%d, config.json) is in the dataset", cfg.data,
                         cfg.train_seed_lo, cfg.train_seed_hi);
    if (*mode >= 0 && dmode >= 0 && *mode != dmode)
        return cli_error(CMD, "--mode %s, but the run's training levels are %s mode", game_mode_name(*mode),
                         game_mode_name(dmode));
    if (*mode < 0 && dmode < 0)
        return cli_error(CMD, "%s does not say which mode its levels are; give --mode easy|hard", cfg.data);
    if (*mode < 0) *mode = dmode;
    *n = m;
    return 0;
}

static void print_cell(const char *layout, const char *look, const run_app_cell *c, int original) {
    printf("  %-9s %-7s %9lld", layout, look, (long long)c->frames);
    if (c->frames == 0) {
        printf("         -          -        -\n");
        return;
    }
    printf("   %6.1f%%    %6.1f%%", 100.0 * (double)c->correct / (double)c->frames,
           100.0 * (double)c->agree / (double)c->frames);
    if (original) printf("        -\n");
    else printf("  %7.4f\n", c->kl_sum / (double)c->frames);
}

static void print_play(const char *layout, const char *look, const char *what, const run_app_play *c) {
    printf("  %-8s %-7s %9lld", layout, look, (long long)c->episodes);
    if (c->episodes == 0) printf("        -                     -\n");
    else
        printf("   %6.1f%% [%5.1f, %5.1f]   %-s\n", 100 * c->success, 100 * c->success_lo, 100 * c->success_hi, what);
}

/* a drop between two closed-loop cells, in points, and what it measures */
static void print_drop(const char *from, const char *to, const run_app_play *a, const run_app_play *b,
                       const char *means) {
    if (a->episodes == 0 || b->episodes == 0) return;
    printf("  %s -> %s: %+.1f points (%s)\n", from, to, 100 * (b->success - a->success), means);
}

int cli_cmd_appearance(int argc, char **argv) {
    cli_range lv = {0, 0};
    const char *mode_s = NULL, *ckpt = NULL, *out = NULL;
    int64_t states = 20, seed = 0;
    int donors = 4, threads = 0, json = 0;
    double noise = 0.1;
    cli_opt opts[] = {
        {"levels", CLI_RANGE, &lv, "A-B", "held-out level seeds (unseen layouts; required, none a training level)", 0},
        {"mode", CLI_STR, &mode_s, "M", "easy or hard (default: the training levels' mode)", 0},
        {"states", CLI_I64, &states, "N", "states per level, from expert play with noise as record plays (default 20)", 0},
        {"donors", CLI_INT, &donors, "K", "other looks per level and kind, 1..16 (default 4): K frames a state, K episodes", 0},
        {"noise", CLI_F64, &noise, "EPS", "probability of a random action in the expert's play (default 0.1)", 0},
        {"seed", CLI_I64, &seed, "S", "seed of the noise and of the donors' choice (default 0)", 0},
        {"checkpoint", CLI_STR, &ckpt, "FILE", "checkpoint to probe (default RUN/best.ckpt)", 0},
        {"out", CLI_STR, &out, "FILE", "write the record here (default RUN/appearance.json); -o FILE", 0},
        {"threads", CLI_INT, &threads, "T", "worker threads (default: all cores); results do not depend on it", 0},
        {"json", CLI_FLAG, &json, NULL, "print the record instead of the table", 0},
    };
    cli_cmd_info info = {
        CMD,
        "The appearance probe, offline: what the run's policy owes to a level's look. States come from\n"
        "the expert's play with noise on the run's training levels (seen layouts) and on held-out levels\n"
        "(unseen layouts); each is shown in its own look and in K other looks (docs/SPEC.md 5.6): looks of\n"
        "training levels for held-out layouts, unseen looks (a background and a (wall, player) pair that\n"
        "no training level has) for both. Per cell: accuracy against the expert's label, agreement with\n"
        "the decision on the original frame, mean KL divergence from it. Then the closed loop: greedy play,\n"
        "one episode per level and look, in four cells of layout x look (training levels as they are, in\n"
        "unseen looks; held-out levels in training levels' looks, as they are), success with 95% Wilson\n"
        "intervals. Writes RUN/appearance.json and beside it appearance.png, a strip of example frames.",
        "coinbc appearance RUN --levels A-B [--mode M] [--states N] [--donors K] [--seed S] [--json] [-o FILE]",
        "In easy mode only the background offset and the enemy and crate themes vary: there are no unseen\n"
        "looks, and the seen-look cells change only those.\n"
        "The closed loop plays each level in the looks the offline part shows it (drawn from --seed and the\n"
        "level's seed; docs/FORMATS.md, appearance.json): a held-out level in its K training levels' looks,\n"
        "a training level in its K unseen looks; greedy play repeats itself, so one episode each.\n"
        "example: coinbc appearance runs/mean-1 --levels 1000-1099 --states 20 --donors 4"};
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &info, opts, CLI_COUNT(opts), pos, 1, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    if (npos != 1) return cli_error(CMD, "give one RUN folder"), 2;
    if (!CLI_SEEN(opts, "levels")) return cli_error(CMD, "--levels A-B is required (held-out levels)"), 2;
    int mode = -1;
    if (mode_s && game_mode_parse(mode_s, &mode)) return cli_error(CMD, "unknown mode '%s'", mode_s), 2;
    if (donors < 1 || donors > EVAL_APP_MAX_DONORS)
        return cli_error(CMD, "--donors %d: need 1..%d", donors, EVAL_APP_MAX_DONORS), 2;
    if (states < 1 || states > 100000) return cli_error(CMD, "--states must be in 1..100000"), 2;
    if (!(noise >= 0 && noise <= 1)) return cli_error(CMD, "--noise %g: need 0 <= EPS <= 1", noise), 2;
    if (seed < 0) return cli_error(CMD, "--seed must be >= 0"), 2;
    int64_t nh64 = (int64_t)lv.hi - lv.lo + 1;
    if (nh64 > 100000) return cli_error(CMD, "at most 100000 held-out levels at once"), 2;
    int nheld = (int)nh64;
    if (threads <= 0) threads = cb_default_threads();

    cb_err e = {0};
    int32_t *train = NULL, *held = NULL;
    int ntrain = 0;
    if (training_levels(pos[0], &train, &ntrain, &mode, &e)) {
        free(train);
        return 1;
    }
    for (int i = 0; i < ntrain; i++)
        if (train[i] >= lv.lo && train[i] <= lv.hi) {
            int s = train[i];
            free(train);
            return cli_error(CMD, "--levels %d-%d overlap the run's training levels (level %d); give held-out levels",
                             lv.lo, lv.hi, s);
        }
    char ckbuf[4200], outbuf[4200];
    if (!ckpt) {
        snprintf(ckbuf, sizeof ckbuf, "%s/best.ckpt", pos[0]);
        ckpt = ckbuf;
    }
    int own = !out; /* RUN/appearance.json: a record of the run folder */
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s/appearance.json", pos[0]);
        out = outbuf;
    }
    {
        char cfg_json[4200], strip[4200]; /* strip: the example frames beside the record */
        snprintf(cfg_json, sizeof cfg_json, "%s/config.json", pos[0]);
        const char *in[] = {ckpt, cfg_json};
        if (cb_path_check_output(own ? "RUN" : "-o", out, own ? CB_OUT_RUN_RECORD : CB_OUT_FILE, in, CLI_COUNT(in), &e) ||
            eval_appearance_strip_path(strip, sizeof strip, out, &e) ||
            cb_path_check_output(own ? "RUN" : "-o", strip, own ? CB_OUT_RUN_RECORD : CB_OUT_FILE, in, CLI_COUNT(in), &e)) {
            free(train);
            return cli_fail(CMD, &e), 2;
        }
    }
    cli_ckpt_policy pol;
    if (cli_ckpt_policy_open(&pol, ckpt, threads, &e)) {
        free(train);
        if (e.code == CB_ENOTFOUND) return cli_no_checkpoint(CMD, pos[0], ckpt);
        return cli_fail(CMD, &e);
    }
    if (threads > 1) openblas_set_num_threads(1); /* parallel over levels instead */
    held = malloc(sizeof *held * (size_t)nheld);
    eval_app_level *res = malloc(sizeof *res * (size_t)(ntrain + nheld));
    int status = 0;
    run_text js = {0};
    eval_app_episode *eps = NULL;
    eval_level_result *played = NULL;
    int64_t neps = 0;
    if (!held || !res) {
        status = cli_error(CMD, "out of memory");
        goto done;
    }
    for (int i = 0; i < nheld; i++) held[i] = lv.lo + i;
    eval_app_opts o = {.policy = &pol.policy, .mode = mode, .train = train, .ntrain = ntrain, .heldout = held,
                       .nheldout = nheld, .states = states, .noise = noise, .seed = (uint64_t)seed, .donors = donors,
                       .threads = threads};
    /* under mpirun each rank probes its share of the levels and plays its
     * share of the episodes (every level and episode has its own RNG, so the
     * split changes nothing), and rank 0 gathers them */
    int P = cb_dist_size(), me = cb_dist_rank();
    int64_t lo, hi;
    cb_dist_share(ntrain + nheld, me, P, &lo, &hi);
    o.has_part = P > 1, o.part_lo = lo, o.part_hi = hi;
    game_appearance_sets sets;
    double t0 = cb_now();
    if (eval_appearance_offline(res, &sets, &o, &e) || cli_dist_gather(res, sizeof *res, ntrain + nheld, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    double t1 = cb_now();
    o.has_part = 0;
    if (eval_appearance_episodes(&eps, &neps, &sets, &o, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    if (!(played = malloc(sizeof *played * (size_t)(neps ? neps : 1)))) {
        status = cli_error(CMD, "out of memory");
        goto done;
    }
    cb_dist_share(neps, me, P, &lo, &hi);
    if (eval_appearance_play(played + lo, eps + lo, hi - lo, &o, &e) ||
        cli_dist_gather(played, sizeof *played, neps, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    double t2 = cb_now();
    if (me > 0) goto done; /* rank 0 writes; the others hold only their share */
    eval_app_play play[EVAL_APP_NPLAY];
    eval_appearance_play_sum(play, eps, played, neps);
    eval_app_cell sum[2][EVAL_APP_NLOOKS];
    eval_appearance_sum(sum, res, ntrain + nheld);
    run_appearance rec = {.hard = mode == GAME_HARD, .level_lo = lv.lo, .level_hi = lv.hi, .train_levels = sets.nlevels,
                          .states_per_level = states, .noise = noise, .seed = seed, .donors = donors,
                          .seen_backgrounds = sets.nbg_seen, .seen_pairs = sets.npair_seen,
                          .seen_looks = sets.ntriple_seen, .unseen_backgrounds = sets.nbg_unseen,
                          .unseen_pairs = sets.npair_unseen, .unseen_looks = sets.nunseen};
    snprintf(rec.checkpoint, sizeof rec.checkpoint, "%s", ckpt);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < EVAL_APP_NLOOKS; k++)
            rec.cell[l][k] = (run_app_cell){sum[l][k].n, sum[l][k].correct, sum[l][k].agree, sum[l][k].kl};
    _Static_assert((int)RUN_APP_SS == (int)EVAL_APP_SS && (int)RUN_APP_SU == (int)EVAL_APP_SU &&
                       (int)RUN_APP_US == (int)EVAL_APP_US && (int)RUN_APP_UU == (int)EVAL_APP_UU &&
                       (int)RUN_APP_PLAYS == (int)EVAL_APP_NPLAY,
                   "the record's closed-loop cells are eval's");
    for (int k = 0; k < EVAL_APP_NPLAY; k++)
        rec.play[k] = (run_app_play){play[k].episodes, play[k].coins,  play[k].deaths, play[k].timeouts,
                                     play[k].success,  play[k].lo,     play[k].hi};
    /* checked by run/'s own reader before anything is written */
    run_appearance back;
    if (eval_appearance_strip_save(&rec, out, &o, &sets, &e) ||
        run_appearance_encode(&js, &rec, &e) || run_appearance_decode(&back, js.s, js.len, out, &e) ||
        cb_write_file_atomic(out, js.s, js.len, &e)) {
        status = cli_fail(CMD, &e);
        goto done;
    }
    if (json) {
        fputs(js.s, stdout);
        goto done;
    }
    printf("appearance probe of %s (%s): %d training levels, held-out levels %d-%d, %lld states per level, %d "
           "donors, noise %g, %.1f s offline + %.1f s closed loop\n",
           ckpt, game_mode_name(mode), sets.nlevels, lv.lo, lv.hi, (long long)states, donors, noise, t1 - t0, t2 - t1);
    if (sets.varies_bg_pair)
        printf("looks of the training levels: %d of %d backgrounds, %d of %d (wall, player) pairs, %d looks; unseen: %d "
               "backgrounds x %d pairs = %d looks%s\n",
               sets.nbg_seen, GAME_NUM_BG, sets.npair_seen, GAME_NUM_WALL * GAME_NUM_PLAYER, sets.ntriple_seen,
               sets.nbg_unseen, sets.npair_unseen, sets.nunseen,
               sets.nunseen ? "" : " (the training levels leave none, so the unseen cells are empty)");
    else
        printf("easy mode: only the background offset and the enemy and crate themes vary; there are no unseen looks\n");
    printf("  layout    look       frames  accuracy  agreement  mean KL\n");
    print_cell("seen", "own", &rec.cell[0][0], 1);
    print_cell("seen", "unseen", &rec.cell[0][2], 0);
    print_cell("held-out", "own", &rec.cell[1][0], 1);
    print_cell("held-out", "seen", &rec.cell[1][1], 0);
    print_cell("held-out", "unseen", &rec.cell[1][2], 0);
    int64_t steps = 0;
    for (int64_t i = 0; i < neps; i++) steps += played[i].steps;
    printf("closed loop: greedy, one episode per level and look; %lld episodes, %lld steps (one frame through the "
           "policy each)\n",
           (long long)neps, (long long)steps);
    printf("  layout   look     episodes  success [95%% interval]\n");
    print_play("seen", "seen", "the training levels as they are", &rec.play[RUN_APP_SS]);
    print_play("seen", "unseen", "the training levels in unseen looks", &rec.play[RUN_APP_SU]);
    print_play("unseen", "seen", "held-out levels in training levels' looks", &rec.play[RUN_APP_US]);
    print_play("unseen", "unseen", "the held-out levels as they are", &rec.play[RUN_APP_UU]);
    if (rec.play[RUN_APP_SU].episodes == 0)
        printf("  seen/unseen is empty: %s\n",
               sets.varies_bg_pair ? "the training levels leave no unseen look (every background or every (wall, "
                                     "player) pair is some training level's)"
                                   : "easy mode has no unseen looks (only the offset and the enemy and crate themes "
                                     "vary, and the held-out levels' looks differ only in those)");
    print_drop("seen/seen", "seen/unseen", &rec.play[RUN_APP_SS], &rec.play[RUN_APP_SU],
               "what the policy owes to the training levels' looks: memorized appearance");
    print_drop("seen/seen", "unseen/seen", &rec.play[RUN_APP_SS], &rec.play[RUN_APP_US],
               "what it owes to the training levels' layouts: memorized layout");
    printf("wrote %s\n", out);
done:
    run_text_free(&js);
    free(eps);
    free(played);
    free(train);
    free(held);
    free(res);
    cli_ckpt_policy_close(&pol);
    return status;
}

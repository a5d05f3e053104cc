/* cmd_appearance.c - coinbc appearance: the appearance probe's options and
 * tables. Offline, the run's policy sees the same states in their own look
 * and in other looks; how often its decisions move says what it owes to the
 * look. In the closed loop it plays the levels greedily in those looks. The
 * work is eval_appearance_levels and eval_appearance_run
 * (eval/appearance_run.c). */
#include <stdlib.h>

#include "cli/cli.h"
#include "eval/eval.h"

#define CMD "appearance"

static void print_cell(const char *layout, const char *look, const eval_app_cell *c, int original) {
    printf("  %-9s %-7s %9lld", layout, look, (long long)c->n);
    if (c->n == 0) {
        printf("         -          -        -\n");
        return;
    }
    printf("   %6.1f%%    %6.1f%%", 100.0 * (double)c->correct / (double)c->n, 100.0 * (double)c->agree / (double)c->n);
    if (original) printf("        -\n");
    else printf("  %7.4f\n", c->kl / (double)c->n);
}

static void print_play(const char *layout, const char *look, const char *what, const eval_app_play *c) {
    printf("  %-8s %-7s %9lld", layout, look, (long long)c->episodes);
    if (c->episodes == 0) printf("        -                     -\n");
    else printf("   %6.1f%% [%5.1f, %5.1f]   %-s\n", 100 * c->success, 100 * c->lo, 100 * c->hi, what);
}

/* a drop between two closed-loop cells, in points, and what it measures */
static void print_drop(const char *from, const char *to, const eval_app_play *a, const eval_app_play *b,
                       const char *means) {
    if (a->episodes == 0 || b->episodes == 0) return;
    printf("  %s -> %s: %+.1f points (%s)\n", from, to, 100 * (b->success - a->success), means);
}

static void print_offline(const eval_appearance_run_opts *o, const eval_appearance_run_result *r) {
    const game_appearance_sets *s = &r->sets;
    printf("appearance probe of %s (%s): %d training levels, held-out levels %d-%d, %lld states per level, %d "
           "donors, noise %g, %.1f s offline + %.1f s closed loop\n",
           o->checkpoint, game_mode_name(o->mode), s->nlevels, o->lo, o->hi, (long long)o->states, o->donors, o->noise,
           r->offline_s, r->closed_s);
    if (s->varies_bg_pair)
        printf("looks of the training levels: %d of %d backgrounds, %d of %d (wall, player) pairs, %d looks; unseen: %d "
               "backgrounds x %d pairs = %d looks%s\n",
               s->nbg_seen, GAME_NUM_BG, s->npair_seen, GAME_NUM_WALL * GAME_NUM_PLAYER, s->ntriple_seen,
               s->nbg_unseen, s->npair_unseen, s->nunseen,
               s->nunseen ? "" : " (the training levels leave none, so the unseen cells are empty)");
    else
        printf("easy mode: only the background offset and the enemy and crate themes vary; there are no unseen looks\n");
    printf("  layout    look       frames  accuracy  agreement  mean KL\n");
    print_cell("seen", "own", &r->cell[0][0], 1);
    print_cell("seen", "unseen", &r->cell[0][2], 0);
    print_cell("held-out", "own", &r->cell[1][0], 1);
    print_cell("held-out", "seen", &r->cell[1][1], 0);
    print_cell("held-out", "unseen", &r->cell[1][2], 0);
}

static void print_closed_loop(const eval_appearance_run_result *r) {
    const eval_app_play *p = r->play;
    printf("closed loop: greedy, one episode per level and look; %lld episodes, %lld steps (one frame through the "
           "policy each)\n",
           (long long)r->episodes, (long long)r->steps);
    printf("  layout   look     episodes  success [95%% interval]\n");
    print_play("seen", "seen", "the training levels as they are", &p[EVAL_APP_SS]);
    print_play("seen", "unseen", "the training levels in unseen looks", &p[EVAL_APP_SU]);
    print_play("unseen", "seen", "held-out levels in training levels' looks", &p[EVAL_APP_US]);
    print_play("unseen", "unseen", "the held-out levels as they are", &p[EVAL_APP_UU]);
    if (p[EVAL_APP_SU].episodes == 0)
        printf("  seen/unseen is empty: %s\n",
               r->sets.varies_bg_pair ? "the training levels leave no unseen look (every background or every (wall, "
                                        "player) pair is some training level's)"
                                      : "easy mode has no unseen looks (only the offset and the enemy and crate themes "
                                        "vary, and the held-out levels' looks differ only in those)");
    print_drop("seen/seen", "seen/unseen", &p[EVAL_APP_SS], &p[EVAL_APP_SU],
               "what the policy owes to the training levels' looks: memorized appearance");
    print_drop("seen/seen", "unseen/seen", &p[EVAL_APP_SS], &p[EVAL_APP_US],
               "what it owes to the training levels' layouts: memorized layout");
}

static const cli_cmd_info INFO = {
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
    const char *pos[1];
    int npos = 0, rc = cli_parse(argc, argv, &INFO, opts, CLI_COUNT(opts), pos, 1, &npos);
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
    if ((int64_t)lv.hi - lv.lo + 1 > 100000) return cli_error(CMD, "at most 100000 held-out levels at once"), 2;
    cb_err e = {0};
    eval_appearance_run_opts o = {.run = pos[0], .lo = lv.lo, .hi = lv.hi, .states = states, .donors = donors,
                                  .noise = noise, .seed = seed, .threads = threads > 0 ? threads : cb_default_threads()};
    int32_t *train = NULL;
    rc = eval_appearance_levels(&train, &o.ntrain, &mode, pos[0], lv.lo, lv.hi, &e);
    o.train = train, o.mode = mode;
    char ckbuf[4200], outbuf[4200], cfg_json[4200];
    snprintf(ckbuf, sizeof ckbuf, "%s/best.ckpt", pos[0]);
    snprintf(outbuf, sizeof outbuf, "%s/appearance.json", pos[0]); /* without -o, a record of the run folder */
    snprintf(cfg_json, sizeof cfg_json, "%s/config.json", pos[0]);
    o.checkpoint = ckpt ? ckpt : ckbuf, o.out = out ? out : outbuf;
    const char *in[] = {o.checkpoint, cfg_json};
    char strip[4200]; /* the example frames beside the record */
    if (!rc && (cb_path_check_output(out ? "-o" : "RUN", o.out, out ? CB_OUT_FILE : CB_OUT_RUN_RECORD, in, 2, &e) ||
                eval_appearance_strip_path(strip, sizeof strip, o.out, &e) ||
                cb_path_check_output(out ? "-o" : "RUN", strip, out ? CB_OUT_FILE : CB_OUT_RUN_RECORD, in, 2, &e))) {
        free(train);
        return cli_fail(CMD, &e), 2;
    }
    eval_appearance_run_result r = {0};
    if (!rc) rc = eval_appearance_run(&r, &o, &e);
    free(train);
    if (r.json && json) fputs(r.json, stdout);
    if (r.json && !json) {
        print_offline(&o, &r);
        print_closed_loop(&r);
        printf("wrote %s\n", o.out);
    }
    eval_appearance_run_free(&r);
    return rc ? cli_fail(CMD, &e) : 0;
}

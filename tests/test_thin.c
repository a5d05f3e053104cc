/* test_thin.c - the library entry points the thin commands call (issue 21,
 * item 3) and the option parser in common/ (common/args.c): each called
 * directly, its results checked against what the pieces it is made of give
 * and against the files it writes; its refusals by their messages. The
 * commands' own bytes are pinned by the tests of each command (test_eval,
 * test_appearance, test_cli_game, test_record, test_capture, test_outputs,
 * test_faults, test_mpi), which run the program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture/capture.h"
#include "capture/record.h"
#include "dataset/dataset.h"
#include "eval/eval.h"
#include "game/game.h"
#include "tests/support/run.h"

/* ---- common/args.c ----------------------------------------------------- */

static void test_args_parse(void **st) {
    (void)st;
    const char *s = NULL, *out = NULL;
    int i = 0, flag = 0;
    int64_t big = 0;
    double x = 0;
    cb_range r = {0, 0};
    cb_opt opts[] = {
        {"name", CB_OPT_STR, &s, "S", "a string", 0},   {"n", CB_OPT_INT, &i, "N", "an int", 0},
        {"big", CB_OPT_I64, &big, "B", "an int64", 0},  {"x", CB_OPT_F64, &x, "X", "a double", 0},
        {"flag", CB_OPT_FLAG, &flag, NULL, "a flag", 0}, {"levels", CB_OPT_RANGE, &r, "A-B", "a range", 0},
        {"out", CB_OPT_STR, &out, "DIR", "output", 0},
    };
    cb_cmd_info info = {"t", "summary", "coinbc t [options]", NULL};
    char *argv[] = {"t", "p1", "--name", "abc", "--n=-7", "--big", "9000000000", "--x", "-2.5", "--flag",
                    "--levels", "3-9", "-o", "dir", "--", "--name"};
    const char *pos[4];
    int npos = -1;
    cb_err e = {0};
    assert_int_equal(cb_args_parse(CB_ARGS_COUNT(argv), argv, &info, opts, CB_ARGS_COUNT(opts), pos, 4, &npos, &e), 0);
    assert_string_equal(s, "abc");
    assert_int_equal(i, -7);
    assert_true(big == 9000000000LL);
    assert_true(x == -2.5);
    assert_int_equal(flag, 1);
    assert_int_equal(r.lo, 3);
    assert_int_equal(r.hi, 9);
    assert_string_equal(out, "dir");
    assert_int_equal(npos, 2); /* after "--" an option word is a positional argument */
    assert_string_equal(pos[0], "p1");
    assert_string_equal(pos[1], "--name");
    assert_int_equal(CB_ARGS_SEEN(opts, "levels"), 1);
    assert_int_equal(cb_args_seen(opts, CB_ARGS_COUNT(opts), "big"), 1);
    for (int k = 0; k < CB_ARGS_COUNT(opts); k++) opts[k].seen = 0;
    char *help[] = {"t", "--n", "1", "-h", "--bogus"};
    assert_int_equal(cb_args_parse(5, help, &info, opts, CB_ARGS_COUNT(opts), pos, 4, &npos, &e), CB_ARGS_HELP);
    assert_int_equal(CB_ARGS_SEEN(opts, "flag"), 0);
}

/* each refusal, by its message (the command prints it after "coinbc t: ") */
static void test_args_refusals(void **st) {
    (void)st;
    int i = 0, flag = 0;
    cb_range r;
    cb_opt opts[] = {{"n", CB_OPT_INT, &i, "N", "an int", 0},
                     {"flag", CB_OPT_FLAG, &flag, NULL, "a flag", 0},
                     {"levels", CB_OPT_RANGE, &r, "A-B", "a range", 0}};
    cb_cmd_info info = {"t", "summary", "coinbc t", NULL};
    struct {
        int argc;
        char *argv[3];
        const char *msg;
    } cases[] = {
        {2, {"t", "--bogus"}, "unknown option '--bogus' (see coinbc t --help)"},
        {2, {"t", "-x"}, "unknown option '-x' (see coinbc t --help)"},
        {2, {"t", "-o"}, "unknown option '-o' (see coinbc t --help)"}, /* no --out in the table */
        {2, {"t", "--n"}, "option --n needs a value (N)"},
        {3, {"t", "--n", "--flag"}, "option --n needs a value (N), and '--flag' after it is an option; for a value "
                                    "that starts with '--', write --n=VALUE"},
        {2, {"t", "--flag=1"}, "--flag takes no value"},
        {3, {"t", "--n", "4294967296"}, "--n: '4294967296' is not an integer in the int32 range"},
        {3, {"t", "--levels", "9-3"}, "--levels: range '9-3' is reversed (write it as LOW-HIGH)"},
        {3, {"t", "--levels", "a-b"}, "--levels: 'a-b' is not a level range A-B (0 <= A <= B < 2^31)"},
        {3, {"t", "p1", "p2"}, "unexpected argument 'p2' (see coinbc t --help)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *pos[1];
        int npos;
        cb_err e = {0};
        int rc = cb_args_parse(cases[k].argc, cases[k].argv, &info, opts, CB_ARGS_COUNT(opts), pos, 1, &npos, &e);
        assert_int_equal(rc, CB_EARG);
        assert_string_equal(e.msg, cases[k].msg);
    }
}

static void test_args_usage_and_join(void **st) {
    (void)st;
    int flag = 0;
    const char *f = NULL;
    cb_opt opts[] = {{"file", CB_OPT_STR, &f, "FILE", "a file", 0}, {"flag", CB_OPT_FLAG, &flag, NULL, "a flag", 0}};
    cb_cmd_info info = {"t", "Does t.", "coinbc t [--file FILE]", "more"};
    char buf[1024] = {0};
    FILE *m = fmemopen(buf, sizeof buf - 1, "w");
    assert_non_null(m);
    cb_args_usage(&info, opts, 2, m);
    fclose(m);
    assert_string_equal(buf, "usage: coinbc t [--file FILE]\n\nDoes t.\n\noptions:\n"
                             "  --file FILE              a file\n"
                             "  --flag                   a flag\n"
                             "  --help                   show this text\n\nmore\n");
    char j[32];
    char *argv[] = {"data", "info", "x.cbd"};
    cb_args_join(j, sizeof j, 3, argv);
    assert_string_equal(j, "coinbc data info x.cbd");
    cb_args_join(j, 12, 3, argv); /* truncated, still terminated */
    assert_string_equal(j, "coinbc data");
    char pre[64];
    cb_args_msg_prefix(pre, sizeof pre, "eval");
    assert_string_equal(pre, "coinbc eval: "); /* one process: no rank */
}

/* one process: the gather leaves rank 0's buffer as it is */
static void test_gather_one_process(void **st) {
    (void)st;
    int v[5] = {1, 2, 3, 4, 5};
    cb_err e = {0};
    assert_int_equal(cb_dist_gather_shares(v, sizeof *v, 5, &e), 0);
    for (int k = 0; k < 5; k++) assert_int_equal(v[k], k + 1);
}

/* ---- game/show.c, game/play.c ------------------------------------------ */

static void test_level_show(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char png[4200], map[4200], dump[8192] = {0}, want[8192] = {0};
    snprintf(png, sizeof png, "%s/o.png", dir);
    snprintf(map, sizeof map, "%s/m.png", dir);
    FILE *f = fmemopen(dump, sizeof dump - 1, "w");
    game_show_opts o = {.seed = 7, .mode = GAME_HARD, .dump = f, .png = png, .map = map, .px = 2};
    game_level_summary s;
    cb_err e = {0};
    assert_int_equal(game_level_show(&s, &o, &e), 0);
    fclose(f);
    game_level *L = malloc(sizeof *L);
    game_state init;
    assert_int_equal(game_level_generate(L, &init, 7, GAME_HARD, &e), 0);
    f = fmemopen(want, sizeof want - 1, "w");
    game_level_dump(L, f);
    fclose(f);
    assert_string_equal(dump, want);
    int saws = 0;
    for (int i = 0; i < L->nstatics; i++) saws += L->statics[i].type == GAME_ENT_SAW;
    assert_int_equal(s.goal_x, L->goal_x);
    assert_int_equal(s.goal_y, L->goal_y);
    assert_int_equal(s.enemies, L->nenemies);
    assert_int_equal(s.crates, L->ncrates);
    assert_int_equal(s.saws, saws);
    assert_string_equal(s.themes.bg, game_level_theme_names(L).bg);
    /* the observation is the one game_render draws, encoded as game/png.c does */
    uint8_t rgb[CB_FRAME_BYTES];
    game_render(rgb, L, &init, NULL);
    game_png p;
    game_png_init(&p);
    assert_int_equal(game_png_encode(&p, rgb, CB_FRAME_W, CB_FRAME_H, &e), 0);
    uint8_t *file;
    size_t n;
    assert_int_equal(cb_read_file(png, &file, &n, &e), 0);
    assert_true(n == p.n && memcmp(file, p.data, n) == 0);
    free(file);
    game_png_free(&p);
    struct stat sb;
    assert_int_equal(stat(map, &sb), 0);
    free(L);
    o = (game_show_opts){.seed = 1, .mode = GAME_EASY, .png = "/nonexistent-dir/x.png"};
    assert_true(game_level_show(&s, &o, &e) < 0);
    test_rmtree(dir);
    free(dir);
}

static FILE *text_file(const char *s) {
    FILE *f = tmpfile();
    assert_non_null(f);
    fwrite(s, 1, strlen(s), f);
    rewind(f);
    return f;
}

static void test_actions_read(void **st) {
    (void)st;
    int *a = NULL, n = 0;
    cb_err e = {0};
    FILE *f = text_file("1 2,3 # four\n\n14\t0\n");
    assert_int_equal(game_actions_read(&a, &n, "-", f, &e), 0);
    fclose(f);
    int want[] = {1, 2, 3, 14, 0};
    assert_int_equal(n, 5);
    for (int k = 0; k < 5; k++) assert_int_equal(a[k], want[k]);
    free(a);
    struct {
        const char *text, *msg;
    } bad[] = {{"1\n2 15\n", "-:2: '15' is not an action (expected an integer 0..14)"},
               {"# nothing\n", "-: no actions in the file"},
               {"1 x\n", "-:1: 'x' is not an action (expected an integer 0..14)"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        f = text_file(bad[k].text);
        a = NULL;
        assert_true(game_actions_read(&a, &n, "-", f, &e) < 0);
        assert_string_equal(e.msg, bad[k].msg);
        assert_null(a);
        fclose(f);
    }
    /* more than an episode: all checked, the first GAME_TIMEOUT kept */
    char *many = malloc(2 * (GAME_TIMEOUT + 10) + 1);
    for (int k = 0; k < GAME_TIMEOUT + 10; k++) memcpy(many + 2 * k, k == GAME_TIMEOUT + 9 ? "9\n" : "7 ", 2);
    many[2 * (GAME_TIMEOUT + 10)] = 0;
    f = text_file(many);
    assert_int_equal(game_actions_read(&a, &n, "-", f, &e), 0);
    assert_int_equal(n, GAME_TIMEOUT);
    assert_int_equal(a[GAME_TIMEOUT - 1], 7);
    free(a);
    fclose(f);
    free(many);
}

/* the trace is the rows of stepping the level by hand, up to the first done */
static void test_play(void **st) {
    (void)st;
    int acts[40];
    for (int k = 0; k < 40; k++) acts[k] = k % 3 == 0 ? 5 : 7;
    char got[16384] = {0}, want[16384] = {0};
    FILE *f = fmemopen(got, sizeof got - 1, "w");
    game_play_opts o = {.seed = 3, .mode = GAME_EASY, .actions = acts, .nactions = 40, .trace = f, .header = 1};
    cb_err e = {0};
    assert_int_equal(game_play(&o, &e), 0);
    fclose(f);
    game_level *L = malloc(sizeof *L);
    game_state s;
    assert_int_equal(game_level_generate(L, &s, 3, GAME_EASY, &e), 0);
    size_t k = (size_t)snprintf(want, sizeof want, "seed,step,action,x,y,vx,vy,reward,done,outcome\n");
    for (int t = 0; t < 40; t++) {
        game_step_out so;
        game_step(L, &s, acts[t], &so);
        char row[256];
        game_trace_row(row, sizeof row, 3, t, acts[t], &s, &so);
        k += (size_t)snprintf(want + k, sizeof want - k, "%s\n", row);
        if (so.done) break;
    }
    assert_string_equal(got, want);
    free(L);
    /* the refdata policy plays the same episode twice */
    char a1[65536] = {0}, a2[65536] = {0};
    for (int r = 0; r < 2; r++) {
        f = fmemopen(r ? a2 : a1, sizeof a1 - 1, "w");
        o = (game_play_opts){.seed = 11, .mode = GAME_HARD, .trace = f};
        assert_int_equal(game_play(&o, &e), 0);
        fclose(f);
    }
    assert_true(strlen(a1) > 0);
    assert_string_equal(a1, a2);
}

/* ---- dataset/info.c, dataset/split.c, capture/record_run.c, export_run.c */

static int record_dataset(const char *out, int32_t lo, int32_t hi, int64_t states, cb_err *e) {
    capture_record_run_opts o = {.rec = {.lo = lo, .hi = hi, .mode = GAME_EASY, .states = states, .noise = 0.2,
                                         .seed = 1, .out = out, .threads = 2, .command = "test_thin"},
                                 .mode_word = "easy", .quiet = 1};
    capture_record_summary s;
    double dt;
    int rc = capture_record_run(&s, &dt, &o, e);
    if (!rc) assert_true(s.levels == hi - lo + 1 && s.states == (hi - lo + 1) * states);
    return rc;
}

static void count_bad(void *ctx, const char *msg) {
    (void)msg;
    (*(int *)ctx)++;
}

static void test_data_entry_points(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    char data[4200], a[4200], b[4200], ex[4200];
    snprintf(data, sizeof data, "%s/d.cbd", dir);
    snprintf(a, sizeof a, "%s/a.cbd", dir);
    snprintf(b, sizeof b, "%s/b.cbd", dir);
    snprintf(ex, sizeof ex, "%s/ex", dir);
    cb_err e = {0};
    assert_true(capture_record_is_dataset(data) && !capture_record_is_dataset(dir));
    assert_int_equal(record_dataset(data, 0, 3, 6, &e), 0);
    assert_int_equal(record_dataset(data, 0, 3, 6, &e), CB_EEXIST); /* exists, no force: and the hint */
    assert_non_null(strstr(e.msg, ", or add levels to it with --force"));
    ds_info in;
    assert_int_equal(ds_info_open(&in, data, 1, &e), 0);
    assert_int_equal(ds_nlevels(in.r), 4);
    assert_true(in.frames == 24);
    assert_int_equal(in.modes[1], 4);
    int64_t hl = 0, hx = 0;
    for (int k = 0; k < CB_NUM_ACTIONS; k++) hl += in.label_hist[k], hx += in.executed_hist[k];
    assert_true(hl == 24 && hx == 24);
    assert_non_null(strstr(ds_source(in.r), "record: expert play of easy levels 0-3, noise 0.2, seed 1"));
    ds_info_close(&in);
    int n, nbad, calls = 0;
    assert_int_equal(ds_verify_all(&n, &nbad, data, 1, count_bad, &calls, &e), 0);
    assert_true(n == 4 && nbad == 0 && calls == 0);
    /* split: each range its own dataset; a range without levels leaves neither */
    ds_split_opts so = {.in = data, .a = a, .b = b, .alo = 0, .ahi = 1, .blo = 2, .bhi = 3, .command = "t", .quiet = 1};
    int na, nb;
    assert_int_equal(ds_split(&na, &nb, &so, &e), 0);
    assert_true(na == 2 && nb == 2);
    assert_int_equal(ds_verify_all(&n, &nbad, b, 1, NULL, NULL, &e), 0);
    assert_true(n == 2 && nbad == 0);
    snprintf(a, sizeof a, "%s/a2.cbd", dir);
    snprintf(b, sizeof b, "%s/b2.cbd", dir);
    so.blo = 50, so.bhi = 60;
    assert_int_equal(ds_split(&na, &nb, &so, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "no levels in 50-60"));
    struct stat sb;
    assert_true(stat(a, &sb) != 0 && stat(b, &sb) != 0);
    /* export: the level folders, or nothing for an empty range */
    capture_export_run_opts xo = {.data = data, .out = ex, .lo = 1, .hi = 2, .quiet = 1, .command = "t"};
    int count = 0;
    assert_int_equal(capture_export_run(&count, &xo, &e), 0);
    assert_int_equal(count, 2);
    char lv[4300];
    snprintf(lv, sizeof lv, "%s/level_1/actions.csv", ex);
    assert_int_equal(stat(lv, &sb), 0);
    xo.lo = 100, xo.hi = 200, xo.force = 1;
    assert_int_equal(capture_export_run(&count, &xo, &e), CB_ENOTFOUND);
    assert_int_equal(stat(lv, &sb), 0); /* the old export is still there */
    /* a damaged shard: info refuses the dataset, verify names the level */
    char shard[4300];
    snprintf(shard, sizeof shard, "%s/level_2.cbs", data);
    FILE *f = fopen(shard, "r+b");
    assert_non_null(f);
    fseek(f, 60, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 60, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    assert_true(ds_info_open(&in, data, 1, &e) < 0);
    calls = 0;
    assert_int_equal(ds_verify_all(&n, &nbad, data, 1, count_bad, &calls, &e), 0);
    assert_true(n == 4 && nbad == 1 && calls == 1);
    test_rmtree(dir);
    free(dir);
}

/* ---- eval/accuracy_run.c, rollout_run.c, appearance_run.c -------------- */

typedef struct {
    char *dir;
    char run[4200], ckpt[4200], test[4200];
} fixture;

/* a tiny run trained by the program (8 levels), and held-out levels */
static int setup_run(void **st) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir();
    snprintf(fx->run, sizeof fx->run, "%s/run", fx->dir);
    snprintf(fx->ckpt, sizeof fx->ckpt, "%s/run/best.ckpt", fx->dir);
    snprintf(fx->test, sizeof fx->test, "%s/test.cbd", fx->dir);
    char err[4096];
    int rc = test_run(NULL, 0, err, sizeof err, "record --levels 0-7 --states 30 --noise 0.1 --out %s/train.cbd --quiet",
                      fx->dir);
    if (!rc) rc = test_run(NULL, 0, err, sizeof err, "record --levels 100-104 --states 20 --out %s --quiet", fx->test);
    if (!rc)
        rc = test_run(NULL, 0, err, sizeof err,
                      "train %s/train.cbd --method and --net nature --channels 4,8,8 --hidden 16 --epochs 1 "
                      "--batch-levels 4 --batch-frames 4 --quiet -o %s",
                      fx->dir, fx->run);
    if (rc != 0) fprintf(stderr, "setup: %s\n", err);
    *st = fx;
    return rc;
}

static int teardown_run(void **st) {
    fixture *fx = *st;
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static char *slurp(const char *path) {
    uint8_t *b;
    size_t n;
    cb_err e;
    return cb_read_file(path, &b, &n, &e) ? NULL : (char *)b;
}

static void test_accuracy_run(void **st) {
    fixture *fx = *st;
    eval_accuracy_run_opts o = {.run = fx->run, .data = fx->test, .checkpoint = fx->ckpt, .lo = 0, .hi = INT32_MAX,
                                .quiet = 1};
    eval_accuracy_run_result r;
    cb_err e = {0};
    assert_int_equal(eval_accuracy_run(&r, &o, &e), 0);
    assert_int_equal(r.test.nlevels, 5);
    assert_true(r.test.n == 100);
    assert_int_equal(r.has_train, 1);
    assert_int_equal(r.train.nlevels, 8);
    assert_string_equal(r.train_skipped, "");
    char p[4300];
    snprintf(p, sizeof p, "%s/eval.json", fx->run);
    char *file = slurp(p);
    assert_non_null(file);
    assert_non_null(r.json);
    assert_string_equal(r.json, file); /* the text is the record written */
    free(file);
    struct stat sb;
    snprintf(p, sizeof p, "%s/eval_frames.png", fx->run);
    assert_int_equal(stat(p, &sb), 0);
    eval_accuracy_run_free(&r);
    /* the same checkpoint, held-out levels only */
    o.no_train = 1, o.lo = 101, o.hi = 102;
    assert_int_equal(eval_accuracy_run(&r, &o, &e), 0);
    assert_true(r.test.nlevels == 2 && !r.has_train);
    eval_accuracy_run_free(&r);
    o.lo = 500, o.hi = 600;
    assert_int_equal(eval_accuracy_run(&r, &o, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "no levels in 500-600 (the dataset has seeds 100..104)"));
    assert_null(r.json);
    eval_accuracy_run_free(&r);
    /* a missing checkpoint: what the folder holds instead */
    o.lo = 0, o.hi = INT32_MAX;
    char nock[4300];
    snprintf(nock, sizeof nock, "%s/none.ckpt", fx->run);
    o.checkpoint = nock;
    assert_int_equal(eval_accuracy_run(&r, &o, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "none.ckpt: no"));
    eval_accuracy_run_free(&r);
}

static void test_rollout_run(void **st) {
    fixture *fx = *st;
    char film[4300], p[4300];
    snprintf(film, sizeof film, "%s/film.png", fx->dir);
    eval_rollout_run_opts o = {.run = fx->run, .checkpoint = fx->ckpt, .lo = 200, .hi = 209, .mode = GAME_EASY,
                               .episodes = 1, .seed = 3, .threads = 1, .quiet = 1, .film = film};
    eval_rollout_run_result r;
    cb_err e = {0};
    assert_int_equal(eval_rollout_run(&r, &o, &e), 0);
    for (int k = 0; k < 3; k++) assert_int_equal(r.who[k].episodes, 10);
    assert_true(r.who[EVAL_AGENT_EXPERT].success > 0.99); /* the expert reaches easy coins */
    snprintf(p, sizeof p, "%s/rollout.json", fx->run);
    char *file = slurp(p);
    assert_non_null(file);
    assert_string_equal(r.json, file);
    struct stat sb;
    assert_int_equal(stat(film, &sb), 0);
    /* two threads: the same record */
    o.threads = 2, o.film = NULL;
    eval_rollout_run_result r2;
    assert_int_equal(eval_rollout_run(&r2, &o, &e), 0);
    assert_string_equal(r2.json, file);
    free(file);
    eval_rollout_run_free(&r);
    eval_rollout_run_free(&r2);
}

static void test_appearance_entry_points(void **st) {
    fixture *fx = *st;
    int32_t *train = NULL;
    int n = 0, mode = -1;
    cb_err e = {0};
    assert_int_equal(eval_appearance_levels(&train, &n, &mode, fx->run, 500, 503, &e), 0);
    assert_int_equal(n, 8);
    assert_int_equal(mode, GAME_EASY);
    for (int k = 0; k < n; k++) assert_int_equal(train[k], k);
    free(train);
    mode = -1;
    assert_int_equal(eval_appearance_levels(&train, &n, &mode, fx->run, 5, 9, &e), CB_EARG);
    assert_string_equal(e.msg, "--levels 5-9 overlap the run's training levels (level 5); give held-out levels");
    free(train);
    mode = GAME_HARD;
    assert_int_equal(eval_appearance_levels(&train, &n, &mode, fx->run, 500, 503, &e), CB_EARG);
    assert_string_equal(e.msg, "--mode hard, but the run's training levels are easy mode");
    free(train);
    assert_int_equal(eval_appearance_levels(&train, &n, &mode, fx->dir, 500, 503, &e), CB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "no config.json, so the run's training levels are unknown"));
    free(train);
    mode = -1;
    assert_int_equal(eval_appearance_levels(&train, &n, &mode, fx->run, 500, 502, &e), 0);
    char out[4300];
    snprintf(out, sizeof out, "%s/app.json", fx->dir);
    eval_appearance_run_opts o = {.run = fx->run, .checkpoint = fx->ckpt, .out = out, .train = train, .ntrain = n,
                                  .lo = 500, .hi = 502, .mode = mode, .states = 3, .donors = 2, .noise = 0.1,
                                  .seed = 4, .threads = 2};
    eval_appearance_run_result r;
    assert_int_equal(eval_appearance_run(&r, &o, &e), 0);
    assert_true(r.cell[0][EVAL_APP_ORIG].n == 8 * 3 && r.cell[1][EVAL_APP_ORIG].n == 3 * 3);
    assert_true(r.cell[1][EVAL_APP_SEEN].n == 3 * 3 * 2);
    assert_true(r.cell[0][EVAL_APP_UNSEEN].n == 0); /* easy mode has no unseen looks */
    /* closed loop: own looks for all 11 levels, 2 training levels' looks for each of the 3 held-out ones */
    assert_true(r.episodes == 8 + 3 + 3 * 2);
    assert_true(r.play[EVAL_APP_SS].episodes == 8 && r.play[EVAL_APP_US].episodes == 6);
    char *file = slurp(out);
    assert_non_null(file);
    assert_string_equal(r.json, file);
    free(file);
    eval_appearance_run_free(&r);
    free(train);
}

int main(void) {
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_args_parse),
        cmocka_unit_test(test_args_refusals),
        cmocka_unit_test(test_args_usage_and_join),
        cmocka_unit_test(test_gather_one_process),
        cmocka_unit_test(test_level_show),
        cmocka_unit_test(test_actions_read),
        cmocka_unit_test(test_play),
        cmocka_unit_test(test_data_entry_points),
    };
    const struct CMUnitTest with_run[] = {
        cmocka_unit_test(test_accuracy_run),
        cmocka_unit_test(test_rollout_run),
        cmocka_unit_test(test_appearance_entry_points),
    };
    int failed = cmocka_run_group_tests_name("thin: common, game, dataset, capture", plain, NULL, NULL);
    return failed + cmocka_run_group_tests_name("thin: eval", with_run, setup_run, teardown_run);
}

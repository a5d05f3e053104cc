/* test_record.c - recording levels with the expert (capture/record.h and
 * `coinbc record`): same arguments give the same bytes for any thread count;
 * with EPS=0 the executed action equals the label on every row; the rows
 * replay exactly (executed actions reproduce reward, done, episode and
 * step); frames are the engine's observations; bad input is refused. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "capture/record.h"
#include "tests/support/run.h"

static char out[1 << 16], err[8192];

static capture_record_opts opts(const char *dir, int32_t lo, int32_t hi, int mode, int64_t n, double eps, int threads) {
    capture_record_opts o = {.lo = lo, .hi = hi, .mode = mode, .states = n, .noise = eps, .seed = 11, .out = dir,
                             .force = 0, .threads = threads};
    return o;
}

static uint8_t *slurp(const char *path, size_t *n) {
    uint8_t *p = NULL;
    cb_err e = {0};
    if (cb_read_file(path, &p, n, &e)) return NULL;
    return p;
}

/* Every regular file under a/sub equals the one under b/sub (and b has no
 * extra files); returns the number of files compared. */
static int same_tree(const char *a, const char *b, const char *sub) {
    char da[4200], db[4200];
    snprintf(da, sizeof da, "%s/%s", a, sub);
    snprintf(db, sizeof db, "%s/%s", b, sub);
    int count = 0, count_b = 0;
    DIR *d = opendir(db);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) count_b += de->d_name[0] != '.';
    closedir(d);
    d = opendir(da);
    assert_non_null(d);
    int entries = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        entries++;
        char pa[4600], pb[4600], s2[600];
        snprintf(pa, sizeof pa, "%s/%s", da, de->d_name);
        snprintf(pb, sizeof pb, "%s/%s", db, de->d_name);
        struct stat st;
        assert_int_equal(stat(pa, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            snprintf(s2, sizeof s2, "%s/%s", sub, de->d_name);
            count += same_tree(a, b, s2);
            continue;
        }
        size_t na, nb;
        uint8_t *fa = slurp(pa, &na), *fb = slurp(pb, &nb);
        assert_non_null(fa);
        if (!fb) printf("  missing %s\n", pb);
        assert_non_null(fb);
        if (na != nb || memcmp(fa, fb, na)) printf("  %s and %s differ\n", pa, pb);
        assert_int_equal(na, nb);
        assert_memory_equal(fa, fb, na);
        free(fa);
        free(fb);
        count++;
    }
    closedir(d);
    assert_int_equal(entries, count_b);
    return count;
}

static void test_same_bytes_any_thread_count(void **st) {
    (void)st;
    char *root = test_tmpdir();
    assert_non_null(root);
    char a[4200], b[4200], c[4200];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    capture_record_summary sa, sb;
    cb_err e = {0};
    capture_record_opts o = opts(a, 40, 42, GAME_HARD, 70, 0.25, 1);
    assert_int_equal(capture_record(&o, &sa, &e), 0);
    o = opts(b, 40, 42, GAME_HARD, 70, 0.25, 2);
    assert_int_equal(capture_record(&o, &sb, &e), 0);
    assert_int_equal(sa.states, 210);
    assert_int_equal(sa.levels, 3);
    assert_memory_equal(&sa, &sb, sizeof sa);
    assert_true(sa.random_actions > 0);
    assert_int_equal(same_tree(a, b, "."), 3 * (70 + 2) + 2); /* the levels, the run's meta.json and plan.json */
    /* the CLI with the same arguments writes the same bytes again */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err,
                              "record --levels 40-42 --mode hard --states 70 --noise 0.25 --seed 11 --out %s --quiet "
                              "--threads 2", c),
                     0);
    assert_non_null(strstr(out, "210 states"));
    same_tree(a, c, ".");
    /* a different seed changes the noise, so the bytes */
    char d[4200];
    snprintf(d, sizeof d, "%s/d", root);
    o = opts(d, 40, 42, GAME_HARD, 70, 0.25, 2);
    o.seed = 12;
    assert_int_equal(capture_record(&o, &sb, &e), 0);
    size_t n1, n2;
    char p1[4300], p2[4300];
    snprintf(p1, sizeof p1, "%s/level_40/actions.csv", a);
    snprintf(p2, sizeof p2, "%s/level_40/actions.csv", d);
    uint8_t *f1 = slurp(p1, &n1), *f2 = slurp(p2, &n2);
    assert_true(n1 != n2 || memcmp(f1, f2, n1) != 0);
    free(f1);
    free(f2);
    test_rmtree(root);
    free(root);
}

typedef struct {
    int step, action, reward, done, label, executed, episode, episode_step;
} row;

static int read_rows(const char *path, row *rows, int cap) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, CAPTURE_RECORD_CSV_HEADER "\n");
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_true(n < cap);
        row *r = &rows[n++];
        assert_int_equal(sscanf(line, "%d,%d,%d,%d,%d,%d,%d,%d", &r->step, &r->action, &r->reward, &r->done, &r->label,
                                &r->executed, &r->episode, &r->episode_step),
                         8);
    }
    fclose(f);
    return n;
}

/* Replays the executed actions of a level from its start and checks reward,
 * done, episode and episode_step on every row; returns rows where executed
 * differs from label. */
static int replay_level(const char *dir, int32_t level, int mode, int n) {
    char path[4300];
    snprintf(path, sizeof path, "%s/level_%d/actions.csv", dir, level);
    row *rows = calloc((size_t)n + 1, sizeof *rows);
    assert_non_null(rows);
    assert_int_equal(read_rows(path, rows, n + 1), n);
    static game_env env;
    cb_err e = {0};
    assert_int_equal(game_env_init(&env, level, mode, &e), 0);
    int differ = 0;
    for (int t = 0; t < n; t++) {
        row *r = &rows[t];
        assert_int_equal(r->step, t);
        assert_int_equal(r->action, r->label);
        assert_true(r->label >= 0 && r->label <= 8);
        assert_true(r->executed >= 0 && r->executed < CB_NUM_ACTIONS);
        assert_int_equal(r->episode, env.episode);
        assert_int_equal(r->episode_step, env.state.time);
        assert_int_equal(game_expert_canonical(&env.level, &env.state, r->label), r->label);
        game_step_out o;
        game_env_step(&env, r->executed, &o);
        assert_int_equal(r->reward, (int)o.reward);
        assert_int_equal(r->done, o.done);
        differ += r->executed != r->label;
    }
    free(rows);
    return differ;
}

static void test_eps0_executed_equals_label(void **st) {
    (void)st;
    char *root = test_tmpdir();
    assert_non_null(root);
    char a[4200];
    snprintf(a, sizeof a, "%s/rec", root);
    capture_record_summary s;
    cb_err e = {0};
    capture_record_opts o = opts(a, 17, 18, GAME_EASY, 150, 0, 2);
    assert_int_equal(capture_record(&o, &s, &e), 0);
    assert_int_equal(replay_level(a, 17, GAME_EASY, 150), 0);
    assert_int_equal(replay_level(a, 18, GAME_EASY, 150), 0);
    /* the expert alone reaches the coin in every episode that ended */
    assert_true(s.episodes >= 2);
    assert_int_equal(s.coins, s.episodes);
    assert_int_equal(s.random_actions, 0);
    assert_int_equal(s.expert_nopath + s.expert_budget, 0);
    /* one plan per level: later episodes reuse it */
    assert_int_equal(s.searches, 2);
    /* frame 0 is the engine's first observation, byte for byte as game_write_png writes it */
    static game_env env;
    assert_int_equal(game_env_init(&env, 17, GAME_EASY, &e), 0);
    uint8_t rgb[CB_FRAME_BYTES];
    game_env_render(&env, rgb);
    char ref[4300], frame[4300];
    snprintf(ref, sizeof ref, "%s/ref.png", root);
    snprintf(frame, sizeof frame, "%s/level_17/frame_000000.png", a);
    assert_int_equal(game_write_png(ref, rgb, CB_FRAME_W, CB_FRAME_H, &e), 0);
    size_t n1, n2;
    uint8_t *f1 = slurp(ref, &n1), *f2 = slurp(frame, &n2);
    assert_non_null(f1);
    assert_non_null(f2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1);
    free(f2);
    snprintf(frame, sizeof frame, "%s/level_17/frame_000149.png", a);
    struct stat sb;
    assert_int_equal(stat(frame, &sb), 0);
    snprintf(frame, sizeof frame, "%s/level_17/frame_000150.png", a);
    assert_int_not_equal(stat(frame, &sb), 0);
    /* noise 1: every executed action is random, the labels are still the expert's */
    char b[4200];
    snprintf(b, sizeof b, "%s/noisy", root);
    o = opts(b, 3, 3, GAME_HARD, 80, 1.0, 1);
    assert_int_equal(capture_record(&o, &s, &e), 0);
    assert_int_equal(s.random_actions, 80);
    assert_true(replay_level(b, 3, GAME_HARD, 80) > 20);
    test_rmtree(root);
    free(root);
}

static void test_bad_input(void **st) {
    (void)st;
    char *root = test_tmpdir();
    assert_non_null(root);
    char a[4200];
    snprintf(a, sizeof a, "%s/rec", root);
    /* CLI */
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 5-3 --states 10 --out %s", a), 0);
    assert_non_null(strstr(err, "reversed"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels '' --states 10 --out %s", a), 0);
    assert_non_null(strstr(err, "--levels"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 3- --states 10 --out %s", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 0 --out %s", a), 0);
    assert_non_null(strstr(err, "--states"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states -4 --out %s", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --noise 1.5 --out %s", a), 0);
    assert_non_null(strstr(err, "--noise"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --noise -0.1 --out %s", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --noise nan --out %s", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --mode medium --out %s", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5"), 0);
    assert_non_null(strstr(err, "--out"));
    struct stat sb;
    assert_int_not_equal(stat(a, &sb), 0); /* nothing was created by refused commands */
    /* existing folder: refused without --force, accepted with it */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 12 --out %s --quiet", a), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 12 --out %s", a), 0);
    assert_non_null(strstr(err, "exists"));
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-1 --states 5 --out %s --force --quiet", a), 0);
    char f[4300];
    snprintf(f, sizeof f, "%s/level_0/frame_000005.png", a); /* stale frames of the first run are gone */
    assert_int_not_equal(stat(f, &sb), 0);
    snprintf(f, sizeof f, "%s/level_0/frame_000004.png", a);
    assert_int_equal(stat(f, &sb), 0);
    /* unwritable: a folder below a regular file, and /proc */
    snprintf(f, sizeof f, "%s/level_0/actions.csv/sub", a);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-0 --states 5 --out %s", f), 0);
    assert_non_null(strstr(err, "actions.csv"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "record --levels 0-0 --states 5 --out /proc/coinbc_rec"), 0);
    assert_non_null(strstr(err, "/proc/coinbc_rec"));
    /* the library refuses the same things */
    capture_record_summary s;
    cb_err e = {0};
    char z[4200];
    snprintf(z, sizeof z, "%s/lib", root);
    capture_record_opts o = opts(z, 5, 3, GAME_EASY, 10, 0, 1);
    assert_int_equal(capture_record(&o, &s, &e), CB_EARG);
    o = opts(z, 0, 1, GAME_EASY, 0, 0, 1);
    assert_int_equal(capture_record(&o, &s, &e), CB_EARG);
    o = opts(z, 0, 1, GAME_EASY, 10, 1.01, 1);
    assert_int_equal(capture_record(&o, &s, &e), CB_EARG);
    o = opts(z, 0, 1, GAME_EASY, 10, -0.5, 1);
    assert_int_equal(capture_record(&o, &s, &e), CB_EARG);
    o = opts(z, 0, 1, GAME_EASY, 10, 0, 0);
    assert_int_equal(capture_record(&o, &s, &e), CB_EARG);
    o = opts(a, 0, 1, GAME_EASY, 10, 0, 1);
    assert_int_equal(capture_record(&o, &s, &e), CB_EEXIST);
    assert_int_not_equal(stat(z, &sb), 0);
    test_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_eps0_executed_equals_label),
        cmocka_unit_test(test_same_bytes_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cli_game.c - the level and play commands end to end, including bad
 * input: unknown mode, seed outside int32, bad actions with line numbers,
 * unwritable outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "tests/support/refdata.h"
#include "tests/support/run.h"

static char out[1 << 20], err[8192];

static void test_level_dump_matches_refdata(void **st) {
    (void)st;
    const char *path = test_refdata("layouts_hard.txt.gz");
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 0 --mode hard --dump"), 0);
    gzFile f = gzopen(path, "rb");
    char ref[16384];
    int n = gzread(f, ref, sizeof ref - 1);
    gzclose(f);
    ref[n] = 0;
    char *end = strstr(ref, "end\n");
    assert_non_null(end);
    end[4] = 0;
    assert_string_equal(out, ref);
}

static void test_level_summary_and_help(void **st) {
    (void)st;
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 12"), 0);
    assert_non_null(strstr(out, "level 12 (easy)"));
    /* theme names (game_level_theme_names) as the reference layout of hard
     * seed 0 names them: bg_name, player_color, ground_theme */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 0 --mode hard"), 0);
    assert_non_null(strstr(out, "background space_backgrounds/parallax-space-backgound.png, player Pink, ground Sand"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --help"), 0);
    assert_non_null(strstr(out, "--seed"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "--help"), 0);
    assert_non_null(strstr(out, "play"));
}

static void test_level_bad_input(void **st) {
    (void)st;
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 1 --mode medium"), 0);
    assert_non_null(strstr(err, "unknown mode 'medium'"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 2147483648"), 0);
    assert_non_null(strstr(err, "int32"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed -2147483649"), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed abc"), 0);
    assert_non_null(strstr(err, "not an integer"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level"), 0);
    assert_non_null(strstr(err, "--seed"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 1 --bogus"), 0);
    assert_non_null(strstr(err, "unknown option"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 1 --png /nonexistent_dir/x.png"), 0);
    assert_non_null(strstr(err, "/nonexistent_dir/x.png"));
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --seed -7 --mode hard"), 0);
}

static void test_play_refdata_matches_traces(void **st) {
    (void)st;
    const char *path = test_refdata("traces_easy.csv.gz");
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 3 --policy refdata --header"), 0);
    gzFile f = gzopen(path, "rb");
    char line[256];
    size_t pos = 0;
    static char ref[1 << 16];
    while (gzgets(f, line, sizeof line)) {
        if (pos == 0 || strncmp(line, "3,", 2) == 0) {
            size_t l = strlen(line);
            memcpy(ref + pos, line, l);
            pos += l;
        }
    }
    ref[pos] = 0;
    gzclose(f);
    assert_string_equal(out, ref);
}

static void test_play_actions_file(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# walk right\n7 7 7\n7,7\n");
    fclose(f);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0 --actions %s", path), 0);
    /* five rows, the first as in the reference trace of seed 0 */
    int rows = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++) rows++;
    assert_int_equal(rows, 5);
    assert_true(strncmp(out, "0,0,7,1.6000,1.5787,0.1000,-0.0000,0,0,\n", 40) == 0);
    f = fopen(path, "w");
    fprintf(f, "7\n7\n15\n");
    fclose(f);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0 --actions %s", path), 0);
    assert_non_null(strstr(err, ":3:"));
    assert_non_null(strstr(err, "'15'"));
    f = fopen(path, "w");
    fprintf(f, "7\nright\n");
    fclose(f);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0 --actions %s", path), 0);
    assert_non_null(strstr(err, ":2:"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0 --actions %s/missing.txt", dir), 0);
    assert_non_null(strstr(err, "missing.txt"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0 --policy bogus"), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 0"), 0);
    test_rmtree(dir);
    free(dir);
}

static void test_play_frames(void **st) {
    (void)st;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 4 --policy refdata --frames %s/f", dir), 0);
    int rows = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++) rows++;
    char path[512];
    snprintf(path, sizeof path, "%s/f/frame_%06d.png", dir, rows - 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    snprintf(path, sizeof path, "%s/f/frame_%06d.png", dir, rows);
    assert_null(fopen(path, "rb"));
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "play --seed 4 --policy refdata --frames /proc/nope"), 0);
    test_rmtree(dir);
    free(dir);
}

/* Required options are checked by name (CLI_SEEN), for each command whose
 * table has them: missing one is a usage error (status 2) naming it, and a
 * given one is not mistaken for another entry of the table. */
static void test_required_options(void **st) {
    (void)st;
    struct {
        const char *args, *want;
    } c[] = {
        {"level --mode hard", "--seed S is required"},
        {"play --policy refdata", "--seed S is required"},
        {"record --states 5 --out /nonexistent/r", "--levels A-B is required"},
        {"record --levels 0-1 --out /nonexistent/r", "--states N is required"},
        {"data split x.cbd --train 0-1 -o p", "--test C-D"},
        {"data split x.cbd --test 0-1 -o p", "--train A-B"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = test_run(out, sizeof out, err, sizeof err, "%s", c[i].args);
        if (rc != 2 || !strstr(err, c[i].want)) fail_msg("coinbc %s: status %d, stderr '%s'", c[i].args, rc, err);
    }
    /* given: the command gets past the check */
    assert_int_equal(test_run(out, sizeof out, err, sizeof err, "level --seed 5"), 0);
    assert_int_not_equal(test_run(out, sizeof out, err, sizeof err, "data split /nonexistent.cbd --train 0-1 --test 5-6 -o p"), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_dump_matches_refdata), cmocka_unit_test(test_level_summary_and_help),
        cmocka_unit_test(test_level_bad_input),            cmocka_unit_test(test_play_refdata_matches_traces), cmocka_unit_test(test_required_options),
        cmocka_unit_test(test_play_actions_file),          cmocka_unit_test(test_play_frames),
    };
    return cmocka_run_group_tests_name("cli_game", tests, NULL, NULL);
}

/* test_study_summary.c - tools/study_summary.py, the reader docs/RESULTS.md's
 * per-piece study figures come from, against the records coinbc itself
 * wrote for the same study: on the paper protocol's committed mean study
 * (docs/results/compare/paper/tune/mean), its counts by state, its best
 * trial and the trials of a region of the space must be what trials.csv
 * says (written by coinbc from tools/tune.py's output, not from the
 * journal's own values). And its refusals: a missing journal, a damaged one,
 * a bad --region, each one line and exit status 1 (a torn last line is
 * not damage: Optuna skips it, as a crashed writer leaves one). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#define STUDY "docs/results/compare/paper/tune/mean/"
#define TOOL "/usr/bin/python3 -B tools/study_summary.py "

typedef struct {
    int complete, pruned, rows;
    int best_trial; /* the lowest val_loss of a COMPLETE or PRUNED row */
    double best;
    int in_region; /* rows with lr in [3e-3, 1e-2] */
    int region_trials[256];
} csv_facts;

static void read_trials_csv(csv_facts *f) {
    memset(f, 0, sizeof *f);
    f->best = INFINITY;
    FILE *p = fopen(STUDY "trials.csv", "r");
    assert_non_null(p);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(strncmp(line, "number,state,lr,beta1,batch-frames,wd,val_loss,", 47), 0);
    while (fgets(line, sizeof line, p)) {
        int num;
        char state[32];
        double lr, beta1, vl;
        int bf;
        char wd[64];
        assert_int_equal(sscanf(line, "%d,%31[A-Z],%lf,%lf,%d,%63[^,],%lf,", &num, state, &lr, &beta1, &bf, wd, &vl), 7);
        f->rows++;
        int fin = !strcmp(state, "COMPLETE") || !strcmp(state, "PRUNED");
        f->complete += !strcmp(state, "COMPLETE");
        f->pruned += !strcmp(state, "PRUNED");
        if (fin && vl < f->best) f->best = vl, f->best_trial = num;
        if (fin && lr >= 3e-3 && lr <= 1e-2 && f->in_region < 256) f->region_trials[f->in_region++] = num;
    }
    fclose(p);
}

/* Runs cmd, returns its stdout (and stderr, when asked in cmd) and its exit status. */
static char *run(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
        n += got;
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return buf;
}

static void test_summary_agrees_with_trials_csv(void **st) {
    (void)st;
    csv_facts f;
    read_trials_csv(&f);
    assert_true(f.rows > 0);
    int status;
    char *out = run(TOOL STUDY "study.journal --json --top 3 --region lr=3e-3:1e-2", &status);
    assert_int_equal(status, 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    if (!o) fprintf(stderr, "not JSON: %s\n%s\n", je.text, out);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "direction")), "minimize");
    json_t *states = json_object_get(o, "states");
    assert_int_equal(json_integer_value(json_object_get(states, "COMPLETE")), f.complete);
    assert_int_equal(json_integer_value(json_object_get(states, "PRUNED")), f.pruned);
    json_t *w = json_object_get(o, "window");
    assert_int_equal(json_integer_value(json_object_get(w, "trials")), f.complete + f.pruned);
    assert_true(json_number_value(json_object_get(w, "per_hour")) > 0);
    json_t *best = json_object_get(o, "best");
    assert_int_equal(json_array_size(best), 3);
    json_t *b0 = json_array_get(best, 0);
    assert_int_equal(json_integer_value(json_object_get(b0, "trial")), f.best_trial);
    assert_int_equal(json_integer_value(json_object_get(b0, "rank")), 1);
    /* trials.csv keeps 6 digits */
    assert_true(fabs(json_number_value(json_object_get(b0, "score")) - f.best) < 1e-6);
    for (size_t i = 1; i < 3; i++)
        assert_true(json_number_value(json_object_get(json_array_get(best, i), "score")) >=
                    json_number_value(json_object_get(json_array_get(best, i - 1), "score")));
    json_t *rt = json_object_get(json_object_get(o, "region"), "trials");
    assert_int_equal(json_array_size(rt), f.in_region);
    for (int i = 0; i < f.in_region; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(rt, (size_t)i), "trial")), f.region_trials[i]);
    json_decref(o);
    free(out);
}

/* one line on stderr naming the problem, status 1, nothing on stdout, no traceback */
static void refused(const char *args, const char *want) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, TOOL "%s 2>&1", args);
    int status;
    char *out = run(cmd, &status);
    if (status != 1 || !strstr(out, want) || strstr(out, "Traceback") || strchr(out, '\n') != out + strlen(out) - 1)
        fprintf(stderr, "%s:\n%s(status %d)\n", cmd, out, status);
    assert_int_equal(status, 1);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "Traceback"));
    assert_true(strchr(out, '\n') == out + strlen(out) - 1);
    free(out);
}

static void test_summary_refusals(void **st) {
    (void)st;
    char dir[] = "/tmp/coinbc_studysum_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char bad[256], args[512];
    snprintf(bad, sizeof bad, "%s/damaged.journal", dir);
    FILE *p = fopen(bad, "w");
    assert_non_null(p);
    /* damage in the middle (Optuna itself skips a torn last line, a writer's crash) */
    fputs("{\"op_code\": 0, \"worker_id\": \"x\", \"study_name\": \"s\", \"directions\": [1]}\nnot json at all\n"
          "{\"op_code\": 0, \"worker_id\": \"x\", \"study_name\": \"t\", \"directions\": [1]}\n",
          p);
    fclose(p);
    refused("/nonexistent_coinbc/study.journal", "not a readable Optuna journal");
    snprintf(args, sizeof args, "%s", bad);
    refused(args, "not a readable Optuna journal");
    refused(STUDY "study.journal --region lr=1", "is not NAME=LO:HI");
    refused(STUDY "study.journal --region lr=2:1", "is not NAME=LO:HI");
    refused(STUDY "study.journal --study nosuch", "has no study nosuch");
    refused(STUDY "study.journal --top -1", "must be 0 or more");
    remove(bad);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_agrees_with_trials_csv),
        cmocka_unit_test(test_summary_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

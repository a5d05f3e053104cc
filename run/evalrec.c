/* evalrec.c - eval.json of a run folder: offline accuracy on held-out levels
 * (and on the training levels, for the gap) and the confusion matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-eval"

static int put_set(json_t *o, const char *pre, const run_eval_set *s) {
    char k[64];
    int rc = 0;
#define PUT(suffix, val)                                                                                               \
    snprintf(k, sizeof k, "%s_" suffix, pre);                                                                          \
    rc |= json_object_set_new(o, k, val)
    PUT("levels", json_integer(s->levels));
    PUT("frames", json_integer(s->frames));
    PUT("acc", rj_real(s->acc));
    PUT("acc_merged", rj_real(s->acc_merged));
    PUT("loss", rj_real(s->loss));
    PUT("level_acc_mean", rj_real(s->level_acc_mean));
    PUT("level_acc_std", rj_real(s->level_acc_std));
#undef PUT
    return rc;
}

int run_eval_encode(run_text *out, const run_eval *v, cb_err *e) {
    json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "format", FORMAT, "version", RUN_VERSION, "checkpoint", v->checkpoint,
                          "data", v->data);
    int bad = !o || put_set(o, "test", &v->test);
    if (!bad && v->has_train) bad = put_set(o, "train", &v->train) || json_object_set_new(o, "gap", rj_real(v->gap));
    json_t *conf = json_array();
    for (int y = 0; conf && y < CB_NUM_ACTIONS; y++) {
        json_t *row = json_array();
        for (int p = 0; row && p < CB_NUM_ACTIONS; p++)
            if (json_array_append_new(row, json_integer(v->confusion[y][p]))) {
                json_decref(row);
                row = NULL;
            }
        if (!row || json_array_append_new(conf, row)) {
            json_decref(conf);
            conf = NULL;
        }
    }
    if (!conf || bad || json_object_set_new(o, "confusion", conf)) {
        json_decref(o);
        o = NULL;
    }
    return rj_dump(out, o, 2, "eval.json", e);
}

static int get_set(json_t *o, const char *name, const char *pre, run_eval_set *s, cb_err *e) {
    char k[64];
    int64_t v;
    int rc;
    snprintf(k, sizeof k, "%s_levels", pre);
    if ((rc = rj_int(o, name, k, 0, INT32_MAX, &v, e))) return rc;
    s->levels = (int)v;
    snprintf(k, sizeof k, "%s_frames", pre);
    if ((rc = rj_int(o, name, k, 0, INT64_MAX, &s->frames, e))) return rc;
    static const char *const suf[] = {"acc", "acc_merged", "loss", "level_acc_mean", "level_acc_std"};
    double *dst[] = {&s->acc, &s->acc_merged, &s->loss, &s->level_acc_mean, &s->level_acc_std};
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "%s_%s", pre, suf[i]);
        if ((rc = rj_num(o, name, k, 1, dst[i], e))) return rc;
    }
    return 0;
}

static const char *const KEYS[] = {"checkpoint", "data", "test_levels", "test_frames", "test_acc", "test_acc_merged",
                                   "test_loss", "test_level_acc_mean", "test_level_acc_std", "train_levels",
                                   "train_frames", "train_acc", "train_acc_merged", "train_loss", "train_level_acc_mean",
                                   "train_level_acc_std", "gap", "confusion", NULL};

static int decode(void *p, json_t *o, const char *name, cb_err *e) {
    run_eval *v = p;
    int rc;
    if ((rc = rj_header(o, name, FORMAT, &v->version, e)) || (rc = rj_only(o, name, KEYS, e)) ||
        (rc = rj_str(o, name, "checkpoint", v->checkpoint, sizeof v->checkpoint, e)) ||
        (rc = rj_str(o, name, "data", v->data, sizeof v->data, e)) || (rc = get_set(o, name, "test", &v->test, e)))
        return rc;
    v->has_train = json_object_get(o, "train_acc") != NULL;
    v->gap = NAN;
    if (v->has_train && ((rc = get_set(o, name, "train", &v->train, e)) || (rc = rj_num(o, name, "gap", 1, &v->gap, e))))
        return rc;
    if (!v->has_train && (json_object_get(o, "gap") || json_object_get(o, "train_levels")))
        return cb_fail(e, CB_EFORMAT, "%s: key \"train_acc\" is missing (it goes with \"gap\" and \"train_levels\")", name);
    json_t *c = json_object_get(o, "confusion");
    if (!c) return cb_fail(e, CB_EFORMAT, "%s: key \"confusion\" is missing", name);
    if (!json_is_array(c) || json_array_size(c) != CB_NUM_ACTIONS)
        return cb_fail(e, CB_EFORMAT, "%s: key \"confusion\": expected %d rows of %d counts", name, CB_NUM_ACTIONS, CB_NUM_ACTIONS);
    for (int y = 0; y < CB_NUM_ACTIONS; y++) {
        json_t *row = json_array_get(c, (size_t)y);
        if (!json_is_array(row) || json_array_size(row) != CB_NUM_ACTIONS)
            return cb_fail(e, CB_EFORMAT, "%s: key \"confusion\": row %d is not %d counts", name, y, CB_NUM_ACTIONS);
        for (int p = 0; p < CB_NUM_ACTIONS; p++) {
            json_t *x = json_array_get(row, (size_t)p);
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                return cb_fail(e, CB_EFORMAT, "%s: key \"confusion\": row %d column %d is not a count", name, y, p);
            v->confusion[y][p] = json_integer_value(x);
        }
    }
    return 0;
}

int run_eval_decode(run_eval *v, const char *text, size_t n, const char *name, cb_err *e) {
    return rj_decode(v, sizeof *v, decode, text, n, name, e);
}

int run_eval_write(const char *dir, const run_eval *v, cb_err *e) {
    run_text t = {0};
    return rj_write(dir, "eval.json", &t, run_eval_encode(&t, v, e), e);
}

int run_eval_read(run_eval *v, const char *dir, cb_err *e) { return run_eval_read_as(v, dir, "eval.json", e); }

int run_eval_read_as(run_eval *v, const char *dir, const char *file, cb_err *e) {
    return rj_read_record(v, sizeof *v, decode, dir, file, RUN_RECORD_MAX_BYTES, e);
}

/* retrained.c - DIR/top/M/trial-NNNN.retrained (docs/FORMATS.md): the one
 * JSON line `coinbc tune --retrain` prints for a trial it trained again. A
 * strict reader: exactly the four keys, of their types, and the trial the
 * file is named for. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "run/run.h"

int run_retrained_parse(run_retrained *r, const char *text, size_t n, int trial, const char *name, cb_err *e) {
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    json_t *t = json_object_get(o, "trial"), *x = json_object_get(o, "exact"), *d = json_object_get(o, "max_rel_diff"),
           *tol = json_object_get(o, "tolerance");
    int ok = json_is_object(o) && json_object_size(o) == 4 && json_is_integer(t) && json_integer_value(t) == trial &&
             (json_is_boolean(x) || json_is_null(x)) && (json_is_number(d) || json_is_null(d)) && json_is_number(tol);
    if (ok) {
        r->trial = trial;
        r->exact = json_is_null(x) ? -1 : json_is_true(x);
        r->max_rel_diff = json_is_number(d) ? json_number_value(d) : 0;
        r->tolerance = json_number_value(tol);
        ok = isfinite(r->max_rel_diff) && r->max_rel_diff >= 0 && isfinite(r->tolerance) && r->tolerance >= 0 &&
             (r->exact != 1 || r->max_rel_diff == 0);
    }
    json_decref(o);
    if (!ok)
        return cb_fail(e, CB_EFORMAT,
                       "%s: not the line coinbc tune --retrain prints for trial %d ({\"trial\", \"exact\", "
                       "\"max_rel_diff\", \"tolerance\"}); remove it and trial-%04d.json to evaluate the trial again",
                       name, trial, trial);
    return 0;
}

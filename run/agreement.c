/* agreement.c - agreement.json of a run folder: at a few steps of training
 * (the first, and the last of every epoch) a histogram per weight tensor of
 * |mean sign| of the step's level gradients, the agreement the AND-mask
 * thresholds. One writer, one strict reader. */
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-agreement"
#define MAX_SNAPS 1000000

void run_agreement_free(run_agreement *a) {
    free(a->snaps);
    a->snaps = NULL;
    a->nsnaps = a->cap = 0;
}

int run_agreement_add(run_agreement *a, const run_agreement_snap *s) {
    if (a->nsnaps == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        run_agreement_snap *n = realloc(a->snaps, sizeof *n * (size_t)cap);
        if (!n) return CB_ENOMEM;
        a->snaps = n;
        a->cap = cap;
    }
    a->snaps[a->nsnaps++] = *s;
    return 0;
}

int run_agreement_encode(run_text *out, const run_agreement *a, cb_err *e) {
    json_t *layers = json_array(), *snaps = json_array();
    int bad = !layers || !snaps;
    for (int k = 0; !bad && k < a->nlayers; k++) bad = json_array_append_new(layers, json_string(a->layer[k]));
    for (int i = 0; !bad && i < a->nsnaps; i++) {
        const run_agreement_snap *s = &a->snaps[i];
        json_t *counts = json_object();
        bad = !counts;
        for (int k = 0; !bad && k < a->nlayers; k++) {
            json_t *h = json_array();
            bad = !h;
            for (int b = 0; !bad && b < RUN_AGREE_BINS; b++) bad = json_array_append_new(h, json_integer(s->count[k][b]));
            if (bad || json_object_set_new(counts, a->layer[k], h)) bad = 1;
        }
        json_t *o = bad ? NULL : json_pack("{s:I, s:I, s:o}", "step", (json_int_t)s->step, "epoch", (json_int_t)s->epoch,
                                          "counts", counts);
        if (!o || json_array_append_new(snaps, o)) bad = 1;
    }
    json_t *o = bad ? NULL
                    : json_pack("{s:s, s:i, s:i, s:i, s:O, s:O}", "format", FORMAT, "version", RUN_VERSION, "bins",
                                RUN_AGREE_BINS, "levels", a->levels, "layers", layers, "snapshots", snaps);
    json_decref(layers);
    json_decref(snaps);
    return rj_dump(out, o, 0, "agreement.json", e);
}

/* a layer name as the model names its tensors: [A-Za-z0-9_.]{1,31} */
static int layer_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((run_agreement *)0)->layer[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static const char *const KEYS[] = {"bins", "levels", "layers", "snapshots", NULL};
static const char *const SNAP_KEYS[] = {"step", "epoch", "counts", NULL};

static int decode_fields(run_agreement *a, json_t *o, const char *name, int64_t max_snaps, cb_err *e) {
    int64_t v;
    int rc;
    if ((rc = rj_header(o, name, FORMAT, &a->version, e)) || (rc = rj_only(o, name, KEYS, e))) return rc;
    if ((rc = rj_int(o, name, "bins", RUN_AGREE_BINS, RUN_AGREE_BINS, &v, e))) return rc;
    if ((rc = rj_int(o, name, "levels", 1, 4096, &v, e))) return rc;
    a->levels = (int)v;
    json_t *ls = json_object_get(o, "layers");
    if (!ls) return cb_fail(e, CB_EFORMAT, "%s: key \"layers\" is missing", name);
    if (!json_is_array(ls) || json_array_size(ls) < 1 || json_array_size(ls) > RUN_MAX_LAYERS)
        return cb_fail(e, CB_EFORMAT, "%s: key \"layers\": expected an array of 1 to %d layer names", name, RUN_MAX_LAYERS);
    a->nlayers = (int)json_array_size(ls);
    for (int k = 0; k < a->nlayers; k++) {
        json_t *s = json_array_get(ls, (size_t)k);
        if (!json_is_string(s) || !layer_ok(json_string_value(s)))
            return cb_fail(e, CB_EFORMAT, "%s: key \"layers\": entry %d is not a layer name ([A-Za-z0-9_.], 1 to 31 "
                           "characters)", name, k);
        snprintf(a->layer[k], sizeof a->layer[k], "%s", json_string_value(s));
        for (int j = 0; j < k; j++)
            if (!strcmp(a->layer[j], a->layer[k]))
                return cb_fail(e, CB_EFORMAT, "%s: key \"layers\": \"%s\" is named twice", name, a->layer[k]);
    }
    json_t *ss = json_object_get(o, "snapshots");
    if (!ss) return cb_fail(e, CB_EFORMAT, "%s: key \"snapshots\" is missing", name);
    if (!json_is_array(ss) || (int64_t)json_array_size(ss) > max_snaps)
        return cb_fail(e, CB_EFORMAT, "%s: key \"snapshots\": expected an array (of at most %lld%s)", name,
                       (long long)max_snaps, max_snaps < MAX_SNAPS ? ", the run's epochs + 1" : "");
    for (size_t i = 0; i < json_array_size(ss); i++) {
        json_t *so = json_array_get(ss, i);
        char where[4200];
        snprintf(where, sizeof where, "%s: snapshot %zu", name, i);
        if (!json_is_object(so)) return cb_fail(e, CB_EFORMAT, "%s: not an object", where);
        run_agreement_snap s;
        memset(&s, 0, sizeof s);
        if ((rc = rj_only(so, where, SNAP_KEYS, e)) || (rc = rj_int(so, where, "step", 1, INT64_MAX, &s.step, e)) ||
            (rc = rj_int(so, where, "epoch", 0, INT64_MAX, &s.epoch, e)))
            return rc;
        if (s.epoch > s.step) return cb_fail(e, CB_EFORMAT, "%s: epoch %lld is after step %lld", where, (long long)s.epoch,
                                             (long long)s.step);
        if (a->nsnaps && s.step <= a->snaps[a->nsnaps - 1].step)
            return cb_fail(e, CB_EFORMAT, "%s: step %lld does not follow step %lld", where, (long long)s.step,
                           (long long)a->snaps[a->nsnaps - 1].step);
        json_t *c = json_object_get(so, "counts");
        if (!c) return cb_fail(e, CB_EFORMAT, "%s: key \"counts\" is missing", where);
        if (!json_is_object(c) || json_object_size(c) != (size_t)a->nlayers)
            return cb_fail(e, CB_EFORMAT, "%s: key \"counts\": expected an object with the %d layers", where, a->nlayers);
        for (int k = 0; k < a->nlayers; k++) {
            json_t *h = json_object_get(c, a->layer[k]);
            if (!h) return cb_fail(e, CB_EFORMAT, "%s: key \"counts\": layer \"%s\" is missing", where, a->layer[k]);
            if (!json_is_array(h) || json_array_size(h) != RUN_AGREE_BINS)
                return cb_fail(e, CB_EFORMAT, "%s: layer \"%s\": expected %d counts", where, a->layer[k], RUN_AGREE_BINS);
            for (int b = 0; b < RUN_AGREE_BINS; b++) {
                json_t *x = json_array_get(h, (size_t)b);
                if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > ((json_int_t)1 << 40))
                    return cb_fail(e, CB_EFORMAT, "%s: layer \"%s\": count %d is not an integer 0..2^40", where,
                                   a->layer[k], b);
                s.count[k][b] = (int64_t)json_integer_value(x);
            }
        }
        if (run_agreement_add(a, &s)) return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    }
    return 0;
}

/* the fields, and on an error what they had allocated freed */
static int decode_max(run_agreement *a, json_t *o, const char *name, int64_t max_snaps, cb_err *e) {
    int rc = decode_fields(a, o, name, max_snaps, e);
    if (rc) run_agreement_free(a);
    return rc;
}

static int decode(void *p, json_t *o, const char *name, cb_err *e) { return decode_max(p, o, name, MAX_SNAPS, e); }

int run_agreement_decode(run_agreement *a, const char *text, size_t n, const char *name, cb_err *e) {
    return rj_decode(a, sizeof *a, decode, text, n, name, e);
}

/* at most the run's epochs + 1 snapshots (its first step and the last of
 * every epoch), so at most that many snapshots' bytes are read */
int run_agreement_read(run_agreement *a, const char *dir, cb_err *e) {
    memset(a, 0, sizeof *a);
    int64_t epochs;
    int rc = rj_epochs(dir, &epochs, e);
    if (rc) return rc;
    int64_t snaps = epochs < MAX_SNAPS ? epochs + 1 : MAX_SNAPS;
    char path[4200], *text;
    size_t n;
    if ((rc = rj_read(dir, "agreement.json", rj_cap(snaps + 1, RUN_AGREE_SNAP_MAX_BYTES), path, sizeof path, &text, &n,
                      e)))
        return rc;
    json_t *o = rj_load(text, n, path, e);
    free(text);
    if (!o) return CB_EFORMAT;
    rc = decode_max(a, o, path, snaps, e);
    json_decref(o);
    return rc;
}

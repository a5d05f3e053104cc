/* compare.c - the comparison's records: the spec a user writes
 * (docs/experiments/NAME.json, read strictly: unknown keys, wrong types, ranges
 * and duplicate method names are refused, naming the file and key) and the
 * state file DIR/compare.json, which ties a comparison folder to one spec and
 * to the manifest CRCs of its datasets (docs/FORMATS.md). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define SPEC_FORMAT "coinbc-compare-spec"
#define STATE_FORMAT "coinbc-compare-state"
#define SPEC_MAX ((size_t)1 << 20)

static const char *const DATA_NAMES[3] = {"train", "val", "test"};

static int parse_range_key(json_t *o, const char *name, const char *key, int32_t *lo, int32_t *hi, cb_err *e) {
    char s[64];
    int rc = rj_str(o, name, key, s, sizeof s, e);
    if (rc) return rc;
    if (cb_parse_range(s, lo, hi))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is \"%s\", expected level seeds A-B (0 <= A <= B < 2^31)", name, key,
                       s);
    return 0;
}

static int seed_list(json_t *o, const char *name, const char *key, int64_t *out, int *n, int max, cb_err *e) {
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > (size_t)max)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" must be a list of 1 to %d seeds", name, key, max);
    *n = (int)json_array_size(a);
    for (int i = 0; i < *n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": item %d is not a seed (an integer in 0..2^31-1)", name, key, i);
        out[i] = json_integer_value(v);
        for (int j = 0; j < i; j++)
            if (out[j] == out[i])
                return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": seed %lld is listed twice", name, key, (long long)out[i]);
    }
    return 0;
}

static int decode_data(run_compare_data *d, json_t *o, const char *name, const char *which, cb_err *e) {
    char nm[600];
    snprintf(nm, sizeof nm, "%s: data.%s", name, which);
    if (!json_is_object(o)) return cb_fail(e, CB_EFORMAT, "%s: expected an object", nm);
    int rc;
    if (json_object_get(o, "path")) {
        static const char *const K[] = {"path", NULL};
        if ((rc = rj_only(o, nm, K, e))) return rc;
        d->is_path = 1;
        return rj_str(o, nm, "path", d->path, sizeof d->path, e);
    }
    static const char *const K[] = {"levels", "states", "noise", "seed", NULL};
    if ((rc = rj_only(o, nm, K, e))) return rc;
    int64_t v;
    if ((rc = parse_range_key(o, nm, "levels", &d->lo, &d->hi, e))) return rc;
    if ((rc = rj_int(o, nm, "states", 1, 1000000, &v, e))) return rc;
    d->states = (int32_t)v;
    if ((rc = rj_num(o, nm, "noise", 0, &d->noise, e))) return rc;
    if (!(d->noise >= 0 && d->noise <= 1)) return cb_fail(e, CB_EFORMAT, "%s: key \"noise\" must be in [0, 1]", nm);
    if ((rc = rj_int(o, nm, "seed", 0, INT64_MAX, &v, e))) return rc;
    d->seed = v;
    return 0;
}

/* key: a list of "--option", "value" pairs (argv words), at most max words */
static int option_words(json_t *o, const char *name, const char *key, char (*out)[256], int *n, int max, cb_err *e) {
    json_t *to = json_object_get(o, key);
    *n = 0;
    if (!to) return 0;
    if (!json_is_array(to) || json_array_size(to) > (size_t)max || json_array_size(to) % 2)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" must be a list of \"--option\", \"value\" pairs (at most %d words)",
                       name, key, max);
    *n = (int)json_array_size(to);
    for (int i = 0; i < *n; i++) {
        json_t *w = json_array_get(to, (size_t)i);
        const char *t = json_string_value(w);
        if (!t || json_string_length(w) >= 256 || strlen(t) != json_string_length(w) || !*t)
            return cb_fail(e, CB_EFORMAT, "%s: %s[%d] must be a short string", name, key, i);
        if ((i % 2 == 0) != (strncmp(t, "--", 2) == 0))
            return cb_fail(e, CB_EFORMAT, "%s: %s[%d] \"%s\": expected %s", name, key, i, t,
                           i % 2 == 0 ? "an --option" : "its value");
        snprintf(out[i], 256, "%s", t);
    }
    return 0;
}

static int decode_method(run_compare_method *m, json_t *o, const char *name, int i, cb_err *e) {
    char nm[600];
    snprintf(nm, sizeof nm, "%s: methods[%d]", name, i);
    if (!json_is_object(o)) return cb_fail(e, CB_EFORMAT, "%s: expected an object", nm);
    static const char *const K[] = {"name", "tune", "config", "train_options", NULL};
    int rc = rj_only(o, nm, K, e);
    if (!rc) rc = rj_str(o, nm, "name", m->name, sizeof m->name, e);
    if (!rc) rc = option_words(o, nm, "train_options", m->opts, &m->nopts, RUN_COMPARE_MAX_MWORDS, e);
    if (rc) return rc;
    if (!m->name[0] || strspn(m->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(m->name))
        return cb_fail(e, CB_EFORMAT, "%s: name \"%s\": use lower-case letters, digits and _ (it names folders)", nm,
                       m->name);
    json_t *t = json_object_get(o, "tune"), *c = json_object_get(o, "config");
    if (!!t == !!c) return cb_fail(e, CB_EFORMAT, "%s (%s): give exactly one of \"tune\" and \"config\"", nm, m->name);
    if (t) {
        char tn[700];
        snprintf(tn, sizeof tn, "%s.tune", nm);
        if (!json_is_object(t)) return cb_fail(e, CB_EFORMAT, "%s: expected an object", tn);
        static const char *const TK[] = {"trials", "seed", "jobs", "space", "objective", "top", NULL};
        if ((rc = rj_only(t, tn, TK, e))) return rc;
        int method;
        if (run_method_parse(m->name, &method))
            return cb_fail(e, CB_EFORMAT, "%s: a tuned method's name is the coinbc train method; \"%s\" is not one", nm,
                           m->name);
        m->tuned = 1;
        int64_t v;
        if ((rc = rj_int(t, tn, "trials", 1, 1000000, &v, e))) return rc;
        m->trials = (int)v;
        if ((rc = rj_int(t, tn, "seed", 0, INT32_MAX, &v, e))) return rc;
        m->tune_seed = v;
        m->jobs = 1;
        if (json_object_get(t, "jobs")) {
            if ((rc = rj_int(t, tn, "jobs", 1, 64, &v, e))) return rc;
            m->jobs = (int)v;
        }
        if (json_object_get(t, "space") && (rc = rj_str(t, tn, "space", m->space, sizeof m->space, e))) return rc;
        if (json_object_get(t, "objective")) {
            char obj[16];
            if ((rc = rj_str(t, tn, "objective", obj, sizeof obj, e))) return rc;
            if (strcmp(obj, "val_acc") && strcmp(obj, "val_loss"))
                return cb_fail(e, CB_EFORMAT, "%s: key \"objective\" is \"%s\", expected val_acc or val_loss", tn, obj);
            m->loss_objective = !strcmp(obj, "val_loss");
        }
        if (json_object_get(t, "top")) {
            if ((rc = rj_int(t, tn, "top", 1, 1000, &v, e))) return rc;
            if (v > m->trials)
                return cb_fail(e, CB_EFORMAT, "%s: key \"top\" is %lld, more than the study's %d trials", tn,
                               (long long)v, m->trials);
            m->top = (int)v;
        }
        return 0;
    }
    if (!json_is_object(c)) return cb_fail(e, CB_EFORMAT, "%s.config: expected an object of coinbc train options", nm);
    json_t *meth = json_object_get(c, "method");
    int method;
    if (!json_is_string(meth) || run_method_parse(json_string_value(meth), &method))
        return cb_fail(e, CB_EFORMAT, "%s.config: key \"method\" must name a coinbc train method", nm);
    char *text = json_dumps(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) return cb_fail(e, CB_ENOMEM, "%s: out of memory", nm);
    size_t n = strlen(text);
    if (n + 2 > sizeof m->config) {
        free(text);
        return cb_fail(e, CB_EFORMAT, "%s.config: too long (at most %zu bytes)", nm, sizeof m->config - 2);
    }
    memcpy(m->config, text, n);
    m->config[n] = '\n';
    m->config[n + 1] = 0;
    free(text);
    return 0;
}

/* "probe": null or {levels ("A-B" or "auto"), relabel_seed, seeds} */
static int decode_probe(run_compare_spec *s, json_t *p, const char *name, cb_err *e) {
    if (!p || json_is_null(p)) return 0;
    int rc;
    int64_t v;
    char pn[600];
    snprintf(pn, sizeof pn, "%s: probe", name);
    if (!json_is_object(p)) return cb_fail(e, CB_EFORMAT, "%s: expected an object or null", pn);
    static const char *const PK[] = {"levels", "relabel_seed", "seeds", NULL};
    if ((rc = rj_only(p, pn, PK, e))) return rc;
    s->probe = 1;
    json_t *lv = json_object_get(p, "levels");
    if (json_is_string(lv) && !strcmp(json_string_value(lv), "auto")) s->probe_auto = 1;
    else if ((rc = parse_range_key(p, pn, "levels", &s->probe_lo, &s->probe_hi, e))) return rc;
    if (!s->probe_auto && !s->data[0].is_path &&
        (s->probe_lo < s->data[0].lo || s->probe_hi >= s->data[0].hi))
        return cb_fail(e, CB_EFORMAT,
                       "%s: levels %d-%d must be training levels (%d-%d), leaving at least one with its true labels",
                       pn, s->probe_lo, s->probe_hi, s->data[0].lo, s->data[0].hi);
    if ((rc = rj_int(p, pn, "relabel_seed", 0, INT64_MAX, &v, e))) return rc;
    s->relabel_seed = v;
    if ((rc = seed_list(p, pn, "seeds", s->probe_seeds, &s->nprobe_seeds, RUN_COMPARE_MAX_SEEDS, e))) return rc;
    return 0;
}

/* "appearance": null or {levels, states, donors, seed}, levels none a recorded training level */
static int decode_appearance(run_compare_spec *s, json_t *ap, const char *name, cb_err *e) {
    if (!ap || json_is_null(ap)) return 0;
    int rc;
    int64_t v;
    char an[600];
    snprintf(an, sizeof an, "%s: appearance", name);
    if (!json_is_object(ap)) return cb_fail(e, CB_EFORMAT, "%s: expected an object or null", an);
    static const char *const AK[] = {"levels", "states", "donors", "seed", NULL};
    if ((rc = rj_only(ap, an, AK, e))) return rc;
    if ((rc = parse_range_key(ap, an, "levels", &s->app_lo, &s->app_hi, e))) return rc;
    if ((rc = rj_int(ap, an, "states", 1, 100000, &v, e))) return rc;
    s->app_states = (int32_t)v;
    if ((rc = rj_int(ap, an, "donors", 1, 16, &v, e))) return rc;
    s->app_donors = (int32_t)v;
    if ((rc = rj_int(ap, an, "seed", 0, INT64_MAX, &v, e))) return rc;
    s->app_seed = v;
    if (!s->data[0].is_path && s->app_lo <= s->data[0].hi && s->data[0].lo <= s->app_hi)
        return cb_fail(e, CB_EFORMAT, "%s: levels %d-%d share seeds with the training levels %d-%d", an, s->app_lo,
                       s->app_hi, s->data[0].lo, s->data[0].hi);
    s->appearance = 1;
    return 0;
}

static int decode_spec(void *vs, json_t *o, const char *name, cb_err *e) {
    run_compare_spec *s = vs;
    int ver, rc = rj_header(o, name, SPEC_FORMAT, &ver, e);
    if (rc) return rc;
    if (!json_object_get(o, "format"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"format\" must be \"%s\"", name, SPEC_FORMAT);
    static const char *const K[] = {"name", "mode", "data", "train_options", "epochs", "methods", "seeds", "probe",
                                    "rollout", "base", "tuned", "appearance", "loss", NULL};
    if ((rc = rj_only(o, name, K, e))) return rc;
    if ((rc = rj_str(o, name, "name", s->name, sizeof s->name, e))) return rc;
    if (!s->name[0] || strspn(s->name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s->name))
        return cb_fail(e, CB_EFORMAT, "%s: name \"%s\": use lower-case letters, digits, - and _", name, s->name);
    char mode[16];
    if ((rc = rj_str(o, name, "mode", mode, sizeof mode, e))) return rc;
    if (strcmp(mode, "easy") && strcmp(mode, "hard"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"mode\" is \"%s\", expected easy or hard", name, mode);
    s->hard = !strcmp(mode, "hard");
    json_t *d = json_object_get(o, "data");
    if (!json_is_object(d)) return cb_fail(e, CB_EFORMAT, "%s: key \"data\" must be an object {train, val, test}", name);
    static const char *const DK[] = {"train", "val", "test", NULL};
    char dn[600];
    snprintf(dn, sizeof dn, "%s: data", name);
    if ((rc = rj_only(d, dn, DK, e))) return rc;
    for (int k = 0; k < 3; k++) {
        json_t *x = json_object_get(d, DATA_NAMES[k]);
        if (!x) return cb_fail(e, CB_EFORMAT, "%s: data.%s is missing", name, DATA_NAMES[k]);
        if ((rc = decode_data(&s->data[k], x, name, DATA_NAMES[k], e))) return rc;
    }
    if (s->data[0].is_path != s->data[1].is_path || s->data[0].is_path != s->data[2].is_path)
        return cb_fail(e, CB_EFORMAT, "%s: data: either all three are recorded (levels) or all three are paths", name);
    if (!s->data[0].is_path)
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (s->data[a].lo <= s->data[b].hi && s->data[b].lo <= s->data[a].hi)
                    return cb_fail(e, CB_EFORMAT, "%s: data.%s and data.%s share level seeds (%d-%d and %d-%d)", name,
                                   DATA_NAMES[a], DATA_NAMES[b], s->data[a].lo, s->data[a].hi, s->data[b].lo,
                                   s->data[b].hi);
    if ((rc = option_words(o, name, "train_options", s->fixed, &s->nfixed, RUN_COMPARE_MAX_WORDS, e))) return rc;
    int64_t v;
    if ((rc = rj_int(o, name, "epochs", 1, 100000, &v, e))) return rc;
    s->epochs = (int)v;
    json_t *ms = json_object_get(o, "methods");
    if (!json_is_array(ms) || json_array_size(ms) == 0 || json_array_size(ms) > RUN_COMPARE_MAX_METHODS)
        return cb_fail(e, CB_EFORMAT, "%s: key \"methods\" must be a list of 1 to %d methods", name,
                       RUN_COMPARE_MAX_METHODS);
    s->nmethods = (int)json_array_size(ms);
    for (int i = 0; i < s->nmethods; i++) {
        if ((rc = decode_method(&s->m[i], json_array_get(ms, (size_t)i), name, i, e))) return rc;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->m[j].name, s->m[i].name))
                return cb_fail(e, CB_EFORMAT, "%s: method \"%s\" is listed twice", name, s->m[i].name);
    }
    if ((rc = seed_list(o, name, "seeds", s->seeds, &s->nseeds, RUN_COMPARE_MAX_SEEDS, e))) return rc;
    if ((rc = decode_probe(s, json_object_get(o, "probe"), name, e))) return rc;
    json_t *r = json_object_get(o, "rollout");
    if (r && !json_is_null(r)) {
        if ((rc = parse_range_key(o, name, "rollout", &s->roll_lo, &s->roll_hi, e))) return rc;
        s->rollout = 1;
    }
    if ((rc = decode_appearance(s, json_object_get(o, "appearance"), name, e))) return rc;
    json_t *lo = json_object_get(o, "loss");
    if (lo && !json_is_boolean(lo)) return cb_fail(e, CB_EFORMAT, "%s: key \"loss\" must be true or false", name);
    s->loss = lo && json_is_true(lo);
    if ((rc = rj_str(o, name, "base", s->base, sizeof s->base, e))) return rc;
    int found = 0;
    for (int i = 0; i < s->nmethods; i++) found |= !strcmp(s->m[i].name, s->base);
    if (!found) return cb_fail(e, CB_EFORMAT, "%s: base \"%s\" is not one of the methods", name, s->base);
    json_t *tu = json_object_get(o, "tuned");
    if (tu && !json_is_null(tu) && (rc = rj_str(o, name, "tuned", s->tuned, sizeof s->tuned, e))) return rc;
    /* the canonical text: what compare.json records and compares */
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!text) return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    s->canonical = text;
    return 0;
}

int run_compare_spec_decode(run_compare_spec *s, const char *text, size_t n, const char *name, cb_err *e) {
    int rc = rj_decode(s, sizeof *s, decode_spec, text, n, name, e);
    if (rc) run_compare_spec_free(s);
    return rc;
}

int run_compare_spec_read(run_compare_spec *s, const char *path, cb_err *e) {
    memset(s, 0, sizeof *s);
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, SPEC_MAX, &buf, &n, e);
    if (rc) return rc;
    rc = run_compare_spec_decode(s, (const char *)buf, n, path, e);
    free(buf);
    return rc;
}

void run_compare_spec_free(run_compare_spec *s) {
    free(s->canonical);
    s->canonical = NULL;
}

/* ---- DIR/compare.json ---- */

static const char *const CRC_NAMES[RUN_COMPARE_NDATA] = {"train", "val", "test", "relabeled"};

int run_compare_state_write(const char *dir, const run_compare_state *st, cb_err *e) {
    json_t *spec = st->spec ? json_loads(st->spec, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *crcs = json_object();
    for (int k = 0; k < RUN_COMPARE_NDATA && crcs; k++) {
        char c[16];
        snprintf(c, sizeof c, "%08x", st->crc[k]);
        json_object_set_new(crcs, CRC_NAMES[k], st->has_crc[k] ? json_string(c) : json_null());
    }
    json_t *o = spec && crcs ? json_pack("{s:s, s:i, s:O, s:O}", "format", STATE_FORMAT, "version", RUN_VERSION, "spec",
                                         spec, "datasets", crcs)
                             : NULL;
    json_decref(spec);
    json_decref(crcs);
    run_text t = {0};
    int rc = rj_dump(&t, o, 2, "compare.json", e);
    return rj_write(dir, "compare.json", &t, rc, e);
}

static int decode_state(void *vs, json_t *o, const char *name, cb_err *e) {
    run_compare_state *st = vs;
    int ver, rc = rj_header(o, name, STATE_FORMAT, &ver, e);
    if (rc) return rc;
    static const char *const K[] = {"spec", "datasets", NULL};
    if ((rc = rj_only(o, name, K, e))) return rc;
    json_t *spec = json_object_get(o, "spec"), *d = json_object_get(o, "datasets");
    if (!json_is_object(spec)) return cb_fail(e, CB_EFORMAT, "%s: key \"spec\" must be the spec's object", name);
    if (!json_is_object(d)) return cb_fail(e, CB_EFORMAT, "%s: key \"datasets\" must be an object", name);
    static const char *const DK[] = {"train", "val", "test", "relabeled", NULL};
    char dn[600];
    snprintf(dn, sizeof dn, "%s: datasets", name);
    if ((rc = rj_only(d, dn, DK, e))) return rc;
    for (int k = 0; k < RUN_COMPARE_NDATA; k++) {
        json_t *v = json_object_get(d, CRC_NAMES[k]);
        if (!v || json_is_null(v)) continue;
        const char *c = json_string_value(v);
        if (!c || cb_parse_hex32_exact(c, json_string_length(v), &st->crc[k]))
            return cb_fail(e, CB_EFORMAT, "%s: datasets.%s must be 8 lower-case hex digits or null", name, CRC_NAMES[k]);
        st->has_crc[k] = 1;
    }
    st->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!st->spec) return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    return 0;
}

int run_compare_state_read(run_compare_state *st, const char *dir, cb_err *e) {
    int rc = rj_read_record(st, sizeof *st, decode_state, dir, "compare.json", RUN_RECORD_MAX_BYTES, e);
    if (rc) run_compare_state_free(st);
    return rc;
}

void run_compare_state_free(run_compare_state *st) {
    free(st->spec);
    st->spec = NULL;
}

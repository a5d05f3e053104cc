/* tune.c - the tune folder's records (run/run.h, "tune records"): the search
 * space file, the spec coinbc tune hands tools/tune.py (DIR/tune.json), the
 * driver's study result, DIR/trials.csv and DIR/best.json. JSON goes through
 * jansson; every reader is strict (unknown keys, wrong types and versions are
 * errors naming the file). tools/tune.py checks spaces by the same rules. */
#include "run/run.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The train options tune may pass are the schema's (run/config.c) with tune
 * RUN_TUNE_FIXED or RUN_TUNE_SEARCH: their ranges, words and methods are the
 * schema's, the same train checks. */
static const run_option_range *opt_find(const char *name) {
    const run_option_range *r = run_option_named(name);
    return r && r->tune != RUN_TUNE_NO ? r : NULL;
}

/* 1 number, 2 word (a word option, or channels' A,B,C) */
static int opt_kind(const run_option_range *r) {
    return (r->type == RUN_OPT_INT || r->type == RUN_OPT_REAL) && r->count == 1 ? 1 : 2;
}

/* the methods an option applies to, "and sand" (NULL: every method) */
static const char *only_text(char *buf, size_t n, const run_option_range *r) {
    unsigned m = run_option_methods(r);
    if (m == RUN_ALL_METHODS) return NULL;
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < RUN_NMETHODS && k < n; i++)
        if (m & (1u << i)) k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? " " : "", run_method_name(i));
    return buf;
}

const char *run_tune_objective_name(int objective) {
    return objective == RUN_TUNE_VAL_ACC ? "val_acc" : objective == RUN_TUNE_VAL_LOSS ? "val_loss" : "?";
}

int run_tune_objective_parse(const char *s, int *objective) {
    if (!strcmp(s, "val_acc")) *objective = RUN_TUNE_VAL_ACC;
    else if (!strcmp(s, "val_loss")) *objective = RUN_TUNE_VAL_LOSS;
    else return CB_EARG;
    return 0;
}

int run_tune_option_kind(const char *name) {
    const run_option_range *o = opt_find(name);
    return o ? opt_kind(o) : 0;
}

/* "a b c" of a word option */
static void words_of(char *buf, size_t n, const run_option_range *o) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; o->words[i] && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? " " : "", o->words[i]);
}

static int in_range(const run_option_range *o, double v) {
    if (!isfinite(v)) return 0;
    if (o->integer) return v == floor(v) && v >= (double)o->ilo && v <= (double)o->ihi;
    return (o->lo_open ? v > o->lo : v >= o->lo) && (o->hi_open ? v < o->hi : v <= o->hi);
}

int run_tune_check_value(const char *name, const run_tune_value *v, cb_err *e) {
    const run_option_range *o = opt_find(name);
    if (!o) return cb_fail(e, CB_EARG, "unknown parameter '%s'", name);
    char ws[128], rg[64];
    if (opt_kind(o) == 2) {
        if (o->type == RUN_OPT_WORD) {
            words_of(ws, sizeof ws, o);
            if (!v->is_str) return cb_fail(e, CB_EARG, "%s: %g is not a word (%s)", name, v->num, ws);
            if (run_option_word(o, v->str) < 0) return cb_fail(e, CB_EARG, "%s: '%s' is not one of: %s", name, v->str, ws);
            return 0;
        }
        /* channels: A,B,C (the schema's count of them, one per stage), each in its range */
        run_option_range_text(rg, sizeof rg, o);
        const char *p = v->is_str ? v->str : NULL;
        for (int k = 0; p && k < o->count; k++) {
            char *end;
            long x = strtol(p, &end, 10);
            p = end == p || *end != (k + 1 < o->count ? ',' : '\0') || !in_range(o, (double)x) ? NULL : end + 1;
        }
        if (!p) return cb_fail(e, CB_EARG, "%s: '%s' is not A,B,C (each in %s)", name, v->is_str ? v->str : "", rg);
        return 0;
    }
    if (v->is_str) return cb_fail(e, CB_EARG, "%s: '%s' is not a number", name, v->str);
    if (!in_range(o, v->num)) {
        run_option_range_text(rg, sizeof rg, o);
        return cb_fail(e, CB_EARG, "%s: %g is outside its allowed values (%s%s)", name, v->num,
                       o->integer ? "integers " : "", rg);
    }
    return 0;
}

static int method_ok(const char *m) {
    int k;
    return run_method_parse(m, &k) == 0;
}

int run_tune_space_find(const run_tune_space *s, const char *name) {
    for (int i = 0; i < s->nparams; i++)
        if (!strcmp(s->p[i].name, name)) return i;
    return -1;
}

int run_tune_space_check(const run_tune_space *s, const char *method, cb_err *e) {
    if (!method_ok(method)) return cb_fail(e, CB_EARG, "unknown method '%s' (%s)", method, run_method_list());
    if (s->nparams == 0) return cb_fail(e, CB_EARG, "the space of method %s is empty", method);
    for (int i = 0; i < s->nparams; i++) {
        const run_tune_param *p = &s->p[i];
        const run_option_range *o = opt_find(p->name);
        if (!o || o->tune != RUN_TUNE_SEARCH) return cb_fail(e, CB_EARG, "unknown parameter '%s' in the space", p->name);
        char only[128];
        for (int j = 0; j < i; j++)
            if (!strcmp(s->p[j].name, p->name)) return cb_fail(e, CB_EARG, "%s is given twice", p->name);
        int mid;
        if (run_method_parse(method, &mid) == 0 && !(run_option_methods(o) & (1u << mid)))
            return cb_fail(e, CB_EARG, "%s does not apply to method %s (only to: %s)", p->name, method,
                           only_text(only, sizeof only, o));
        if (p->kind == RUN_TUNE_CHOICE) {
            if (p->nchoice <= 0) return cb_fail(e, CB_EARG, "%s: empty choice", p->name);
            for (int k = 0; k < p->nchoice; k++)
                if (run_tune_check_value(p->name, &p->choice[k], e)) return cb_err_prefix(e, "space: ");
            continue;
        }
        if (opt_kind(o) != 1) return cb_fail(e, CB_EARG, "%s takes words: give a choice, not a range", p->name);
        if ((p->kind == RUN_TUNE_INT) != o->integer)
            return cb_fail(e, CB_EARG, "%s: %s", p->name,
                           o->integer ? "an integer option wants \"int\" or \"choice\"" : "\"int\" fits integer options only");
        run_tune_value lo = {0, p->lo, ""}, hi = {0, p->hi, ""};
        if (!(p->lo < p->hi)) return cb_fail(e, CB_EARG, "%s: empty range [%g, %g]", p->name, p->lo, p->hi);
        if (p->kind == RUN_TUNE_LOG && p->lo <= 0)
            return cb_fail(e, CB_EARG, "%s: log range [%g, %g] is not positive", p->name, p->lo, p->hi);
        if (run_tune_check_value(p->name, &lo, e) || run_tune_check_value(p->name, &hi, e))
            return cb_err_prefix(e, "space: ");
        if (p->or_zero) {
            run_tune_value z = {0, 0, ""};
            if (p->kind == RUN_TUNE_INT || run_tune_check_value(p->name, &z, e))
                return cb_fail(e, CB_EARG, "%s: or_zero does not fit this parameter", p->name);
        }
    }
    return 0;
}

/* ---- JSON helpers -------------------------------------------------------- */

static int value_from_json(run_tune_value *v, const json_t *j) {
    memset(v, 0, sizeof *v);
    if (json_is_string(j)) {
        if (json_string_length(j) >= sizeof v->str) return -1;
        v->is_str = 1;
        snprintf(v->str, sizeof v->str, "%s", json_string_value(j));
        return 0;
    }
    if (json_is_number(j)) {
        v->num = json_number_value(j);
        return 0;
    }
    return -1;
}

static json_t *value_to_json(const run_tune_value *v) {
    if (v->is_str) return json_string(v->str);
    if (v->num == floor(v->num) && fabs(v->num) < 9e15) return json_integer((json_int_t)v->num);
    return json_real(v->num);
}

/* a regular file of at most RUN_TUNE_JSON_MAX_BYTES (a FIFO, a device or a
 * larger file is refused unread, naming it) */
static int load_json(json_t **out, const char *path, cb_err *e) {
    *out = NULL;
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, RUN_TUNE_JSON_MAX_BYTES, &buf, &n, e);
    if (rc) return rc;
    json_error_t je;
    *out = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!*out) return cb_fail(e, CB_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    return 0;
}

/* fails on a key of o that is not in the NULL-terminated list keys */
static int only_keys(const json_t *o, const char *const *keys, const char *where, cb_err *e) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        int ok = 0;
        for (int i = 0; keys[i]; i++) ok |= !strcmp(keys[i], k);
        if (!ok) return cb_fail(e, CB_EFORMAT, "%s: unknown key '%s'", where, k);
    }
    return 0;
}

static int param_from_json(run_tune_param *p, const char *name, const json_t *j, const char *path, cb_err *e) {
    memset(p, 0, sizeof *p);
    if (strlen(name) >= sizeof p->name) return cb_fail(e, CB_EARG, "%s: unknown parameter '%.40s...'", path, name);
    snprintf(p->name, sizeof p->name, "%s", name);
    if (!json_is_object(j)) return cb_fail(e, CB_EFORMAT, "%s: %s: want an object like {\"log\": [1e-4, 3e-3]}", path, name);
    static const char *const keys[] = {"name", "log", "uniform", "int", "choice", "or_zero", NULL};
    char where[4200];
    snprintf(where, sizeof where, "%s: %s", path, name);
    if (only_keys(j, keys, where, e)) return e ? e->code : CB_EFORMAT;
    static const char *const kinds[] = {"log", "uniform", "int", "choice"};
    int nk = 0;
    for (int k = 0; k < 4; k++) {
        json_t *r = json_object_get(j, kinds[k]);
        if (!r) continue;
        nk++;
        p->kind = k;
        if (k == RUN_TUNE_CHOICE) {
            if (!json_is_array(r)) return cb_fail(e, CB_EFORMAT, "%s: choice wants a list", where);
            if (json_array_size(r) > RUN_TUNE_MAX_CHOICES)
                return cb_fail(e, CB_EFORMAT, "%s: more than %d choices", where, RUN_TUNE_MAX_CHOICES);
            p->nchoice = (int)json_array_size(r);
            for (int i = 0; i < p->nchoice; i++)
                if (value_from_json(&p->choice[i], json_array_get(r, (size_t)i)))
                    return cb_fail(e, CB_EFORMAT, "%s: choice %d is not a number or a short word", where, i + 1);
        } else {
            if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_number(json_array_get(r, 0)) ||
                !json_is_number(json_array_get(r, 1)))
                return cb_fail(e, CB_EFORMAT, "%s: %s wants [low, high]", where, kinds[k]);
            p->lo = json_number_value(json_array_get(r, 0));
            p->hi = json_number_value(json_array_get(r, 1));
        }
    }
    if (nk != 1) return cb_fail(e, CB_EFORMAT, "%s: give exactly one of log, uniform, int, choice", where);
    json_t *z = json_object_get(j, "or_zero");
    if (z && !json_is_boolean(z)) return cb_fail(e, CB_EFORMAT, "%s: or_zero is true or false", where);
    p->or_zero = z && json_is_true(z);
    return 0;
}

static json_t *param_to_json(const run_tune_param *p, int with_name) {
    json_t *o = json_object();
    if (!o) return NULL;
    if (with_name) json_object_set_new(o, "name", json_string(p->name));
    static const char *const kinds[] = {"log", "uniform", "int", "choice"};
    json_t *a = json_array();
    if (p->kind == RUN_TUNE_CHOICE) {
        for (int i = 0; i < p->nchoice; i++) json_array_append_new(a, value_to_json(&p->choice[i]));
    } else if (p->kind == RUN_TUNE_INT) {
        json_array_append_new(a, json_integer((json_int_t)p->lo));
        json_array_append_new(a, json_integer((json_int_t)p->hi));
    } else {
        json_array_append_new(a, json_real(p->lo));
        json_array_append_new(a, json_real(p->hi));
    }
    json_object_set_new(o, kinds[p->kind], a);
    if (p->or_zero) json_object_set_new(o, "or_zero", json_true());
    return o;
}

static int space_from_json(run_tune_space *s, const json_t *sec, const char *where, cb_err *e) {
    memset(s, 0, sizeof *s);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sec, k, v) {
        if (s->nparams >= RUN_TUNE_MAX_PARAMS) return cb_fail(e, CB_EFORMAT, "%s: too many parameters", where);
        if (param_from_json(&s->p[s->nparams++], k, v, where, e)) return e ? e->code : CB_EFORMAT;
    }
    return 0;
}

int run_tune_space_read(run_tune_space *out, const char *path, const char *method, cb_err *e) {
    json_t *root;
    int rc = load_json(&root, path, e);
    if (rc) return rc;
    static const char *const keys[] = {"version", "methods", NULL};
    json_t *ver = json_object_get(root, "version"), *ms = json_object_get(root, "methods");
    if (!json_is_object(root)) {
        rc = cb_fail(e, CB_EFORMAT, "%s: not a JSON object", path);
    } else if ((rc = only_keys(root, keys, path, e))) {
    } else if (!json_is_integer(ver) || json_integer_value(ver) != RUN_TUNE_SPACE_VERSION) {
        rc = cb_fail(e, CB_EFORMAT, "%s: \"version\" must be %d (made by another coinbc?)", path, RUN_TUNE_SPACE_VERSION);
    } else if (!json_is_object(ms)) {
        rc = cb_fail(e, CB_EFORMAT, "%s: no \"methods\" object", path);
    } else {
        const char *k;
        json_t *v;
        int found = 0;
        json_object_foreach(ms, k, v) {
            char where[4200];
            snprintf(where, sizeof where, "%s: method %s", path, k);
            run_tune_space s;
            if (!method_ok(k)) {
                rc = cb_fail(e, CB_EARG, "%s: unknown method '%s' (%s)", path, k, run_method_list());
                break;
            }
            if (!json_is_object(v)) {
                rc = cb_fail(e, CB_EFORMAT, "%s: want an object of parameters", where);
                break;
            }
            if ((rc = space_from_json(&s, v, where, e))) break;
            if ((rc = run_tune_space_check(&s, k, e))) {
                cb_err_prefix(e, "%s: ", where);
                break;
            }
            if (!strcmp(k, method)) {
                *out = s;
                found = 1;
            }
        }
        if (!rc && !method_ok(method)) rc = cb_fail(e, CB_EARG, "unknown method '%s' (%s)", method, run_method_list());
        if (!rc && !found) rc = cb_fail(e, CB_ENOTFOUND, "%s: no space for method %s", path, method);
    }
    json_decref(root);
    return rc;
}

/* ---- the spec (DIR/tune.json) ----------------------------------------------- */

static json_t *spec_to_json(const run_tune_spec *s) {
    json_t *o = json_object(), *fx = json_array(), *sp = json_array();
    if (!o || !fx || !sp) {
        json_decref(o), json_decref(fx), json_decref(sp);
        return NULL;
    }
    json_object_set_new(o, "version", json_integer(RUN_TUNE_SPEC_VERSION));
    json_object_set_new(o, "coinbc", json_string(s->coinbc));
    json_object_set_new(o, "train", json_string(s->train));
    json_object_set_new(o, "val", json_string(s->val));
    json_object_set_new(o, "method", json_string(s->method));
    json_object_set_new(o, "trials", json_integer(s->trials));
    json_object_set_new(o, "epochs", json_integer(s->epochs));
    json_object_set_new(o, "jobs", json_integer(s->jobs));
    json_object_set_new(o, "threads", json_integer(s->threads));
    json_object_set_new(o, "seed", json_integer(s->seed));
    json_object_set_new(o, "prune", json_boolean(s->prune));
    json_object_set_new(o, "objective", json_string(run_tune_objective_name(s->objective)));
    json_object_set_new(o, "storage", json_string(s->storage));
    json_object_set_new(o, "study", json_string(s->study));
    json_object_set_new(o, "dir", json_string(s->dir));
    for (int i = 0; i < s->nfixed; i++) json_array_append_new(fx, json_string(s->fixed[i]));
    json_object_set_new(o, "fixed", fx);
    for (int i = 0; i < s->space.nparams; i++) json_array_append_new(sp, param_to_json(&s->space.p[i], 1));
    json_object_set_new(o, "space", sp);
    return o;
}

char *run_tune_spec_json(const run_tune_spec *s) {
    json_t *o = spec_to_json(s);
    if (!o) return NULL;
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    return t;
}

static int write_text(const char *path, const char *text, cb_err *e) {
    if (!text) return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    if (!buf) return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    memcpy(buf, text, n);
    buf[n] = '\n';
    int rc = cb_write_file_atomic(path, buf, n + 1, e);
    free(buf);
    return rc;
}

int run_tune_spec_write(const char *path, const run_tune_spec *s, cb_err *e) {
    char *t = run_tune_spec_json(s);
    int rc = write_text(path, t, e);
    free(t);
    return rc;
}

static int get_str(char *dst, size_t n, const json_t *o, const char *key, const char *path, cb_err *e) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return cb_fail(e, CB_EFORMAT, "%s: \"%s\" missing or not a string", path, key);
    if (json_string_length(v) >= n) return cb_fail(e, CB_EFORMAT, "%s: \"%s\" is too long", path, key);
    snprintf(dst, n, "%s", json_string_value(v));
    return 0;
}

static int get_int(int64_t *dst, const json_t *o, const char *key, const char *path, cb_err *e) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return cb_fail(e, CB_EFORMAT, "%s: \"%s\" missing or not an integer", path, key);
    *dst = json_integer_value(v);
    return 0;
}

/* s with bytes outside printable ASCII as \xNN and quotes escaped, cut to fit n */
static void quote(char *out, size_t n, const char *s) {
    size_t k = 0;
    for (; *s && k + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    out[k] = 0;
}

int run_tune_study_name_check(const char *name, cb_err *e) {
    size_t n = strlen(name);
    int ok = n > 0 && n <= RUN_TUNE_STUDY_MAX && isalnum((unsigned char)name[0]);
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        ok = c < 0x80 && (isalnum(c) || c == '.' || c == '_' || c == '-');
    }
    if (ok) return 0;
    char q[96];
    quote(q, sizeof q, name);
    return cb_fail(e, CB_EARG,
                   "'%s'%s is not a study name: give 1 to %d of the characters A-Z a-z 0-9 . _ -, starting with a letter or a "
                   "digit", q, n > RUN_TUNE_STUDY_MAX ? " (too long)" : "", RUN_TUNE_STUDY_MAX);
}

int run_tune_storage_check(const char *url, cb_err *e) {
    char q[160];
    quote(q, sizeof q, url);
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return cb_fail(e, CB_EARG, "storage '%s' has a control character", q);
    if (!url[0]) return cb_fail(e, CB_EARG, "storage '': give journal:PATH or an Optuna database URL");
    if (!strncmp(url, "journal:", 8) && (!url[8] || url[strlen(url) - 1] == '/'))
        return cb_fail(e, CB_EARG, "storage '%s': give the journal's file name, journal:PATH", q);
    if (strncmp(url, "journal:", 8) && !strstr(url, "://"))
        return cb_fail(e, CB_EARG, "storage '%s': give journal:PATH or an Optuna database URL (sqlite:///PATH, "
                                   "postgresql://..., mysql://...)", q);
    return 0;
}

int run_tune_spec_read(run_tune_spec *s, const char *path, cb_err *e) {
    memset(s, 0, sizeof *s);
    json_t *o;
    int rc = load_json(&o, path, e);
    if (rc) return rc;
    static const char *const keys[] = {"version", "coinbc", "train", "val", "method", "trials", "epochs", "jobs",
                                       "threads", "seed", "prune", "objective", "storage", "study", "dir", "fixed",
                                       "space", NULL};
    int64_t ver = 0, v[5];
    json_t *fx = json_object_get(o, "fixed"), *sp = json_object_get(o, "space"), *pr = json_object_get(o, "prune");
    if (!json_is_object(o)) rc = cb_fail(e, CB_EFORMAT, "%s: not a JSON object", path);
    else if ((rc = only_keys(o, keys, path, e)) || (rc = get_int(&ver, o, "version", path, e))) {
    } else if (ver != RUN_TUNE_SPEC_VERSION)
        rc = cb_fail(e, CB_EFORMAT, "%s: version %lld, this coinbc reads %d (made by another coinbc)", path,
                     (long long)ver, RUN_TUNE_SPEC_VERSION);
    else if ((rc = get_str(s->coinbc, sizeof s->coinbc, o, "coinbc", path, e)) ||
             (rc = get_str(s->train, sizeof s->train, o, "train", path, e)) ||
             (rc = get_str(s->val, sizeof s->val, o, "val", path, e)) ||
             (rc = get_str(s->method, sizeof s->method, o, "method", path, e)) ||
             (rc = get_str(s->storage, sizeof s->storage, o, "storage", path, e)) ||
             (rc = get_str(s->study, sizeof s->study, o, "study", path, e)) ||
             (rc = get_str(s->dir, sizeof s->dir, o, "dir", path, e)) ||
             (rc = get_int(&v[0], o, "trials", path, e)) || (rc = get_int(&v[1], o, "epochs", path, e)) ||
             (rc = get_int(&v[2], o, "jobs", path, e)) || (rc = get_int(&v[3], o, "threads", path, e)) ||
             (rc = get_int(&v[4], o, "seed", path, e))) {
    } else if (!json_is_boolean(pr) || !json_is_array(fx) || !json_is_array(sp))
        rc = cb_fail(e, CB_EFORMAT, "%s: \"prune\", \"fixed\" or \"space\" missing or of the wrong type", path);
    else if (v[0] <= 0 || v[0] > INT32_MAX || v[1] <= 0 || v[1] > INT32_MAX || v[2] <= 0 || v[2] > 4096 || v[3] <= 0 ||
             v[3] > 4096 || v[4] < 0)
        rc = cb_fail(e, CB_EFORMAT, "%s: trials, epochs, jobs or threads out of range", path);
    else if (json_array_size(fx) > RUN_TUNE_MAX_FIXED || json_array_size(sp) > RUN_TUNE_MAX_PARAMS)
        rc = cb_fail(e, CB_EFORMAT, "%s: too many fixed options or parameters", path);
    else {
        s->trials = (int)v[0], s->epochs = (int)v[1], s->jobs = (int)v[2], s->threads = (int)v[3], s->seed = v[4];
        s->prune = json_is_true(pr);
        json_t *ob = json_object_get(o, "objective"); /* absent in a tune.json written before it: val_acc */
        if (ob && (!json_is_string(ob) || run_tune_objective_parse(json_string_value(ob), &s->objective)))
            rc = cb_fail(e, CB_EFORMAT, "%s: \"objective\" is not \"val_acc\" or \"val_loss\"", path);
        s->nfixed = (int)json_array_size(fx);
        for (int i = 0; i < s->nfixed && !rc; i++) {
            json_t *w = json_array_get(fx, (size_t)i);
            if (!json_is_string(w) || json_string_length(w) >= sizeof s->fixed[i])
                rc = cb_fail(e, CB_EFORMAT, "%s: fixed option %d is not a short string", path, i + 1);
            else
                snprintf(s->fixed[i], sizeof s->fixed[i], "%s", json_string_value(w));
        }
        s->space.nparams = (int)json_array_size(sp);
        for (int i = 0; i < s->space.nparams && !rc; i++) {
            json_t *p = json_array_get(sp, (size_t)i), *nm = json_object_get(p, "name");
            if (!json_is_string(nm)) rc = cb_fail(e, CB_EFORMAT, "%s: space entry %d has no name", path, i + 1);
            else rc = param_from_json(&s->space.p[i], json_string_value(nm), p, path, e);
        }
        if (!rc && (rc = run_tune_space_check(&s->space, s->method, e))) cb_err_prefix(e, "%s: ", path);
        if (!rc && ((rc = run_tune_study_name_check(s->study, e)) || (rc = run_tune_storage_check(s->storage, e))))
            cb_err_prefix(e, "%s: ", path);
    }
    json_decref(o);
    return rc;
}

/* the storage a spec names, with a journal DIR/study.journal written out in
 * full (by coinbc before the default was relative) read as the default */
static const char *storage_name(const run_tune_spec *s) {
    const char *p = s->storage;
    size_t dl = strlen(s->dir);
    if (!strncmp(p, "journal:", 8) && dl > 0 && !strncmp(p + 8, s->dir, dl) && !strcmp(p + 8 + dl, "/study.journal"))
        return RUN_TUNE_DEFAULT_STORAGE;
    return p;
}

int run_tune_spec_same_study(const run_tune_spec *a, const run_tune_spec *b, cb_err *e) {
    if (strcmp(a->method, b->method)) return cb_fail(e, CB_EARG, "method %s, not %s", a->method, b->method);
    if (strcmp(a->study, b->study)) return cb_fail(e, CB_EARG, "study %s, not %s", a->study, b->study);
    if (strcmp(storage_name(a), storage_name(b)))
        return cb_fail(e, CB_EARG, "storage %s, not %s", a->storage, b->storage);
    if (a->epochs != b->epochs) return cb_fail(e, CB_EARG, "--epochs %d, not %d", a->epochs, b->epochs);
    if (a->seed != b->seed) return cb_fail(e, CB_EARG, "--seed %lld, not %lld", (long long)a->seed, (long long)b->seed);
    if (a->prune != b->prune) return cb_fail(e, CB_EARG, "--prune %s", a->prune ? "on" : "off");
    if (a->objective != b->objective)
        return cb_fail(e, CB_EARG, "--objective %s, not %s", run_tune_objective_name(a->objective),
                       run_tune_objective_name(b->objective));
    int fx = a->nfixed != b->nfixed;
    for (int i = 0; !fx && i < a->nfixed; i++) fx = strcmp(a->fixed[i], b->fixed[i]) != 0;
    if (fx) return cb_fail(e, CB_EARG, "other train options after --");
    json_t *sa = json_array(), *sb = json_array();
    for (int i = 0; i < a->space.nparams; i++) json_array_append_new(sa, param_to_json(&a->space.p[i], 1));
    for (int i = 0; i < b->space.nparams; i++) json_array_append_new(sb, param_to_json(&b->space.p[i], 1));
    int same = json_equal(sa, sb);
    json_decref(sa), json_decref(sb);
    if (!same) return cb_fail(e, CB_EARG, "another search space");
    return 0;
}

/* ---- the study result ------------------------------------------------------- */

static const char *const STATES[] = {"COMPLETE", "PRUNED", "FAIL"};

const char *run_tune_state_name(int state) { return state >= 0 && state < 3 ? STATES[state] : "?"; }

static int state_parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, STATES[i])) return i;
    return -1;
}

void run_tune_result_free(run_tune_result *r) {
    free(r->trials);
    memset(r, 0, sizeof *r);
}

int run_tune_result_parse(run_tune_result *r, const char *text, size_t n, cb_err *e) {
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) return cb_fail(e, CB_EFORMAT, "tune driver output: line %d: %s", je.line, je.text);
    static const char *const keys[] = {"version", "study", "method", "objective", "trials_wanted", "params", "trials",
                                       NULL};
    static const char *const tkeys[] = {"number", "state", "options", "value", "epochs_run", "seconds", "run", NULL};
    const char *W = "tune driver output";
    json_t *ps = json_object_get(o, "params"), *ts = json_object_get(o, "trials"), *ver = json_object_get(o, "version");
    int rc = 0;
    if (!json_is_object(o)) rc = cb_fail(e, CB_EFORMAT, "%s: not a JSON object", W);
    else if ((rc = only_keys(o, keys, W, e))) {
    } else if (!json_is_integer(ver) || json_integer_value(ver) != RUN_TUNE_RESULT_VERSION)
        rc = cb_fail(e, CB_EFORMAT, "%s: version is not %d", W, RUN_TUNE_RESULT_VERSION);
    else if (!json_is_array(ps) || json_array_size(ps) > RUN_TUNE_MAX_PARAMS || !json_is_array(ts))
        rc = cb_fail(e, CB_EFORMAT, "%s: \"params\" or \"trials\" missing or too long", W);
    else if (json_object_get(o, "objective") &&
             (!json_is_string(json_object_get(o, "objective")) ||
              run_tune_objective_parse(json_string_value(json_object_get(o, "objective")), &r->objective)))
        rc = cb_fail(e, CB_EFORMAT, "%s: \"objective\" is not \"val_acc\" or \"val_loss\"", W);
    else {
        r->nparams = (int)json_array_size(ps);
        for (int i = 0; i < r->nparams && !rc; i++) {
            json_t *p = json_array_get(ps, (size_t)i);
            if (!json_is_string(p) || !run_tune_option_kind(json_string_value(p)))
                rc = cb_fail(e, CB_EFORMAT, "%s: parameter %d is not a train option", W, i + 1);
            else
                snprintf(r->param[i], sizeof r->param[i], "%s", json_string_value(p));
        }
        size_t nt = json_array_size(ts);
        if (!rc && nt > RUN_TUNE_MAX_TRIALS)
            rc = cb_fail(e, CB_EFORMAT, "%s: %zu trials, more than the %d trials.csv may hold", W, nt, RUN_TUNE_MAX_TRIALS);
        if (!rc && nt && !(r->trials = calloc(nt, sizeof *r->trials))) rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", W);
        for (size_t i = 0; i < nt && !rc; i++) {
            json_t *t = json_array_get(ts, i), *opts = json_object_get(t, "options"), *val = json_object_get(t, "value");
            run_tune_trial *tr = &r->trials[i];
            int64_t num = 0, ep = 0;
            char st[16];
            if (!json_is_object(t) || (rc = only_keys(t, tkeys, W, e)) || (rc = get_int(&num, t, "number", W, e)) ||
                (rc = get_str(st, sizeof st, t, "state", W, e)) || (rc = get_int(&ep, t, "epochs_run", W, e)) ||
                (rc = get_str(tr->run, sizeof tr->run, t, "run", W, e))) {
                if (!rc) rc = cb_fail(e, CB_EFORMAT, "%s: trial %zu is not an object", W, i + 1);
                break;
            }
            tr->number = (int)num;
            tr->epochs_run = (int)ep;
            if ((tr->state = state_parse(st)) < 0 || num < 0 || num > INT32_MAX || ep < 0 || ep > INT32_MAX) {
                rc = cb_fail(e, CB_EFORMAT, "%s: trial %lld: bad state '%s' or numbers", W, (long long)num, st);
                break;
            }
            json_t *sec = json_object_get(t, "seconds");
            if (!json_is_number(sec) || !json_is_object(opts) || !(json_is_number(val) || json_is_null(val))) {
                rc = cb_fail(e, CB_EFORMAT, "%s: trial %d: seconds, options or value of the wrong type", W, tr->number);
                break;
            }
            tr->seconds = json_number_value(sec);
            tr->value = json_is_null(val) ? NAN : json_number_value(val);
            for (int k = 0; k < r->nparams && !rc; k++) {
                json_t *ov = json_object_get(opts, r->param[k]);
                if (!ov) { /* a failed trial before sampling: no options */
                    tr->opt[k].num = NAN;
                    continue;
                }
                if (value_from_json(&tr->opt[k], ov))
                    rc = cb_fail(e, CB_EFORMAT, "%s: trial %d: option %s is not a value", W, tr->number, r->param[k]);
            }
            r->ntrials++;
        }
    }
    json_decref(o);
    if (rc) run_tune_result_free(r);
    return rc;
}

int run_tune_best(const run_tune_result *r) {
    int best = -1;
    for (int i = 0; i < r->ntrials; i++) {
        const run_tune_trial *t = &r->trials[i];
        /* a pruned trial counts by its best epoch: a trial's epochs do not
         * depend on how many it is given (the schedule follows --epochs), so
         * its full run would have reached that figure too */
        if (t->state == RUN_TUNE_FAIL || isnan(t->value)) continue;
        if (best < 0) {
            best = i;
            continue;
        }
        double bv = r->trials[best].value; /* the objective's direction: accuracy up, loss down */
        int better = r->objective == RUN_TUNE_VAL_LOSS ? t->value < bv : t->value > bv;
        if (better ||
            (t->value == r->trials[best].value && t->number < r->trials[best].number))
            best = i;
    }
    return best;
}

/* ---- trials.csv ------------------------------------------------------------- */

/* the shortest text that reads back as x */
static void put_num(FILE *f, double x) {
    char b[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x) break;
    }
    fputs(b, f);
}

static void put_value(FILE *f, const run_tune_value *v) {
    if (v->is_str) fputs(v->str, f);
    else if (!isnan(v->num)) put_num(f, v->num);
}

int run_tune_trials_write(const char *path, const run_tune_result *r, cb_err *e) {
    cb_afile f;
    int rc = cb_afile_open(&f, path, e);
    if (rc) return rc;
    fprintf(f.fp, "number,state");
    for (int k = 0; k < r->nparams; k++) fprintf(f.fp, ",%s", r->param[k]);
    /* the value column is named by the objective: "value" (val_acc, as before it could be chosen) or "val_loss" */
    fprintf(f.fp, ",%s,epochs_run,seconds,run\n", r->objective == RUN_TUNE_VAL_LOSS ? "val_loss" : "value");
    for (int i = 0; i < r->ntrials; i++) {
        const run_tune_trial *t = &r->trials[i];
        fprintf(f.fp, "%d,%s", t->number, run_tune_state_name(t->state));
        for (int k = 0; k < r->nparams; k++) {
            fputc(',', f.fp);
            put_value(f.fp, &t->opt[k]);
        }
        fputc(',', f.fp);
        if (!isnan(t->value)) fprintf(f.fp, "%.6f", t->value);
        fprintf(f.fp, ",%d,%.2f,%s\n", t->epochs_run, t->seconds, t->run);
    }
    return cb_afile_commit(&f, e);
}

/* splits line at commas into at most max fields (in place); returns the count */
static int split(char *line, char **field, int max) {
    int n = 0;
    for (char *p = line;; p++) {
        if (n < max) field[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p) break;
        *p = 0;
    }
    return n;
}

static int cell_value(run_tune_value *v, const char *s) {
    memset(v, 0, sizeof *v);
    if (!*s) {
        v->num = NAN;
        return 0;
    }
    if (!cb_parse_f64(s, &v->num)) return 0;
    if (strlen(s) >= sizeof v->str) return -1;
    v->is_str = 1;
    snprintf(v->str, sizeof v->str, "%s", s);
    return 0;
}

int run_tune_trials_read(run_tune_result *r, const char *path, cb_err *e) {
    memset(r, 0, sizeof *r);
    uint8_t *buf;
    size_t n;
    int rc = cb_read_file_max(path, RUN_TUNE_TRIALS_MAX_BYTES, &buf, &n, e);
    if (rc) return rc;
    char *text = (char *)buf, *save = NULL;
    /* rows at most: lines, counted before strtok_r cuts them, and never more
     * than RUN_TUNE_MAX_TRIALS (a file of empty lines allocates nothing) */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) cap += buf[i] == '\n';
    if (cap > RUN_TUNE_MAX_TRIALS + 1) cap = RUN_TUNE_MAX_TRIALS + 1;
    enum { MAXF = RUN_TUNE_MAX_PARAMS + 8 };
    char *f[MAXF];
    char *line = strtok_r(text, "\n", &save);
    int nf = line ? split(line, f, MAXF) : 0;
    if (!line || nf < 6 || nf > MAXF || strcmp(f[0], "number") || strcmp(f[1], "state") || (strcmp(f[nf - 4], "value") && strcmp(f[nf - 4], "val_loss")) ||
        strcmp(f[nf - 3], "epochs_run") || strcmp(f[nf - 2], "seconds") || strcmp(f[nf - 1], "run")) {
        free(buf);
        return cb_fail(e, CB_EFORMAT, "%s: line 1: not a trials.csv header (number,state,...,value,epochs_run,seconds,run)",
                       path);
    }
    r->objective = strcmp(f[nf - 4], "val_loss") ? RUN_TUNE_VAL_ACC : RUN_TUNE_VAL_LOSS;
    r->nparams = nf - 6;
    for (int k = 0; k < r->nparams; k++) {
        if (!run_tune_option_kind(f[2 + k]) || strlen(f[2 + k]) >= sizeof r->param[k]) {
            rc = cb_fail(e, CB_EFORMAT, "%s: line 1: '%.40s' is not a train option", path, f[2 + k]);
            free(buf);
            return rc;
        }
        snprintf(r->param[k], sizeof r->param[k], "%s", f[2 + k]);
    }
    if (!(r->trials = calloc(cap, sizeof *r->trials))) {
        free(buf);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    }
    int lineno = 1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        if (r->ntrials >= RUN_TUNE_MAX_TRIALS || (size_t)r->ntrials >= cap) {
            rc = cb_fail(e, CB_EFORMAT, "%s: line %d: more than %d trial rows; refusing the rest", path, lineno,
                         RUN_TUNE_MAX_TRIALS);
            break;
        }
        int m = split(line, f, MAXF);
        run_tune_trial *t = &r->trials[r->ntrials];
        int64_t num, ep;
        double sec;
        if (m != nf || cb_parse_i64(f[0], &num) || num < 0 || num > INT32_MAX || (t->state = state_parse(f[1])) < 0 ||
            cb_parse_i64(f[nf - 3], &ep) || ep < 0 || ep > INT32_MAX || cb_parse_f64(f[nf - 2], &sec) ||
            (*f[nf - 4] && cb_parse_f64(f[nf - 4], &t->value)) || strlen(f[nf - 1]) >= sizeof t->run) {
            rc = cb_fail(e, CB_EFORMAT, "%s: line %d: not a trial row (%d fields, want %d)", path, lineno, m, nf);
            break;
        }
        if (!*f[nf - 4]) t->value = NAN;
        t->number = (int)num;
        t->epochs_run = (int)ep;
        t->seconds = sec;
        snprintf(t->run, sizeof t->run, "%s", f[nf - 1]);
        for (int k = 0; k < r->nparams && !rc; k++)
            if (cell_value(&t->opt[k], f[2 + k]))
                rc = cb_fail(e, CB_EFORMAT, "%s: line %d: %s '%s' is too long", path, lineno, r->param[k], f[2 + k]);
        if (rc) break;
        r->ntrials++;
    }
    free(buf);
    if (rc) run_tune_result_free(r);
    return rc;
}

/* ---- best.json -------------------------------------------------------------- */

int run_tune_best_write(const char *path, const run_tune_spec *s, const run_tune_result *r, int best, cb_err *e) {
    if (best < 0 || best >= r->ntrials) return cb_fail(e, CB_EARG, "%s: no finished trial to write", path);
    const run_tune_trial *t = &r->trials[best];
    json_t *o = json_object();
    if (!o) return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    /* method, tau and lr first (train's defaults where the study did not set them) */
    json_object_set_new(o, "method", json_string(s->method));
    int mid = 0;
    double tau = 0, lr = 0;
    run_method_parse(s->method, &mid); /* (run_tune_spec_read checked it) */
    if (run_method(mid)->options & RUN_MOPT_TAU) cb_parse_f64(run_option_find("tau")->def, &tau); /* else train's 0 */
    cb_parse_f64(run_option_find("lr")->def, &lr);
    json_object_set_new(o, "tau", json_real(tau));
    json_object_set_new(o, "lr", json_real(lr));
    for (int i = 0; i + 1 < s->nfixed; i += 2) {
        const char *name = s->fixed[i] + 2;
        run_tune_value v;
        memset(&v, 0, sizeof v);
        if (run_tune_option_kind(name) == 1 && !cb_parse_f64(s->fixed[i + 1], &v.num)) {
            json_object_set_new(o, name, value_to_json(&v));
        } else {
            json_object_set_new(o, name, json_string(s->fixed[i + 1]));
        }
    }
    for (int k = 0; k < r->nparams; k++)
        if (t->opt[k].is_str || !isnan(t->opt[k].num)) json_object_set_new(o, r->param[k], value_to_json(&t->opt[k]));
    json_object_set_new(o, "epochs", json_integer(s->epochs));
    /* the figure the trial was chosen by; not a train option (run_tune_best_args passes it over). A study of
     * the validation loss picks best.ckpt by it too, unless the fixed options say otherwise. */
    if (s->objective == RUN_TUNE_VAL_LOSS && !json_object_get(o, "best-by"))
        json_object_set_new(o, "best-by", json_string("loss"));
    json_object_set_new(o, "objective", json_string(run_tune_objective_name(s->objective)));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    int rc = write_text(path, text, e);
    free(text);
    return rc;
}

int run_tune_best_args(char **out, const char *path, cb_err *e) {
    *out = NULL;
    json_t *o;
    int rc = load_json(&o, path, e);
    if (rc) return rc;
    if (!json_is_object(o)) {
        json_decref(o);
        return cb_fail(e, CB_EFORMAT, "%s: not a JSON object", path);
    }
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s) rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (rc) break;
        char val[64];
        if (!strcmp(k, "objective")) { /* the study's figure, not a train option */
            int ob;
            if (!json_is_string(v) || run_tune_objective_parse(json_string_value(v), &ob))
                rc = cb_fail(e, CB_EFORMAT, "%s: \"objective\" is not \"val_acc\" or \"val_loss\"", path);
            continue;
        }
        int kind = !strcmp(k, "method") || !strcmp(k, "epochs") ? 3 : run_tune_option_kind(k);
        if (!kind) {
            rc = cb_fail(e, CB_EFORMAT, "%s: '%s' is not a coinbc train option tune writes", path, k);
            break;
        }
        if (json_is_string(v) && kind != 1 && json_string_length(v) < sizeof val)
            snprintf(val, sizeof val, "%s", json_string_value(v));
        else if (json_is_integer(v) && kind != 2)
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v) && kind == 1) {
            double x = json_real_value(v); /* the shortest text that reads back as x */
            for (int prec = 6; prec <= 17; prec++) {
                snprintf(val, sizeof val, "%.*g", prec, x);
                if (strtod(val, NULL) == x) break;
            }
        }
        else {
            rc = cb_fail(e, CB_EFORMAT, "%s: \"%s\" has a value of the wrong type", path, k);
            break;
        }
        for (const char *c = val; *c; c++)
            if (*c <= ' ' || *c == '\'' || *c == '"' || *c == '\\' || *c == '$' || *c == '`') {
                rc = cb_fail(e, CB_EFORMAT, "%s: \"%s\": value '%s' has characters a shell would split", path, k, val);
                break;
            }
        if (rc) break;
        size_t need = len + strlen(k) + strlen(val) + 6;
        if (need > cap) {
            char *g = realloc(s, cap = need * 2);
            if (!g) {
                rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
                break;
            }
            s = g;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s--%s %s", len ? " " : "", k, val);
    }
    json_decref(o);
    if (rc) {
        free(s);
        return rc;
    }
    s[len] = 0;
    *out = s;
    return 0;
}

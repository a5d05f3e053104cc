/* jsonio.c - the JSON helpers behind every run record (see jsonio.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

json_t *rj_load(const char *text, size_t n, const char *name, cb_err *e) {
    json_error_t je;
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        cb_fail(e, CB_EFORMAT, "%s: line %d column %d: %s", name, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        cb_fail(e, CB_EFORMAT, "%s: not a JSON object", name);
        return NULL;
    }
    return o;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static json_t *need(json_t *o, const char *name, const char *key, cb_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v) cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is missing", name, key);
    return v;
}

int rj_header(json_t *o, const char *name, const char *format, int *version, cb_err *e) {
    json_t *f = json_object_get(o, "format"), *v = json_object_get(o, "version");
    if (!f && !v) {
        *version = 1;
        return 0;
    }
    if (!f || !v)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is missing (\"format\" and \"version\" go together)", name,
                       f ? "version" : "format");
    if (!json_is_string(f))
        return cb_fail(e, CB_EFORMAT, "%s: key \"format\": expected a string, found %s", name, type_name(f));
    if (strcmp(json_string_value(f), format))
        return cb_fail(e, CB_EFORMAT, "%s: key \"format\" is \"%s\", expected \"%s\" (another kind of file?)", name,
                       json_string_value(f), format);
    if (!json_is_integer(v))
        return cb_fail(e, CB_EFORMAT, "%s: key \"version\": expected an integer, found %s", name, type_name(v));
    json_int_t k = json_integer_value(v);
    if (k > RUN_VERSION)
        return cb_fail(e, CB_EFORMAT, "%s: %s version %lld was written by a newer coinbc (this one, %s, reads up to %d)",
                       name, format, (long long)k, CB_VERSION, RUN_VERSION);
    if (k < 1) return cb_fail(e, CB_EFORMAT, "%s: key \"version\" is %lld (versions start at 1)", name, (long long)k);
    *version = (int)k;
    return 0;
}

int rj_only(json_t *o, const char *name, const char *const *keys, cb_err *e) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = !strcmp(k, "format") || !strcmp(k, "version");
        for (int i = 0; keys[i] && !ok; i++) ok = !strcmp(k, keys[i]);
        if (!ok) return cb_fail(e, CB_EFORMAT, "%s: unknown key \"%s\"", name, k);
    }
    return 0;
}

int rj_int(json_t *o, const char *name, const char *key, int64_t lo, int64_t hi, int64_t *out, cb_err *e) {
    json_t *v = need(o, name, key, e);
    if (!v) return CB_EFORMAT;
    if (!json_is_integer(v))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected an integer, found %s", name, key, type_name(v));
    json_int_t k = json_integer_value(v);
    if (k < lo || k > hi)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is %lld, outside %lld..%lld", name, key, (long long)k, (long long)lo,
                       (long long)hi);
    *out = k;
    return 0;
}

int rj_num(json_t *o, const char *name, const char *key, int allow_null, double *out, cb_err *e) {
    json_t *v = need(o, name, key, e);
    if (!v) return CB_EFORMAT;
    if (allow_null && json_is_null(v)) {
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected a number%s, found %s", name, key,
                       allow_null ? " or null" : "", type_name(v));
    *out = json_number_value(v);
    return 0;
}

int rj_str(json_t *o, const char *name, const char *key, char *out, size_t cap, cb_err *e) {
    json_t *v = need(o, name, key, e);
    if (!v) return CB_EFORMAT;
    if (!json_is_string(v))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected a string, found %s", name, key, type_name(v));
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap || strlen(s) != n)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": the string is too long or holds a NUL byte", name, key);
    memcpy(out, s, n + 1);
    return 0;
}

int rj_bool(json_t *o, const char *name, const char *key, int *out, cb_err *e) {
    json_t *v = need(o, name, key, e);
    if (!v) return CB_EFORMAT;
    if (!json_is_boolean(v))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected true or false, found %s", name, key, type_name(v));
    *out = json_is_true(v);
    return 0;
}

json_t *rj_real(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int rj_dump(run_text *out, json_t *o, int indent, const char *what, cb_err *e) {
    if (!o)
        return cb_fail(e, CB_ENOMEM, "%s: out of memory, or a name or path that is not valid UTF-8 (JSON cannot hold it)",
                       what);
    char *s = json_dumps(o, (indent ? JSON_INDENT(indent) : 0) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s) return cb_fail(e, CB_ENOMEM, "%s: out of memory", what);
    int rc = run_text_add(out, s);
    if (!rc) rc = run_text_add(out, "\n");
    free(s);
    return rc ? cb_fail(e, CB_ENOMEM, "%s: out of memory", what) : 0;
}

int rj_read(const char *dir, const char *file, size_t max, char *path, size_t pathn, char **text, size_t *n, cb_err *e) {
    *text = NULL;
    if (snprintf(path, pathn, "%s/%s", dir, file) >= (int)pathn)
        return cb_fail(e, CB_EARG, "%s/%s: path too long", dir, file);
    uint8_t *b;
    int rc = cb_read_file_max(path, max, &b, n, e);
    *text = rc ? NULL : (char *)b;
    return rc;
}

int rj_epochs(const char *dir, int64_t *epochs, cb_err *e) {
    run_config c;
    int rc = run_config_read(&c, dir, e);
    if (rc == CB_ENOTFOUND) {
        *epochs = RUN_NOCONFIG_EPOCHS;
        return 0;
    }
    if (rc) return rc;
    *epochs = c.epochs;
    return 0;
}

size_t rj_cap(int64_t items, size_t per_item) {
    if (items < 0) items = 0;
    if ((uint64_t)items > CB_READ_MAX_DEFAULT / per_item) return CB_READ_MAX_DEFAULT;
    return (size_t)items * per_item;
}

int rj_decode(void *v, size_t size, rj_decoder dec, const char *text, size_t n, const char *name, cb_err *e) {
    memset(v, 0, size);
    json_t *o = rj_load(text, n, name, e);
    if (!o) return CB_EFORMAT;
    int rc = dec(v, o, name, e);
    json_decref(o);
    return rc;
}

int rj_read_record(void *v, size_t size, rj_decoder dec, const char *dir, const char *file, size_t max, cb_err *e) {
    char path[4200], *text;
    size_t n;
    memset(v, 0, size);
    int rc = rj_read(dir, file, max, path, sizeof path, &text, &n, e);
    if (rc) return rc;
    rc = rj_decode(v, size, dec, text, n, path, e);
    free(text);
    return rc;
}

/* ---- text buffers ---- */

int run_text_add(run_text *t, const char *s) {
    size_t l = strlen(s);
    if (t->len + l + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + l;
        char *n = realloc(t->s, cap);
        if (!n) return CB_ENOMEM;
        t->s = n;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, l + 1);
    t->len += l;
    return 0;
}

void run_text_free(run_text *t) {
    free(t->s);
    memset(t, 0, sizeof *t);
}

int rj_write(const char *dir, const char *file, run_text *t, int rc, cb_err *e) {
    char path[4200];
    if (!rc && snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        rc = cb_fail(e, CB_EARG, "%s/%s: path too long", dir, file);
    if (!rc) rc = cb_write_file_atomic(path, t->s, t->len, e);
    run_text_free(t);
    return rc;
}

/* recmeta.c - strict readers of the recordings' meta files (see recmeta.h):
 * each kind of file has a table of its keys and their types; the object must
 * hold exactly those keys. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/recmeta.h"

enum { K_STR, K_INT, K_NUM, K_MODE, K_VERSION };
typedef struct {
    const char *key;
    int type;
} key_spec;

/* coinbc record's level meta.json */
static const key_spec LEVEL_KEYS[] = {
    {"format", K_STR},          {"format_version", K_VERSION}, {"coinbc_version", K_STR}, {"level", K_INT},
    {"mode", K_MODE},           {"states", K_INT},             {"noise", K_NUM},          {"seed", K_INT},
    {"episodes", K_INT},        {"coins", K_INT},              {"deaths", K_INT},         {"timeouts", K_INT},
    {"random_actions", K_INT},  {"expert_searches", K_INT},    {"expert_no_path", K_INT}, {"expert_budget_exhausted", K_INT},
};
/* coinbc data export --format png */
static const key_spec EXPORT_KEYS[] = {{"format", K_STR}, {"level", K_INT}, {"mode", K_MODE}};
/* another tool's: the mode, and the level if it says */
static const key_spec BARE_KEYS[] = {{"mode", K_MODE}, {"level", K_INT}};
/* the run's meta.json and plan.json */
#define RUN_COMMON                                                                                                     \
    {"format", K_STR}, {"format_version", K_VERSION}, {"coinbc_version", K_STR}, {"levels", K_STR},                    \
        {"level_lo", K_INT}, {"level_hi", K_INT}, {"mode", K_MODE}, {"states_per_level", K_INT}, {"noise", K_NUM},     \
        {"seed", K_INT}
static const key_spec PLAN_KEYS[] = {RUN_COMMON};
static const key_spec RUN_KEYS[] = {
    RUN_COMMON,           {"states", K_INT},          {"episodes", K_INT},       {"coins", K_INT},
    {"deaths", K_INT},    {"timeouts", K_INT},        {"random_actions", K_INT}, {"expert_searches", K_INT},
    {"expert_no_path", K_INT}, {"expert_budget_exhausted", K_INT},
};
#define NKEYS(a) ((int)(sizeof(a) / sizeof(a)[0]))

static json_t *load(const uint8_t *buf, size_t n, const char *path, cb_err *e) {
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        cb_fail(e, CB_EFORMAT, "%s: not valid JSON (line %d column %d: %s)", path, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        cb_fail(e, CB_EFORMAT, "%s: not a JSON object", path);
        return NULL;
    }
    return o;
}

/* Checks that o holds exactly the keys of spec, each of its type. */
static int check_keys(json_t *o, const key_spec *spec, int ns, const char *path, const char *what, cb_err *e) {
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int k = 0;
        while (k < ns && strcmp(spec[k].key, key)) k++;
        if (k == ns) return cb_fail(e, CB_EFORMAT, "%s: unknown key \"%.60s\" (not a key of %s)", path, key, what);
    }
    for (int k = 0; k < ns; k++) {
        v = json_object_get(o, spec[k].key);
        if (!v) return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is missing (%s has it)", path, spec[k].key, what);
        const char *bad = NULL;
        switch (spec[k].type) {
        case K_STR:
            if (!json_is_string(v)) bad = "a string";
            break;
        case K_INT:
            if (!json_is_integer(v) || json_integer_value(v) < 0) bad = "an integer >= 0";
            break;
        case K_NUM:
            if (!json_is_number(v) || !isfinite(json_number_value(v))) bad = "a number";
            break;
        case K_VERSION:
            if (!json_is_integer(v) || json_integer_value(v) != 1) bad = "1 (the only format version)";
            break;
        case K_MODE:
            if (!json_is_string(v) || (strcmp(json_string_value(v), "easy") && strcmp(json_string_value(v), "hard")))
                bad = "\"easy\" or \"hard\"";
            break;
        }
        if (bad) return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" must be %s", path, spec[k].key, bad);
    }
    return 0;
}

static int mode_of(json_t *o) { return strcmp(json_string_value(json_object_get(o, "mode")), "hard") == 0; }

static int read_capped(const char *path, uint8_t **buf, size_t *n, cb_err *e) {
    int rc = cb_read_file_max(path, CAPTURE_META_MAX_BYTES, buf, n, e);
    if (rc == CB_ENOTFOUND) cb_fail(e, rc, "%s: missing", path);
    return rc;
}

int capture_level_meta_decode(const uint8_t *buf, size_t n, const char *path, capture_level_meta *m, cb_err *e) {
    memset(m, 0, sizeof *m);
    m->mode = -1;
    json_t *o = load(buf, n, path, e);
    if (!o) return CB_EFORMAT;
    json_t *f = json_object_get(o, "format");
    int rc;
    if (!f) {
        rc = check_keys(o, BARE_KEYS, json_object_get(o, "level") ? 2 : 1, path, "a level meta.json without \"format\"", e);
    } else if (!json_is_string(f)) {
        rc = cb_fail(e, CB_EFORMAT, "%s: key \"format\" must be a string", path);
    } else if (!strcmp(json_string_value(f), "coinbc-recording")) {
        rc = check_keys(o, LEVEL_KEYS, NKEYS(LEVEL_KEYS), path, "coinbc record's level meta.json", e);
        m->coinbc = 1;
    } else if (!strcmp(json_string_value(f), "coinbc-export")) {
        rc = check_keys(o, EXPORT_KEYS, NKEYS(EXPORT_KEYS), path, "coinbc data export's meta.json", e);
    } else {
        rc = cb_fail(e, CB_EFORMAT, "%s: \"format\" is \"%.60s\", not \"coinbc-recording\" or \"coinbc-export\"", path,
                     json_string_value(f));
    }
    json_t *l = json_object_get(o, "level");
    if (!rc && l && json_integer_value(l) > INT32_MAX)
        rc = cb_fail(e, CB_EFORMAT, "%s: key \"level\" is %lld, beyond the int32 level seeds", path,
                     (long long)json_integer_value(l));
    if (!rc) {
        m->mode = mode_of(o);
        m->has_level = l != NULL;
        m->level = l ? (int32_t)json_integer_value(l) : 0;
    } else {
        m->coinbc = 0;
    }
    json_decref(o);
    return rc;
}

int capture_level_meta_read(const char *path, capture_level_meta *m, cb_err *e) {
    memset(m, 0, sizeof *m);
    m->mode = -1;
    uint8_t *buf;
    size_t n;
    int rc = read_capped(path, &buf, &n, e);
    if (rc) return rc;
    rc = capture_level_meta_decode(buf, n, path, m, e);
    free(buf);
    return rc;
}

int capture_run_meta_decode(const uint8_t *buf, size_t n, const char *path, int plan, capture_run_meta *m, cb_err *e) {
    memset(m, 0, sizeof *m);
    json_t *o = load(buf, n, path, e);
    if (!o) return CB_EFORMAT;
    const char *format = plan ? "coinbc-recordings-plan" : "coinbc-recordings";
    json_t *f = json_object_get(o, "format");
    int rc = 0;
    if (!f || !json_is_string(f) || strcmp(json_string_value(f), format))
        rc = cb_fail(e, CB_EFORMAT, "%s: \"format\" must be \"%s\"", path, format);
    if (!rc)
        rc = plan ? check_keys(o, PLAN_KEYS, NKEYS(PLAN_KEYS), path, "a recordings plan.json", e)
                  : check_keys(o, RUN_KEYS, NKEYS(RUN_KEYS), path, "a recordings run meta.json", e);
    if (!rc) {
        json_int_t lo = json_integer_value(json_object_get(o, "level_lo"));
        json_int_t hi = json_integer_value(json_object_get(o, "level_hi"));
        json_int_t st = json_integer_value(json_object_get(o, "states_per_level"));
        char want[64];
        snprintf(want, sizeof want, "%lld-%lld", (long long)lo, (long long)hi);
        if (hi > INT32_MAX || lo > hi)
            rc = cb_fail(e, CB_EFORMAT, "%s: level_lo %lld and level_hi %lld are not a range of int32 seeds", path,
                         (long long)lo, (long long)hi);
        else if (strcmp(json_string_value(json_object_get(o, "levels")), want))
            rc = cb_fail(e, CB_EFORMAT, "%s: \"levels\" is \"%.40s\", but level_lo and level_hi say %s", path,
                         json_string_value(json_object_get(o, "levels")), want);
        else if (st < 1)
            rc = cb_fail(e, CB_EFORMAT, "%s: key \"states_per_level\" must be at least 1", path);
        if (!rc) {
            m->lo = (int32_t)lo;
            m->hi = (int32_t)hi;
            m->mode = mode_of(o);
            m->states = (int64_t)st;
        }
    }
    json_decref(o);
    return rc;
}

int capture_run_meta_read(const char *path, int plan, capture_run_meta *m, cb_err *e) {
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t n;
    int rc = read_capped(path, &buf, &n, e);
    if (rc) return rc;
    rc = capture_run_meta_decode(buf, n, path, plan, m, e);
    free(buf);
    return rc;
}

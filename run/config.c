/* config.c - config.json of a run folder: every training option, the
 * network, the data's size and (from coinbc train) its provenance. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-run-config"

/* ---- the option ranges: one table for train's checks and this reader ---- */

#define M(x) (1u << RUN_METHOD_##x)
#define INT(lo, hi) 1, (lo), (hi), 0, 0, 0, 0
#define REAL(lo, hi, lo_open, hi_open) 0, 0, 0, (lo), (hi), (lo_open), (hi_open)
static const run_option_range OPTIONS[] = {
    /* key            bounds                                methods                         in config.json */
    {"tau",           REAL(0, 1, 0, 0),                     M(AND) | M(SAND) | M(GEOMEAN) | M(TAND), 1},
    {"sand_k",        REAL(0, HUGE_VAL, 1, 1),              M(SAND),                        1},
    {"tand_beta",     REAL(0, 1, 1, 1),                     M(TAND),                        1},
    {"lr",            REAL(0, HUGE_VAL, 1, 1),              RUN_ALL_METHODS,                1},
    {"beta1",         REAL(0, 1, 0, 1),                     RUN_ALL_METHODS,                1},
    {"wd",            REAL(0, HUGE_VAL, 0, 1),              RUN_ALL_METHODS,                1},
    {"epochs",        INT(1, INT32_MAX),                    RUN_ALL_METHODS,                1},
    {"batch_levels",  INT(1, 4096),                         RUN_ALL_METHODS,                1},
    {"batch_frames",  INT(1, 4096),                         RUN_ALL_METHODS,                1},
    {"seed",          INT(0, INT64_MAX),                    RUN_ALL_METHODS,                1},
    {"max_steps",     INT(0, INT64_MAX),                    RUN_ALL_METHODS,                1},
    {"hidden",        INT(1, 1 << 20),                      RUN_ALL_METHODS,                1},
    {"channels",      INT(1, 4096),                         RUN_ALL_METHODS,                1},
    {"threads",       INT(1, 64),                           RUN_ALL_METHODS,                0},
};
#undef M
#undef INT
#undef REAL

int run_option_count(void) { return (int)(sizeof OPTIONS / sizeof OPTIONS[0]); }

const run_option_range *run_option_at(int i) { return i >= 0 && i < run_option_count() ? &OPTIONS[i] : NULL; }

const run_option_range *run_option_find(const char *key) {
    for (int i = 0; i < run_option_count(); i++)
        if (!strcmp(OPTIONS[i].key, key)) return &OPTIONS[i];
    return NULL;
}

/* "[0, 1]", "(0, inf)", "1..4096" */
static void range_text(char *buf, size_t n, const run_option_range *r) {
    if (r->integer) snprintf(buf, n, "%lld..%lld", (long long)r->ilo, (long long)r->ihi);
    else if (isinf(r->hi)) snprintf(buf, n, "%c%g, inf)", r->lo_open ? '(' : '[', r->lo);
    else snprintf(buf, n, "%c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']');
}

/* the methods an option is for, when not all: " (for and, sand)" */
static void methods_text(char *buf, size_t n, unsigned methods) {
    buf[0] = 0;
    if (methods == RUN_ALL_METHODS) return;
    size_t k = (size_t)snprintf(buf, n, " (an option of");
    for (int m = 0, first = 1; m < RUN_NMETHODS && k < n; m++)
        if (methods & (1u << m)) {
            k += (size_t)snprintf(buf + k, n - k, "%s %s", first ? "" : ",", run_method_name(m));
            first = 0;
        }
    if (k < n) snprintf(buf + k, n - k, ")");
}

static void opt_name(char *buf, size_t n, const char *key) {
    snprintf(buf, n, "%s", key);
    for (char *p = buf; *p; p++)
        if (*p == '_') *p = '-';
}

static int out_of_range(const run_option_range *r, const char *vtext, const char *where, int as_key, int code,
                        cb_err *e) {
    char rg[64], ms[96], nm[64];
    range_text(rg, sizeof rg, r);
    const char *sep = where && *where ? ": " : "";
    if (!where) where = "";
    if (as_key) return cb_fail(e, code, "%s%skey \"%s\" is %s, outside %s", where, sep, r->key, vtext, rg);
    methods_text(ms, sizeof ms, r->methods);
    opt_name(nm, sizeof nm, r->key);
    return cb_fail(e, code, "%s%s--%s %s is outside %s%s", where, sep, nm, vtext, rg, ms);
}

int run_option_check_real(const char *key, double v, const char *where, int as_key, int code, cb_err *e) {
    const run_option_range *r = run_option_find(key);
    if (!r || r->integer) return cb_fail(e, CB_EARG, "%s: no real range for option \"%s\"", where, key);
    int ok = (r->lo_open ? v > r->lo : v >= r->lo) && (r->hi_open ? v < r->hi : v <= r->hi);
    if (ok) return 0;
    char vt[40];
    snprintf(vt, sizeof vt, "%g", v);
    return out_of_range(r, vt, where, as_key, code, e);
}

int run_option_check_int(const char *key, int64_t v, const char *where, int as_key, int code, cb_err *e) {
    const run_option_range *r = run_option_find(key);
    if (!r || !r->integer) return cb_fail(e, CB_EARG, "%s: no integer range for option \"%s\"", where, key);
    if (v >= r->ilo && v <= r->ihi) return 0;
    char vt[40];
    snprintf(vt, sizeof vt, "%lld", (long long)v);
    return out_of_range(r, vt, where, as_key, code, e);
}

/* ---- the word options ---- */

const char *run_sampling_name(int s) { return s == RUN_SAMPLING_EPOCH ? "epoch" : s == RUN_SAMPLING_REPLACE ? "replace" : "?"; }

int run_sampling_parse(const char *s, int *out) {
    if (!strcmp(s, "replace")) *out = RUN_SAMPLING_REPLACE;
    else if (!strcmp(s, "epoch")) *out = RUN_SAMPLING_EPOCH;
    else return CB_EARG;
    return 0;
}

const char *run_best_by_name(int b) { return b == RUN_BEST_LOSS ? "loss" : b == RUN_BEST_ACC ? "acc" : "?"; }

int run_best_by_parse(const char *s, int *out) {
    if (!strcmp(s, "acc")) *out = RUN_BEST_ACC;
    else if (!strcmp(s, "loss")) *out = RUN_BEST_LOSS;
    else return CB_EARG;
    return 0;
}

/* a key of config.json read as an integer or a number, checked against its range */
static int get_opt_int(json_t *o, const char *name, const char *key, int64_t *v, cb_err *e) {
    int rc = rj_int(o, name, key, INT64_MIN, INT64_MAX, v, e);
    return rc ? rc : run_option_check_int(key, *v, name, 1, CB_EFORMAT, e);
}

static int get_opt_real(json_t *o, const char *name, const char *key, double *v, cb_err *e) {
    int rc = rj_num(o, name, key, 0, v, e);
    return rc ? rc : run_option_check_real(key, *v, name, 1, CB_EFORMAT, e);
}

static json_t *range(int32_t lo, int32_t hi) { return json_pack("[II]", (json_int_t)lo, (json_int_t)hi); }

int run_config_encode(run_text *out, const run_config *c, cb_err *e) {
    const char *method = run_method_name(c->method);
    if (!method) return cb_fail(e, CB_EARG, "config.json: method %d is not a method", c->method);
    if (c->seed > (uint64_t)INT64_MAX) return cb_fail(e, CB_EARG, "config.json: seed %llu is too large", (unsigned long long)c->seed);
    double tand_beta = c->tand_beta == 0 ? RUN_TAND_BETA_DEFAULT : c->tand_beta;
    if (!(tand_beta > 0 && tand_beta < 1))
        return cb_fail(e, CB_EARG, "config.json: tand_beta %g is not in (0, 1)", c->tand_beta);
    if (!(c->beta1 >= 0 && c->beta1 < 1)) return cb_fail(e, CB_EARG, "config.json: beta1 %g is not in [0, 1)", c->beta1);
    if (c->sampling != RUN_SAMPLING_REPLACE && c->sampling != RUN_SAMPLING_EPOCH)
        return cb_fail(e, CB_EARG, "config.json: sampling %d is not replace or epoch", c->sampling);
    if (c->best_by != RUN_BEST_ACC && c->best_by != RUN_BEST_LOSS)
        return cb_fail(e, CB_EARG, "config.json: best_by %d is not acc or loss", c->best_by);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:[iii], s:i, s:I, s:s, s:o, s:o, s:o, s:b, s:i, s:o, s:s, s:o, s:s, s:i, "
                          "s:i, s:I, s:I, s:i, s:I, s:i, s:I}",
                          "format", FORMAT, "version", RUN_VERSION, "coinbc_version", CB_VERSION, "net",
                          model_net_name(c->net.net), "channels", c->net.channels[0], c->net.channels[1],
                          c->net.channels[2], "hidden", c->net.hidden, "params", (json_int_t)c->params, "method", method,
                          "tau", rj_real(c->tau), "sand_k", rj_real(c->sand_k),
                          "tand_beta", rj_real(tand_beta), "rescale", c->rescale ? 1 : 0,
                          "epochs", c->epochs, "lr", rj_real(c->lr), "lr_schedule", c->lr_decay ? "step" : "const",
                          "wd", rj_real(c->wd), "wd_mode", c->wd_mode == RUN_WD_DECOUPLED ? "decoupled" : "l2",
                          "batch_levels", c->batch_levels, "batch_frames", c->batch_frames, "seed", (json_int_t)c->seed,
                          "max_steps", (json_int_t)c->max_steps, "train_levels", c->train_levels, "train_frames",
                          (json_int_t)c->train_frames, "val_levels", c->val_levels, "steps_per_epoch",
                          (json_int_t)c->steps_per_epoch);
    if (o && (json_object_set_new(o, "beta1", rj_real(c->beta1)) ||
              json_object_set_new(o, "sampling", json_string(run_sampling_name(c->sampling))) ||
              json_object_set_new(o, "best_by", json_string(run_best_by_name(c->best_by))))) {
        json_decref(o);
        o = NULL;
    }
    if (o && c->has_data) {
        char crc[16], vcrc[16];
        snprintf(crc, sizeof crc, "%08x", c->data_manifest_crc);
        snprintf(vcrc, sizeof vcrc, "%08x", c->val_manifest_crc);
        json_t *more = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "data", c->data, "data_manifest_crc", crc,
                                 "train_seed_range", range(c->train_seed_lo, c->train_seed_hi), "val_data", c->val_data,
                                 "val_manifest_crc", vcrc, "val_seed_range", range(c->val_seed_lo, c->val_seed_hi));
        if (!more || json_object_update(o, more)) {
            json_decref(o);
            o = NULL;
        }
        json_decref(more);
    }
    return rj_dump(out, o, 2, "config.json", e);
}

static int get_crc(json_t *o, const char *name, const char *key, uint32_t *out, cb_err *e) {
    char s[32];
    int rc = rj_str(o, name, key, s, sizeof s, e);
    if (rc) return rc;
    if (cb_parse_hex32_exact(s, strlen(s), out))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is \"%s\", expected 8 lower-case hex digits", name, key, s);
    return 0;
}

static int get_range(json_t *o, const char *name, const char *key, int32_t *lo, int32_t *hi, cb_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v) return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is missing", name, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1)))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\": expected [first, last] level seeds", name, key);
    json_int_t a = json_integer_value(json_array_get(v, 0)), b = json_integer_value(json_array_get(v, 1));
    int none = a == -1 && b == -1;
    if (!none && (a < 0 || b < a || b > INT32_MAX))
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is [%lld, %lld], not a range of level seeds", name, key,
                       (long long)a, (long long)b);
    *lo = (int32_t)a;
    *hi = (int32_t)b;
    return 0;
}

static const char *const KEYS[] = {
    "coinbc_version", "net", "channels", "hidden", "params", "method", "tau", "sand_k", "tand_beta", "rescale", "epochs", "lr", "beta1", "sampling", "best_by",
    "lr_schedule", "wd", "wd_mode", "batch_levels", "batch_frames", "seed", "max_steps", "train_levels",
    "train_frames", "val_levels", "steps_per_epoch", "data", "data_manifest_crc", "train_seed_range", "val_data",
    "val_manifest_crc", "val_seed_range", NULL};

static int decode(void *p, json_t *o, const char *name, cb_err *e) {
    run_config *c = p;
    char s[64];
    int64_t v;
    int rc;
    if ((rc = rj_header(o, name, FORMAT, &c->version, e)) || (rc = rj_only(o, name, KEYS, e))) return rc;
    if ((rc = rj_str(o, name, "coinbc_version", c->coinbc_version, sizeof c->coinbc_version, e))) return rc;
    if ((rc = rj_str(o, name, "net", s, sizeof s, e))) return rc;
    if (model_config_default(&c->net, s))
        return cb_fail(e, CB_EFORMAT, "%s: key \"net\" is \"%s\", not a network (impala or nature)", name, s);
    json_t *ch = json_object_get(o, "channels");
    if (!ch) return cb_fail(e, CB_EFORMAT, "%s: key \"channels\" is missing", name);
    if (!json_is_array(ch) || json_array_size(ch) != 3)
        return cb_fail(e, CB_EFORMAT, "%s: key \"channels\": expected an array of 3 integers", name);
    for (int k = 0; k < 3; k++) {
        json_t *x = json_array_get(ch, (size_t)k);
        if (!json_is_integer(x))
            return cb_fail(e, CB_EFORMAT, "%s: key \"channels\": entry %d is not an integer", name, k);
        if ((rc = run_option_check_int("channels", json_integer_value(x), name, 1, CB_EFORMAT, e))) return rc;
        c->net.channels[k] = (int)json_integer_value(x);
    }
    if ((rc = get_opt_int(o, name, "hidden", &v, e))) return rc;
    c->net.hidden = (int)v;
    if ((rc = rj_int(o, name, "params", 1, INT64_MAX, &v, e))) return rc;
    c->params = (uint64_t)v;
    model plan; /* params is what the network described builds */
    cb_err pe = {0};
    if (model_plan(&plan, &c->net, &pe))
        return cb_fail(e, CB_EFORMAT, "%s: keys \"net\", \"channels\", \"hidden\" describe no network: %s", name, pe.msg);
    if ((uint64_t)plan.nparams != c->params)
        return cb_fail(e, CB_EFORMAT, "%s: key \"params\" is %llu, but the network it describes (%s, channels %d,%d,%d, "
                       "hidden %d) has %llu parameters", name, (unsigned long long)c->params, model_net_name(c->net.net),
                       c->net.channels[0], c->net.channels[1], c->net.channels[2], c->net.hidden,
                       (unsigned long long)plan.nparams);
    if ((rc = rj_str(o, name, "method", s, sizeof s, e))) return rc;
    if (run_method_parse(s, &c->method))
        return cb_fail(e, CB_EFORMAT, "%s: key \"method\" is \"%s\", not a method (%s)", name, s, run_method_list());
    if ((rc = get_opt_real(o, name, "tau", &c->tau, e)) || (rc = get_opt_real(o, name, "sand_k", &c->sand_k, e)) ||
        (rc = rj_bool(o, name, "rescale", &c->rescale, e)))
        return rc;
    /* tand_beta came with tand, without a version change: a config.json
     * written before has no such key and reads with tand's default */
    c->tand_beta = RUN_TAND_BETA_DEFAULT;
    if (json_object_get(o, "tand_beta") && (rc = get_opt_real(o, name, "tand_beta", &c->tand_beta, e))) return rc;
    if ((rc = get_opt_int(o, name, "epochs", &v, e))) return rc;
    c->epochs = (int)v;
    if ((rc = get_opt_real(o, name, "lr", &c->lr, e))) return rc;
    /* beta1, sampling and best_by came without a version change: a
     * config.json written before them has no such keys and reads with
     * their defaults (Adam's 0.9, replace, acc), the options it ran with */
    c->beta1 = RUN_BETA1_DEFAULT;
    if (json_object_get(o, "beta1") && (rc = get_opt_real(o, name, "beta1", &c->beta1, e))) return rc;
    c->sampling = RUN_SAMPLING_REPLACE;
    if (json_object_get(o, "sampling")) {
        if ((rc = rj_str(o, name, "sampling", s, sizeof s, e))) return rc;
        if (run_sampling_parse(s, &c->sampling))
            return cb_fail(e, CB_EFORMAT, "%s: key \"sampling\" is \"%s\", not replace or epoch", name, s);
    }
    c->best_by = RUN_BEST_ACC;
    if (json_object_get(o, "best_by")) {
        if ((rc = rj_str(o, name, "best_by", s, sizeof s, e))) return rc;
        if (run_best_by_parse(s, &c->best_by))
            return cb_fail(e, CB_EFORMAT, "%s: key \"best_by\" is \"%s\", not acc or loss", name, s);
    }
    if ((rc = rj_str(o, name, "lr_schedule", s, sizeof s, e))) return rc;
    if (strcmp(s, "step") && strcmp(s, "const"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"lr_schedule\" is \"%s\", not step or const", name, s);
    c->lr_decay = !strcmp(s, "step");
    if ((rc = get_opt_real(o, name, "wd", &c->wd, e))) return rc;
    if ((rc = rj_str(o, name, "wd_mode", s, sizeof s, e))) return rc;
    if (strcmp(s, "l2") && strcmp(s, "decoupled"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"wd_mode\" is \"%s\", not l2 or decoupled", name, s);
    c->wd_mode = !strcmp(s, "decoupled") ? RUN_WD_DECOUPLED : RUN_WD_L2;
    if ((rc = get_opt_int(o, name, "batch_levels", &v, e))) return rc;
    c->batch_levels = (int)v;
    if ((rc = get_opt_int(o, name, "batch_frames", &v, e))) return rc;
    c->batch_frames = (int)v;
    if ((rc = get_opt_int(o, name, "seed", &v, e))) return rc;
    c->seed = (uint64_t)v;
    if ((rc = get_opt_int(o, name, "max_steps", &c->max_steps, e))) return rc;
    if ((rc = rj_int(o, name, "train_levels", 1, INT32_MAX, &v, e))) return rc;
    c->train_levels = (int)v;
    if ((rc = rj_int(o, name, "train_frames", 1, INT64_MAX, &c->train_frames, e))) return rc;
    if ((rc = rj_int(o, name, "val_levels", 0, INT32_MAX, &v, e))) return rc;
    c->val_levels = (int)v;
    if ((rc = rj_int(o, name, "steps_per_epoch", 1, INT64_MAX, &c->steps_per_epoch, e))) return rc;
    /* provenance: all of it or none */
    c->has_data = json_object_get(o, "data") != NULL;
    if (!c->has_data) {
        static const char *const prov[] = {"data_manifest_crc", "train_seed_range", "val_data", "val_manifest_crc",
                                           "val_seed_range"};
        for (int k = 0; k < 5; k++)
            if (json_object_get(o, prov[k]))
                return cb_fail(e, CB_EFORMAT, "%s: key \"data\" is missing (it goes with \"%s\")", name, prov[k]);
        return 0;
    }
    if ((rc = rj_str(o, name, "data", c->data, sizeof c->data, e)) ||
        (rc = get_crc(o, name, "data_manifest_crc", &c->data_manifest_crc, e)) ||
        (rc = get_range(o, name, "train_seed_range", &c->train_seed_lo, &c->train_seed_hi, e)) ||
        (rc = rj_str(o, name, "val_data", c->val_data, sizeof c->val_data, e)) ||
        (rc = get_crc(o, name, "val_manifest_crc", &c->val_manifest_crc, e)) ||
        (rc = get_range(o, name, "val_seed_range", &c->val_seed_lo, &c->val_seed_hi, e)))
        return rc;
    if (c->train_seed_lo < 0)
        return cb_fail(e, CB_EFORMAT, "%s: key \"train_seed_range\" is empty ([-1, -1])", name);
    return 0;
}

int run_config_decode(run_config *c, const char *text, size_t n, const char *name, cb_err *e) {
    return rj_decode(c, sizeof *c, decode, text, n, name, e);
}

int run_config_write(const char *dir, const run_config *c, cb_err *e) {
    run_text t = {0};
    return rj_write(dir, "config.json", &t, run_config_encode(&t, c, e), e);
}

int run_config_read(run_config *c, const char *dir, cb_err *e) {
    return rj_read_record(c, sizeof *c, decode, dir, "config.json", RUN_RECORD_MAX_BYTES, e);
}

/* ---- what a resume may not change ---- */

typedef struct {
    char *s;
    size_t n, k;
    int count;
} diff_out;

static void add(diff_out *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(diff_out *d, const char *fmt, ...) {
    d->count++;
    if (d->k + 1 >= d->n) return;
    if (d->count > 1) d->k += (size_t)snprintf(d->s + d->k, d->n - d->k, "; ");
    if (d->k + 1 >= d->n) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(d->s + d->k, d->n - d->k, fmt, ap);
    va_end(ap);
    d->k = w < 0 ? d->k : d->k + (size_t)w >= d->n ? d->n - 1 : d->k + (size_t)w;
}

/* two reals that differ, in as many digits as it takes to tell them apart */
static void real_diff(diff_out *d, const char *opt, double a, double b) {
    if (a == b) return;
    char x[40], y[40];
    snprintf(x, sizeof x, "%g", a);
    snprintf(y, sizeof y, "%g", b);
    if (!strcmp(x, y)) snprintf(x, sizeof x, "%.17g", a), snprintf(y, sizeof y, "%.17g", b);
    add(d, "--%s %s (now %s)", opt, x, y);
}

static void int_diff(diff_out *d, const char *what, long long a, long long b) {
    if (a != b) add(d, "%s %lld (now %lld)", what, a, b);
}

static void str_diff(diff_out *d, const char *opt, const char *a, const char *b) {
    if (strcmp(a, b)) add(d, "--%s %s (now %s)", opt, a, b);
}

static void seeds_text(char *buf, size_t n, int32_t lo, int32_t hi) {
    if (lo < 0) snprintf(buf, n, "none");
    else snprintf(buf, n, "%d-%d", lo, hi);
}

int run_config_diff(const run_config *old, const run_config *new, char *msg, size_t n) {
    diff_out d = {msg, n, 0, 0};
    if (n) msg[0] = 0;
    const model_config *a = &old->net, *b = &new->net;
    str_diff(&d, "net", model_net_name(a->net), model_net_name(b->net));
    if (memcmp(a->channels, b->channels, sizeof a->channels))
        add(&d, "--channels %d,%d,%d (now %d,%d,%d)", a->channels[0], a->channels[1], a->channels[2], b->channels[0],
            b->channels[1], b->channels[2]);
    int_diff(&d, "--hidden", a->hidden, b->hidden);
    str_diff(&d, "method", run_method_name(old->method) ? run_method_name(old->method) : "?",
             run_method_name(new->method) ? run_method_name(new->method) : "?");
    real_diff(&d, "tau", old->tau, new->tau);
    real_diff(&d, "sand-k", old->sand_k, new->sand_k);
    real_diff(&d, "tand-beta", old->tand_beta, new->tand_beta);
    str_diff(&d, "rescale", old->rescale ? "on" : "off", new->rescale ? "on" : "off");
    real_diff(&d, "lr", old->lr, new->lr);
    real_diff(&d, "beta1", old->beta1, new->beta1);
    str_diff(&d, "sampling", run_sampling_name(old->sampling), run_sampling_name(new->sampling));
    str_diff(&d, "best-by", run_best_by_name(old->best_by), run_best_by_name(new->best_by));
    str_diff(&d, "lr-schedule", old->lr_decay ? "step" : "const", new->lr_decay ? "step" : "const");
    real_diff(&d, "wd", old->wd, new->wd);
    str_diff(&d, "wd-mode", old->wd_mode == RUN_WD_DECOUPLED ? "decoupled" : "l2",
             new->wd_mode == RUN_WD_DECOUPLED ? "decoupled" : "l2");
    int_diff(&d, "--batch-levels", old->batch_levels, new->batch_levels);
    int_diff(&d, "--batch-frames", old->batch_frames, new->batch_frames);
    if (old->seed != new->seed)
        add(&d, "--seed %llu (now %llu)", (unsigned long long)old->seed, (unsigned long long)new->seed);
    if (old->has_data && new->has_data) {
        if (old->data_manifest_crc != new->data_manifest_crc)
            add(&d, "DATA %s with manifest CRC %08x (now %s with %08x: another dataset)", old->data,
                old->data_manifest_crc, new->data, new->data_manifest_crc);
        char x[40], y[40];
        seeds_text(x, sizeof x, old->train_seed_lo, old->train_seed_hi);
        seeds_text(y, sizeof y, new->train_seed_lo, new->train_seed_hi);
        if (strcmp(x, y)) add(&d, "--train-levels %s (now %s)", x, y);
        int old_val = old->val_seed_lo >= 0, new_val = new->val_seed_lo >= 0;
        if (old_val != new_val)
            add(&d, "validation data %s (now %s)", old_val ? old->val_data : "none", new_val ? new->val_data : "none");
        else if (old_val && old->val_manifest_crc != new->val_manifest_crc)
            add(&d, "--val %s with manifest CRC %08x (now %s with %08x: another dataset)", old->val_data,
                old->val_manifest_crc, new->val_data, new->val_manifest_crc);
        seeds_text(x, sizeof x, old->val_seed_lo, old->val_seed_hi);
        seeds_text(y, sizeof y, new->val_seed_lo, new->val_seed_hi);
        if (strcmp(x, y)) add(&d, "--val-levels %s (now %s)", x, y);
    }
    int_diff(&d, "training levels", old->train_levels, new->train_levels);
    int_diff(&d, "training frames", (long long)old->train_frames, (long long)new->train_frames);
    int_diff(&d, "validation levels", old->val_levels, new->val_levels);
    int_diff(&d, "steps per epoch", (long long)old->steps_per_epoch, (long long)new->steps_per_epoch);
    return d.count;
}

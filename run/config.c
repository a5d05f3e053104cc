/* config.c - config.json of a run folder: every training option, the
 * network, the data's size and (from coinbc train) its provenance. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-run-config"

/* ---- the option schema: one table for train, this reader and tune ---- */

#define STR_(x) #x
#define STR(x) STR_(x)
/* the method table's names as --method's words */
#define METHOD_WORD(ID, name, options, split, state, combine, mask, step, help) name,
static const char *const METHOD_WORDS[] = {RUN_METHOD_TABLE(METHOD_WORD) NULL};
#undef METHOD_WORD

#define INTS(lo, hi, n) .type = RUN_OPT_INT, .count = (n), .integer = 1, .ilo = (lo), .ihi = (hi)
#define INT(lo, hi) INTS(lo, hi, 1)
#define REAL(l, h, lopen, hopen) .type = RUN_OPT_REAL, .count = 1, .lo = (l), .hi = (h), .lo_open = (lopen), .hi_open = (hopen)
#define WORDS(...) .type = RUN_OPT_WORD, .count = 1, .words = (const char *const[]){__VA_ARGS__, NULL}
#define WORDLIST(w) .type = RUN_OPT_WORD, .count = 1, .words = (w)
#define OF(bits) .mopt = (bits)
/* In --help's order. Ranges are written here only. */
static const run_option_range OPTIONS[] = {
    {"train_levels", .type = RUN_OPT_SEEDS, .count = 1, .meta = "A-B",
     .help = "training level seeds (default: every level of DATA)"},
    {"val_levels", .type = RUN_OPT_SEEDS, .count = 1, .meta = "C-D",
     .help = "validation level seeds (from DATA, or from --val)"},
    {"val", .type = RUN_OPT_PATH, .count = 1, .meta = "DATA2",
     .help = "validation dataset (default: --val-levels of DATA, or none)"},
    {"method", WORDLIST(METHOD_WORDS), .def = "mean", .meta = "M", .in_config = 1,
     .help = "how the level gradients are combined (the methods, below)"},
    {"tau", REAL(0, 1, 0, 0), OF(RUN_MOPT_TAU), .def = "0.8", .meta = "T", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "agreement threshold"},
    {"sand_k", REAL(0, HUGE_VAL, 1, 1), OF(RUN_MOPT_SAND_K), .def = "1", .meta = "K", .in_config = 1,
     .tune = RUN_TUNE_SEARCH, .help = "SAND-mask steepness"},
    {"tand_beta", REAL(0, 1, 1, 1), OF(RUN_MOPT_TAND_BETA), .def = STR(RUN_TAND_BETA_DEFAULT), .meta = "B",
     .in_config = 1, .tune = RUN_TUNE_SEARCH, .help = "tand: decay of the sign moment"},
    {"rescale", WORDS("off", "on"), OF(RUN_MOPT_RESCALE), .def = "on", .meta = "on|off", .in_config = 1,
     .tune = RUN_TUNE_SEARCH, .help = "rescale by 1/(fraction of each tensor's mask on)"},
    {"net", WORDS("impala", "nature"), .def = "impala", .meta = "NET", .in_config = 1, .tune = RUN_TUNE_FIXED,
     .help = "the network"},
    {"channels", INTS(1, MODEL_MAX_CHANNELS, MODEL_NET_MAX_STAGES), .meta = "A,B,C", .in_config = 1, .tune = RUN_TUNE_FIXED,
     .help = "channel counts (impala 16,32,32; nature 32,64,64)"},
    {"hidden", INT(1, MODEL_MAX_HIDDEN), .meta = "H", .in_config = 1, .tune = RUN_TUNE_FIXED,
     .help = "hidden width (impala 256, nature 512)"},
    {"epochs", INT(1, INT32_MAX), .def = "10", .meta = "N", .in_config = 1,
     .help = "epochs; an epoch is one pass of the training frames' worth of steps"},
    {"lr", REAL(0, HUGE_VAL, 1, 1), .def = "5e-4", .meta = "LR", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "Adam learning rate"},
    {"beta1", REAL(0, 1, 0, 1), .def = STR(RUN_BETA1_DEFAULT), .meta = "B", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "Adam's first-moment decay (every method, tand too)"},
    {"lr_schedule", WORDS("const", "step"), .def = "step", .meta = "S", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "step (x0.1 at 3/4 of training) or const (the learning rate throughout)"},
    {"wd", REAL(0, HUGE_VAL, 0, 1), .def = "0", .meta = "WD", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "weight decay, added after the mask (tand: see below)"},
    {"wd_mode", WORDS("l2", "decoupled"), .def = "l2", .meta = "M", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "l2 (added to the gradient) or decoupled (subtracted from the weights)"},
    {"batch_levels", INT(1, 4096), .def = "16", .meta = "L", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "levels per batch"},
    {"batch_frames", INT(1, 4096), .def = "8", .meta = "B", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "frames per level per batch"},
    {"sampling", WORDS("replace", "epoch"), .def = "replace", .meta = "S", .in_config = 1, .tune = RUN_TUNE_SEARCH,
     .help = "replace (each step draws L distinct levels and B frames of each, with replacement) or epoch (each "
             "epoch visits every level's frames once, in shuffled (level, chunk of B frames) batches; see below)"},
    {"best_by", WORDS("acc", "loss"), .def = "acc", .meta = "F", .in_config = 1, .tune = RUN_TUNE_FIXED,
     .help = "the validation figure that picks best.ckpt: acc (highest) or loss (lowest); a tie keeps the earlier "
             "epoch"},
    {"seed", INT(0, INT64_MAX), .def = "0", .meta = "S", .in_config = 1, .tune = RUN_TUNE_FIXED,
     .help = "random seed for initialisation and sampling"},
    {"resume", .type = RUN_OPT_FLAG, .help = "continue from RUN/latest.ckpt with RUN/config.json's options and data "
                                             "(see below)"},
    {"max_steps", INT(0, INT64_MAX), .def = "0", .meta = "N", .in_config = 1,
     .help = "stop after N optimizer steps in total (0: no limit)"},
    {"threads", INT(1, 64), .meta = "T",
     .help = "threads for loading data and training (default: all cores; results do not depend on it)"},
    {"quiet", .type = RUN_OPT_FLAG, .help = "no progress output"},
    {"out", .type = RUN_OPT_PATH, .count = 1, .meta = "RUN", .help = "run folder to write (-o)"},
};
#undef INT
#undef INTS
#undef REAL
#undef WORDS
#undef WORDLIST
#undef OF

int run_option_count(void) { return (int)(sizeof OPTIONS / sizeof OPTIONS[0]); }

const run_option_range *run_option_at(int i) { return i >= 0 && i < run_option_count() ? &OPTIONS[i] : NULL; }

const run_option_range *run_option_find(const char *key) {
    for (int i = 0; i < run_option_count(); i++)
        if (!strcmp(OPTIONS[i].key, key)) return &OPTIONS[i];
    return NULL;
}

const run_option_range *run_option_named(const char *name) {
    for (int i = 0; i < run_option_count(); i++) {
        const char *k = OPTIONS[i].key, *q = name;
        while (*k && (*k == *q || (*k == '_' && *q == '-'))) k++, q++;
        if (!*k && !*q) return &OPTIONS[i];
    }
    return NULL;
}

unsigned run_option_methods(const run_option_range *r) {
    if (!r->mopt) return RUN_ALL_METHODS;
    unsigned m = 0;
    for (int k = 0; k < RUN_NMETHODS; k++)
        if (run_method(k)->options & r->mopt) m |= 1u << k;
    return m;
}

int run_option_word(const run_option_range *r, const char *w) {
    for (int k = 0; r && r->type == RUN_OPT_WORD && r->words[k]; k++)
        if (!strcmp(r->words[k], w)) return k;
    return -1;
}

const char *run_option_word_at(const run_option_range *r, int k) {
    if (!r || r->type != RUN_OPT_WORD || k < 0) return NULL;
    for (int i = 0; i < k; i++)
        if (!r->words[i]) return NULL;
    return r->words[k];
}

void run_option_range_text(char *buf, size_t n, const run_option_range *r) {
    if (r->integer) snprintf(buf, n, "%lld..%lld", (long long)r->ilo, (long long)r->ihi);
    else if (isinf(r->hi)) snprintf(buf, n, "%c%g, inf)", r->lo_open ? '(' : '[', r->lo);
    else snprintf(buf, n, "%c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']');
}

/* the methods an option is for, when not all: " (an option of and, sand)" */
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

void run_option_name(char *buf, size_t n, const run_option_range *r) {
    snprintf(buf, n, "%s", r->key);
    for (char *p = buf; *p; p++)
        if (*p == '_') *p = '-';
}

static void words_text(char *buf, size_t n, const run_option_range *r);

/* one of r's words stands in text as a word of its own */
static int names_a_word(const char *text, const run_option_range *r) {
    for (int k = 0; r->words[k]; k++) {
        size_t n = strlen(r->words[k]);
        for (const char *p = strstr(text, r->words[k]); p; p = strstr(p + 1, r->words[k]))
            if ((p == text || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n])) return 1;
    }
    return 0;
}

void run_option_help(char *buf, size_t n, const run_option_range *r) {
    char rg[64] = "", ms[128] = "", df[64] = "";
    if (r->type == RUN_OPT_INT || r->type == RUN_OPT_REAL) {
        char t[48];
        run_option_range_text(t, sizeof t, r);
        snprintf(rg, sizeof rg, r->count > 1 ? "; each in %s" : "; in %s", t);
    }
    unsigned m = run_option_methods(r);
    if (m != RUN_ALL_METHODS) {
        size_t k = (size_t)snprintf(ms, sizeof ms, "; for");
        for (int i = 0, first = 1; i < RUN_NMETHODS && k < sizeof ms; i++)
            if (m & (1u << i)) {
                k += (size_t)snprintf(ms + k, sizeof ms - k, "%s %s", first ? "" : ",", run_method_name(i));
                first = 0;
            }
    }
    if (r->def) snprintf(df, sizeof df, " (default %s)", r->def);
    char ws[160] = "";
    if (r->type == RUN_OPT_WORD && !names_a_word(r->help, r)) { /* the words, unless the help names them */
        char t[150];
        words_text(t, sizeof t, r);
        snprintf(ws, sizeof ws, ": %s", t);
    }
    snprintf(buf, n, "%s%s%s%s%s", r->help, ws, rg, ms, df);
}

static int out_of_range(const run_option_range *r, const char *vtext, const char *where, int as_key, int code,
                        cb_err *e) {
    char rg[64], ms[96], nm[64];
    run_option_range_text(rg, sizeof rg, r);
    const char *sep = where && *where ? ": " : "";
    if (!where) where = "";
    if (as_key) return cb_fail(e, code, "%s%skey \"%s\" is %s, outside %s", where, sep, r->key, vtext, rg);
    methods_text(ms, sizeof ms, run_option_methods(r));
    run_option_name(nm, sizeof nm, r);
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

/* ---- the network description: its ranges are the schema's net, channels and hidden ---- */

int run_net_check(const model_net_desc *c, const char *where, int as_key, int code, cb_err *e) {
    const run_option_range *r = run_option_find("net");
    int stages = model_net_stages(c->kind), rc;
    if (!run_option_word_at(r, c->kind) || stages < 1)
        return as_key ? cb_fail(e, code, "%s: key \"net\" is %d, not a network", where ? where : "", c->kind)
                      : cb_fail(e, code, "%s%snet %d is not a --net", where ? where : "", where ? ": " : "", c->kind);
    for (int k = 0; k < stages; k++)
        if ((rc = run_option_check_int("channels", c->channels[k], where, as_key, code, e))) return rc;
    return run_option_check_int("hidden", c->hidden, where, as_key, code, e);
}

/* ---- the word options ---- */

/* a word option's words as "a, b or c" */
static void words_text(char *buf, size_t n, const run_option_range *r) {
    size_t k = 0;
    buf[0] = 0;
    int nw = 0;
    while (run_option_word_at(r, nw)) nw++;
    for (int i = 0; i < nw && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i == 0 ? "" : i + 1 == nw ? " or " : ", ", r->words[i]);
}

/* word k of option key ("?" for another k) */
static const char *word_name(const char *key, int k) {
    const char *w = run_option_word_at(run_option_find(key), k);
    return w ? w : "?";
}

static int word_parse(const char *key, const char *s, int *out) {
    int k = run_option_word(run_option_find(key), s);
    if (k < 0) return CB_EARG;
    *out = k;
    return 0;
}

const char *run_sampling_name(int s) { return word_name("sampling", s); }
int run_sampling_parse(const char *s, int *out) { return word_parse("sampling", s, out); }
const char *run_best_by_name(int b) { return word_name("best_by", b); }
int run_best_by_parse(const char *s, int *out) { return word_parse("best_by", s, out); }

/* a word key of config.json: its number among the option's words */
static int get_opt_word(json_t *o, const char *name, const char *key, int *k, cb_err *e) {
    char s[64], ws[160];
    int rc = rj_str(o, name, key, s, sizeof s, e);
    if (rc) return rc;
    const run_option_range *r = run_option_find(key);
    if ((*k = run_option_word(r, s)) < 0) {
        words_text(ws, sizeof ws, r);
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is \"%s\", not %s", name, key, s, ws);
    }
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

/* The network description's keys of config.json: "net" (the word),
 * "channels" (one integer per stage), "hidden". 0 or -1 (out of memory). */
static int net_encode(json_t *o, const model_net_desc *c) {
    json_t *ch = json_array();
    for (int k = 0; ch && k < model_net_stages(c->kind); k++)
        if (json_array_append_new(ch, json_integer(c->channels[k]))) json_decref(ch), ch = NULL;
    if (!ch) return -1;
    if (json_object_set_new(o, "net", json_string(model_net_name(c->kind)))) {
        json_decref(ch);
        return -1;
    }
    return json_object_set_new(o, "channels", ch) || json_object_set_new(o, "hidden", json_integer(c->hidden)) ? -1 : 0;
}

/* those keys back, checked as train checks them (run_net_check) */
static int net_decode(model_net_desc *c, json_t *o, const char *name, cb_err *e) {
    char s[64], ws[160];
    int64_t v;
    int rc;
    if ((rc = rj_str(o, name, "net", s, sizeof s, e))) return rc;
    if (model_net_default(c, s)) {
        words_text(ws, sizeof ws, run_option_find("net"));
        return cb_fail(e, CB_EFORMAT, "%s: key \"net\" is \"%s\", not a network (%s)", name, s, ws);
    }
    int stages = model_net_stages(c->kind);
    json_t *ch = json_object_get(o, "channels");
    if (!ch) return cb_fail(e, CB_EFORMAT, "%s: key \"channels\" is missing", name);
    if (!json_is_array(ch) || json_array_size(ch) != (size_t)stages)
        return cb_fail(e, CB_EFORMAT, "%s: key \"channels\": expected an array of %d integers", name, stages);
    for (int k = 0; k < stages; k++) {
        json_t *x = json_array_get(ch, (size_t)k);
        if (!json_is_integer(x))
            return cb_fail(e, CB_EFORMAT, "%s: key \"channels\": entry %d is not an integer", name, k);
        json_int_t x_v = json_integer_value(x);
        if (x_v < INT32_MIN || x_v > INT32_MAX) /* (outside any range: the check below names it) */
            return run_option_check_int("channels", x_v, name, 1, CB_EFORMAT, e);
        c->channels[k] = (int)x_v;
    }
    if ((rc = rj_int(o, name, "hidden", INT64_MIN, INT64_MAX, &v, e))) return rc;
    if (v < INT32_MIN || v > INT32_MAX) return run_option_check_int("hidden", v, name, 1, CB_EFORMAT, e);
    c->hidden = (int)v;
    return run_net_check(c, name, 1, CB_EFORMAT, e);
}

int run_config_encode(run_text *out, const run_config *c, cb_err *e) {
    const char *method = run_method_name(c->method);
    if (!method) return cb_fail(e, CB_EARG, "config.json: method %d is not a method", c->method);
    if (c->seed > (uint64_t)INT64_MAX) return cb_fail(e, CB_EARG, "config.json: seed %llu is too large", (unsigned long long)c->seed);
    double tand_beta = c->tand_beta == 0 ? RUN_TAND_BETA_DEFAULT : c->tand_beta;
    int rc;
    if ((rc = run_option_check_real("tand_beta", tand_beta, "config.json", 1, CB_EARG, e)) ||
        (rc = run_option_check_real("beta1", c->beta1, "config.json", 1, CB_EARG, e)))
        return rc;
    if (!run_option_word_at(run_option_find("sampling"), c->sampling))
        return cb_fail(e, CB_EARG, "config.json: sampling %d is not a --sampling", c->sampling);
    if (!run_option_word_at(run_option_find("best_by"), c->best_by))
        return cb_fail(e, CB_EARG, "config.json: best_by %d is not a --best-by", c->best_by);
    json_t *o = json_pack("{s:s, s:i, s:s}", "format", FORMAT, "version", RUN_VERSION, "coinbc_version", CB_VERSION);
    if (o && net_encode(o, &c->net)) {
        json_decref(o);
        o = NULL;
    }
    json_t *rest = json_pack("{s:I, s:s, s:o, s:o, s:o, s:b, s:i, s:o, s:s, s:o, s:s, s:i, "
                          "s:i, s:I, s:I, s:i, s:I, s:i, s:I}",
                          "params", (json_int_t)c->params, "method", method,
                          "tau", rj_real(c->tau), "sand_k", rj_real(c->sand_k),
                          "tand_beta", rj_real(tand_beta), "rescale", c->rescale ? 1 : 0,
                          "epochs", c->epochs, "lr", rj_real(c->lr), "lr_schedule", word_name("lr_schedule", c->lr_decay != 0),
                          "wd", rj_real(c->wd), "wd_mode", word_name("wd_mode", c->wd_mode == RUN_WD_DECOUPLED),
                          "batch_levels", c->batch_levels, "batch_frames", c->batch_frames, "seed", (json_int_t)c->seed,
                          "max_steps", (json_int_t)c->max_steps, "train_levels", c->train_levels, "train_frames",
                          (json_int_t)c->train_frames, "val_levels", c->val_levels, "steps_per_epoch",
                          (json_int_t)c->steps_per_epoch);
    if (o && (!rest || json_object_update(o, rest))) { /* after net, channels and hidden: the keys' order is the file's */
        json_decref(o);
        o = NULL;
    }
    json_decref(rest);
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

/* the keys of config.json that are not train options (those are the schema's in_config entries) */
static const char *const OTHER_KEYS[] = {"coinbc_version", "params", "train_levels", "train_frames", "val_levels",
                                         "steps_per_epoch", "data", "data_manifest_crc", "train_seed_range",
                                         "val_data", "val_manifest_crc", "val_seed_range", NULL};

/* every key of o is config.json's: format, version, another key above, or a train option's */
static int only_config_keys(json_t *o, const char *name, cb_err *e) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        (void)v;
        const run_option_range *r = run_option_find(k);
        int ok = (r && r->in_config) || !strcmp(k, "format") || !strcmp(k, "version");
        for (int i = 0; OTHER_KEYS[i] && !ok; i++) ok = !strcmp(k, OTHER_KEYS[i]);
        if (!ok) return cb_fail(e, CB_EFORMAT, "%s: unknown key \"%s\"", name, k);
    }
    return 0;
}

static int decode(void *p, json_t *o, const char *name, cb_err *e) {
    run_config *c = p;
    char s[64];
    int64_t v;
    int rc;
    if ((rc = rj_header(o, name, FORMAT, &c->version, e)) || (rc = only_config_keys(o, name, e))) return rc;
    if ((rc = rj_str(o, name, "coinbc_version", c->coinbc_version, sizeof c->coinbc_version, e))) return rc;
    if ((rc = net_decode(&c->net, o, name, e))) return rc;
    if ((rc = rj_int(o, name, "params", 1, INT64_MAX, &v, e))) return rc;
    c->params = (uint64_t)v;
    model plan; /* params is what the network described builds */
    cb_err pe = {0};
    if (model_plan(&plan, &c->net, &pe))
        return cb_fail(e, CB_EFORMAT, "%s: keys \"net\", \"channels\", \"hidden\" describe no network: %s", name, pe.msg);
    char nt[128];
    model_net_text(nt, sizeof nt, &c->net);
    if ((uint64_t)plan.nparams != c->params)
        return cb_fail(e, CB_EFORMAT, "%s: key \"params\" is %llu, but the network it describes (%s) has %llu parameters",
                       name, (unsigned long long)c->params, nt, (unsigned long long)plan.nparams);
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
    if (json_object_get(o, "sampling") && (rc = get_opt_word(o, name, "sampling", &c->sampling, e))) return rc;
    c->best_by = RUN_BEST_ACC;
    if (json_object_get(o, "best_by") && (rc = get_opt_word(o, name, "best_by", &c->best_by, e))) return rc;
    if ((rc = get_opt_word(o, name, "lr_schedule", &c->lr_decay, e))) return rc; /* 1: step */
    if ((rc = get_opt_real(o, name, "wd", &c->wd, e))) return rc;
    if ((rc = get_opt_word(o, name, "wd_mode", &c->wd_mode, e))) return rc;
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
    const model_net_desc *a = &old->net, *b = &new->net;
    str_diff(&d, "net", model_net_name(a->kind), model_net_name(b->kind));
    if (memcmp(a->channels, b->channels, sizeof a->channels)) {
        char ta[16 * MODEL_NET_MAX_STAGES], tb[16 * MODEL_NET_MAX_STAGES];
        model_net_channels_text(ta, sizeof ta, a);
        model_net_channels_text(tb, sizeof tb, b);
        add(&d, "--channels %s (now %s)", ta, tb);
    }
    int_diff(&d, "--hidden", a->hidden, b->hidden);
    str_diff(&d, "method", run_method_name(old->method) ? run_method_name(old->method) : "?",
             run_method_name(new->method) ? run_method_name(new->method) : "?");
    real_diff(&d, "tau", old->tau, new->tau);
    real_diff(&d, "sand-k", old->sand_k, new->sand_k);
    real_diff(&d, "tand-beta", old->tand_beta, new->tand_beta);
    str_diff(&d, "rescale", word_name("rescale", old->rescale != 0), word_name("rescale", new->rescale != 0));
    real_diff(&d, "lr", old->lr, new->lr);
    real_diff(&d, "beta1", old->beta1, new->beta1);
    str_diff(&d, "sampling", run_sampling_name(old->sampling), run_sampling_name(new->sampling));
    str_diff(&d, "best-by", run_best_by_name(old->best_by), run_best_by_name(new->best_by));
    str_diff(&d, "lr-schedule", word_name("lr_schedule", old->lr_decay != 0), word_name("lr_schedule", new->lr_decay != 0));
    real_diff(&d, "wd", old->wd, new->wd);
    str_diff(&d, "wd-mode", word_name("wd_mode", old->wd_mode == RUN_WD_DECOUPLED),
             word_name("wd_mode", new->wd_mode == RUN_WD_DECOUPLED));
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

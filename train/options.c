/* options.c - coinbc train's options (the schema of run/config.c) in
 * train_opts: the defaults, a given value checked against its entry, the
 * options a run's config.json holds, and train_opts to config.json. Where
 * each option lives in train_opts and in run_config is written once, in
 * FIELDS. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "train/train.h"

enum { F_INT, F_I64, F_U64, F_REAL, F_CHANNELS };

/* an option's place in train_opts and in run_config (word options: the word's number) */
typedef struct {
    const char *key;
    size_t opt_off, cfg_off;
    int kind;
} field;

#define F(key, o, c, kind) {key, offsetof(train_opts, o), offsetof(run_config, c), kind}
static const field FIELDS[] = {
    F("method", comb.method, method, F_INT),
    F("tau", comb.tau, tau, F_REAL),
    F("sand_k", comb.sand_k, sand_k, F_REAL),
    F("tand_beta", comb.tand_beta, tand_beta, F_REAL),
    F("rescale", comb.rescale, rescale, F_INT),
    F("net", net.kind, net.kind, F_INT),
    F("channels", net.channels, net.channels, F_CHANNELS),
    F("hidden", net.hidden, net.hidden, F_INT),
    F("epochs", epochs, epochs, F_INT),
    F("lr", lr, lr, F_REAL),
    F("beta1", beta1, beta1, F_REAL),
    F("lr_schedule", lr_decay, lr_decay, F_INT),
    F("wd", wd, wd, F_REAL),
    F("wd_mode", wd_mode, wd_mode, F_INT),
    F("batch_levels", batch_levels, batch_levels, F_INT),
    F("batch_frames", batch_frames, batch_frames, F_INT),
    F("sampling", sampling, sampling, F_INT),
    F("best_by", best_by, best_by, F_INT),
    F("seed", seed, seed, F_U64),
    F("max_steps", max_steps, max_steps, F_I64),
};
#undef F
#define NFIELDS ((int)(sizeof FIELDS / sizeof FIELDS[0]))

static const field *field_of(const char *key) {
    for (int i = 0; i < NFIELDS; i++)
        if (!strcmp(FIELDS[i].key, key)) return &FIELDS[i];
    return NULL;
}

static void copy_field(void *dst, const void *src, int kind) {
    size_t n = kind == F_INT ? sizeof(int) : kind == F_CHANNELS ? sizeof(int) * MODEL_NET_MAX_STAGES : kind == F_REAL ? sizeof(double)
                                                                                               : sizeof(int64_t);
    memcpy(dst, src, n);
}

/* "a, b or c" */
static void words_text(char *buf, size_t n, const run_option_range *r) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; r->words[i] && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i == 0 ? "" : r->words[i + 1] ? ", " : " or ", r->words[i]);
}

int train_opts_set(train_opts *o, const char *key, const train_opt_value *v, cb_err *e) {
    const run_option_range *r = run_option_find(key);
    const field *f = field_of(key);
    if (!r || !f) return cb_fail(e, CB_EARG, "train: %s is not an option train_opts holds", key);
    char name[64], ws[160];
    run_option_name(name, sizeof name, r);
    char *dst = (char *)o + f->opt_off;
    int rc;
    if (r->type == RUN_OPT_WORD) {
        int k = run_option_word(r, v->text ? v->text : "");
        if (k < 0) {
            words_text(ws, sizeof ws, r);
            return cb_fail(e, CB_EARG, "unknown --%s '%s' (%s)", name, v->text ? v->text : "", ws);
        }
        if (!strcmp(key, "net")) { /* the network, with its channels and hidden width (given ones come after) */
            model_net_desc c;
            if (model_net_default(&c, v->text)) return cb_fail(e, CB_EARG, "unknown --net '%s'", v->text);
            o->net = c;
            return 0;
        }
        memcpy(dst, &k, sizeof k);
        return 0;
    }
    if (f->kind == F_CHANNELS) { /* channels: A,B,C, one per stage of the network set so far */
        model_net_desc c = o->net;
        if ((rc = model_net_parse_channels(&c, v->text, e)) || (rc = run_net_check(&c, NULL, 0, CB_EARG, e))) return rc;
        o->net = c;
        return 0;
    }
    if (r->type == RUN_OPT_REAL) {
        if ((rc = run_option_check_real(key, v->num, NULL, 0, CB_EARG, e))) return rc;
        memcpy(dst, &v->num, sizeof v->num);
        return 0;
    }
    if ((rc = run_option_check_int(key, v->i, NULL, 0, CB_EARG, e))) return rc;
    if (f->kind == F_INT) {
        int x = (int)v->i;
        memcpy(dst, &x, sizeof x);
    } else {
        memcpy(dst, &v->i, sizeof v->i); /* int64_t, or the seed's uint64_t (>= 0 by its range) */
    }
    return 0;
}

int train_opts_init(train_opts *o, cb_err *e) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        if (!r->def || !field_of(r->key)) continue;
        train_opt_value v = {.given = 1, .text = r->def};
        if ((r->type == RUN_OPT_INT && cb_parse_i64(r->def, &v.i)) || (r->type == RUN_OPT_REAL && cb_parse_f64(r->def, &v.num)))
            return cb_fail(e, CB_EARG, "train: the default of --%s, '%s', is not a number", r->key, r->def);
        int rc = train_opts_set(o, r->key, &v, e);
        if (rc) return rc;
    }
    o->beta1_set = 1;
    return 0;
}

void train_opts_from_config(train_opts *o, const run_config *c, const int *given) {
    for (int i = 0; i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        const field *f = field_of(r->key);
        if (f && r->in_config && !(given && given[i])) copy_field((char *)o + f->opt_off, (const char *)c + f->cfg_off, f->kind);
    }
}

void train_opts_to_config(run_config *c, const train_opts *o) {
    for (int i = 0; i < NFIELDS; i++) copy_field((char *)c + FIELDS[i].cfg_off, (const char *)o + FIELDS[i].opt_off, FIELDS[i].kind);
}

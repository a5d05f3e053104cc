/* config.c - config.json of a run folder: every training option, the
 * network, the data's size and (from coinbc train) its provenance. */
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-run-config"

static json_t *range(int32_t lo, int32_t hi) { return json_pack("[II]", (json_int_t)lo, (json_int_t)hi); }

int run_config_encode(run_text *out, const run_config *c, cb_err *e) {
    const char *method = run_method_name(c->method);
    if (!method) return cb_fail(e, CB_EARG, "config.json: method %d is not a method", c->method);
    if (c->seed > (uint64_t)INT64_MAX) return cb_fail(e, CB_EARG, "config.json: seed %llu is too large", (unsigned long long)c->seed);
    double tand_beta = c->tand_beta == 0 ? RUN_TAND_BETA_DEFAULT : c->tand_beta;
    if (!(tand_beta > 0 && tand_beta < 1))
        return cb_fail(e, CB_EARG, "config.json: tand_beta %g is not in (0, 1)", c->tand_beta);
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
    char s[32], *end;
    int rc = rj_str(o, name, key, s, sizeof s, e);
    if (rc) return rc;
    unsigned long v = strtoul(s, &end, 16);
    if (strlen(s) != 8 || *end || strspn(s, "0123456789abcdefABCDEF") != 8)
        return cb_fail(e, CB_EFORMAT, "%s: key \"%s\" is \"%s\", expected 8 hex digits", name, key, s);
    *out = (uint32_t)v;
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
    "coinbc_version", "net", "channels", "hidden", "params", "method", "tau", "sand_k", "tand_beta", "rescale", "epochs", "lr",
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
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 4096)
            return cb_fail(e, CB_EFORMAT, "%s: key \"channels\": entry %d is not a channel count 1..4096", name, k);
        c->net.channels[k] = (int)json_integer_value(x);
    }
    if ((rc = rj_int(o, name, "hidden", 1, 1 << 20, &v, e))) return rc;
    c->net.hidden = (int)v;
    if ((rc = rj_int(o, name, "params", 1, INT64_MAX, &v, e))) return rc;
    c->params = (uint64_t)v;
    if ((rc = rj_str(o, name, "method", s, sizeof s, e))) return rc;
    if (run_method_parse(s, &c->method))
        return cb_fail(e, CB_EFORMAT, "%s: key \"method\" is \"%s\", not a method (mean, and, sand, geomean or tand)", name,
                       s);
    if ((rc = rj_num(o, name, "tau", 0, &c->tau, e)) || (rc = rj_num(o, name, "sand_k", 0, &c->sand_k, e)) ||
        (rc = rj_bool(o, name, "rescale", &c->rescale, e)))
        return rc;
    /* tand_beta came with tand, without a version change: a config.json
     * written before has no such key and reads with tand's default */
    c->tand_beta = RUN_TAND_BETA_DEFAULT;
    if (json_object_get(o, "tand_beta") && (rc = rj_num(o, name, "tand_beta", 0, &c->tand_beta, e))) return rc;
    if (!(c->tand_beta > 0 && c->tand_beta < 1))
        return cb_fail(e, CB_EFORMAT, "%s: key \"tand_beta\" is %g, not in (0, 1)", name, c->tand_beta);
    if ((rc = rj_int(o, name, "epochs", 1, INT32_MAX, &v, e))) return rc;
    c->epochs = (int)v;
    if ((rc = rj_num(o, name, "lr", 0, &c->lr, e))) return rc;
    if ((rc = rj_str(o, name, "lr_schedule", s, sizeof s, e))) return rc;
    if (strcmp(s, "step") && strcmp(s, "const"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"lr_schedule\" is \"%s\", not step or const", name, s);
    c->lr_decay = !strcmp(s, "step");
    if ((rc = rj_num(o, name, "wd", 0, &c->wd, e))) return rc;
    if ((rc = rj_str(o, name, "wd_mode", s, sizeof s, e))) return rc;
    if (strcmp(s, "l2") && strcmp(s, "decoupled"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"wd_mode\" is \"%s\", not l2 or decoupled", name, s);
    c->wd_mode = !strcmp(s, "decoupled") ? RUN_WD_DECOUPLED : RUN_WD_L2;
    if ((rc = rj_int(o, name, "batch_levels", 1, 4096, &v, e))) return rc;
    c->batch_levels = (int)v;
    if ((rc = rj_int(o, name, "batch_frames", 1, 4096, &v, e))) return rc;
    c->batch_frames = (int)v;
    if ((rc = rj_int(o, name, "seed", 0, INT64_MAX, &v, e))) return rc;
    c->seed = (uint64_t)v;
    if ((rc = rj_int(o, name, "max_steps", 0, INT64_MAX, &c->max_steps, e))) return rc;
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

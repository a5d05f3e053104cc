/* test_netdesc.c - the network description (model_net_desc): each kind's
 * defaults and stage count, the --channels parser, the one validator (the
 * option schema's ranges), its text, and its two encodings (config.json's
 * net/channels/hidden, the checkpoint header's) read back; broken input
 * refused naming the option, the key or the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/model.h"
#include "run/run.h"
#include "train/train.h"

static void has(const char *msg, const char *needle) {
    if (!strstr(msg, needle)) fail_msg("\"%s\" does not name \"%s\"", msg, needle);
}

static void test_defaults(void **st) {
    (void)st;
    model_net_desc c;
    assert_int_equal(model_net_default(&c, "impala"), 0);
    assert_int_equal(c.kind, MODEL_IMPALA);
    assert_int_equal(c.channels[0], 16);
    assert_int_equal(c.channels[1], 32);
    assert_int_equal(c.channels[2], 32);
    assert_int_equal(c.hidden, 256);
    assert_int_equal(model_net_default(&c, "nature"), 0);
    assert_int_equal(c.kind, MODEL_NATURE);
    assert_int_equal(c.channels[0], 32);
    assert_int_equal(c.channels[2], 64);
    assert_int_equal(c.hidden, 512);
    assert_string_equal(model_net_name(MODEL_IMPALA), "impala");
    assert_string_equal(model_net_name(MODEL_NATURE), "nature");
    assert_string_equal(model_net_name(7), "unknown");
    assert_string_equal(model_net_name(-1), "unknown");
    for (int k = 0; k < 2; k++) {
        assert_true(model_net_stages(k) >= 1 && model_net_stages(k) <= MODEL_NET_MAX_STAGES);
        /* the schema takes as many channel counts as the description holds */
        assert_int_equal(run_option_find("channels")->count, MODEL_NET_MAX_STAGES);
        /* --net's words are the kinds, in the kinds' order */
        assert_string_equal(run_option_word_at(run_option_find("net"), k), model_net_name(k));
    }
    assert_int_equal(model_net_stages(2), 0);
    c.hidden = 5;
    assert_int_equal(model_net_default(&c, "resnet"), CB_EARG);
    assert_int_equal(c.hidden, 0); /* zeroed */
    char t[128];
    model_net_default(&c, "nature");
    model_net_text(t, sizeof t, &c);
    assert_string_equal(t, "nature, channels 32,64,64, hidden 512");
    model_net_channels_text(t, sizeof t, &c);
    assert_string_equal(t, "32,64,64");
}

static void test_parse(void **st) {
    (void)st;
    model_net_desc c;
    cb_err e = {0};
    model_net_default(&c, "impala");
    assert_int_equal(model_net_parse_channels(&c, "8,12,4096", &e), 0);
    assert_int_equal(c.channels[0], 8);
    assert_int_equal(c.channels[1], 12);
    assert_int_equal(c.channels[2], 4096);
    assert_int_equal(c.hidden, 256); /* only the channels */
    assert_int_equal(model_net_parse_channels(&c, "0,-3,9", &e), 0); /* ranges are run_net_check's */
    assert_int_equal(c.channels[1], -3);
    const char *bad[] = {"8,8", "8,8,8,8", "8,8,8 ", "8,,8", "a,b,c", "", "8;8;8", "8,8,8,", "99999999999,1,1", "8,8,x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        model_net_default(&c, "nature");
        memset(&e, 0, sizeof e);
        if (model_net_parse_channels(&c, bad[i], &e) != CB_EARG) fail_msg("accepted --channels '%s'", bad[i]);
        assert_string_equal(e.msg, "--channels wants A,B,C");
        assert_int_equal(c.channels[0], 32); /* untouched */
        assert_int_equal(c.channels[2], 64);
    }
    assert_int_equal(model_net_parse_channels(&c, NULL, &e), CB_EARG);
}

static void test_check(void **st) {
    (void)st;
    model_net_desc c;
    cb_err e = {0};
    const run_option_range *ch = run_option_find("channels"), *hid = run_option_find("hidden");
    for (int k = 0; k < 2; k++) {
        model_net_default(&c, model_net_name(k));
        assert_int_equal(run_net_check(&c, "train", 0, CB_EARG, &e), 0);
        c.channels[model_net_stages(k) - 1] = (int)ch->ihi;
        c.hidden = (int)hid->ilo;
        assert_int_equal(run_net_check(&c, "train", 0, CB_EARG, &e), 0);
        c.channels[0] = (int)ch->ihi + 1; /* the schema's range, not one of its own */
        assert_int_equal(run_net_check(&c, "train", 0, CB_EARG, &e), CB_EARG);
        char want[128];
        snprintf(want, sizeof want, "train: --channels %d is outside", MODEL_MAX_CHANNELS + 1);
        has(e.msg, want);
        assert_int_equal(run_net_check(&c, "RUN/config.json", 1, CB_EFORMAT, &e), CB_EFORMAT);
        snprintf(want, sizeof want, "RUN/config.json: key \"channels\" is %d, outside", MODEL_MAX_CHANNELS + 1);
        has(e.msg, want);
        c.channels[0] = 8;
        c.hidden = 0;
        assert_int_equal(run_net_check(&c, NULL, 0, CB_EARG, &e), CB_EARG);
        has(e.msg, "--hidden 0 is outside");
    }
    model_net_default(&c, "nature");
    c.kind = 5;
    assert_int_equal(run_net_check(&c, "train", 0, CB_EARG, &e), CB_EARG);
    has(e.msg, "train: net 5 is not a --net");
    assert_int_equal(run_net_check(&c, "X.json", 1, CB_EFORMAT, &e), CB_EFORMAT);
    has(e.msg, "X.json: key \"net\" is 5");
}

/* train's --net and --channels go through the description's parser and validator */
static void test_train_options(void **st) {
    (void)st;
    train_opts o;
    cb_err e = {0};
    assert_int_equal(train_opts_init(&o, &e), 0);
    assert_int_equal(o.net.kind, MODEL_IMPALA);
    train_opt_value v = {.given = 1, .text = "nature"};
    assert_int_equal(train_opts_set(&o, "net", &v, &e), 0);
    assert_int_equal(o.net.channels[0], 32); /* --net brings its defaults */
    v.text = "4,5,6";
    assert_int_equal(train_opts_set(&o, "channels", &v, &e), 0);
    assert_int_equal(o.net.kind, MODEL_NATURE);
    assert_int_equal(o.net.channels[2], 6);
    assert_int_equal(o.net.hidden, 512);
    v.text = "4,5";
    assert_int_equal(train_opts_set(&o, "channels", &v, &e), CB_EARG);
    has(e.msg, "--channels wants A,B,C");
    v.text = "4,0,6";
    assert_int_equal(train_opts_set(&o, "channels", &v, &e), CB_EARG);
    has(e.msg, "--channels 0 is outside");
    assert_int_equal(o.net.channels[1], 5); /* a refused value leaves the description */
    v.text = "resnet";
    assert_int_equal(train_opts_set(&o, "net", &v, &e), CB_EARG);
    has(e.msg, "--net 'resnet'");
    assert_int_equal(o.net.kind, MODEL_NATURE);
}

/* tune's fixed channels value: the schema's count of entries, each in range */
static void test_tune_value(void **st) {
    (void)st;
    cb_err e = {0};
    run_tune_value v = {.is_str = 1};
    snprintf(v.str, sizeof v.str, "8,16,%d", MODEL_MAX_CHANNELS);
    assert_int_equal(run_tune_check_value("channels", &v, &e), 0);
    char over[32];
    snprintf(over, sizeof over, "8,16,%d", MODEL_MAX_CHANNELS + 1);
    const char *bad[] = {"8,16", "8,16,32,4", "8,0,8", over, "8,16,8x", "8,,8", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(v.str, sizeof v.str, "%s", bad[i]);
        if (run_tune_check_value("channels", &v, &e) != CB_EARG) fail_msg("tune accepted channels '%s'", bad[i]);
        has(e.msg, "is not A,B,C (each in");
    }
    v.is_str = 0, v.num = 8;
    assert_int_equal(run_tune_check_value("channels", &v, &e), CB_EARG);
}

static run_config small_config(void) {
    run_config c;
    memset(&c, 0, sizeof c);
    model_net_default(&c.net, "impala");
    c.net.channels[0] = 4, c.net.channels[1] = 6, c.net.channels[2] = 6, c.net.hidden = 16;
    model plan;
    cb_err e = {0};
    assert_int_equal(model_plan(&plan, &c.net, &e), 0);
    c.params = plan.nparams;
    c.method = RUN_METHOD_AND;
    c.tau = 0.5, c.sand_k = 1, c.tand_beta = 0.9, c.rescale = 1, c.epochs = 1, c.lr = 1e-3, c.beta1 = 0.9;
    c.batch_levels = 2, c.batch_frames = 2, c.train_levels = 2, c.train_frames = 8, c.steps_per_epoch = 4;
    return c;
}

/* text with the first occurrence of from replaced by to (malloc'd) */
static char *replaced(const char *text, const char *from, const char *to) {
    const char *p = strstr(text, from);
    if (!p) fail_msg("no \"%s\" in %s", from, text);
    size_t a = (size_t)(p - text), n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    memcpy(s, text, a);
    snprintf(s + a, n - a, "%s%s", to, p + strlen(from));
    return s;
}

static void refused(const char *text, const char *n1, const char *n2) {
    run_config c;
    cb_err e = {0};
    if (run_config_decode(&c, text, strlen(text), "RUN/config.json", &e) != CB_EFORMAT) fail_msg("accepted: %s", text);
    has(e.msg, "RUN/config.json");
    has(e.msg, n1);
    if (n2) has(e.msg, n2);
}

static void test_config_json(void **st) {
    (void)st;
    run_config c = small_config(), d;
    run_text t = {0};
    cb_err e = {0};
    assert_int_equal(run_config_encode(&t, &c, &e), 0);
    has(t.s, "\"net\": \"impala\",\n  \"channels\": [\n    4,\n    6,\n    6\n  ],\n  \"hidden\": 16,");
    assert_int_equal(run_config_decode(&d, t.s, t.len, "RUN/config.json", &e), 0);
    assert_memory_equal(&d.net, &c.net, sizeof c.net);
    assert_int_equal(d.params, c.params);
    char *s;
    refused(s = replaced(t.s, "\"impala\"", "\"resnet\""), "key \"net\" is \"resnet\"", "impala or nature"), free(s);
    refused(s = replaced(t.s, "    6\n  ]", "    6,\n    6\n  ]"), "key \"channels\"", "array of 3 integers"), free(s);
    refused(s = replaced(t.s, "    4,\n    6,\n", "    4,\n"), "key \"channels\"", "array of 3 integers"), free(s);
    refused(s = replaced(t.s, "    6,\n", "    \"6\",\n"), "key \"channels\": entry 1 is not an integer", NULL), free(s);
    refused(s = replaced(t.s, "    4,\n", "    0,\n"), "key \"channels\" is 0, outside", NULL), free(s);
    refused(s = replaced(t.s, "    4,\n", "    99999999999,\n"), "key \"channels\" is 99999999999, outside", NULL), free(s);
    refused(s = replaced(t.s, "\"hidden\": 16", "\"hidden\": 0"), "key \"hidden\" is 0, outside", NULL), free(s);
    refused(s = replaced(t.s, "\"hidden\": 16", "\"hidden\": 17"), "key \"params\"", "impala, channels 4,6,6, hidden 17"), free(s);
    refused(s = replaced(t.s, "  \"hidden\": 16,\n", ""), "hidden", NULL), free(s);
    run_text_free(&t);
}

static void test_checkpoint_header(void **st) {
    (void)st;
    model_net_desc cfg;
    model_net_default(&cfg, "nature");
    cfg.channels[0] = 4, cfg.channels[1] = 6, cfg.channels[2] = 8, cfg.hidden = 16;
    model m, m2;
    cb_err e = {0};
    assert_int_equal(model_init(&m, &cfg, &e), 0);
    cb_rng r;
    cb_rng_seed(&r, 3);
    model_ckpt_state s = {.step = 1, .rng = r};
    char path[] = "/tmp/coinbc_netdesc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(model_save(&m, &s, path, &e), 0);
    model_ckpt_state s2;
    if (model_load(&m2, &s2, path, &e)) fail_msg("%s", e.msg);
    assert_memory_equal(&m2.cfg, &cfg, sizeof cfg);
    model_free(&m2);
    /* the header's layout (docs/FORMATS.md): int32 net, one int32 per stage, hidden, at byte 16 */
    uint8_t *buf;
    size_t n;
    assert_int_equal(cb_read_file(path, &buf, &n, &e), 0);
    int32_t h[2 + MODEL_NET_MAX_STAGES];
    memcpy(h, buf + 16, sizeof h);
    assert_int_equal(h[0], MODEL_NATURE);
    assert_int_equal(h[1], 4);
    assert_int_equal(h[2], 6);
    assert_int_equal(h[3], 8);
    assert_int_equal(h[1 + MODEL_NET_MAX_STAGES], 16);
    /* another channel count: the parameter count no longer fits, refused naming the file and the network */
    int32_t nine = 9;
    memcpy(buf + 20, &nine, 4);
    assert_int_equal(cb_write_file_atomic(path, buf, n, &e), 0);
    assert_true(model_load(&m2, &s2, path, &e) < 0);
    has(e.msg, path);
    has(e.msg, "nature, channels 9,6,8, hidden 16");
    /* an unknown kind */
    memcpy(buf + 20, &h[1], 4);
    int32_t kind = 9;
    memcpy(buf + 16, &kind, 4);
    assert_int_equal(cb_write_file_atomic(path, buf, n, &e), 0);
    assert_true(model_load(&m2, &s2, path, &e) < 0);
    has(e.msg, path);
    has(e.msg, "unknown net 9");
    free(buf);
    unlink(path);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_parse),       cmocka_unit_test(test_check),
        cmocka_unit_test(test_train_options), cmocka_unit_test(test_config_json), cmocka_unit_test(test_checkpoint_header),
        cmocka_unit_test(test_tune_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

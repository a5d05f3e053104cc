/* describe.c - the method table and the option schema as one JSON text
 * (coinbc train --describe): what tools/tune.py checks spaces and fixed
 * options against, so that the driver holds no copy of either. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "run/run.h"

#define FORMAT "coinbc-train-describe"

static const char *type_name(int t) {
    static const char *const names[] = {"int", "real", "word", "flag", "path", "seeds"};
    return t >= 0 && t <= RUN_OPT_SEEDS ? names[t] : "?";
}

static const char *tune_name(int t) { return t == RUN_TUNE_SEARCH ? "search" : t == RUN_TUNE_FIXED ? "fixed" : "no"; }

/* every call's result is checked by its caller through `bad` */
static void set(json_t *o, const char *k, json_t *v, int *bad) {
    if (!v || json_object_set_new(o, k, v)) *bad = 1;
}

static void push(json_t *a, json_t *v, int *bad) {
    if (!v || json_array_append_new(a, v)) *bad = 1;
}

static json_t *option_json(const run_option_range *r, int *bad) {
    json_t *o = json_object();
    if (!o) return *bad = 1, NULL;
    char name[64];
    run_option_name(name, sizeof name, r);
    set(o, "name", json_string(name), bad);
    set(o, "key", json_string(r->key), bad);
    set(o, "type", json_string(type_name(r->type)), bad);
    set(o, "count", json_integer(r->count), bad);
    if (r->type == RUN_OPT_INT) {
        set(o, "min", json_integer((json_int_t)r->ilo), bad);
        set(o, "max", json_integer((json_int_t)r->ihi), bad);
    } else if (r->type == RUN_OPT_REAL) {
        set(o, "min", isinf(r->lo) ? json_null() : json_real(r->lo), bad);
        set(o, "max", isinf(r->hi) ? json_null() : json_real(r->hi), bad); /* null: no bound (finite values only) */
        set(o, "min_open", json_boolean(r->lo_open), bad);
        set(o, "max_open", json_boolean(r->hi_open), bad);
    } else if (r->type == RUN_OPT_WORD) {
        json_t *w = json_array();
        set(o, "words", w, bad);
        for (int k = 0; w && r->words[k]; k++) push(w, json_string(r->words[k]), bad);
    }
    set(o, "default", r->def ? json_string(r->def) : json_null(), bad);
    set(o, "help", json_string(r->help), bad);
    json_t *ms = json_array();
    set(o, "methods", ms, bad);
    unsigned m = run_option_methods(r);
    for (int k = 0; ms && k < RUN_NMETHODS; k++)
        if (m & (1u << k)) push(ms, json_string(run_method_name(k)), bad);
    set(o, "tune", json_string(tune_name(r->tune)), bad);
    set(o, "in_config", json_boolean(r->in_config), bad);
    return o;
}

static json_t *method_json(const run_method_info *mi, int *bad) {
    json_t *o = json_object();
    if (!o) return *bad = 1, NULL;
    set(o, "name", json_string(mi->name), bad);
    set(o, "help", json_string(mi->help), bad);
    json_t *opts = json_array(); /* the method options it reads, by name */
    set(o, "options", opts, bad);
    for (int i = 0; opts && i < run_option_count(); i++) {
        const run_option_range *r = run_option_at(i);
        char name[64];
        run_option_name(name, sizeof name, r);
        if (r->mopt && (mi->options & r->mopt)) push(opts, json_string(name), bad);
    }
    set(o, "split", json_boolean(mi->split), bad);
    set(o, "state", json_integer(mi->state), bad);
    return o;
}

char *run_describe_json(void) {
    int bad = 0;
    json_t *root = json_object(), *ms = json_array(), *os = json_array();
    if (!root || !ms || !os) {
        json_decref(root), json_decref(ms), json_decref(os);
        return NULL;
    }
    set(root, "format", json_string(FORMAT), &bad);
    set(root, "version", json_integer(1), &bad);
    set(root, "methods", ms, &bad);
    set(root, "options", os, &bad);
    for (int k = 0; k < RUN_NMETHODS; k++) push(ms, method_json(run_method(k), &bad), &bad);
    for (int i = 0; i < run_option_count(); i++) push(os, option_json(run_option_at(i), &bad), &bad);
    char *s = bad ? NULL : json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return s;
}

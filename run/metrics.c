/* metrics.c - metrics.csv (rounded, for people and spreadsheets) and
 * metrics.jsonl (exact, one JSON object per epoch) of a run folder: the
 * writers of one row, and strict readers of whole files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

static const char *const CSV_COLS[] = {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"};
#define NCSV 8

int run_metrics_csv_header(run_text *t, const run_metrics_row *r) {
    int rc = run_text_add(t, "epoch,step,train_loss,train_acc,val_loss,val_acc,lr,seconds");
    for (int k = 0; k < r->nlayers && !rc; k++) {
        char col[64];
        snprintf(col, sizeof col, ",mask_%s", r->layer[k]);
        rc = run_text_add(t, col);
    }
    return rc ? rc : run_text_add(t, "\n");
}

int run_metrics_csv_row(run_text *t, const run_metrics_row *r) {
    char row[256], vl[32] = "", va[32] = "";
    if (!isnan(r->val_loss)) snprintf(vl, sizeof vl, "%.6f", r->val_loss);
    if (!isnan(r->val_acc)) snprintf(va, sizeof va, "%.6f", r->val_acc);
    snprintf(row, sizeof row, "%lld,%lld,%.6f,%.6f,%s,%s,%g,%.2f", (long long)r->epoch, (long long)r->step, r->train_loss,
             r->train_acc, vl, va, r->lr, r->seconds);
    int rc = run_text_add(t, row);
    for (int k = 0; k < r->nlayers && !rc; k++) {
        snprintf(row, sizeof row, ",%.5f", r->mask_density[k]);
        rc = run_text_add(t, row);
    }
    return rc ? rc : run_text_add(t, "\n");
}

int run_metrics_jsonl_row(run_text *t, const run_metrics_row *r, cb_err *e) {
    json_t *md = json_object();
    for (int k = 0; md && k < r->nlayers; k++)
        if (json_object_set_new(md, r->layer[k], rj_real(r->mask_density[k]))) {
            json_decref(md);
            md = NULL;
        }
    json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "epoch", (json_int_t)r->epoch, "step",
                          (json_int_t)r->step, "train_loss", rj_real(r->train_loss), "train_acc", rj_real(r->train_acc),
                          "val_loss", rj_real(r->val_loss), "val_acc", rj_real(r->val_acc), "lr", rj_real(r->lr),
                          "seconds", rj_real(r->seconds), "samples_per_s", rj_real(r->samples_per_s), "mask_density", md);
    return rj_dump(t, o, 0, "metrics.jsonl", e);
}

/* a layer name as the model names its tensors: [A-Za-z0-9_.]{1,31} */
static int layer_ok(const char *s, size_t n) {
    if (n == 0 || n >= sizeof(((run_metrics_row *)0)->layer[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

void run_metrics_free(run_metrics *m) {
    free(m->rows);
    m->rows = NULL;
    m->nrows = 0;
}

static int add_row(run_metrics *m, int *cap, run_metrics_row **out) {
    if (m->nrows == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        run_metrics_row *n = realloc(m->rows, sizeof *n * (size_t)nc);
        if (!n) return CB_ENOMEM;
        m->rows = n;
        *cap = nc;
    }
    *out = &m->rows[m->nrows++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* rows must count epochs 1, 2, ... with steps that grow */
static int check_order(const run_metrics *m, const char *name, int line, cb_err *e) {
    const run_metrics_row *r = &m->rows[m->nrows - 1];
    if (r->epoch != m->nrows)
        return cb_fail(e, CB_EFORMAT, "%s: line %d: epoch %lld where epoch %d was expected", name, line,
                       (long long)r->epoch, m->nrows);
    if (r->step < 1 || (m->nrows > 1 && r->step <= m->rows[m->nrows - 2].step))
        return cb_fail(e, CB_EFORMAT, "%s: line %d: step %lld does not follow the previous row's", name, line,
                       (long long)r->step);
    return 0;
}

static const char *const JSON_KEYS[] = {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                                        "seconds", "samples_per_s", "mask_density", NULL};

/* at most max_rows rows (what bounds them: `bound`): more is refused before
 * the row is stored */
static int decode_jsonl(run_metrics *m, const char *text, size_t n, const char *name, int64_t max_rows,
                        const char *bound, cb_err *e) {
    memset(m, 0, sizeof *m);
    int cap = 0, line = 0, rc = 0;
    size_t pos = 0;
    while (pos < n && !rc) {
        const char *p = text + pos, *nl = memchr(p, '\n', n - pos);
        if (!nl) {
            rc = cb_fail(e, CB_EFORMAT, "%s: line %d does not end with a newline (truncated?)", name, line + 1);
            break;
        }
        size_t len = (size_t)(nl - p);
        pos += len + 1;
        line++;
        char where[4300];
        snprintf(where, sizeof where, "%s line %d", name, line);
        json_t *o = rj_load(p, len, where, e);
        if (!o) {
            rc = CB_EFORMAT;
            break;
        }
        run_metrics_row *r;
        if (m->nrows >= max_rows) {
            json_decref(o);
            rc = cb_fail(e, CB_EFORMAT, "%s: a row more than the %lld %s; refusing the rest", where,
                         (long long)max_rows, bound);
            break;
        }
        if ((rc = add_row(m, &cap, &r))) {
            json_decref(o);
            rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
            break;
        }
        json_t *md;
        const char *k;
        json_t *v;
        if (!(rc = rj_only(o, where, JSON_KEYS, e)) && !(rc = rj_int(o, where, "epoch", 1, INT32_MAX, &r->epoch, e)) &&
            !(rc = rj_int(o, where, "step", 1, INT64_MAX, &r->step, e)) &&
            !(rc = rj_num(o, where, "train_loss", 1, &r->train_loss, e)) &&
            !(rc = rj_num(o, where, "train_acc", 1, &r->train_acc, e)) &&
            !(rc = rj_num(o, where, "val_loss", 1, &r->val_loss, e)) &&
            !(rc = rj_num(o, where, "val_acc", 1, &r->val_acc, e)) && !(rc = rj_num(o, where, "lr", 0, &r->lr, e)) &&
            !(rc = rj_num(o, where, "seconds", 0, &r->seconds, e)) &&
            !(rc = rj_num(o, where, "samples_per_s", 1, &r->samples_per_s, e))) {
            md = json_object_get(o, "mask_density");
            if (!md) rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density\" is missing", where);
            else if (!json_is_object(md))
                rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density\": expected an object {layer: share}", where);
            else if (json_object_size(md) > RUN_MAX_LAYERS)
                rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density\" has more than %d layers", where, RUN_MAX_LAYERS);
            else
                json_object_foreach(md, k, v) {
                    if (!layer_ok(k, strlen(k))) {
                        rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density\": \"%.40s\" is not a layer name "
                                     "([A-Za-z0-9_.], 1 to 31 characters)", where, k);
                        break;
                    }
                    if (!json_is_number(v) && !json_is_null(v)) {
                        rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density.%s\": expected a number or null", where, k);
                        break;
                    }
                    strcpy(r->layer[r->nlayers], k);
                    r->mask_density[r->nlayers++] = json_is_null(v) ? NAN : json_number_value(v);
                }
        }
        json_decref(o);
        if (!rc) rc = check_order(m, name, line, e);
        if (!rc && m->nrows > 1) {
            const run_metrics_row *a = &m->rows[0];
            int same = a->nlayers == r->nlayers;
            for (int j = 0; same && j < r->nlayers; j++) same = !strcmp(a->layer[j], r->layer[j]);
            if (!same) rc = cb_fail(e, CB_EFORMAT, "%s: key \"mask_density\" names other layers than line 1", where);
        }
    }
    if (rc) run_metrics_free(m);
    return rc;
}

/* one CSV field [p, end) as a number; empty allowed (NAN) when empty_ok */
static int csv_num(const char *p, const char *end, int empty_ok, double *out) {
    if (p == end) {
        *out = NAN;
        return empty_ok ? 0 : -1;
    }
    char buf[64];
    if ((size_t)(end - p) >= sizeof buf) return -1;
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = 0;
    return cb_parse_f64(buf, out) || !isfinite(*out) ? -1 : 0;
}

int run_metrics_decode_jsonl(run_metrics *m, const char *text, size_t n, const char *name, cb_err *e) {
    return decode_jsonl(m, text, n, name, INT32_MAX, "rows a metrics file can hold", e);
}

static int decode_csv(run_metrics *m, const char *text, size_t n, const char *name, int64_t max_rows, const char *bound,
                      cb_err *e) {
    memset(m, 0, sizeof *m);
    if (n == 0 || text[n - 1] != '\n')
        return cb_fail(e, CB_EFORMAT, "%s: %s", name, n ? "the last line does not end with a newline (truncated?)" : "empty");
    if (memchr(text, 0, n)) return cb_fail(e, CB_EFORMAT, "%s: holds a NUL byte", name);
    /* header */
    const char *p = text, *nl = memchr(p, '\n', n);
    run_metrics_row layers;
    memset(&layers, 0, sizeof layers);
    int col = 0;
    for (const char *q = p; q <= nl; col++) {
        const char *c = q;
        while (c < nl && *c != ',') c++;
        size_t len = (size_t)(c - q);
        if (col < NCSV) {
            if (len != strlen(CSV_COLS[col]) || strncmp(q, CSV_COLS[col], len))
                return cb_fail(e, CB_EFORMAT, "%s: line 1: column %d is \"%.*s\", expected \"%s\"", name, col + 1,
                               (int)(len > 40 ? 40 : len), q, CSV_COLS[col]);
        } else {
            if (len <= 5 || strncmp(q, "mask_", 5) || !layer_ok(q + 5, len - 5))
                return cb_fail(e, CB_EFORMAT, "%s: line 1: column %d is \"%.*s\", expected mask_<layer> (layer: "
                               "[A-Za-z0-9_.], 1 to 31 characters)", name, col + 1, (int)(len > 40 ? 40 : len), q);
            for (int j = 0; j < layers.nlayers; j++)
                if (strlen(layers.layer[j]) == len - 5 && !strncmp(layers.layer[j], q + 5, len - 5))
                    return cb_fail(e, CB_EFORMAT, "%s: line 1: column %d repeats mask_%s", name, col + 1, layers.layer[j]);
            if (layers.nlayers == RUN_MAX_LAYERS)
                return cb_fail(e, CB_EFORMAT, "%s: line 1: more than %d mask columns", name, RUN_MAX_LAYERS);
            memcpy(layers.layer[layers.nlayers], q + 5, len - 5);
            layers.layer[layers.nlayers++][len - 5] = 0;
        }
        q = c + 1;
    }
    if (col < NCSV) return cb_fail(e, CB_EFORMAT, "%s: line 1: %d columns, expected at least %d", name, col, NCSV);
    int ncols = col, cap = 0, line = 1;
    for (p = nl + 1; p < text + n; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + n - p));
        line++;
        run_metrics_row *r;
        if (m->nrows >= max_rows) {
            run_metrics_free(m);
            return cb_fail(e, CB_EFORMAT, "%s: line %d: a row more than the %lld %s; refusing the rest", name, line,
                           (long long)max_rows, bound);
        }
        if (add_row(m, &cap, &r)) {
            run_metrics_free(m);
            return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
        }
        r->nlayers = layers.nlayers;
        memcpy(r->layer, layers.layer, sizeof r->layer);
        r->samples_per_s = NAN;
        const char *q = p;
        int c;
        for (c = 0; q <= nl && c < ncols; c++) {
            const char *end = q;
            while (end < nl && *end != ',') end++;
            double v;
            if (csv_num(q, end, c == 4 || c == 5, &v)) {
                run_metrics_free(m);
                return cb_fail(e, CB_EFORMAT, "%s: line %d: column %s: \"%.*s\" is not a number", name, line,
                               c < NCSV ? CSV_COLS[c] : "mask", (int)(end - q > 40 ? 40 : end - q), q);
            }
            if (c < 2 && (v != floor(v) || v < 1 || v > 9e15)) {
                run_metrics_free(m);
                return cb_fail(e, CB_EFORMAT, "%s: line %d: column %s is not a count", name, line, CSV_COLS[c]);
            }
            switch (c) {
            case 0: r->epoch = (int64_t)v; break;
            case 1: r->step = (int64_t)v; break;
            case 2: r->train_loss = v; break;
            case 3: r->train_acc = v; break;
            case 4: r->val_loss = v; break;
            case 5: r->val_acc = v; break;
            case 6: r->lr = v; break;
            case 7: r->seconds = v; break;
            default: r->mask_density[c - NCSV] = v;
            }
            q = end + 1;
        }
        if (c != ncols || q <= nl) {
            run_metrics_free(m);
            return cb_fail(e, CB_EFORMAT, "%s: line %d: %s columns than the header's %d", name, line,
                           c != ncols ? "fewer" : "more", ncols);
        }
        int rc = check_order(m, name, line, e);
        if (rc) {
            run_metrics_free(m);
            return rc;
        }
    }
    return 0;
}

int run_metrics_decode_csv(run_metrics *m, const char *text, size_t n, const char *name, cb_err *e) {
    return decode_csv(m, text, n, name, INT32_MAX, "rows a metrics file can hold", e);
}

int run_metrics_read(run_metrics *m, const char *dir, cb_err *e) {
    memset(m, 0, sizeof *m);
    char jp[4200], cp[4200], *jt = NULL, *ct = NULL;
    size_t jn, cn;
    /* one row per epoch: the files are bounded by the epochs of config.json */
    int64_t epochs;
    int rc0 = rj_epochs(dir, &epochs, e);
    if (rc0) return rc0;
    size_t line = RUN_METRICS_LINE_MAX_BYTES;
    int rj = rj_read(dir, "metrics.jsonl", rj_cap(epochs, line), jp, sizeof jp, &jt, &jn, e);
    if (rj && rj != CB_ENOTFOUND) return rj;
    int rcv = rj_read(dir, "metrics.csv", rj_cap(epochs + 1, line), cp, sizeof cp, &ct, &cn, e);
    if (rcv && rcv != CB_ENOTFOUND) {
        free(jt);
        return rcv;
    }
    if (rj && rcv) return cb_fail(e, CB_ENOTFOUND, "%s: no metrics.jsonl or metrics.csv", dir);
    if (rj || rcv) {
        free(jt);
        free(ct);
        return cb_fail(e, CB_EFORMAT, "%s: holds %s but not %s (the run folder is incomplete)", dir,
                       rj ? "metrics.csv" : "metrics.jsonl", rj ? "metrics.jsonl" : "metrics.csv");
    }
    run_metrics c;
    int rc = decode_jsonl(m, jt, jn, jp, epochs, "epochs config.json names (a row per epoch)", e);
    if (!rc) {
        /* the rows must match the jsonl's: no more are kept */
        rc = decode_csv(&c, ct, cn, cp, m->nrows, "rows of metrics.jsonl (the run folder is inconsistent)", e);
        if (rc) run_metrics_free(m);
    }
    free(jt);
    free(ct);
    if (rc) return rc;
    if (c.nrows != m->nrows)
        rc = cb_fail(e, CB_EFORMAT, "%s has %d epochs, %s has %d: the run folder is inconsistent", cp, c.nrows, jp, m->nrows);
    for (int i = 0; !rc && i < m->nrows; i++) {
        const run_metrics_row *a = &m->rows[i], *b = &c.rows[i];
        int same = a->step == b->step && a->nlayers == b->nlayers;
        for (int k = 0; same && k < a->nlayers; k++) same = !strcmp(a->layer[k], b->layer[k]);
        if (!same)
            rc = cb_fail(e, CB_EFORMAT, "%s and %s disagree on epoch %d (step or layers): the run folder is inconsistent",
                         cp, jp, i + 1);
    }
    run_metrics_free(&c);
    if (rc) run_metrics_free(m);
    return rc;
}

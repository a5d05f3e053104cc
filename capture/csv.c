/* csv.c - parsing and checking actions.csv (see csv.h): every field of a
 * known column must be a number of the right kind and range, every row must
 * have as many fields as the header, and steps must count 0, 1, 2, ... */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/csv.h"

enum { C_STEP, C_ACTION, C_REWARD, C_DONE, C_LABEL, C_EXEC, C_EPISODE, C_EPSTEP, NC };
static const char *const CNAMES[NC] = {"step", "action", "reward", "done", "label", "executed", "episode", "episode_step"};
#define MAX_COLS 64

void capture_csv_free(capture_csv *c) {
    free(c->block);
    memset(c, 0, sizeof *c);
}

/* [s, e) without surrounding spaces and a trailing '\r' */
static void trim(const char **s, const char **e) {
    while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r')) (*e)--;
}

/* Splits [s, e) at commas into at most MAX_COLS fields; returns the count,
 * or MAX_COLS + 1 when there are more. */
static int split(const char *s, const char *e, const char *fs[], const char *fe[]) {
    int k = 0;
    for (;;) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *end = c ? c : e;
        if (k == MAX_COLS) return MAX_COLS + 1;
        fs[k] = s;
        fe[k] = end;
        trim(&fs[k], &fe[k]);
        k++;
        if (!c) return k;
        s = c + 1;
    }
}

/* Is v allowed in column k? Returns a reason or NULL. */
static const char *check_value(int k, double v) {
    int integral = v == floor(v);
    switch (k) {
    case C_ACTION:
    case C_LABEL:
    case C_EXEC:
        return integral && v >= 0 && v <= 14 ? NULL : "outside 0..14 (procgen's 15 actions)";
    case C_DONE:
        return v == 0 || v == 1 ? NULL : "is not 0 or 1";
    case C_REWARD:
        return fabs(v) <= FLT_MAX ? NULL : "is not a finite float";
    default: /* step, episode, episode_step */
        return integral && v >= 0 && v <= INT32_MAX ? NULL : "is not an integer in 0..2^31-1";
    }
}

int capture_csv_parse(const char *text, size_t n, const char *name, capture_csv *c, cb_err *e) {
    memset(c, 0, sizeof *c);
    const char *p = text, *end = text + n;
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte order mark (spreadsheet exports) */
    /* rows: at most one per line */
    int64_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    const char *fs[MAX_COLS], *fe[MAX_COLS];
    int map[MAX_COLS], have[NC] = {0}, ncol = 0, lineno = 0;
    double *v = NULL;
    int rc = 0;
    int64_t rows = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *ls = p;
        p = nl ? nl + 1 : end;
        lineno++;
        const char *ts = ls, *te = le;
        trim(&ts, &te);
        if (ts == te) continue; /* blank line */
        int nf = split(ls, le, fs, fe);
        if (!ncol) { /* the header */
            if (nf > MAX_COLS) {
                rc = cb_fail(e, CB_EFORMAT, "%s:%d: more than %d columns", name, lineno, MAX_COLS);
                break;
            }
            ncol = nf;
            for (int j = 0; j < nf && !rc; j++) {
                map[j] = -1;
                for (int k = 0; k < NC; k++)
                    if ((size_t)(fe[j] - fs[j]) == strlen(CNAMES[k]) && !memcmp(fs[j], CNAMES[k], strlen(CNAMES[k]))) {
                        if (have[k]) rc = cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' appears twice", name, lineno, CNAMES[k]);
                        map[j] = k;
                        have[k] = 1;
                    }
            }
            for (int k = 0; k <= C_DONE && !rc; k++)
                if (!have[k])
                    rc = cb_fail(e, CB_EFORMAT, "%s: the header lacks the column '%s' (needs step,action,reward,done)", name,
                                 CNAMES[k]);
            if (!rc && !(v = malloc(sizeof(double) * NC * (size_t)lines)))
                rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
            continue;
        }
        if (nf != ncol) {
            rc = cb_fail(e, CB_EFORMAT, "%s:%d: %s%d fields, the header has %d", name, lineno, nf > MAX_COLS ? "more than " : "",
                         nf > MAX_COLS ? MAX_COLS : nf, ncol);
            break;
        }
        for (int j = 0; j < nf && !rc; j++) {
            int k = map[j];
            if (k < 0) continue; /* a column coinbc does not use */
            char buf[64];
            size_t len = (size_t)(fe[j] - fs[j]);
            double x;
            if (len == 0 || len >= sizeof buf) {
                rc = cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' is not a number ('%.*s')", name, lineno, CNAMES[k],
                             (int)(len > 20 ? 20 : len), fs[j]);
                break;
            }
            memcpy(buf, fs[j], len);
            buf[len] = 0;
            const char *why = NULL;
            int is_action = k == C_ACTION || k == C_LABEL || k == C_EXEC;
            const char *q = buf + (buf[0] == '-');
            int plain = q[0] && strspn(q, "0123456789") == strlen(q);
            if (cb_parse_f64(buf, &x) || !isfinite(x)) why = "is not a number";
            else if (is_action && !plain) /* 0x2, 1e0, 2.0, 2.5: an action is written as plain digits */
                why = "is not an integer action (0..14 in plain decimal digits)";
            else if (k == C_STEP && x != (double)rows) why = "is not the row number (steps count 0, 1, 2, ...)";
            else why = check_value(k, x);
            if (why) {
                rc = cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' value '%s' %s", name, lineno, CNAMES[k], buf, why);
                break;
            }
            v[(size_t)rows * NC + (size_t)k] = x;
        }
        rows++;
    }
    if (!rc && !ncol) rc = cb_fail(e, CB_EFORMAT, "%s: empty file (a header step,action,reward,done is needed)", name);
    if (!rc && rows == 0) rc = cb_fail(e, CB_EFORMAT, "%s: no rows after the header", name);
    if (!rc) {
        size_t m = (size_t)rows;
        uint8_t *b = malloc(m * (3 + 4 + 4 + 4));
        if (!b) {
            rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
        } else {
            c->block = b;
            c->n = rows;
            c->reward = (float *)b; /* 4-byte columns first: aligned */
            c->episode = (int32_t *)(b + 4 * m);
            c->step = (int32_t *)(b + 8 * m);
            c->label = b + 12 * m;
            c->action = b + 13 * m;
            c->done = b + 14 * m;
            int32_t ep = 0, epstep = 0;
            for (size_t t = 0; t < m; t++) {
                const double *r = v + t * NC;
                c->label[t] = (uint8_t)(have[C_LABEL] ? r[C_LABEL] : r[C_ACTION]);
                c->action[t] = (uint8_t)(have[C_EXEC] ? r[C_EXEC] : r[C_ACTION]);
                c->done[t] = (uint8_t)r[C_DONE];
                c->reward[t] = (float)r[C_REWARD];
                c->episode[t] = have[C_EPISODE] ? (int32_t)r[C_EPISODE] : ep;
                c->step[t] = have[C_EPSTEP] ? (int32_t)r[C_EPSTEP] : epstep;
                epstep++;
                if (c->done[t]) {
                    ep++;
                    epstep = 0;
                }
            }
        }
    }
    free(v);
    return rc;
}

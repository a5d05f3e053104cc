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

/* The field [s, s+n) as printable text for a message: at most 24 bytes, a
 * byte that is not printable ASCII as \xHH, so a NUL or a control byte shows. */
static void show(char *out, size_t cap, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 24 && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
    }
    if (n > 24 && k + 4 < cap) k += (size_t)snprintf(out + k, cap - k, "...");
    out[k] = 0;
}

/* A decimal number as a spreadsheet writes it: [-]digits[.digits][e[+-]digits]
 * or [-].digits...; no hex (0x1p3), no inf or nan, no '+' in front. */
static int is_decimal(const char *s, size_t n) {
    size_t i = 0, d = 0;
    if (i < n && s[i] == '-') i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    }
    if (!d) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, ed++;
        if (!ed) return 0;
    }
    return i == n;
}

/* Parses field [s, s+n) of column k (row `row`) into *x; returns why it is
 * refused, or NULL. Integers go through cb_parse_dec_exact over the span, so
 * no byte of the field is ignored. */
static const char *parse_field(int k, const char *s, size_t n, int64_t row, double *x) {
    int64_t iv;
    int numeric = n > 0 && ((s[0] >= '0' && s[0] <= '9') || (n > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9'));
    if (k == C_REWARD) {
        char buf[64];
        if (n == 0 || n >= sizeof buf || !is_decimal(s, n)) return "is not a number (decimal digits; no hex, inf or nan)";
        memcpy(buf, s, n);
        buf[n] = 0;
        if (cb_parse_f64(buf, x) || !(fabs(*x) <= FLT_MAX)) return "is not a finite float";
        return NULL;
    }
    int rc = cb_parse_dec_exact(s, n, INT64_MIN, INT64_MAX, &iv);
    switch (k) {
    case C_ACTION:
    case C_LABEL:
    case C_EXEC:
        if (rc == 0 && (iv < 0 || iv > 14)) return "outside 0..14 (procgen's 15 actions)";
        if (rc) return numeric ? "is not an integer action (0..14 in plain decimal digits)" : "is not a number";
        break;
    case C_DONE:
        if (rc || iv < 0 || iv > 1) return "is not 0 or 1";
        break;
    default: /* step, episode, episode_step */
        if (rc || iv < 0 || iv > INT32_MAX) return "is not an integer in 0..2^31-1 (plain decimal digits)";
        if (k == C_STEP && iv != row) return "is not the row number (steps count 0, 1, 2, ...)";
        break;
    }
    *x = (double)iv;
    return NULL;
}

/* The state of a parse: the header's column map and the rows read so far. */
typedef struct {
    const char *name; /* for messages */
    int map[MAX_COLS], have[NC], ncol, lineno;
    double *v;        /* NC values a row, room for every line */
    int64_t rows;
} csv_parser;

/* Refuses a NUL byte anywhere, naming its line: a text file has none, and a
 * field "7<NUL>junk" must not read as 7. */
static int check_nul(const char *text, size_t n, const char *name, cb_err *e) {
    const char *nul = memchr(text, 0, n);
    if (!nul) return 0;
    int64_t at = 1;
    for (const char *q = text; q < nul; q++) at += *q == '\n';
    return cb_fail(e, CB_EFORMAT, "%s:%lld: a NUL byte (actions.csv is text)", name, (long long)at);
}

/* The header's nf fields: maps each to its known column (or -1), refuses a
 * column named twice or a required one missing, and allocates room for the
 * values of `lines` rows. */
static int parse_header(csv_parser *p, const char *fs[], const char *fe[], int nf, int64_t lines, cb_err *e) {
    if (nf > MAX_COLS) return cb_fail(e, CB_EFORMAT, "%s:%d: more than %d columns", p->name, p->lineno, MAX_COLS);
    int rc = 0;
    p->ncol = nf;
    for (int j = 0; j < nf && !rc; j++) {
        p->map[j] = -1;
        for (int k = 0; k < NC; k++)
            if ((size_t)(fe[j] - fs[j]) == strlen(CNAMES[k]) && !memcmp(fs[j], CNAMES[k], strlen(CNAMES[k]))) {
                if (p->have[k])
                    rc = cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' appears twice", p->name, p->lineno, CNAMES[k]);
                p->map[j] = k;
                p->have[k] = 1;
            }
    }
    for (int k = 0; k <= C_DONE && !rc; k++)
        if (!p->have[k])
            rc = cb_fail(e, CB_EFORMAT, "%s: the header lacks the column '%s' (needs step,action,reward,done)", p->name,
                         CNAMES[k]);
    if (!rc && !(p->v = malloc(sizeof(double) * NC * (size_t)lines)))
        rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", p->name);
    return rc;
}

/* One row's nf fields: refuses a row past CAPTURE_CSV_MAX_ROWS or with
 * another field count than the header's, then parses each field of a known
 * column into the row's values. */
static int parse_row(csv_parser *p, const char *fs[], const char *fe[], int nf, cb_err *e) {
    if (p->rows == CAPTURE_CSV_MAX_ROWS)
        return cb_fail(e, CB_ERANGE, "%s:%d: more than %d rows (a level holds at most %d frames)", p->name, p->lineno,
                       CAPTURE_CSV_MAX_ROWS, CAPTURE_CSV_MAX_ROWS);
    if (nf != p->ncol)
        return cb_fail(e, CB_EFORMAT, "%s:%d: %s%d fields, the header has %d", p->name, p->lineno,
                       nf > MAX_COLS ? "more than " : "", nf > MAX_COLS ? MAX_COLS : nf, p->ncol);
    for (int j = 0; j < nf; j++) {
        int k = p->map[j];
        if (k < 0) continue; /* a column coinbc does not use */
        size_t len = (size_t)(fe[j] - fs[j]);
        double x;
        const char *why = parse_field(k, fs[j], len, p->rows, &x);
        if (why) {
            char shown[80];
            show(shown, sizeof shown, fs[j], len);
            return cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' value '%s' %s", p->name, p->lineno, CNAMES[k], shown,
                           why);
        }
        p->v[(size_t)p->rows * NC + (size_t)k] = x;
    }
    p->rows++;
    return 0;
}

/* Feeds the lines of [s, end) to the header, then to the rows, skipping
 * blank lines; stops at the first error. */
static int parse_lines(csv_parser *p, const char *s, const char *end, int64_t lines, cb_err *e) {
    const char *fs[MAX_COLS], *fe[MAX_COLS];
    int rc = 0;
    while (s < end && !rc) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end, *ls = s;
        s = nl ? nl + 1 : end;
        p->lineno++;
        const char *ts = ls, *te = le;
        trim(&ts, &te);
        if (ts == te) continue; /* blank line */
        int nf = split(ls, le, fs, fe);
        rc = p->ncol ? parse_row(p, fs, fe, nf, e) : parse_header(p, fs, fe, nf, lines, e);
    }
    return rc;
}

/* Moves the parsed rows into c's one block: label and executed default to
 * action, episode and episode_step are counted from done when absent. */
static int build_columns(capture_csv *c, const csv_parser *p, cb_err *e) {
    size_t m = (size_t)p->rows;
    uint8_t *b = malloc(m * (3 + 4 + 4 + 4));
    if (!b) return cb_fail(e, CB_ENOMEM, "%s: out of memory", p->name);
    c->block = b;
    c->n = p->rows;
    c->reward = (float *)b; /* 4-byte columns first: aligned */
    c->episode = (int32_t *)(b + 4 * m);
    c->step = (int32_t *)(b + 8 * m);
    c->label = b + 12 * m;
    c->action = b + 13 * m;
    c->done = b + 14 * m;
    const int *have = p->have;
    int32_t ep = 0, epstep = 0;
    for (size_t t = 0; t < m; t++) {
        const double *r = p->v + t * NC;
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
    return 0;
}

int capture_csv_parse(const char *text, size_t n, const char *name, capture_csv *c, cb_err *e) {
    memset(c, 0, sizeof *c);
    const char *s = text, *end = text + n;
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) s += 3; /* a UTF-8 byte order mark (spreadsheet exports) */
    /* rows: at most one per line */
    int64_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    int rc = check_nul(text, n, name, e);
    if (rc) return rc;
    csv_parser p;
    memset(&p, 0, sizeof p);
    p.name = name;
    rc = parse_lines(&p, s, end, lines, e);
    if (!rc && !p.ncol)
        rc = cb_fail(e, CB_EFORMAT, "%s: empty file (a header step,action,reward,done is needed)", name);
    if (!rc && p.rows == 0) rc = cb_fail(e, CB_EFORMAT, "%s: no rows after the header", name);
    if (!rc) rc = build_columns(c, &p, e);
    free(p.v);
    return rc;
}

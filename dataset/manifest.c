/* manifest.c - the text manifest of a dataset folder: version, frame shape,
 * action space, source, the command that made it, one line per level (seed,
 * mode, frames, episodes, shard file, size, CRC32) and a closing line with
 * the CRC32 of everything before it. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/manifest.h"
#include "dataset/shard.h"

void ds_manifest_init(ds_manifest *m) { memset(m, 0, sizeof *m); }

void ds_manifest_free(ds_manifest *m) {
    free(m->e);
    memset(m, 0, sizeof *m);
}

const char *ds_mode_name(int mode) { return mode == 0 ? "easy" : mode == 1 ? "hard" : "unknown"; }

int ds_manifest_find(const ds_manifest *m, int32_t seed) {
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) { /* sorted by seed */
        int mid = (lo + hi) / 2;
        if (m->e[mid].seed == seed) return mid;
        if (m->e[mid].seed < seed) lo = mid + 1;
        else hi = mid - 1;
    }
    for (int i = 0; i < m->n; i++) /* not yet sorted (while writing) */
        if (m->e[i].seed == seed) return i;
    return -1;
}

int ds_manifest_add(ds_manifest *m, const ds_entry *en, cb_err *e) {
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        ds_entry *ne = realloc(m->e, sizeof *ne * (size_t)cap);
        if (!ne) return cb_fail(e, CB_ENOMEM, "manifest: out of memory");
        m->e = ne;
        m->cap = cap;
    }
    m->e[m->n++] = *en;
    return 0;
}

static int by_seed(const void *a, const void *b) {
    int32_t x = ((const ds_entry *)a)->seed, y = ((const ds_entry *)b)->seed;
    return (x > y) - (x < y);
}

void ds_manifest_sort(ds_manifest *m) {
    if (m->n > 1) qsort(m->e, (size_t)m->n, sizeof *m->e, by_seed); /* m->e is NULL while empty */
}

/* single-line text: newlines and tabs become spaces */
static void oneline(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

/* The manifest's lines before "end" into buf (cap: 4096 + 160 a level):
 * with the provenance (source, command), as written, or without it, as the
 * content CRC covers. Returns the length. */
static size_t render(const ds_manifest *m, int provenance, char *buf, size_t cap) {
    size_t len = 0;
#define OUT(...) len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__)
    OUT("coinbc-dataset %d\nframe %d %d %d\nactions %d\n", DS_VERSION, CB_FRAME_W, CB_FRAME_H, CB_FRAME_C, CB_NUM_ACTIONS);
    if (provenance) {
        char src[512], cmd[2048];
        oneline(src, sizeof src, m->source);
        oneline(cmd, sizeof cmd, m->command);
        OUT("source %s\ncommand %s\n", src, cmd);
    }
    for (int i = 0; i < m->nrelabel; i++) /* optional, in the order applied */
        OUT("relabel %d %d %llu\n", m->relabel[i].lo, m->relabel[i].hi, (unsigned long long)m->relabel[i].seed);
    OUT("levels %d\n", m->n);
    for (int i = 0; i < m->n; i++) {
        const ds_entry *en = &m->e[i];
        OUT("level %d %s %lld %d %s %llu %08x\n", en->seed, ds_mode_name(en->mode), (long long)en->frames, en->episodes,
            en->file, (unsigned long long)en->bytes, en->crc);
    }
#undef OUT
    return len;
}

static size_t render_cap(const ds_manifest *m) { return 4096 + (size_t)m->n * 160; }

int ds_manifest_write(ds_manifest *m, const char *dir, cb_err *e) {
    ds_manifest_sort(m);
    size_t cap = render_cap(m);
    char *buf = malloc(cap);
    if (!buf) return cb_fail(e, CB_ENOMEM, "manifest: out of memory");
    size_t len = render(m, 1, buf, cap);
    m->crc = (uint32_t)crc32(0, (const Bytef *)buf, (uInt)len);
    len += (size_t)snprintf(buf + len, cap - len, "end %08x\n", m->crc);
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    int rc = cb_write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

int ds_manifest_content_crc(const ds_manifest *m, uint32_t *crc, const char *name, cb_err *e) {
    size_t cap = render_cap(m);
    char *buf = malloc(cap);
    if (!buf) return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    *crc = (uint32_t)crc32(0, (const Bytef *)buf, (uInt)render(m, 0, buf, cap));
    free(buf);
    return 0;
}

static void copy_trunc(char *dst, size_t n, const char *src, size_t len) {
    size_t l = len < n - 1 ? len : n - 1;
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* The lines in the order the format fixes; relabel and level repeat, and
 * relabel may be absent. */
enum { L_VERSION, L_FRAME, L_ACTIONS, L_SOURCE, L_COMMAND, L_RELABEL, L_LEVELS, L_LEVEL, L_END, L_COUNT };
static const char *const KEYWORD[L_COUNT] = {"coinbc-dataset", "frame", "actions", "source", "command",
                                             "relabel",        "levels", "level", "end"};

/* Splits line (length ll) at single spaces into at most max fields; -1 when
 * there are more, or an empty field (two spaces, a space at either end). */
static int split(const char *line, size_t ll, const char **f, size_t *fl, int max) {
    int k = 0;
    size_t a = 0;
    for (size_t i = 0; i <= ll; i++) {
        if (i < ll && line[i] != ' ') continue;
        if (i == a || k == max) return -1;
        f[k] = line + a;
        fl[k++] = i - a;
        a = i + 1;
    }
    return k;
}

static int is(const char *f, size_t fl, const char *word) { return fl == strlen(word) && !memcmp(f, word, fl); }

/* the shard sizes a level of `frames` frames can have: its header, and a
 * zlib stream that deflate can inflate to the raw payload (at most 1032:1)
 * and that compress2 can produce (at most compressBound) */
static void shard_bytes_range(int64_t frames, uint64_t *lo, uint64_t *hi) {
    uint64_t raw = (uint64_t)frames * (DS_SHARD_COLS + CB_FRAME_BYTES);
    *lo = DS_SHARD_HDR + raw / 1032u;
    if (*lo < DS_SHARD_HDR + 8) *lo = DS_SHARD_HDR + 8; /* the smallest zlib stream */
    *hi = DS_SHARD_HDR + (uint64_t)compressBound((uLong)raw);
}

/* A canonical decimal uint64 (the relabel seed): its last digit and the
 * digits before it each through cb_parse_dec_exact, as the one parser only
 * spans int64. */
static int parse_u64(const char *f, size_t fl, uint64_t *out) {
    int64_t head = 0, last;
    if (fl == 0 || cb_parse_dec_exact(f + fl - 1, 1, 0, 9, &last)) return CB_EARG;
    if (fl > 1) {
        int rc = cb_parse_dec_exact(f, fl - 1, 1, INT64_MAX, &head); /* 1..: no leading zero */
        if (rc) return rc;
        if ((uint64_t)head > (UINT64_MAX - (uint64_t)last) / 10) return CB_ERANGE;
    }
    *out = (uint64_t)head * 10 + (uint64_t)last;
    return 0;
}

/* One level line's fields (after "level"); 0, or a message in why. */
static int parse_level(const char **f, const size_t *fl, ds_entry *en, char *why, size_t nwhy) {
    int64_t v;
    memset(en, 0, sizeof *en);
    int rc = cb_parse_dec_exact(f[0], fl[0], INT32_MIN, INT32_MAX, &v);
    if (rc)
        return snprintf(why, nwhy, "the seed %s", rc == CB_ERANGE ? "is not an int32" : "is not a canonical decimal"), -1;
    en->seed = (int32_t)v;
    if (is(f[1], fl[1], "easy")) en->mode = 0;
    else if (is(f[1], fl[1], "hard")) en->mode = 1;
    else if (is(f[1], fl[1], "unknown")) en->mode = -1;
    else return snprintf(why, nwhy, "the mode is not easy, hard or unknown"), -1;
    if ((rc = cb_parse_dec_exact(f[2], fl[2], 0, DS_MAX_FRAMES, &en->frames)))
        return snprintf(why, nwhy, "the frame count %s",
                        rc == CB_ERANGE ? "is not in 0..2^26" : "is not a canonical decimal"), -1;
    rc = cb_parse_dec_exact(f[3], fl[3], 0, en->frames, &v);
    if (rc || (en->frames > 0 && v == 0))
        return snprintf(why, nwhy, "the episode count %s",
                        rc == CB_EARG ? "is not a canonical decimal" : "is not in 1..FRAMES (0 for 0 frames)"), -1;
    en->episodes = (int32_t)v;
    int okname = fl[4] >= 1 && fl[4] < sizeof en->file && !is(f[4], fl[4], ".") && !is(f[4], fl[4], "..");
    for (size_t i = 0; okname && i < fl[4]; i++) okname = f[4][i] > ' ' && f[4][i] < 0x7f && f[4][i] != '/';
    if (!okname)
        return snprintf(why, nwhy, "the shard name is not 1..63 printable ASCII bytes without '/' (nor . or ..)"), -1;
    memcpy(en->file, f[4], fl[4]);
    uint64_t lo, hi;
    shard_bytes_range(en->frames, &lo, &hi);
    if ((rc = cb_parse_dec_exact(f[5], fl[5], (int64_t)lo, (int64_t)hi, &v)))
        return snprintf(why, nwhy, "the byte count %s",
                        rc == CB_ERANGE ? "is not a size a shard of that many frames can have" : "is not a canonical decimal"), -1;
    en->bytes = (uint64_t)v;
    if (cb_parse_hex32_exact(f[6], fl[6], &en->crc))
        return snprintf(why, nwhy, "the CRC is not 8 lower-case hex digits"), -1;
    return 0;
}

/* the first SHOW_MAX bytes of a line, for a message (it is not NUL-terminated) */
#define SHOW_MAX 80
#define SHOW(p, ll) (int)((ll) < SHOW_MAX ? (ll) : SHOW_MAX), (p)

/* Line `lineno` (p, ll bytes, its keyword kl bytes) after a line of kind
 * `last`: its kind into *kind, or an error when it is unknown or out of the
 * format's order (each line once and in turn, relabel and level repeated,
 * relabel optional). */
static int line_kind(int *kind, const char *p, size_t ll, size_t kl, int lineno, int last, const char *name, cb_err *e) {
    *kind = -1;
    for (int k = 0; k < L_COUNT && *kind < 0; k++)
        if (is(p, kl, KEYWORD[k])) *kind = k;
    if (lineno == 1 && *kind != L_VERSION) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc dataset manifest", name);
    if (*kind < 0) return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.*s' (an unknown line)", name, lineno, SHOW(p, ll));
    if (*kind == last && (*kind == L_RELABEL || *kind == L_LEVEL)) return 0;
    int want = last + 1;
    if (want == L_RELABEL && *kind == L_LEVELS) want = L_LEVELS;
    if (*kind != want)
        return cb_fail(e, CB_EFORMAT, "%s:%d: a '%s' line where the format has the '%s' line", name, lineno, KEYWORD[*kind],
                       KEYWORD[want]);
    return 0;
}

/* The fields f (lengths fl) of line `lineno` (p, ll bytes) of kind `kind`,
 * one with fields, into m; *declared takes the levels line's count; the end
 * line's CRC covers text up to p. */
static int parse_line(ds_manifest *m, int64_t *declared, int kind, const char **f, const size_t *fl, const char *p,
                      size_t ll, const char *text, int lineno, const char *name, cb_err *e) {
    int64_t v[3];
    char why[160];
    if (kind == L_VERSION) {
        int r = cb_parse_dec_exact(f[1], fl[1], 0, INT32_MAX, &v[0]);
        if (r == CB_EARG) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc dataset manifest", name);
        if (r || v[0] != DS_VERSION)
            return cb_fail(e, CB_EFORMAT, "%s: manifest version %.*s is not supported (this coinbc reads %d)", name,
                           (int)fl[1], f[1], DS_VERSION);
    } else if (kind == L_FRAME) {
        for (int i = 0; i < 3; i++)
            if (cb_parse_dec_exact(f[1 + i], fl[1 + i], 0, 65535, &v[i]))
                return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read the frame shape '%.*s'", name, lineno, SHOW(p, ll));
        if (v[0] != CB_FRAME_W || v[1] != CB_FRAME_H || v[2] != CB_FRAME_C)
            return cb_fail(e, CB_EFORMAT, "%s: frame shape %lldx%lldx%lld, coinbc needs 64x64x3", name, (long long)v[0],
                           (long long)v[1], (long long)v[2]);
    } else if (kind == L_ACTIONS) {
        if (cb_parse_dec_exact(f[1], fl[1], 0, 255, &v[0]) || v[0] != CB_NUM_ACTIONS)
            return cb_fail(e, CB_EFORMAT, "%s:%d: '%.*s': coinbc datasets have exactly 15 actions", name, lineno,
                           SHOW(p, ll));
    } else if (kind == L_RELABEL) {
        if (m->nrelabel == DS_MAX_RELABELINGS)
            return cb_fail(e, CB_EFORMAT, "%s:%d: more than %d relabel lines", name, lineno, DS_MAX_RELABELINGS);
        uint64_t seed;
        if (cb_parse_dec_exact(f[1], fl[1], 0, INT32_MAX, &v[0]) || cb_parse_dec_exact(f[2], fl[2], v[0], INT32_MAX, &v[1]) ||
            parse_u64(f[3], fl[3], &seed))
            return cb_fail(e, CB_EFORMAT,
                           "%s:%d: cannot read '%.*s' (need relabel LO HI SEED: 0 <= LO <= HI < 2^31, 0 <= SEED < 2^64, "
                           "canonical decimals)",
                           name, lineno, SHOW(p, ll));
        ds_relabeling *rl = &m->relabel[m->nrelabel++];
        rl->lo = (int32_t)v[0];
        rl->hi = (int32_t)v[1];
        rl->seed = seed;
    } else if (kind == L_LEVELS) {
        int r = cb_parse_dec_exact(f[1], fl[1], 0, DS_MAX_LEVELS, declared);
        if (r)
            return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.*s' (the level count %s)", name, lineno, SHOW(p, ll),
                           r == CB_ERANGE ? "is more than a dataset may have, 2^20" : "is not a canonical decimal");
        if (*declared == 0)
            return cb_fail(e, CB_EFORMAT, "%s:%d: lists no levels; a dataset holds at least one (capture or record some into it)",
                           name, lineno);
    } else if (kind == L_LEVEL) {
        ds_entry en;
        if (m->n == *declared)
            return cb_fail(e, CB_EFORMAT, "%s:%d: more level lines than the %lld the levels line says", name, lineno,
                           (long long)*declared);
        if (parse_level(f + 1, fl + 1, &en, why, sizeof why))
            return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.*s': %s", name, lineno, SHOW(p, ll), why);
        return ds_manifest_add(m, &en, e);
    } else { /* L_END */
        uint32_t crc;
        if (cb_parse_hex32_exact(f[1], fl[1], &crc))
            return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.*s' (the CRC is 8 lower-case hex digits)", name, lineno,
                           SHOW(p, ll));
        if (crc != (uint32_t)crc32(0, (const Bytef *)text, (uInt)(p - text)))
            return cb_fail(e, CB_ECRC, "%s: manifest CRC mismatch (the manifest was edited or damaged)", name);
        m->crc = crc;
    }
    return 0;
}

/* the whole manifest read: the line after the end line, a truncation, the
 * level count and duplicate levels */
static int parse_lines(ds_manifest *m, const char *text, size_t n, const char *name, cb_err *e) {
    static const int NFIELDS[L_COUNT] = {2, 4, 2, 0, 0, 4, 2, 8, 2};
    int lineno = 0, last = -1, rc;
    int64_t declared = -1;
    const char *p = text, *end = text + n;
    if (n > DS_MANIFEST_MAX)
        return cb_fail(e, CB_ERANGE, "%s: %zu bytes, more than a manifest of %d levels can have", name, n, DS_MAX_LEVELS);
    for (; p < end; p++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return cb_fail(e, CB_EFORMAT, "%s: truncated (the last line has no end of line)", name);
        lineno++;
        size_t ll = (size_t)(nl - p), kl = 0;
        if (ll >= DS_MANIFEST_LINE)
            return cb_fail(e, CB_EFORMAT, "%s:%d: line too long (at most %d bytes)", name, lineno, DS_MANIFEST_LINE - 1);
        if (last == L_END) return cb_fail(e, CB_EFORMAT, "%s:%d: text after the end line", name, lineno);
        if (memchr(p, 0, ll) || memchr(p, '\r', ll))
            return cb_fail(e, CB_EFORMAT, "%s:%d: a NUL or CR byte in the line", name, lineno);
        while (kl < ll && p[kl] != ' ') kl++;
        int kind;
        if ((rc = line_kind(&kind, p, ll, kl, lineno, last, name, e))) return rc;
        last = kind;
        if (kind == L_SOURCE || kind == L_COMMAND) { /* free text: the rest of the line */
            size_t off = kl < ll ? kl + 1 : kl;
            if (kind == L_SOURCE) copy_trunc(m->source, sizeof m->source, p + off, ll - off);
            else copy_trunc(m->command, sizeof m->command, p + off, ll - off);
        } else {
            const char *f[9];
            size_t fl[9];
            int k = split(p, ll, f, fl, 9);
            if (k != NFIELDS[kind])
                return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.*s': not %d fields separated by single spaces", name,
                               lineno, SHOW(p, ll), NFIELDS[kind]);
            if ((rc = parse_line(m, &declared, kind, f, fl, p, ll, text, lineno, name, e))) return rc;
        }
        p = nl;
    }
    if (last != L_END) return cb_fail(e, CB_EFORMAT, "%s: truncated (no end line)", name);
    if (declared != m->n) return cb_fail(e, CB_EFORMAT, "%s: says %lld levels but lists %d", name, (long long)declared, m->n);
    ds_manifest_sort(m);
    for (int i = 1; i < m->n; i++)
        if (m->e[i].seed == m->e[i - 1].seed) return cb_fail(e, CB_EFORMAT, "%s: level %d is listed twice", name, m->e[i].seed);
    return 0;
}
#undef SHOW
#undef SHOW_MAX

int ds_manifest_parse(ds_manifest *m, const char *text, size_t n, const char *name, cb_err *e) {
    ds_manifest_init(m);
    int rc = parse_lines(m, text, n, name, e);
    if (rc) ds_manifest_free(m);
    return rc;
}

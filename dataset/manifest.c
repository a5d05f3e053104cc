/* manifest.c - the text manifest of a dataset folder: version, frame shape,
 * action space, source, the command that made it, one line per level (seed,
 * mode, frames, episodes, shard file, size, CRC32) and a closing line with
 * the CRC32 of everything before it. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/manifest.h"

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

void ds_manifest_sort(ds_manifest *m) { qsort(m->e, (size_t)m->n, sizeof *m->e, by_seed); }

/* single-line text: newlines and tabs become spaces */
static void oneline(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

int ds_manifest_write(ds_manifest *m, const char *dir, cb_err *e) {
    ds_manifest_sort(m);
    size_t cap = 4096 + (size_t)m->n * 160, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cb_fail(e, CB_ENOMEM, "manifest: out of memory");
#define OUT(...) len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__)
    char src[512], cmd[2048];
    oneline(src, sizeof src, m->source);
    oneline(cmd, sizeof cmd, m->command);
    OUT("coinbc-dataset %d\nframe %d %d %d\nactions %d\nsource %s\ncommand %s\n", DS_VERSION, DS_W, DS_H, DS_C,
        DS_NUM_ACTIONS, src, cmd);
    for (int i = 0; i < m->nrelabel; i++) /* optional, in the order applied */
        OUT("relabel %d %d %llu\n", m->relabel[i].lo, m->relabel[i].hi, (unsigned long long)m->relabel[i].seed);
    OUT("levels %d\n", m->n);
    for (int i = 0; i < m->n; i++) {
        const ds_entry *en = &m->e[i];
        OUT("level %d %s %lld %d %s %llu %08x\n", en->seed, ds_mode_name(en->mode), (long long)en->frames, en->episodes,
            en->file, (unsigned long long)en->bytes, en->crc);
    }
    m->crc = (uint32_t)crc32(0, (const Bytef *)buf, (uInt)len);
    OUT("end %08x\n", m->crc);
#undef OUT
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    int rc = cb_write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

static void copy_trunc(char *dst, size_t n, const char *src) {
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = 0;
}

int ds_manifest_parse(ds_manifest *m, const char *text, size_t n, const char *name, cb_err *e) {
    ds_manifest_init(m);
    int lineno = 0, declared = -1, ended = 0;
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            ds_manifest_free(m);
            return cb_fail(e, CB_EFORMAT, "%s: truncated (the last line has no end of line)", name);
        }
        lineno++;
        size_t ll = (size_t)(nl - p);
        char line[4096];
        if (ll >= sizeof line) {
            ds_manifest_free(m);
            return cb_fail(e, CB_EFORMAT, "%s:%d: line too long", name, lineno);
        }
        memcpy(line, p, ll);
        line[ll] = 0;
        if (ended) {
            ds_manifest_free(m);
            return cb_fail(e, CB_EFORMAT, "%s:%d: text after the end line", name, lineno);
        }
        int ok = 1;
        if (lineno == 1) {
            int v;
            if (sscanf(line, "coinbc-dataset %d", &v) != 1) {
                ds_manifest_free(m);
                return cb_fail(e, CB_EFORMAT, "%s: not a coinbc dataset manifest", name);
            }
            if (v != DS_VERSION) {
                ds_manifest_free(m);
                return cb_fail(e, CB_EFORMAT, "%s: manifest version %d is not supported (this coinbc reads %d)", name, v,
                               DS_VERSION);
            }
        } else if (!strncmp(line, "frame ", 6)) {
            int w, h, c;
            ok = sscanf(line, "frame %d %d %d", &w, &h, &c) == 3;
            if (ok && (w != DS_W || h != DS_H || c != DS_C)) {
                ds_manifest_free(m);
                return cb_fail(e, CB_EFORMAT, "%s: frame shape %dx%dx%d, coinbc needs 64x64x3", name, w, h, c);
            }
        } else if (!strncmp(line, "actions ", 8)) {
            int a;
            ok = sscanf(line, "actions %d", &a) == 1 && a == DS_NUM_ACTIONS;
        } else if (!strncmp(line, "source ", 7) || !strcmp(line, "source")) {
            copy_trunc(m->source, sizeof m->source, line[6] ? line + 7 : "");
        } else if (!strncmp(line, "command ", 8) || !strcmp(line, "command")) {
            copy_trunc(m->command, sizeof m->command, line[7] ? line + 8 : "");
        } else if (!strncmp(line, "levels ", 7)) {
            ok = sscanf(line, "levels %d", &declared) == 1 && declared >= 0;
        } else if (!strncmp(line, "level ", 6)) {
            ds_entry en;
            memset(&en, 0, sizeof en);
            char mode[16], file[64];
            long long frames;
            unsigned long long bytes;
            int tail = 0;
            ok = sscanf(line, "level %d %15s %lld %d %63s %llu %x%n", &en.seed, mode, &frames, &en.episodes, file, &bytes,
                        &en.crc, &tail) == 7 &&
                 line[tail] == 0 && frames >= 0 && en.episodes >= 0;
            if (ok) {
                en.mode = (int8_t)(!strcmp(mode, "easy") ? 0 : !strcmp(mode, "hard") ? 1 : -1);
                en.frames = frames;
                en.bytes = bytes;
                snprintf(en.file, sizeof en.file, "%s", file);
                ok = strchr(file, '/') == NULL && strcmp(file, "..") != 0;
                if (ok && ds_manifest_find(m, en.seed) >= 0) {
                    ds_manifest_free(m);
                    return cb_fail(e, CB_EFORMAT, "%s:%d: level %d is listed twice", name, lineno, en.seed);
                }
                if (ok && ds_manifest_add(m, &en, e)) {
                    ds_manifest_free(m);
                    return CB_ENOMEM;
                }
            }
        } else if (!strncmp(line, "relabel ", 8)) {
            ds_relabeling rl;
            long long lo, hi;
            unsigned long long seed;
            int tail = 0;
            char canon[96];
            ok = sscanf(line, "relabel %lld %lld %llu%n", &lo, &hi, &seed, &tail) == 3 && line[tail] == 0 && lo >= 0 &&
                 lo <= hi && hi <= INT32_MAX;
            if (ok) { /* exactly as written: no signs, spaces or leading zeros */
                snprintf(canon, sizeof canon, "relabel %lld %lld %llu", lo, hi, seed);
                ok = !strcmp(canon, line);
            }
            if (ok && m->nrelabel == DS_MAX_RELABELINGS) {
                ds_manifest_free(m);
                return cb_fail(e, CB_EFORMAT, "%s:%d: more than %d relabel lines", name, lineno, DS_MAX_RELABELINGS);
            }
            if (ok) {
                rl.lo = (int32_t)lo;
                rl.hi = (int32_t)hi;
                rl.seed = seed;
                m->relabel[m->nrelabel++] = rl;
            }
        } else if (!strncmp(line, "end ", 4)) {
            unsigned crc;
            ok = sscanf(line, "end %x", &crc) == 1;
            if (ok && crc != (uint32_t)crc32(0, (const Bytef *)text, (uInt)(p - text))) {
                ds_manifest_free(m);
                return cb_fail(e, CB_ECRC, "%s: manifest CRC mismatch (the manifest was edited or damaged)", name);
            }
            m->crc = crc;
            ended = 1;
        } else {
            ok = 0;
        }
        if (!ok) {
            ds_manifest_free(m);
            return cb_fail(e, CB_EFORMAT, "%s:%d: cannot read '%.80s'", name, lineno, line);
        }
        p = nl + 1;
    }
    if (!ended) {
        ds_manifest_free(m);
        return cb_fail(e, CB_EFORMAT, "%s: truncated (no end line)", name);
    }
    if (declared != m->n) {
        int listed = m->n;
        ds_manifest_free(m);
        return cb_fail(e, CB_EFORMAT, "%s: says %d levels but lists %d", name, declared, listed);
    }
    ds_manifest_sort(m);
    return 0;
}

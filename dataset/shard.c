/* shard.c - one level's data as a shard: a 64-byte header (magic, version,
 * sizes, CRC32 of header and payload) and a zlib stream holding the
 * per-frame columns and then the frames, optionally each frame stored as its
 * byte-wise difference to the previous one (docs/FORMATS.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "dataset/shard.h"

static const char MAGIC[8] = {'C', 'B', 'S', 'H', 'A', 'R', 'D', 0};
/* deflate cannot expand data by more than 1032:1; a header claiming more is
 * damaged or hostile, and is refused before anything is allocated */
#define MAX_INFLATE_RATIO 1032u
#define HUGE_ALIGN ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)ds_get32(p) | (uint64_t)ds_get32(p + 4) << 32; }

static uint64_t raw_size(int64_t n) { return (uint64_t)n * (DS_SHARD_COLS + CB_FRAME_BYTES); }

int ds_level_alloc(ds_level *l, int32_t seed, int mode, int64_t n, cb_err *e) {
    memset(l, 0, sizeof *l);
    if (n < 0 || n > (int64_t)1 << 26) return cb_fail(e, CB_ERANGE, "level %d: %lld frames is out of range", seed, (long long)n);
    size_t m = (size_t)(n ? n : 1);
    /* one block: frames, then 3 byte columns, then 3 four-byte columns */
    size_t bytes = m * CB_FRAME_BYTES + m * 3 + m * 12 + 16;
    uint8_t *b = NULL;
    if (bytes >= HUGE_MIN) {
        /* Loading is bound by first-touch page faults (measured: inflate runs
         * at ~950 MB/s into warm memory, ~150 MB/s into fresh 4 KiB pages,
         * and faults of two threads contend). Huge pages make them rare. */
        void *v = NULL;
        if (posix_memalign(&v, HUGE_ALIGN, bytes) == 0) {
            b = v;
            madvise(b, (bytes + HUGE_ALIGN - 1) / HUGE_ALIGN * HUGE_ALIGN, MADV_HUGEPAGE); /* advisory only */
        }
    } else {
        b = malloc(bytes);
    }
    if (!b) return cb_fail(e, CB_ENOMEM, "level %d: out of memory for %lld frames", seed, (long long)n);
    l->seed = seed;
    l->mode = (int8_t)mode;
    l->n = n;
    l->frames = b;
    uint8_t *p = b + m * CB_FRAME_BYTES;
    l->label = p;
    l->action = p + m;
    l->done = p + 2 * m;
    p += 3 * m;
    p += (16 - ((uintptr_t)p & 15)) & 15;
    l->reward = (float *)p;
    l->episode = (int32_t *)(p + 4 * m);
    l->step = (int32_t *)(p + 8 * m);
    return 0;
}

void ds_level_free(ds_level *l) {
    if (!l) return;
    free(l->frames);
    memset(l, 0, sizeof *l);
}

int ds_level_episodes(const ds_level *l) {
    int k = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (i == 0 || l->episode[i] != l->episode[i - 1]) k++;
    return k;
}

int ds_level_check(const ds_level *l, cb_err *e) {
    for (int64_t t = 0; t < l->n; t++)
        if (!(l->label[t] < CB_NUM_ACTIONS && l->action[t] < CB_NUM_ACTIONS && l->done[t] <= 1 && isfinite(l->reward[t])))
            return cb_fail(e, CB_ERANGE, "level %d: frame %lld: label %d, action %d, done %d, reward %g (labels and actions "
                                         "must be 0..14, done 0 or 1, rewards finite)",
                           l->seed, (long long)t, l->label[t], l->action[t], l->done[t], (double)l->reward[t]);
    return 0;
}

const char *ds_episode_rule(int64_t t, const ds_frame_cols *prev, const ds_frame_cols *cur) {
    if (cur->step < 0) return "a negative step";
    if (t == 0) return cur->episode != 0 ? "the first frame is not in episode 0" : NULL;
    if (cur->episode == prev->episode) {
        if (prev->done) return "done is set in the middle of an episode (the next frame is in the same episode)";
        if (cur->step <= prev->step) return "the step does not increase within the episode";
        return NULL;
    }
    if ((int64_t)cur->episode != (int64_t)prev->episode + 1) return "the episode index does not go on by one";
    return NULL;
}

int ds_level_check_episodes(const ds_level *l, cb_err *e) {
    ds_frame_cols prev = {0, 0, 0}, cur;
    for (int64_t t = 0; t < l->n; t++) {
        cur.episode = l->episode[t];
        cur.step = l->step[t];
        cur.done = l->done[t];
        const char *why = ds_episode_rule(t, &prev, &cur);
        if (why)
            return cb_fail(e, CB_ERANGE, "level %d: frame %lld: episode %d, step %d after episode %d, step %d, done %d: %s "
                           "(episodes are numbered 0, 1, ... in order, steps increase within one, done ends one)",
                           l->seed, (long long)t, cur.episode, cur.step, prev.episode, prev.step, prev.done, why);
        prev = cur;
    }
    return 0;
}

int ds_shard_encode(const ds_level *l, int filter, int level, uint8_t **out, size_t *outn, cb_err *e) {
    *out = NULL;
    *outn = 0;
    int64_t n = l->n;
    if (n < 0 || n > (int64_t)1 << 26) return cb_fail(e, CB_ERANGE, "level %d: %lld frames is out of range", l->seed, (long long)n);
    size_t raw_n = (size_t)raw_size(n);
    uint8_t *raw = malloc(raw_n ? raw_n : 1);
    if (!raw) return cb_fail(e, CB_ENOMEM, "level %d: out of memory encoding the shard", l->seed);
    uint8_t *p = raw;
    memcpy(p, l->label, (size_t)n);
    memcpy(p + n, l->action, (size_t)n);
    memcpy(p + 2 * n, l->done, (size_t)n);
    p += 3 * n;
    for (int64_t i = 0; i < n; i++) {
        uint32_t r;
        memcpy(&r, &l->reward[i], 4);
        put32(p + 4 * i, r);
        put32(p + 4 * (n + i), (uint32_t)l->episode[i]);
        put32(p + 4 * (2 * n + i), (uint32_t)l->step[i]);
    }
    p += 12 * n;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *f = l->frames + (size_t)i * CB_FRAME_BYTES;
        uint8_t *d = p + (size_t)i * CB_FRAME_BYTES;
        if (filter && i > 0) {
            const uint8_t *g = f - CB_FRAME_BYTES;
            for (int k = 0; k < CB_FRAME_BYTES; k++) d[k] = (uint8_t)(f[k] - g[k]);
        } else {
            memcpy(d, f, CB_FRAME_BYTES);
        }
    }
    uLongf cap = compressBound((uLong)raw_n);
    uint8_t *buf = malloc(DS_SHARD_HDR + cap);
    if (!buf) {
        free(raw);
        return cb_fail(e, CB_ENOMEM, "level %d: out of memory encoding the shard", l->seed);
    }
    uLongf clen = cap;
    int zr = compress2(buf + DS_SHARD_HDR, &clen, raw, (uLong)raw_n, level);
    free(raw);
    if (zr != Z_OK) {
        free(buf);
        return cb_fail(e, CB_EIO, "level %d: zlib compression failed (%d)", l->seed, zr);
    }
    memset(buf, 0, DS_SHARD_HDR);
    memcpy(buf, MAGIC, 8);
    put32(buf + 8, DS_VERSION);
    put32(buf + 12, DS_SHARD_HDR);
    put32(buf + 16, (uint32_t)l->seed);
    buf[20] = (uint8_t)l->mode;
    buf[21] = (uint8_t)(filter ? 1 : 0);
    put16(buf + 22, CB_FRAME_W);
    put16(buf + 24, CB_FRAME_H);
    put16(buf + 26, CB_FRAME_C);
    put32(buf + 28, (uint32_t)n);
    put64(buf + 32, raw_n);
    put64(buf + 40, clen);
    put32(buf + 48, (uint32_t)crc32_z(0, buf + DS_SHARD_HDR, clen));
    put32(buf + 60, (uint32_t)crc32_z(0, buf, 60));
    *out = buf;
    *outn = DS_SHARD_HDR + clen;
    return 0;
}

int ds_shard_check(const uint8_t *buf, size_t n, const char *name, ds_shard_hdr *h, cb_err *e) {
    memset(h, 0, sizeof *h);
    if (n < DS_SHARD_HDR)
        return cb_fail(e, CB_EFORMAT, "%s: truncated shard (%zu bytes, the header alone is 64); capture the level again", name, n);
    if (memcmp(buf, MAGIC, 8) != 0) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc shard (bad magic)", name);
    if (ds_get32(buf + 60) != (uint32_t)crc32_z(0, buf, 60))
        return cb_fail(e, CB_ECRC, "%s: shard header is damaged (header CRC mismatch); capture the level again", name);
    uint32_t ver = ds_get32(buf + 8);
    if (ver != DS_VERSION)
        return cb_fail(e, CB_EFORMAT, "%s: shard version %u is not supported (this coinbc reads version %d)", name, ver,
                       DS_VERSION);
    if (ds_get32(buf + 12) != DS_SHARD_HDR) return cb_fail(e, CB_EFORMAT, "%s: bad header size %u", name, ds_get32(buf + 12));
    for (int k = 52; k < 60; k++)
        if (buf[k])
            return cb_fail(e, CB_EFORMAT, "%s: level %d: reserved header byte %d is %u, not 0 (not a shard this format "
                           "version writes)", name, (int32_t)ds_get32(buf + 16), k, buf[k]);
    h->seed = (int32_t)ds_get32(buf + 16);
    h->mode = (int8_t)buf[20];
    h->filter = buf[21];
    if (get16(buf + 22) != CB_FRAME_W || get16(buf + 24) != CB_FRAME_H || get16(buf + 26) != CB_FRAME_C)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: frame shape %ux%ux%u, coinbc needs 64x64x3", name, h->seed,
                       get16(buf + 22), get16(buf + 24), get16(buf + 26));
    if (h->mode < -1 || h->mode > 1 || h->filter > 1)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: bad mode %d or filter %d", name, h->seed, h->mode, h->filter);
    h->n = ds_get32(buf + 28);
    h->raw = get64(buf + 32);
    h->clen = get64(buf + 40);
    if (h->n > (int64_t)1 << 26 || h->raw != raw_size(h->n))
        return cb_fail(e, CB_EFORMAT, "%s: level %d: raw size %llu does not fit %lld frames", name, h->seed,
                       (unsigned long long)h->raw, (long long)h->n);
    if (h->clen != n - DS_SHARD_HDR)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: payload is %zu bytes, the header says %llu (truncated?)", name, h->seed,
                       n - DS_SHARD_HDR, (unsigned long long)h->clen);
    if (h->raw / MAX_INFLATE_RATIO > h->clen)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: %llu compressed bytes cannot inflate to %llu", name, h->seed,
                       (unsigned long long)h->clen, (unsigned long long)h->raw);
    if (ds_get32(buf + 48) != (uint32_t)crc32_z(0, buf + DS_SHARD_HDR, (size_t)h->clen))
        return cb_fail(e, CB_ECRC, "%s: level %d: payload CRC mismatch (the shard is damaged); capture the level again", name,
                       h->seed);
    return 0;
}

void ds_shard_get_cols(ds_level *l, const uint8_t *p, int64_t n) {
    memcpy(l->label, p, (size_t)n);
    memcpy(l->action, p + n, (size_t)n);
    memcpy(l->done, p + 2 * n, (size_t)n);
    p += 3 * n;
    for (int64_t i = 0; i < n; i++) {
        uint32_t r = ds_get32(p + 4 * i);
        memcpy(&l->reward[i], &r, 4);
        l->episode[i] = (int32_t)ds_get32(p + 4 * (n + i));
        l->step[i] = (int32_t)ds_get32(p + 4 * (2 * n + i));
    }
}

int ds_shard_check_frame(const ds_level *l, int64_t t, const char *name, cb_err *e) {
    if (l->label[t] < CB_NUM_ACTIONS && l->action[t] < CB_NUM_ACTIONS && l->done[t] <= 1 && isfinite(l->reward[t]))
        return 0;
    return cb_fail(e, CB_EFORMAT, "%s: level %d: frame %lld has an invalid label/action/done/reward", name, l->seed,
                   (long long)t);
}

int ds_shard_decode(const uint8_t *buf, size_t n, const char *name, ds_level *out, cb_err *e) {
    memset(out, 0, sizeof *out);
    ds_shard_hdr h;
    int rc = ds_shard_check(buf, n, name, &h, e);
    if (rc) return rc;
    rc = ds_level_alloc(out, h.seed, h.mode, h.n, e);
    if (rc) return rc;
    int64_t nf = h.n;
    /* inflate the columns into a small buffer and the frames straight into
     * the level (no intermediate copy of the frames) */
    uint8_t *cols = malloc((size_t)nf * DS_SHARD_COLS + 1);
    if (!cols) {
        ds_level_free(out);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = cb_zalloc;
    z.zfree = cb_zfree;
    int zr = inflateInit(&z);
    if (zr == Z_OK) {
        z.next_in = (Bytef *)(buf + DS_SHARD_HDR);
        z.avail_in = (uInt)h.clen;
        uint8_t *dst[2] = {cols, out->frames};
        size_t want[2] = {(size_t)nf * DS_SHARD_COLS, (size_t)nf * CB_FRAME_BYTES};
        for (int part = 0; part < 2 && zr == Z_OK; part++) {
            z.next_out = dst[part];
            while (want[part] && zr == Z_OK) {
                size_t chunk = want[part] < ((size_t)1 << 30) ? want[part] : (size_t)1 << 30;
                z.avail_out = (uInt)chunk;
                zr = inflate(&z, Z_NO_FLUSH);
                size_t got = chunk - z.avail_out;
                want[part] -= got;
                if (zr == Z_OK && got == 0) zr = Z_BUF_ERROR; /* no progress: the input ended */
            }
            if (zr == Z_STREAM_END && (want[0] || want[1])) zr = Z_DATA_ERROR; /* ended early */
        }
        if (zr == Z_OK) { /* every byte is out: only the stream's end may remain */
            z.avail_out = 0;
            zr = inflate(&z, Z_FINISH);
        }
        inflateEnd(&z);
    }
    if (zr == Z_MEM_ERROR) {
        free(cols);
        ds_level_free(out);
        return cb_fail(e, CB_ENOMEM, "%s: level %d: out of memory in zlib", name, h.seed);
    }
    if (zr != Z_STREAM_END || z.total_out != h.raw) {
        free(cols);
        ds_level_free(out);
        return cb_fail(e, CB_EFORMAT, "%s: level %d: the compressed payload does not inflate to %llu bytes (zlib %d)",
                       name, h.seed, (unsigned long long)h.raw, zr);
    }
    ds_shard_get_cols(out, cols, nf);
    free(cols);
    if (h.filter)
        for (size_t k = CB_FRAME_BYTES; k < (size_t)nf * CB_FRAME_BYTES; k++)
            out->frames[k] = (uint8_t)(out->frames[k] + out->frames[k - CB_FRAME_BYTES]);
    for (int64_t i = 0; i < nf; i++) {
        if ((rc = ds_shard_check_frame(out, i, name, e))) {
            ds_level_free(out);
            return rc;
        }
    }
    return 0;
}

/* shard.c - one level's data as a shard: a 64-byte header (magic, version,
 * sizes, CRC32 of header and payload) and a zlib stream holding the
 * per-frame columns and the frames, each frame stored as its byte-wise
 * difference to the previous one (docs/FORMATS.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/dataset.h"

#define HDR 64
static const char MAGIC[8] = {'C', 'B', 'S', 'H', 'A', 'R', 'D', 0};

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
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static size_t raw_size(int64_t n) { return (size_t)n * (3 + 12) + (size_t)n * DS_FRAME_BYTES; }

int ds_level_alloc(ds_level *l, int32_t seed, int mode, int64_t n, cb_err *e) {
    memset(l, 0, sizeof *l);
    if (n < 0 || n > (int64_t)1 << 26) return cb_fail(e, CB_ERANGE, "level %d: %lld frames is out of range", seed, (long long)n);
    size_t m = (size_t)(n ? n : 1);
    /* one block: frames, then 3 byte columns, then 3 four-byte columns */
    size_t bytes = m * DS_FRAME_BYTES + m * 3 + m * 12 + 16;
    uint8_t *b = malloc(bytes);
    if (!b) return cb_fail(e, CB_ENOMEM, "level %d: out of memory for %lld frames", seed, (long long)n);
    l->seed = seed;
    l->mode = (int8_t)mode;
    l->n = n;
    l->frames = b;
    uint8_t *p = b + m * DS_FRAME_BYTES;
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

int ds_shard_encode(const ds_level *l, int filter, int level, uint8_t **out, size_t *outn, cb_err *e) {
    *out = NULL;
    *outn = 0;
    int64_t n = l->n;
    size_t raw_n = raw_size(n);
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
        const uint8_t *f = l->frames + (size_t)i * DS_FRAME_BYTES;
        uint8_t *d = p + (size_t)i * DS_FRAME_BYTES;
        if (filter && i > 0) {
            const uint8_t *g = f - DS_FRAME_BYTES;
            for (int k = 0; k < DS_FRAME_BYTES; k++) d[k] = (uint8_t)(f[k] - g[k]);
        } else {
            memcpy(d, f, DS_FRAME_BYTES);
        }
    }
    uLongf cap = compressBound((uLong)raw_n);
    uint8_t *buf = malloc(HDR + cap);
    if (!buf) {
        free(raw);
        return cb_fail(e, CB_ENOMEM, "level %d: out of memory encoding the shard", l->seed);
    }
    uLongf clen = cap;
    int zr = compress2(buf + HDR, &clen, raw, (uLong)raw_n, level);
    free(raw);
    if (zr != Z_OK) {
        free(buf);
        return cb_fail(e, CB_EIO, "level %d: zlib compression failed (%d)", l->seed, zr);
    }
    memset(buf, 0, HDR);
    memcpy(buf, MAGIC, 8);
    put32(buf + 8, DS_VERSION);
    put32(buf + 12, HDR);
    put32(buf + 16, (uint32_t)l->seed);
    buf[20] = (uint8_t)l->mode;
    buf[21] = (uint8_t)(filter ? 1 : 0);
    put16(buf + 22, DS_W);
    put16(buf + 24, DS_H);
    put16(buf + 26, DS_C);
    put32(buf + 28, (uint32_t)n);
    put64(buf + 32, raw_n);
    put64(buf + 40, clen);
    put32(buf + 48, (uint32_t)crc32(0, buf + HDR, (uInt)clen));
    put32(buf + 60, (uint32_t)crc32(0, buf, 60));
    *out = buf;
    *outn = HDR + clen;
    return 0;
}

int ds_shard_decode(const uint8_t *buf, size_t n, const char *name, ds_level *out, cb_err *e) {
    memset(out, 0, sizeof *out);
    if (n < HDR) return cb_fail(e, CB_EFORMAT, "%s: truncated shard (%zu bytes, the header alone is 64)", name, n);
    if (memcmp(buf, MAGIC, 8) != 0) return cb_fail(e, CB_EFORMAT, "%s: not a coinbc shard (bad magic)", name);
    if (get32(buf + 60) != (uint32_t)crc32(0, buf, 60))
        return cb_fail(e, CB_ECRC, "%s: shard header is damaged (header CRC mismatch)", name);
    uint32_t ver = get32(buf + 8);
    if (ver != DS_VERSION)
        return cb_fail(e, CB_EFORMAT, "%s: shard version %u is not supported (this coinbc reads version %d)", name, ver,
                       DS_VERSION);
    if (get32(buf + 12) != HDR) return cb_fail(e, CB_EFORMAT, "%s: bad header size %u", name, get32(buf + 12));
    int32_t seed = (int32_t)get32(buf + 16);
    int mode = (int8_t)buf[20], filter = buf[21];
    if (get16(buf + 22) != DS_W || get16(buf + 24) != DS_H || get16(buf + 26) != DS_C)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: frame shape %ux%ux%u, coinbc needs 64x64x3", name, seed,
                       get16(buf + 22), get16(buf + 24), get16(buf + 26));
    if (mode < -1 || mode > 1 || filter > 1)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: bad mode %d or filter %d", name, seed, mode, filter);
    int64_t nf = get32(buf + 28);
    uint64_t rawn = get64(buf + 32), clen = get64(buf + 40);
    if (rawn != raw_size(nf))
        return cb_fail(e, CB_EFORMAT, "%s: level %d: raw size %llu does not fit %lld frames", name, seed,
                       (unsigned long long)rawn, (long long)nf);
    if (clen != n - HDR)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: payload is %zu bytes, the header says %llu (truncated?)", name, seed,
                       n - HDR, (unsigned long long)clen);
    if (get32(buf + 48) != (uint32_t)crc32(0, buf + HDR, (uInt)clen))
        return cb_fail(e, CB_ECRC, "%s: level %d: payload CRC mismatch (the shard is damaged)", name, seed);
    int rc = ds_level_alloc(out, seed, mode, nf, e);
    if (rc) return rc;
    uint8_t *raw = malloc(rawn ? rawn : 1);
    if (!raw) {
        ds_level_free(out);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", name);
    }
    uLongf got = (uLongf)rawn;
    int zr = uncompress(raw, &got, buf + HDR, (uLong)clen);
    if (zr != Z_OK || got != rawn) {
        free(raw);
        ds_level_free(out);
        return cb_fail(e, CB_EFORMAT, "%s: level %d: the compressed payload does not inflate to %llu bytes (zlib %d)",
                       name, seed, (unsigned long long)rawn, zr);
    }
    const uint8_t *p = raw;
    memcpy(out->label, p, (size_t)nf);
    memcpy(out->action, p + nf, (size_t)nf);
    memcpy(out->done, p + 2 * nf, (size_t)nf);
    p += 3 * nf;
    for (int64_t i = 0; i < nf; i++) {
        uint32_t r = get32(p + 4 * i);
        memcpy(&out->reward[i], &r, 4);
        out->episode[i] = (int32_t)get32(p + 4 * (nf + i));
        out->step[i] = (int32_t)get32(p + 4 * (2 * nf + i));
    }
    p += 12 * nf;
    for (int64_t i = 0; i < nf; i++) {
        uint8_t *f = out->frames + (size_t)i * DS_FRAME_BYTES;
        const uint8_t *d = p + (size_t)i * DS_FRAME_BYTES;
        if (filter && i > 0) {
            const uint8_t *g = f - DS_FRAME_BYTES;
            for (int k = 0; k < DS_FRAME_BYTES; k++) f[k] = (uint8_t)(d[k] + g[k]);
        } else {
            memcpy(f, d, DS_FRAME_BYTES);
        }
    }
    free(raw);
    for (int64_t i = 0; i < nf; i++) {
        if (out->label[i] >= DS_NUM_ACTIONS || out->action[i] >= DS_NUM_ACTIONS || out->done[i] > 1 ||
            !isfinite(out->reward[i])) {
            int rcode = cb_fail(e, CB_EFORMAT, "%s: level %d: frame %lld has an invalid label/action/done/reward", name,
                                seed, (long long)i);
            ds_level_free(out);
            return rcode;
        }
    }
    return 0;
}

/* iter.c - frames of one level, one at a time: the shard file is read and
 * checked (manifest size and CRC, header, payload CRC), then inflated frame
 * by frame, so memory stays at the compressed shard plus two frames however
 * long the level is. The end of the stream is checked after the last frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/shard.h"

struct ds_iter {
    char name[4200];
    uint8_t *shard;   /* the whole compressed shard file */
    ds_shard_hdr h;
    z_stream z;
    int zinit;
    uint8_t *cols;    /* 15n bytes: the per-frame columns */
    uint8_t *frame;   /* current frame */
    uint8_t *delta;   /* inflated bytes of the current frame when filtered */
    int64_t t;        /* frames returned so far */
    int ended;        /* the end of the stream was checked */
};

/* Inflates exactly n bytes into out. */
static int pull(ds_iter *it, uint8_t *out, size_t n, cb_err *e) {
    it->z.next_out = out;
    it->z.avail_out = (uInt)n;
    while (it->z.avail_out) {
        int zr = inflate(&it->z, Z_NO_FLUSH);
        if (zr == Z_MEM_ERROR) return cb_fail(e, CB_ENOMEM, "%s: out of memory in zlib", it->name);
        if (zr == Z_STREAM_END && it->z.avail_out) break;
        if (zr != Z_OK && zr != Z_STREAM_END) break;
        if (zr == Z_OK && it->z.avail_in == 0 && it->z.avail_out) break;
    }
    if (it->z.avail_out)
        return cb_fail(e, CB_EFORMAT, "%s: level %d: the compressed payload ends early or is damaged (frame %lld)", it->name,
                       it->h.seed, (long long)it->t);
    return 0;
}

void ds_iter_close(ds_iter *it) {
    if (!it) return;
    if (it->zinit) inflateEnd(&it->z);
    free(it->shard);
    free(it->cols);
    free(it->frame);
    free(it->delta);
    free(it);
}

int ds_iter_open(ds_iter **out, ds_reader *r, int32_t seed, cb_err *e) {
    *out = NULL;
    int i = ds_find(r, seed);
    if (i < 0) return cb_fail(e, CB_ENOTFOUND, "%s: level %d is not in this dataset", ds_path(r), seed);
    const ds_entry *en = ds_level_entry(r, i);
    ds_iter *it = calloc(1, sizeof *it);
    if (!it) return cb_fail(e, CB_ENOMEM, "%s: out of memory", ds_path(r));
    snprintf(it->name, sizeof it->name, "%s/%s", ds_path(r), en->file);
    size_t n;
    int rc = ds_read_shard(r, i, &it->shard, &n, e);
    if (!rc) rc = ds_shard_check(it->shard, n, it->name, &it->h, e);
    if (!rc) rc = ds_shard_match(r, i, it->h.seed, it->h.mode, it->h.n, it->name, e);
    if (!rc) {
        it->cols = malloc((size_t)it->h.n * DS_SHARD_COLS + 1);
        it->frame = malloc(CB_FRAME_BYTES);
        it->delta = malloc(CB_FRAME_BYTES);
        if (!it->cols || !it->frame || !it->delta) rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", it->name);
    }
    if (!rc) {
        it->z.zalloc = cb_zalloc;
        it->z.zfree = cb_zfree;
        if (inflateInit(&it->z) != Z_OK) rc = cb_fail(e, CB_ENOMEM, "%s: zlib init failed", it->name);
        else it->zinit = 1;
    }
    if (!rc) {
        it->z.next_in = it->shard + DS_SHARD_HDR;
        it->z.avail_in = (uInt)it->h.clen;
        rc = pull(it, it->cols, (size_t)it->h.n * DS_SHARD_COLS, e);
    }
    if (rc) {
        ds_iter_close(it);
        return rc;
    }
    *out = it;
    return 0;
}

int64_t ds_iter_frames(const ds_iter *it) { return it->h.n; }

int ds_iter_next(ds_iter *it, ds_frame *f, cb_err *e) {
    int64_t n = it->h.n, t = it->t;
    if (t == n) {
        if (it->ended) return 0;
        /* the stream must end exactly here */
        uint8_t extra;
        it->z.next_out = &extra;
        it->z.avail_out = 1;
        int zr = inflate(&it->z, Z_FINISH);
        if (zr != Z_STREAM_END || it->z.avail_out == 0)
            return cb_fail(e, CB_EFORMAT, "%s: level %d: the compressed payload goes on after the last frame", it->name,
                           it->h.seed);
        it->ended = 1;
        return 0;
    }
    int rc = pull(it, it->h.filter && t > 0 ? it->delta : it->frame, CB_FRAME_BYTES, e);
    if (rc) return rc;
    if (it->h.filter && t > 0)
        for (int k = 0; k < CB_FRAME_BYTES; k++) it->frame[k] = (uint8_t)(it->frame[k] + it->delta[k]);
    const uint8_t *c = it->cols;
    uint32_t r = ds_get32(c + 3 * n + 4 * t);
    memset(f, 0, sizeof *f);
    f->t = t;
    f->rgb = it->frame;
    f->label = c[t];
    f->action = c[n + t];
    f->done = c[2 * n + t];
    memcpy(&f->reward, &r, 4);
    f->episode = (int32_t)ds_get32(c + 7 * n + 4 * t);
    f->step = (int32_t)ds_get32(c + 11 * n + 4 * t);
    if (!(f->label < CB_NUM_ACTIONS && f->action < CB_NUM_ACTIONS && f->done <= 1 && isfinite(f->reward)))
        return cb_fail(e, CB_EFORMAT, "%s: level %d: frame %lld has an invalid label/action/done/reward", it->name,
                       it->h.seed, (long long)t);
    it->t++;
    return 1;
}

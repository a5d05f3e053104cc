/* shard.h - the shard header and payload layout shared by the whole-level
 * decoder (shard.c) and the frame iterator (iter.c). Internal to dataset/. */
#ifndef COINBC_DATASET_SHARD_H
#define COINBC_DATASET_SHARD_H

#include "dataset/dataset.h"

#define DS_SHARD_HDR 64
/* bytes per frame in the inflated payload: label, action, done (u8),
 * reward, episode, step (4 bytes each), then the 64x64x3 frame */
#define DS_SHARD_COLS 15

typedef struct {
    int32_t seed;
    int mode, filter;
    int64_t n;          /* frames */
    uint64_t raw, clen; /* inflated payload size, compressed payload size */
} ds_shard_hdr;

/* Checks magic, header CRC, version, shape, sizes and the payload CRC of a
 * whole shard image; `name` is used in messages. */
int ds_shard_check(const uint8_t *buf, size_t n, const char *name, ds_shard_hdr *h, cb_err *e);
/* Fills the per-frame columns of l (which has room for n frames) from the
 * first 15n payload bytes. */
void ds_shard_get_cols(ds_level *l, const uint8_t *p, int64_t n);
/* Checks label/action/done/reward of frame t; 0 or a filled error. */
int ds_shard_check_frame(const ds_level *l, int64_t t, const char *name, cb_err *e);

/* Reads the shard file of manifest entry i and checks its size and CRC32
 * against the manifest (reader.c). */
int ds_read_shard(const ds_reader *r, int i, uint8_t **buf, size_t *n, cb_err *e);
/* Checks a shard header's seed, mode and frame count against manifest entry
 * i (reader.c; every reader: ds_load and ds_iter_open). */
int ds_shard_match(const ds_reader *r, int i, int32_t seed, int mode, int64_t frames, const char *name, cb_err *e);

static inline uint32_t ds_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#endif

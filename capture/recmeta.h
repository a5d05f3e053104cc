/* recmeta.h - the meta files of recordings folders (docs/FORMATS.md,
 * "Recordings folders"), read strictly with jansson: a level's
 * level_SEED/meta.json (as coinbc record or coinbc data export writes it, or
 * a bare {"mode": ...}), the run's DIR/meta.json (written last: the run is
 * complete) and DIR/plan.json (written first: the levels the run will
 * record). Unknown keys, missing keys, keys of the wrong type, duplicate keys
 * and a mode other than easy or hard are refused, naming the file and key.
 * Internal to capture/. */
#ifndef COINBC_CAPTURE_RECMETA_H
#define COINBC_CAPTURE_RECMETA_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* A meta file is read only up to this size (coinbc's are under 1 KiB). */
#define CAPTURE_META_MAX_BYTES 65536

typedef struct {
    int mode;      /* 0 easy, 1 hard */
    int coinbc;    /* 1: written by coinbc record ("coinbc-recording": the level is complete) */
    int has_level; /* "level" given (coinbc record and export write it) */
    int32_t level;
} capture_level_meta;

/* The bytes of a level meta.json; `path` names it in messages. */
int capture_level_meta_decode(const uint8_t *buf, size_t n, const char *path, capture_level_meta *m, cb_err *e);
/* The file; CB_ENOTFOUND (with a message) when it does not exist. */
int capture_level_meta_read(const char *path, capture_level_meta *m, cb_err *e);

/* The run's meta.json (plan = 0, "coinbc-recordings") or plan.json (plan = 1,
 * "coinbc-recordings-plan"): the level range, mode and states per level. */
typedef struct {
    int32_t lo, hi;
    int mode;
    int64_t states;
} capture_run_meta;
int capture_run_meta_decode(const uint8_t *buf, size_t n, const char *path, int plan, capture_run_meta *m, cb_err *e);
int capture_run_meta_read(const char *path, int plan, capture_run_meta *m, cb_err *e);

#endif

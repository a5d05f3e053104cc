/* csv.h - actions.csv of a PNG-folder recording: a header naming the
 * columns, then one row per frame. Required: step,action,reward,done;
 * optional: label, executed, episode, episode_step; other columns are
 * ignored. Internal to capture/. */
#ifndef COINBC_CAPTURE_CSV_H
#define COINBC_CAPTURE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct {
    int64_t n;       /* rows */
    uint8_t *label;  /* n: column label, else action */
    uint8_t *action; /* n: column executed, else action */
    uint8_t *done;   /* n */
    float *reward;   /* n */
    int32_t *episode, *step; /* n: columns episode/episode_step, else counted from done */
    void *block;     /* the one allocation behind the arrays */
} capture_csv;

/* Bounds of a PNG-folder level (docs/FORMATS.md): at most 2^20 rows, i.e.
 * frames (over a thousand of procgen's longest episodes, 1000 steps; their
 * frames alone take 12.9 GB in memory), and so at most 128 bytes a row plus
 * 64 KiB for the header: a larger actions.csv is refused before it is read. */
#define CAPTURE_CSV_MAX_ROWS (1 << 20)
#define CAPTURE_CSV_MAX_BYTES ((size_t)CAPTURE_CSV_MAX_ROWS * 128 + 65536)

/* Parses and checks the text (n bytes, need not be NUL-terminated); `name`
 * is used in messages, which give the line and the column. A NUL byte
 * anywhere, a field with any byte that is not part of its number (integers
 * in canonical decimal: no '+', no leading zeros; reward in decimal, no hex,
 * inf or nan) and more than CAPTURE_CSV_MAX_ROWS rows are refused. */
int capture_csv_parse(const char *text, size_t n, const char *name, capture_csv *c, cb_err *e);
void capture_csv_free(capture_csv *c);
#endif

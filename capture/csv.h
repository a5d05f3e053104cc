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

/* Parses and checks the text (n bytes, need not be NUL-terminated); `name`
 * is used in messages, which give the line and the column. */
int capture_csv_parse(const char *text, size_t n, const char *name, capture_csv *c, cb_err *e);
void capture_csv_free(capture_csv *c);
#endif

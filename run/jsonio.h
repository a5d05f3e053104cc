/* jsonio.h - run/'s private JSON helpers on jansson: strict loading with
 * line/column errors, typed getters whose errors name the file and key, the
 * format/version header, the unknown-key check, and dumping. */
#ifndef COINBC_RUN_JSONIO_H
#define COINBC_RUN_JSONIO_H

#include <jansson.h>

#include "run/run.h"

/* An object from text (duplicate keys refused); NULL with e filled. */
json_t *rj_load(const char *text, size_t n, const char *name, cb_err *e);
/* "format" and "version": both absent is version 1 (written before records
 * were versioned); otherwise format must equal `format` and version be
 * 1..RUN_VERSION. */
int rj_header(json_t *o, const char *name, const char *format, int *version, cb_err *e);
/* Every key of o must be in keys (NULL-terminated); "format" and "version" always pass. */
int rj_only(json_t *o, const char *name, const char *const *keys, cb_err *e);
int rj_int(json_t *o, const char *name, const char *key, int64_t lo, int64_t hi, int64_t *out, cb_err *e);
/* A number (integer or real); null reads as NAN when allow_null. */
int rj_num(json_t *o, const char *name, const char *key, int allow_null, double *out, cb_err *e);
int rj_str(json_t *o, const char *name, const char *key, char *out, size_t cap, cb_err *e);
int rj_bool(json_t *o, const char *name, const char *key, int *out, cb_err *e);
/* A real, or null for a non-finite value. */
json_t *rj_real(double v);
/* Appends o (indented by `indent`, 0: one line) and a newline to out; steals o. */
int rj_dump(run_text *out, json_t *o, int indent, const char *what, cb_err *e);
/* When rc is 0, writes t to DIR/FILE atomically; always frees t. Returns
 * rc or the write's error (a record's writer: encode into t, then this). */
int rj_write(const char *dir, const char *file, run_text *t, int rc, cb_err *e);
/* A record's decoder: fills the record at v from the object o (errors name `name`). */
typedef int (*rj_decoder)(void *v, json_t *o, const char *name, cb_err *e);
/* Zeroes the record (size bytes at v), loads text and decodes it with dec. */
int rj_decode(void *v, size_t size, rj_decoder dec, const char *text, size_t n, const char *name, cb_err *e);
/* Zeroes the record, reads DIR/FILE (a regular file of at most max bytes)
 * and decodes it with dec; errors name "DIR/FILE". */
int rj_read_record(void *v, size_t size, rj_decoder dec, const char *dir, const char *file, size_t max, cb_err *e);
/* Reads DIR/FILE into a malloc'd buffer through cb_read_file_max: only a
 * regular file of at most max bytes (else an error naming it); path gets
 * "DIR/FILE". */
int rj_read(const char *dir, const char *file, size_t max, char *path, size_t pathn, char **text, size_t *n, cb_err *e);
/* The epochs DIR/config.json names (read strictly), the bound of the
 * per-epoch files (metrics rows, agreement snapshots); RUN_NOCONFIG_EPOCHS
 * when the folder has no config.json. */
int rj_epochs(const char *dir, int64_t *epochs, cb_err *e);
/* items * per_item bytes, at most CB_READ_MAX_DEFAULT. */
size_t rj_cap(int64_t items, size_t per_item);

#endif

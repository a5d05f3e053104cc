/* zip.h - the zip container as numpy writes .npz files: reading members
 * (stored or deflated, zip64 sizes) with a hard limit on inflated size, and
 * writing stored members. Internal to capture/. */
#ifndef COINBC_CAPTURE_ZIP_H
#define COINBC_CAPTURE_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "common/common.h"

typedef struct {
    char name[256];
    int method;          /* 0 stored, 8 deflate */
    uint64_t csize, usize;
    uint64_t data_off;   /* offset of the member's data in the file */
    uint32_t crc;
} capture_zip_member;

typedef struct {
    const uint8_t *buf;
    size_t n;
    const char *path;
    int nmem;
    capture_zip_member mem[16];
} capture_zip;

/* Parses the central directory of an in-memory zip file. */
int capture_zip_open(capture_zip *z, const uint8_t *buf, size_t n, const char *path, cb_err *e);
/* Finds a member by name; NULL if absent. */
const capture_zip_member *capture_zip_find(const capture_zip *z, const char *name);
/* Extracts a member into a malloc'd buffer; refuses to produce more than
 * `limit` bytes (zip bombs) and checks the CRC32. */
int capture_zip_extract(const capture_zip *z, const capture_zip_member *m, uint64_t limit, uint8_t **out, size_t *n,
                        cb_err *e);

/* The first up to `want` bytes of a member (to read an array header before
 * deciding how much the whole member may hold). *got receives the count. */
int capture_zip_peek(const capture_zip *z, const capture_zip_member *m, uint8_t *out, size_t want, size_t *got,
                     cb_err *e);

/* A member read front to back in pieces, so a large member never needs a
 * buffer of its own: open checks the declared sizes (as extract does), read
 * gives exactly n more bytes or fails, close (after the last byte) checks
 * that the stream ends there and the CRC32. Always call close. */
typedef struct {
    const capture_zip *z;
    const capture_zip_member *m;
    z_stream s;
    int zinit;
    uint64_t done;
    uint32_t crc;
} capture_zip_reader;
int capture_zip_reader_open(capture_zip_reader *r, const capture_zip *z, const capture_zip_member *m, uint64_t limit,
                            cb_err *e);
int capture_zip_reader_read(capture_zip_reader *r, uint8_t *out, size_t n, cb_err *e);
/* 0 when every byte was read and the member checks out; releases r either way. */
int capture_zip_reader_close(capture_zip_reader *r, int check, cb_err *e);

/* Writing: members are stored (no compression), as numpy.savez does. */
typedef struct {
    FILE *fp;
    uint64_t off;
    int n;
    struct {
        char name[64];
        uint32_t crc;
        uint64_t size, off;
    } ent[16];
} capture_zip_writer;
void capture_zip_writer_init(capture_zip_writer *w, FILE *fp);
int capture_zip_writer_add(capture_zip_writer *w, const char *name, const uint8_t *data, size_t n);
int capture_zip_writer_finish(capture_zip_writer *w);
#endif

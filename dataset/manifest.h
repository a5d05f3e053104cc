/* manifest.h - the dataset manifest (internal to dataset/). */
#ifndef COINBC_DATASET_MANIFEST_H
#define COINBC_DATASET_MANIFEST_H

#include "dataset/dataset.h"

typedef struct {
    char source[512], command[2048];
    int n, cap;
    ds_entry *e; /* sorted by seed */
    int nrelabel;  /* relabel lines, in the order they were applied */
    ds_relabeling relabel[DS_MAX_RELABELINGS];
    uint32_t crc; /* CRC32 of the manifest text before its "end" line */
} ds_manifest;

void ds_manifest_init(ds_manifest *m);
void ds_manifest_free(ds_manifest *m);
int ds_manifest_add(ds_manifest *m, const ds_entry *en, cb_err *e);
int ds_manifest_find(const ds_manifest *m, int32_t seed);
void ds_manifest_sort(ds_manifest *m);
/* Parses manifest text; `name` is used in messages. */
int ds_manifest_parse(ds_manifest *m, const char *text, size_t n, const char *name, cb_err *e);
/* Writes <dir>/manifest.txt atomically. */
int ds_manifest_write(ds_manifest *m, const char *dir, cb_err *e);
const char *ds_mode_name(int mode); /* easy, hard, unknown */
/* CRC32 of the manifest's lines without its provenance (source, command):
 * the same for the same content however and wherever it was made. */
int ds_manifest_content_crc(const ds_manifest *m, uint32_t *crc, const char *name, cb_err *e);
#endif

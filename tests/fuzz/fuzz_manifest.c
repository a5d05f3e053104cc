/* fuzz_manifest.c - libFuzzer target: arbitrary bytes as a dataset
 * manifest.txt, as given and with the end line's CRC recomputed (so that
 * mutations of the integer fields get past the CRC to the checks after it).
 * An accepted manifest must list sorted, distinct seeds within the format's
 * limits, and since the format is exact, every number must read back as the
 * text it came from: each level, relabel and levels line, printed again from
 * what was parsed, is a line of the input (a wrapped or non-canonical number
 * would print differently). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset/manifest.h"

static void has_line(const uint8_t *data, size_t size, const char *line) {
    if (!memmem(data, size, line, strlen(line))) abort();
}

static void check_accepted(const uint8_t *data, size_t size) {
    ds_manifest m;
    cb_err e = {0};
    if (ds_manifest_parse(&m, (const char *)data, size, "fuzz/manifest.txt", &e) != 0) return;
    if (m.n < 1 || m.n > DS_MAX_LEVELS) abort();
    char line[256];
    snprintf(line, sizeof line, "\nlevels %d\n", m.n);
    has_line(data, size, line);
    for (int i = 0; i < m.nrelabel; i++) {
        const ds_relabeling *r = &m.relabel[i];
        if (r->lo < 0 || r->lo > r->hi) abort();
        snprintf(line, sizeof line, "\nrelabel %d %d %llu\n", r->lo, r->hi, (unsigned long long)r->seed);
        has_line(data, size, line);
    }
    for (int i = 0; i < m.n; i++) {
        const ds_entry *en = &m.e[i];
        if (i > 0 && m.e[i - 1].seed >= en->seed) abort();
        if (en->frames < 0 || en->frames > DS_MAX_FRAMES || en->episodes < 0 || en->episodes > en->frames ||
            (en->frames > 0 && en->episodes == 0) || en->bytes < 72)
            abort();
        snprintf(line, sizeof line, "\nlevel %d %s %lld %d %s %llu %08x\n", en->seed, ds_mode_name(en->mode),
                 (long long)en->frames, en->episodes, en->file, (unsigned long long)en->bytes, en->crc);
        has_line(data, size, line);
    }
    ds_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_accepted(data, size);
    /* the same text up to its last "end " line, with the CRC that line must have */
    size_t at = size + 1;
    for (size_t i = size >= 4 ? size - 3 : 0; i-- > 0;)
        if (!memcmp(data + i, "end ", 4) && (i == 0 || data[i - 1] == '\n')) {
            at = i;
            break;
        }
    if (at > size) return 0;
    uint8_t *fixed = malloc(at + 16);
    if (!fixed) return 0;
    memcpy(fixed, data, at);
    int k = snprintf((char *)fixed + at, 16, "end %08x\n", (unsigned)crc32(0, data, (uInt)at));
    check_accepted(fixed, at + (size_t)k);
    free(fixed);
    return 0;
}

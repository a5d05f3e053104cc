/* fuzz_shard.c - libFuzzer target: arbitrary bytes as a dataset shard
 * (header, CRCs, sizes, inflate, values). Valid decodes are re-encoded and
 * must decode to the same level. */
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_level l, m;
    cb_err e = {0};
    if (ds_shard_decode(data, size, "fuzz.cbs", &l, &e) != 0) return 0;
    uint8_t *buf;
    size_t n;
    if (ds_shard_encode(&l, 0, 1, &buf, &n, &e) == 0) {
        if (ds_shard_decode(buf, n, "again.cbs", &m, &e) != 0) abort();
        if (m.n != l.n || memcmp(m.frames, l.frames, (size_t)l.n * CB_FRAME_BYTES) != 0 ||
            memcmp(m.label, l.label, (size_t)l.n) != 0 || memcmp(m.step, l.step, 4 * (size_t)l.n) != 0)
            abort();
        ds_level_free(&m);
        free(buf);
    }
    ds_level_free(&l);
    return 0;
}

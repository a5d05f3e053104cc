/* fuzz_recmeta.c - libFuzzer target for the recordings' meta files
 * (capture/recmeta.c): the first byte picks a level meta.json, the run's
 * meta.json or its plan.json (byte % 3), the rest is the file. What is
 * accepted must hold values in range, and a level meta.json written back in
 * its bare form ({"mode", "level"}) must read as the same mode and level.
 * Replayed over tests/fuzz/corpus/recmeta/ by tests/test_fuzz_replay.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/recmeta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *text = data + 1;
    size_t n = size - 1;
    cb_err e = {0};
    if (data[0] % 3 == 0) {
        capture_level_meta m, m2;
        if (capture_level_meta_decode(text, n, "fuzz/meta.json", &m, &e) != 0) return 0;
        if ((m.mode != 0 && m.mode != 1) || (m.has_level && m.level < 0)) abort();
        char buf[128];
        int k = m.has_level ? snprintf(buf, sizeof buf, "{\"mode\": \"%s\", \"level\": %d}", m.mode ? "hard" : "easy", m.level)
                            : snprintf(buf, sizeof buf, "{\"mode\": \"%s\"}", m.mode ? "hard" : "easy");
        if (capture_level_meta_decode((const uint8_t *)buf, (size_t)k, "fuzz/again.json", &m2, &e) != 0) abort();
        if (m2.mode != m.mode || m2.has_level != m.has_level || m2.level != m.level || m2.coinbc) abort();
    } else {
        capture_run_meta r;
        if (capture_run_meta_decode(text, n, "fuzz/run.json", data[0] % 3 == 2, &r, &e) != 0) return 0;
        if (r.lo < 0 || r.hi < r.lo || r.states < 1 || (r.mode != 0 && r.mode != 1)) abort();
    }
    return 0;
}

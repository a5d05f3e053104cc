/* fuzz_appearance.c - libFuzzer target for run/'s strict reader of
 * appearance.json (the appearance probe's record): the whole input is the
 * file. Whatever decodes must encode, and decode again to the same record.
 * Also replayed over tests/fuzz/corpus/appearance/ (with truncations and
 * flipped bytes) by tests/test_appearance.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static run_appearance a, b;
    cb_err e = {0};
    run_text t = {0};
    if (run_appearance_decode(&a, (const char *)data, size, "fuzz", &e) == 0) {
        if (run_appearance_encode(&t, &a, &e) || run_appearance_decode(&b, t.s, t.len, "again", &e)) abort();
        if (memcmp(&a, &b, sizeof a) != 0) abort();
    }
    run_text_free(&t);
    return 0;
}

/* fuzz_manifest.c - libFuzzer target: arbitrary bytes as a dataset
 * manifest.txt. Accepted manifests must list sorted, distinct seeds. */
#include <stdlib.h>

#include "dataset/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_manifest m;
    cb_err e = {0};
    if (ds_manifest_parse(&m, (const char *)data, size, "fuzz/manifest.txt", &e) != 0) return 0;
    for (int i = 1; i < m.n; i++)
        if (m.e[i - 1].seed >= m.e[i].seed) abort();
    ds_manifest_free(&m);
    return 0;
}

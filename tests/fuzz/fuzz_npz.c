/* fuzz_npz.c - libFuzzer target: arbitrary bytes as an .npz episode (zip
 * container, deflate, .npy headers, dtypes, shapes). Must never crash, leak
 * or allocate beyond what the bytes can hold (deflate's 1032:1 bound). */
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_level l;
    cb_err e = {0};
    if (capture_npz_decode(data, size, "fuzz.npz", 42, -1, &l, &e) == 0) ds_level_free(&l);
    return 0;
}

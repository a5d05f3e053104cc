/* fuzz_checkpoint.c - libFuzzer target: arbitrary bytes as a model
 * checkpoint. The trailing CRC32 is set to match the input first, so the
 * fuzzer gets past it to the header checks (config, sizes, RNG state). An
 * accepted checkpoint must have exactly the size its config and its extra
 * state (the tand sign moment) imply. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4 || size > (1u << 22)) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(size - 4));
    memcpy(buf + size - 4, &crc, 4);
    model m;
    model_ckpt_state st;
    cb_err e = {0};
    if (model_load_mem(&m, &st, buf, size, "fuzz.ckpt", &e) == 0) {
        if (size != 168 + sizeof(float) * (st.has_state ? 4 : 3) * m.nparams + 4) abort();
        model_free(&m);
    }
    free(buf);
    return 0;
}

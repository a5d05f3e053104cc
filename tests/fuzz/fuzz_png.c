/* fuzz_png.c - libFuzzer target: arbitrary bytes as a recording frame
 * (coinbc's libpng wrapper: setjmp error path, colour conversions). */
#include <stdint.h>

#include "capture/pngread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t rgb[CB_FRAME_BYTES];
    int alpha;
    cb_err e = {0};
    capture_png_decode(data, size, "fuzz.png", rgb, &alpha, &e);
    return 0;
}

/* fuzz_csv.c - libFuzzer target: arbitrary bytes as a recording's
 * actions.csv. Accepted files must give values in range. */
#include <stdlib.h>

#include "capture/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    capture_csv c;
    cb_err e = {0};
    if (capture_csv_parse((const char *)data, size, "fuzz/actions.csv", &c, &e) != 0) return 0;
    for (int64_t t = 0; t < c.n; t++)
        if (c.label[t] > 14 || c.action[t] > 14 || c.done[t] > 1 || c.episode[t] < 0 || c.step[t] < 0) abort();
    capture_csv_free(&c);
    return 0;
}

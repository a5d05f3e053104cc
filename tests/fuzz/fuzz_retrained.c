/* fuzz_retrained.c - libFuzzer target: arbitrary bytes through the reader of
 * top/M/trial-NNNN.retrained (run/retrained.c). The first byte is the trial
 * number the file is read for, the rest its text. An accepted line must
 * describe that trial with a known outcome and finite, non-negative figures. */
#include <math.h>
#include <stdlib.h>

#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 16)) return 0;
    int trial = data[0];
    run_retrained r;
    cb_err e = {0};
    if (run_retrained_parse(&r, (const char *)data + 1, size - 1, trial, "fuzz.retrained", &e) == 0) {
        if (r.trial != trial || r.exact < -1 || r.exact > 1) abort();
        if (!(r.max_rel_diff >= 0) || !isfinite(r.max_rel_diff) || !(r.tolerance >= 0) || !isfinite(r.tolerance)) abort();
        if (r.exact == 1 && r.max_rel_diff != 0) abort();
    } else if (!e.msg[0]) {
        abort(); /* a refusal says why */
    }
    return 0;
}

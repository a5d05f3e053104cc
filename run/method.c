/* method.c - the names of the training methods, as run records hold them
 * (config.json "method", coinbc train --method). train/combine.c's method
 * table has one entry per name, in this order (RUN_METHOD_*). */
#include <string.h>

#include "run/run.h"

static const char *const METHOD_NAMES[RUN_NMETHODS] = {"mean", "and", "sand", "geomean", "tand"};

const char *run_method_name(int m) { return m >= 0 && m < RUN_NMETHODS ? METHOD_NAMES[m] : NULL; }

int run_method_parse(const char *s, int *m) {
    for (int k = 0; k < RUN_NMETHODS; k++)
        if (!strcmp(s, METHOD_NAMES[k])) {
            *m = k;
            return 0;
        }
    return CB_EARG;
}

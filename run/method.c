/* method.c - the method table of run/run.h (RUN_METHOD_TABLE) as data: each
 * method's name, the method options it reads, whether its reduction splits
 * over MPI ranks, the optimizer state it keeps and its help line. The
 * combine and step fields are train/'s (train/combine.c). */
#include <string.h>

#include "run/run.h"

#define ENTRY(ID, name, options, split, state, combine, mask, step, help) \
    {RUN_METHOD_##ID, name, options, split, state, help},
static const run_method_info METHODS[RUN_NMETHODS] = {RUN_METHOD_TABLE(ENTRY)};
#undef ENTRY

/* ", mean, and, sand, geomean, tand": one string literal, built by the preprocessor */
#define LIST_ITEM(ID, name, options, split, state, combine, mask, step, help) ", " name
static const char LIST[] = RUN_METHOD_TABLE(LIST_ITEM);
#undef LIST_ITEM

const run_method_info *run_method(int m) { return m >= 0 && m < RUN_NMETHODS ? &METHODS[m] : NULL; }

const char *run_method_name(int m) { return m >= 0 && m < RUN_NMETHODS ? METHODS[m].name : NULL; }

const char *run_method_list(void) { return LIST + 2; }

int run_method_parse(const char *s, int *m) {
    for (int k = 0; k < RUN_NMETHODS; k++)
        if (!strcmp(s, METHODS[k].name)) {
            *m = k;
            return 0;
        }
    return CB_EARG;
}

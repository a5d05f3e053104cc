/* refdata.c - locate ../shared/coinrun/refdata (or $COINBC_REFDATA). */
#include "tests/support/refdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *test_refdata(const char *name) {
    static char buf[4][1024];
    static int slot;
    const char *root = getenv("COINBC_REFDATA");
    const char *cands[] = {root, "../shared/coinrun/refdata", "../../shared/coinrun/refdata"};
    for (int i = 0; i < 3; i++) {
        if (!cands[i]) continue;
        char *b = buf[slot++ & 3];
        snprintf(b, 1024, "%s/%s", cands[i], name);
        if (access(b, R_OK) == 0) return b;
    }
    printf("refdata file %s not found (set COINBC_REFDATA to shared/coinrun/refdata)\n", name);
    return NULL;
}

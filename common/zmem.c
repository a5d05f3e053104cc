/* zmem.c - zlib's allocations through malloc/free (z_stream.zalloc/zfree),
 * so that an allocation failure inside zlib is the same event as one of
 * ours (and the allocation-failure tests reach zlib's window and state). */
#include "common/common.h"

#include <stdint.h>
#include <stdlib.h>

void *cb_zalloc(void *opaque, unsigned items, unsigned size) {
    (void)opaque;
    if (size && items > SIZE_MAX / size) return NULL;
    size_t n = (size_t)items * size;
    return malloc(n ? n : 1);
}

void cb_zfree(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

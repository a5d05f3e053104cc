/* dist_gather.c - rank 0 collecting what the other ranks computed, in rank
 * order, so the files it writes are the bytes one process would write (the
 * commands' side of docs/MPI.md). Built on dist.c's point-to-point calls;
 * one process: no-ops. */
#include <stdlib.h>

#include "common/common.h"

int cb_dist_gather_shares(void *base, size_t elem, int64_t n, cb_err *e) {
    int P = cb_dist_size(), me = cb_dist_rank();
    if (P < 2) return 0;
    int64_t lo, hi;
    if (me > 0) {
        cb_dist_share(n, me, P, &lo, &hi);
        return cb_dist_send((char *)base + (size_t)lo * elem, (size_t)(hi - lo) * elem, 0, e);
    }
    for (int r = 1; r < P; r++) {
        cb_dist_share(n, r, P, &lo, &hi);
        int rc = cb_dist_recv((char *)base + (size_t)lo * elem, (size_t)(hi - lo) * elem, r, e);
        if (rc) return rc;
    }
    return 0;
}

int cb_dist_send_blob(const void *buf, int64_t n, cb_err *e) {
    int rc = cb_dist_send(&n, sizeof n, 0, e);
    return rc ? rc : cb_dist_send(buf, (size_t)n, 0, e);
}

int cb_dist_recv_blob(int from, uint8_t **buf, int64_t *n, cb_err *e) {
    *buf = NULL;
    int rc = cb_dist_recv(n, sizeof *n, from, e);
    if (rc) return rc;
    if (*n < 0) return cb_fail(e, CB_EFORMAT, "rank %d sent a blob of %lld bytes", from, (long long)*n);
    if (!(*buf = malloc(*n ? (size_t)*n : 1))) return cb_fail(e, CB_ENOMEM, "out of memory for %lld bytes from rank %d",
                                                              (long long)*n, from);
    if ((rc = cb_dist_recv(*buf, (size_t)*n, from, e))) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* dist.c - the seam between coinbc and MPI (common.h, "processes"). Two
 * implementations of one small interface: with COINBC_MPI (make MPI=1) the
 * calls go to Open MPI; without it (the default build) there is one process
 * and the collectives are no-ops. Nothing else in coinbc includes mpi.h.
 * MPI is only initialised when mpirun started the process (its environment
 * names a rank), so an MPI build run by hand behaves as the default build.
 * Errors: MPI_ERRORS_RETURN on the world communicator, so a failed call is
 * a CB_EIO with MPI's reason; a watchdog thread ends a rank that waits in a
 * collective longer than COINBC_DIST_TIMEOUT seconds (a hung peer). */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

void cb_dist_share(int64_t n, int r, int p, int64_t *lo, int64_t *hi) {
    if (p < 1) p = 1;
    *lo = n * r / p;
    *hi = n * (r + 1) / p;
}

#if COINBC_MPI

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int g_on, g_rank, g_size = 1;
static int64_t g_bytes;
static double g_seconds, g_timeout = 3600;
/* the watchdog's view: when the current wait began (0: not waiting) and in what */
static volatile double g_wait_since;
static const char *volatile g_wait_op;

int cb_dist_compiled(void) { return 1; }
int cb_dist_rank(void) { return g_rank; }
int cb_dist_size(void) { return g_size; }

static void *watchdog(void *arg) {
    (void)arg;
    for (;;) {
        sleep(1);
        double t0 = g_wait_since;
        if (t0 > 0 && cb_now() - t0 > g_timeout) {
            char msg[300];
            int n = snprintf(msg, sizeof msg,
                             "coinbc: rank %d of %d: no answer from the other ranks for %.0f s in %s (a rank hung or "
                             "died); ending this rank so that mpirun ends the job (COINBC_DIST_TIMEOUT sets the limit)\n",
                             g_rank, g_size, g_timeout, g_wait_op ? g_wait_op : "a collective");
            if (n > 0) (void)!write(2, msg, (size_t)n);
            _exit(1);
        }
    }
    return NULL;
}

int cb_dist_init(int *argc, char ***argv, cb_err *e) {
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0; /* not under mpirun */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cb_fail(e, CB_EIO, "MPI_Init_thread failed");
    g_on = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    const char *t = getenv("COINBC_DIST_TIMEOUT");
    double v;
    if (t && !cb_parse_f64(t, &v) && v > 0) g_timeout = v;
    pthread_t th;
    if (g_size > 1 && pthread_create(&th, NULL, watchdog, NULL) == 0) pthread_detach(th);
    return 0;
}

void cb_dist_finalize(void) {
    if (g_on) MPI_Finalize();
    g_on = 0;
}

_Noreturn void cb_dist_abort(int status) {
    fflush(stdout);
    fflush(stderr);
    if (g_on && g_size > 1) MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}

void cb_dist_traffic(int64_t *bytes, double *seconds) {
    *bytes = g_bytes;
    *seconds = g_seconds;
    g_bytes = 0;
    g_seconds = 0;
}

static double enter(const char *op) {
    double t = cb_now();
    g_wait_op = op;
    g_wait_since = t;
    return t;
}

static int leave(double t0, int64_t bytes, int rc, const char *op, cb_err *e) {
    g_wait_since = 0;
    g_seconds += cb_now() - t0;
    g_bytes += bytes;
    if (rc == MPI_SUCCESS) return 0;
    char why[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, why, &len) != MPI_SUCCESS) snprintf(why, sizeof why, "error %d", rc);
    return cb_fail(e, CB_EIO, "rank %d of %d: %s failed: %s", g_rank, g_size, op, why);
}

#define CHUNK (1 << 28) /* elements per MPI call: counts are ints */

static int allreduce(void *x, int64_t n, MPI_Datatype t, size_t sz, const char *op, cb_err *e) {
    if (g_size < 2 || n <= 0) return 0;
    double t0 = enter(op);
    int rc = MPI_SUCCESS;
    for (int64_t i = 0; i < n && rc == MPI_SUCCESS; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        rc = MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)i * sz, k, t, MPI_SUM, MPI_COMM_WORLD);
    }
    return leave(t0, n * (int64_t)sz, rc, op, e);
}

int cb_dist_allreduce_f64(double *x, int64_t n, cb_err *e) {
    return allreduce(x, n, MPI_DOUBLE, sizeof *x, "MPI_Allreduce (double sums)", e);
}
int cb_dist_allreduce_i32(int32_t *x, int64_t n, cb_err *e) {
    return allreduce(x, n, MPI_INT32_T, sizeof *x, "MPI_Allreduce (int32 counts)", e);
}
int cb_dist_allreduce_i64(int64_t *x, int64_t n, cb_err *e) {
    return allreduce(x, n, MPI_INT64_T, sizeof *x, "MPI_Allreduce (int64 counts)", e);
}

int cb_dist_bcast(void *buf, size_t n, int root, cb_err *e) {
    if (g_size < 2 || n == 0) return 0;
    double t0 = enter("MPI_Bcast");
    int rc = MPI_SUCCESS;
    for (size_t i = 0; i < n && rc == MPI_SUCCESS; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        rc = MPI_Bcast((char *)buf + i, k, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    return leave(t0, (int64_t)n, rc, "MPI_Bcast", e);
}

int cb_dist_send(const void *buf, size_t n, int to, cb_err *e) {
    if (g_size < 2) return cb_fail(e, CB_EARG, "send: one process, no rank %d", to);
    double t0 = enter("MPI_Send");
    int rc = MPI_SUCCESS;
    for (size_t i = 0; i == 0 || (i < n && rc == MPI_SUCCESS); i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        rc = MPI_Send((const char *)buf + i, k, MPI_BYTE, to, 7, MPI_COMM_WORLD);
        if (n == 0) break;
    }
    return leave(t0, (int64_t)n, rc, "MPI_Send", e);
}

int cb_dist_recv(void *buf, size_t n, int from, cb_err *e) {
    if (g_size < 2) return cb_fail(e, CB_EARG, "recv: one process, no rank %d", from);
    double t0 = enter("MPI_Recv");
    int rc = MPI_SUCCESS;
    for (size_t i = 0; i == 0 || (i < n && rc == MPI_SUCCESS); i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        rc = MPI_Recv((char *)buf + i, k, MPI_BYTE, from, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n == 0) break;
    }
    return leave(t0, 0, rc, "MPI_Recv", e);
}

int cb_dist_barrier(cb_err *e) {
    if (g_size < 2) return 0;
    double t0 = enter("MPI_Barrier");
    return leave(t0, 0, MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", e);
}

int cb_dist_allgather(void *buf, size_t each, cb_err *e) {
    if (g_size < 2 || each == 0) return 0;
    if (each > (size_t)INT32_MAX) return cb_fail(e, CB_EARG, "allgather of %zu bytes per rank: too large", each);
    double t0 = enter("MPI_Allgather");
    int rc = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)each, MPI_BYTE, MPI_COMM_WORLD);
    return leave(t0, (int64_t)each * (g_size - 1), rc, "MPI_Allgather", e);
}

int cb_dist_chain_f64(double *acc, int64_t n, int64_t chunk, cb_dist_add_fn add, void *ctx, cb_err *e) {
    if (g_size < 2) {
        if (n > 0) add(ctx, acc, 0, n);
        return 0;
    }
    if (chunk < 1) chunk = n > 0 ? n : 1;
    int rc = MPI_SUCCESS;
    int64_t moved = 0;
    double t0 = 0, waited = 0;
    for (int64_t off = 0; off < n && rc == MPI_SUCCESS; off += chunk) {
        int len = (int)(n - off < chunk ? n - off : chunk);
        if (g_rank > 0) {
            t0 = enter("the ordered sum (MPI_Recv from the previous rank)");
            rc = MPI_Recv(acc + off, len, MPI_DOUBLE, g_rank - 1, 11, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            g_wait_since = 0;
            waited += cb_now() - t0;
            if (rc != MPI_SUCCESS) break;
        }
        add(ctx, acc + off, off, len);
        if (g_rank < g_size - 1) {
            t0 = enter("the ordered sum (MPI_Send to the next rank)");
            rc = MPI_Send(acc + off, len, MPI_DOUBLE, g_rank + 1, 11, MPI_COMM_WORLD);
            g_wait_since = 0;
            waited += cb_now() - t0;
            moved += (int64_t)len * 8;
        }
    }
    g_seconds += waited;
    g_bytes += moved;
    if (rc != MPI_SUCCESS) return leave(cb_now(), 0, rc, "the ordered sum", e);
    t0 = enter("MPI_Bcast (the ordered sum)");
    for (int64_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) {
        int len = (int)(n - off < CHUNK ? n - off : CHUNK);
        rc = MPI_Bcast(acc + off, len, MPI_DOUBLE, g_size - 1, MPI_COMM_WORLD);
    }
    return leave(t0, g_rank == g_size - 1 ? n * 8 : 0, rc, "MPI_Bcast (the ordered sum)", e);
}

#else /* one process */

int cb_dist_init(int *argc, char ***argv, cb_err *e) {
    (void)argc, (void)argv, (void)e;
    return 0;
}
void cb_dist_finalize(void) {}
int cb_dist_compiled(void) { return 0; }
int cb_dist_rank(void) { return 0; }
int cb_dist_size(void) { return 1; }
int cb_dist_allreduce_f64(double *x, int64_t n, cb_err *e) { return (void)x, (void)n, (void)e, 0; }
int cb_dist_allreduce_i32(int32_t *x, int64_t n, cb_err *e) { return (void)x, (void)n, (void)e, 0; }
int cb_dist_allreduce_i64(int64_t *x, int64_t n, cb_err *e) { return (void)x, (void)n, (void)e, 0; }
int cb_dist_bcast(void *buf, size_t n, int root, cb_err *e) { return (void)buf, (void)n, (void)root, (void)e, 0; }
int cb_dist_send(const void *buf, size_t n, int to, cb_err *e) {
    (void)buf, (void)n;
    return cb_fail(e, CB_EARG, "send: one process, no rank %d", to);
}
int cb_dist_recv(void *buf, size_t n, int from, cb_err *e) {
    (void)buf, (void)n;
    return cb_fail(e, CB_EARG, "recv: one process, no rank %d", from);
}
int cb_dist_barrier(cb_err *e) { return (void)e, 0; }
int cb_dist_allgather(void *buf, size_t each, cb_err *e) { return (void)buf, (void)each, (void)e, 0; }
int cb_dist_chain_f64(double *acc, int64_t n, int64_t chunk, cb_dist_add_fn add, void *ctx, cb_err *e) {
    (void)chunk, (void)e;
    if (n > 0) add(ctx, acc, 0, n);
    return 0;
}
_Noreturn void cb_dist_abort(int status) {
    fflush(stdout);
    fflush(stderr);
    exit(status);
}
void cb_dist_traffic(int64_t *bytes, double *seconds) {
    *bytes = 0;
    *seconds = 0;
}

#endif

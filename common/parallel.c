/* parallel.c - a deterministic parallel-for over indices on pthreads.
 * Work items are handed out in index order; each item writes its own output
 * slot, so results do not depend on the thread count. */
#include "common/common.h"

#include <pthread.h>
#include <unistd.h>

int cb_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

typedef struct {
    pthread_mutex_t mu;
    int64_t next, n;
    int64_t fail_i; /* lowest failing index, n if none */
    int fail_rc;
    cb_task_fn fn;
    cb_task_fn_w fnw;
    void *ctx;
    int next_worker;
} pf_state;

static void *pf_worker(void *arg) {
    pf_state *st = arg;
    pthread_mutex_lock(&st->mu);
    int worker = st->next_worker++;
    pthread_mutex_unlock(&st->mu);
    for (;;) {
        pthread_mutex_lock(&st->mu);
        int64_t i = st->next;
        if (i >= st->n || i > st->fail_i) {
            pthread_mutex_unlock(&st->mu);
            return NULL;
        }
        st->next++;
        pthread_mutex_unlock(&st->mu);
        int rc = st->fnw ? st->fnw(st->ctx, i, worker) : st->fn(st->ctx, i);
        if (rc) {
            pthread_mutex_lock(&st->mu);
            if (i < st->fail_i) {
                st->fail_i = i;
                st->fail_rc = rc;
            }
            pthread_mutex_unlock(&st->mu);
        }
    }
}

static int pf_run(int64_t n, int nthreads, cb_task_fn fn, cb_task_fn_w fnw, void *ctx) {
    if (n <= 0) return 0;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > n) nthreads = (int)n;
    if (nthreads > 64) nthreads = 64;
    pf_state st = {.next = 0, .n = n, .fail_i = n, .fail_rc = 0, .fn = fn, .fnw = fnw, .ctx = ctx};
    if (nthreads == 1) {
        for (int64_t i = 0; i < n; i++) {
            int rc = fnw ? fnw(ctx, i, 0) : fn(ctx, i);
            if (rc) return rc;
        }
        return 0;
    }
    pthread_mutex_init(&st.mu, NULL);
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nthreads; t++) {
        if (pthread_create(&th[started], NULL, pf_worker, &st) != 0) break;
        started++;
    }
    pf_worker(&st); /* worker ids are < nthreads: at most nthreads workers run */
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&st.mu);
    return st.fail_rc;
}

int cb_parallel_for(int64_t n, int nthreads, cb_task_fn fn, void *ctx) { return pf_run(n, nthreads, fn, NULL, ctx); }

int cb_parallel_for_w(int64_t n, int nthreads, cb_task_fn_w fn, void *ctx) { return pf_run(n, nthreads, NULL, fn, ctx); }

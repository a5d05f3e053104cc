/* parallel.c - a deterministic parallel-for over indices on pthreads.
 * Work items are handed out in index order; each item writes its own output
 * slot, so results do not depend on the thread count.
 *
 * The helper threads are a pool kept for the process's life (started the
 * first time they are needed, one per extra thread ever asked for), woken
 * for each parallel-for and waited for at its end: starting and joining
 * threads for every call cost about 40 us, several times a training step.
 * One parallel-for uses the pool at a time; a call made while it is busy
 * (from inside a task, or from another thread) starts its own threads as
 * before. A forked child, which has none of the parent's threads, starts a
 * pool of its own (pthread_atfork). */
#include "common/common.h"

#include <pthread.h>
#include <sys/types.h>
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

/* ---- the pool ---- */

static struct {
    pthread_mutex_t busy;   /* held by the parallel-for using the pool */
    pthread_mutex_t mu;     /* guards the fields below */
    pthread_cond_t go, idle;
    pid_t pid;              /* the process the threads belong to */
    int threads;            /* helper threads started */
    uint64_t gen;           /* bumped for each parallel-for */
    int want;               /* helpers that take part in this one: ids 0..want-1 */
    int running;            /* of them, not yet finished */
    pf_state *job;
    uint64_t born[64];      /* gen when each thread was started: it waits for the next one */
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
          .idle = PTHREAD_COND_INITIALIZER};

/* a helper (or the caller) that has just finished waits this many pause
 * loops for the next parallel-for (or for the helpers) before it sleeps:
 * a training step runs several back to back, and a wake-up from sleep can
 * take as long as the thread start the pool saves */
#define POOL_SPIN 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *pool_thread(void *arg) {
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    uint64_t seen = pool.born[id];
    pthread_mutex_unlock(&pool.mu);
    for (;;) {
        for (int k = 0; k < POOL_SPIN && __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen; k++) cpu_relax();
        pthread_mutex_lock(&pool.mu);
        while (pool.gen == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.gen;
        if (id >= pool.want) {
            pthread_mutex_unlock(&pool.mu);
            continue;
        }
        pf_state *st = pool.job;
        pthread_mutex_unlock(&pool.mu);
        pf_worker(st);
        pthread_mutex_lock(&pool.mu);
        if (__atomic_sub_fetch(&pool.running, 1, __ATOMIC_ACQ_REL) == 0) pthread_cond_signal(&pool.idle);
        pthread_mutex_unlock(&pool.mu);
    }
    return NULL;
}

/* in a forked child: none of the pool's threads came along, and a lock one
 * of them held at the fork would never be released, so the pool starts
 * anew (its first use starts threads of the child's own) */
static void pool_after_fork(void) {
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.idle, NULL);
    pool.threads = 0;
    pool.pid = getpid();
    pool.job = NULL;
    pool.want = pool.running = 0;
}

/* st run on the caller and `helpers` pool threads; 0 when the pool is busy
 * or cannot have that many threads (the caller then starts its own) */
static int pool_run(pf_state *st, int helpers) {
    if (pthread_mutex_trylock(&pool.busy) != 0) return 0;
    pthread_mutex_lock(&pool.mu);
    if (pool.pid != getpid()) { /* new, or a forked child: the threads are not here */
        if (!pool.pid) pthread_atfork(NULL, NULL, pool_after_fork);
        pool.pid = getpid();
        pool.threads = 0;
    }
    while (pool.threads < helpers && pool.threads < 64) {
        pool.born[pool.threads] = pool.gen;
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_thread, (void *)(intptr_t)pool.threads);
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        pool.threads++;
    }
    if (pool.threads < helpers) {
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_unlock(&pool.busy);
        return 0;
    }
    pool.job = st;
    pool.want = helpers;
    __atomic_store_n(&pool.running, helpers, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    pf_worker(st); /* the caller takes part: worker ids are < helpers + 1 */
    for (int k = 0; k < POOL_SPIN && __atomic_load_n(&pool.running, __ATOMIC_ACQUIRE) > 0; k++) cpu_relax();
    pthread_mutex_lock(&pool.mu);
    while (pool.running > 0) pthread_cond_wait(&pool.idle, &pool.mu);
    pool.job = NULL;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.busy);
    return 1;
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
    if (!pool_run(&st, nthreads - 1)) {
        pthread_t th[64];
        int started = 0;
        for (int t = 1; t < nthreads; t++) {
            if (pthread_create(&th[started], NULL, pf_worker, &st) != 0) break;
            started++;
        }
        pf_worker(&st); /* worker ids are < nthreads: at most nthreads workers run */
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    }
    pthread_mutex_destroy(&st.mu);
    return st.fail_rc;
}

int cb_parallel_for(int64_t n, int nthreads, cb_task_fn fn, void *ctx) { return pf_run(n, nthreads, fn, NULL, ctx); }

int cb_parallel_for_w(int64_t n, int nthreads, cb_task_fn_w fn, void *ctx) { return pf_run(n, nthreads, NULL, fn, ctx); }

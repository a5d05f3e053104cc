/* jobs.c - the final runs and probes of `coinbc compare --jobs J` in J
 * worker processes (internal.h). Each worker is a fork of the runner: it
 * takes the next item from a counter in shared memory, runs it exactly as
 * the runner would (its steps are child processes of the worker), and
 * leaves the item's result and message in shared memory. A worker that fails
 * stops taking items and so do the others, once their current item is done;
 * the budget and the stop flag reach every worker as they reach the runner
 * (the deadline is copied, SIGTERM is passed on). A worker dies with the
 * runner (PR_SET_PDEATHSIG), and its steps die with it, so a kill -9 of
 * compare leaves nothing running, as with one job. The items write only
 * their own folders; steps.log is locked (exec.c). Items are independent and
 * every step is deterministic for any thread count, so the records do not
 * depend on J. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exp/internal.h"

typedef struct {
    int done, rc; /* done: rc and e are the item's */
    cb_err e;
} job_item;

typedef struct {
    int next;  /* the next item to take (atomic) */
    int abort; /* set by a worker whose item did not end in 0 */
    int current[EXP_MAX_JOBS]; /* each worker's item, -1: none */
    job_item item[];
} job_shared;

static void worker(exp_ctx *c, job_shared *sh, int w, int n, exp_item_fn fn, const void *items, size_t size) {
    for (;;) {
        if (__atomic_load_n(&sh->abort, __ATOMIC_SEQ_CST)) break;
        int i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (i >= n) break;
        sh->current[w] = i;
        cb_err e = {0};
        int rc = fn(c, (const char *)items + (size_t)i * size, &e);
        sh->item[i].e = e;
        sh->item[i].rc = rc;
        __atomic_store_n(&sh->item[i].done, 1, __ATOMIC_SEQ_CST);
        sh->current[w] = -1;
        if (rc) {
            __atomic_store_n(&sh->abort, 1, __ATOMIC_SEQ_CST);
            break;
        }
    }
}

/* error (the first item's, in item order) > stopped > budget > 0 */
static int combine(const job_shared *sh, int n, const int *died, const int *died_item, int jobs, cb_err *e) {
    for (int w = 0; w < jobs; w++)
        if (died[w]) {
            char what[64] = "between items";
            if (died_item[w] >= 0) snprintf(what, sizeof what, "during item %d of %d", died_item[w] + 1, n);
            if (died[w] > 0)
                return cb_fail(e, CB_EIO, "compare: job %d of %d was killed by signal %d (%s) %s; run the same command "
                               "again to go on", w + 1, jobs, died[w], strsignal(died[w]), what);
            return cb_fail(e, CB_EIO, "compare: job %d of %d exited with status %d %s; run the same command again to go on",
                           w + 1, jobs, -died[w], what);
        }
    for (int i = 0; i < n; i++)
        if (sh->item[i].done && sh->item[i].rc < 0) {
            *e = sh->item[i].e;
            return sh->item[i].rc;
        }
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (sh->item[i].done && sh->item[i].rc > 0) {
            if (sh->item[i].rc == EXP_INTERRUPTED) return EXP_INTERRUPTED;
            rc = sh->item[i].rc;
        }
    return rc;
}

int exp_jobs_run(exp_ctx *c, int jobs, int threads, exp_item_fn fn, const void *items, size_t size, int n, cb_err *e) {
    if (jobs > n) jobs = n;
    if (jobs <= 1) {
        int saved = c->threads, rc = 0;
        c->threads = threads;
        for (int i = 0; i < n && !rc; i++) rc = fn(c, (const char *)items + (size_t)i * size, e);
        c->threads = saved;
        return rc;
    }
    if (jobs > EXP_MAX_JOBS) jobs = EXP_MAX_JOBS;
    size_t bytes = sizeof(job_shared) + (size_t)n * sizeof(job_item);
    job_shared *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return cb_fail(e, CB_ENOMEM, "compare --jobs: cannot map %zu bytes: %s", bytes, strerror(errno));
    memset(sh, 0, bytes);
    for (int w = 0; w < EXP_MAX_JOBS; w++) sh->current[w] = -1;
    pid_t pid[EXP_MAX_JOBS];
    int died[EXP_MAX_JOBS] = {0}, died_item[EXP_MAX_JOBS], started = 0, rc = 0;
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered is written twice */
    for (int w = 0; w < jobs; w++) {
        died_item[w] = -1;
        pid[w] = fork();
        if (pid[w] < 0) {
            rc = cb_fail(e, CB_EIO, "compare --jobs: cannot start job %d: %s", w + 1, strerror(errno));
            __atomic_store_n(&sh->abort, 1, __ATOMIC_SEQ_CST);
            break;
        }
        if (pid[w] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(1); /* the runner died before the line above */
            c->threads = threads;
            worker(c, sh, w, n, fn, items, size);
            _exit(0);
        }
        started++;
    }
    /* wait; pass a stop on (SIGINT from a terminal reaches the workers
     * anyway, a SIGTERM or SIGHUP sent to the runner alone does not) */
    int left = started, passed = 0;
    while (left > 0) {
        if (!passed && c->o->stop && *c->o->stop) {
            for (int w = 0; w < started; w++)
                if (pid[w] > 0) kill(pid[w], SIGTERM);
            passed = 1;
        }
        int reaped = 0;
        for (int w = 0; w < started; w++) {
            int st;
            if (pid[w] <= 0 || waitpid(pid[w], &st, WNOHANG) != pid[w]) continue;
            pid[w] = -1;
            left--;
            reaped = 1;
            if (WIFSIGNALED(st)) died[w] = WTERMSIG(st);
            else if (WIFEXITED(st) && WEXITSTATUS(st)) died[w] = -WEXITSTATUS(st);
            /* a stop passed on that ends a worker by SIGTERM is a stop, not a death */
            if (passed && died[w] == SIGTERM) died[w] = 0;
            if (died[w]) {
                died_item[w] = sh->current[w];
                __atomic_store_n(&sh->abort, 1, __ATOMIC_SEQ_CST);
            }
        }
        if (!reaped && left > 0) usleep(50000);
    }
    if (!rc) rc = combine(sh, n, died, died_item, started, e);
    if (!rc && passed) rc = EXP_INTERRUPTED;
    munmap(sh, bytes);
    return rc;
}

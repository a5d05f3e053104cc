/* record_run.c - coinbc record's work around capture_record: the output as
 * a recordings folder or (NAME.cbd) straight as a dataset, whose writer rank
 * 0 holds under mpirun while the other ranks write their shards into its
 * folder, and the progress over all levels. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "capture/record.h"
#include "dataset/dataset.h"

typedef struct {
    pthread_mutex_t mu;
    cb_progress p;
    int64_t levels_done, levels_total;
    char label[96];
} rec_progress;

static void on_progress(void *ctx, int64_t states, int level_done) {
    rec_progress *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    if (level_done) {
        rp->levels_done++;
        snprintf(rp->label, sizeof rp->label, "record (%lld/%lld levels)", (long long)rp->levels_done,
                 (long long)rp->levels_total);
    }
    cb_progress_add(&rp->p, states);
    pthread_mutex_unlock(&rp->mu);
}

int capture_record_is_dataset(const char *out) {
    size_t a = strlen(out), b = strlen(".cbd");
    return a >= b && strcmp(out + a - b, ".cbd") == 0;
}

/* rank 0, NAME.cbd: the dataset's writer (an existing one only with force) */
static int open_dataset(ds_writer **dw, const capture_record_run_opts *o, cb_err *e) {
    char source[256];
    snprintf(source, sizeof source, "coinbc %s record: expert play of %s levels %d-%d, noise %g, seed %lld", CB_VERSION,
             o->mode_word, o->rec.lo, o->rec.hi, o->rec.noise, (long long)o->rec.seed);
    int rc = ds_writer_open(dw, o->rec.out, o->rec.force, source, o->rec.command, e);
    if (rc == CB_EEXIST) {
        size_t k = strlen(e->msg);
        snprintf(e->msg + k, sizeof e->msg - k, ", or add levels to it with --force");
    }
    return rc;
}

int capture_record_run(capture_record_summary *s, double *seconds, const capture_record_run_opts *o, cb_err *e) {
    capture_record_opts ro = o->rec;
    int to_dataset = capture_record_is_dataset(ro.out);
    ds_writer *dw = NULL;
    /* under mpirun rank 0 holds the writer and the other ranks write their shards into its folder */
    ro.dataset_dir = to_dataset && cb_dist_rank() > 0 ? ro.out : NULL;
    if (to_dataset && cb_dist_rank() == 0) {
        int rc = open_dataset(&dw, o, e);
        if (rc) return rc;
    }
    rec_progress rp;
    pthread_mutex_init(&rp.mu, NULL);
    rp.levels_done = 0;
    rp.levels_total = (int64_t)ro.hi - ro.lo + 1;
    snprintf(rp.label, sizeof rp.label, "record (0/%lld levels)", (long long)rp.levels_total);
    cb_progress_start(&rp.p, rp.label, "states", rp.levels_total * ro.states, o->quiet);
    ro.progress = on_progress, ro.progress_ctx = &rp, ro.dataset = dw;
    double t0 = cb_now();
    int rc = capture_record(&ro, s, e);
    if (dw) {
        if (rc) ds_writer_abort(dw);
        else rc = ds_writer_commit(dw, e);
    }
    *seconds = cb_now() - t0;
    if (rc == 0) cb_progress_finish(&rp.p);
    pthread_mutex_destroy(&rp.mu);
    return rc;
}

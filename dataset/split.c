/* split.c - coinbc data split's work: a dataset cut by level seed into two
 * new datasets, both written and then committed together, so a failure
 * leaves neither. */
#include "dataset/dataset.h"

/* Opens a fresh dataset at `out` (locked until commit or abort) and copies
 * the levels lo..hi into it; the caller commits or aborts. */
static int copy_levels(ds_writer **wout, int *count, ds_reader *r, const char *out, int32_t lo, int32_t hi,
                       const char *command, int quiet, cb_err *e) {
    ds_writer *w;
    *wout = NULL;
    *count = 0;
    int total = 0;
    for (int i = 0; i < ds_nlevels(r); i++) total += ds_level_seed(r, i) >= lo && ds_level_seed(r, i) <= hi;
    if (total == 0) return cb_fail(e, CB_ENOTFOUND, "%s: no levels in %d-%d", ds_path(r), lo, hi);
    int rc = ds_writer_open(&w, out, 0, ds_source(r), command, e);
    if (rc) return rc;
    cb_progress p;
    cb_progress_start(&p, out, "levels", total, quiet);
    for (int i = 0; i < ds_nlevels(r); i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < lo || s > hi) continue;
        ds_level l;
        if ((rc = ds_load(r, &s, 1, &l, 1, e)) || (rc = ds_writer_add(w, &l, e))) {
            ds_level_free(&l);
            ds_writer_abort(w);
            return rc;
        }
        ds_level_free(&l);
        (*count)++;
        cb_progress_update(&p, *count);
    }
    cb_progress_finish(&p);
    *wout = w;
    return 0;
}

int ds_split(int *na, int *nb, const ds_split_opts *o, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, o->in, e);
    if (rc) return rc;
    ds_writer *wa = NULL, *wb = NULL;
    rc = copy_levels(&wa, na, r, o->a, o->alo, o->ahi, o->command, o->quiet, e);
    if (!rc) rc = copy_levels(&wb, nb, r, o->b, o->blo, o->bhi, o->command, o->quiet, e);
    /* both manifests go into place while both locks are held; a failure of
     * either takes both back out */
    if (!rc && !(rc = ds_writer_prepare(wa, e))) rc = ds_writer_prepare(wb, e);
    if (rc) {
        ds_writer_abort(wa);
        ds_writer_abort(wb);
    } else { /* prepared: commit only releases the locks */
        ds_writer_commit(wa, e);
        ds_writer_commit(wb, e);
    }
    ds_close(r);
    return rc;
}

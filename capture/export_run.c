/* export_run.c - coinbc data export's work: a dataset's levels in a seed
 * range written back out as recordings (PNG level folders or .npz
 * episodes) into a folder that holds either its old content or the whole
 * export (capture_export_open / _commit). */
#include "capture/capture.h"

int capture_export_run(int *count, const capture_export_run_opts *o, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, o->data, e);
    if (rc) return rc;
    int total = 0;
    *count = 0;
    for (int i = 0; i < ds_nlevels(r); i++) total += ds_level_seed(r, i) >= o->lo && ds_level_seed(r, i) <= o->hi;
    if (total == 0) {
        rc = cb_fail(e, CB_ENOTFOUND, "%s: no levels in %d-%d", o->data, o->lo, o->hi);
        ds_close(r);
        return rc;
    }
    capture_export_out xo;
    if ((rc = capture_export_open(&xo, o->out, o->force, o->command, e))) {
        ds_close(r);
        return rc;
    }
    cb_progress p;
    cb_progress_start(&p, "export", "levels", total, o->quiet);
    for (int i = 0; i < ds_nlevels(r) && !rc; i++) {
        int32_t s = ds_level_seed(r, i);
        if (s < o->lo || s > o->hi) continue;
        ds_level l;
        if (!(rc = ds_load(r, &s, 1, &l, 1, e)))
            rc = o->npz ? capture_export_npz(&l, xo.tmp, e) : capture_export_png(&l, xo.tmp, e);
        ds_level_free(&l);
        (*count)++;
        cb_progress_update(&p, *count);
    }
    cb_progress_finish(&p);
    if (rc) capture_export_abort(&xo);
    else rc = capture_export_commit(&xo, e);
    ds_close(r);
    return rc;
}

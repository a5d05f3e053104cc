/* info.c - coinbc data info's figures: a dataset's levels, frames, episodes,
 * bytes and modes from its manifest, and the label and executed-action
 * histograms from every shard, read one level at a time; and coinbc data
 * verify's pass over every shard. */
#include <string.h>

#include "dataset/dataset.h"

int ds_info_open(ds_info *in, const char *path, int quiet, cb_err *e) {
    memset(in, 0, sizeof *in);
    int rc = ds_open(&in->r, path, e);
    if (rc) return rc;
    ds_reader *r = in->r;
    int n = ds_nlevels(r);
    in->frames = ds_total_frames(r);
    for (int i = 0; i < n; i++) {
        const ds_entry *en = ds_level_entry(r, i);
        in->bytes += en->bytes;
        in->episodes += en->episodes;
        in->modes[en->mode + 1]++;
    }
    cb_progress p;
    cb_progress_start(&p, "info", "levels", n, quiet);
    for (int i = 0; i < n && !rc; i++) {
        int32_t s = ds_level_seed(r, i);
        ds_level l;
        if ((rc = ds_load(r, &s, 1, &l, 1, e))) break;
        for (int64_t t = 0; t < l.n; t++) {
            in->label_hist[l.label[t]]++;
            in->executed_hist[l.action[t]]++;
        }
        ds_level_free(&l);
        cb_progress_update(&p, i + 1);
    }
    cb_progress_finish(&p);
    if (rc) ds_info_close(in);
    return rc;
}

void ds_info_close(ds_info *in) {
    ds_close(in->r);
    in->r = NULL;
}

int ds_verify_all(int *nlevels, int *nbad, const char *path, int quiet, void (*bad)(void *ctx, const char *msg),
                  void *ctx, cb_err *e) {
    ds_reader *r;
    int rc = ds_open(&r, path, e);
    if (rc) return rc;
    int n = ds_nlevels(r);
    *nlevels = n;
    *nbad = 0;
    cb_progress p;
    cb_progress_start(&p, "verify", "levels", n, quiet);
    for (int i = 0; i < n; i++) {
        cb_err le = {0};
        if (ds_verify_level(r, i, &le)) {
            if (bad) bad(ctx, le.msg);
            (*nbad)++;
        }
        cb_progress_update(&p, i + 1);
    }
    cb_progress_finish(&p);
    ds_close(r);
    return 0;
}

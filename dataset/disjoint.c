/* disjoint.c - do two sets of levels share a level? The one check behind
 * train's --val/--val-levels and tune's TRAIN/VAL: validation levels must
 * not be training levels. */
#include "dataset/dataset.h"

static const char *mode_name(int mode) { return mode == 0 ? "easy" : mode == 1 ? "hard" : "unknown"; }

static int same_mode(int a, int b) { return a < 0 || b < 0 || a == b; }

int ds_check_disjoint(const ds_reader *a, int32_t alo, int32_t ahi, const char *what_a, const ds_reader *b, int32_t blo,
                      int32_t bhi, const char *what_b, cb_err *e) {
    /* both manifests are sorted by seed (ds_open checks it): one merge pass;
     * a seed may appear once per mode, so equal seeds are compared pairwise */
    int na = ds_nlevels(a), nb = ds_nlevels(b);
    for (int i = 0, j = 0; i < na && j < nb;) {
        const ds_entry *x = ds_level_entry(a, i), *y = ds_level_entry(b, j);
        if (x->seed < y->seed || x->seed < alo || x->seed > ahi) {
            i++;
            continue;
        }
        if (y->seed < x->seed || y->seed < blo || y->seed > bhi) {
            j++;
            continue;
        }
        for (int k = j; k < nb && ds_level_entry(b, k)->seed == x->seed; k++) {
            const ds_entry *z = ds_level_entry(b, k);
            if (same_mode(x->mode, z->mode)) {
                if (a == b)
                    return cb_fail(e, CB_EARG, "level %d (%s mode) of %s is in both the %s and the %s levels: %s levels "
                                   "must not be %s levels (give disjoint ranges)", x->seed, mode_name(x->mode), ds_path(a),
                                   what_a, what_b, what_b, what_a);
                return cb_fail(e, CB_EARG, "level %d (%s mode) is in both %s (%s levels) and %s (%s levels): %s levels "
                               "must not be %s levels", x->seed, mode_name(x->mode >= 0 ? x->mode : z->mode), ds_path(a),
                               what_a, ds_path(b), what_b, what_b, what_a);
            }
        }
        i++;
    }
    return 0;
}

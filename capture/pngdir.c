/* pngdir.c - a PNG-folder recording of one level: frame_000000.png ..
 * frame_{T-1}.png (64x64, any colour type or bit depth, see png.h) and
 * actions.csv with one row per frame (see csv.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/csv.h"
#include "capture/pngread.h"
#include "capture/recmeta.h"

/* The mode from DIR/meta.json, read strictly: -1 when there is none; a
 * meta.json that exists but is bad, or names another level, is an error. */
static int meta_mode(const char *dir, int32_t seed, int *mode, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    capture_level_meta m;
    int rc = capture_level_meta_read(path, &m, e);
    *mode = -1;
    if (rc == CB_ENOTFOUND) return 0;
    if (rc) return rc;
    if (m.has_level && m.level != seed)
        return cb_fail(e, CB_EFORMAT, "%s: says level %d, but the folder is level %d", path, m.level, seed);
    *mode = m.mode;
    return 0;
}

int capture_read_pngdir(const char *dir, int32_t seed, ds_level *out, int *alpha, cb_err *e) {
    memset(out, 0, sizeof *out);
    *alpha = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/actions.csv", dir);
    uint8_t *text;
    size_t n;
    int mode;
    int rc = meta_mode(dir, seed, &mode, e);
    if (rc) return rc;
    rc = cb_read_file_max(path, CAPTURE_CSV_MAX_BYTES, &text, &n, e);
    if (rc == CB_ENOTFOUND) return cb_fail(e, CB_ENOTFOUND, "%s: missing (a PNG recording needs actions.csv)", path);
    if (rc) return rc;
    capture_csv c;
    rc = capture_csv_parse((const char *)text, n, path, &c, e);
    free(text);
    if (rc) return rc;
    int64_t T = c.n;
    /* frames: exactly frame_000000 .. frame_{T-1}, no gaps, none after */
    snprintf(path, sizeof path, "%s/frame_%06lld.png", dir, (long long)T);
    if (access(path, F_OK) == 0) {
        capture_csv_free(&c);
        return cb_fail(e, CB_EFORMAT,
                       "%s/actions.csv: %lld rows, but there are more frames (%s exists); every frame needs a row", dir,
                       (long long)T, path);
    }
    rc = ds_level_alloc(out, seed, mode, T, e);
    if (rc) {
        capture_csv_free(&c);
        return rc;
    }
    memcpy(out->label, c.label, (size_t)T);
    memcpy(out->action, c.action, (size_t)T);
    memcpy(out->done, c.done, (size_t)T);
    memcpy(out->reward, c.reward, sizeof(float) * (size_t)T);
    memcpy(out->episode, c.episode, sizeof(int32_t) * (size_t)T);
    memcpy(out->step, c.step, sizeof(int32_t) * (size_t)T);
    capture_csv_free(&c);
    for (int64_t t = 0; t < T && !rc; t++) {
        snprintf(path, sizeof path, "%s/frame_%06lld.png", dir, (long long)t);
        int a = 0;
        rc = capture_png_read(path, out->frames + (size_t)t * CB_FRAME_BYTES, &a, e);
        if (rc == CB_ENOTFOUND)
            rc = cb_fail(e, CB_EFORMAT, "%s: missing (actions.csv has %lld rows, frames must be numbered 0..%lld)", path,
                         (long long)T, (long long)T - 1);
        *alpha |= a;
    }
    if (rc) ds_level_free(out);
    return rc;
}

/* pngdir.c - a PNG-folder recording of one level: frame_NNNNNN.png files
 * (any colour type or bit depth libpng can turn into 8-bit RGB; 64x64 only)
 * and actions.csv with at least step,action,reward,done; optional columns
 * label, executed, episode, episode_step. */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

enum { C_STEP, C_ACTION, C_REWARD, C_DONE, C_LABEL, C_EXEC, C_EPISODE, C_EPSTEP, NC };
static const char *const CNAMES[NC] = {"step", "action", "reward", "done", "label", "executed", "episode", "episode_step"};

typedef struct {
    int64_t n, cap;
    double *v[NC];
} csv_cols;

static void cols_free(csv_cols *c) {
    for (int k = 0; k < NC; k++) free(c->v[k]);
}

static int read_csv(const char *path, csv_cols *c, int have[NC], cb_err *e) {
    memset(c, 0, sizeof *c);
    uint8_t *text;
    size_t n;
    int rc = cb_read_file(path, &text, &n, e);
    if (rc) return rc == CB_ENOTFOUND ? cb_fail(e, CB_ENOTFOUND, "%s: missing (a PNG recording needs actions.csv)", path) : rc;
    char *save = NULL, *line = strtok_r((char *)text, "\n", &save);
    int map[64], ncol = 0;
    for (int k = 0; k < NC; k++) have[k] = 0;
    if (!line) {
        free(text);
        return cb_fail(e, CB_EFORMAT, "%s: empty file", path);
    }
    char *hs = NULL;
    for (char *tok = strtok_r(line, ",\r", &hs); tok && ncol < 64; tok = strtok_r(NULL, ",\r", &hs)) {
        map[ncol] = -1;
        for (int k = 0; k < NC; k++)
            if (!strcmp(tok, CNAMES[k])) {
                map[ncol] = k;
                have[k] = 1;
            }
        ncol++;
    }
    for (int k = 0; k <= C_DONE; k++)
        if (!have[k]) {
            free(text);
            return cb_fail(e, CB_EFORMAT, "%s: the header lacks the column '%s' (needs step,action,reward,done)", path, CNAMES[k]);
        }
    int lineno = 1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        if (line[0] == '\r' || line[0] == 0) continue;
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 1024;
            for (int k = 0; k < NC; k++) {
                double *nv = realloc(c->v[k], sizeof(double) * (size_t)c->cap);
                if (!nv) {
                    free(text);
                    cols_free(c);
                    return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
                }
                c->v[k] = nv;
            }
        }
        char *p = line;
        for (int col = 0; col < ncol; col++) {
            char *end = p;
            double v = strtod(p, &end);
            int empty = end == p;
            if ((!empty && *end != ',' && *end != 0 && *end != '\r') || (empty && map[col] >= 0 && map[col] <= C_DONE) ||
                (!empty && !isfinite(v))) {
                int rcode = cb_fail(e, CB_EFORMAT, "%s:%d: column '%s' is not a number", path, lineno,
                                    map[col] >= 0 ? CNAMES[map[col]] : "?");
                free(text);
                cols_free(c);
                return rcode;
            }
            if (map[col] >= 0) c->v[map[col]][c->n] = v;
            p = strchr(end, ',');
            if (!p) {
                if (col + 1 < ncol) {
                    int rcode = cb_fail(e, CB_EFORMAT, "%s:%d: %d fields, the header has %d", path, lineno, col + 1, ncol);
                    free(text);
                    cols_free(c);
                    return rcode;
                }
                break;
            }
            p++;
        }
        c->n++;
    }
    free(text);
    return 0;
}

static int valid_action(double v) { return v >= 0 && v <= 14 && v == floor(v); }

int capture_read_pngdir(const char *dir, int32_t seed, ds_level *out, int *alpha, cb_err *e) {
    *alpha = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/actions.csv", dir);
    csv_cols c;
    int have[NC];
    int rc = read_csv(path, &c, have, e);
    if (rc) return rc;
    int64_t T = c.n;
    /* frames: exactly frame_000000 .. frame_{T-1}, no gaps, no extras */
    snprintf(path, sizeof path, "%s/frame_%06lld.png", dir, (long long)T);
    FILE *extra = fopen(path, "rb");
    if (extra) {
        fclose(extra);
        cols_free(&c);
        return cb_fail(e, CB_EFORMAT, "%s/actions.csv: %lld rows, but there are more frames (%s exists)", dir, (long long)T, path);
    }
    if (T == 0) {
        cols_free(&c);
        return cb_fail(e, CB_EFORMAT, "%s/actions.csv: no rows", dir);
    }
    rc = ds_level_alloc(out, seed, -1, T, e);
    if (rc) {
        cols_free(&c);
        return rc;
    }
    int32_t ep = 0, epstep = 0;
    for (int64_t t = 0; t < T; t++) {
        const char *bad = NULL;
        if (c.v[C_STEP][t] != (double)t) bad = "step is not the row number";
        else if (!valid_action(c.v[C_ACTION][t])) bad = "action outside 0..14";
        else if (have[C_LABEL] && !valid_action(c.v[C_LABEL][t])) bad = "label outside 0..14";
        else if (have[C_EXEC] && !valid_action(c.v[C_EXEC][t])) bad = "executed outside 0..14";
        else if (c.v[C_DONE][t] != 0 && c.v[C_DONE][t] != 1) bad = "done is not 0 or 1";
        if (bad) {
            ds_level_free(out);
            int code = cb_fail(e, CB_EFORMAT, "%s/actions.csv:%lld: %s", dir, (long long)t + 2, bad);
            cols_free(&c);
            return code;
        }
        out->label[t] = (uint8_t)(have[C_LABEL] ? c.v[C_LABEL][t] : c.v[C_ACTION][t]);
        out->action[t] = (uint8_t)(have[C_EXEC] ? c.v[C_EXEC][t] : c.v[C_ACTION][t]);
        out->reward[t] = (float)c.v[C_REWARD][t];
        out->done[t] = (uint8_t)c.v[C_DONE][t];
        out->episode[t] = have[C_EPISODE] ? (int32_t)c.v[C_EPISODE][t] : ep;
        out->step[t] = have[C_EPSTEP] ? (int32_t)c.v[C_EPSTEP][t] : epstep;
        epstep++;
        if (out->done[t]) {
            ep++;
            epstep = 0;
        }
    }
    cols_free(&c);
    for (int64_t t = 0; t < T; t++) {
        snprintf(path, sizeof path, "%s/frame_%06lld.png", dir, (long long)t);
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_file(&im, path)) {
            FILE *f = fopen(path, "rb");
            int missing = !f;
            if (f) fclose(f);
            ds_level_free(out);
            if (missing)
                return cb_fail(e, CB_EFORMAT, "%s: missing (actions.csv has %lld rows, frames must be numbered 0..%lld)",
                               path, (long long)T, (long long)T - 1);
            return cb_fail(e, CB_EFORMAT, "%s: not a readable PNG (%s)", path, im.message);
        }
        if (im.width != DS_W || im.height != DS_H) {
            png_image_free(&im);
            ds_level_free(out);
            return cb_fail(e, CB_EFORMAT, "%s: %ux%u pixels; coinbc needs 64x64 frames", path, im.width, im.height);
        }
        if (im.format & PNG_FORMAT_FLAG_ALPHA) *alpha = 1;
        uint8_t rgba[DS_W * DS_H * 4];
        im.format = PNG_FORMAT_RGBA;
        if (!png_image_finish_read(&im, NULL, rgba, 0, NULL)) {
            ds_level_free(out);
            return cb_fail(e, CB_EFORMAT, "%s: damaged PNG (%s)", path, im.message);
        }
        uint8_t *f = out->frames + (size_t)t * DS_FRAME_BYTES;
        for (int k = 0; k < DS_W * DS_H; k++) {
            f[3 * k] = rgba[4 * k];
            f[3 * k + 1] = rgba[4 * k + 1];
            f[3 * k + 2] = rgba[4 * k + 2];
        }
    }
    return 0;
}

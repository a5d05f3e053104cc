/* npz.c - one episode from a NumPy .npz file as offline-RL Procgen datasets
 * ship them: observations (T+1 frames, HxWxC or CxHxW uint8), actions,
 * rewards, dones ((T,) or (T,1), any integer/float/bool dtype), the level
 * seed from the file name {timestamp}_{index}_{T}_{seed}_{return}.npz.
 * Optional members written by coinbc's export: labels, executed. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/npy.h"
#include "capture/zip.h"

int capture_parse_npz_name(const char *path, int32_t *seed, int64_t *index, int64_t *T) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n < 5 || strcmp(base + n - 4, ".npz") != 0) return CB_EARG;
    char buf[512];
    if (n - 4 >= sizeof buf) return CB_EARG;
    memcpy(buf, base, n - 4);
    buf[n - 4] = 0;
    /* from the right: return, seed, T, index; the rest is the timestamp */
    char *parts[4];
    for (int k = 0; k < 4; k++) {
        char *us = strrchr(buf, '_');
        if (!us) return CB_EARG;
        parts[k] = us + 1;
        *us = 0;
    }
    if (!buf[0]) return CB_EARG;
    double ret;
    int64_t s, t, i;
    if (cb_parse_f64(parts[0], &ret) || cb_parse_i64(parts[1], &s) || cb_parse_i64(parts[2], &t) ||
        cb_parse_i64(parts[3], &i) || s < INT32_MIN || s > INT32_MAX || t < 1 || i < 0)
        return CB_EARG;
    *seed = (int32_t)s;
    *index = i;
    *T = t;
    return 0;
}

typedef struct {
    capture_npy h;
    uint8_t *buf;
    size_t n;
    const uint8_t *data;
} arr;

/* Extracts member `key`.npy; the member may not hold more than its header
 * says (zip bombs are refused before inflating). With header_only, only the
 * .npy header is read and checked (a->buf stays NULL; the caller streams the
 * data with capture_zip_reader). */
static int load_arr_(const capture_zip *z, const char *key, int required, int header_only, arr *a, cb_err *e);
static int load_arr(const capture_zip *z, const char *key, int required, arr *a, cb_err *e) {
    return load_arr_(z, key, required, 0, a, e);
}
static int load_arr_(const capture_zip *z, const char *key, int required, int header_only, arr *a, cb_err *e) {
    memset(a, 0, sizeof *a);
    char name[64];
    snprintf(name, sizeof name, "%s.npy", key);
    const capture_zip_member *m = capture_zip_find(z, name);
    if (!m) return required ? cb_fail(e, CB_EFORMAT, "%s: no '%s' array in the file", z->path, key) : CB_ENOTFOUND;
    uint8_t head[4096];
    size_t got;
    int rc = capture_zip_peek(z, m, head, sizeof head, &got, e);
    if (rc) return rc;
    char what[600];
    snprintf(what, sizeof what, "%s: %s", z->path, name);
    rc = capture_npy_header(&a->h, head, got, what, e);
    if (rc) return rc;
    /* an episode longer than the limit is refused before anything is inflated */
    if (!strcmp(key, "observations") && a->h.ndim >= 1 && a->h.shape[0] - 1 > CAPTURE_NPZ_MAX_STEPS)
        return cb_fail(e, CB_ERANGE,
                       "%s: an episode of %lld steps; capture takes at most %d steps per .npz episode (procgen ends "
                       "episodes at 1000), so that its memory stays bounded",
                       z->path, (long long)a->h.shape[0] - 1, CAPTURE_NPZ_MAX_STEPS);
    uint64_t want = a->h.header_len + a->h.count * (uint64_t)a->h.size;
    if (m->usize != want)
        return cb_fail(e, CB_EFORMAT, "%s: member %s declares %llu bytes but its shape needs %llu (zip bomb or damage)",
                       z->path, name, (unsigned long long)m->usize, (unsigned long long)want);
    if (header_only) return 0;
    rc = capture_zip_extract(z, m, want, &a->buf, &a->n, e);
    if (rc) return rc;
    a->data = a->buf + a->h.header_len;
    return 0;
}

/* (T,) or (T,1) */
static int check_vec(const char *path, const char *key, const arr *a, int64_t T, cb_err *e) {
    int ok = (a->h.ndim == 1 && a->h.shape[0] == T) || (a->h.ndim == 2 && a->h.shape[0] == T && a->h.shape[1] == 1);
    if (!ok)
        return cb_fail(e, CB_EFORMAT, "%s: '%s' has shape (%lld%s), expected (%lld,) or (%lld, 1) for %lld steps", path, key,
                       (long long)a->h.shape[0], a->h.ndim > 1 ? ",..." : ",", (long long)T, (long long)T, (long long)T);
    return 0;
}

int capture_read_npz(const char *path, ds_level *out, cb_err *e) {
    memset(out, 0, sizeof *out);
    int32_t seed;
    int64_t index, Tname;
    if (capture_parse_npz_name(path, &seed, &index, &Tname))
        return cb_fail(e, CB_EARG, "%s: the name does not follow {timestamp}_{index}_{T}_{seed}_{return}.npz", path);
    uint8_t *file;
    size_t fn;
    int rc = cb_read_file_max(path, CAPTURE_NPZ_MAX_BYTES, &file, &fn, e);
    if (rc) return rc;
    rc = capture_npz_decode(file, fn, path, seed, Tname, out, e);
    free(file);
    return rc;
}

int capture_npz_decode(const uint8_t *file, size_t fn, const char *path, int32_t seed, int64_t Tname, ds_level *out,
                       cb_err *e) {
    memset(out, 0, sizeof *out);
    int rc = 0;
    capture_zip z;
    arr obs = {0}, act = {0}, rew = {0}, don = {0}, lab = {0}, exe = {0};
    rc = capture_zip_open(&z, file, fn, path, e);
    /* observations: only the header now; the frames are inflated straight
     * into the level below, one at a time (no copy of the whole array) */
    if (!rc) rc = load_arr_(&z, "observations", 1, 1, &obs, e);
    if (!rc) rc = load_arr(&z, "actions", 1, &act, e);
    if (!rc) rc = load_arr(&z, "rewards", 1, &rew, e);
    if (!rc) rc = load_arr(&z, "dones", 1, &don, e);
    if (!rc && (rc = load_arr(&z, "labels", 0, &lab, e)) == CB_ENOTFOUND) rc = 0;
    if (!rc && (rc = load_arr(&z, "executed", 0, &exe, e)) == CB_ENOTFOUND) rc = 0;
    int64_t T = 0;
    int chw = 0;
    if (!rc) {
        const capture_npy *h = &obs.h;
        if (h->ndim != 4 || h->kind != 'u' || h->size != 1)
            rc = cb_fail(e, CB_EFORMAT, "%s: observations must be a 4-d uint8 array (T+1, 64, 64, 3) or (T+1, 3, 64, 64)", path);
        else if (h->shape[1] == 64 && h->shape[2] == 64 && h->shape[3] == 3)
            chw = 0;
        else if (h->shape[1] == 3 && h->shape[2] == 64 && h->shape[3] == 64)
            chw = 1;
        else
            rc = cb_fail(e, CB_EFORMAT, "%s: observations of shape (%lld, %lld, %lld, %lld); coinbc needs 64x64 RGB frames",
                         path, (long long)h->shape[0], (long long)h->shape[1], (long long)h->shape[2], (long long)h->shape[3]);
        T = h->shape[0] - 1;
        if (!rc && T < 1) rc = cb_fail(e, CB_EFORMAT, "%s: observations hold no step", path);
        if (!rc && Tname >= 0 && T != Tname)
            rc = cb_fail(e, CB_EFORMAT, "%s: the name says %lld steps but observations hold %lld (+1)", path,
                         (long long)Tname, (long long)T);
    }
    if (!rc) rc = check_vec(path, "actions", &act, T, e);
    if (!rc) rc = check_vec(path, "rewards", &rew, T, e);
    if (!rc) rc = check_vec(path, "dones", &don, T, e);
    if (!rc && lab.buf) rc = check_vec(path, "labels", &lab, T, e);
    if (!rc && exe.buf) rc = check_vec(path, "executed", &exe, T, e);
    if (!rc) rc = ds_level_alloc(out, seed, -1, T, e);
    for (int64_t t = 0; !rc && t < T; t++) {
        double a = capture_npy_f64(&act.h, act.data, (uint64_t)t);
        double l = lab.buf ? capture_npy_f64(&lab.h, lab.data, (uint64_t)t) : a;
        double x = exe.buf ? capture_npy_f64(&exe.h, exe.data, (uint64_t)t) : a;
        double r = capture_npy_f64(&rew.h, rew.data, (uint64_t)t), d = capture_npy_f64(&don.h, don.data, (uint64_t)t);
        if (!(a >= 0 && a <= 14 && a == floor(a)) || !(l >= 0 && l <= 14 && l == floor(l)) ||
            !(x >= 0 && x <= 14 && x == floor(x))) {
            rc = cb_fail(e, CB_EFORMAT, "%s: step %lld: action %g is not one of 0..14", path, (long long)t, a);
            break;
        }
        if (!(fabs(r) <= FLT_MAX) || !(d == 0 || d == 1)) {
            rc = cb_fail(e, CB_EFORMAT, "%s: step %lld: bad reward %g or done %g", path, (long long)t, r, d);
            break;
        }
        out->label[t] = (uint8_t)l;
        out->action[t] = (uint8_t)x;
        out->reward[t] = (float)r;
        out->done[t] = (uint8_t)d;
        out->episode[t] = 0;
        out->step[t] = (int32_t)t;
    }
    /* the frames, streamed from the member; the last observation (after the
     * final step) is read to check the member, then dropped */
    uint8_t *tmp = NULL;
    if (!rc && !(tmp = malloc(CB_FRAME_BYTES))) rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    if (!rc) {
        capture_zip_reader zr;
        memset(&zr, 0, sizeof zr);
        const capture_zip_member *m = capture_zip_find(&z, "observations.npy");
        uint64_t want = obs.h.header_len + obs.h.count;
        uint8_t head[4096];
        if (obs.h.header_len > sizeof head)
            rc = cb_fail(e, CB_EFORMAT, "%s: observations: a .npy header of %zu bytes", path, obs.h.header_len);
        else
            rc = capture_zip_reader_open(&zr, &z, m, want, e);
        if (!rc) rc = capture_zip_reader_read(&zr, head, obs.h.header_len, e);
        for (int64_t t = 0; !rc && t <= T; t++) {
            uint8_t *f = t < T ? out->frames + (size_t)t * CB_FRAME_BYTES : tmp;
            if (!chw) {
                rc = capture_zip_reader_read(&zr, f, CB_FRAME_BYTES, e);
            } else { /* channels first: through tmp, transposed */
                rc = capture_zip_reader_read(&zr, tmp, CB_FRAME_BYTES, e);
                if (!rc && t < T) {
                    for (int c = 0; c < 3; c++)
                        for (int k = 0; k < CB_FRAME_W * CB_FRAME_H; k++) f[3 * k + c] = tmp[c * CB_FRAME_W * CB_FRAME_H + k];
                }
            }
        }
        int crc = capture_zip_reader_close(&zr, !rc, e);
        if (!rc) rc = crc;
    }
    free(tmp);
    if (rc) ds_level_free(out);
    free(obs.buf);
    free(act.buf);
    free(rew.buf);
    free(don.buf);
    free(lab.buf);
    free(exe.buf);
    return rc;
}

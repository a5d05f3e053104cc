/* export.c - a dataset level back out as recordings: a PNG level folder
 * (frame_NNNNNN.png + actions.csv with label, executed, episode,
 * episode_step) or one .npz per episode named
 * {timestamp}_{index}_{T}_{seed}_{return}.npz (stored members, channels last,
 * T+1 observations, the last repeating the episode's first frame as procgen's
 * auto-reset does). Capturing an export gives back the same frames and labels. */
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/npy.h"
#include "capture/zip.h"
#include "game/game.h"

static int write_png(const char *path, const uint8_t *rgb, cb_err *e) {
    return game_write_png(path, rgb, DS_W, DS_H, e); /* coinbc's one PNG encoder */
}

int capture_export_png(const ds_level *l, const char *dir, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/level_%d", dir, l->seed);
    int rc = cb_mkdirs(path, e);
    if (rc) return rc;
    for (int64_t t = 0; t < l->n; t++) {
        char fp[4300];
        snprintf(fp, sizeof fp, "%s/frame_%06lld.png", path, (long long)t);
        if ((rc = write_png(fp, l->frames + (size_t)t * DS_FRAME_BYTES, e))) return rc;
    }
    cb_afile f;
    if (l->mode >= 0) { /* the mode, where capture looks for it */
        char meta[4300];
        snprintf(meta, sizeof meta, "%s/meta.json", path);
        if ((rc = cb_afile_open(&f, meta, e))) return rc;
        fprintf(f.fp, "{\n  \"format\": \"coinbc-export\",\n  \"level\": %d,\n  \"mode\": \"%s\"\n}\n", l->seed,
                l->mode ? "hard" : "easy");
        if ((rc = cb_afile_commit(&f, e))) return rc;
    }
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/actions.csv", path);
    if ((rc = cb_afile_open(&f, csv, e))) return rc;
    fprintf(f.fp, "step,action,reward,done,label,executed,episode,episode_step\n");
    for (int64_t t = 0; t < l->n; t++)
        fprintf(f.fp, "%lld,%d,%.9g,%d,%d,%d,%d,%d\n", (long long)t, l->label[t], (double)l->reward[t], l->done[t],
                l->label[t], l->action[t], l->episode[t], l->step[t]);
    return cb_afile_commit(&f, e);
}

int capture_export_npz(const ds_level *l, const char *dir, cb_err *e) {
    int rc = cb_mkdirs(dir, e);
    if (rc) return rc;
    int64_t a = 0;
    int index = 0;
    while (a < l->n) {
        int64_t b = a + 1;
        while (b < l->n && l->episode[b] == l->episode[a]) b++;
        int64_t T = b - a;
        double ret = 0;
        for (int64_t t = a; t < b; t++) ret += l->reward[t];
        char path[4300];
        snprintf(path, sizeof path, "%s/00000000-000000_%d_%lld_%d_%.2f.npz", dir, index, (long long)T, l->seed, ret);
        uint8_t *obs = malloc((size_t)(T + 1) * DS_FRAME_BYTES);
        int64_t *act = malloc(sizeof(int64_t) * (size_t)T), *lab = malloc(sizeof(int64_t) * (size_t)T);
        float *rew = malloc(sizeof(float) * (size_t)T);
        uint8_t *don = malloc((size_t)T);
        if (!obs || !act || !lab || !rew || !don) {
            free(obs);
            free(act);
            free(lab);
            free(rew);
            free(don);
            return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
        }
        memcpy(obs, l->frames + (size_t)a * DS_FRAME_BYTES, (size_t)T * DS_FRAME_BYTES);
        memcpy(obs + (size_t)T * DS_FRAME_BYTES, l->frames + (size_t)a * DS_FRAME_BYTES, DS_FRAME_BYTES);
        for (int64_t t = 0; t < T; t++) {
            act[t] = l->action[a + t];
            lab[t] = l->label[a + t];
            rew[t] = l->reward[a + t];
            don[t] = l->done[a + t];
        }
        struct {
            const char *name, *descr;
            int64_t shape[4];
            int ndim;
            const void *data;
            size_t bytes;
        } mem[5] = {
            {"observations.npy", "|u1", {T + 1, DS_H, DS_W, DS_C}, 4, obs, (size_t)(T + 1) * DS_FRAME_BYTES},
            {"actions.npy", "<i8", {T}, 1, act, sizeof(int64_t) * (size_t)T},
            {"rewards.npy", "<f4", {T}, 1, rew, sizeof(float) * (size_t)T},
            {"dones.npy", "|b1", {T}, 1, don, (size_t)T},
            {"labels.npy", "<i8", {T}, 1, lab, sizeof(int64_t) * (size_t)T},
        };
        cb_afile f;
        rc = cb_afile_open(&f, path, e);
        if (!rc) {
            capture_zip_writer zw;
            capture_zip_writer_init(&zw, f.fp);
            for (int k = 0; k < 5 && !rc; k++) {
                uint8_t *img;
                size_t n;
                if (capture_npy_build(mem[k].descr, mem[k].shape, mem[k].ndim, mem[k].data, mem[k].bytes, &img, &n)) {
                    rc = cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
                    break;
                }
                if (capture_zip_writer_add(&zw, mem[k].name, img, n)) rc = cb_fail(e, CB_EIO, "%s: write failed", path);
                free(img);
            }
            if (!rc && capture_zip_writer_finish(&zw)) rc = cb_fail(e, CB_EIO, "%s: write failed", path);
            if (rc) cb_afile_abort(&f);
            else rc = cb_afile_commit(&f, e);
        }
        free(obs);
        free(act);
        free(lab);
        free(rew);
        free(don);
        if (rc) return rc;
        a = b;
        index++;
    }
    return 0;
}

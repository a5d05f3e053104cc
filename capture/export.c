/* export.c - a dataset level back out as recordings: a PNG level folder
 * (frame_NNNNNN.png + actions.csv with label, executed, episode,
 * episode_step) or one .npz per episode named
 * {timestamp}_{index}_{T}_{seed}_{return}.npz (stored members, channels last,
 * T+1 observations, the last repeating the episode's first frame as procgen's
 * auto-reset does). Capturing an export gives back the same frames and labels. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/npy.h"
#include "capture/zip.h"
#include "game/game.h"

static int write_png(const char *path, const uint8_t *rgb, cb_err *e) {
    return game_write_png(path, rgb, CB_FRAME_W, CB_FRAME_H, e); /* coinbc's one PNG encoder */
}

int capture_export_png(const ds_level *l, const char *dir, cb_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/level_%d", dir, l->seed);
    int rc = cb_mkdirs(path, e);
    if (rc) return rc;
    for (int64_t t = 0; t < l->n; t++) {
        char fp[4300];
        snprintf(fp, sizeof fp, "%s/frame_%06lld.png", path, (long long)t);
        if ((rc = write_png(fp, l->frames + (size_t)t * CB_FRAME_BYTES, e))) return rc;
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
        uint8_t *obs = malloc((size_t)(T + 1) * CB_FRAME_BYTES);
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
        memcpy(obs, l->frames + (size_t)a * CB_FRAME_BYTES, (size_t)T * CB_FRAME_BYTES);
        memcpy(obs + (size_t)T * CB_FRAME_BYTES, l->frames + (size_t)a * CB_FRAME_BYTES, CB_FRAME_BYTES);
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
            {"observations.npy", "|u1", {T + 1, CB_FRAME_H, CB_FRAME_W, CB_FRAME_C}, 4, obs, (size_t)(T + 1) * CB_FRAME_BYTES},
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
                errno = 0;
                if (capture_zip_writer_add(&zw, mem[k].name, img, n))
                    rc = cb_fail(e, CB_EIO, "%s: write failed: %s", path, errno ? strerror(errno) : "short write");
                free(img);
            }
            errno = 0;
            if (!rc && capture_zip_writer_finish(&zw))
                rc = cb_fail(e, CB_EIO, "%s: write failed: %s", path, errno ? strerror(errno) : "short write");
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

/* ---- the output folder, swapped in whole ----------------------------------- */

static int dir_is_empty(const char *dir, int *empty, cb_err *e) {
    DIR *d = opendir(dir);
    if (!d) return cb_fail(e, CB_EIO, "%s: cannot read the folder: %s", dir, strerror(errno));
    struct dirent *de;
    *empty = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".coinbc-lock")) {
            *empty = 0;
            break;
        }
    closedir(d);
    return 0;
}

int capture_export_open(capture_export_out *x, const char *dir, int force, const char *command, cb_err *e) {
    memset(x, 0, sizeof *x);
    x->lock.fd = x->tlock.fd = -1;
    if (strlen(dir) > 3900) return cb_fail(e, CB_EARG, "%.60s...: output path too long", dir);
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) return cb_fail(e, CB_EEXIST, "%s: exists and is not a folder", dir);
    int rc = cb_lock_acquire(&x->lock, dir, command ? command : "coinbc data export", e);
    if (rc) return rc;
    int empty = 1;
    rc = dir_is_empty(dir, &empty, e);
    if (!rc && !empty && !force)
        rc = cb_fail(e, CB_EEXIST, "%s: exists and is not empty; choose another folder, or replace its content with --force",
                     dir);
    snprintf(x->dir, sizeof x->dir, "%s", dir);
    size_t k = strlen(x->dir);
    while (k > 1 && x->dir[k - 1] == '/') x->dir[--k] = 0;
    snprintf(x->tmp, sizeof x->tmp, "%s.export-tmp.XXXXXX", x->dir);
    if (!rc && !mkdtemp(x->tmp)) rc = cb_fail(e, CB_EIO, "%s: cannot create a folder beside it: %s", dir, strerror(errno));
    if (!rc) {
        rc = cb_lock_acquire(&x->tlock, x->tmp, command ? command : "coinbc data export", e);
        if (rc) rmdir(x->tmp);
    }
    if (rc) {
        cb_lock_release(&x->lock, 1);
        x->tmp[0] = 0;
    }
    return rc;
}

void capture_export_abort(capture_export_out *x) {
    if (x->tmp[0]) {
        cb_remove_tree(x->tmp);
        cb_lock_release(&x->tlock, 0);
        x->tmp[0] = 0;
    }
    cb_lock_release(&x->lock, 1);
}

int capture_export_commit(capture_export_out *x, cb_err *e) {
    cb_err se = {0};
    int rc = cb_fsync_dir(x->tmp, &se);
    if (rc) {
        capture_export_abort(x);
        return cb_fail(e, rc, "%s", se.msg);
    }
    /* tmp's own lock file goes with it into place, so DIR stays locked */
    if (renameat2(AT_FDCWD, x->tmp, AT_FDCWD, x->dir, RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS) {
            rc = cb_fail(e, CB_EIO, "%s: cannot swap in the export (%s): %s", x->dir, x->tmp, strerror(errno));
            capture_export_abort(x);
            return rc;
        }
        /* no atomic exchange on this file system: move the old folder aside first */
        char old[4200];
        snprintf(old, sizeof old, "%s.export-old.XXXXXX", x->dir);
        if (!mkdtemp(old) || rename(x->dir, old) != 0) {
            rc = cb_fail(e, CB_EIO, "%s: cannot move the old content aside: %s", x->dir, strerror(errno));
            capture_export_abort(x);
            return rc;
        }
        if (rename(x->tmp, x->dir) != 0) {
            rc = cb_fail(e, CB_EIO, "%s: cannot move the export into place: %s", x->dir, strerror(errno));
            if (rename(old, x->dir) != 0) { /* the old content stays at `old` */ }
            capture_export_abort(x);
            return rc;
        }
        snprintf(x->tmp, sizeof x->tmp, "%s", old);
    }
    /* x->tmp now names the old content (with the old lock file) */
    cb_remove_tree(x->tmp);
    cb_lock_release(&x->lock, 0);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", x->dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent) parent[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(parent, sizeof parent, ".");
    rc = cb_fsync_dir(parent, e);
    snprintf(x->tlock.path, sizeof x->tlock.path, "%s/.coinbc-lock", x->dir);
    x->tlock.created_dir = 0;
    cb_lock_release(&x->tlock, 1);
    x->tmp[0] = 0;
    return rc;
}

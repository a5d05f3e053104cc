/* commit.c - an epoch's files of a run folder become visible as one unit
 * (staged as NAME.next, a commit record, renames), and the recovery that
 * finishes or rolls back a commit a crash or an I/O error interrupted. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-run-commit"

/* the only files a commit may hold */
static const char *const OUTPUTS[] = {"config.json",   "latest.ckpt",    "best.ckpt", "metrics.csv",
                                      "metrics.jsonl", "agreement.json", NULL};

static int is_output(const char *s) {
    for (int i = 0; OUTPUTS[i]; i++)
        if (!strcmp(s, OUTPUTS[i])) return 1;
    return 0;
}

void run_commit_begin(run_commit *c, const char *dir) {
    memset(c, 0, sizeof *c);
    c->dir = dir;
}

static int add_name(run_commit *c, const char *name, cb_err *e) {
    if (!is_output(name) || c->n == RUN_COMMIT_MAX)
        return cb_fail(e, CB_EARG, "%s: %s cannot be part of an epoch commit", c->dir, name);
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], name)) return 0;
    snprintf(c->name[c->n++], sizeof c->name[0], "%s", name);
    return 0;
}

int run_commit_stage(run_commit *c, const char *name, const void *buf, size_t n, cb_err *e) {
    char path[4200];
    int rc = add_name(c, name, e);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s.next", c->dir, name);
    return cb_write_file_atomic(path, buf, n, e);
}

int run_commit_stage_ckpt(run_commit *c, const char *name, const model *m, const model_ckpt_state *st, cb_err *e) {
    char path[4200];
    int rc = add_name(c, name, e);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s.next", c->dir, name);
    return model_save(m, st, path, e);
}

void run_commit_abort(run_commit *c) {
    char path[4200];
    for (int i = 0; i < c->n; i++) {
        snprintf(path, sizeof path, "%s/%s.next", c->dir, c->name[i]);
        unlink(path);
    }
    c->n = 0;
}

/* step 3 for every file still waiting, then step 4 */
static int finish(const char *dir, char names[][32], int n, int *done, cb_err *e) {
    char from[4200], to[4200];
    for (int i = 0; i < n; i++) {
        snprintf(from, sizeof from, "%s/%s.next", dir, names[i]);
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (access(from, F_OK) != 0) continue; /* renamed before the interruption */
        int rc = cb_rename(from, to, e);
        if (rc) return rc;
        if (done) (*done)++;
    }
    int rc = cb_fsync_dir(dir, e);
    if (rc) return rc;
    snprintf(from, sizeof from, "%s/commit.json", dir);
    if (unlink(from) != 0 && errno != ENOENT)
        return cb_fail(e, CB_EIO, "%s: cannot remove: %s", from, strerror(errno));
    return cb_fsync_dir(dir, e);
}

int run_commit_finish(run_commit *c, cb_err *e) {
    json_t *files = json_array();
    for (int i = 0; files && i < c->n; i++)
        if (json_array_append_new(files, json_string(c->name[i]))) {
            json_decref(files);
            files = NULL;
        }
    json_t *o = files ? json_pack("{s:s, s:i, s:o}", "format", FORMAT, "version", RUN_VERSION, "files", files) : NULL;
    run_text t = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/commit.json", c->dir);
    int rc = rj_dump(&t, o, 0, path, e);
    if (!rc) rc = cb_write_file_atomic(path, t.s, t.len, e);
    run_text_free(&t);
    if (rc) {
        run_commit_abort(c);
        return rc;
    }
    c->recorded = 1;
    if ((rc = finish(c->dir, c->name, c->n, NULL, e)))
        return cb_err_prefix(e, "the epoch's files are recorded in %s and the next coinbc train --resume finishes "
                                "moving them into place: ", path);
    c->n = 0;
    return 0;
}

static int read_record(const char *dir, char names[][32], int *n, cb_err *e) {
    char path[4200], *text;
    size_t len;
    *n = 0;
    int rc = rj_read(dir, "commit.json", RUN_RECORD_MAX_BYTES, path, sizeof path, &text, &len, e);
    if (rc) return rc;
    json_t *o = rj_load(text, len, path, e);
    free(text);
    if (!o) return CB_EFORMAT;
    int version;
    static const char *const keys[] = {"files", NULL};
    if (!(rc = rj_header(o, path, FORMAT, &version, e)) && !(rc = rj_only(o, path, keys, e))) {
        json_t *f = json_object_get(o, "files");
        if (!f || !json_is_array(f) || json_array_size(f) > RUN_COMMIT_MAX)
            rc = cb_fail(e, CB_EFORMAT, "%s: key \"files\": expected an array of at most %d file names", path,
                         RUN_COMMIT_MAX);
        for (size_t i = 0; !rc && i < json_array_size(f); i++) {
            json_t *s = json_array_get(f, i);
            if (!json_is_string(s) || !is_output(json_string_value(s)))
                rc = cb_fail(e, CB_EFORMAT, "%s: key \"files\": entry %zu is not one of the run's files", path, i);
            else
                snprintf(names[(*n)++], 32, "%s", json_string_value(s));
        }
    }
    json_decref(o);
    return rc;
}

/* NAME.next or NAME.tmp.* (also NAME.next.tmp.*) of a run output or of commit.json */
static int leftover(const char *f, int *is_next) {
    static const char *const all[] = {"config.json",    "latest.ckpt", "best.ckpt", "metrics.csv", "metrics.jsonl",
                                      "agreement.json", "commit.json", NULL};
    for (int i = 0; all[i]; i++) {
        size_t l = strlen(all[i]);
        if (strncmp(f, all[i], l) || f[l] != '.') continue;
        const char *rest = f + l + 1;
        if (!strcmp(rest, "next") && i < 6) {
            *is_next = 1;
            return 1;
        }
        if (!strncmp(rest, "tmp.", 4) || !strncmp(rest, "next.tmp.", 9)) {
            *is_next = 0;
            return 1;
        }
    }
    return 0;
}

int run_folder_recover(const char *dir, run_recovery *r, cb_err *e) {
    memset(r, 0, sizeof *r);
    char names[RUN_COMMIT_MAX][32];
    int n, rc = read_record(dir, names, &n, e);
    if (rc == 0) {
        if ((rc = finish(dir, names, n, &r->finished, e))) return cb_err_prefix(e, "finishing an interrupted commit: ");
    } else if (rc != CB_ENOTFOUND) {
        return rc;
    }
    rc = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : cb_fail(e, CB_EIO, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *de;
    char path[4400];
    int removed = 0;
    while ((de = readdir(d))) {
        int is_next;
        if (!leftover(de->d_name, &is_next)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = cb_fail(e, CB_EIO, "%s: cannot remove a leftover file: %s", path, strerror(errno));
            break;
        }
        removed = 1;
        if (is_next) r->rolled_back++;
        else r->stale_tmp++;
    }
    closedir(d);
    if (!rc && removed) rc = cb_fsync_dir(dir, e);
    return rc;
}

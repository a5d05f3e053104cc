/* paths.c - cb_path_check_output: the one check, used by every command,
 * that an output neither is, contains nor lies inside one of the command's
 * inputs, nor is a file of a run folder or a dataset folder. Paths are
 * compared after resolving them (symlinks, `.` and `..`); an output that
 * does not exist yet is resolved through its longest existing prefix. */
#include "common/common.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXP (PATH_MAX + 1)

/* The longest prefix comp[0..k) of the path that exists, resolved into base
 * (through realpath). A name after it that is there but does not resolve (a
 * dangling or looping symlink) is refused: a write would follow it to
 * somewhere unknown. A folder that another process creates between the two
 * looks the same for a moment (realpath said missing, lstat finds it): then
 * the search starts again, and only a name that still does not resolve is
 * refused. */
static int longest_prefix(const char *opt, const char *p, char *const *comp, int nc, char *base, int *kp, cb_err *e) {
    char pre[2 * MAXP];
    for (int attempt = 0;; attempt++) {
        int k = nc, rerr = 0; /* rerr: why the prefix of k + 1 components did not resolve */
        for (;; k--) {
            size_t len = 0;
            pre[0] = 0;
            for (int i = 0; i < k; i++) len += (size_t)snprintf(pre + len, sizeof pre - len, "/%s", comp[i]);
            if (k == 0) snprintf(pre, sizeof pre, "/");
            if (len < sizeof pre && realpath(pre, base)) break;
            rerr = errno;
            if (k == 0) return cb_fail(e, CB_EIO, "%s %s: cannot resolve the path: %s", opt, p, strerror(errno));
        }
        *kp = k;
        if (k == nc) return 0;
        char here[2 * MAXP], again[MAXP];
        struct stat st;
        snprintf(here, sizeof here, "%s/%s", strcmp(base, "/") ? base : "", comp[k]);
        if (lstat(here, &st) != 0) return 0; /* comp[k] is missing: the output is made from here on */
        if (attempt < 3 && realpath(here, again)) continue; /* made by another process meanwhile */
        return cb_fail(e, CB_EARG, "%s %s: %s is there but cannot be resolved (%s: a symbolic link to a missing "
                                   "target, a loop of links or a folder that cannot be searched); give a path that "
                                   "does not go through it", opt, p, here, strerror(rerr));
    }
}

/* Resolves p into out (absolute, no symlinks, `.` or `..`, no trailing '/').
 * *exists: the whole path exists. 0, or CB_EARG with a message naming p
 * (opt is the option that gave it, for the message). */
static int resolve(const char *opt, const char *p, char *out, int *exists, cb_err *e) {
    static const size_t cap = MAXP;
    char abs[2 * MAXP];
    if (!p[0]) return cb_fail(e, CB_EARG, "%s: an empty path", opt);
    if (p[0] == '/') {
        if (snprintf(abs, sizeof abs, "%s", p) >= (int)sizeof abs) return cb_fail(e, CB_EARG, "%s %s: path too long", opt, p);
    } else {
        char cwd[MAXP];
        if (!getcwd(cwd, sizeof cwd))
            return cb_fail(e, CB_EIO, "%s %s: cannot resolve the path: the current folder: %s", opt, p, strerror(errno));
        if (snprintf(abs, sizeof abs, "%s/%s", cwd, p) >= (int)sizeof abs)
            return cb_fail(e, CB_EARG, "%s %s: path too long", opt, p);
    }
    /* the components, lexically (empty ones and `.` dropped, `..` kept) */
    char *comp[sizeof abs / 2 + 1]; /* every component takes at least 2 bytes of abs ("x/") */
    int nc = 0;
    for (char *s = abs; *s;) {
        while (*s == '/') *s++ = 0;
        if (!*s) break;
        char *c = s;
        while (*s && *s != '/') s++;
        if (*s) *s++ = 0;
        if (strcmp(c, ".")) comp[nc++] = c;
    }
    char base[MAXP];
    int k = 0, rc = longest_prefix(opt, p, comp, nc, base, &k, e);
    if (rc) return rc;
    size_t len = (size_t)snprintf(out, cap, "%s", base);
    for (int i = k; i < nc; i++) {
        if (!strcmp(comp[i], ".."))
            return cb_fail(e, CB_EARG, "%s %s: '..' after '%s', which does not exist, cannot be resolved; give the path "
                                       "without it", opt, p, comp[k]);
        if (len + 1 + strlen(comp[i]) >= cap) return cb_fail(e, CB_EARG, "%s %s: path too long", opt, p);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len == 1 ? "" : "/", comp[i]);
    }
    *exists = k == nc;
    return 0;
}

/* a inside b (strictly), both resolved */
static int inside(const char *a, const char *b) {
    size_t n = strlen(b);
    if (n == 1) return a[1] != 0; /* b is "/" */
    return strncmp(a, b, n) == 0 && a[n] == '/';
}

static int has(const char *dir, const char *name) {
    char p[2 * MAXP];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* A run folder: commit.json (an epoch commit under way), or config.json with
 * one of the files every commit writes next to it (config.json alone is too
 * common a name to mark a folder as coinbc's). */
static int is_run_folder(const char *dir) {
    return has(dir, "commit.json") ||
           (has(dir, "config.json") &&
            (has(dir, "latest.ckpt") || has(dir, "best.ckpt") || has(dir, "metrics.csv") || has(dir, "metrics.jsonl")));
}

/* A dataset folder: manifest.txt that starts as a coinbc manifest does, or
 * one that cannot be read as a regular file (counted: refusing is safe). */
static int is_dataset_folder(const char *dir) {
    static const char magic[] = "coinbc-dataset ";
    char p[2 * MAXP], buf[sizeof magic];
    snprintf(p, sizeof p, "%s/manifest.txt", dir);
    int64_t size;
    cb_err e = {0};
    int fd = cb_open_regular(p, &size, &e);
    if (fd < 0) return e.code != CB_ENOTFOUND && has(dir, "manifest.txt");
    ssize_t got = read(fd, buf, sizeof magic - 1);
    close(fd);
    return got != (ssize_t)(sizeof magic - 1) || memcmp(buf, magic, sizeof magic - 1) == 0;
}

int cb_path_check_output(const char *opt, const char *out, int kind, const char *const *in, int nin, cb_err *e) {
    char ro[MAXP], ri[MAXP];
    int oex = 0, iex = 0;
    int rc = resolve(opt, out, ro, &oex, e);
    if (rc) return rc;
    struct stat ost;
    if (oex && stat(ro, &ost) != 0) oex = 0;
    for (int i = 0; i < nin; i++) {
        if (!in[i] || !strcmp(in[i], "-")) continue; /* none, or stdin */
        cb_err ie = {0};
        /* an input that cannot be resolved does not exist: the command says so when it opens it */
        if (resolve("input", in[i], ri, &iex, &ie)) continue;
        struct stat ist;
        int same = !strcmp(ro, ri) || (oex && iex && stat(ri, &ist) == 0 && ist.st_dev == ost.st_dev &&
                                        ist.st_ino == ost.st_ino);
        const char *how = same ? "is" : inside(ro, ri) ? "lies inside" : inside(ri, ro) ? "contains" : NULL;
        if (!how) continue;
        if (!strcmp(out, ro) && !strcmp(in[i], ri))
            return cb_fail(e, CB_EARG, "%s %s: the output %s the input %s; writing it would destroy that input, so give "
                                       "an output outside every input", opt, out, how, in[i]);
        if (!strcmp(ro, ri))
            return cb_fail(e, CB_EARG, "%s %s: the output %s the input %s (both are %s); writing it would destroy that "
                                       "input, so give an output outside every input", opt, out, how, in[i], ro);
        return cb_fail(e, CB_EARG, "%s %s: the output %s the input %s (resolved: %s and %s%s); writing it would destroy "
                                   "that input, so give an output outside every input", opt, out, how, in[i], ro, ri,
                       same ? ", the same file" : "");
    }
    /* the folders above the output: a dataset folder never holds other
     * outputs; a run folder only its own records (CB_OUT_RUN_RECORD, the
     * folder right above them) */
    char dir[MAXP];
    snprintf(dir, sizeof dir, "%s", ro);
    for (int up = 1;; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        if (slash == dir) {
            if (!dir[1]) break;
            dir[1] = 0;
        } else {
            *slash = 0;
        }
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (is_dataset_folder(dir))
                return cb_fail(e, CB_EARG, "%s %s: the output lies inside the dataset folder %s (it holds manifest.txt); "
                                           "a command writes nothing into a dataset but its own shards, so give an "
                                           "output outside it", opt, out, dir);
            if (is_run_folder(dir) && !(kind == CB_OUT_RUN_RECORD && up == 1))
                return cb_fail(e, CB_EARG, "%s %s: the output lies inside the run folder %s (it holds config.json and "
                                           "the run's records), which only coinbc train, eval and rollout write into; "
                                           "give an output outside it", opt, out, dir);
        }
        if (!strcmp(dir, "/")) break;
    }
    /* the output itself, when it is an existing folder of the other kind */
    if (oex && S_ISDIR(ost.st_mode)) {
        if (kind != CB_OUT_DATASET && is_dataset_folder(ro))
            return cb_fail(e, CB_EARG, "%s %s: the output is a dataset folder (it holds manifest.txt), which this command "
                                       "would overwrite; give another output", opt, out);
        if (kind != CB_OUT_RUN && is_run_folder(ro))
            return cb_fail(e, CB_EARG, "%s %s: the output is a run folder (it holds config.json and the run's records), "
                                       "which this command would overwrite; give another output", opt, out);
    }
    return 0;
}

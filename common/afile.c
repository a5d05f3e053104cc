/* afile.c - atomic file writes (temp name in the same folder, fsync, rename,
 * fsync of the folder), whole-file reads and mkdir -p. A crash or a full disk
 * never leaves a half-written file under the real name. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void dir_of(const char *path, char *dir, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, n, ".");
    } else if (slash == path) {
        snprintf(dir, n, "/");
    } else {
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
    }
}

int cb_fsync_dir(const char *dir, cb_err *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return cb_fail(e, CB_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL && err != EROFS)
        return cb_fail(e, CB_EIO, "%s: fsync of folder failed: %s", dir, strerror(err));
    return 0;
}

static int64_t test_fail_at, test_ops;

int64_t cb_afile_test_fail_at(int64_t n) {
    int64_t ops = test_ops;
    test_fail_at = n;
    test_ops = 0;
    return ops;
}

/* 1 when the test hook makes this operation fail */
static int injected(void) {
    test_ops++;
    return test_fail_at > 0 && test_ops == test_fail_at;
}

int cb_rename(const char *from, const char *to, cb_err *e) {
    if (injected()) return cb_fail(e, CB_EIO, "%s: rename failed: %s (injected)", to, strerror(EIO));
    if (rename(from, to) != 0) return cb_fail(e, CB_EIO, "%s: rename failed: %s", to, strerror(errno));
    return 0;
}

int cb_afile_open(cb_afile *f, const char *path, cb_err *e) {
    memset(f, 0, sizeof *f);
    if (strlen(path) + 16 > sizeof f->tmp)
        return cb_fail(e, CB_EARG, "%s: path too long", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        int err = errno;
        f->tmp[0] = 0;
        return cb_fail(e, CB_EIO, "%s: cannot create file: %s", path, strerror(err));
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int err = errno;
        close(fd);
        unlink(f->tmp);
        f->tmp[0] = 0;
        return cb_fail(e, CB_EIO, "%s: %s", path, strerror(err));
    }
    return 0;
}

int cb_afile_write(cb_afile *f, const void *buf, size_t n, cb_err *e) {
    if (!f->fp || f->failed) return cb_fail(e, CB_EIO, "%s: write after failure", f->path);
    if (n && fwrite(buf, 1, n, f->fp) != n) {
        f->failed = 1;
        return cb_fail(e, CB_EIO, "%s: write failed: %s", f->path, strerror(errno));
    }
    return 0;
}

int cb_afile_commit(cb_afile *f, cb_err *e) {
    if (!f->fp) return cb_fail(e, CB_EIO, "%s: file is not open", f->path);
    int err = 0;
    if (f->failed || fflush(f->fp) != 0 || ferror(f->fp)) err = errno ? errno : EIO;
    if (!err && fsync(fileno(f->fp)) != 0) err = errno;
    if (!err && injected()) err = EIO;
    if (fclose(f->fp) != 0 && !err) err = errno;
    f->fp = NULL;
    if (err) {
        unlink(f->tmp);
        f->tmp[0] = 0;
        return cb_fail(e, CB_EIO, "%s: write failed (%s); the previous file, if any, is unchanged",
                       f->path, strerror(err));
    }
    if (rename(f->tmp, f->path) != 0) {
        err = errno;
        unlink(f->tmp);
        f->tmp[0] = 0;
        return cb_fail(e, CB_EIO, "%s: rename into place failed: %s", f->path, strerror(err));
    }
    f->tmp[0] = 0;
    char dir[4096];
    dir_of(f->path, dir, sizeof dir);
    return cb_fsync_dir(dir, e);
}

void cb_afile_abort(cb_afile *f) {
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp[0]) {
        unlink(f->tmp);
        f->tmp[0] = 0;
    }
}

int cb_write_file_atomic(const char *path, const void *buf, size_t n, cb_err *e) {
    cb_afile f;
    int rc = cb_afile_open(&f, path, e);
    if (rc) return rc;
    rc = cb_afile_write(&f, buf, n, e);
    if (rc) {
        cb_afile_abort(&f);
        return rc;
    }
    return cb_afile_commit(&f, e);
}

int cb_read_file(const char *path, uint8_t **out, size_t *n, cb_err *e) {
    *out = NULL;
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return cb_fail(e, errno == ENOENT ? CB_ENOTFOUND : CB_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap * 2;
            uint8_t *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return cb_fail(e, CB_ENOMEM, "%s: out of memory reading %zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return cb_fail(e, CB_EIO, "%s: read error", path);
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

int cb_mkdirs(const char *path, cb_err *e) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return cb_fail(e, CB_EARG, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return cb_fail(e, CB_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
            *p = c;
            if (c == 0) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cb_fail(e, CB_EIO, "%s: exists and is not a folder", path);
    return 0;
}

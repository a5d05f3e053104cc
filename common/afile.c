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
    /* the rename would put a file in place of a device, a pipe or a socket,
     * and cannot replace a folder: refuse before writing anything */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return cb_fail(e, CB_EARG, "%s: exists and is not a regular file (%s); give the path of a file to write", path,
                       S_ISDIR(st.st_mode) ? "a folder" : "a device, a pipe or a socket");
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

int cb_open_regular(const char *path, int64_t *size, cb_err *e) {
    /* O_NONBLOCK: opening a FIFO for reading must not wait for a writer;
     * the fstat below then refuses it. It is cleared again for the reads. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return cb_fail(e, errno == ENOENT ? CB_ENOTFOUND : CB_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int er = errno;
        close(fd);
        return cb_fail(e, CB_EIO, "%s: %s", path, strerror(er));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        const char *what = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISCHR(st.st_mode) ? "a character device" : S_ISBLK(st.st_mode) ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
        return cb_fail(e, CB_EFORMAT, "%s: is %s (after following symlinks); only regular files are read", path, what);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int er = errno;
        close(fd);
        return cb_fail(e, CB_EIO, "%s: %s", path, strerror(er));
    }
    *size = (int64_t)st.st_size;
    return fd;
}

int cb_read_file_max(const char *path, size_t max, uint8_t **out, size_t *n, cb_err *e) {
    *out = NULL;
    *n = 0;
    int64_t size = 0;
    int fd = cb_open_regular(path, &size, e);
    if (fd < 0) return fd;
    if ((uint64_t)size > max) {
        close(fd);
        return cb_fail(e, CB_ERANGE, "%s: %lld bytes, more than the %zu this file may have; refusing to read it", path,
                       (long long)size, max);
    }
    /* Read the size fstat gave, plus one byte to see a file that grew
     * meanwhile: it is refused rather than read without bound. */
    size_t want = (size_t)size;
    uint8_t *buf = malloc(want + 2);
    if (!buf) {
        close(fd);
        return cb_fail(e, CB_ENOMEM, "%s: out of memory reading %zu bytes", path, want);
    }
    size_t len = 0;
    while (len < want + 1) {
        ssize_t got = read(fd, buf + len, want + 1 - len);
        if (got < 0) {
            if (errno == EINTR) continue;
            int er = errno;
            free(buf);
            close(fd);
            return cb_fail(e, CB_EIO, "%s: read error: %s", path, strerror(er));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    if (len != want) {
        free(buf);
        return cb_fail(e, CB_EIO, "%s: changed size while being read (%zu bytes expected, %s); is another process writing it?",
                       path, want, len > want ? "more found" : "fewer found");
    }
    buf[len] = 0;
    *out = buf;
    *n = len;
    return 0;
}

int cb_read_file(const char *path, uint8_t **out, size_t *n, cb_err *e) {
    return cb_read_file_max(path, CB_READ_MAX_DEFAULT, out, n, e);
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

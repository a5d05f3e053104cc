/* lock.c - exclusive writer locks on output folders (datasets, run folders,
 * recordings folders, tune folders). A lock is flock(2) on DIR/.coinbc-lock,
 * a small file that names the holder (pid and command line) for the error
 * message of the next writer. The kernel drops the lock when the holder's
 * last descriptor closes, so a process that dies (even by SIGKILL) never
 * leaves a lock that blocks. Readers take no lock. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".coinbc-lock"

int cb_lock_acquire(cb_lock *l, const char *dir, const char *holder, cb_err *e) {
    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (strlen(dir) + sizeof LOCK_NAME + 2 > sizeof l->path) return cb_fail(e, CB_EARG, "%s: path too long", dir);
    struct stat ds;
    l->created_dir = stat(dir, &ds) != 0;
    int rc = cb_mkdirs(dir, e);
    if (rc) return rc;
    snprintf(l->path, sizeof l->path, "%s/" LOCK_NAME, dir);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    /* a holder that unlinks the file on release can race with us opening the
     * old inode: lock, then check that the path still names what we locked */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            int err = errno;
            if (l->created_dir) rmdir(dir); /* leave nothing behind */
            return cb_fail(e, CB_EIO, "%s: cannot create the lock file: %s", l->path, strerror(err));
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            char who[512] = "";
            ssize_t n = 0;
            if (err == EWOULDBLOCK) /* a new holder writes its line just after it locks: give it a moment */
                for (int wait = 0; wait < 50 && (n = pread(fd, who, sizeof who - 1, 0)) <= 0; wait++) usleep(10000);
            close(fd);
            if (err != EWOULDBLOCK) {
                if (l->created_dir && unlink(l->path) == 0) rmdir(dir);
                return cb_fail(e, CB_EIO, "%s: cannot lock: %s", l->path, strerror(err));
            }
            who[n > 0 ? n : 0] = 0;
            char *nl = strchr(who, '\n');
            if (nl) *nl = 0;
            return cb_fail(e, CB_EBUSY, "%s is being written by another process (%s); wait for it to end or choose "
                           "another output", dir, who[0] ? who : "holder unknown");
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            char line[600];
            int k = snprintf(line, sizeof line, "pid %ld: %s\n", (long)getpid(), holder ? holder : "coinbc");
            if (k >= (int)sizeof line) k = (int)sizeof line - 1;
            /* the holder line is informational: a failure to write it does not matter */
            /* the line of a killed holder is cleared first: a waiting reader sees
             * an empty file for a moment, never a dead holder named as alive */
            if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)k, 0) != k) { /* ignored */ }
            l->fd = fd;
            return 0;
        }
        close(fd);
    }
    return cb_fail(e, CB_EIO, "%s: the lock file keeps changing under us", l->path);
}

/* The lock file goes at every release: a command that ends normally leaves
 * none (it used to stay whenever the caller kept its folder, i.e. after
 * every successful train and tune). It is unlinked while still locked, so no
 * one else holds this inode's lock, and only when the path still names the
 * inode we hold: after export swaps its folder in, DIR/.coinbc-lock is the
 * other lock's file and must stay until that one is released. A process
 * that opened the old inode meanwhile sees the path change and retries
 * (cb_lock_acquire). */
void cb_lock_release(cb_lock *l, int remove_dir_if_empty) {
    if (l->fd < 0) return;
    if (ftruncate(l->fd, 0) != 0) { /* the holder line is informational */ }
    struct stat a, b;
    if (fstat(l->fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) unlink(l->path);
    if (remove_dir_if_empty && l->created_dir) rmdir(l->dir); /* fails harmlessly unless empty */
    close(l->fd);
    l->fd = -1;
}

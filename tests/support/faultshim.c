/* faultshim.c - an LD_PRELOAD library for fault-injection tests (built as
 * build/tests/faultshim.so, not linked into the test programs). It counts
 * the calls that create, write, flush, sync or rename files, and makes the
 * Nth of them fail:
 *   FAULT_AT=N        the Nth counted call fails (1-based; 0 or unset: none)
 *   FAULT_REPORT=PATH at exit, the number of counted calls is written there
 *   FAULT_KILL=1      the Nth call kills the process (SIGKILL) instead
 * Writes fail with ENOSPC, the others with EIO. Counted: open/openat with
 * O_CREAT or write access, mkstemp, mkdtemp, mkdir, write, pwrite, fwrite,
 * fputs, fputc, fprintf (the output of vfprintf), fflush, fclose, fsync,
 * fdatasync, syncfs, rename, renameat, renameat2. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_long calls;
static long fail_at = -1;
static int kill_mode;

__attribute__((constructor)) static void shim_init(void) {
    const char *s = getenv("FAULT_AT");
    fail_at = s ? atol(s) : 0;
    s = getenv("FAULT_KILL");
    kill_mode = s && *s == '1';
}

__attribute__((destructor)) static void shim_report(void) {
    const char *p = getenv("FAULT_REPORT");
    if (!p) return;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)atomic_load(&calls));
    int fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (syscall(SYS_write, fd, buf, (size_t)n) < 0) { /* nothing to do */ }
        syscall(SYS_close, fd);
    }
}

/* 1 when this call is the one to fail (errno set) */
static int hit(int err) {
    long k = atomic_fetch_add(&calls, 1) + 1;
    if (fail_at > 0 && k == fail_at) {
        if (kill_mode) syscall(SYS_kill, syscall(SYS_getpid), 9); /* SIGKILL, before the call happens */
        errno = err;
        return 1;
    }
    return 0;
}

#define REAL(ret, name, ...)                                   \
    static ret (*real_##name)(__VA_ARGS__);                    \
    if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

int open(const char *path, int flags, ...) {
    REAL(int, open, const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if ((flags & (O_CREAT | O_WRONLY | O_RDWR)) && hit(EIO)) return -1;
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    REAL(int, open64, const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if ((flags & (O_CREAT | O_WRONLY | O_RDWR)) && hit(EIO)) return -1;
    return real_open64(path, flags, mode);
}

int mkstemp(char *t) {
    REAL(int, mkstemp, char *);
    if (hit(EIO)) return -1;
    return real_mkstemp(t);
}

int mkstemp64(char *t) {
    REAL(int, mkstemp64, char *);
    if (hit(EIO)) return -1;
    return real_mkstemp64(t);
}

char *mkdtemp(char *t) {
    REAL(char *, mkdtemp, char *);
    if (hit(EIO)) return NULL;
    return real_mkdtemp(t);
}

int mkdir(const char *p, mode_t m) {
    REAL(int, mkdir, const char *, mode_t);
    if (hit(EIO)) return -1;
    return real_mkdir(p, m);
}

ssize_t write(int fd, const void *b, size_t n) {
    REAL(ssize_t, write, int, const void *, size_t);
    if (fd > 2 && hit(ENOSPC)) return -1;
    return real_write(fd, b, n);
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off) {
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    if (hit(ENOSPC)) return -1;
    return real_pwrite(fd, b, n, off);
}

static int is_std(FILE *f) { return f == stdout || f == stderr; }

/* A failed stdio write leaves the stream's error flag set, as glibc's own
 * failures do (callers may check ferror() once at the end). */
static void set_error(FILE *f) { f->_flags |= 0x20; /* _IO_ERR_SEEN */ }

size_t fwrite(const void *b, size_t sz, size_t n, FILE *f) {
    REAL(size_t, fwrite, const void *, size_t, size_t, FILE *);
    if (!is_std(f) && sz && n && hit(ENOSPC)) {
        set_error(f);
        return 0;
    }
    return real_fwrite(b, sz, n, f);
}

int fputs(const char *s, FILE *f) {
    REAL(int, fputs, const char *, FILE *);
    if (!is_std(f) && hit(ENOSPC)) {
        set_error(f);
        return EOF;
    }
    return real_fputs(s, f);
}

int fputc(int c, FILE *f) {
    REAL(int, fputc, int, FILE *);
    if (!is_std(f) && hit(ENOSPC)) {
        set_error(f);
        return EOF;
    }
    return real_fputc(c, f);
}

int fprintf(FILE *f, const char *fmt, ...) {
    REAL(int, vfprintf, FILE *, const char *, va_list);
    va_list ap;
    va_start(ap, fmt);
    int r;
    if (!is_std(f) && hit(ENOSPC)) {
        set_error(f);
        r = -1;
    } else r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int fflush(FILE *f) {
    REAL(int, fflush, FILE *);
    if (f && !is_std(f) && hit(ENOSPC)) {
        set_error(f);
        return EOF;
    }
    return real_fflush(f);
}

int fclose(FILE *f) {
    REAL(int, fclose, FILE *);
    if (!is_std(f) && hit(EIO)) {
        real_fclose(f); /* the stream is gone either way, as after a real failure */
        errno = EIO;
        return EOF;
    }
    return real_fclose(f);
}

int fsync(int fd) {
    REAL(int, fsync, int);
    if (hit(EIO)) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(int, fdatasync, int);
    if (hit(EIO)) return -1;
    return real_fdatasync(fd);
}

int syncfs(int fd) {
    REAL(int, syncfs, int);
    if (hit(EIO)) return -1;
    return real_syncfs(fd);
}

int rename(const char *a, const char *b) {
    REAL(int, rename, const char *, const char *);
    if (hit(EIO)) return -1;
    return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b) {
    REAL(int, renameat, int, const char *, int, const char *);
    if (hit(EIO)) return -1;
    return real_renameat(da, a, db, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags) {
    REAL(int, renameat2, int, const char *, int, const char *, unsigned);
    if (hit(EIO)) return -1;
    return real_renameat2(da, a, db, b, flags);
}

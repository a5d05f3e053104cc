/* run.c - run the coinbc binary from tests, capturing stdout and stderr. */
#include "tests/support/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_coinbc(void) {
    const char *p = getenv("COINBC");
    return p && *p ? p : "build/coinbc";
}

static void slurp(const char *path, char *buf, size_t n) {
    if (!buf || !n) return;
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
}

int test_run(char *out, size_t outn, char *err, size_t errn, const char *fmt, ...) {
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char o[] = "/tmp/coinbc_out_XXXXXX", e[] = "/tmp/coinbc_err_XXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    if (fo < 0 || fe < 0) return -1;
    close(fo);
    close(fe);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", test_coinbc(), args, o, e);
    int st = system(cmd);
    slurp(o, out, outn);
    slurp(e, err, errn);
    unlink(o);
    unlink(e);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

char *test_tmpdir(void) {
    char *d = strdup("/tmp/coinbc_test_XXXXXX");
    if (!d || !mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

void test_rmtree(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

pid_t test_spawn(const char *errfile, const char *fmt, ...) {
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    /* exec: the child's pid is coinbc's own, so tests can stop or kill it */
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>%s </dev/null", test_coinbc(), args, errfile ? errfile : "/dev/null");
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int test_wait(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int test_json_variant(const char *tmpdir, const char *src, const char *dst, const char *edit) {
    char py[4200], cmd[16384];
    snprintf(py, sizeof py, "%s/edit.py", tmpdir);
    FILE *f = fopen(py, "w");
    if (!f) return -1;
    fprintf(f, "import json, sys\ns = json.load(open(sys.argv[1]))\n%s\njson.dump(s, open(sys.argv[2], 'w'), indent=1)\n",
            edit);
    if (fclose(f)) return -1;
    if (snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s'", py, src, dst) >= (int)sizeof cmd) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

char *test_replace_after(const char *s, const char *after, const char *from, const char *to) {
    const char *q = strstr(s, after);
    const char *p = q ? strstr(q, from) : NULL;
    if (!p) return NULL;
    size_t a = (size_t)(p - s), nf = strlen(from), nt = strlen(to), n = strlen(s);
    char *r = malloc(n - nf + nt + 1);
    if (!r) return NULL;
    memcpy(r, s, a);
    memcpy(r + a, to, nt);
    memcpy(r + a + nt, p + nf, n - a - nf + 1);
    return r;
}

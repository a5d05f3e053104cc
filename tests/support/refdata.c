/* refdata.c - locate the procgen reference data in the repository
 * (tests/data/procgen/, or $COINBC_REFDATA). The folder is found from the
 * test program's own path (build/tests/test_x -> repository root) or, failing
 * that, from the working directory and its parents, so tests run from any
 * folder. A missing file fails the calling test: the data is part of the
 * repository, so its absence is a broken checkout, never a reason to skip. */
#include "tests/support/refdata.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define REFDATA_SUBDIR "tests/data/procgen"

/* Walks up from dir (at most 8 levels) looking for REFDATA_SUBDIR/README.md;
 * on success writes the folder that holds it (the repository) into out and
 * returns 1. */
static int find_up(const char *dir, char *out, size_t n) {
    char cur[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", dir);
    for (int up = 0; up < 8; up++) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof probe, "%s/" REFDATA_SUBDIR "/README.md", cur);
        if (access(probe, R_OK) == 0) {
            snprintf(out, n, "%s", cur);
            return 1;
        }
        char *slash = strrchr(cur, '/');
        if (!slash || strcmp(cur, "/") == 0) break;
        if (slash == cur) cur[1] = 0;
        else *slash = 0;
    }
    return 0;
}

const char *test_repo_root(void) {
    static char root[PATH_MAX];
    if (root[0]) return root;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int found = 0;
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        found = find_up(exe, root, sizeof root);
    }
    char cwd[PATH_MAX];
    if (!found && getcwd(cwd, sizeof cwd)) found = find_up(cwd, root, sizeof root);
    if (!found) root[0] = 0;
    return found ? root : NULL;
}

const char *test_refdata_root(void) {
    static char path[PATH_MAX + 64];
    if (path[0]) return path;
    const char *env = getenv("COINBC_REFDATA");
    const char *repo = test_repo_root();
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else if (repo) snprintf(path, sizeof path, "%s/" REFDATA_SUBDIR, repo);
    else return NULL;
    return path;
}

const char *test_refdata(const char *name) {
    static char buf[4][PATH_MAX + 256];
    static int slot;
    const char *root = test_refdata_root();
    if (!root) fail_msg("reference data folder " REFDATA_SUBDIR " not found above the test program or the working "
                        "directory (a broken checkout?); set COINBC_REFDATA to point elsewhere");
    char *b = buf[slot++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", root, name);
    if (access(b, R_OK) != 0) fail_msg("reference file %s is missing (it is part of the repository; a broken checkout?)", b);
    return b;
}

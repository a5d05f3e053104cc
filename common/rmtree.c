/* rmtree.c - cb_remove_tree: rm -rf of an output a failed command created,
 * or of the old copy an output was swapped with. Never follows symlinks. */
#include "common/common.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

static int first_err;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(p) : unlink(p);
    if (rc != 0 && !first_err) first_err = errno;
    return 0;
}

int cb_remove_tree(const char *path) {
    /* nftw keeps its state in a static: callers are single-threaded cli paths */
    first_err = 0;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && !first_err) first_err = errno;
    if (first_err == ENOENT) first_err = 0;
    if (first_err) {
        errno = first_err;
        return -1;
    }
    return 0;
}

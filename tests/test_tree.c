/* test_tree.c - no temporary, staging or lock file is tracked in the
 * repository, and .gitignore keeps every such name out of a commit.
 *
 * The names are the ones coinbc itself makes while it writes: cb_afile's
 * NAME.tmp.XXXXXX, run/'s NAME.next, an experiment runner's NAME.tmp and
 * NAME.part, the writer lock .coinbc-lock, flock files, and checkpoints
 * under docs/results/ (*.ckpt: results commit summaries, never weights). The tracked files come from
 * `git ls-files` in the repository the test was built in; a checkout that is
 * not a git work tree has nothing to commit, so its files are walked instead. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/support/refdata.h"

/* Why a file's base name is a temporary (or a checkpoint), or NULL. */
static const char *temp_kind(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (!strcmp(b, ".coinbc-lock")) return "a writer lock";
    if (strstr(b, ".tmp.")) return "an atomic write's temporary";
    if (n >= 4 && !strcmp(b + n - 4, ".tmp")) return "a temporary";
    if (n >= 5 && !strcmp(b + n - 5, ".next")) return "a staged epoch file";
    if (n >= 5 && !strcmp(b + n - 5, ".part")) return "a partial file";
    if (n >= 6 && !strcmp(b + n - 6, ".flock")) return "a lock file";
    if (strstr(path, ".journal.owners/")) return "a tune process's owner lock";
    /* checkpoints: results keep their summaries (the fuzz corpus keeps tiny ones) */
    if (n >= 5 && !strcmp(b + n - 5, ".ckpt") && !strncmp(path, "docs/results/", 13)) return "a result's checkpoint";
    return NULL;
}

static void test_matcher_catches_temporaries(void **st) {
    (void)st;
    assert_non_null(temp_kind("docs/results/compare/hard/runs/tand-3/eval.json.tmp"));
    assert_non_null(temp_kind("runs/x/metrics.jsonl.tmp.Ab12Cd"));
    assert_non_null(temp_kind("runs/x/best.ckpt.next"));
    assert_non_null(temp_kind("data.cbd/.coinbc-lock"));
    assert_non_null(temp_kind("docs/results/compare/hard/runs/mean-1/best.ckpt"));
    assert_null(temp_kind("tests/fuzz/corpus/checkpoint/nature-tiny.ckpt"));
    assert_non_null(temp_kind("study/journal.flock"));
    assert_non_null(temp_kind("docs/results/compare/paper/tune/mean/study.journal.owners/85985c94.lock"));
    assert_null(temp_kind("docs/results/compare/paper/tune/mean/study.journal"));
    assert_null(temp_kind("docs/results/compare/hard/runs/tand-3/eval.json"));
    assert_null(temp_kind("tests/data/procgen/README.md"));
    assert_null(temp_kind("docs/next.md"));
}

static int bad_count;

static void check(const char *path) {
    const char *k = temp_kind(path);
    if (!k) return;
    print_error("%s is tracked but is %s: remove it (git rm --cached) and ignore its pattern\n", path, k);
    bad_count++;
}

static void walk(const char *root, const char *rel) {
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    DIR *d = opendir(full);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        char sub[4096];
        if (snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", nm) >= (int)sizeof sub) continue;
        /* build outputs and the demo's output are never committed */
        if (!*rel && (!strncmp(nm, "build", 5) || !strcmp(nm, "out") || !strcmp(nm, ".git"))) continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", root, sub);
        struct stat s;
        if (lstat(p, &s)) continue;
        if (S_ISDIR(s.st_mode)) walk(root, sub);
        else check(sub);
    }
    closedir(d);
}

static void test_no_temporaries_tracked(void **st) {
    (void)st;
    const char *root = test_repo_root();
    assert_non_null(root);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --is-inside-work-tree >/dev/null 2>&1", root);
    bad_count = 0;
    if (system(cmd) == 0) {
        snprintf(cmd, sizeof cmd, "git -C '%s' ls-files", root);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char line[4096];
        int files = 0;
        while (fgets(line, sizeof line, p)) {
            line[strcspn(line, "\n")] = 0;
            check(line);
            files++;
        }
        assert_int_equal(pclose(p), 0);
        assert_true(files > 100); /* the listing really ran */

        /* .gitignore ignores each kind wherever it is made */
        static const char *const names[] = {"docs/results/x/runs/m-1/eval.json.tmp",
                                            "docs/results/x/runs/m-1/config.json.tmp.Ab12Cd",
                                            "docs/results/x/runs/m-1/best.ckpt",
                                            "docs/results/x/runs/m-1/metrics.jsonl.next",
                                            "docs/results/x/data.cbd/.coinbc-lock",
                                            "docs/results/x/study.flock",
                                            "docs/results/x/tune/m/study.journal.owners/0a1b.lock",
                                            "docs/results/x/table.md.part"};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            snprintf(cmd, sizeof cmd, "git -C '%s' check-ignore -q --no-index '%s'", root, names[i]);
            if (system(cmd) != 0) {
                print_error(".gitignore does not ignore %s\n", names[i]);
                bad_count++;
            }
        }
    } else {
        walk(root, "");
    }
    assert_int_equal(bad_count, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher_catches_temporaries),
        cmocka_unit_test(test_no_temporaries_tracked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_layout.c - the module rules of docs/ARCHITECTURE.md, checked on the
 * sources: MODULES in the Makefile is the dependency order; a module
 * includes its own headers and the public headers of modules before it,
 * never a later module and never another module's private header; cli/ and
 * bench/ may include every public header, and cli/ bench/'s (coinbc bench
 * dispatches to it), never bench/ cli/'s (it parses options with
 * common/args.c). The shared facts of common/common.h (CB_NUM_ACTIONS,
 * CB_FRAME_*) have one name each: no module defines an alias of them. Also
 * a self-test of the checkers on made-up lines, so the test can fail. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/support/refdata.h"

#define MAXMOD 32

typedef struct {
    char name[MAXMOD][32];
    int n;
} order;

/* Public headers: X/X.h of every module, and these. */
static const char *const EXTRA_PUBLIC[] = {"capture/record.h"};

/* -1 if m is not a library module */
static int rank(const order *o, const char *m) {
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->name[i], m)) return i;
    return -1;
}

static int is_public(const char *mod, const char *file) {
    char want[80];
    snprintf(want, sizeof want, "%s.h", mod);
    if (!strcmp(file, want)) return 1;
    char full[160];
    snprintf(full, sizeof full, "%s/%s", mod, file);
    for (size_t i = 0; i < sizeof EXTRA_PUBLIC / sizeof *EXTRA_PUBLIC; i++)
        if (!strcmp(full, EXTRA_PUBLIC[i])) return 1;
    return 0;
}

/* Why `from` (a module, "cli" or "bench") may not include "inc" (X/file.h),
 * or NULL when it may. */
static const char *violation(const order *o, const char *from, const char *inc) {
    char mod[64];
    const char *slash = strchr(inc, '/');
    if (!slash || slash - inc >= (long)sizeof mod) return NULL; /* not a module header */
    memcpy(mod, inc, (size_t)(slash - inc));
    mod[slash - inc] = 0;
    if (!strcmp(mod, from)) return NULL;
    int top = !strcmp(from, "cli") || !strcmp(from, "bench");
    if (!strcmp(mod, "cli") || !strcmp(mod, "bench")) {
        if (!top) return "a library module includes cli/ or bench/";
        return !strcmp(mod, "cli") ? "bench/ includes cli/ (cli/ includes bench/, not the other way)" : NULL;
    }
    int rm = rank(o, mod), rf = rank(o, from);
    if (rm < 0) return NULL; /* tests/, system-like paths */
    if (!is_public(mod, slash + 1)) return "a private header of another module";
    if (!top && rm > rf) return "a module after it in MODULES";
    return NULL;
}

static void read_modules(order *o, const char *root) {
    char path[4200];
    snprintf(path, sizeof path, "%s/Makefile", root);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s: cannot open", path);
    char line[1024];
    o->n = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "MODULES", 7)) {
            char *p = strchr(line, '=');
            assert_non_null(p);
            for (char *t = strtok(p + 1, " \t\n"); t && o->n < MAXMOD; t = strtok(NULL, " \t\n"))
                snprintf(o->name[o->n++], sizeof o->name[0], "%s", t);
            break;
        }
    fclose(f);
    if (o->n < 2) fail_msg("%s: no MODULES line", path);
}

/* the shared fact a line renames (#define NAME CB_NUM_ACTIONS / CB_FRAME_*), or NULL */
static char *alias_of_shared(const char *line) {
    char name[128], value[128];
    if (sscanf(line, " #define %127s %127s", name, value) != 2) return NULL;
    if (!strncmp(name, "CB_", 3)) return NULL; /* the definitions themselves */
    if (!strcmp(value, "CB_NUM_ACTIONS") || !strncmp(value, "CB_FRAME_", 9)) return strdup(value);
    return NULL;
}

static int check_dir(const order *o, const char *root, const char *mod) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, mod);
    DIR *d = opendir(dir);
    if (!d) return 0; /* a module listed before its folder exists */
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 3 || (strcmp(de->d_name + l - 2, ".c") && strcmp(de->d_name + l - 2, ".h"))) continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[512];
        int ln = 0;
        while (fgets(line, sizeof line, f)) {
            ln++;
            char *alias = alias_of_shared(line);
            if (alias) {
                printf("%s/%s:%d defines another name for %s: use %s itself (docs/ARCHITECTURE.md, common/)\n", mod,
                       de->d_name, ln, alias, alias);
                free(alias);
                bad++;
            }
            char inc[256];
            if (sscanf(line, " #include \"%255[^\"]\"", inc) != 1) continue;
            const char *why = violation(o, mod, inc);
            if (why) {
                printf("%s/%s:%d includes %s: %s (docs/ARCHITECTURE.md)\n", mod, de->d_name, ln, inc, why);
                bad++;
            }
        }
        fclose(f);
    }
    closedir(d);
    return bad;
}

static void test_includes_follow_the_order(void **st) {
    (void)st;
    const char *root = test_repo_root();
    if (!root) fail_msg("repository not found above the test program or the working directory");
    order o;
    read_modules(&o, root);
    assert_int_equal(rank(&o, "common"), 0);
    int bad = 0;
    for (int i = 0; i < o.n; i++) bad += check_dir(&o, root, o.name[i]);
    bad += check_dir(&o, root, "cli");
    bad += check_dir(&o, root, "bench");
    assert_int_equal(bad, 0);
}

static void test_checker_catches_violations(void **st) {
    (void)st;
    order o = {{"common", "game", "dataset", "capture", "model"}, 5};
    assert_null(violation(&o, "capture", "dataset/dataset.h"));
    assert_null(violation(&o, "capture", "capture/pngread.h"));
    assert_null(violation(&o, "game", "common/common.h"));
    assert_null(violation(&o, "cli", "game/game.h"));
    assert_null(violation(&o, "cli", "capture/record.h"));
    assert_non_null(violation(&o, "dataset", "capture/capture.h")); /* later module */
    assert_non_null(violation(&o, "cli", "game/names.h"));          /* private header */
    assert_non_null(violation(&o, "capture", "game/internal.h"));
    assert_non_null(violation(&o, "model", "cli/cli.h"));
    assert_null(violation(&o, "cli", "bench/bench.h"));
    assert_non_null(violation(&o, "bench", "cli/cli.h")); /* the cycle bench -> cli */
    assert_non_null(violation(&o, "bench", "cli/policy.h"));
    char *a = alias_of_shared("#define MODEL_NA CB_NUM_ACTIONS\n");
    assert_non_null(a);
    free(a);
    a = alias_of_shared("  #define DS_W CB_FRAME_W /* the width */\n");
    assert_non_null(a);
    free(a);
    assert_null(alias_of_shared("#define CB_FRAME_BYTES (CB_FRAME_W * CB_FRAME_H * CB_FRAME_C)\n"));
    assert_null(alias_of_shared("#define GAME_TIMEOUT 1000\n"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_catches_violations),
        cmocka_unit_test(test_includes_follow_the_order),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}

/* fuzz_tune.c - libFuzzer target: arbitrary bytes through the tune records'
 * readers (run/tune.c). The first byte picks the reader: the driver's result
 * JSON (in memory), or, through a scratch file, trials.csv, a space file, a
 * tune.json spec or best.json. An accepted trials.csv or result must survive
 * a write and a second read with the same rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/run.h"

static void scratch(char *path, size_t n, const uint8_t *data, size_t size) {
    snprintf(path, n, "/tmp/fuzz_tune_%ld", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

static void round_trip(const run_tune_result *r, const char *path) {
    cb_err e = {0};
    run_tune_result back;
    if (run_tune_trials_write(path, r, &e) || run_tune_trials_read(&back, path, &e)) abort();
    if (back.ntrials != r->ntrials || back.nparams != r->nparams) abort();
    run_tune_result_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    int which = data[0] % 5;
    data++, size--;
    char path[64];
    cb_err e = {0};
    run_tune_result r;
    if (which == 0) {
        if (run_tune_result_parse(&r, (const char *)data, size, &e) == 0) {
            snprintf(path, sizeof path, "/tmp/fuzz_tune_rt_%ld", (long)getpid());
            int ok = 1;
            for (int i = 0; i < r.ntrials && ok; i++) /* a run path with a comma or newline cannot go to CSV */
                ok = !strpbrk(r.trials[i].run, ",\n") && r.trials[i].run[0];
            for (int i = 0; i < r.ntrials && ok; i++)
                for (int k = 0; k < r.nparams && ok; k++)
                    ok = !r.trials[i].opt[k].is_str || !strpbrk(r.trials[i].opt[k].str, ",\n");
            if (ok) round_trip(&r, path);
            unlink(path);
            run_tune_result_free(&r);
        }
        return 0;
    }
    scratch(path, sizeof path, data, size);
    if (which == 1) {
        if (run_tune_trials_read(&r, path, &e) == 0) run_tune_result_free(&r);
    } else if (which == 2) {
        run_tune_space s;
        run_tune_space_read(&s, path, "and", &e);
    } else if (which == 3) {
        run_tune_spec *s = malloc(sizeof *s);
        if (!s) abort();
        run_tune_spec_read(s, path, &e);
        free(s);
    } else {
        char *args = NULL;
        if (run_tune_best_args(&args, path, &e) == 0) free(args);
    }
    unlink(path);
    return 0;
}

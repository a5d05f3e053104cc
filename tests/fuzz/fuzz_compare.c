/* fuzz_compare.c - libFuzzer target: arbitrary bytes through the comparison's
 * readers (run/compare.c). The first byte picks the reader: a spec (in
 * memory), or DIR/compare.json through a scratch folder. An accepted state
 * must survive a write and a second read with the same spec and CRCs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    int which = data[0] % 2;
    data++, size--;
    cb_err e = {0};
    if (which == 0) {
        run_compare_spec *s = malloc(sizeof *s);
        if (!s) abort();
        if (run_compare_spec_decode(s, (const char *)data, size, "spec.json", &e) == 0) {
            if (!s->canonical || s->nmethods < 1 || s->nseeds < 1) abort();
            run_compare_spec_free(s);
        }
        free(s);
        return 0;
    }
    char dir[64], path[96];
    snprintf(dir, sizeof dir, "/tmp/fuzz_compare_%ld", (long)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/compare.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    run_compare_state st, back;
    if (run_compare_state_read(&st, dir, &e) == 0) {
        if (run_compare_state_write(dir, &st, &e) || run_compare_state_read(&back, dir, &e)) abort();
        if (strcmp(st.spec, back.spec) || memcmp(st.has_crc, back.has_crc, sizeof st.has_crc)) abort();
        for (int k = 0; k < RUN_COMPARE_NDATA; k++)
            if (st.has_crc[k] && st.crc[k] != back.crc[k]) abort();
        run_compare_state_free(&back);
        run_compare_state_free(&st);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

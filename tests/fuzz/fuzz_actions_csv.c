/* fuzz_actions_csv.c - libFuzzer target: arbitrary bytes as a PNG
 * recording's actions.csv (capture/csv.c). An accepted file must hold no NUL
 * byte, and must mean exactly what its canonical form (the eight columns
 * coinbc record writes, rewards with %.9g) means: that form is written from
 * the parsed columns, parsed again and compared column by column. Replayed
 * over tests/fuzz/corpus/actions_csv/ by tests/test_fuzz_replay.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/csv.h"

static void actions_csv_differ(const void *a, const void *b, size_t n) {
    if (memcmp(a, b, n) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    capture_csv c, d;
    cb_err e = {0};
    if (capture_csv_parse((const char *)data, size, "fuzz/actions.csv", &c, &e) != 0) return 0;
    if (memchr(data, 0, size)) abort(); /* "7<NUL>junk" must never read as 7 */
    size_t cap = 80 + (size_t)c.n * 96, k = 0;
    char *t = malloc(cap);
    if (!t) abort();
    k += (size_t)snprintf(t, cap, "step,action,reward,done,label,executed,episode,episode_step\n");
    for (int64_t i = 0; i < c.n; i++) {
        if (c.label[i] > 14 || c.action[i] > 14 || c.done[i] > 1 || c.episode[i] < 0 || c.step[i] < 0) abort();
        k += (size_t)snprintf(t + k, cap - k, "%lld,%d,%.9g,%d,%d,%d,%d,%d\n", (long long)i, c.label[i],
                              (double)c.reward[i], c.done[i], c.label[i], c.action[i], c.episode[i], c.step[i]);
    }
    if (capture_csv_parse(t, k, "fuzz/canonical.csv", &d, &e) != 0 || d.n != c.n) abort();
    size_t m = (size_t)c.n;
    actions_csv_differ(c.label, d.label, m);
    actions_csv_differ(c.action, d.action, m);
    actions_csv_differ(c.done, d.done, m);
    actions_csv_differ(c.reward, d.reward, m * sizeof(float));
    actions_csv_differ(c.episode, d.episode, m * sizeof(int32_t));
    actions_csv_differ(c.step, d.step, m * sizeof(int32_t));
    free(t);
    capture_csv_free(&c);
    capture_csv_free(&d);
    return 0;
}

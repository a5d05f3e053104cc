/* fuzz_run.c - libFuzzer target for run/'s strict readers: the first byte
 * picks config.json, metrics.csv, metrics.jsonl, eval.json, rollout.json or
 * agreement.json (byte % 6), the rest is the file. Whatever decodes must encode, and decode again to
 * the same record (the round trip of one writer and one reader). Also
 * replayed over tests/fuzz/corpus/run/ by tests/test_run.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"

static void same_or_die(const void *a, const void *b, size_t n) {
    if (memcmp(a, b, n) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    cb_err e = {0};
    run_text t = {0};
    switch (data[0] % 6) {
    case 0: {
        static run_config a, b;
        if (run_config_decode(&a, text, n, "fuzz", &e) == 0) {
            if (run_config_encode(&t, &a, &e) || run_config_decode(&b, t.s, t.len, "again", &e)) abort();
            a.version = b.version; /* an unversioned file is written back as the current version */
            memcpy(a.coinbc_version, b.coinbc_version, sizeof a.coinbc_version);
            same_or_die(&a, &b, sizeof a);
        }
        break;
    }
    case 1:
    case 2: {
        run_metrics m, m2;
        int rc = data[0] % 6 == 1 ? run_metrics_decode_csv(&m, text, n, "fuzz", &e)
                                  : run_metrics_decode_jsonl(&m, text, n, "fuzz", &e);
        if (rc == 0) {
            for (int i = 0; i < m.nrows; i++)
                if (run_metrics_jsonl_row(&t, &m.rows[i], &e)) abort();
            if (run_metrics_decode_jsonl(&m2, t.s ? t.s : "", t.len, "again", &e) || m2.nrows != m.nrows) abort();
            for (int i = 0; i < m.nrows; i++) same_or_die(&m.rows[i], &m2.rows[i], sizeof m.rows[i]);
            run_metrics_free(&m2);
            run_metrics_free(&m);
        }
        break;
    }
    case 3: {
        static run_eval a, b;
        if (run_eval_decode(&a, text, n, "fuzz", &e) == 0) {
            if (run_eval_encode(&t, &a, &e) || run_eval_decode(&b, t.s, t.len, "again", &e)) abort();
            a.version = b.version;
            same_or_die(&a, &b, sizeof a);
        }
        break;
    }
    case 5: {
        static run_agreement a, b;
        if (run_agreement_decode(&a, text, n, "fuzz", &e) == 0) {
            if (run_agreement_encode(&t, &a, &e) || run_agreement_decode(&b, t.s, t.len, "again", &e)) abort();
            if (a.levels != b.levels || a.nlayers != b.nlayers || a.nsnaps != b.nsnaps) abort();
            same_or_die(a.layer, b.layer, sizeof a.layer);
            for (int i = 0; i < a.nsnaps; i++) same_or_die(&a.snaps[i], &b.snaps[i], sizeof a.snaps[i]);
            run_agreement_free(&a);
            run_agreement_free(&b);
        }
        break;
    }
    default: {
        static run_rollout a, b;
        if (run_rollout_decode(&a, text, n, "fuzz", &e) == 0) {
            if (run_rollout_encode(&t, &a, &e) || run_rollout_decode(&b, t.s, t.len, "again", &e)) abort();
            a.version = b.version;
            same_or_die(&a, &b, sizeof a);
        }
        break;
    }
    }
    run_text_free(&t);
    return 0;
}

/* rolloutrec.c - rollout.json of a run folder: closed-loop success of the
 * policy next to the expert's and a random policy's on the same levels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/jsonio.h"

#define FORMAT "coinbc-rollout"

int run_rollout_encode(run_text *out, const run_rollout *v, cb_err *e) {
    char levels[32];
    snprintf(levels, sizeof levels, "%d-%d", v->level_lo, v->level_hi);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                          "format", FORMAT, "version", RUN_VERSION, "checkpoint", v->checkpoint, "levels", levels, "mode",
                          v->hard ? "hard" : "easy", "episodes_per_level", v->episodes_per_level, "actions",
                          v->sample ? "sample" : "greedy", "episodes", v->episodes, "success", rj_real(v->success),
                          "success_lo", rj_real(v->success_lo), "success_hi", rj_real(v->success_hi), "death_rate",
                          rj_real(v->death_rate), "timeout_rate", rj_real(v->timeout_rate), "mean_steps_to_coin",
                          rj_real(v->mean_steps_to_coin), "expert_success", rj_real(v->expert_success),
                          "expert_mean_steps_to_coin", rj_real(v->expert_mean_steps_to_coin), "random_success",
                          rj_real(v->random_success), "random_success_lo", rj_real(v->random_success_lo),
                          "random_success_hi", rj_real(v->random_success_hi));
    return rj_dump(out, o, 2, "rollout.json", e);
}

static const char *const KEYS[] = {"checkpoint", "levels", "mode", "episodes_per_level", "actions", "episodes", "success",
                                   "success_lo", "success_hi", "death_rate", "timeout_rate", "mean_steps_to_coin",
                                   "expert_success", "expert_mean_steps_to_coin", "random_success", "random_success_lo",
                                   "random_success_hi", NULL};

static int decode(void *p, json_t *o, const char *name, cb_err *e) {
    run_rollout *v = p;
    char s[64];
    int64_t k;
    int rc;
    if ((rc = rj_header(o, name, FORMAT, &v->version, e)) || (rc = rj_only(o, name, KEYS, e)) ||
        (rc = rj_str(o, name, "checkpoint", v->checkpoint, sizeof v->checkpoint, e)) ||
        (rc = rj_str(o, name, "levels", s, sizeof s, e)))
        return rc;
    if (cb_parse_range(s, &v->level_lo, &v->level_hi))
        return cb_fail(e, CB_EFORMAT, "%s: key \"levels\" is \"%s\", not a range A-B of level seeds", name, s);
    if ((rc = rj_str(o, name, "mode", s, sizeof s, e))) return rc;
    if (strcmp(s, "easy") && strcmp(s, "hard"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"mode\" is \"%s\", not easy or hard", name, s);
    v->hard = !strcmp(s, "hard");
    if ((rc = rj_int(o, name, "episodes_per_level", 1, INT32_MAX, &k, e))) return rc;
    v->episodes_per_level = (int)k;
    if ((rc = rj_str(o, name, "actions", s, sizeof s, e))) return rc;
    if (strcmp(s, "greedy") && strcmp(s, "sample"))
        return cb_fail(e, CB_EFORMAT, "%s: key \"actions\" is \"%s\", not greedy or sample", name, s);
    v->sample = !strcmp(s, "sample");
    if ((rc = rj_int(o, name, "episodes", 0, INT32_MAX, &k, e))) return rc;
    v->episodes = (int)k;
    static const char *const nums[] = {"success", "success_lo", "success_hi", "death_rate", "timeout_rate",
                                       "mean_steps_to_coin", "expert_success", "expert_mean_steps_to_coin",
                                       "random_success", "random_success_lo", "random_success_hi"};
    double *dst[] = {&v->success, &v->success_lo, &v->success_hi, &v->death_rate, &v->timeout_rate,
                     &v->mean_steps_to_coin, &v->expert_success, &v->expert_mean_steps_to_coin, &v->random_success,
                     &v->random_success_lo, &v->random_success_hi};
    for (int i = 0; i < 11; i++)
        if ((rc = rj_num(o, name, nums[i], 1, dst[i], e))) return rc;
    return 0;
}

int run_rollout_decode(run_rollout *v, const char *text, size_t n, const char *name, cb_err *e) {
    return rj_decode(v, sizeof *v, decode, text, n, name, e);
}

int run_rollout_write(const char *dir, const run_rollout *v, cb_err *e) {
    run_text t = {0};
    return rj_write(dir, "rollout.json", &t, run_rollout_encode(&t, v, e), e);
}

int run_rollout_read(run_rollout *v, const char *dir, cb_err *e) {
    return rj_read_record(v, sizeof *v, decode, dir, "rollout.json", RUN_RECORD_MAX_BYTES, e);
}

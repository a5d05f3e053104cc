/* bench_game.c - engine speed: single-thread steps per second on random
 * actions over the full level distribution (a new random level at every
 * episode end, generation included), with and without rendering, and levels
 * generated per second. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "game/game.h"

typedef struct {
    double steps_per_s;
    int64_t steps, episodes;
} run_result;

/* Plays random actions (held 1..4 steps, so episodes last like real play)
 * on random levels of `mode` for `steps` steps. */
static run_result run(int mode, int64_t steps, int render, uint64_t seed) {
    static game_env env;
    static uint8_t rgb[CB_FRAME_BYTES];
    cb_rng r;
    cb_rng_seed(&r, seed);
    cb_err e = {0};
    game_env_init(&env, (int32_t)(cb_rng_u32(&r) & 0x7fffffff), mode, &e);
    int a = 0, hold = 0;
    int64_t episodes = 0;
    volatile uint32_t sink = 0;
    double t0 = cb_now();
    for (int64_t i = 0; i < steps; i++) {
        if (hold == 0) {
            a = (int)cb_rng_below(&r, CB_NUM_ACTIONS);
            hold = 1 + (int)cb_rng_below(&r, 4);
        }
        hold--;
        game_step_out o;
        game_step(&env.level, &env.state, a, &o);
        if (o.done) {
            episodes++;
            game_env_init(&env, (int32_t)(cb_rng_u32(&r) & 0x7fffffff), mode, &e);
        } else if (render) {
            game_trails_update(&env.trails, &env.level, &env.state);
        }
        if (render) {
            game_env_render(&env, rgb);
            sink += rgb[(i * 97) % CB_FRAME_BYTES];
        }
    }
    double dt = cb_now() - t0;
    (void)sink;
    return (run_result){(double)steps / dt, steps, episodes};
}

int bench_game(int argc, char **argv) {
    int64_t steps = 2000000;
    cb_opt opts[] = {
        {"steps", CB_OPT_I64, &steps, "N", "steps per measurement (default 2000000; rendering uses N/4)", 0},
    };
    cb_cmd_info info = {"bench game", "Engine speed: steps/s with and without rendering, levels/s.",
                         "coinbc bench game [--steps N]", NULL};
    int rc = bench_parse(argc, argv, &info, opts, CB_ARGS_COUNT(opts));
    if (rc) return rc > 0 ? 0 : 2;
    if (steps < 1000) return bench_error("bench game", "--steps must be at least 1000");
    bench_print_machine();
    printf("single thread, random actions (uniform over 15, held 1..4 steps), a new random level per episode\n");
    for (int mode = 0; mode < 2; mode++) {
        run_result nr = run(mode, steps, 0, 1);
        run_result wr = run(mode, steps / 4, 1, 1);
        printf("%s: %.0f steps/s without rendering (%lld episodes), %.0f steps/s with rendering\n",
               game_mode_name(mode), nr.steps_per_s, (long long)nr.episodes, wr.steps_per_s);
    }
    static game_level L;
    cb_err e = {0};
    for (int mode = 0; mode < 2; mode++) {
        int n = 20000;
        double t0 = cb_now();
        for (int i = 0; i < n; i++) game_level_generate(&L, NULL, i, mode, &e);
        double dt = cb_now() - t0;
        printf("%s: %.0f levels generated/s\n", game_mode_name(mode), n / dt);
    }
    return 0;
}

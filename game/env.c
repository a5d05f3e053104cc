/* env.c - a level, its running state and trails, with procgen's auto-reset
 * (num_levels=1: every episode replays the same level). */
#include "game/game.h"

int game_env_init(game_env *env, int32_t seed, int mode, cb_err *e) {
    int rc = game_level_generate(&env->level, &env->start, seed, mode, e);
    if (rc) return rc;
    env->state = env->start;
    env->episode = 0;
    game_trails_reset(&env->trails);
    return 0;
}

void game_env_step(game_env *env, int action, game_step_out *out) {
    game_step_out o;
    game_step(&env->level, &env->state, action, &o);
    if (o.done) {
        env->state = env->start;
        env->episode++;
        game_trails_reset(&env->trails);
    } else {
        game_trails_update(&env->trails, &env->level, &env->state);
    }
    if (out) *out = o;
}

void game_env_render(const game_env *env, uint8_t *rgb) {
    game_render(rgb, &env->level, &env->state, &env->trails);
}

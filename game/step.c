/* step.c - one step of CoinRun's game logic, as procgen 0.10.7 computes it
 * (docs/SPEC.md 4): support, velocity, sub-stepped movement with walls, enemy
 * reflection and one-way crates, hazards, the coin and the timeout.
 * Every expression is f32 unless docs/SPEC.md 4.12 says f64; the build uses
 * -ffp-contract=off and the single fused vx update is an explicit fmaf. */
#include <assert.h>
#include <string.h>

#include "game/internal.h"

typedef struct {
    const game_level *L;
    game_state *s;
    float ay; /* agent's vertical input after the support rule */
} step_ctx;

typedef struct {
    game_body *b;
    float rx, ry;
    int agent;
} mover;

static int blocks(const mover *m, int t) { return m->agent ? game_is_wall(t) : t == GAME_WALL_MID; }

static int reflects(const mover *m, int t) {
    return !m->agent && (t == GAME_WALL_MID || t == GAME_WALL_TOP || t == GAME_ENEMY_BARRIER);
}

static float sgnf(float v) { return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f); }

/* SPEC 4.7.2: evaluated for a crate during a vertical sub-move; reads the agent. */
static int crate_rule(step_ctx *c, const game_static *M) {
    game_state *s = c->s;
    if (s->agent.vy >= 0) return 0;
    if (c->ay < 0) return 0;
    if (s->last_agent_y < (M->y + 0.5f) + GAME_ARY) return 0;
    s->is_on_crate = 1;
    return 1;
}

static int submove(step_ctx *c, mover *m, float dx, float dy, int depth) {
    const game_level *L = c->L;
    game_body *b = m->b;
    int vertical = dx == 0;
    float nx = b->x + dx, ny = b->y + dy;
    float hx = m->rx * GAME_MARGIN, hy = m->ry * GAME_MARGIN;
    int cells[4] = {
        game_cell_at(L, nx - hx, ny - hy),
        game_cell_at(L, nx + hx, ny - hy),
        game_cell_at(L, nx - hx, ny + hy),
        game_cell_at(L, nx + hx, ny + hy),
    };
    int blk = 0, refl = 0;
    for (int i = 0; i < 4; i++) {
        blk |= blocks(m, cells[i]);
        refl |= reflects(m, cells[i]);
    }
    if (refl) {
        if (!vertical) {
            float t = dx < 0 ? ceilf(nx - m->rx) - (nx - m->rx) : floorf(nx + m->rx) - (nx + m->rx);
            b->vx = -b->vx;
            nx = nx + 2 * t;
        } else {
            float t = dy < 0 ? ceilf(ny - m->ry) - (ny - m->ry) : floorf(ny + m->ry) - (ny + m->ry);
            b->vy = -b->vy;
            ny = ny + 2 * t;
        }
    } else if (blk) {
        if (!vertical)
            nx = dx > 0 ? floorf(nx + m->rx) - m->rx : ceilf(nx - m->rx) + m->rx;
        else
            ny = dy > 0 ? floorf(ny + m->ry) - m->ry : ceilf(ny - m->ry) + m->ry;
    }
    b->x = nx;
    b->y = ny;
    int hit = 0;
    if (vertical) {
        for (int k = 0; k < L->ncrates; k++) {
            const game_static *M = &L->statics[L->crate_rev[k]];
            if (!(fabsf(b->x - M->x) < (m->rx + 0.5f) + GAME_EPS && fabsf(b->y - M->y) < (m->ry + 0.5f) + GAME_EPS))
                continue;
            if (!crate_rule(c, M)) continue;
            hit = 1;
            float rsum = 0.5f + m->ry;
            float t = (float)(((double)M->y + (double)sgnf(b->y - M->y) * (double)rsum) - (double)b->y);
            if (depth < 5) submove(c, m, 0, t, depth + 1);
            b->vy = 0.0f;
        }
    }
    return blk || hit;
}

static void move(step_ctx *c, mover *m, int parity) {
    game_body *b = m->b;
    int n = (int)(4 * sqrtf(b->vx * b->vx + b->vy * b->vy));
    if (n < 4) n = 4;
    float pct = (float)(1.0 / n);
    float d = fabsf(b->vx) - fabsf(b->vy);
    int xfirst = d > 0 ? 1 : (d < 0 ? 0 : !parity);
    if (m->agent) {
        if (c->s->ax != 0) xfirst = 1;
        if (c->ay != 0) xfirst = 0;
    }
    float ux = 0, uy = 0;
    for (int i = 0; i < n; i++) {
        int bx, by;
        if (xfirst) {
            bx = submove(c, m, b->vx * pct, 0, 0);
            by = submove(c, m, 0, b->vy * pct, 0);
        } else {
            by = submove(c, m, 0, b->vy * pct, 0);
            bx = submove(c, m, b->vx * pct, 0, 0);
        }
        if (!bx) ux += 1;
        if (!by) uy += 1;
        if (bx && by) break;
    }
    b->vx = b->vx * (ux / (float)n);
    b->vy = b->vy * (uy / (float)n);
}

static int overlap_agent(const game_body *a, float ex, float ey, float erx, float ery) {
    return fabsf(ex - a->x) < (erx + GAME_ARX) + 0.0f && fabsf(ey - a->y) < (ery + GAME_ARY) + 0.0f;
}

static int out_of_bounds(float x, float y, float rx, float ry) {
    return x + rx < 0 || y + ry < 0 || x - rx > 64 || y - ry > 64;
}

/* SPEC 4.3: the support test, from the state the previous step left. */
static int agent_support(const game_level *L, const game_state *s) {
    const game_body *a = &s->agent;
    float pL = (float)((double)a->x - ((double)GAME_ARX - 0.01));
    float pR = (float)((double)a->x + ((double)GAME_ARX - 0.01));
    float pY = (float)((double)a->y - ((double)GAME_ARY + 0.01));
    return (s->is_on_crate || game_is_wall(game_cell_at(L, pL, pY)) || game_is_wall(game_cell_at(L, pR, pY))) &&
           a->vy == 0;
}

/* SPEC 4.4: the agent's velocity from its input and support. */
static void agent_velocity(game_body *a, int support, int ax, int ay) {
    float k = support ? GAME_MIX : GAME_MIX * GAME_AIR;
    float cmix = (k * GAME_MAX_SPEED) * (float)ax;
    a->vx = fmaf(1 - k, a->vx, cmix);
    if (fabsf(a->vx) < k * GAME_MAX_SPEED) a->vx = 0.0f;
    if (ay > 0) {
        a->vy = GAME_MAX_JUMP;
    } else {
        if (support) a->vy = (float)((double)a->vy + 0.2 * (double)ay);
        a->vy = a->vy - GAME_GRAVITY;
        if (a->vy > GAME_MAX_JUMP) a->vy = GAME_MAX_JUMP;
        if (a->vy < -GAME_MAX_JUMP) a->vy = -GAME_MAX_JUMP;
    }
}

/* SPEC 4.6: movement: enemies in reverse list order, then the agent (element 0). */
static void move_all(const game_level *L, game_state *s, int ay, int parity) {
    step_ctx c = {.L = L, .s = s, .ay = (float)ay};
    for (int e = L->nenemies - 1; e >= 0; e--) {
        mover me = {.b = &s->enemy[e], .rx = 0.5f, .ry = 0.5f, .agent = 0};
        move(&c, &me, parity);
    }
    mover ma = {.b = &s->agent, .rx = GAME_ARX, .ry = GAME_ARY, .agent = 1};
    move(&c, &ma, parity);
}

/* SPEC 4.9: saws and enemies kill on overlap. */
static int touches_killer(const game_level *L, const game_state *s) {
    const game_body *a = &s->agent;
    int death = 0;
    for (int i = 0; i < L->nstatics; i++) {
        const game_static *M = &L->statics[i];
        if (M->type == GAME_ENT_SAW && overlap_agent(a, M->x, M->y, 0.5f, 0.5f)) death = 1;
    }
    for (int e = 0; e < L->nenemies; e++)
        if (overlap_agent(a, s->enemy[e].x, s->enemy[e].y, 0.5f, 0.5f)) death = 1;
    return death;
}

/* SPEC 4.9: the cells the agent touches: lava kills (returns 1), each coin
 * cell adds 10 to *reward and sets *complete. */
static int touch_cells(const game_level *L, const game_body *a, float *reward, int *complete) {
    int death = 0;
    float hx = GAME_ARX + GAME_EPS, hy = GAME_ARY + GAME_EPS;
    int x0 = (int)(a->x - hx), x1 = (int)(a->x + hx);
    int y0 = (int)(a->y - hy), y1 = (int)(a->y + hy);
    for (int i = x0; i <= x1; i++)
        for (int j = y0; j <= y1; j++) {
            int t = game_cell(L, i, j);
            if (t == GAME_GOAL) {
                *reward += 10;
                *complete = 1;
            } else if (game_is_lava(t)) {
                death = 1;
            }
        }
    return death;
}

/* SPEC 4.10 and 4.11: mirror, last y, timeout and the step's outcome. */
static void end_step(game_state *s, int ax, int death, int complete, float reward, game_step_out *out) {
    int done = death || complete;
    if (ax > 0) s->mirror = 0;
    if (ax < 0) s->mirror = 1;
    s->last_agent_y = s->agent.y;
    int timeout = s->time >= GAME_TIMEOUT;
    if (timeout) done = 1;

    int outcome = GAME_RUNNING;
    if (done) outcome = complete ? GAME_COIN : (death ? GAME_DEATH : GAME_TIMEOUT_END);
    s->outcome = (uint8_t)outcome;
    if (out) {
        out->reward = reward;
        out->done = done;
        out->complete = complete;
        out->outcome = outcome;
    }
}

void game_step(const game_level *L, game_state *s, int action, game_step_out *out) {
    assert(action >= 0 && action < CB_NUM_ACTIONS);
    int t0 = s->time;
    s->time += 1;
    int complete = 0, death = 0;
    float reward = 0;
    int parity = t0 < GAME_TIMEOUT ? (L->step_parity[t0 >> 3] >> (t0 & 7)) & 1 : 0;

    int m = action <= 8 ? action : 4;
    int ax = m / 3 - 1, ay = m % 3 - 1;

    int support = agent_support(L, s);
    s->is_on_crate = 0;
    if (ay == 1 && !support) ay = 0;
    s->ax = (int8_t)ax;
    s->ay = (int8_t)ay;
    s->has_support = (uint8_t)support;

    agent_velocity(&s->agent, support, ax, ay);
    move_all(L, s, ay, parity);

    /* contacts: saws and enemies kill on overlap; lava kills; the coin pays */
    if (touches_killer(L, s)) death = 1;
    if (touch_cells(L, &s->agent, &reward, &complete)) death = 1;
    if (out_of_bounds(s->agent.x, s->agent.y, GAME_ARX, GAME_ARY)) death = 1;
    end_step(s, ax, death, complete, reward, out);
}

uint64_t game_state_hash(const game_level *L, const game_state *s) {
    /* FNV-1a over the fields that define the state (enemies beyond
     * L->nenemies and padding are excluded). */
    uint64_t h = 1469598103934665603ull;
#define MIX_BYTES(p, n)                                      \
    do {                                                     \
        const uint8_t *q_ = (const uint8_t *)(p);            \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++) {        \
            h ^= q_[i_];                                     \
            h *= 1099511628211ull;                           \
        }                                                    \
    } while (0)
    MIX_BYTES(&s->agent, sizeof s->agent);
    MIX_BYTES(s->enemy, sizeof s->enemy[0] * (size_t)L->nenemies);
    MIX_BYTES(&s->last_agent_y, sizeof s->last_agent_y);
    MIX_BYTES(&s->time, sizeof s->time);
    uint8_t flags[6] = {(uint8_t)s->ax, (uint8_t)s->ay, s->has_support, s->is_on_crate, s->mirror, s->outcome};
    MIX_BYTES(flags, sizeof flags);
#undef MIX_BYTES
    return h;
}

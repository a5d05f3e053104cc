/* expert.c - the expert planner: weighted A* over copies of the
 * deterministic game state, with macro-actions (one action held for a few
 * steps), states deduplicated by a quantized key, and a heuristic of
 * "steps still needed at top speed" to the coin cell. It plans the whole
 * way to the coin, keeps the plan, and replans only when the state it is
 * asked about is not the one the plan expected. Algorithm, budgets and the
 * canonical-label rules: docs/EXPERT.md. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "game/internal.h"

const uint8_t GAME_EXPERT_ORDER[9] = {4, 7, 1, 5, 3, 8, 2, 6, 0};

#define EX_DEFAULT_STEPS 1500000
#define EX_DEFAULT_NODES 250000
#ifndef EX_WEIGHT
#define EX_WEIGHT 2.0f /* f = g + EX_WEIGHT * h */
#endif
#ifndef EX_QX
#define EX_QX 4.0f /* dedup key: agent x and y in 1/EX_QX cells */
#endif
#ifndef EX_QVX
#define EX_QVX 20.0f /* vx in 1/EX_QVX */
#endif
#ifndef EX_QVY
#define EX_QVY 10.0f /* vy in 1/EX_QVY */
#endif
#ifndef EX_QE
#define EX_QE 4.0f /* enemy x and y in 1/EX_QE cells */
#endif
#define EX_ENEMY_WINDOW 10.0f /* enemies this close (in x and y) are part of the dedup key */

/* Macro-actions: every action is held for up to the last hold length, and a
 * child node is made after each hold length listed (ascending). */
#ifndef EX_HOLDS_INIT
#define EX_HOLDS_INIT {1, 3}
#endif
static const int EX_HOLDS[] = EX_HOLDS_INIT;
#define EX_NHOLDS ((int)(sizeof EX_HOLDS / sizeof EX_HOLDS[0]))

/* ---- state copies and comparisons ---------------------------------------- */
/* A node's state is stored as this header then the level's nenemies bodies;
 * unused enemy slots are not stored. */
typedef struct {
    game_body agent;
    float last_agent_y;
    int32_t time;
    int8_t ax, ay;
    uint8_t has_support, is_on_crate, mirror, outcome, pad[2];
} ex_head;

static void pack(uint8_t *buf, const game_state *s, int n) {
    ex_head h;
    memset(&h, 0, sizeof h);
    h.agent = s->agent;
    h.last_agent_y = s->last_agent_y;
    h.time = s->time;
    h.ax = s->ax;
    h.ay = s->ay;
    h.has_support = s->has_support;
    h.is_on_crate = s->is_on_crate;
    h.mirror = s->mirror;
    h.outcome = s->outcome;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, s->enemy, sizeof(game_body) * (size_t)n);
}

static void unpack(game_state *s, const uint8_t *buf, int n) {
    ex_head h;
    memcpy(&h, buf, sizeof h);
    s->agent = h.agent;
    s->last_agent_y = h.last_agent_y;
    s->time = h.time;
    s->ax = h.ax;
    s->ay = h.ay;
    s->has_support = h.has_support;
    s->is_on_crate = h.is_on_crate;
    s->mirror = h.mirror;
    s->outcome = h.outcome;
    memcpy(s->enemy, buf + sizeof h, sizeof(game_body) * (size_t)n);
}

/* *d = *s for the fields a level with n enemies uses (a game_state is ~800
 * bytes; most levels use few enemy slots). */
static void copy_state(game_state *d, const game_state *s, int n) {
    d->agent = s->agent;
    memcpy(d->enemy, s->enemy, sizeof(game_body) * (size_t)n);
    memcpy(&d->last_agent_y, &s->last_agent_y, sizeof *s - offsetof(game_state, last_agent_y));
}

static int same_body(const game_body *a, const game_body *b) {
    return a->x == b->x && a->y == b->y && a->vx == b->vx && a->vy == b->vy;
}

/* "Does the same thing": equal in every field but the stored ay, which
 * nothing reads (game_step recomputes it before use, rendering ignores it).
 * Floats compare by value, so -0 equals +0 (no rule of the game tells them
 * apart; only the printed traces do). */
static int same_effect(const game_level *L, const game_state *a, const game_state *b) {
    if (!same_body(&a->agent, &b->agent) || a->last_agent_y != b->last_agent_y || a->time != b->time ||
        a->ax != b->ax || a->has_support != b->has_support || a->is_on_crate != b->is_on_crate ||
        a->mirror != b->mirror || a->outcome != b->outcome)
        return 0;
    for (int i = 0; i < L->nenemies; i++)
        if (!same_body(&a->enemy[i], &b->enemy[i])) return 0;
    return 1;
}

/* The hash a plan is checked against: FNV-1a over the fields same_effect
 * compares, with -0 turned into +0, so that an executed action that does
 * the same as the planned one (e.g. DOWN in the air instead of NOOP) does
 * not cause a replan. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *q = p;
    for (size_t i = 0; i < n; i++) {
        h ^= q[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_body(uint64_t h, const game_body *b) {
    float v[4] = {b->x + 0.0f, b->y + 0.0f, b->vx + 0.0f, b->vy + 0.0f};
    return fnv(h, v, sizeof v);
}

static uint64_t plan_hash(const game_level *L, const game_state *s) {
    uint64_t h = 1469598103934665603ull;
    h = hash_body(h, &s->agent);
    for (int i = 0; i < L->nenemies; i++) h = hash_body(h, &s->enemy[i]);
    float ly = s->last_agent_y + 0.0f;
    h = fnv(h, &ly, sizeof ly);
    h = fnv(h, &s->time, sizeof s->time);
    uint8_t f[5] = {(uint8_t)s->ax, s->has_support, s->is_on_crate, s->mirror, s->outcome};
    return fnv(h, f, sizeof f);
}

int game_expert_canonical(const game_level *L, const game_state *s, int action) {
    game_state ref, t;
    copy_state(&ref, s, L->nenemies);
    game_step(L, &ref, action, NULL);
    for (int i = 0; i < 9; i++) {
        int b = GAME_EXPERT_ORDER[i];
        if (b == action) return b;
        copy_state(&t, s, L->nenemies);
        game_step(L, &t, b, NULL);
        if (same_effect(L, &t, &ref)) return b;
    }
    return action; /* not reached: 9..14 match NOOP, 0..8 are all in the order */
}

/* ---- search workspace ------------------------------------------------------ */
typedef struct {
    int32_t parent;
    uint8_t action, steps; /* the macro-action taken from the parent */
    int32_t g;             /* steps from the root */
    float h;               /* heuristic steps to the coin */
    uint64_t key;
} ex_node;

typedef struct {
    float f, h;
    int32_t id;
} ex_heap_item;

typedef struct {
    uint64_t key;
    int32_t g;
    uint32_t stamp; /* the slot is live iff stamp == ws->stamp */
} ex_slot;

struct game_expert_ws {
    int max_nodes;
    ex_node *nodes;
    ex_heap_item *heap;
    int heap_n;
    ex_slot *table;
    uint32_t table_mask, stamp;
    uint8_t *arena; /* node states, `stride` bytes each, grown on demand up to max_nodes */
    size_t arena_cap, stride;
};

int game_expert_init(game_expert *ex, const game_expert_opts *opts, cb_err *e) {
    memset(ex, 0, sizeof *ex);
    if (opts) ex->opts = *opts;
    if (ex->opts.max_steps <= 0) ex->opts.max_steps = EX_DEFAULT_STEPS;
    if (ex->opts.max_nodes <= 0) ex->opts.max_nodes = EX_DEFAULT_NODES;
    if (ex->opts.max_nodes < 64 || ex->opts.max_nodes > (1 << 26))
        return cb_fail(e, CB_EARG, "expert: max_nodes %d is outside 64..%d", ex->opts.max_nodes, 1 << 26);
    game_expert_ws *w = calloc(1, sizeof *w);
    if (!w) return cb_fail(e, CB_ENOMEM, "expert: out of memory for the search workspace");
    w->max_nodes = ex->opts.max_nodes;
    uint32_t cap = 1024;
    while (cap < 2u * (uint32_t)w->max_nodes) cap *= 2;
    w->table_mask = cap - 1;
    w->nodes = malloc(sizeof *w->nodes * (size_t)w->max_nodes);
    w->heap = malloc(sizeof *w->heap * (size_t)w->max_nodes);
    w->table = calloc(cap, sizeof *w->table);
    if (!w->nodes || !w->heap || !w->table) {
        free(w->nodes);
        free(w->heap);
        free(w->table);
        free(w);
        return cb_fail(e, CB_ENOMEM, "expert: out of memory for the search workspace (%d nodes)",
                       ex->opts.max_nodes);
    }
    ex->ws = w;
    game_expert_reset(ex);
    return 0;
}

void game_expert_free(game_expert *ex) {
    if (!ex || !ex->ws) return;
    free(ex->ws->nodes);
    free(ex->ws->heap);
    free(ex->ws->table);
    free(ex->ws->arena);
    free(ex->ws);
    ex->ws = NULL;
}

void game_expert_reset(game_expert *ex) {
    ex->plan_len = 0;
    ex->plan_t0 = 0;
    ex->plan_rc = 0;
    ex->plan_seed = 0;
    ex->plan_mode = -1;
}

/* ---- heap ordered by (f, h, id) ------------------------------------------- */
static int heap_less(const ex_heap_item *a, const ex_heap_item *b) {
    if (a->f != b->f) return a->f < b->f;
    if (a->h != b->h) return a->h < b->h;
    return a->id < b->id;
}

static void heap_push(game_expert_ws *w, ex_heap_item it) {
    int i = w->heap_n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_less(&it, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = it;
}

static ex_heap_item heap_pop(game_expert_ws *w) {
    ex_heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    int i = 0, n = w->heap_n;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!heap_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* ---- dedup key and heuristic ---------------------------------------------- */
static uint64_t mix64(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static uint64_t q(float v, float scale) { return (uint64_t)(int64_t)floorf(v * scale); }

/* Quantized agent (position, velocity, the exact "vy == 0" and is_on_crate
 * that decide support) and the enemies near it (position, velocity).
 * last_agent_y always equals agent.y after a step; ax, mirror and
 * has_support only affect rendering; time only matters through the enemies
 * (and the time limit, which a smaller g already respects). */
static uint64_t state_key(const game_level *L, const game_state *s) {
    const game_body *a = &s->agent;
    uint64_t h = 0x12345;
    h = mix64(h, q(a->x, EX_QX));
    h = mix64(h, q(a->y, EX_QX));
    h = mix64(h, (uint64_t)(int64_t)lrintf(a->vx * EX_QVX));
    h = mix64(h, (uint64_t)(int64_t)lrintf(a->vy * EX_QVY));
    h = mix64(h, (uint64_t)((a->vy == 0) | (s->is_on_crate << 1)));
    for (int i = 0; i < L->nenemies; i++) {
        const game_body *b = &s->enemy[i];
        if (fabsf(b->x - a->x) > EX_ENEMY_WINDOW || fabsf(b->y - a->y) > EX_ENEMY_WINDOW) continue;
        h = mix64(h, (uint64_t)i);
        h = mix64(h, q(b->x, EX_QE));
        h = mix64(h, q(b->y, EX_QE));
        h = mix64(h, (uint64_t)(int64_t)lrintf(b->vx * 100));
    }
    return h;
}

/* Steps still needed to touch the coin cell at top speed: horizontal
 * distance at 0.5 per step, vertical at 1.5 per step. The touch test
 * reaches 0.499 (x) and 0.5777 (y) beyond the agent's centre. */
static float heuristic(const game_level *L, const game_state *s) {
    float gx = (float)L->goal_x, gy = (float)L->goal_y;
    float x = s->agent.x, y = s->agent.y;
    float dx = 0, dy = 0;
    if (x < gx - 0.499f) dx = (gx - 0.499f) - x;
    else if (x > gx + 1.499f) dx = x - (gx + 1.499f);
    if (y < gy - 0.5777f) dy = (gy - 0.5777f) - y;
    else if (y > gy + 1.5777f) dy = y - (gy + 1.5777f);
    float hx = dx / GAME_MAX_SPEED, hy = dy / GAME_MAX_JUMP;
    return hx > hy ? hx : hy;
}

/* Returns 1 if (key, g) is new or better than what the table holds (and
 * records it), 0 if a node with this key and g' <= g exists. */
static int table_offer(game_expert_ws *w, uint64_t key, int32_t g) {
    uint32_t i = (uint32_t)(key ^ (key >> 32)) & w->table_mask;
    for (;;) {
        ex_slot *sl = &w->table[i];
        if (sl->stamp != w->stamp) {
            sl->stamp = w->stamp;
            sl->key = key;
            sl->g = g;
            return 1;
        }
        if (sl->key == key) {
            if (sl->g <= g) return 0;
            sl->g = g;
            return 1;
        }
        i = (i + 1) & w->table_mask;
    }
}

static int32_t table_g(const game_expert_ws *w, uint64_t key) {
    uint32_t i = (uint32_t)(key ^ (key >> 32)) & w->table_mask;
    for (;;) {
        const ex_slot *sl = &w->table[i];
        if (sl->stamp != w->stamp) return INT32_MAX;
        if (sl->key == key) return sl->g;
        i = (i + 1) & w->table_mask;
    }
}

static int ensure_arena(game_expert_ws *w, int nodes, cb_err *e) {
    size_t need = (size_t)nodes * w->stride;
    if (need <= w->arena_cap) return 0;
    size_t cap = w->arena_cap ? w->arena_cap : (size_t)1 << 20;
    while (cap < need) cap *= 2;
    size_t max = (size_t)w->max_nodes * w->stride;
    if (cap > max) cap = max;
    uint8_t *p = realloc(w->arena, cap);
    if (!p) return cb_fail(e, CB_ENOMEM, "expert: out of memory for %d search states", nodes);
    w->arena = p;
    w->arena_cap = cap;
    return 0;
}

/* ---- planning ---------------------------------------------------------------- */
/* Turns the node chain ending at `id` into the per-step plan, replaying it
 * from the root with canonical actions and recording the expected hash of
 * the state before each step. */
static void make_plan(game_expert *ex, const game_level *L, const game_state *root, int32_t id) {
    game_expert_ws *w = ex->ws;
    uint8_t acts[GAME_TIMEOUT];
    int len = w->nodes[id].g;
    if (len > GAME_TIMEOUT) len = GAME_TIMEOUT;
    int pos = len;
    for (int32_t n = id; n > 0 && pos > 0; n = w->nodes[n].parent)
        for (int k = 0; k < w->nodes[n].steps && pos > 0; k++) acts[--pos] = w->nodes[n].action;
    game_state s;
    copy_state(&s, root, L->nenemies);
    int out = 0;
    for (int i = pos; i < len && s.outcome == GAME_RUNNING; i++) {
        int a = game_expert_canonical(L, &s, acts[i]);
        ex->plan_hash[out] = plan_hash(L, &s);
        ex->plan[out++] = (uint8_t)a;
        game_step(L, &s, a, NULL);
    }
    ex->plan_len = out;
    ex->plan_t0 = root->time;
    ex->plan_seed = L->seed;
    ex->plan_mode = L->mode;
}

/* Weighted A* from `root`. On success the plan reaches the coin; on failure
 * it leads to the stored state with the smallest heuristic. */
static int search(game_expert *ex, const game_level *L, const game_state *root, int exact, int64_t max_steps,
                  cb_err *e) {
    game_expert_ws *w = ex->ws;
    int n_en = L->nenemies;
    w->stride = (sizeof(ex_head) + sizeof(game_body) * (size_t)n_en + 7) & ~(size_t)7;
    if (++w->stamp == 0) { /* wrapped: clear the table once */
        memset(w->table, 0, sizeof *w->table * ((size_t)w->table_mask + 1));
        w->stamp = 1;
    }
    w->heap_n = 0;
    ex->searches++;
    int rc = ensure_arena(w, 1, e);
    if (rc) return rc;

    int nn = 1;
    w->nodes[0] = (ex_node){.parent = -1, .action = 4, .steps = 0, .g = 0, .h = heuristic(L, root),
                            .key = exact ? plan_hash(L, root) : state_key(L, root)};
    pack(w->arena, root, n_en);
    table_offer(w, w->nodes[0].key, 0);
    heap_push(w, (ex_heap_item){EX_WEIGHT * w->nodes[0].h, w->nodes[0].h, 0});
    int32_t best = 0, goal = -1;
    int64_t steps = 0;
    int budget = 0;
    int32_t max_g = GAME_TIMEOUT - root->time;

    game_state cur, first[9], c;
    int hold_max = EX_HOLDS[EX_NHOLDS - 1];
    while (w->heap_n > 0 && goal < 0) {
        ex_heap_item it = heap_pop(w);
        ex_node nd = w->nodes[it.id];
        if (table_g(w, nd.key) < nd.g) continue; /* a better copy of this state was found later */
        if (steps >= max_steps || nn + 9 * EX_NHOLDS > w->max_nodes) {
            budget = 1;
            break;
        }
        unpack(&cur, w->arena + (size_t)it.id * w->stride, n_en);
        int nfirst = 0;
        for (int ai = 0; ai < 9 && goal < 0; ai++) {
            int a = GAME_EXPERT_ORDER[ai];
            copy_state(&c, &cur, n_en);
            game_step_out o;
            game_step(L, &c, a, &o);
            steps++;
            /* an action that does the same as a simpler one is not expanded */
            int dup = 0;
            for (int j = 0; j < nfirst && !dup; j++) dup = same_effect(L, &first[j], &c);
            if (dup) continue;
            copy_state(&first[nfirst++], &c, n_en);
            int hi = 0;
            for (int t = 1; t <= hold_max; t++) {
                if (t > 1) {
                    game_step(L, &c, a, &o);
                    steps++;
                }
                int32_t g = nd.g + t;
                if (o.complete) {
                    if (ensure_arena(w, nn + 1, e)) return e->code;
                    w->nodes[nn] = (ex_node){.parent = it.id, .action = (uint8_t)a, .steps = (uint8_t)t, .g = g};
                    goal = nn++;
                    break;
                }
                if (o.done || g >= max_g) break; /* death, or out of time */
                if (t != EX_HOLDS[hi]) continue;
                hi++;
                uint64_t key = exact ? plan_hash(L, &c) : state_key(L, &c);
                if (!table_offer(w, key, g)) continue;
                if (ensure_arena(w, nn + 1, e)) return e->code;
                float h = heuristic(L, &c);
                w->nodes[nn] = (ex_node){.parent = it.id, .action = (uint8_t)a, .steps = (uint8_t)t, .g = g,
                                         .h = h, .key = key};
                pack(w->arena + (size_t)nn * w->stride, &c, n_en);
                heap_push(w, (ex_heap_item){(float)g + EX_WEIGHT * h, h, nn});
                if (h < w->nodes[best].h || (h == w->nodes[best].h && g < w->nodes[best].g)) best = nn;
                nn++;
            }
        }
    }
    ex->sim_steps += steps;
    ex->last_nodes = nn;
    if (goal >= 0) {
        make_plan(ex, L, root, goal);
        ex->plan_rc = 0;
        return 0;
    }
    ex->failures++;
    make_plan(ex, L, root, best);
    unpack(&c, w->arena + (size_t)best * w->stride, n_en);
    ex->plan_rc = budget ? GAME_EXPERT_EBUDGET : GAME_EXPERT_ENOPATH;
    return cb_fail(e, ex->plan_rc,
                   "level %d (%s): %s from time %d (%lld steps simulated, %d states stored); closest state "
                   "x=%.2f y=%.2f, coin at cell (%d,%d)",
                   L->seed, game_mode_name(L->mode),
                   budget ? "expert search budget exhausted" : "expert found no path to the coin", root->time,
                   (long long)steps, nn, (double)c.agent.x, (double)c.agent.y, L->goal_x, L->goal_y);
}

int game_expert_act(game_expert *ex, const game_level *L, const game_state *s, int *action, cb_err *e) {
    *action = 4;
    if (!ex->ws) return cb_fail(e, CB_EARG, "expert: not initialized");
    if (s->outcome != GAME_RUNNING || s->time < 0 || s->time >= GAME_TIMEOUT)
        return cb_fail(e, CB_EARG, "level %d (%s): expert asked to act in a finished episode (time %d)", L->seed,
                       game_mode_name(L->mode), s->time);
    int32_t i = s->time - ex->plan_t0;
    if (ex->plan_mode == L->mode && ex->plan_seed == L->seed && i >= 0 && i < ex->plan_len &&
        ex->plan_hash[i] == plan_hash(L, s)) {
        *action = ex->plan[i];
        if (ex->plan_rc)
            return cb_fail(e, ex->plan_rc, "level %d (%s): expert following a best-effort plan (%s)", L->seed,
                           game_mode_name(L->mode),
                           ex->plan_rc == GAME_EXPERT_EBUDGET ? "search budget exhausted" : "no path found");
        return 0;
    }
    int rc = search(ex, L, s, 0, ex->opts.max_steps, e);
    if (rc == GAME_EXPERT_ENOPATH) {
        /* The quantized key may have merged away the only way out: search
         * again deduplicating only identical states (complete, so "no path"
         * is then a proof), with a quarter of the budget. */
        ex->failures--;
        rc = search(ex, L, s, 1, ex->opts.max_steps / 4, e);
        if (rc == GAME_EXPERT_EBUDGET) {
            ex->plan_rc = rc = GAME_EXPERT_ENOPATH;
            cb_err_prefix(e, "no path found by the quantized search; exact search: ");
        }
    }
    if (ex->plan_len > 0) *action = ex->plan[0];
    return rc;
}

/* game.h - the CoinRun engine: procgen-identical level generation and
 * physics (see docs/SPEC.md), 64x64 rendering in coinbc's own
 * flat art, an overview map, PNG output, and the expert planner.
 *
 * A level (game_level) is immutable after generation: the grid, the static
 * entities (saws, crates), the enemies' starting state, the themes, and the
 * parity of the level RNG's per-step draws (the only use of the RNG during
 * steps), so the dynamic state needs no Mersenne Twister. The one exception
 * is its look (game_appearance), which game_level_set_appearance may swap.
 * A game state (game_state) is a small plain value: copy it with `=`, hash it
 * with game_state_hash. Enemy trails are cosmetic; they live in game_trails,
 * which only rendering needs. */
#ifndef COINBC_GAME_H
#define COINBC_GAME_H

#include <stdint.h>

#include "common/common.h"

#define GAME_W 64
#define GAME_H 64
/* The frame and the action count are defined once, in common/common.h. */
_Static_assert(CB_FRAME_W == CB_FRAME_H && CB_FRAME_C == 3 && CB_FRAME_BYTES == CB_FRAME_W * CB_FRAME_W * 3,
               "the observation is a square RGB frame");
_Static_assert(CB_NUM_ACTIONS == 15, "procgen's CoinRun has 15 actions (9 moves, 6 that act as NOOP)");
#define GAME_TIMEOUT 1000
#define GAME_MAX_ENEMIES 48
#define GAME_MAX_STATICS 112         /* saws + crates */
#define GAME_MAX_ENTS (1 + GAME_MAX_ENEMIES + GAME_MAX_STATICS)
#define GAME_TRAIL_LIFE 9            /* a trail is visible at ages 0..8 */

enum { GAME_EASY = 0, GAME_HARD = 1 };

/* procgen grid ids */
enum {
    GAME_GOAL = 1,
    GAME_WALL_MID = 15,
    GAME_WALL_TOP = 16,
    GAME_LAVA_MID = 17,
    GAME_LAVA_TOP = 18,
    GAME_ENEMY_BARRIER = 19,
    GAME_SPACE = 100
};

/* procgen entity type ids */
enum { GAME_ENT_AGENT = 0, GAME_ENT_SAW = 2, GAME_ENT_ENEMY = 5, GAME_ENT_CRATE = 20, GAME_ENT_TRAIL = 59 };

enum { GAME_RUNNING = 0, GAME_COIN = 1, GAME_DEATH = 2, GAME_TIMEOUT_END = 3 };

typedef struct {
    uint8_t type;   /* GAME_ENT_SAW or GAME_ENT_CRATE */
    uint8_t theme;  /* crate theme 0..3 */
    float x, y;     /* box centre */
} game_static;

typedef struct {
    uint8_t type;   /* GAME_ENT_* */
    uint8_t index;  /* index into statics[] or enemies (by type) */
} game_ent_ref;

typedef struct {
    int32_t seed;
    int mode;                       /* GAME_EASY / GAME_HARD */
    uint8_t grid[GAME_H][GAME_W];   /* grid[y][x], y = 0 is the floor row */
    float bg_pct_x;
    int bg_index, player_theme, wall_theme;
    int nstatics;
    game_static statics[GAME_MAX_STATICS];   /* saws and crates, creation order */
    int ncrates;
    uint8_t crate_rev[GAME_MAX_STATICS];     /* indices of crates in statics[], last created first */
    int nenemies;
    float enemy_x0[GAME_MAX_ENEMIES], enemy_y0[GAME_MAX_ENEMIES], enemy_vx0[GAME_MAX_ENEMIES];
    uint8_t enemy_theme[GAME_MAX_ENEMIES];
    int nents;                      /* agent + enemies + statics */
    game_ent_ref order[GAME_MAX_ENTS]; /* procgen entity-list order at reset (agent first) */
    uint8_t step_parity[(GAME_TIMEOUT + 7) / 8]; /* bit t: step_rand of step t (0-based) is odd */
    int goal_x, goal_y;             /* the coin cell */
} game_level;

typedef struct {
    float x, y, vx, vy;
} game_body;

typedef struct {
    game_body agent;
    game_body enemy[GAME_MAX_ENEMIES]; /* only the first level->nenemies are used */
    float last_agent_y;
    int32_t time;          /* steps taken in this episode */
    int8_t ax, ay;         /* decoded action of the last step (ay after the support rule) */
    uint8_t has_support;   /* support computed at the start of the last step */
    uint8_t is_on_crate;
    uint8_t mirror;        /* agent faces left */
    uint8_t outcome;       /* GAME_RUNNING, GAME_COIN, GAME_DEATH, GAME_TIMEOUT_END */
    uint8_t pad[2];
} game_state;

typedef struct {
    float reward;  /* 10 on the coin step, else 0 */
    int done;      /* episode ended on this step */
    int complete;  /* the coin was touched */
    int outcome;   /* GAME_* outcome when done */
} game_step_out;

/* Cosmetic enemy trails for rendering: where each enemy spawned its trail
 * (x, and y below its centre) at the end of each of the last
 * GAME_TRAIL_LIFE steps (ring buffer). */
typedef struct {
    int count;   /* how many steps are recorded (<= GAME_TRAIL_LIFE) */
    int head;    /* slot of the newest step */
    float x[GAME_TRAIL_LIFE][GAME_MAX_ENEMIES];
    float y[GAME_TRAIL_LIFE][GAME_MAX_ENEMIES];
} game_trails;

/* ---- procgen's Mersenne Twister (std::mt19937) ------------------------ */
typedef struct {
    uint32_t w[624];
    int p;
} game_mt;
void game_mt_seed(game_mt *m, uint32_t seed);
uint32_t game_mt_next(game_mt *m);

/* ---- levels and steps -------------------------------------------------- */
const char *game_mode_name(int mode);
int game_mode_parse(const char *s, int *mode); /* "easy"/"hard" -> 0 on success */

/* Generates level `seed` exactly as procgen does and fills *init with the
 * reset state. Returns 0, or CB_ERANGE with a message if a capacity limit is
 * exceeded (never happens for procgen's generator). */
int game_level_generate(game_level *L, game_state *init, int32_t seed, int mode, cb_err *e);
void game_reset(const game_level *L, game_state *s);

/* One step of procgen's CoinRun game logic. `action` in 0..14 (asserted).
 * No auto-reset: after done the caller resets. */
void game_step(const game_level *L, game_state *s, int action, game_step_out *out);

uint64_t game_state_hash(const game_level *L, const game_state *s);

/* The layout in the refdata text format (header, 64 rows, entities, "end"). */
int game_level_dump(const game_level *L, FILE *out);

/* Trails: reset clears them; update after every step records enemy positions. */
void game_trails_reset(game_trails *t);
void game_trails_update(game_trails *t, const game_level *L, const game_state *s);

/* One row of the refdata traces format (no newline):
 * seed,step,action,x,y,vx,vy,reward,done,outcome with %.4f floats. */
int game_trace_row(char *buf, size_t n, int32_t seed, int step, int action, const game_state *s,
                   const game_step_out *o);
const char *game_outcome_name(int outcome); /* "", "coin", "death", "timeout" */
/* The name of action a (0..14; "?" otherwise): "LEFT+DOWN", "LEFT",
 * "LEFT+UP", "DOWN", "NOOP", "UP", "RIGHT+DOWN", "RIGHT", "RIGHT+UP", then
 * "9".."14" for the six that act as NOOP. game_action_short_name gives the
 * same in table width: "L+D", "L", "L+U", "D", "NOOP", "U", "R+D", "R",
 * "R+U", "9".."14". The one action-name table of coinbc. */
const char *game_action_name(int a);
const char *game_action_short_name(int a);
/* procgen's names of a level's themes (docs/SPEC.md 7), for summaries. */
typedef struct {
    const char *bg;     /* background asset path, "platform_backgrounds/alien_bg.png" */
    const char *player; /* player theme */
    const char *wall;   /* wall (ground) theme */
} game_theme_names;
game_theme_names game_level_theme_names(const game_level *L);

/* ---- appearance: a level's look as a swappable part (game/appearance.c,
 * docs/SPEC.md 5.6) ----------------------------------------------------------
 * Every per-level cue of look, as the stored fields of a generated level:
 * the background (index and horizontal offset), the wall and player themes,
 * each enemy's theme (enemy order) and each crate's theme (crates in creation
 * order). Physics, the expert, the state hash and the per-step parities read
 * none of them, so setting them changes what a frame shows and nothing else.
 * The swap works on stored fields after generation; it never regenerates. */
#define GAME_NUM_BG 62
#define GAME_NUM_WALL 6
#define GAME_NUM_PLAYER 5
#define GAME_NUM_ENEMY_THEMES 9
#define GAME_NUM_CRATE_THEMES 4
typedef struct {
    int mode;                              /* the mode of the level it came from */
    float bg_pct_x;                        /* background offset, [0, 1) */
    int bg_index, wall_theme, player_theme; /* always 0 in easy mode */
    int nenemies, ncrates;                 /* how many themes below are the donor's own */
    uint8_t enemy_theme[GAME_MAX_ENEMIES];  /* 0..8 */
    uint8_t crate_theme[GAME_MAX_STATICS];  /* 0..3, k-th crate in creation order */
} game_appearance;
/* The look of level L. */
void game_level_get_appearance(game_appearance *a, const game_level *L);
/* CB_ERANGE with a message if a field is out of range (themes, counts,
 * bg_pct_x outside [0, 1), an easy-mode look with a background, wall or
 * player theme other than 0), CB_EARG for an unknown mode. */
int game_appearance_check(const game_appearance *a, cb_err *e);
/* Gives level L the donor's look: the background index and offset, the wall
 * and player themes, and the themes of enemies and crates, cyclically when
 * the donor has fewer (L's k-th enemy takes donor enemy k mod n); a donor
 * with none gives theme 0 to all (coinbc's rule, docs/SPEC.md 5.6). Nothing
 * else of L changes. CB_EARG if the donor's mode is not L's, or the check
 * above fails; then L is untouched. Setting a level's own appearance is a
 * no-op, byte for byte. */
int game_level_set_appearance(game_level *L, const game_appearance *donor, cb_err *e);

/* The "seen" and "unseen" looks of a set of training levels:
 * seen looks are those of the training levels; an unseen look has a
 * background index that no training level has and a (wall, player) theme
 * pair that no training level has. In easy mode the background, wall and
 * player are fixed (index 0), so there are no unseen looks: only the offset
 * and the enemy and crate themes vary (varies_bg_pair = 0). */
typedef struct {
    int mode;
    int nlevels;                                  /* training levels given (duplicates counted once) */
    int varies_bg_pair;                           /* 1 in hard mode, 0 in easy */
    uint8_t bg_seen[GAME_NUM_BG];                 /* 1 if some training level has this background */
    uint8_t pair_seen[GAME_NUM_WALL][GAME_NUM_PLAYER];
    int nbg_seen, npair_seen;
    int ntriple_seen;                             /* distinct (bg, wall, player) among training levels */
    int nbg_unseen, npair_unseen;                 /* 0 in easy mode */
    int nunseen;                                  /* unseen (bg, wall, player) looks: nbg_unseen * npair_unseen */
} game_appearance_sets;
/* Generates the n training levels (seeds need not be sorted; duplicates
 * count once) and fills *out. CB_EARG for n < 1 or an unknown mode. */
int game_appearance_sets_build(game_appearance_sets *out, const int32_t *seeds, int n, int mode, cb_err *e);
/* The k-th unseen look (0 <= k < nunseen; background ascending, then wall,
 * then player): sets *bg, *wall, *player. CB_ERANGE for k out of range. */
int game_appearance_sets_unseen(int *bg, int *wall, int *player, const game_appearance_sets *s, int k, cb_err *e);

/* The refdata trace policy (tests/data/procgen/README.md, section 2). */
typedef struct {
    uint64_t state;
    int hold, action;
} game_refpolicy;
void game_refpolicy_init(game_refpolicy *p, int32_t seed);
int game_refpolicy_next(game_refpolicy *p);

/* ---- rendering --------------------------------------------------------- */
/* The 64x64 RGB observation (row-major, row 0 at the top) of state s.
 * trails may be NULL (drawn without trails). */
void game_render(uint8_t *rgb, const game_level *L, const game_state *s, const game_trails *trails);
/* An overview of the whole level, `px` pixels per cell: (64*px) x (64*px) RGB. */
void game_render_map(uint8_t *rgb, int px, const game_level *L, const game_state *s);
/* coinbc's PNG encoder (8-bit RGB, zlib level 6, default filters; game/png.c).
 * A game_png is reusable: game_png_encode leaves the image's bytes in
 * data[0..n) and keeps its buffers for the next image (one per thread). */
#define GAME_PNG_POOL 24
typedef struct {
    uint8_t *data;  /* the last encoded image */
    size_t n, cap;
    int oom;
    void *blk[GAME_PNG_POOL]; /* libpng's and zlib's freed blocks, reused */
    size_t blk_size[GAME_PNG_POOL];
} game_png;
void game_png_init(game_png *p);
void game_png_free(game_png *p);
/* rgb: w x h x 3 bytes, row 0 at the top. */
int game_png_encode(game_png *p, const uint8_t *rgb, int w, int h, cb_err *e);
/* Encodes and writes the PNG atomically (the same bytes as game_png_encode). */
int game_write_png(const char *path, const uint8_t *rgb, int w, int h, cb_err *e);

/* ---- environment: level + state + trails with procgen's auto-reset ----- */
typedef struct {
    game_level level;
    game_state state;
    game_state start;
    game_trails trails;
    int episode;    /* episodes finished so far */
} game_env;

int game_env_init(game_env *env, int32_t seed, int mode, cb_err *e);
/* Steps; on done, resets to the level's start (the same level: num_levels=1). */
void game_env_step(game_env *env, int action, game_step_out *out);
void game_env_render(const game_env *env, uint8_t *rgb);

/* ---- coinbc level and coinbc play (game/show.c, game/play.c) ------------ */
typedef struct {
    int32_t seed;
    int mode;
    FILE *dump;      /* the layout in the refdata text format into this, or NULL */
    const char *png; /* the first 64x64 observation as PNG, or NULL */
    const char *map; /* an overview of the whole level as PNG, px pixels per cell, or NULL */
    int px;
} game_show_opts;
typedef struct {
    int goal_x, goal_y; /* the coin's cell */
    int enemies, saws, crates;
    game_theme_names themes;
} game_level_summary;
/* Generates the level, writes what o asks for (dump, then png, then map)
 * and fills *s. */
int game_level_show(game_level_summary *s, const game_show_opts *o, cb_err *e);

/* The most an actions file (or stdin) may hold: 1000 actions with room for
 * comments; a larger input is refused, stdin after this many bytes read. */
#define GAME_ACTIONS_MAX_BYTES ((size_t)1 << 20)
/* Reads actions from path ("-": the stream in, at most
 * GAME_ACTIONS_MAX_BYTES of it): integers 0..14 separated by whitespace or
 * commas, '#' starts a comment; errors name the line. The whole input is
 * checked; only the first GAME_TIMEOUT actions are kept (no episode is
 * longer): *out is malloc'd, *n of them. An input without actions is an error. */
int game_actions_read(int **out, int *n, const char *path, FILE *in, cb_err *e);

typedef struct {
    int32_t seed;
    int mode;
    const int *actions; /* actions[0..nactions), or NULL: the refdata policy (game_refpolicy) */
    int nactions;
    const char *frames; /* observation t (before action t) as frames/frame_NNNNNN.png, or NULL */
    FILE *trace;        /* a game_trace_row line per step */
    int header;         /* the CSV header line first */
} game_play_opts;
/* One episode from the level's start until the first done, GAME_TIMEOUT
 * steps or the end of the actions (the frames folder made first). */
int game_play(const game_play_opts *o, cb_err *e);

/* ---- expert planner (game/expert*.c, docs/EXPERT.md) --------------------
 * A planner that searches copies of the deterministic state for the way to
 * the coin. game_expert_act plans the whole way from the state it is given,
 * keeps the plan, and replans only when a later state is not the one the
 * plan expected (compared by a hash of the fields game_expert_canonical
 * compares, so an equivalent executed action does not force a replan).
 * Deterministic: no clocks, no shared state; one game_expert per thread.
 * Labels are canonical: among actions that do the same thing in a state,
 * the simplest one is returned (game_expert_canonical; docs/EXPERT.md). */
enum {
    GAME_EXPERT_ENOPATH = -20, /* the search space was exhausted without reaching the coin */
    GAME_EXPERT_EBUDGET = -21  /* the search budget ran out before reaching the coin */
};

typedef struct {
    int64_t max_steps; /* search budget: simulated game steps per plan (0 = default) */
    int max_nodes;     /* search budget: stored search nodes per plan (0 = default) */
} game_expert_opts;

typedef struct game_expert_ws game_expert_ws; /* search workspace (expert.c) */

typedef struct {
    game_expert_opts opts;
    /* the current plan: plan[i] is the action at the state with
     * time == plan_t0 + i, whose expected hash is plan_hash[i] */
    int plan_len;
    int32_t plan_t0;
    int plan_rc;                 /* 0, or the failure code of the search that made a best-effort plan */
    int32_t plan_seed;           /* level the plan belongs to */
    int plan_mode;
    uint8_t plan[GAME_TIMEOUT];
    uint64_t plan_hash[GAME_TIMEOUT];
    /* counters since init (for benchmarks and summaries) */
    int64_t searches;            /* plans made (first plans and replans) */
    int64_t failures;            /* searches that did not reach the coin (a quantized search that
                                  * found no path and its exact retry count as one) */
    int64_t sim_steps;           /* game steps simulated by all searches */
    int64_t last_nodes;          /* nodes stored by the last search */
    game_expert_ws *ws;
} game_expert;

/* Allocates the search workspace once. opts may be NULL (defaults). */
int game_expert_init(game_expert *ex, const game_expert_opts *opts, cb_err *e);
void game_expert_free(game_expert *ex);
/* Forgets the plan (the next act plans afresh). */
void game_expert_reset(game_expert *ex);
/* The expert's action in state s of level L (s must be running: outcome
 * GAME_RUNNING). Returns 0, or GAME_EXPERT_ENOPATH / GAME_EXPERT_EBUDGET /
 * CB_EARG with a message naming the level. On a search failure *action is
 * still set, to the first action of a best-effort plan towards the state
 * that came closest to the coin, and that plan is followed (returning the
 * same code, without searching again) until it runs out or diverges. */
int game_expert_act(game_expert *ex, const game_level *L, const game_state *s, int *action, cb_err *e);
/* The simplest action that does the same thing as `action` in state s
 * (docs/EXPERT.md): the first action in GAME_EXPERT_ORDER whose next state
 * equals the next state of `action` in every field except the stored ay
 * (which nothing reads); floats compare by value, so -0 equals +0. */
int game_expert_canonical(const game_level *L, const game_state *s, int action);
/* The tie-break order, simplest first: NOOP, RIGHT, LEFT, UP, DOWN,
 * RIGHT+UP, LEFT+UP, RIGHT+DOWN, LEFT+DOWN. Actions 9..14 are never
 * returned (they decode to NOOP). */
extern const uint8_t GAME_EXPERT_ORDER[9];

#endif

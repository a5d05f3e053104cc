#!/bin/sh
# The comparison of issue 11 (make compare): in procgen's hard mode, tune each
# gradient combiner with the same budget (coinbc tune), train each one's best
# configuration with several seeds, evaluate on held-out test levels and in
# closed loop, run the memorization probe, and print the table.
#
# Resumable: every step first checks whether its output is complete (a `done`
# file written last, or a dataset's manifest) and skips it, so killing this
# script and running it again continues where it stopped. What matters is kept
# in COMPARE_STATE (committed: tune studies, tuned configurations, per-run
# summaries, the table); datasets and run folders (checkpoints) in
# COMPARE_DATA (out/, never committed; re-recorded deterministically).
#
# Knobs (environment):
#   COMPARE_QUICK=1      tiny budget for make test: 8 levels x 40 states, tiny net, 2 seeds, 1 epoch
#   COMPARE_HOURS=H      stop cleanly after at most H hours (fractions allowed); exit status 3 means
#                        "stopped at the budget, run again to continue"
#   COMPARE_STAGE="..."  only these stages, in this order (default "data tune final probe table")
#   COMPARE_SKIP_TUNE=1  no tune: every method runs with its default options (+ the fixed ones);
#                        the state records it and a later tuned run refuses that state
#   COMPARE_METHODS      default "mean and sand geomean tand"
#   COMPARE_MODE         hard (default) or easy: the procgen mode of every level recorded and played
#   COMPARE_TRAIN, COMPARE_VAL, COMPARE_TEST   your own datasets (all three, from coinbc capture or
#                        record) instead of the recorded ones: see "Your own data" below
#   COMPARE_ROLLOUT      level seeds A-B the final runs play in the engine (COMPARE_MODE), or none;
#                        default 1000-1499 (quick: 1000-1003), and none with your own data
#   COMPARE_PROBE_SEEDS  training seeds of the memorization probe (default "1"; more seeds give its
#                        accuracies an interval)
#   COMPARE_TRIALS (24), COMPARE_EPOCHS (5), COMPARE_SEEDS ("1 2 3 4 5"), COMPARE_JOBS (1),
#   COMPARE_STATE (docs/results/compare/MODE), COMPARE_DATA (out/compare/MODE),
#   COMPARE_TUNED (docs/results/tuned/MODE: where each method's best.json is copied as METHOD.json)
# Exit status: 0 complete (or the stages asked for are), 1 a step failed, 2 bad knobs, 3 stopped
# at the time budget.
#
# COMPARE_STATE holds: tune/METHOD/ (coinbc tune's folder: study storage, trials.csv, best.json),
# configs/METHOD.json (the configuration the runs use) and METHOD.origin (tuned or default),
# runs/METHOD-SEED/ (eval.json on the test levels, rollout.json, config.json, metrics.csv, metrics.jsonl,
# agreement.json, done: `coinbc report` reads these folders),
# probe/METHOD/ (probe seed 1; seed S: probe/METHOD-S/) (relabeled.json, true.json, test.json: eval of the
# final weights on the relabeled training levels, the true-label training levels and the test levels;
# config.json, metrics.csv, done), steps.log (seconds per step), table.md, and a .gitignore for checkpoints.
#
# Your own data: COMPARE_TRAIN=train.cbd COMPARE_VAL=val.cbd COMPARE_TEST=test.cbd (levels of the three
# must not overlap; coinbc data split makes them from one dataset). Nothing is recorded; the data stage
# verifies the three (coinbc data verify), relabels the first quarter of the training levels (by seed)
# for the probe, and writes STATE/datasets.txt (each dataset's manifest CRC): a later run with other
# data in the same STATE is refused. The state and data folders default to out/compare-user/. Rollouts
# only with COMPARE_ROLLOUT=A-B (levels the engine plays in COMPARE_MODE: procgen seeds).
C=${COINBC:-build/coinbc}
PY=/usr/bin/python3
MODE=${COMPARE_MODE:-hard}
case $MODE in easy|hard) ;; *) echo "compare: COMPARE_MODE must be easy or hard" >&2; exit 2 ;; esac
HERE=$(dirname "$0")
if [ "${COMPARE_QUICK:-0}" = 1 ]; then
  TRAIN_LO=0; TRAIN_HI=7; TRAIN_STATES=40; VAL_LV=500-503; VAL_STATES=20; TEST_LV=1000-1007; TEST_STATES=20
  RELABEL_LO=0; RELABEL_HI=1; ROLL_LV=1000-1003
  TRIALS=${COMPARE_TRIALS:-2}; EPOCHS=${COMPARE_EPOCHS:-1}; SEEDS=${COMPARE_SEEDS:-1 2}
  FIXED="--net nature --channels 4,4,4 --hidden 16" # the batch shape is searched (values above 8 levels are left out)
  DEFAULT_EXTRA=', "batch_levels": 4, "batch_frames": 4' # untuned runs: a batch that fits 8 levels
  STATE=${COMPARE_STATE:-out/compare-quick/state}; DATA=${COMPARE_DATA:-out/compare-quick/data}
  TUNED=${COMPARE_TUNED:-$STATE/tuned}
else
  TRAIN_LO=0; TRAIN_HI=63; TRAIN_STATES=1000; VAL_LV=500-699; VAL_STATES=100; TEST_LV=1000-2999; TEST_STATES=100
  RELABEL_LO=0; RELABEL_HI=15; ROLL_LV=1000-1499
  TRIALS=${COMPARE_TRIALS:-24}; EPOCHS=${COMPARE_EPOCHS:-5}; SEEDS=${COMPARE_SEEDS:-1 2 3 4 5}
  FIXED="--net nature"
  STATE=${COMPARE_STATE:-docs/results/compare/$MODE}; DATA=${COMPARE_DATA:-out/compare/$MODE}
  TUNED=${COMPARE_TUNED:-docs/results/tuned/$MODE}
fi
if [ "${COMPARE_QUICK:-0}" != 1 ] && [ "$TRIALS" -lt 24 ]; then
  echo "compare: COMPARE_TRIALS=$TRIALS: the comparison needs at least 24 trials per study (issue 11)" >&2; exit 2
fi
USER_DATA=0
if [ -n "${COMPARE_TRAIN:-}${COMPARE_VAL:-}${COMPARE_TEST:-}" ]; then
  if [ -z "${COMPARE_TRAIN:-}" ] || [ -z "${COMPARE_VAL:-}" ] || [ -z "${COMPARE_TEST:-}" ]; then
    echo "compare: COMPARE_TRAIN, COMPARE_VAL and COMPARE_TEST go together (your training, validation and test datasets)" >&2
    exit 2
  fi
  USER_DATA=1
  STATE=${COMPARE_STATE:-out/compare-user/state}; DATA=${COMPARE_DATA:-out/compare-user/data}
  TUNED=${COMPARE_TUNED:-$STATE/tuned}
  ROLL_LV=none
fi
ROLL_LV=${COMPARE_ROLLOUT:-$ROLL_LV}
case $ROLL_LV in none|[0-9]*-[0-9]*) ;; *) echo "compare: COMPARE_ROLLOUT must be A-B (level seeds) or none" >&2; exit 2 ;; esac
METHODS=${COMPARE_METHODS:-mean and sand geomean tand}
STAGES=${COMPARE_STAGE:-data tune final probe table}
JOBS=${COMPARE_JOBS:-1}
SKIP_TUNE=${COMPARE_SKIP_TUNE:-0}
TRAIN=$DATA/train.cbd; VAL=$DATA/val.cbd; TEST=$DATA/test.cbd; RELAB=$DATA/train-relabeled.cbd
[ "$USER_DATA" = 1 ] && { TRAIN=$COMPARE_TRAIN; VAL=$COMPARE_VAL; TEST=$COMPARE_TEST; }
PROBE_SEEDS=${COMPARE_PROBE_SEEDS:-1}
for s in $PROBE_SEEDS; do
  case $s in *[!0-9]*) echo "compare: COMPARE_PROBE_SEEDS must be seeds (non-negative integers): '$s'" >&2; exit 2 ;; esac
done
# probe_dir ROOT METHOD SEED: the probe folder of that seed (seed 1 has the plain name)
probe_dir() { if [ "$3" = 1 ]; then echo "$1/probe/$2"; else echo "$1/probe/$2-$3"; fi; }
QUIET=--quiet

DEADLINE=""
[ -n "$COMPARE_HOURS" ] && DEADLINE=$(awk -v h="$COMPARE_HOURS" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + h * 3600 }')

say() { echo "compare: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
out_of_time() {
  say "stopped at the time budget (COMPARE_HOURS=$COMPARE_HOURS); run the same command again to continue"
  exit 3
}
# run CMD...: runs it within the time left; exits the script with 3 when the budget runs out.
run() {
  if [ -z "$DEADLINE" ]; then "$@"; return $?; fi
  left=$(awk -v d="$DEADLINE" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", d - n }')
  awk -v l="$left" 'BEGIN { exit !(l <= 0) }' && out_of_time
  # timeout puts the command in its own process group (so that it can stop all of a step's
  # processes), out of reach of the terminal's Ctrl-C: the trap below passes signals on.
  timeout -k 30 "$left" "$@" &
  child=$!
  wait "$child"; rc=$?
  child=""
  [ $rc = 124 ] || [ $rc = 137 ] && out_of_time
  return $rc
}
child=""
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; say "interrupted"; exit 130' INT TERM HUP
logstep() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $1 $2s" >> "$STATE/steps.log"; }
has_stage() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }

mkdir -p "$STATE" "$DATA" || exit 1
[ -f "$STATE/.gitignore" ] || printf '*.ckpt\n*.tmp.*\n*.part\n*.next\n.coinbc-lock\n*.flock\n' > "$STATE/.gitignore"
# a state made without tuning must not be mixed with tuned results
if [ "$SKIP_TUNE" != 1 ] && grep -qs '^default' "$STATE"/configs/*.origin; then
  fail "$STATE holds results of default configurations (COMPARE_SKIP_TUNE=1); use another COMPARE_STATE or remove it"
fi

# ---- data: recorded deterministically into DATA (never committed) ----------------------------
record() { # NAME LEVELS STATES SEED
  [ -f "$DATA/$1/manifest.txt" ] && return 0
  say "record $1 (levels $2 x $3 states, $MODE, noise 0.1)"
  t=$(date +%s); rm -rf "$DATA/part-$1" # a .cbd name: record writes a dataset
  run $C record --levels "$2" --mode "$MODE" --states "$3" --noise 0.1 --seed "$4" --out "$DATA/part-$1" $QUIET >&2 ||
    fail "record $1"
  mv "$DATA/part-$1" "$DATA/$1" && logstep "record-$1" $(( $(date +%s) - t ))
}
# info_of DATASET: its coinbc data info --json (the training set's is read once and kept: info reads
# every shard, and both the probe's levels and the manifest CRC come from it)
TRAIN_INFO=""
info_of() {
  if [ "$1" = "$TRAIN" ] && [ -n "$TRAIN_INFO" ]; then printf '%s\n' "$TRAIN_INFO"; return 0; fi
  $C data info "$1" --json --quiet
}
# user_levels: the probe's levels of your training data: the first quarter of its seeds (at least one,
# and at least one left with its true labels); sets RELABEL_LO, RELABEL_HI, TRAIN_HI
user_levels() {
  TRAIN_INFO=$(info_of "$TRAIN") || fail "$TRAIN: not a readable dataset"
  lv=$(printf '%s\n' "$TRAIN_INFO" | $PY -c '
import json, sys
s = json.load(sys.stdin)["seeds"]
if len(s) < 2:
    sys.exit("the training data has %d level(s); the probe needs at least 2" % len(s))
q = max(1, len(s) // 4)
print(s[0], s[q - 1], s[-1])') || fail "$TRAIN: cannot choose the probe's levels"
  set -- $lv
  RELABEL_LO=$1; RELABEL_HI=$2; TRAIN_HI=$3
}
[ "$USER_DATA" = 1 ] && (has_stage data || has_stage probe) && user_levels
# data_ids: each dataset's manifest CRC, one line each (what STATE/datasets.txt holds)
data_ids() {
  for d in "$TRAIN" "$VAL" "$TEST"; do
    id=$(info_of "$d" | $PY -c 'import json, sys; print(json.load(sys.stdin)["manifest_crc"])') ||
      fail "$d: not a readable dataset"
    echo "$d $id"
  done
}
# relabel_probe NOTE: the probe's training data, levels RELABEL_LO-RELABEL_HI of TRAIN relabeled, unless made
relabel_probe() {
  [ -f "$RELAB/manifest.txt" ] && return 0
  say "relabel levels $RELABEL_LO-$RELABEL_HI of $TRAIN $1"
  rm -rf "$DATA/part-relabel.cbd"
  run $C data relabel "$TRAIN" --levels "$RELABEL_LO-$RELABEL_HI" --seed 1 -o "$DATA/part-relabel.cbd" >&2 ||
    fail "relabel"
  mv "$DATA/part-relabel.cbd" "$RELAB"
}
if has_stage data && [ "$USER_DATA" = 1 ]; then
  for d in "$TRAIN" "$VAL" "$TEST"; do
    say "verify $d"
    run $C data verify "$d" --quiet >&2 || fail "$d does not verify (coinbc data verify names what is wrong)"
  done
  ids=$(data_ids) || exit 1
  if [ -f "$STATE/datasets.txt" ]; then
    [ "$ids" = "$(cat "$STATE/datasets.txt")" ] ||
      fail "$STATE was made with other data ($STATE/datasets.txt); use another COMPARE_STATE, or give the same datasets"
  else
    echo "$ids" > "$STATE/datasets.txt.tmp" && mv "$STATE/datasets.txt.tmp" "$STATE/datasets.txt"
  fi
  relabel_probe "(the first quarter)"
elif has_stage data; then
  record train.cbd "$TRAIN_LO-$TRAIN_HI" "$TRAIN_STATES" 1
  record val.cbd "$VAL_LV" "$VAL_STATES" 3
  record test.cbd "$TEST_LV" "$TEST_STATES" 2
  relabel_probe ""
fi

# ---- tune: one study per method, the same trials and epochs for each ----------------------
mkdir -p "$STATE/configs"
if has_stage tune; then
  for m in $METHODS; do
    TD=$STATE/tune/$m
    [ -f "$STATE/configs/$m.json" ] && continue
    if [ "$SKIP_TUNE" = 1 ]; then
      printf '{"method": "%s"%s}\n' "$m" "${DEFAULT_EXTRA:-}" > "$STATE/configs/$m.json.tmp" && mv "$STATE/configs/$m.json.tmp" "$STATE/configs/$m.json"
      echo "default options (COMPARE_SKIP_TUNE=1, not tuned)" > "$STATE/configs/$m.origin"
      continue
    fi
    say "tune $m: $TRIALS trials of $EPOCHS epochs"
    t=$(date +%s); mkdir -p "$TD"
    # shellcheck disable=SC2086
    run $C tune "$TRAIN" --val "$VAL" --method "$m" --trials "$TRIALS" -o "$TD" --epochs "$EPOCHS" --seed 1 \
      --jobs "$JOBS" -- $FIXED || fail "tune $m"
    $PY "$HERE/compare_table.py" train-args "$TD/best.json" > /dev/null || fail "tune $m: no usable $TD/best.json"
    mkdir -p "$TUNED"
    cp "$TD/best.json" "$TUNED/$m.json.tmp" && mv "$TUNED/$m.json.tmp" "$TUNED/$m.json"
    echo "tuned: coinbc tune, $TRIALS trials of $EPOCHS epochs, study in $TD" > "$STATE/configs/$m.origin"
    cp "$TD/best.json" "$STATE/configs/$m.json.tmp" && mv "$STATE/configs/$m.json.tmp" "$STATE/configs/$m.json"
    logstep "tune-$m" $(( $(date +%s) - t ))
  done
fi

# train_args METHOD SEED: the method's configuration as train options, with this seed and budget
train_args() {
  [ -f "$STATE/configs/$1.json" ] || fail "no configuration for $1 yet (run the tune stage first)"
  $PY "$HERE/compare_table.py" train-args "$STATE/configs/$1.json" --fixed "$FIXED" --set "seed=$2" \
    --set "epochs=$EPOCHS" || fail "configuration of $1"
}
# train_run RUNDIR DATA METHOD SEED: trains (resuming a run that was cut off) unless RUNDIR/train.done
train_run() {
  [ -f "$1/train.done" ] && return 0
  args=$(train_args "$3" "$4") || exit 1
  resume=""
  if [ -f "$1/latest.ckpt" ]; then resume=--resume; else rm -rf "$1"; fi
  # shellcheck disable=SC2086
  run $C train "$2" --val "$VAL" $args $resume $QUIET -o "$1" >&2 || fail "train $1"
  touch "$1/train.done"
}
# to_file FILE CMD...: CMD's stdout into FILE, atomically
to_file() {
  f=$1; shift
  run "$@" > "$f.tmp" || { rm -f "$f.tmp"; fail "$* (for $f)"; }
  mv "$f.tmp" "$f"
}

# ---- final runs: the configuration of each method with every seed ----------------------------
if has_stage final; then
  for m in $METHODS; do
    for s in $SEEDS; do
      S=$STATE/runs/$m-$s; R=$DATA/runs/$m-$s
      [ -f "$S/done" ] && continue
      say "final run $m, seed $s"
      t=$(date +%s); mkdir -p "$S"
      train_run "$R" "$TRAIN" "$m" "$s"
      [ -f "$S/eval.json" ] || to_file "$S/eval.json" $C eval "$R" "$TEST" --json $QUIET
      if [ "$ROLL_LV" != none ] && [ ! -f "$S/rollout.json" ]; then
        to_file "$S/rollout.json" $C rollout "$R" --levels "$ROLL_LV" --mode "$MODE" --json $QUIET
      fi
      cp "$R/config.json" "$R/metrics.csv" "$R/metrics.jsonl" "$R/agreement.json" "$S/" && touch "$S/done" || fail "summary of $R"
      logstep "final-$m-$s" $(( $(date +%s) - t ))
    done
  done
fi

# ---- memorization probe: the configuration trained on partly relabeled data ---------------------
if has_stage probe; then
  for m in $METHODS; do
   for ps in $PROBE_SEEDS; do
    S=$(probe_dir "$STATE" "$m" "$ps"); R=$(probe_dir "$DATA" "$m" "$ps")
    [ -f "$S/done" ] && continue
    say "memorization probe $m, seed $ps"
    t=$(date +%s); mkdir -p "$S"
    train_run "$R" "$RELAB" "$m" "$ps"
    # the final weights: memorization is what the training ends with
    K="--checkpoint $R/latest.ckpt"
    [ -f "$S/relabeled.json" ] || to_file "$S/relabeled.json" $C eval "$R" "$RELAB" --levels "$RELABEL_LO-$RELABEL_HI" \
      --no-train $K --json $QUIET
    [ -f "$S/true.json" ] || to_file "$S/true.json" $C eval "$R" "$RELAB" --levels "$((RELABEL_HI + 1))-$TRAIN_HI" \
      --no-train $K --json $QUIET
    [ -f "$S/test.json" ] || to_file "$S/test.json" $C eval "$R" "$TEST" --no-train $K --json $QUIET
    cp "$R/config.json" "$R/metrics.csv" "$R/metrics.jsonl" "$R/agreement.json" "$S/" && touch "$S/done" || fail "summary of $R"
    logstep "probe-$m-$ps" $(( $(date +%s) - t ))
   done
  done
fi

# ---- the table ----------------------------------------------------------------------------
if has_stage table; then
  $PY "$HERE/compare_table.py" table "$STATE" --methods "$METHODS" --seeds "$SEEDS" --probe-seeds "$PROBE_SEEDS" \
    --coinbc "$C" > "$STATE/table.md.tmp" ||
    fail "table"
  mv "$STATE/table.md.tmp" "$STATE/table.md"
  cat "$STATE/table.md"
fi
missing=0
for m in $METHODS; do
  for s in $SEEDS; do [ -f "$STATE/runs/$m-$s/done" ] || missing=$((missing + 1)); done
  for ps in $PROBE_SEEDS; do [ -f "$(probe_dir "$STATE" "$m" "$ps")/done" ] || missing=$((missing + 1)); done
done
if [ $missing = 0 ]; then say "complete: $STATE/table.md"; else say "$missing runs still to do (stages: $STAGES)"; fi
exit 0

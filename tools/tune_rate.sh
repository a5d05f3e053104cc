#!/bin/sh
# tune_rate.sh - trials per hour of coinbc tune on this machine at the paper's
# scale: the Nature CNN, 64 hard-mode training levels x 1000 states, 200
# held-out validation levels x 100 states, tune's default budget (10 epochs per
# trial, the default space of tools/tune_space.json), with and without pruning.
# From the measured rate it estimates the paper's 1024 trials per study on one
# machine and on 8 machines sharing one storage.
#
#   COINBC=build/coinbc sh tools/tune_rate.sh          # output in out/tune_rate/
#
# Knobs (environment): RATE_TRIALS (trials per measurement, default 12),
# RATE_METHOD (default and), RATE_EPOCHS (default 10), RATE_JOBS (default 1),
# RATE_OUT (default out/tune_rate). It takes hours: each trial trains the
# Nature CNN for RATE_EPOCHS epochs of 64000 frames (about 5 minutes per 10
# epochs on 2 cores, see README "make reproduce"). The studies are resumable:
# run the same command again after an interruption.
set -eu
COINBC=${COINBC:-build/coinbc}
N=${RATE_TRIALS:-12}
M=${RATE_METHOD:-and}
E=${RATE_EPOCHS:-10}
J=${RATE_JOBS:-1}
OUT=${RATE_OUT:-out/tune_rate}
mkdir -p "$OUT"

[ -f "$OUT/train.cbd/manifest.txt" ] || \
  "$COINBC" record --levels 0-63 --mode hard --states 1000 --noise 0.1 --out "$OUT/train.cbd" --quiet
[ -f "$OUT/val.cbd/manifest.txt" ] || \
  "$COINBC" record --levels 1000-1199 --mode hard --states 100 --noise 0.1 --out "$OUT/val.cbd" --quiet

for prune in on off; do
  t0=$(date +%s)
  "$COINBC" tune "$OUT/train.cbd" --val "$OUT/val.cbd" --method "$M" --trials "$N" --epochs "$E" --jobs "$J" \
    --prune "$prune" -o "$OUT/prune_$prune" -- --net nature > "$OUT/prune_$prune.out"
  t1=$(date +%s)
  # seconds of the trials themselves (from trials.csv), so a resumed study still measures its trials
  awk -F, -v wall=$((t1 - t0)) -v prune="$prune" -v jobs="$J" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") s = i; next }
    { n++; sec += $s; if ($2 == "PRUNED") p++ }
    END {
      # with J jobs at once the study advances J trials per trial-time
      rate = n * 3600 / (sec / jobs)
      printf "prune %-3s  %d trials (%d pruned), %.0f s of training (wall %d s): %.1f trials/hour; ", prune, n, p, sec, wall, rate
      printf "1024 trials: %.1f days here, %.1f days on 8 machines sharing one storage\n", 1024 / rate / 24, 1024 / rate / 24 / 8
    }' "$OUT/prune_$prune/trials.csv" | tee -a "$OUT/rates.txt"
done
uname -n; nproc; git rev-parse --short HEAD 2>/dev/null || true

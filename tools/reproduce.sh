#!/bin/sh
# The paper-scale CoinRun experiment (make reproduce): 1000 states from each of
# 64 training levels, test states from 2000 held-out levels, the four
# gradient combiners, three seeds each; mean and 95% interval over seeds.
# Knobs (environment): REPRO_DIR, REPRO_EPOCHS (10), REPRO_SEEDS ("1 2 3"),
# REPRO_METHODS ("mean and sand geomean"), REPRO_NET (nature), REPRO_TEST_HI
# (2999: test levels 1000..REPRO_TEST_HI), REPRO_ROLLOUT_HI (1199),
# REPRO_TAU (0.8: the AND/SAND/geomean agreement threshold),
# REPRO_MAX_STEPS (unset: no limit; for a quick check of the script).
set -e
C=${COINBC:-build/coinbc}
D=${REPRO_DIR:-out/reproduce}
EPOCHS=${REPRO_EPOCHS:-10}
SEEDS=${REPRO_SEEDS:-1 2 3}
METHODS=${REPRO_METHODS:-mean and sand geomean}
NET=${REPRO_NET:-nature}
TEST_HI=${REPRO_TEST_HI:-2999}
ROLL_HI=${REPRO_ROLLOUT_HI:-1199}
TAU=${REPRO_TAU:-0.8}
EXTRA=""
[ -n "$REPRO_MAX_STEPS" ] && EXTRA="--max-steps $REPRO_MAX_STEPS"
mkdir -p "$D"
t0=$(date +%s)
[ -f "$D/train.cbd/manifest.txt" ] || $C record --levels 0-63 --states 1000 --noise 0.1 --seed 1 --out "$D/train.cbd"
[ -f "$D/test.cbd/manifest.txt" ] || $C record --levels 1000-$TEST_HI --states 100 --noise 0.1 --seed 2 --out "$D/test.cbd"
for m in $METHODS; do
  for s in $SEEDS; do
    R="$D/$m-$s"
    echo "== $m, seed $s"
    # validation on the first 200 test levels each epoch; the full test set at the end
    $C train "$D/train.cbd" --val "$D/test.cbd" --val-levels 1000-1199 --net $NET --method $m --tau $TAU \
      --epochs $EPOCHS --seed $s $EXTRA --quiet -o "$R"
    $C eval "$R" "$D/test.cbd" --quiet --json > /dev/null
    $C rollout "$R" --levels 1000-$ROLL_HI --quiet --json > /dev/null
  done
done
# mean and 95% interval (t distribution) over seeds, per method
printf '%-8s %6s %22s %22s %22s %24s\n' method seeds "train acc" "test acc" "gap" "rollout success"
for m in $METHODS; do
  for s in $SEEDS; do
    R="$D/$m-$s"
    # the run's figures through coinbc's strict run-records readers, never the files themselves
    $C report "$R" --json | /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)[0]
print(r["train_acc"], r["test_acc"], r["rollout_success"])' || exit 1
  done | awk -v m="$m" '
    function ci(s, ss, n) { if (n < 2) return 0; v = (ss - s * s / n) / (n - 1); if (v < 0) v = 0;
                            t = (n == 2 ? 12.706 : n == 3 ? 4.303 : n == 4 ? 3.182 : n == 5 ? 2.776 : 1.96);
                            return t * sqrt(v / n) }
    { a += $1; aa += $1 * $1; b += $2; bb += $2 * $2; g = $1 - $2; c += g; cc += g * g; d += $3; dd += $3 * $3; n++ }
    END { printf "%-8s %6d %14.1f%% +- %4.1f %14.1f%% +- %4.1f %14.1f +- %4.1f %16.1f%% +- %4.1f\n", m, n,
          100 * a / n, 100 * ci(a, aa, n), 100 * b / n, 100 * ci(b, bb, n), 100 * c / n, 100 * ci(c, cc, n),
          100 * d / n, 100 * ci(d, dd, n) }'
done
R1=""
for m in $METHODS; do R1="$R1 $D/$m-$(echo $SEEDS | cut -d' ' -f1)"; done
$C report $R1 -o "$D/report.html" > /dev/null
echo "reproduce done in $(( $(date +%s) - t0 )) s; report of the first seed of each method: $D/report.html"

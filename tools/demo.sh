#!/bin/sh
# The coinbc demo (make demo): the whole pipeline on an embedded default, in
# a few minutes on 2 cores. Output in out/demo/; the comparison table at the end.
set -e
C=${COINBC:-build/coinbc}
D=${DEMO_DIR:-out/demo}
EPOCHS=${DEMO_EPOCHS:-3}
rm -rf "$D"
mkdir -p "$D"
t0=$(date +%s)
echo "== 1/6 record 64 training levels x 1000 states with the expert (easy, 10% random actions, labels always the expert's)"
$C record --levels 0-63 --states 1000 --noise 0.1 --seed 1 --out "$D/train.cbd"
echo "== 2/6 record 200 held-out levels x 100 states"
$C record --levels 1000-1199 --states 100 --noise 0.1 --seed 2 --out "$D/test.cbd"
$C data info "$D/train.cbd" | head -6
# Each method's tuned configuration (make compare: docs/results/tuned/hard/METHOD.args, coinbc train's
# options of the study's best trial, tuned in hard mode) when one is on record, with the demo's budget
# (its --epochs and --seed replace the tuned ones); else the hand-picked default.
TUNED=${DEMO_TUNED:-docs/results/tuned/hard}
for m in mean and; do
  if [ -f "$TUNED/$m.args" ]; then
    args="$(sed -e 's/--epochs [0-9]*//' -e 's/--seed [0-9]*//' "$TUNED/$m.args") --epochs $EPOCHS --seed 1"
    echo "== 3/6 train '$m' with its tuned configuration ($TUNED/$m.args): $args"
  else
    args="--net nature --method $m --tau 0.8 --epochs $EPOCHS --seed 1"
    echo "== 3/6 train '$m' (nature CNN, $EPOCHS epochs, 16 levels x 8 frames per batch, seed 1; not tuned:" \
      "no $TUNED/$m.args yet, make compare writes it)"
  fi
  # shellcheck disable=SC2086
  $C train "$D/train.cbd" --val "$D/test.cbd" $args -o "$D/$m"
done
for m in mean and; do
  echo "== 4/6 evaluate '$m' offline on the held-out and the training levels"
  $C eval "$D/$m" "$D/test.cbd" --quiet | grep -E 'levels:|accuracy|gap'
done
for m in mean and; do
  echo "== 5/6 closed-loop play of the 200 held-out levels by '$m', the expert and a random policy"
  $C rollout "$D/$m" --levels 1000-1199 --film "$D/$m-film.png" --quiet
done
echo "== 6/6 report"
$C report "$D/mean" "$D/and" -o "$D/report.html"
echo "demo done in $(( $(date +%s) - t0 )) s: open $D/report.html"

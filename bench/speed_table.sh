#!/bin/sh
# speed_table.sh - the speed table of docs/PERFORMANCE.md: coinbc's
# training step against the PyTorch peer on the same net, batch and
# threads, alternated ROUNDS times in one run, and each coinbc figure as a
# share of the 2-thread sgemm rate the same bench printed.
#
#   sh bench/speed_table.sh [ROUNDS] [CASES]
#
# COINBC (default build/coinbc), PYTHON (default /usr/bin/python3, with
# Debian's python3-torch), THREADS (default 2) and STEPS (default 20) may be
# set. CASES is a space-separated subset of: n64 n32 n128 n16 n16x8 i16x8
# (default all). Prints one line per figure: the median over the rounds of
# samples/s, of the share of sgemm, and of the coinbc/PyTorch ratio taken
# round by round; the raw 'result'/'peer' lines go to $OUT (default
# speed_table.log in the current folder). BEFORE, a second coinbc binary
# (an earlier build), is run the same way in every round: its figures are
# the variants named before-VARIANT, and each variant gets its ratio to
# them, round by round.
set -eu
ROUNDS=${1:-3}
CASES=${2:-"n64 n32 n128 n16x8 i16x8"}
COINBC=${COINBC:-build/coinbc}
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-20}
OUT=${OUT:-speed_table.log}
PEER="$(dirname "$0")/torch_peer_train.py"
: > "$OUT"
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT

# run a command into $TMP; a failure, or no line matching PATTERN, stops the
# table (a pipeline's status would be only its last command's)
run() {
  pattern=$1
  shift
  if ! "$@" > "$TMP"; then
    echo "speed_table.sh: failed (exit status $?): $*" >&2
    exit 1
  fi
  if ! grep -q "$pattern" "$TMP"; then
    echo "speed_table.sh: no '$pattern' line from: $*" >&2
    exit 1
  fi
}

[ -x "$COINBC" ] || { echo "speed_table.sh: $COINBC is not an executable coinbc (make build/coinbc, or set COINBC)" >&2; exit 2; }
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "speed_table.sh: $PYTHON cannot import torch, so there is no PyTorch peer (apt-get install python3-torch, or set PYTHON)" >&2
  exit 2
fi

for c in $CASES; do
  case $c in
    n64) net=nature L=1 B=64 v=mean,tand,predict pv=mean ;;
    n32) net=nature L=1 B=32 v=mean,tand pv=mean ;;
    n128) net=nature L=1 B=128 v=mean,tand pv=mean ;;
    n16) net=nature L=1 B=16 v=mean,tand pv=mean ;;
    n16x8) net=nature L=16 B=8 v=and pv=and-loop ;;
    i16x8) net=impala L=16 B=8 v=mean,and pv=mean,and-loop ;;
    *) echo "speed_table.sh: unknown case $c" >&2; exit 2 ;;
  esac
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    run '^result variant' "$COINBC" bench train --net $net --batch-levels $L --batch-frames $B --threads "$THREADS" \
      --steps "$STEPS" --naive 0 --variants $v
    grep '^result' "$TMP" | sed "s/^/case=$c round=$r /" >> "$OUT"
    if [ -n "${BEFORE:-}" ]; then
      run '^result variant' "$BEFORE" bench train --net $net --batch-levels $L --batch-frames $B --threads "$THREADS" \
        --steps "$STEPS" --naive 0 --variants $v
      grep '^result variant' "$TMP" | sed "s/^/case=$c round=$r /; s/variant=/variant=before-/" >> "$OUT"
    fi
    run '^peer' "$PYTHON" "$PEER" --net $net --levels $L --frames $B --threads "$THREADS" --steps "$STEPS" --variants $pv
    grep '^peer' "$TMP" | sed "s/^/case=$c round=$r /" >> "$OUT"
    r=$((r + 1))
  done
done

# medians: coinbc samples/s and sgemm share per case and variant, the peer's
# samples/s, and the ratio of each coinbc variant to the peer's plain step
# (mean) and, for AND, to its per-level loop, round by round
awk '
function kv(line, key,   n, i, a, b) {
  n = split(line, a, " ");
  for (i = 1; i <= n; i++) { split(a[i], b, "="); if (b[1] == key) return b[2] }
  return ""
}
function median(list,   n, a, i, j, t) {
  n = split(list, a, " ");
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/ result variant=/ { c = kv($0, "case"); r = kv($0, "round"); v = kv($0, "variant");
  sps[c, v, r] = kv($0, "samples_per_s"); share[c, v] = share[c, v] " " kv($0, "sgemm_share");
  if (!((c, v) in seen)) { seen[c, v] = 1; vars[c] = vars[c] " " v } rounds[c] = r }
/ peer / { c = $1; sub("case=", "", c); r = $2; sub("round=", "", r); psps[c, $4, r] = $6;
  if (!((c, "peer " $4) in seen)) { seen[c, "peer " $4] = 1; pvars[c] = pvars[c] " " $4 } }
END {
  for (c in rounds) {
    nv = split(vars[c], V, " ");
    for (i = 1; i <= nv; i++) {
      v = V[i]; l = ""; rm = ""; ra = ""; rb = "";
      for (r = 1; r <= rounds[c]; r++) {
        l = l " " sps[c, v, r];
        if ((c, "before-" v, r) in sps && sps[c, "before-" v, r] > 0) rb = rb " " sps[c, v, r] / sps[c, "before-" v, r];
        if ((c, "mean", r) in psps && psps[c, "mean", r] > 0) rm = rm " " sps[c, v, r] / psps[c, "mean", r];
        if ((c, "and-loop", r) in psps && psps[c, "and-loop", r] > 0) ra = ra " " sps[c, v, r] / psps[c, "and-loop", r];
      }
      printf "%-6s coinbc %-8s %8.1f samples/s  %5.1f%% of sgemm", c, v, median(l), 100 * median(share[c, v]);
      if (rm != "" && v !~ /predict$/) printf "  %.2fx PyTorch mean", median(rm);
      if (ra != "" && v !~ /predict$/) printf "  %.2fx PyTorch and-loop", median(ra);
      if (rb != "") printf "  %.2fx before", median(rb);
      printf "\n";
    }
    np = split(pvars[c], P, " ");
    for (i = 1; i <= np; i++) {
      l = "";
      for (r = 1; r <= rounds[c]; r++) l = l " " psps[c, P[i], r];
      printf "%-6s PyTorch %-8s %7.1f samples/s\n", c, P[i], median(l);
    }
  }
}' "$OUT" | sort

#!/bin/sh
# Runs each cmocka test program given as an argument, sums the per-test
# results, and ends with one line "N passed, N failed". Exit status is
# non-zero when any test failed or a program crashed before reporting.
passed=0; failed=0
for t in "$@"; do
  out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p' | awk '{s+=$1} END {print s+0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$t: exited with status $rc before reporting a failure (crash?)"
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

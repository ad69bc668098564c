#!/usr/bin/env bash
# ab-concurrent.sh OLD_REPO NEW_REPO [FILTER] [ROUNDS]
# A/B of two checkouts on this noisy 2-vCPU VM: runs the same BenchmarkDotNet filter in both at the same time, one
# pinned to each core (taskset; BenchmarkDotNet's child processes inherit the affinity), and swaps the cores every
# round, so both builds see the same minutes of the VM. Compare the two builds' rows round by round, not across rounds.
# Noise floor: the same build against itself (ShortRun, noasi stage) differed by 1 % in one round and 13 % in the next
# (the two cores are not always equally slow), so only differences that hold in every round over several mean much.
# Default filter: the single-threaded stages (ReplayStageBenchmarks), which fit on one core each.
# Example: git worktree add /tmp/old HEAD~1 && bench/ab-concurrent.sh /tmp/old . '*ReplayStageBenchmarks.AsiRfc*' 3
set -euo pipefail
old=$(cd "${1:?usage: $0 OLD_REPO NEW_REPO [FILTER] [ROUNDS]}" && pwd); new=$(cd "${2:?usage}" && pwd)
filter=${3:-'*ReplayStageBenchmarks*'}; rounds=${4:-2}
export ASITRACE_BENCH_PROCESSES=${ASITRACE_BENCH_PROCESSES:-1952}
for v in "$old" "$new"; do dotnet build "$v/bench" -c Release >/dev/null; done
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then co=0; cn=1; else co=1; cn=0; fi
  (cd "$old/bench" && taskset -c $co dotnet run -c Release --no-build -- --filter "$filter" --job short >"/tmp/ab-old-$r.log" 2>&1) &
  (cd "$new/bench" && taskset -c $cn dotnet run -c Release --no-build -- --filter "$filter" --job short >"/tmp/ab-new-$r.log" 2>&1) &
  wait
  for v in old new; do
    c=$([ $v = old ] && echo $co || echo $cn)
    grep -E "^\| '" "/tmp/ab-$v-$r.log" | awk -F'|' -v v=$v -v r=$r -v c=$c '{ printf "round %s %-3s (cpu %s) %-40s %s\n", r, v, c, $2, $3 }'
  done
done

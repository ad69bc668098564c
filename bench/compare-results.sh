#!/usr/bin/env bash
# compare-results.sh OLD_ASITRACE NEW_ASITRACE
# For speed work: replays the same inputs with two builds of the CLI and compares every results Parquet byte for
# byte (replays are deterministic, so a change that only makes the replay faster must leave them identical).
# Inputs: the bundled samples (churn, dd-cat, anon-shootdown; requests too), the qemu 6.1/6.12 samples (older
# kernels' pcp rules and snapshot anchoring) and the three synth scenarios; all seven policies, a 100 ms series.
# Build the old one from a worktree, e.g.: git worktree add /tmp/old HEAD~1 && dotnet build /tmp/old/src/Cli -c Release
# Exit status 1 when any file differs or any replay fails.
set -uo pipefail
OLD=${1:?usage: $0 OLD_ASITRACE NEW_ASITRACE}; NEW=${2:?usage: $0 OLD_ASITRACE NEW_ASITRACE}
S=$(cd "$(dirname "$0")/../sample-traces" && pwd)
P=noasi,asi-rfc,asi-freetypes,asi-freetypes+mermap,unmapped,secretfree,asi-rfc+mermap
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
bad=0
run() { # name input extra-args files...
  local name=$1 input=$2 extra=$3; shift 3
  for v in OLD NEW; do
    "${!v}" replay "$input" -o "$W/$v-$name" --policy $P --interval 100ms $extra >/dev/null 2>&1 || { echo "$v $name: replay failed"; bad=1; }
  done
  for f in "$@"; do
    if cmp -s "$W/OLD-$name/$f" "$W/NEW-$name/$f"; then echo "$name $f same"; else echo "$name $f DIFFERENT"; bad=1; fi
  done
}
for t in churn dd-cat anon-shootdown; do
  run "$t" "$S/$t" --requests totals.parquet series.parquet fidelity.parquet pageblocks.parquet mix.parquet requests.parquet
done
for t in qemu-6.1 qemu-6.12; do run "$t" "$S/$t" "" totals.parquet series.parquet fidelity.parquet; done
for sc in firecracker-populate fio-randread kernel-build; do
  "$NEW" synth $sc -o "$W/$sc.parquet" >/dev/null 2>&1 || { echo "synth $sc failed"; bad=1; continue; }
  run "$sc" "$W/$sc.parquet" "" totals.parquet series.parquet
done
exit $bad

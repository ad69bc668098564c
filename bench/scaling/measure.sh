#!/usr/bin/env bash
# measure.sh ASITRACE OUTDIR: replay time and peak memory against the simulated machine's size and the trace's length
# (docs/scaling.md). Synthetic hosts come from synthetic-host.py (the churn sample's snapshot grown to SIZE GiB and
# CPUS CPUs); traces from `asitrace synth kernel-build` (about 2,050 events per process at 4 MiB each). Prints TSV:
# size_gib cpus events policies wall_s peak_rss_mib.
set -euo pipefail
asitrace=$(realpath "${1:?usage: $0 ASITRACE OUTDIR}"); out=${2:?usage}; mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
policies=${POLICIES:-noasi,asi-rfc,asi-freetypes,asi-freetypes+mermap,unmapped,secretfree}
npol=$(tr ',' '\n' <<<"$policies" | wc -l)
run() { # size cpus processes
  local size=$1 cpus=$2 procs=$3 host="$out/host-$1-$2" trace="$out/kb-$3.parquet"
  [ -d "$host/snapshot-start" ] || python3 "$here/synthetic-host.py" "$size" "$cpus" "$host/snapshot-start"
  [ -f "$trace" ] || "$asitrace" synth kernel-build --param processes="$procs" --param mib_per_process=4 -o "$trace" >/dev/null 2>&1
  local events; events=$("$asitrace" stats "$trace" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
  /usr/bin/time -o "$out/time" -f "%e %M" "$asitrace" replay "$trace" --snapshot "$host" -o "$out/r" --interval 0 --policy "$policies" >/dev/null 2>"$out/replay.err" \
    || { echo "replay failed: $(tail -1 "$out/replay.err")" >&2; return 1; }
  local t; t=$(tail -1 "$out/time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$cpus" "$events" "$npol" "${t% *}" "$(( ${t#* } / 1024 ))"
}
printf 'size_gib\tcpus\tevents\tpolicies\twall_s\tpeak_rss_mib\n'
for size in ${SIZES:-4 16 64 256 1024}; do run "$size" 112 488; done
for procs in ${PROCS:-49 488 4880}; do run 64 112 "$procs"; done

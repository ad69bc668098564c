#!/usr/bin/env bash
# fuzz/run.sh READER MINUTES [OUTDIR]
# A coverage-guided campaign on one reader (trace-dat, perf-data, text, csv, parquet) with afl++ and SharpFuzz:
# builds the harness, instruments AsiTrace.Ingest.dll in a copy of the build, seeds afl++ with the corpus in
# tests/Fuzz/corpus/READER (small real inputs) and runs afl-fuzz for MINUTES. Crashes land in OUTDIR/default/crashes;
# minimise them (afl-tmin) into tests/Fuzz/crashes/READER, where CI replays them (FuzzCorpusTests).
# Needs: apt-get install afl++; dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0. Runs as root (afl++
# asks for core_pattern; AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES covers a container that cannot set it).
set -euo pipefail
reader=${1:?usage: $0 READER MINUTES [OUTDIR]}; minutes=${2:?usage}; out=${3:-/tmp/asitrace-fuzz-$reader}
here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/../tests/Fuzz/corpus/$reader"
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 2; }
work=$(mktemp -d)
dotnet publish "$here/Fuzz.csproj" -c Release -o "$work/bin" >/dev/null
"${HOME}/.dotnet/tools/sharpfuzz" "$work/bin/AsiTrace.Ingest.dll" >/dev/null
# SharpFuzz instruments the .NET assembly, not the native host afl-fuzz inspects.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_SKIP_BIN_CHECK=1
mkdir -p "$out"
timeout $((minutes * 60 + 30)) afl-fuzz -V $((minutes * 60)) -i "$corpus" -o "$out" -t 10000 -m none -- \
  "$work/bin/asitrace-fuzz" "$reader" || true
grep -E "execs_done|corpus_count|saved_crashes|saved_hangs|run_time|bitmap_cvg" "$out/default/fuzzer_stats" || true

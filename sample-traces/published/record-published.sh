#!/usr/bin/env bash
# record-published.sh OUTDIR [ASITRACE]
# Records, on this machine, the workloads whose ASI cost was published, each with `asitrace record --baseline` (the
# command run once untraced first, for the workload's CPU time), then replays each under the matching policies:
#   fio-randread/   FIO 4 KiB random reads on tmpfs, psync, one job, 8 GiB of reads (RFC v2: ~-70 %; the Aug 2025
#                   prototype: 1,003,102 -> 871,928 IOPS, -13.1 %)
#   kernel-build/   the lib/ objects of a tinyconfig Linux 6.1 from clean, make -j2 (the Aug 2025 prototype: +7.6 %,
#                   +5.0 % with IBPB off)
# Needs root, tracefs, fio and linux-source-6.1 (apt-get install fio linux-source-6.1); about 2 GB of trace text.
set -euo pipefail
out=${1:?usage: $0 OUTDIR [ASITRACE]}
asitrace=${2:-asitrace}
mkdir -p "$out"
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
[ -f /usr/src/linux-source-6.1.tar.xz ] || { echo "linux-source-6.1 is not installed" >&2; exit 1; }

# FIO on tmpfs: a 256 MiB file laid out first (not recorded).
file=/dev/shm/asitrace-fio
fio --name=layout --filename=$file --size=256M --rw=write --bs=1M --output=/dev/null
# --no-calibrate: the published comparison uses the preset's constants (docs/costs.md), not this host's.
"$asitrace" record -o "$out/fio-randread" --baseline --no-calibrate --buffer-kb 524288 -- \
  fio --name=randread --filename=$file --size=256M --rw=randread --bs=4k --ioengine=psync --io_size=8G --numjobs=1 --output=/dev/null
rm -f $file

# A kernel build from clean: the same work in the baseline run and the recorded one.
src=$(mktemp -d)
tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$src"
make -s -C "$src/linux-source-6.1" tinyconfig >/dev/null
cat > "$src/build.sh" <<SH
#!/bin/sh
cd "$src/linux-source-6.1" || exit 1
make -s clean >/dev/null 2>&1
exec make -s -j2 lib/ >/dev/null 2>&1
SH
chmod +x "$src/build.sh"
"$asitrace" record -o "$out/kernel-build" --baseline --no-calibrate --buffer-kb 524288 -- "$src/build.sh"
rm -rf "$src"

for w in fio-randread kernel-build; do
  "$asitrace" replay "$out/$w" -o "$out/$w/results" --policy noasi,asi-rfc,asi-aug2025,asi-freetypes --json > "$out/$w/replay.json"
  "$asitrace" replay "$out/$w" -o "$out/$w/results-no-ibpb" --policy noasi,asi-aug2025 --knob Ibpb=false --json > "$out/$w/replay-no-ibpb.json"
done
echo "recordings and replays in $out"

#!/usr/bin/env bash
# record-corpus.sh OUTDIR [ASITRACE] — records the fidelity corpus (docs/model.md §9, tests/Replay/CorpusFidelityTests.cs):
# workloads on this host's kernel with `asitrace record`, and the same kinds of workload on Debian's 6.1 and 6.12 kernels
# under qemu (../record-qemu.sh) with 1, 2 and 4 vCPUs. Each recording is a directory with trace.txt.zst and
# snapshot-start/, snapshot-end/ and stats/. NAMES (space-separated) limits it to some recordings.
# Needs root and tracefs for the host part, trace events kmem/filemap/tlb/sched, gcc, make, python3, zstd,
# linux-source-6.1, qemu-system-x86, busybox-static and cpio.
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUTDIR [ASITRACE]}")
asitrace=${2:-asitrace}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
want() { [ -z "${NAMES:-}" ] || [[ " $NAMES " == *" $1 "* ]]; }
k61=linux-image-6.1.0-56-amd64
k612=linux-image-6.12.117+deb12-amd64

# Host recordings leave out the kernel-entry events: the fidelity checks read the allocator's events only.
host() {
  local name=$1; shift
  want "$name" || return 0
  rm -rf "${out:?}/$name"
  "$asitrace" record -o "$out/$name" --no-calibrate --buffer-kb 131072 \
    --events -raw_syscalls/sys_enter,-raw_syscalls/sys_exit,-exceptions/page_fault_user,+vmscan/mm_vmscan_kswapd_wake,+compaction/mm_compaction_begin \
    -- "$@"
  zstd -q -19 --long=27 --rm -f "$out/$name/trace.txt"
}
qemu() {
  local name=$1 kernel=$2 cpus=$3 mem=$4 workload=$5
  want "$name" || return 0
  rm -rf "${out:?}/$name"
  CPUS=$cpus MEM=$mem WORKLOAD=$workload bash "$here/../record-qemu.sh" "$out/$name" "$kernel"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A real compile, make -j2: four objects of a tinyconfig Linux 6.1 (the tree is configured and prepared unrecorded).
if want h618-compile; then
  tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$work"
  make -s -C "$work/linux-source-6.1" tinyconfig >/dev/null
  make -s -C "$work/linux-source-6.1" -j2 prepare >/dev/null 2>&1
  host h618-compile make -s -C "$work/linux-source-6.1" -j2 lib/sort.o lib/bsearch.o lib/ctype.o lib/cmdline.o
fi
# Page-cache streaming: files larger than any pcp high mark, written, read, read again without cache, removed.
host h618-stream sh -c "dd if=/dev/zero of=$work/big bs=1M count=96 conv=fsync 2>/dev/null; cat $work/big >/dev/null; \
  dd if=$work/big of=/dev/null bs=1M iflag=nocache 2>/dev/null; rm $work/big"
# Anonymous and THP faults: 4 × 64 MiB touched and freed, madvise(MADV_HUGEPAGE) on half of them.
host h618-anon-thp python3 -c "
import mmap
for i in range(4):
    m = mmap.mmap(-1, 64 << 20)
    if i % 2 and hasattr(mmap, 'MADV_HUGEPAGE'): m.madvise(mmap.MADV_HUGEPAGE)
    for off in range(0, 64 << 20, 4096): m[off] = 1
    m.close()
"
# fork/exec-heavy: 300 short processes.
host h618-forkexec sh -c 'i=0; while [ $i -lt 300 ]; do /bin/true; /bin/echo $i | /bin/cat >/dev/null; i=$((i+1)); done'
# Many small files on disk: created, read, half removed, the rest removed.
host h618-smallfiles python3 -c "
import os
d = '$work/small'
os.makedirs(d)
for i in range(4000):
    with open(f'{d}/f{i}', 'w') as f: f.write('x' * (i % 3000))
for i in range(4000): open(f'{d}/f{i}').read()
for i in range(0, 4000, 2): os.remove(f'{d}/f{i}')
for i in range(1, 4000, 2): os.remove(f'{d}/f{i}')
os.rmdir(d)
"

# Older kernels under qemu (TCG): pcp high/batch rules differ by era and scale with the CPU count.
qemu q61-stream-1cpu "$k61" 1 512 stream
qemu q61-smallfiles-2cpu "$k61" 2 1024 smallfiles
qemu q61-pressure-2cpu "$k61" 2 256 pressure
qemu q61-anon-thp-4cpu "$k61" 4 1024 anon-thp
qemu q61-forkexec-1cpu "$k61" 1 512 forkexec
qemu q612-stream-4cpu "$k612" 4 1024 stream
qemu q612-smallfiles-1cpu "$k612" 1 512 smallfiles
qemu q612-pressure-4cpu "$k612" 4 288 pressure
qemu q612-anon-thp-2cpu "$k612" 2 1024 anon-thp
qemu q612-forkexec-2cpu "$k612" 2 512 forkexec
qemu q61-fragment-1cpu "$k61" 1 1024 fragment
qemu q612-fragment-2cpu "$k612" 2 1024 fragment
echo "corpus in $out: $(ls "$out" | wc -l) recordings"

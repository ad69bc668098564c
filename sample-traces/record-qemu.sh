#!/usr/bin/env bash
# record-qemu.sh OUTDIR [KERNEL_PACKAGE] — a real trace from a Debian 12 kernel (default: the one linux-image-amd64
# depends on, 6.1; e.g. linux-image-6.12.117+deb12-amd64 for 6.12) booted under qemu-system-x86_64
# (TCG: no KVM here) with a busybox initramfs that enables the replay's events, snapshots /proc and the event formats,
# runs a workload, and writes everything to a second serial port. The host splits that stream into trace.txt,
# snapshot-start/, snapshot-end/ and stats/ — the layout `asitrace record` makes.
# Environment: CPUS (vCPUs, default 2), MEM (MiB, default 1024), BUF_KB (per-CPU ring buffer, default 16384),
# TIMEOUT (seconds, default 1800), WORKLOAD (default mixed):
#   mixed       3 × (anonymous 16 MiB dd buffers, an 8 MiB tmpfs file written, read back, removed)
#   stream      tmpfs files larger than every pcp high mark written, read and removed
#   anon-thp    THP always: 64 MiB anonymous dd buffers, faulted as huge pages where they can be
#   forkexec    hundreds of fork+exec of short busybox commands
#   fragment    250,000 empty tmpfs files (reclaimable slab outgrowing its pageblocks: fallbacks), half removed, the rest
#   smallfiles  thousands of small tmpfs files (inodes and dentries: reclaimable slab), read, half removed, rest removed
#   pressure    tmpfs filled to near the low watermark with 1 MiB and tiny files, every other large file removed,
#               3,000 tiny files into the holes (migratetype fallbacks), anonymous buffers on top (kswapd,
#               compaction), compact_memory, everything freed
#   kvm         nested KVM: kvm and kvm-amd loaded before tracing (TCG's `-cpu max` offers SVM with nested paging),
#               then kvm/kvm-touch.c's 30 VMs, each faulting in 144 pages of guest memory through nested page faults;
#               also records kvm:kvm_exit/kvm_entry, raw_syscalls and exceptions:page_fault_user (kernel entries)
# Needs: qemu-system-x86, busybox-static, cpio (and gcc with a static libc for kvm); downloads the kernel package.
set -euo pipefail
out=${1:?usage: $0 OUTDIR [KERNEL_PACKAGE]}
out=$(realpath -m "$out")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=${2:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')}
apt-get download -q "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb kroot
kernel=$(ls kroot/boot/vmlinuz-*)
cpus=${CPUS:-2}
mem=${MEM:-1024}
workload=${WORKLOAD:-mixed}
case $workload in mixed|stream|anon-thp|forkexec|smallfiles|pressure|fragment|kvm) ;; *) echo "unknown WORKLOAD $workload" >&2; exit 2;; esac

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/tmp
cp /bin/busybox initrd/bin/busybox
if [ "$workload" = kvm ]; then
  gcc -O2 -static -o initrd/bin/kvm-touch "$here/kvm/kvm-touch.c"
  mkdir -p initrd/mod
  for m in irqbypass ccp kvm kvm-amd; do cp "$(find kroot/lib/modules -name "$m.ko" | head -1)" initrd/mod/; done
fi
cat > initrd/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t tmpfs tmp /tmp
T=/sys/kernel/tracing
EVENTS="kmem/mm_page_alloc kmem/mm_page_alloc_zone_locked kmem/mm_page_free kmem/mm_page_free_batched
 kmem/mm_page_pcpu_drain kmem/mm_page_alloc_extfrag filemap/mm_filemap_add_to_page_cache
 filemap/mm_filemap_delete_from_page_cache tlb/tlb_flush sched/sched_switch
 syscalls/sys_enter_read syscalls/sys_enter_write migrate/mm_migrate_pages
 vmscan/mm_vmscan_kswapd_wake vmscan/mm_vmscan_direct_reclaim_begin compaction/mm_compaction_begin"
if [ "$WORKLOAD" = kvm ]; then
  EVENTS="$EVENTS kvm/kvm_exit kvm/kvm_entry raw_syscalls/sys_enter raw_syscalls/sys_exit exceptions/page_fault_user"
  # Loaded before tracing: module loading's own allocations are not the workload.
  for m in irqbypass ccp kvm kvm-amd; do insmod /mod/$m.ko; done
fi
stty -F /dev/ttyS1 raw -echo 115200
exec 3>/dev/ttyS1
emit() { echo "=== FILE $1 ===" >&3; cat "$2" >&3; echo "=== END ===" >&3; }
# The allocator's state is read with shell builtins only: a forked cat allocates (and may refill a pcp list) while the
# file is read, so the snapshot would not show the state at the trace's edge. At the start it is read last, just
# before tracing starts; at the end first, just after it stops.
emit_quiet() { echo "=== FILE $1 ===" >&3; while IFS= read -r l; do echo "$l"; done < "$2" >&3; echo "=== END ===" >&3; }
allocator_state() { for f in zoneinfo pagetypeinfo buddyinfo; do emit_quiet "$1/$f" /proc/$f; done; }
snap() {
  [ "$1" = snapshot-end ] && allocator_state "$1"
  for f in meminfo vmstat iomem cpuinfo; do emit "$1/$f" /proc/$f; done
  uname -a > /tmp/uname; emit "$1/uname" /tmp/uname
  emit "$1/trace_clock" $T/trace_clock
  grep -c ^processor /proc/cpuinfo > /tmp/nproc; emit "$1/nproc" /tmp/nproc
  for e in $EVENTS; do [ -e $T/events/$e/format ] && emit "$1/$(echo $e | tr / .).format" $T/events/$e/format; done
  [ "$1" = snapshot-start ] && allocator_state "$1"
  return 0
}
echo 0 > $T/tracing_on
echo ${BUF_KB:-16384} > $T/buffer_size_kb
for e in $EVENTS; do echo 1 > $T/events/$e/enable 2>/dev/null || echo "no event $e" >&3; done
snap snapshot-start
echo > $T/trace
echo 1 > $T/tracing_on
workload_mixed() {
  for i in 1 2 3; do
    dd if=/dev/zero of=/dev/null bs=16M count=4 2>/dev/null
    dd if=/dev/zero of=/tmp/f bs=1M count=8 2>/dev/null
    cat /tmp/f > /dev/null
    rm /tmp/f
  done
}
workload_stream() {
  for i in 1 2; do
    dd if=/dev/zero of=/tmp/big bs=1M count=96 2>/dev/null
    cat /tmp/big > /dev/null
    rm /tmp/big
  done
}
workload_anon_thp() {
  echo always > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
  for i in 1 2 3 4; do dd if=/dev/zero of=/dev/null bs=64M count=2 2>/dev/null; done
}
workload_forkexec() {
  i=0
  while [ $i -lt 200 ]; do /bin/busybox true; /bin/busybox echo $i | /bin/busybox cat > /dev/null; i=$((i+1)); done
}
workload_smallfiles() {
  mkdir /tmp/d
  i=0
  while [ $i -lt 6000 ]; do echo "file $i" > /tmp/d/f$i; i=$((i+1)); done
  cat /tmp/d/* > /dev/null
  rm /tmp/d/f*0 /tmp/d/f*2 /tmp/d/f*4 /tmp/d/f*6 /tmp/d/f*8
  rm -r /tmp/d
}
# MemAvailable into AV with builtins only (a forked awk per step would be most of the trace).
avail() { while read -r k v u; do if [ "$k" = MemAvailable: ]; then AV=$v; return 0; fi; done < /proc/meminfo; }
workload_pressure() {
  echo always > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
  # tmpfs may take all but what the loop leaves (its default is half of RAM); every write is checked.
  mount -o remount,size=95% /tmp
  mkdir /tmp/p
  i=0
  # 1 MiB files and tiny ones interleaved: movable page cache and reclaimable inodes and dentries side by side.
  avail
  while [ "$AV" -gt 40960 ] && [ $i -lt 4096 ]; do
    dd if=/dev/zero of=/tmp/p/b$i bs=1M count=1 2>/dev/null || break
    j=0; while [ $j -lt 8 ]; do echo $j > /tmp/p/s$i.$j || break 2; j=$((j+1)); done
    i=$((i+1))
    avail
  done
  # Every other large file removed: free holes inside pageblocks that stay mostly movable ...
  rm -f /tmp/p/b*[02468]
  # ... then unmovable and reclaimable demand (inodes, dentries) that must fall back into them.
  mkdir /tmp/q
  j=0; while [ $j -lt 3000 ]; do echo $j > /tmp/q/t$j || break; j=$((j+1)); done
  # Anonymous buffers of all but 2 MiB of what is available: past the low watermark (kswapd, direct reclaim and
  # compaction; dd, not init, is what the OOM killer would take), then an explicit compaction.
  for k in 1 2; do avail; dd if=/dev/zero of=/dev/null bs=$((AV - 2048))k count=2 2>/dev/null; done
  echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
  rm -r /tmp/p /tmp/q
}
workload_fragment() {
  # Empty files: only inodes and dentries, reclaimable slab. Each pageblock the slab outgrows is taken from movable
  # memory by a fallback (mm_page_alloc_extfrag), about one per 2 MiB of slab.
  mount -o remount,nr_inodes=400000 /tmp
  mkdir /tmp/e
  i=0; while [ $i -lt 250000 ]; do : > /tmp/e/f$i || break; i=$((i+1)); done
  rm -f /tmp/e/f*[13579]
  rm -r /tmp/e
}
workload_kvm() {
  /bin/kvm-touch 30 > /dev/null
}
workload_$(echo "$WORKLOAD" | tr - _)
echo 0 > $T/tracing_on
snap snapshot-end
for c in /sys/kernel/tracing/per_cpu/cpu*; do emit "stats/$(basename $c)" $c/stats; done
emit trace.txt $T/trace
echo "=== DONE ===" >&3
sync
poweroff -f
INIT
sed -i "2i WORKLOAD=$workload BUF_KB=${BUF_KB:-16384}" initrd/init
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -9) > initrd.gz

timeout ${TIMEOUT:-1800} qemu-system-x86_64 -machine q35 -cpu max -smp "$cpus" -m "$mem" -kernel "$kernel" -initrd initrd.gz \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" -display none -no-reboot \
  -serial file:console.log -serial file:data.out
grep -q "=== DONE ===" data.out || { echo "the guest did not finish; console:" >&2; tail -20 console.log >&2; exit 1; }

mkdir -p "$out"
tr -d '\r' < data.out | awk -v out="$out" '
  /^=== FILE .* ===$/ { f = out "/" $3; d = f; sub(/\/[^\/]*$/, "", d); system("mkdir -p \"" d "\""); printf "" > f; next }
  /^=== END ===$/ { close(f); f = ""; next }
  /^=== DONE ===$/ { exit }
  f != "" { print >> f; next }
  { print > "/dev/stderr" }'
zstd -q -19 --rm -f "$out/trace.txt"
echo "recorded $(zstdcat "$out/trace.txt.zst" | grep -vc '^#') lines into $out ($(cat "$out/snapshot-start/uname"))"

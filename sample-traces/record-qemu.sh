#!/usr/bin/env bash
# record-qemu.sh OUTDIR [KERNEL_PACKAGE] — a real trace from a Debian 12 kernel (default: the one linux-image-amd64
# depends on, 6.1; e.g. linux-image-6.12.117+deb12-amd64 for 6.12) booted under qemu-system-x86_64
# (TCG: no KVM here) with a busybox initramfs that enables the replay's events, snapshots /proc and the event formats,
# runs a small workload (anonymous buffers from dd, a tmpfs file written and read back), and writes everything to a
# second serial port. The host splits that stream into trace.txt, snapshot-start/, snapshot-end/ and stats/ — the
# layout `asitrace record` makes. Needs: qemu-system-x86, busybox-static, cpio; downloads the kernel package.
set -euo pipefail
out=${1:?usage: $0 OUTDIR [KERNEL_PACKAGE]}
out=$(realpath -m "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=${2:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')}
apt-get download -q "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb kroot
kernel=$(ls kroot/boot/vmlinuz-*)

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/tmp
cp /bin/busybox initrd/bin/busybox
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
 syscalls/sys_enter_read syscalls/sys_enter_write"
stty -F /dev/ttyS1 raw -echo 115200
exec 3>/dev/ttyS1
emit() { echo "=== FILE $1 ===" >&3; cat "$2" >&3; echo "=== END ===" >&3; }
snap() {
  for f in zoneinfo pagetypeinfo buddyinfo meminfo vmstat iomem cpuinfo; do emit "$1/$f" /proc/$f; done
  uname -a > /tmp/uname; emit "$1/uname" /tmp/uname
  emit "$1/trace_clock" $T/trace_clock
  grep -c ^processor /proc/cpuinfo > /tmp/nproc; emit "$1/nproc" /tmp/nproc
  for e in $EVENTS; do [ -e $T/events/$e/format ] && emit "$1/$(echo $e | tr / .).format" $T/events/$e/format; done
}
echo 0 > $T/tracing_on
echo 16384 > $T/buffer_size_kb
for e in $EVENTS; do echo 1 > $T/events/$e/enable 2>/dev/null || echo "no event $e" >&3; done
snap snapshot-start
echo > $T/trace
echo 1 > $T/tracing_on
for i in 1 2 3; do
  dd if=/dev/zero of=/dev/null bs=16M count=4 2>/dev/null
  dd if=/dev/zero of=/tmp/f bs=1M count=8 2>/dev/null
  cat /tmp/f > /dev/null
  rm /tmp/f
done
echo 0 > $T/tracing_on
snap snapshot-end
for c in /sys/kernel/tracing/per_cpu/cpu*; do emit "stats/$(basename $c)" $c/stats; done
emit trace.txt $T/trace
echo "=== DONE ===" >&3
sync
poweroff -f
INIT
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -9) > initrd.gz

timeout 1800 qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 1024 -kernel "$kernel" -initrd initrd.gz \
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

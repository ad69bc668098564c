#!/usr/bin/env bash
# record-kvm.sh OUTDIR — a host-side recording of a KVM guest: `asitrace record` (root, tracefs, /dev/kvm) traces the
# host while qemu-system-x86_64 -enable-kvm boots Debian 12's kernel with a busybox initramfs that dirties anonymous
# and tmpfs memory and powers off. The host trace holds kvm:kvm_exit/kvm_entry of the vCPU threads beside the host's
# own allocations, syscalls and faults: the guest-exit path of the ASI state machine (docs/model.md §8.7) on real
# events. Needs: qemu-system-x86, busybox-static, cpio; downloads the kernel package.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
out=$(realpath -m "$out")
asitrace=${ASITRACE:-asitrace}
[ -c /dev/kvm ] || { echo "no /dev/kvm" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
apt-get download -q "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb kroot
mkdir -p initrd/bin initrd/proc initrd/tmp
cp /bin/busybox initrd/bin/busybox
cat > initrd/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t tmpfs tmpfs /tmp
for i in 1 2 3; do
  dd if=/dev/zero of=/tmp/f bs=1M count=16 2>/dev/null
  cat /tmp/f > /dev/null
  rm /tmp/f
  dd if=/dev/zero bs=16M count=1 2>/dev/null | cat > /dev/null
done
poweroff -f
INIT
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initrd.gz
"$asitrace" record --no-calibrate --buffer-kb 32768 -o "$out" -- \
  qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512 -kernel kroot/boot/vmlinuz-* -initrd initrd.gz \
  -append "console=ttyS0 quiet panic=-1" -display none -serial null -monitor none -no-reboot
zstd -q -19 --rm "$out/trace.txt"

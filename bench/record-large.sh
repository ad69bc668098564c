#!/usr/bin/env bash
# record-large.sh OUTDIR [SCALE]
# Records the large binary traces the benchmarks read (not committed): a page-churn workload under
# `trace-cmd record` (trace.dat v7, zstd: trace-cmd 3.1.6's default) and under `perf record`, both with the
# kmem/tlb/sched events asitrace replays. SCALE multiplies the workload (1 ≈ 2.1 M events per recording).
# Needs root, tracefs, trace-cmd and perf. Restores tracefs (events off, buffer cleared, buffer size, tracing_on).
set -euo pipefail
out=${1:?usage: $0 OUTDIR [SCALE]}; scale=${2:-1}
mkdir -p "$out"
T=/sys/kernel/tracing
old_buf=$(cat $T/buffer_size_kb); old_on=$(cat $T/tracing_on)
restore() {
  echo 0 >$T/tracing_on; echo 0 >$T/events/enable 2>/dev/null || true; echo >$T/trace
  echo "$old_buf" >$T/buffer_size_kb; echo "$old_on" >$T/tracing_on
}
trap restore EXIT
EV=(kmem:mm_page_alloc kmem:mm_page_free kmem:mm_page_free_batched kmem:mm_page_alloc_zone_locked
    kmem:mm_page_pcpu_drain kmem:mm_page_alloc_extfrag tlb:tlb_flush sched:sched_switch
    filemap:mm_filemap_add_to_page_cache filemap:mm_filemap_delete_from_page_cache)
work=$(mktemp)
cat >"$work" <<WORK
#!/usr/bin/env bash
# Anonymous page churn: each round writes 128 MiB into fresh pages and frees them (alloc + free + batched free
# per 4 KiB page), plus some page-cache traffic.
for i in \$(seq 1 $((8 * scale))); do
  perl -e '\$x = "a" x (128 << 20); \$x =~ tr/a/b/;'
  dd if=/dev/zero of=$out/.pc bs=64k count=256 conv=fsync status=none; cat $out/.pc >/dev/null; rm -f $out/.pc
done
WORK
chmod +x "$work"
# Machine snapshots around the trace-cmd recording, in the layout `asitrace record` writes, so that
# `asitrace replay $out/large.dat --snapshot $out` starts from the real zones and is held to the fidelity targets.
snapshot() {
  local d="$out/$1"; mkdir -p "$d"
  for f in zoneinfo pagetypeinfo buddyinfo meminfo vmstat iomem cpuinfo; do cat /proc/$f >"$d/$f"; done
  uname -a >"$d/uname"; nproc >"$d/nproc"; cat $T/trace_clock >"$d/trace_clock"
  for e in "${EV[@]}"; do cp "$T/events/${e/://}/format" "$d/${e/:/.}.format" 2>/dev/null || true; done
}
args=(); for e in "${EV[@]}"; do args+=(-e "$e"); done
# Size the ring buffers first: allocating 2 × 64 MiB between the snapshot and the first event would leave the
# snapshot's pcp state far from the one the trace starts in.
echo 65536 >$T/buffer_size_kb
snapshot snapshot-start
trace-cmd record --no-filter -d -q -b 65536 "${args[@]}" -o "$out/large.dat" "$work" || true   # exits 1 on these VMs after a complete file
snapshot snapshot-end
perf record -q -a -m 16M "${args[@]}" -o "$out/large.perf.data" -- "$work" 2>/dev/null
rm -f "$work"
ls -la "$out"

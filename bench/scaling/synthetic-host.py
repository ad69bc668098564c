#!/usr/bin/env python3
"""synthetic-host.py SIZE_GIB CPUS OUTDIR: a start snapshot of a large host, for the scaling measurements.

It starts from the bundled churn sample's snapshot-start (a real 6.18 machine) and grows its Normal zone to SIZE_GIB of
RAM in all and its CPU count to CPUS: iomem, zoneinfo (one pageset per CPU), buddyinfo, pagetypeinfo, meminfo, nproc.
Nine tenths of Normal is free, in order-10 blocks, as on a host soon after boot. The other files are copied.
"""
import os, re, shutil, sys

size_gib, cpus, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample-traces", "churn", "snapshot-start")
if size_gib < 4: sys.exit("SIZE_GIB must be at least 4 (DMA and DMA32 take the first 4 GiB of physical addresses)")
os.makedirs(out, exist_ok=True)
for f in os.listdir(src):
    shutil.copy(os.path.join(src, f), os.path.join(out, f))

normal_start = 1 << 18 << 2          # pfn of 4 GiB
normal_pages = (size_gib - 3) << 18  # the first 4 GiB hold 3 GiB of RAM
free = normal_pages * 9 // 10 // 1024 * 1024
blocks = normal_pages // 512

with open(os.path.join(out, "iomem"), "w") as f:
    f.write("00001000-0009fbff : System RAM\n00100000-bfffffff : System RAM\n")
    f.write("%x-%x : System RAM\n" % (normal_start << 12, ((normal_start + normal_pages) << 12) - 1))
with open(os.path.join(out, "nproc"), "w") as f:
    f.write("%d\n" % cpus)

z = open(os.path.join(src, "zoneinfo")).read()
head, normal = z.split("Node 0, zone   Normal", 1)
normal, tail = normal.split("Node 0, zone  Movable", 1)
def field(text, name, value):
    return re.sub(r"(\n\s+%s\s+)\d+" % re.escape(name), lambda m: m.group(1) + str(value), text, count=1)
for name, value in [("pages free", free), ("spanned", normal_pages), ("present", normal_pages), ("managed", normal_pages),
                    ("nr_free_pages", free), ("nr_free_pages_blocks", free)]:
    normal = field(normal, name, value)
# min/low/high scale with managed pages (about sqrt(16 * managed KiB) spread over the zones; here: proportional).
scale = normal_pages / 1048576
for name in ["min", "low", "high", "promo"]:
    m = re.search(r"\n\s+%s\s+(\d+)" % name, normal)
    normal = field(normal, name, int(int(m.group(1)) * scale))
pagesets = "  pagesets\n" + "".join(
    "    cpu: %d\n              count:    0\n              high:     %d\n              batch:    63\n"
    "              high_min: %d\n              high_max: %d\n  vm stats threshold: 125\n" % (c, 6066, 6066, 65536) for c in range(cpus))
normal = re.sub(r"  pagesets\n.*?(?=  node_unreclaimable)", pagesets, normal, flags=re.S)
# The DMA32 and DMA zones' pagesets too: one per CPU, empty.
def grow(zone_text):
    return re.sub(r"  pagesets\n.*?(?=  node_unreclaimable)", pagesets, zone_text, flags=re.S)
head = "Node 0, zone".join(grow(part) for part in head.split("Node 0, zone"))
with open(os.path.join(out, "zoneinfo"), "w") as f:
    f.write(head + "Node 0, zone   Normal" + normal + "Node 0, zone  Movable" + tail)

b = open(os.path.join(src, "buddyinfo")).read().splitlines()
b = [l if "Normal" not in l else "Node 0, zone   Normal" + "      0" * 10 + "  %6d " % (free // 1024) for l in b]
open(os.path.join(out, "buddyinfo"), "w").write("\n".join(b) + "\n")

p = open(os.path.join(src, "pagetypeinfo")).read().splitlines()
res = []
for l in p:
    if "zone   Normal, type" in l:
        kind = l.split("type")[1].split()[0]
        counts = [0] * 11
        if kind == "Movable": counts[10] = free // 1024
        l = "Node    0, zone   Normal, type %12s" % kind + "".join("%7d" % c for c in counts) + " "
    elif re.match(r"Node 0, zone\s+Normal\s+\d", l):
        unmov = max(blocks // 100, 1)
        l = "Node 0, zone   Normal %12d %12d %12d %12d %12d " % (unmov, blocks - unmov, 0, 0, 0)
    res.append(l)
open(os.path.join(out, "pagetypeinfo"), "w").write("\n".join(res) + "\n")

m = open(os.path.join(src, "meminfo")).read()
m = re.sub(r"MemTotal:\s+\d+", "MemTotal:       %d" % (((size_gib - 1) << 20)), m)
m = re.sub(r"MemFree:\s+\d+", "MemFree:        %d" % ((free + 700000) * 4), m)
open(os.path.join(out, "meminfo"), "w").write(m)

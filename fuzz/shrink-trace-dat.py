#!/usr/bin/env python3
"""shrink-trace-dat.py IN OUT: a trace.dat (file version 6) small enough to seed afl++.

trace-cmd stores /proc/kallsyms and the printk formats in every file (megabytes), which afl++ would spend its time
mutating. This drops both sections (size 0, as trace-cmd writes when they are unavailable) and the ftrace-internal
formats, keeps the header pages, the event formats, the saved cmdlines, the options and every CPU's data, and moves each CPU's data to the
next page boundary with its flyrecord offset rewritten. The layout follows trace-cmd.dat(5) version 6.
"""
import struct
import sys


def shrink(data: bytes) -> bytes:
    if data[:10] != b"\x17\x08\x44tracing" or data[10:12] != b"6\0":
        raise SystemExit("not a version 6 trace.dat (record with --file-version 6)")
    endian = "<" if data[12] == 0 else ">"
    page = struct.unpack_from(endian + "I", data, 14)[0]
    pos = 18
    out = bytearray(data[:pos])

    def take(n):
        nonlocal pos
        b = data[pos:pos + n]
        pos += n
        return b

    for name in (b"header_page\0", b"header_event\0"):
        assert take(len(name)) == name
        (size,) = struct.unpack(endian + "Q", take(8))
        out += name + struct.pack(endian + "Q", size) + take(size)
    (count,) = struct.unpack(endian + "I", take(4))
    for _ in range(count):
        (size,) = struct.unpack(endian + "Q", take(8))
        take(size)
    out += struct.pack(endian + "I", 0)
    start = pos
    (systems,) = struct.unpack(endian + "I", take(4))
    for _ in range(systems):
        end = data.index(b"\0", pos)
        pos = end + 1
        (events,) = struct.unpack(endian + "I", take(4))
        for _ in range(events):
            (size,) = struct.unpack(endian + "Q", take(8))
            take(size)
    out += data[start:pos]
    for _ in ("kallsyms", "printk"):
        (size,) = struct.unpack(endian + "I", take(4))
        take(size)
        out += struct.pack(endian + "I", 0)
    (size,) = struct.unpack(endian + "Q", take(8))
    out += struct.pack(endian + "Q", size) + take(size)  # cmdlines: the comms of pids
    (cpus,) = struct.unpack(endian + "I", take(4))
    out += struct.pack(endian + "I", cpus)
    start = pos
    tag = take(10)
    if tag == b"options  \0":
        while True:
            (option,) = struct.unpack(endian + "H", take(2))
            if option == 0:
                break
            (size,) = struct.unpack(endian + "I", take(4))
            take(size)
        tag = take(10)
    assert tag == b"flyrecord\0", tag
    out += data[start:pos]
    cpu_data = []
    for _ in range(cpus):
        offset, size = struct.unpack(endian + "QQ", take(16))
        cpu_data.append(data[offset:offset + size])
    table = len(out)
    out += bytes(16 * cpus)
    for cpu, chunk in enumerate(cpu_data):
        offset = -(-len(out) // page) * page
        out += bytes(offset - len(out)) + chunk
        struct.pack_into(endian + "QQ", out, table + 16 * cpu, offset, len(chunk))
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], "rb") as f:
        small = shrink(f.read())
    with open(sys.argv[2], "wb") as f:
        f.write(small)

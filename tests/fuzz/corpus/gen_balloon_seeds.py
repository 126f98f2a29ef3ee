#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_balloon.

The input format (16-byte header, then guest RAM from guest-physical
0x10000) is documented at the top of tests/fuzz/fuzz_balloon.c; the
constants below must match it. Run from anywhere:
    python3 tests/fuzz/corpus/gen_balloon_seeds.py
"""
import functools
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # no __pycache__ beside the corpus
import seedlib  # noqa: E402
from seedlib import F_INDIRECT, F_NEXT, F_WRITE  # noqa: E402

RAM = 0x10000
EVENT_IDX, INDIRECT, KEEP, FAIL = 1, 2, 4, 8
INFLATE, DEFLATE, STATS, REPORT = range(4)
DESC, AVAIL, USED = 0x000, 0x100, 0x200
DATA = 0x1000


class Guest(seedlib.Guest):
    def __init__(self, qlog2=3):
        super().__init__(qlog2, 0x300, DESC, AVAIL, base=RAM)

    def seed(self, role, count, flags=0):
        hdr = struct.pack("<BBBBHHH6x", self.qlog2, flags, role, count, DESC, AVAIL, USED)
        return hdr + bytes(self.ram)


write = functools.partial(seedlib.write, "balloon")


def pfn_buffer(pfns, flags=0, role=INFLATE, split=False):
    g = Guest()
    raw = struct.pack("<%dI" % len(pfns), *pfns)
    g.put(DATA, "%ds" % len(raw), raw)
    if split:
        half = len(raw) // 2 + 1
        g.desc(0, DATA, half, F_NEXT, 1)
        g.desc(1, DATA + half, len(raw) - half)
    else:
        g.desc(0, DATA, len(raw))
    g.avail(0, 0)
    return g.seed(role, 1, flags)


# Good runs, a duplicate, PFNs outside RAM (below, above, huge).
write("inflate-runs", pfn_buffer([20, 19, 18, 17, 21, 21, 30, 31]))
write("inflate-bad", pfn_buffer([0, 15, 32, 0xffffffff, 16, 31]))
write("inflate-split", pfn_buffer(list(range(16, 32)), split=True))
write("inflate-keep", pfn_buffer(list(range(16, 32)), KEEP))
write("inflate-fail", pfn_buffer([16, 17, 24], FAIL))
write("deflate", pfn_buffer([16, 17, 18, 40, 24], role=DEFLATE))
# Statistics: tags 0-15, an unknown tag, a trailing partial entry.
g = Guest()
stats = b"".join(struct.pack("<HQ", t, 1000 + t) for t in list(range(16)) + [99]) + b"\x05\x00"
g.put(DATA, "%ds" % len(stats), stats)
g.desc(0, DATA, len(stats))
g.avail(0, 0)
write("stats", g.seed(STATS, 1))
# A free page report: two writable pages, one unaligned range, through an
# indirect table.
g = Guest()
g.desc(0, 0x2000, 0x2000, F_WRITE, 1, table=0x400)
g.desc(1, 0x6100, 0x2000, F_WRITE, 0, table=0x400)
g.desc(0, 0x400, 32, F_INDIRECT)
g.avail(0, 0)
write("report-indirect", g.seed(REPORT, 1, INDIRECT | EVENT_IDX))
# A broken ring: a head past the queue size.
g = Guest()
g.avail(0, 200)
write("broken-head", g.seed(INFLATE, 1))

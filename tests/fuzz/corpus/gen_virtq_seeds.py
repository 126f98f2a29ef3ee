#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_virtq.

The input format (16-byte header, optional inflight region bytes, then guest
RAM from guest-physical 0) is documented at the top of
tests/fuzz/fuzz_virtq.c; the constants below must match it. Run from
anywhere:
    python3 tests/fuzz/corpus/gen_virtq_seeds.py
"""
import functools
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # no __pycache__ beside the corpus
import seedlib  # noqa: E402
from seedlib import F_INDIRECT, F_NEXT, F_WRITE  # noqa: E402

# header flags
EVENT_IDX, INDIRECT, INFLIGHT, INFLIGHT_DATA, SMALL_ELEM, UNPOP, POLL = (1 << i for i in range(7))

# Placement in these seeds. Buffers need no bytes in the seed: guest RAM is
# 64 KiB whatever the input's length, zero past it.
DESC, AVAIL, USED, TABLE = 0x000, 0x100, 0x200, 0x300
DATA = 0x1000


class Guest(seedlib.Guest):
    def __init__(self, qlog2, size=0x300):
        super().__init__(qlog2, size, DESC, AVAIL)

    def used_idx(self, idx):
        self.put(USED + 2, "<H", idx)

    def used_event(self, v):
        self.put(AVAIL + 4 + 2 * self.num, "<H", v)

    def seed(self, flags=0, last=0, count=1, inflight=b"", dma=0):
        hdr = struct.pack("<BBHHHHBBI", self.qlog2, flags, DESC, AVAIL, USED,
                          last, count, dma, 0)
        return hdr + inflight + bytes(self.ram)


write = functools.partial(seedlib.write, "virtq")


def main():
    # A block request: header, data, status.
    g = Guest(3)
    g.desc(0, DATA, 16, F_NEXT, 1)
    g.desc(1, DATA + 0x100, 512, F_NEXT | F_WRITE, 2)
    g.desc(2, DATA + 0x400, 1, F_WRITE)
    g.avail(0, 0)
    write("direct", g.seed())

    # The same through an indirect table, plus a direct chain after it.
    g = Guest(3)
    g.desc(0, DATA, 16, F_NEXT, 1, table=TABLE)
    g.desc(1, DATA + 0x100, 512, F_NEXT | F_WRITE, 2, table=TABLE)
    g.desc(2, DATA + 0x400, 1, F_WRITE, table=TABLE)
    g.desc(0, TABLE, 48, F_INDIRECT)
    g.desc(1, DATA + 0x500, 8, F_NEXT, 2)
    g.desc(2, TABLE + 0x100, 16, F_INDIRECT)
    g.desc(0, DATA + 0x600, 32, F_WRITE, table=TABLE + 0x100)
    g.avail(0, 0)
    g.avail(1, 1)
    write("indirect", g.seed(INDIRECT, count=2))

    # A buffer across the two RAM regions (they meet at 0x8000).
    g = Guest(3)
    g.desc(0, 0x7f00, 0x200, F_WRITE)
    g.avail(0, 0)
    write("split", g.seed())

    # Through the test IOMMU (second region read-only for the device): a
    # readable buffer there is fine, a writable one breaks the ring.
    g = Guest(3)
    g.desc(0, 0x8100, 0x40, F_NEXT, 1)
    g.desc(1, DATA, 0x40, F_WRITE)
    g.desc(2, 0x8200, 0x40, F_WRITE)
    g.avail(0, 0)
    g.avail(1, 2)
    write("dma_readonly", g.seed(count=2, dma=1))

    # Indices about to wrap, with EVENT_IDX and kicks polled.
    g = Guest(2)
    for i in range(4):
        g.desc(i, DATA + 0x40 * i, 0x40, F_WRITE if i & 1 else 0)
        g.avail(65534 + i, i)
    g.used_idx(65534)
    g.used_event(0)
    write("wrap", g.seed(EVENT_IDX | POLL, last=65534, count=4))

    # Unpop and a small element.
    g = Guest(4)
    for i in range(6):
        g.desc(i, DATA + 8 * i, 8, F_NEXT if i < 5 else 0, i + 1)
    g.avail(0, 0)
    g.desc(8, DATA, 4)
    g.avail(1, 8)
    write("unpop_small", g.seed(UNPOP | SMALL_ELEM, count=2))

    # A loop and an avail index jump: broken rings.
    g = Guest(3)
    g.desc(0, DATA, 8, F_NEXT, 1)
    g.desc(1, DATA, 8, F_NEXT, 0)
    g.avail(0, 0)
    write("loop", g.seed())
    write("jump", g.seed(count=9))

    # Inflight: heads 1 and 3 inflight (3 older), then one new chain.
    g = Guest(3)
    for i in range(4):
        g.desc(i, DATA + 0x10 * i, 0x10, F_WRITE)
    g.avail(0, 1)
    g.avail(1, 3)
    g.avail(2, 0)
    g.avail(3, 2)
    g.used_idx(2)
    region = bytearray(16 + 16 * 8)
    struct.pack_into("<QHHHH", region, 0, 0, 1, 8, 0, 2)
    struct.pack_into("<B5xHQ", region, 16 + 16 * 1, 1, 0, 7)
    struct.pack_into("<B5xHQ", region, 16 + 16 * 3, 1, 0, 5)
    write("inflight", g.seed(INFLIGHT | INFLIGHT_DATA, last=2, count=3,
                             inflight=bytes(region)))
    write("inflight_fresh", g.seed(INFLIGHT, count=4))


if __name__ == "__main__":
    main()

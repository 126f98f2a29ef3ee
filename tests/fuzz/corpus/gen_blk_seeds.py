#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_blk.

The input format (8-byte header, then guest RAM from guest-physical 0 with
the ring at fixed places) is documented at the top of tests/fuzz/fuzz_blk.c;
the constants below must match it. Run from anywhere:
    python3 tests/fuzz/corpus/gen_blk_seeds.py
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
EVENT_IDX, INDIRECT, RO, SMALL_ELEM, DEPTH1, NO_DISCARD = (1 << i for i in range(6))
# request types and flags (linux/virtio_blk.h)
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
UNMAP = 1
DESC, AVAIL, USED = 0x000, 0x400, 0x600
HDRS, TABLE, DATA = 0x1000, 0x2000, 0x3000
REGION = 0x8000


class Guest(seedlib.Guest):
    def __init__(self, qlog2=4):
        super().__init__(qlog2, 0x1000, DESC, AVAIL)
        self.next_desc = 0
        self.chains = 0
        self.next_hdr = HDRS

    def header(self, typ, sector=0, extra=b""):
        gpa = self.next_hdr
        self.put(gpa, "<IIQ", typ, 0, sector)
        for i, b in enumerate(extra):
            self.put(gpa + 16 + i, "<B", b)
        self.next_hdr += 16 + len(extra) + 16
        return gpa

    def chain(self, bufs, indirect=False):
        """bufs: (addr, len, writable) in order; one chain made available."""
        if indirect:
            for i, (a, n, w) in enumerate(bufs):
                last = i == len(bufs) - 1
                self.desc(i, a, n, (F_WRITE if w else 0) | (0 if last else F_NEXT),
                          i + 1, table=TABLE)
            head = self.next_desc
            self.desc(head, TABLE, 16 * len(bufs), F_INDIRECT)
            self.next_desc += 1
        else:
            head = self.next_desc
            for i, (a, n, w) in enumerate(bufs):
                d = head + i
                last = i == len(bufs) - 1
                self.desc(d, a, n, (F_WRITE if w else 0) | (0 if last else F_NEXT), d + 1)
            self.next_desc += len(bufs)
        self.avail(self.chains, head)
        self.chains += 1

    def seed(self, flags=0, slots=4, count=None):
        n = self.chains if count is None else count
        hdr = struct.pack("<BBBBI", self.qlog2, flags, n, slots - 1, 0)
        return hdr + bytes(self.ram)


def ranges(*rs, flags=0):
    return b"".join(struct.pack("<QII", s, n, flags) for s, n in rs)


write = functools.partial(seedlib.write, "blk")


def main():
    g = Guest()
    g.chain([(g.header(T_OUT, 8), 16, False), (DATA, 4096, False), (DATA + 0x2000, 1, True)])
    g.chain([(g.header(T_IN, 8), 16, False), (DATA + 0x1000, 4096, True),
             (DATA + 0x2001, 1, True)])
    g.chain([(g.header(T_FLUSH), 16, False), (DATA + 0x2002, 1, True)])
    write("write_read_flush", g.seed())

    g = Guest()
    g.chain([(g.header(T_GET_ID), 16, False), (DATA, 20, True), (DATA + 20, 1, True)])
    g.chain([(g.header(T_GET_ID), 16, False), (DATA + 64, 5, True)])
    write("get_id", g.seed())

    g = Guest()
    h = g.header(T_DISCARD, 0, ranges((0, 8), (100, 16)))
    g.chain([(h, 48, False), (DATA, 1, True)])
    h = g.header(T_WRITE_ZEROES, 0, ranges((200, 8), flags=UNMAP))
    g.chain([(h, 32, False), (DATA + 1, 1, True)])
    h = g.header(T_DISCARD, 0, ranges((0, 8), flags=UNMAP))
    g.chain([(h, 32, False), (DATA + 2, 1, True)])
    write("discard_zeroes", g.seed())
    write("discard_zeroes_ro", g.seed(RO | NO_DISCARD))

    # Header split over several descriptors, data across the region
    # boundary, status in the last data buffer.
    g = Guest()
    h = g.header(T_OUT, 50)
    g.chain([(h, 3, False), (h + 3, 6, False), (h + 9, 7, False),
             (REGION - 1024, 2048, False), (DATA, 1, True)])
    h = g.header(T_IN, 50)
    g.chain([(h, 16, False), (REGION - 512, 1025, True)])
    write("split", g.seed())

    g = Guest()
    g.chain([(g.header(T_OUT, 16), 16, False), (DATA, 1024, False), (DATA + 0x1000, 1, True)],
            indirect=True)
    write("indirect", g.seed(INDIRECT | EVENT_IDX))

    g = Guest()
    g.chain([(g.header(T_OUT, 2047), 16, False), (DATA, 1024, False), (DATA + 0x1000, 1, True)])
    g.chain([(g.header(T_IN, 0xffffffffffffff00), 16, False), (DATA, 513, True)])
    g.chain([(g.header(T_OUT, 0), 16, False), (DATA, 100, False), (DATA + 0x1000, 1, True)])
    g.chain([(g.header(0x77), 16, False), (DATA + 0x1000, 1, True)])
    g.chain([(g.header(T_IN), 8, False), (DATA + 0x1000, 1, True)])
    write("errors", g.seed())

    g = Guest()
    g.chain([(g.header(T_OUT, 0), 16, False), (DATA, 512, False)])   # no status
    write("no_status", g.seed())

    g = Guest(qlog2=3)
    for i in range(8):
        g.chain([(g.header(T_OUT if i % 2 else T_IN, 8 * i), 16, False),
                 (DATA + 0x200 * i, 512, i % 2 == 0), (DATA + 0x1800 + i, 1, True)])
    write("batch_backpressure", g.seed(DEPTH1, slots=8))
    write("batch_small", g.seed(SMALL_ELEM, slots=3))


if __name__ == "__main__":
    main()

"""What the virtqueue seed generators share (gen_virtq_seeds.py,
gen_blk_seeds.py, gen_balloon_seeds.py): guest RAM holding a split ring,
and writing a seed into the corpus. Each fuzzer's input header and ring
placement stay in its own script, which matches them to its fuzz_*.c.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# descriptor flags (linux/virtio_ring.h)
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


class Guest:
    """size bytes of guest RAM (grown as written) with a queue of 2**qlog2
    entries: the descriptor table at offset desc_at, the avail ring at
    avail_at. Descriptors name guest-physical base + an offset in RAM."""

    def __init__(self, qlog2, size, desc_at, avail_at, base=0):
        self.num = 1 << qlog2
        self.qlog2 = qlog2
        self.ram = bytearray(size)
        self.desc_at = desc_at
        self.avail_at = avail_at
        self.base = base

    def put(self, off, fmt, *vals):
        end = off + struct.calcsize(fmt)
        if end > len(self.ram):
            self.ram.extend(bytes(end - len(self.ram)))
        struct.pack_into(fmt, self.ram, off, *vals)

    def desc(self, i, addr, length, flags=0, nxt=0, table=None):
        """Descriptor i of the ring's table, or of the indirect table at
        offset table."""
        at = self.desc_at if table is None else table
        self.put(at + 16 * i, "<QIHH", self.base + addr, length, flags, nxt)

    def avail(self, slot, head):
        self.put(self.avail_at + 4 + 2 * (slot % self.num), "<H", head)


def write(corpus, name, data):
    """Writes data as seed name of corpus/<corpus>/."""
    d = os.path.join(HERE, corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_ioapic (corpus/ioapic/).

Records are 8 bytes <op u8, width u8, offset u16, value u32>, little-endian:
op 0 MMIO read, 1 MMIO write, 2 set line (offset = pin, value & 1 = level),
3 EOI (value = vector). Run from anywhere:
    python3 tests/fuzz/corpus/gen_ioapic_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
IOREGSEL, IOWIN = 0x00, 0x10
LEVEL, MASKED = 1 << 15, 1 << 16


def rec(op, width, offset, value=0):
    return struct.pack("<BBHI", op, width, offset & 0xffff, value & 0xffffffff)


def reg_wr(reg, value):
    return rec(1, 4, IOREGSEL, reg) + rec(1, 4, IOWIN, value)


def reg_rd(reg):
    return rec(1, 4, IOREGSEL, reg) + rec(0, 4, IOWIN)


def rte(pin, lo, dest=0):
    return reg_wr(0x11 + 2 * pin, dest << 24) + reg_wr(0x10 + 2 * pin, lo)


def line(pin, level):
    return rec(2, 0, pin, level)


def eoi(vector):
    return rec(3, 0, 0, vector)


SEEDS = {
    "registers": reg_rd(0) + reg_rd(1) + reg_rd(2) + reg_wr(0, 0xffffffff) + reg_rd(2) +
                 reg_wr(0x10, 0xffffffff) + reg_wr(0x11, 0xffffffff) + reg_rd(0x10) +
                 reg_rd(0x40) + reg_rd(0xff),
    "edge": rte(5, 0x30) + line(5, 1) + line(5, 0) + line(5, 1) + rte(5, MASKED | 0x30) +
            line(5, 0) + line(5, 1) + rte(5, 0x30),
    "level": rte(10, LEVEL | 0x41, 1) + line(10, 1) + eoi(0x42) + eoi(0x41) + line(10, 0) +
             eoi(0x41) + rte(10, MASKED | LEVEL | 0x41) + line(10, 1) + rte(10, LEVEL | 0x41) +
             rte(10, 0x41) + rte(10, LEVEL | 0x41) + eoi(0x41),
    "shared": rte(3, LEVEL | 0x50) + rte(4, LEVEL | 0x50) + line(3, 1) + line(4, 1) +
              line(3, 0) + eoi(0x50) + line(4, 0) + eoi(0x50),
    "hostile": rec(0, 1, IOWIN) + rec(1, 2, IOREGSEL, 0x10) + rec(1, 8, IOWIN, 0) +
               rec(0, 4, 0x14) + rec(1, 4, 0xffc, 1) + rec(0, 16, 0xff0) + line(24, 1) +
               line(25, 1) + rec(1, 4, IOREGSEL, 0x1ff) + rec(1, 4, IOWIN, 0) + eoi(0),
}

out = os.path.join(HERE, "ioapic")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

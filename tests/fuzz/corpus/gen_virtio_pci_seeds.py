#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_virtio_pci (tests/fuzz/corpus/virtio_pci).

Records are 14 bytes <op u8, width u8, offset u32, value u64> little-endian;
op bit 0 = write, bits 3-1 = target (see the top of fuzz_virtio_pci.c, whose
constants these must match: 3 queues of at most 64, 64 KiB of RAM at 1 MiB,
20 bytes of device config). Run from anywhere:
    python3 tests/fuzz/corpus/gen_virtio_pci_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON, ISR, DEVCFG, NOTIFY, RAW, CFG, MSIX, DEVICE = range(8)
RAM = 0x100000

# common config offsets (linux/virtio_pci.h)
DFSEL, DF, GFSEL, GF, MSIXV, NUMQ, STATUS, GEN = 0, 4, 8, 12, 16, 18, 20, 21
QSEL, QSIZE, QMSIX, QEN, QNOFF = 22, 24, 26, 28, 30
QDESC, QAVAIL, QUSED = 32, 40, 48
ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
VERSION_1 = 1 << 32
EVENT_IDX = 1 << 29


def rec(target, write, width, offset, value=0):
    return struct.pack("<BBIQ", target << 1 | int(write), width, offset & 0xffffffff,
                       value & 0xffffffffffffffff)


def wr(target, off, val, width):
    return rec(target, True, width, off, val)


def rd(target, off, width):
    return rec(target, False, width, off)


def negotiate(features):
    s = wr(COMMON, STATUS, ACK, 1) + wr(COMMON, STATUS, ACK | DRIVER, 1)
    for sel in (0, 1):
        s += wr(COMMON, DFSEL, sel, 4) + rd(COMMON, DF, 4)
        s += wr(COMMON, GFSEL, sel, 4) + wr(COMMON, GF, features >> (32 * sel), 4)
    s += wr(COMMON, STATUS, ACK | DRIVER | FEATURES_OK, 1) + rd(COMMON, STATUS, 1)
    return s


def queue(q, size, base, vector, width64=False):
    s = wr(COMMON, QSEL, q, 2) + rd(COMMON, QSIZE, 2) + wr(COMMON, QSIZE, size, 2)
    s += wr(COMMON, QMSIX, vector, 2) + rd(COMMON, QMSIX, 2) + rd(COMMON, QNOFF, 2)
    for off, addr in ((QDESC, base), (QAVAIL, base + 16 * size), (QUSED, base + 0x1000)):
        if width64:
            s += wr(COMMON, off, addr, 8)
        else:
            s += wr(COMMON, off, addr & 0xffffffff, 4) + wr(COMMON, off + 4, addr >> 32, 4)
    return s + wr(COMMON, QEN, 1, 2)


def msix_on(vectors):
    # MSI-X capability sits after the five virtio capabilities; enable it
    # through config space at its real offset (0x40 + 16+20+16+16+20 = 0x98)
    s = wr(CFG, 0x9a, 0x8000, 2)
    for v in vectors:
        s += wr(MSIX, v * 16, 0xfee00000, 4) + wr(MSIX, v * 16 + 8, 0x30 + v, 4)
        s += wr(MSIX, v * 16 + 12, 0, 4)
    return s


def write(name, data):
    d = os.path.join(HERE, "virtio_pci")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    # What Linux's virtio_pci_modern does for one virtio-blk queue.
    s = msix_on([0, 1]) + wr(COMMON, MSIXV, 0, 2) + negotiate(VERSION_1 | EVENT_IDX)
    s += queue(0, 64, RAM, 1) + rd(DEVCFG, 0, 4) + rd(DEVCFG, 4, 4)
    s += wr(COMMON, STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    s += wr(NOTIFY, 0, 0, 2) + rec(DEVICE, True, 0, 0, 2) + rd(ISR, 0, 1)
    s += wr(COMMON, STATUS, 0, 1) + rd(COMMON, STATUS, 1)
    write("linux_init_reset", s)

    # Three queues, 64-bit address writes, then a config change.
    s = negotiate(VERSION_1)
    for q in range(3):
        s += queue(q, 16, RAM + 0x4000 * q, q + 1, width64=True)
    s += wr(COMMON, STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    s += rec(DEVICE, True, 0, 1, 0) + rd(COMMON, GEN, 1)
    write("three_queues", s)

    # Bad queue select, bad sizes, bad vectors, features not offered.
    s = wr(COMMON, QSEL, 3, 2) + wr(COMMON, QSIZE, 16, 2) + rd(COMMON, QSIZE, 2)
    s += wr(COMMON, QSEL, 0, 2) + wr(COMMON, QSIZE, 48, 2) + wr(COMMON, QSIZE, 128, 2)
    s += wr(COMMON, QMSIX, 9, 2) + wr(COMMON, MSIXV, 0xfffe, 2)
    s += negotiate(VERSION_1 | 1 << 34) + negotiate(1 << 1)
    s += wr(COMMON, STATUS, DRIVER_OK, 1)
    write("bad_values", s)

    # A ring that runs out of RAM: NEEDS_RESET, then reset.
    s = negotiate(VERSION_1) + queue(0, 64, RAM + 0xf000, 0xffff)
    s += wr(COMMON, STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    s += rd(COMMON, STATUS, 1) + wr(COMMON, STATUS, 0, 1) + negotiate(VERSION_1)
    write("ring_outside_ram", s)

    # The PCI_CFG window (capability at 0x84): aim at status, write through.
    s = wr(CFG, 0x88, 4, 1) + wr(CFG, 0x8c, STATUS, 4) + wr(CFG, 0x90, 1, 4)
    s += rd(CFG, 0x94, 4) + wr(CFG, 0x94, ACK, 1) + wr(CFG, 0x8c, 0x3000, 4)
    s += wr(CFG, 0x90, 2, 4) + wr(CFG, 0x94, 0, 2)
    write("cfg_window", s)

    # Relayed interrupts while masked, unmask, relay again (upgrade).
    s = negotiate(VERSION_1) + queue(1, 32, RAM + 0x2000, 2)
    s += wr(COMMON, STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    s += rec(DEVICE, True, 0, 1, 2) + msix_on([2]) + rec(DEVICE, True, 0, 1, 2)
    s += rd(MSIX, 0x800, 8) + rec(DEVICE, True, 0, 1, 1)
    write("relay", s)


if __name__ == "__main__":
    main()

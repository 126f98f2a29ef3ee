#!/usr/bin/env python3
"""Writes the seed corpora for fuzz_pci_cfg and fuzz_msix.

Both fuzzers read 14-byte records <op u8, width u8, offset u32, value u64>
(little-endian); op bit 0 = write, bits 3-1 = target. fuzz_msix inputs start
with a 2-byte vector count selector. Targets and the device layout (BAR
placement, capability offsets) are documented at the top of each fuzzer;
the constants below must match them. Run from anywhere:
    python3 tests/fuzz/corpus/gen_pci_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# fuzz_pci_cfg targets
ECAM, PORTS, CFG, SLOTREG, MMIO32, MMIO64, PIO, NOTIFY = range(8)
# fuzz_msix targets
RAW, TABLE, PBA, CAP, CFGANY, MNOTIFY, DRAIN, BARMMIO = range(8)

MSIX_CAP_A = 0x48      # device A in fuzz_pci_cfg


def rec(target, write, width, offset, value=0):
    return struct.pack("<BBIQ", target << 1 | int(write), width, offset & 0xffffffff,
                       value & 0xffffffffffffffff)


def rd(target, offset, width=4):
    return rec(target, False, width, offset)


def wr(target, offset, value, width=4):
    return rec(target, True, width, offset, value)


def slotreg(slot, reg):
    return slot << 8 | reg


def write(sub, name, data):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pci_seeds():
    # BAR sizing the way Linux does it, with decode off, then restore.
    orig = {1: [0xc0000000, 0xc001, 0x0000000c, 0x4, 0xc0001000, 0],
            2: [0xc0004004, 0, 0xc101, 0, 0xc4000000, 0]}
    s = b""
    for slot, vals in orig.items():
        for i, v in enumerate(vals):
            reg = 0x10 + 4 * i
            s += wr(SLOTREG, slotreg(slot, reg), 0xffffffff) + rd(SLOTREG, slotreg(slot, reg))
            s += wr(SLOTREG, slotreg(slot, reg), v)
        s += wr(SLOTREG, slotreg(slot, 0x30), 0xfffff800) + rd(SLOTREG, slotreg(slot, 0x30))
    write("pci_cfg", "bar_sizing", s)

    # Legacy config mechanism: address, then data bytes/words/dwords.
    s = b""
    for slot in range(4):
        for reg in (0x00, 0x04, 0x08, 0x0c, 0x10, 0x34, 0x3c):
            s += wr(PORTS, 0, 0x80000000 | slot << 11 | reg)
            s += rd(PORTS, 4) + rd(PORTS, 6, 2) + rd(PORTS, 7, 1)
    s += wr(PORTS, 0, 0x80000800 | 0x3c) + wr(PORTS, 4, 0x0a, 1)
    s += wr(PORTS, 1, 0x06, 1) + rd(PORTS, 0)
    write("pci_cfg", "cf8_scan", s)

    # ECAM reads of the headers, including absent functions and buses.
    s = b""
    for slot in range(3):
        for reg in range(0, 0x40, 4):
            s += rd(ECAM, slot << 15 | reg)
    s += rd(ECAM, 1 << 15 | 1 << 12) + rd(ECAM, 1 << 20) + rd(ECAM, 1 << 15 | 0x48)
    write("pci_cfg", "ecam_headers", s)

    # Decode on, touch every BAR, move one, decode off.
    s = wr(SLOTREG, slotreg(1, 4), 0x7, 2) + wr(SLOTREG, slotreg(2, 4), 0x7, 2)
    s += rd(MMIO32, 0) + wr(MMIO32, 8, 0x1234) + rd(MMIO32, 0x1000) + rd(MMIO32, 0x4000, 8)
    s += rd(MMIO64, 0) + rd(PIO, 0, 1) + rd(PIO, 0x100, 2)
    s += wr(SLOTREG, slotreg(1, 0x10), 0xc0100000) + rd(MMIO32, 0x100000)
    s += rd(MMIO32, 0x4000000) + wr(SLOTREG, slotreg(2, 0x20), 0xfc000000)
    s += rd(MMIO32, 0x3c000000) + wr(SLOTREG, slotreg(2, 0x20), 0xc4000000)
    s += wr(SLOTREG, slotreg(1, 6), 0xffff, 2)
    s += wr(SLOTREG, slotreg(1, 4), 0, 2) + rd(MMIO32, 0x100000)
    write("pci_cfg", "decode", s)

    # MSI-X through the BAR: enable, program, unmask, notify, mask, unmask.
    s = wr(SLOTREG, slotreg(1, 4), 0x6, 2)
    s += wr(SLOTREG, slotreg(1, MSIX_CAP_A + 2), 0xc000, 2)
    for n in range(8):
        base = 0x1000 + 16 * n
        s += wr(MMIO32, base, 0x1fee00000, 8) + wr(MMIO32, base + 8, 0x4020 + n)
        s += wr(MMIO32, base + 12, 0)
    s += rec(NOTIFY, False, 0, 3) + rd(MMIO32, 0x1800, 8)
    s += wr(SLOTREG, slotreg(1, MSIX_CAP_A + 2), 0x8000, 2) + rd(MMIO32, 0x1800, 8)
    s += wr(MMIO32, 0x1000 + 12, 1) + rec(NOTIFY, False, 0, 0) + wr(MMIO32, 0x1000 + 12, 0)
    write("pci_cfg", "msix", s)

    # Illegal widths and offsets everywhere.
    s = b""
    for width in (0, 3, 5, 8):
        s += rd(CFG, 1 << 15, width) + wr(CFG, 1 << 15 | 4, 0xffffffff, width)
        s += rd(PORTS, 4, width) + wr(ECAM, 1 << 15 | 4, 0xffff, width)
    s += rd(CFG, 1 << 15 | 0xfff) + rd(CFG, 1 << 15 | 0xffc) + rd(CFG, 1 << 15 | 0x1000, 1)
    s += rd(SLOTREG, slotreg(1, 0xfe), 4) + wr(SLOTREG, slotreg(1, 5), 0xffff, 2)
    s += wr(PORTS, 2, 0xffff, 2) + wr(PORTS, 3, 0xff, 1) + rd(PORTS, 5, 2)
    write("pci_cfg", "bad_widths", s)


def msix_seeds():
    def hdr(nr):
        return struct.pack("<H", nr - 1)

    ctl = 2   # PCI_MSIX_FLAGS: CAP target offsets are relative to the capability

    s = hdr(4) + wr(CAP, ctl, 0x8000, 2)
    for n in range(4):
        s += wr(TABLE, n << 4 | 0, 0xfee00000) + wr(TABLE, n << 4 | 8, 0x4030 + n)
    s += rec(MNOTIFY, False, 0, 1) + rd(PBA, 0, 8)
    s += wr(TABLE, 1 << 4 | 12, 0) + rec(DRAIN, False, 0, 1)
    s += rec(MNOTIFY, False, 0, 1) + wr(TABLE, 1 << 4 | 8, 0x4099)
    s += wr(TABLE, 1 << 4 | 12, 1) + rec(MNOTIFY, False, 0, 1) + wr(TABLE, 1 << 4 | 12, 0)
    s += wr(CAP, ctl, 0, 2) + rec(MNOTIFY, False, 0, 2)
    write("msix", "basic", s)

    s = hdr(64) + wr(CAP, ctl, 0xc000, 2)
    for n in range(64):
        s += wr(TABLE, n << 4 | 8, n, 8)   # data = n, control = 0 (unmasked)
    for n in range(0, 64, 7):
        s += rec(MNOTIFY, False, 0, n)
    s += rd(PBA, 0, 8) + wr(PBA, 0, 0, 8) + wr(CAP, ctl, 0x8000, 2) + rd(PBA, 0, 4)
    write("msix", "maskall", s)

    s = hdr(3) + wr(CAP, ctl, 0x8000, 2)
    s += wr(TABLE, 2 << 4, 0x00000002fee01000, 8) + wr(TABLE, 2 << 4 | 8, 0x4041, 8)
    s += rd(TABLE, 2 << 4, 8) + rd(TABLE, 2 << 4 | 8, 8) + wr(TABLE, 2 << 4 | 4, 0, 8)
    s += wr(TABLE, 2 << 4 | 2, 0, 4) + rd(TABLE, 2 << 4 | 12, 2)
    write("msix", "qword", s)

    s = hdr(2048) + wr(CAP, ctl, 0x8000, 2)
    for n in (0, 63, 64, 1000, 2047):
        s += wr(TABLE, n << 4 | 12, 0) + rec(MNOTIFY, False, 0, n)
    s += rec(MNOTIFY, False, 0, 2048) + rd(PBA, 0xf8, 8) + rd(RAW, 0x8100, 4)
    write("msix", "big", s)

    s = hdr(8) + wr(CFGANY, 4, 0x2, 2) + wr(CAP, ctl, 0x8000, 2)
    s += wr(BARMMIO, 0, 0xfee00000) + wr(BARMMIO, 8, 0x4050) + wr(BARMMIO, 12, 0)
    s += rd(BARMMIO, 0x8000, 8) + rd(BARMMIO, 0x4000) + wr(CFGANY, 0x10, 0xffffffff)
    s += rd(CFGANY, 0x10) + wr(CFGANY, 0x10, 0xc0000000)
    write("msix", "mmio", s)


if __name__ == "__main__":
    pci_seeds()
    msix_seeds()

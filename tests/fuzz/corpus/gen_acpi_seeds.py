#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_acpi (corpus/acpi/): isle's own
configurations (1, 4 and 255 CPUs; with and without the DMAR; 39 and 48
bits) and a few it must refuse. Layout as in fuzz_acpi.c. Run from anywhere:
    python3 tests/fuzz/corpus/gen_acpi_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def seed(cpus, dmar=0, width48=True, drhd=0xfed90000, mmio64=(0x1000000000, 64 << 30),
         cut=0, ioapic_id=None, bad_width=False):
    flags = (1 if dmar else 0) | (2 if dmar else 0) | (4 if width48 else 0) | (8 if bad_width else 0)
    return struct.pack("<HHQQQQQQQQHHBBHH", cpus, 256, 0xb0000000, 0xc0000000, 0x3ec00000,
                       mmio64[0], mmio64[1], 0xfec00000, 0xfee00000, drhd, 0xc000, 0x4000,
                       flags, cpus if ioapic_id is None else ioapic_id, 0xf0f8, cut)


SEEDS = {
    "one-cpu": seed(1),
    "four-cpus-dmar48": seed(4, dmar=1),
    "two-cpus-dmar39": seed(2, dmar=1, width48=False),
    "max-cpus-dmar": seed(255, dmar=1),
    "no-mmio64": seed(1, mmio64=(0, 0)),
    "dmar-bad-width": seed(1, dmar=1, bad_width=True),
    "dmar-unaligned-base": seed(1, dmar=1, drhd=0xfed90010),
    "dmar-wrong-ioapic-id": seed(2, dmar=1, ioapic_id=7),
    "too-small": seed(4, dmar=1, cut=0x1ef00 // 2),
    "zero-cpus": seed(0),
}

os.makedirs(os.path.join(HERE, "acpi"), exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, "acpi", name), "wb") as f:
        f.write(data)

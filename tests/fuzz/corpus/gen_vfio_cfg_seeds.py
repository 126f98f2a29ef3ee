#!/usr/bin/env python3
"""Seeds for fuzz_vfio_cfg: config spaces of the lab's devices as isle sees
them (edu: MSI; nvme: PM, MSI-X in BAR0, PCIe with extended capabilities;
a device with a looping list), each followed by guest accesses (8 bytes:
offset, width code, write flag, value)."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vfio_cfg")


def space():
    return bytearray(4096)


def op(off, width, write, val):
    code = {1: 0, 2: 1, 4: 2}[width]
    return struct.pack("<HBBI", off, code, 1 if write else 0, val)


def edu():
    c = space()
    struct.pack_into("<HHHH", c, 0, 0x1234, 0x11e8, 0, 0x10)
    c[0x34] = 0x40
    c[0x3d] = 1
    c[0x40:0x44] = bytes([0x05, 0, 0x80, 0])   # MSI, 64-bit
    ops = op(0x04, 2, 1, 6) + op(0x44, 4, 1, 0xfee00000) + op(0x4c, 2, 1, 0x41) + \
        op(0x42, 2, 1, 0x81) + op(0x42, 2, 1, 0x80) + op(0x40, 4, 0, 0)
    return bytes(c) + ops


def nvme():
    c = space()
    struct.pack_into("<HHHH", c, 0, 0x1b36, 0x0010, 0, 0x10)
    c[0x34] = 0x40
    c[0x40:0x48] = bytes([0x01, 0x50, 0x03, 0, 0, 0, 0, 0])      # PM
    c[0x50:0x5c] = bytes([0x11, 0x60, 64, 0]) + struct.pack("<II", 0x2000, 0x3000)  # MSI-X
    c[0x60:0x64] = bytes([0x10, 0, 0x02, 0])                       # PCIe
    struct.pack_into("<I", c, 0x100, 0x0001 | 2 << 16 | 0x148 << 20)   # AER
    struct.pack_into("<I", c, 0x148, 0x0010 | 1 << 16)                 # SR-IOV
    ops = op(0x52, 2, 1, 0xc000) + op(0x52, 2, 1, 0x8000) + op(0x68, 2, 1, 0x8000) + \
        op(0x44, 1, 1, 3) + op(0x100, 4, 0, 0) + op(0x52, 2, 1, 0)
    return bytes(c) + ops


def loop():
    c = space()
    c[6] = 0x10
    c[0x34] = 0x40
    c[0x40:0x42] = bytes([0x09, 0x40])
    struct.pack_into("<I", c, 0x100, 0x0003 | 0x100 << 20)
    return bytes(c) + op(0x40, 4, 1, 0xffffffff)


os.makedirs(here, exist_ok=True)
for name, data in (("edu", edu()), ("nvme", nvme()), ("loop", loop()), ("short", b"\x34\x12")):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)

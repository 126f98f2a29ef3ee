#!/usr/bin/env python3
"""Writes the seed corpora for fuzz_loader_pvh and fuzz_loader_bzimage.

Each seed is a minimal kernel image that the loader accepts (so the fuzzer
starts from the deep end of the parser) or rejects late. Layouts follow the
ELF spec / Xen's PVH note (XEN_ELFNOTE_PHYS32_ENTRY = 18) and the Linux x86
boot protocol (Documentation/arch/x86/boot.rst). Run from anywhere:
    python3 tests/fuzz/corpus/gen_loader_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def note(name, ntype, desc):
    name = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def elf(is64, loads, notes):
    """loads: [(paddr, data, memsz)]; notes: bytes of the PT_NOTE segment."""
    ehsize, phsize = (64, 56) if is64 else (52, 32)
    phnum = 1 + len(loads)
    off = ehsize + phnum * phsize
    segs = [(4, off, 0, len(notes), len(notes))]          # PT_NOTE
    body = notes
    off += len(notes)
    for paddr, data, memsz in loads:
        segs.append((1, off, paddr, len(data), memsz))     # PT_LOAD
        body += data
        off += len(data)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + b"\0" * 9
    machine = 62 if is64 else 3
    if is64:
        hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, ehsize, 0,
                                  0, ehsize, phsize, phnum, 64, 0, 0)
        ph = b"".join(struct.pack("<IIQQQQQQ", t, 7, o, p, p, fs, ms, 4096)
                      for t, o, p, fs, ms in segs)
    else:
        hdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0, ehsize, 0,
                                  0, ehsize, phsize, phnum, 40, 0, 0)
        ph = b"".join(struct.pack("<IIIIIIII", t, o, p, p, fs, ms, 7, 4096)
                      for t, o, p, fs, ms in segs)
    return hdr + ph + body


def pvh_seeds():
    text = bytes((i * 3 + 1) & 0xff for i in range(256))
    data = bytes(range(64))
    entry = 0x100010
    xen4 = note("Xen", 18, struct.pack("<I", entry))
    xen8 = note("Xen", 18, struct.pack("<Q", entry))
    gnu = note("GNU", 3, b"\x11" * 20)
    two = [(0x100000, text, 256), (0x200000, data, 0x2000)]
    return {
        "elf64_note4": elf(True, two, gnu + xen4),
        "elf64_note8": elf(True, two, xen8),
        "elf32_note4": elf(False, two, xen4),
        "elf32_one_load": elf(False, [(0x100000, text, 0x10000)], gnu + xen8),
        "elf64_no_note": elf(True, two, gnu),
    }


def bzimage(setup_sects=1, version=0x020F, xlf=0x3, loadflags=0x01,
            relocatable=1, pref=0x1000000, init_size=0x800000, ksize=512):
    sects = setup_sects or 4
    img = bytearray(b"\x5a" * ((sects + 1) * 512))
    img[0x1F1] = setup_sects
    struct.pack_into("<I", img, 0x1F4, ksize // 16)         # syssize
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = b"\xeb\x6a"                          # header to 0x26c
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x210] = 0
    img[0x211] = loadflags
    struct.pack_into("<I", img, 0x214, 0x100000)            # code32_start
    struct.pack_into("<III", img, 0x218, 0, 0, 0)
    struct.pack_into("<I", img, 0x224, 0)
    struct.pack_into("<III", img, 0x228, 0, 0x7FFFFFFF, 0x200000)
    img[0x234] = relocatable
    img[0x235] = 21
    struct.pack_into("<HI", img, 0x236, xlf, 2047)          # xloadflags, cmdline_size
    struct.pack_into("<IQIIQ", img, 0x23C, 0, 0, 0, 0, 0)   # subarch .. setup_data
    struct.pack_into("<QIII", img, 0x258, pref, init_size, 0, 0)
    return bytes(img) + bytes((i * 7 + 3) & 0xff for i in range(ksize))


def bz_seeds():
    return {
        "bz_2_15": bzimage(),
        "bz_2_12": bzimage(version=0x020C),
        "bz_setup_sects_0": bzimage(setup_sects=0),
        "bz_fixed": bzimage(relocatable=0, pref=0),
        "bz_pref_too_high": bzimage(pref=0x3C00000),
    }


def main():
    for sub, seeds in (("loader_pvh", pvh_seeds()), ("loader_bzimage", bz_seeds())):
        d = os.path.join(HERE, sub)
        os.makedirs(d, exist_ok=True)
        for name, blob in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(blob)


if __name__ == "__main__":
    main()

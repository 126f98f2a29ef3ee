#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_net_tx.

The input format (4-byte header, then descriptor chains, or raw guest RAM)
is documented at the top of tests/fuzz/fuzz_net_tx.c; the constants below
must match it. Run from anywhere:
    python3 tests/fuzz/corpus/gen_net_tx_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "net_tx")

# feature bits of byte 0
CSUM, TSO4, TSO6, MTU, V1, MRG, EVENT_IDX, INDIRECT = (1 << i for i in range(8))
# mode bits of byte 2
RAW, RX = 1, 2
# descriptor flags in the input
WRITE, ADDR = 1, 2
# vnet header
NEEDS_CSUM, DATA_VALID = 1, 2
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_ECN = 0, 1, 3, 4, 0x80


def header(features, qlog2=3, mode=0, budget=64, avail=0):
    return bytes([features, qlog2 - 1, mode | ((budget - 1) << 2), avail])


def vhdr(flags=0, gso=GSO_NONE, hdr_len=0, gso_size=0, cs=0, co=0, nbufs=0, legacy=False):
    h = struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, cs, co, nbufs)
    return h[:10] if legacy else h


def frame(n, seed=1):
    eth = bytes.fromhex("020000000001020000000002") + b"\x08\x00"
    body = bytes((seed + 7 * i) & 0xFF for i in range(max(0, n - 14)))
    return (eth + body)[:n]


def desc(content, flags=0, length=None, addr=None):
    length = len(content) if length is None else length
    d = struct.pack("<HB", length, flags)
    if addr is not None:
        return d + struct.pack("<I", addr)
    return d + content


def chain(*descs):
    return bytes([len(descs) - 1]) + b"".join(descs)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    v1 = V1 | CSUM
    write("good", header(v1) + chain(desc(vhdr() + frame(60))))
    write("split_hdr", header(v1) + chain(desc(vhdr()[:3]), desc(vhdr()[3:9]),
                                          desc(vhdr()[9:] + frame(20)), desc(frame(100)[20:])))
    write("csum", header(v1) + chain(desc(vhdr(NEEDS_CSUM, cs=34, co=16) + frame(80))))
    write("csum_beyond", header(v1) + chain(desc(vhdr(NEEDS_CSUM, cs=70, co=16) + frame(80))))
    write("tso4", header(v1 | TSO4) + chain(
        desc(vhdr(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16)), desc(frame(9000))))
    write("tso6_unneg", header(v1 | TSO4) + chain(
        desc(vhdr(NEEDS_CSUM, GSO_TCPV6, 74, 1440, 54, 16)), desc(frame(9000))))
    write("ufo", header(v1 | TSO4 | TSO6) + chain(
        desc(vhdr(NEEDS_CSUM, GSO_UDP, 42, 1400, 34, 6) + frame(3000))))
    write("ecn", header(v1 | TSO4) + chain(
        desc(vhdr(NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 54, 1448, 34, 16) + frame(3000))))
    write("short", header(v1) + chain(desc(vhdr() + frame(10))) + chain(desc(b"\0" * 5)))
    write("mtu_oversize", header(v1 | MTU) + chain(desc(vhdr()), desc(frame(1600))))
    write("writable", header(v1) + chain(desc(vhdr() + frame(60)), desc(b"", WRITE, 64)))
    write("legacy", header(CSUM) + chain(desc(vhdr(legacy=True) + frame(60))))
    write("bad_addr", header(v1) + chain(desc(vhdr()), desc(b"", 0, 100, 0xFFFFF000)))
    write("many", header(v1 | EVENT_IDX, qlog2=5, budget=3) +
          b"".join(chain(desc(vhdr() + frame(60 + i, i))) for i in range(20)))
    write("big", header(v1, qlog2=4) + chain(*[desc(b"", 0, 0x4000)] * 5))
    # RX: chains of writable buffers, then length-prefixed packets.
    pkt = lambda n, **kw: (lambda p: struct.pack("<H", len(p)) + p)(vhdr(**kw) + frame(n))
    write("rx_one", header(V1, mode=RX) + chain(desc(b"", WRITE, 2048)) + pkt(100))
    write("rx_mrg", header(V1 | MRG, qlog2=4, mode=RX) +
          b"".join(chain(desc(b"", WRITE, 512)) for _ in range(8)) + pkt(1400) + pkt(60))
    write("rx_mrg_split", header(V1 | MRG, qlog2=4, mode=RX) +
          b"".join(chain(desc(b"", WRITE, 6), desc(b"", WRITE, 300)) for _ in range(8)) +
          pkt(900))
    write("rx_bad", header(V1 | MRG, qlog2=3, mode=RX) + chain(desc(b"", 0, 64)) +
          chain(desc(b"", WRITE, 4)) + chain(desc(b"", WRITE, 2048)) + pkt(60))
    write("rx_gso", header(V1 | MRG | CSUM | TSO4, qlog2=4, mode=RX) +
          b"".join(chain(desc(b"", WRITE, 1024)) for _ in range(8)) +
          pkt(3000, flags=NEEDS_CSUM, gso=GSO_TCPV4, hdr_len=54, gso_size=1448, cs=34, co=16))
    write("rx_small", header(V1, mode=RX) + chain(desc(b"", WRITE, 40)) + pkt(100) + pkt(20))
    # Raw: a ring whose descriptor table is the input itself.
    ram = bytearray(0x200)
    struct.pack_into("<QIHH", ram, 0, 0x4000, 72, 0, 0)
    struct.pack_into("<HHH", ram, 16 * 8, 0, 1, 0)
    write("raw", header(v1, qlog2=3, mode=RAW, avail=1) + bytes(ram))


if __name__ == "__main__":
    main()

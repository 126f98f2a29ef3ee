#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_net_ctrl.

The input format (4-byte header, cut offsets, then the command's readable
bytes) is documented at the top of tests/fuzz/fuzz_net_ctrl.c. Run from
anywhere:
    python3 tests/fuzz/corpus/gen_net_ctrl_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

CTRL_RX, CTRL_MAC_ADDR, MQ = 1, 2, 4
# linux/virtio_net.h
CLS_RX, CLS_MAC, CLS_MQ = 0, 1, 4
RX_PROMISC, MAC_TABLE_SET, MAC_ADDR_SET, MQ_PAIRS_SET = 0, 0, 1, 0


def seed(features, cmd, cuts=(), max_pairs=3, ack=1):
    return bytes([features, max_pairs, len(cuts), ack]) + bytes(cuts) + cmd


def main():
    d = os.path.join(HERE, "net_ctrl")
    os.makedirs(d, exist_ok=True)
    seeds = {
        "pairs": seed(MQ, bytes([CLS_MQ, MQ_PAIRS_SET]) + struct.pack("<H", 2), cuts=(1,)),
        "pairs_short": seed(MQ, bytes([CLS_MQ, MQ_PAIRS_SET, 2])),
        "promisc": seed(CTRL_RX, bytes([CLS_RX, RX_PROMISC, 1]), cuts=(2,), ack=4),
        "mac_addr": seed(CTRL_MAC_ADDR, bytes([CLS_MAC, MAC_ADDR_SET, 2, 0, 0, 0, 0, 9]),
                         cuts=(1, 3)),
        "mac_table": seed(CTRL_RX, bytes([CLS_MAC, MAC_TABLE_SET]) +
                          struct.pack("<I", 1) + bytes(6) + struct.pack("<I", 0),
                          cuts=(2, 4)),
        "no_ack": seed(MQ, bytes([CLS_MQ, MQ_PAIRS_SET, 1, 0]), ack=0),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_vhost_user.

The fuzzer reads records <ctrl u8><request u32, flags u32, size u32><payload>
(native = little-endian on the hosts we fuzz on); ctrl bits 3-0 = fd count
% 10, bits 5-4 = fd kind (0 memfd 1 MiB, 1 memfd 4 KiB, 2 eventfd,
3 alternating), bit 6 = split header/payload, bit 7 = attach the fds the
request wants. The device has 4 queues of at most 256 and 64 bytes of config
space; the constants below must match fuzz_vhost_user.c. Run from anywhere:
    python3 tests/fuzz/corpus/gen_vhost_user_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, SET_LOG_BASE,
 SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE,
 SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES,
 SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE) = range(1, 19)
GET_CONFIG, SET_CONFIG = 24, 25
GET_INFLIGHT_FD, SET_INFLIGHT_FD = 31, 32
GET_MAX_MEM_SLOTS = 36
SET_BACKEND_REQ_FD, IOTLB_MSG = 21, 22
F_ACCESS_PLATFORM = 1 << 33
P_BACKEND_REQ = 1 << 5
IOTLB_UPDATE, IOTLB_INVALIDATE = 2, 3

VERSION, NEED_REPLY = 0x1, 0x8
AUTO = 0x80                         # ctrl: attach what the request wants
NOFD = 0x100
F_PROTOCOL, F_VERSION_1 = 1 << 30, 1 << 32
P_MQ, P_REPLY_ACK, P_CONFIG, P_INFLIGHT = 1, 1 << 3, 1 << 9, 1 << 12
UVA = 0x7f0000000000                # front-end user address of guest RAM


def msg(req, payload=b"", flags=VERSION, ctrl=0, size=None):
    if size is None:
        size = len(payload)
    return bytes([ctrl]) + struct.pack("<III", req, flags, size) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(index, num):
    return struct.pack("<II", index, num)


def addr(index, desc, used, avail, flags=0, log=0):
    return struct.pack("<IIQQQQ", index, flags, desc, used, avail, log)


def mem(regions):
    p = struct.pack("<II", len(regions), 0)
    for gpa, size, uva, off in regions:
        p += struct.pack("<QQQQ", gpa, size, uva, off)
    return p


def config(offset, size, flags=0, data=b""):
    return struct.pack("<III", offset, size, flags) + data.ljust(size, b"\0")


def inflight(mmap_size, mmap_offset, nq, qs):
    return struct.pack("<QQHHxxxx", mmap_size, mmap_offset, nq, qs)


def write(name, data):
    d = os.path.join(HERE, "vhost_user")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def iotlb(iova, size, uaddr, perm, typ):
    return struct.pack("<QQQBB6x", iova, size, uaddr, perm, typ)


def ring(index, num=256, base=0x10000):
    # desc, avail, used in the low 1 MiB region (gpa 0 = UVA).
    return (msg(SET_VRING_NUM, state(index, num)) +
            msg(SET_VRING_BASE, state(index, 0)) +
            msg(SET_VRING_ADDR, addr(index, UVA + base, UVA + base + 0x2000,
                                     UVA + base + 0x1000)) +
            msg(SET_VRING_KICK, u64(index), ctrl=AUTO) +
            msg(SET_VRING_CALL, u64(index), ctrl=AUTO))


def handshake(ack):
    f = NEED_REPLY | VERSION if ack else VERSION
    proto = P_MQ | P_CONFIG | P_INFLIGHT | (P_REPLY_ACK if ack else 0)
    return (msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) +
            msg(SET_PROTOCOL_FEATURES, u64(proto)) + msg(GET_QUEUE_NUM) +
            msg(SET_OWNER, flags=f) + msg(GET_MAX_MEM_SLOTS) +
            msg(SET_FEATURES, u64(F_VERSION_1 | F_PROTOCOL | 1), flags=f) +
            msg(SET_MEM_TABLE, mem([(0, 0x80000, UVA, 0),
                                    (0x100000000, 0x80000, UVA + 0x80000, 0x80000)]),
                flags=f, ctrl=AUTO))


def main():
    qemu = (handshake(True) +
            msg(GET_INFLIGHT_FD, inflight(0, 0, 2, 256)) +
            msg(SET_INFLIGHT_FD, inflight(0x10000, 0, 2, 256), ctrl=AUTO) +
            ring(0) + msg(SET_VRING_ENABLE, state(0, 1), flags=NEED_REPLY | VERSION) +
            ring(1, 128, 0x20000) + msg(SET_VRING_ENABLE, state(1, 1)) +
            msg(GET_CONFIG, config(0, 64)) + msg(SET_CONFIG, config(8, 4, 0, b"abcd")) +
            msg(SET_VRING_CALL, u64(0), ctrl=AUTO) +
            msg(GET_VRING_BASE, state(0, 0)) + msg(GET_VRING_BASE, state(1, 0)) +
            msg(RESET_OWNER))
    write("qemu_blk", qemu)
    # No protocol features: rings start on kick.
    write("legacy", msg(GET_FEATURES) + msg(SET_FEATURES, u64(F_VERSION_1)) +
          msg(SET_MEM_TABLE, mem([(0, 0x100000, UVA, 0)]), ctrl=AUTO) + ring(2, 64) +
          msg(SET_VRING_KICK, u64(3 | NOFD)) + msg(GET_VRING_BASE, state(2, 0)))
    write("memtable_hotplug", handshake(False) + ring(0, 16) +
          msg(SET_VRING_ENABLE, state(0, 1)) +
          msg(SET_MEM_TABLE, mem([(0, 0x100000, UVA, 0)]), ctrl=AUTO) +
          msg(SET_MEM_TABLE, mem([(0, 0x1000, UVA, 0x1234)]), ctrl=AUTO))
    # Hostile shapes.
    write("mem_overlap", msg(SET_MEM_TABLE, mem([(0, 0x2000, UVA, 0), (0x1000, 0x1000, 0, 0)]),
                             ctrl=AUTO))
    write("mem_offset", msg(SET_MEM_TABLE, mem([(0, 0x1000, UVA, 0x100000)]), ctrl=AUTO))
    write("mem_small_fd", msg(SET_MEM_TABLE, mem([(0, 0x2000, UVA, 0)]), ctrl=0x11))
    write("mem_no_fds", msg(SET_MEM_TABLE, mem([(0, 0x2000, UVA, 0)])))
    write("fd_flood", msg(GET_FEATURES, ctrl=0x29))
    write("oversize", msg(SET_FEATURES, u64(0), size=0x10000))
    write("truncated", msg(GET_FEATURES)[:7])
    write("config_wrap", msg(GET_CONFIG, config(0xffffffff, 8)) +
          msg(SET_CONFIG, config(60, 8)))
    write("inflight_bad", msg(GET_INFLIGHT_FD, inflight(0, 0, 5, 256)) +
          msg(SET_INFLIGHT_FD, inflight(16, 0, 2, 256), ctrl=AUTO) +
          msg(GET_INFLIGHT_FD, inflight(0, 0, 1, 2)))
    write("unknown", msg(99, u64(1), ctrl=0x22) + msg(99, flags=NEED_REPLY | VERSION) +
          msg(SET_LOG_BASE, u64(0), ctrl=0x01) + msg(GET_QUEUE_NUM))
    # The device IOTLB: rings at IOVAs, updates, a flush, a remap, and
    # hostile updates (outside the table, across it, wrapping).
    iova = 0x40000000
    write("iotlb", msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) +
          msg(SET_PROTOCOL_FEATURES, u64(P_BACKEND_REQ | P_REPLY_ACK)) +
          msg(SET_BACKEND_REQ_FD, ctrl=0x21) +
          msg(SET_FEATURES, u64(F_VERSION_1 | F_ACCESS_PLATFORM | 1)) +
          msg(SET_MEM_TABLE, mem([(0, 0x100000, UVA, 0)]), ctrl=AUTO) +
          msg(IOTLB_MSG, iotlb(iova, 0x4000, UVA + 0x10000, 3, IOTLB_UPDATE),
              flags=NEED_REPLY | VERSION) +
          msg(SET_VRING_NUM, state(0, 256)) +
          msg(SET_VRING_ADDR, addr(0, iova, iova + 0x2000, iova + 0x1000)) +
          msg(SET_VRING_KICK, u64(0), ctrl=AUTO) +
          msg(IOTLB_MSG, iotlb(0, 0xffffffffffffffff, 0, 0, IOTLB_INVALIDATE)) +
          msg(IOTLB_MSG, iotlb(iova, 0x4000, UVA + 0x20000, 3, IOTLB_UPDATE)) +
          msg(IOTLB_MSG, iotlb(iova, 0x1000, 0x1000, 3, IOTLB_UPDATE)) +
          msg(IOTLB_MSG, iotlb(iova, 0x200000, UVA + 0xff000, 3, IOTLB_UPDATE)) +
          msg(IOTLB_MSG, iotlb(0xfffffffffffff000, 0x2000, UVA, 1, IOTLB_UPDATE)) +
          msg(IOTLB_MSG, iotlb(iova, 0x1000, UVA, 9, IOTLB_UPDATE)) +
          msg(GET_VRING_BASE, state(0, 0)))
    write("split_send", msg(SET_FEATURES, u64(F_VERSION_1), ctrl=0x40) +
          msg(SET_VRING_KICK, u64(1), ctrl=0xc0))


if __name__ == "__main__":
    main()

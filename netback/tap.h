/* Tap devices for isle-netback: one fd per queue pair on a tap opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (plus IFF_MULTI_QUEUE for several
 * pairs), so every read and write is one "virtio_net_hdr + Ethernet frame"
 * record, which is what the guest's rings carry.
 *
 * Contract: every function returns 0 or -errno and logs nothing; callers
 * turn errors into messages. fds are O_NONBLOCK | O_CLOEXEC. Settings that
 * are per device (header size, offloads, carrier) can go through any of its
 * fds. A tap that does not exist is created and disappears when its last fd
 * closes; an existing (persistent) one is attached to and stays. */
#ifndef ISLE_NETBACK_TAP_H
#define ISLE_NETBACK_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#define TAP_MAX_QUEUES 16

/* Opens name with nq fds (1..TAP_MAX_QUEUES) into fds; ifname gets the
 * kernel's name for it (a name with %d is completed by the kernel). Errors:
 * -ENOENT no /dev/net/tun, -EPERM without CAP_NET_ADMIN, -EINVAL a device of
 * that name that is not a tap or has the other queue mode, -EBUSY a
 * single-queue tap someone else has open, -EOPNOTSUPP a kernel without vnet
 * headers or multi-queue. */
int tap_open(const char *name, unsigned int nq, int *fds, char ifname[IFNAMSIZ]);
void tap_close(int *fds, unsigned int nq);

/* Bytes of virtio-net header in front of each frame (10 or 12). */
int tap_set_vnet_hdr_len(int fd, unsigned int len);

/* TUN_F_* offloads: which partial-checksum / GSO packets the tap may hand
 * us for the guest. */
int tap_set_offload(int fd, unsigned int tun_flags);
/* The TUN_F_* set the guest's virtio-net features allow it to receive. */
unsigned int tap_offload_for(uint64_t features);

/* Multi-queue taps: whether the kernel steers packets to this fd's queue. */
int tap_set_queue(int fd, bool attach);

/* Link carrier, so a bridge forwards to the tap only while a guest is
 * connected (TUNSETCARRIER; -EINVAL on kernels before 5.0). */
int tap_set_carrier(int fd, bool on);

#endif

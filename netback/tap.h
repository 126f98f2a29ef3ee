/* Tap devices for isle-netback: one fd per queue pair on a tap opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (plus IFF_MULTI_QUEUE for several
 * pairs), so every read and write is one "virtio_net_hdr + Ethernet frame"
 * record, which is what the guest's rings carry.
 *
 * Contract: every function returns 0 or -errno and logs nothing; callers
 * turn errors into messages. fds are O_NONBLOCK | O_CLOEXEC. Settings that
 * are per device (header size, offloads, carrier) can go through any of its
 * fds. A tap that does not exist is created and disappears when its last fd
 * closes; an existing (persistent) one is attached to and stays. A tap
 * someone else opened (isle-netback --tap-fd: fds inherited from whoever
 * made the tap, maybe in another network namespace) is checked with
 * tap_fd_info and taken with tap_adopt, which leaves it as tap_open would
 * have; it lives as long as any holder keeps an fd. */
#ifndef ISLE_NETBACK_TAP_H
#define ISLE_NETBACK_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/types.h>

#define TAP_MAX_QUEUES 16

/* Opens name with nq fds (1..TAP_MAX_QUEUES) into fds; ifname gets the
 * kernel's name for it (a name with %d is completed by the kernel). Errors:
 * -ENOENT no /dev/net/tun, -EPERM without CAP_NET_ADMIN, -EINVAL a device of
 * that name that is not a tap or has the other queue mode, -EBUSY a
 * single-queue tap someone else has open, -EOPNOTSUPP a kernel without vnet
 * headers or multi-queue. */
int tap_open(const char *name, unsigned int nq, int *fds, char ifname[IFNAMSIZ]);
void tap_close(int *fds, unsigned int nq);

/* What an fd someone gave us is (nothing is changed). */
struct tap_fd_info {
	char ifname[IFNAMSIZ];       /* the kernel's name for the device */
	unsigned int flags;          /* TUNGETIFF's IFF_TAP or IFF_TUN, IFF_VNET_HDR,
					IFF_MULTI_QUEUE, ...; never IFF_NO_PI (below) */
	bool detached;               /* a multi-queue tap's queue, detached */
	bool local;                  /* in our network namespace (see below) */
	dev_t ns_dev;                /* its network namespace; 0/0 when the */
	ino_t ns_ino;                /* kernel does not say (TUNGETDEVNETNS) */
};
/* Errors: -EBADF fd not open, -ENOTTY not a tun/tap fd, -EBADFD a
 * /dev/net/tun fd not bound to a device. local is false for a device in
 * another namespace and for one whose namespace we have no CAP_NET_ADMIN
 * over (neither is ours to configure); true on kernels before 5.2, which
 * cannot say. */
int tap_fd_info(int fd, struct tap_fd_info *ti);
/* Whether the tap has IFF_NO_PI: 1, 0 or -errno. TUNGETIFF cannot say on
 * its own: it reports IFF_NOFILTER, the same bit, while no socket filter
 * is attached. So when it shows the bit and the tap has no filter, an
 * accept-all filter is attached for the question and detached again. fd
 * must be an attached queue (tap_fd_info's !detached): a detached one does
 * not get the filter. A filter its owner attached and detached again
 * reads as attached (TUNGETFILTER keeps its length): then the bit is
 * believed. */
int tap_fd_no_pi(int fd);
/* Whether fds a and b are one open file (one tap queue): 1 or 0; 0 too
 * when the kernel cannot tell (no kcmp). */
int tap_fd_same(int a, int b);
/* Takes checked fds of one tap: close-on-exec, O_NONBLOCK (on the open
 * file: its other holders see it too), every queue attached (a netback
 * that died may have left some detached), a 12-byte vnet header and no
 * offloads, as tap_open leaves its own. */
int tap_adopt(const int *fds, unsigned int nq);

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

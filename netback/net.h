/* The virtio-net datapath of isle-netback: one queue pair's transmit queue
 * (guest -> tap) and receive queue (tap -> guest), served from guest memory.
 * No threads, sockets or event loop here: the owner (netback.c) calls in when
 * a kick or the tap says there is work, and the unit tests and the fuzzer
 * drive the same code with a socketpair or /dev/null standing in for the tap.
 *
 * Contract:
 *  - The tap is any fd with datagram semantics for a "virtio_net_hdr + frame"
 *    record: a tap opened with IFF_VNET_HDR whose TUNSETVNETHDRSZ equals
 *    hdr_len, a SOCK_SEQPACKET socket, /dev/null. It must be non-blocking for
 *    RX (EAGAIN ends a run).
 *  - Guest chains are untrusted. TX: a chain's first hdr_len readable bytes
 *    are the header (however the iovecs split them); it is copied once,
 *    checked (net_tx_check) and written from that copy, the frame straight
 *    from guest memory with writev. A bad chain is counted, returned with
 *    used length 0, and the queue goes on. RX: packets are read with readv
 *    straight into the guest's buffers; with MRG_RXBUF one packet may take
 *    several chains (num_buffers says how many), without it one chain must
 *    hold it. Only a broken ring (vq_pop -EIO) stops a queue.
 *  - RX gathers chains before it reads (it cannot peek at the next packet's
 *    size); chains it holds stay popped between runs and go back with
 *    net_rx_release(), which the owner must call before it stops the ring or
 *    re-initializes it (memory table change).
 *  - Counters are written only by the thread that runs the queue, with
 *    relaxed atomic stores, so any thread may read them with
 *    net_stats_read(). */
#ifndef ISLE_NETBACK_NET_H
#define ISLE_NETBACK_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "isle/net_ctrl.h"   /* the control queue, shared with the VMM (lib/) */
#include "isle/virtq.h"

#define NET_HDR_LEN        12   /* virtio_net_hdr_v1 / _mrg_rxbuf */
#define NET_HDR_LEN_LEGACY 10   /* neither VERSION_1 nor MRG_RXBUF */
#define NET_ETH_HLEN       14
#define NET_VLAN_HLEN      4
#define NET_IP_MAX         65535
/* The largest frame either way: a 64 KiB IP packet with a VLAN tag. */
#define NET_FRAME_MAX      (NET_ETH_HLEN + NET_VLAN_HLEN + NET_IP_MAX)
/* iovecs of guest buffers in one readv: UIO_MAXIOV less the overflow tail. */
#define NET_RX_IOV_MAX     1023
#define NET_RX_POOL_MAX    2048  /* chain slots (≥ 2 x live chains, see net_rx.c) */
#define NET_RX_ARENA       (2 * 1024 + VQ_ELEM_MAX_IOV + 1)
#define NET_RX_SCRATCH     (NET_HDR_LEN + NET_FRAME_MAX + 4096)
#define NET_TX_BUDGET      256   /* chains per run before yielding */
#define NET_RX_BUDGET      256   /* packets per run */

/* The per-queue counters: name, then what it counts (the README and the
 * stats JSON use the same names). */
#define NET_STATS(X)                                                          \
	X(tx_packets)   /* frames written to the tap */                       \
	X(tx_bytes)     /* their bytes, vnet header excluded */               \
	X(tx_drops)     /* well-formed frames the tap refused */              \
	X(tx_errors)    /* malformed chains (sum of the four below) */        \
	X(tx_bad_desc)  /* writable buffers in a TX chain */                  \
	X(tx_short)     /* shorter than header + Ethernet header */           \
	X(tx_oversize)  /* longer than MTU (or 64 KiB with GSO) */            \
	X(tx_bad_hdr)   /* flags, gso_type, csum or hdr_len not acceptable */ \
	X(rx_packets)   /* packets delivered to the guest */                  \
	X(rx_bytes)     /* their bytes, vnet header excluded */               \
	X(rx_drops)     /* packets read from the tap but not delivered */     \
	X(rx_errors)    /* bad RX chains and tap read errors */               \
	X(rx_bad_desc)  /* RX chains with readable buffers or < header */     \
	X(rx_stalls)    /* times RX stopped reading: no guest buffers */

struct net_stats {
#define NET_STAT_FIELD(n) uint64_t n;
	NET_STATS(NET_STAT_FIELD)
#undef NET_STAT_FIELD
};

enum net_tx_verdict {
	NET_TX_OK,
	NET_TX_BAD_DESC,
	NET_TX_SHORT,
	NET_TX_OVERSIZE,
	NET_TX_BAD_HDR,
};

/* Results of a run besides -errno. */
enum net_run {
	NET_IDLE = 0,     /* nothing left: ring empty (TX) / tap empty (RX) */
	NET_MORE = 1,     /* budget used up: come back without waiting */
	NET_BLOCKED = 2,  /* TX: tap full (wait for POLLOUT); RX: no guest
			   * buffers (kicks are on: wait for one) */
};

struct net_queue {
	/* Set by the owner. The vqs are vq_init()ed by it too. */
	int tap_fd;
	int rx_call, tx_call;        /* eventfds to interrupt the driver, -1 none */
	struct vq rxvq, txvq;
	/* From net_queue_configure(). */
	uint64_t features;
	unsigned int hdr_len;
	uint32_t tx_frame_max;       /* non-GSO frame limit */
	uint32_t rx_want, rx_min;    /* guest bytes to gather before a read */
	struct net_stats stats;
	/* RX: popped chains not yet used, [pool_head, pool_tail), their
	 * writable iovecs contiguous at rx_iov[iov_head, iov_tail). */
	unsigned int pool_head, pool_tail, iov_head, iov_tail;
	uint64_t pool_bytes;
	bool pool_gap;               /* a chain was returned between held ones */
	struct vq_elem pool[NET_RX_POOL_MAX];
	struct iovec rx_iov[NET_RX_ARENA];
	uint8_t *rx_scratch;         /* the tail that catches what does not fit */
	/* TX scratch. */
	struct iovec tx_iov[VQ_ELEM_MAX_IOV];
	struct iovec tx_wiov[VQ_ELEM_MAX_IOV + 1];
	uint8_t *tx_bounce;          /* linearizes chains of > UIO_MAXIOV pieces */
};

/* Allocates the buffers; tap_fd and the call fds start at -1. */
int net_queue_init(struct net_queue *q);
void net_queue_fini(struct net_queue *q);
/* Applies negotiated features (header length, checks, RX sizing); mtu is the
 * tap's. Call with no chains held (after net_rx_release). */
void net_queue_configure(struct net_queue *q, uint64_t features, unsigned int mtu);

/* Header length the driver uses with these features. */
unsigned int net_hdr_len(uint64_t features);

/* Checks a TX header and the frame length after it; clears DATA_VALID
 * (meaningless on TX) in *hdr. */
enum net_tx_verdict net_tx_check(const struct net_queue *q, struct virtio_net_hdr_v1 *hdr,
				 uint64_t frame_len);

/* Transmits up to budget chains. Returns enum net_run or -EIO (ring broken).
 * NET_IDLE leaves kicks enabled; NET_MORE and NET_BLOCKED leave them off. */
int net_tx_run(struct net_queue *q, unsigned int budget);

/* Receives up to budget packets. Returns enum net_run, -EIO (ring broken) or
 * another -errno from reading the tap (counted in rx_errors). */
int net_rx_run(struct net_queue *q, unsigned int budget);

/* Gives back every chain RX holds (unpopped, so they are used again, or with
 * used length 0 if that is impossible). */
void net_rx_release(struct net_queue *q);

/* Interrupts the driver if the ring wants it (EVENT_IDX or flags). */
void net_notify(struct vq *vq, int call_fd);

static inline void net_stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* A consistent-enough snapshot for another thread. */
void net_stats_read(const struct net_stats *s, struct net_stats *out);

#endif

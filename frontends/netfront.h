/* virtio-net driver (the frontend of a split network driver), freestanding:
 * one receive and one transmit queue, polled, no interrupts.
 *
 * Contract:
 *  - The caller supplies the transport environment (virtio_pci.h) and two
 *    memory areas: DMA memory of at least NETFRONT_DMA_BYTES for the default
 *    options (16-byte aligned, physically contiguous, device-visible: both
 *    rings, the transmit headers and frames, the receive buffers) and private
 *    memory of at least NETFRONT_PRIV_BYTES. netfront_init() lays out what
 *    the negotiated configuration needs and says -EINVAL if it does not fit.
 *  - Receive: the queue is kept full of rx_buf-byte buffers. With
 *    VIRTIO_NET_F_MRG_RXBUF a frame may span several buffers (num_buffers in
 *    the first header) and is reassembled into private memory; without it
 *    every buffer holds a whole frame. netfront_poll() hands each frame to
 *    the caller's function, which must not keep the pointer: the buffer goes
 *    back to the device when the function returns.
 *  - Transmit: netfront_send() copies the frame into one of the driver's
 *    slots (the caller's buffer is free on return) and queues header + frame;
 *    completed slots are reclaimed by later sends and polls. -EAGAIN when
 *    every slot is still owned by the device.
 *  - Checksums: with VIRTIO_NET_F_CSUM netfront_send_csum() lets the device
 *    compute the transport checksum (NEEDS_CSUM), else the driver does it.
 *    With VIRTIO_NET_F_GUEST_CSUM a received frame may carry a partial
 *    checksum (NEEDS_CSUM), which the driver completes before delivering it,
 *    so callers always see full checksums; NETFRONT_RX_CSUM_OK says the
 *    device or the driver vouched for the transport checksum.
 *  - The device is untrusted: used lengths are bounded by the buffers
 *    (virtq_driver breaks the queue otherwise), num_buffers by the buffers
 *    the device owns, header fields by the frame and by what was
 *    negotiated. Frames that break a rule are dropped and counted; a device
 *    that loses the framing of the receive queue or corrupts a ring makes
 *    the driver "broken": everything returns -EIO until netfront_init().
 *  - Functions return 0 (netfront_poll: frames delivered) or -errno. */
#ifndef FRONTENDS_NETFRONT_H
#define FRONTENDS_NETFRONT_H

#include <linux/virtio_net.h>

#include "virtio_pci.h"
#include "virtq_driver.h"

#define NETFRONT_DEVICE_ID    (VPCI_MODERN_BASE + 1)   /* 1af4:1041 */
#define NETFRONT_RXQ          0u
#define NETFRONT_TXQ          1u
#define NETFRONT_QUEUE_MAX    256u
#define NETFRONT_HDR_LEN      12u       /* struct virtio_net_hdr_v1 */
#define NETFRONT_ETH_HLEN     14u
#define NETFRONT_ETH_OVERHEAD 18u       /* Ethernet header and one VLAN tag */
#define NETFRONT_MTU_DEFAULT  1500u     /* without VIRTIO_NET_F_MTU */
#define NETFRONT_MTU_MIN      68u       /* the spec's floor for the device */
/* Largest frame reassembled: IPv4's 64 KiB plus Ethernet, whatever MTU. */
#define NETFRONT_FRAME_MAX    (65535u + NETFRONT_ETH_OVERHEAD)
#define NETFRONT_RX_BUF       4096u     /* default receive buffer: a page */
#define NETFRONT_RX_BUF_MIN   64u
#define NETFRONT_RX_BUF_MAX   (68u * 1024)   /* a frame of FRAME_MAX and the header */
#define NETFRONT_TX_SLOTS     64u
#define NETFRONT_TX_BUF       2048u     /* bytes of frame per transmit slot */

/* Bounds for the default options (queues of NETFRONT_QUEUE_MAX, page-sized
 * receive buffers): rings, transmit slots, receive buffers, alignment. */
#define NETFRONT_DMA_BYTES                                                  \
	(NETFRONT_QUEUE_MAX * NETFRONT_RX_BUF +                              \
	 NETFRONT_TX_SLOTS * (NETFRONT_TX_BUF + 16) + 48 * 1024)
#define NETFRONT_PRIV_BYTES   (16 * 1024)

_Static_assert(sizeof(struct virtio_net_hdr_v1) == NETFRONT_HDR_LEN,
	       "virtio 1.x net header is 12 bytes");

/* Features netfront asks for (VERSION_1 is always asked). */
#define NETFRONT_FEATURES                                                   \
	(1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |       \
	 1ull << VIRTIO_NET_F_MTU | 1ull << VIRTIO_NET_F_MAC |               \
	 1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_STATUS |      \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC | \
	 1ull << VIRTIO_F_ACCESS_PLATFORM)

/* netfront_rx_fn flags. */
#define NETFRONT_RX_CSUM_OK   (1u << 0)   /* transport checksum known good */
#define NETFRONT_RX_MERGED    (1u << 1)   /* came in several buffers */

struct netfront_opts {
	uint64_t features;        /* subset of NETFRONT_FEATURES to ask for */
	unsigned int queue_max;   /* cap on both queue sizes (<= NETFRONT_QUEUE_MAX) */
	unsigned int rx_buf;      /* bytes per receive buffer (raised without
				   * MRG_RXBUF until a frame fits) */
	unsigned int rx_bufs;     /* cap on posted receive buffers; 0: queue size */
	uint8_t mac[6];           /* used when the device offers no MAC; zero: ours */
};

struct netfront_stats {
	uint64_t rx_frames, rx_bytes, rx_bufs_used, rx_merged;
	uint64_t rx_short;        /* no header, or less than an Ethernet header */
	uint64_t rx_long;         /* beyond the largest frame we take */
	uint64_t rx_bad_hdr;      /* GSO or flags we did not negotiate, bad csum_start */
	uint64_t rx_csum_valid;   /* DATA_VALID from the device */
	uint64_t rx_csum_done;    /* NEEDS_CSUM completed by us */
	uint64_t tx_frames, tx_bytes, tx_busy;
	uint64_t tx_csum_offload, tx_csum_sw;
	uint64_t rx_kicks, tx_kicks;
};

struct netfront {
	struct vpci_dev pci;
	struct vqd rxq, txq;
	uint64_t rx_notify, tx_notify;
	uint64_t features;            /* negotiated */
	uint8_t mac[6];
	uint16_t status;              /* VIRTIO_NET_S_*, as last read */
	uint16_t mtu;                 /* device's, or NETFRONT_MTU_DEFAULT */
	unsigned int rx_size, tx_size;          /* queue sizes */
	unsigned int rx_buf, rx_bufs;           /* receive buffer size and count */
	unsigned int tx_slots;
	unsigned int frame_max;       /* largest frame taken on receive */
	unsigned int tx_frame_max;    /* largest frame netfront_send() takes */
	uint8_t *rx_mem;              /* rx_bufs * rx_buf bytes */
	struct virtio_net_hdr_v1 *tx_hdr;       /* one per slot */
	uint8_t *tx_mem;              /* tx_slots * NETFRONT_TX_BUF bytes */
	uint16_t tx_free[NETFRONT_TX_SLOTS];
	unsigned int tx_nfree;
	/* A frame spread over several buffers, being reassembled. */
	unsigned int rx_left;         /* buffers still to come; 0: none pending */
	size_t rx_have;
	bool rx_drop;                 /* too long: consume the buffers, drop it */
	struct virtio_net_hdr_v1 rx_hdr;
	bool broken;
	const char *error;            /* last driver-detected problem */
	struct netfront_stats stats;
	uint8_t frame[NETFRONT_FRAME_MAX];
};

/* Called for each received frame (Ethernet header first); flags are
 * NETFRONT_RX_*. frame is valid only during the call. */
typedef void (*netfront_rx_fn)(void *ctx, uint8_t *frame, size_t len, unsigned int flags);

static inline bool netfront_has(const struct netfront *nf, unsigned int bit)
{
	return nf->features & (1ull << bit);
}

/* Probes, resets and configures the device, sets up both queues, fills the
 * receive queue and sets DRIVER_OK. opts may be NULL (all features, the
 * largest queues, page-sized buffers). 0 or -errno with nf->error set. */
int netfront_init(struct netfront *nf, const struct vpci_env *env,
		  const struct netfront_opts *opts, void *dma, size_t dma_len,
		  void *priv, size_t priv_len);

/* Resets the device (stops all DMA into our memory). */
int netfront_reset(struct netfront *nf);

/* Delivers up to budget received frames to fn, refilling the receive
 * queue, and reclaims finished transmissions. Returns the number
 * delivered, or -EIO if the device broke a queue or the framing. */
int netfront_poll(struct netfront *nf, netfront_rx_fn fn, void *ctx, unsigned int budget);

/* Queues one frame (NETFRONT_ETH_HLEN..tx_frame_max bytes). 0, -EINVAL,
 * -EAGAIN (every slot in flight: poll and retry) or -EIO. */
int netfront_send(struct netfront *nf, const void *frame, size_t len);

/* The same, with the ones'-complement checksum of frame[start, len) (the
 * field's initial contents included, e.g. a pseudo-header sum) stored at
 * start + offset, by the device if it offers CSUM, else by the driver. */
int netfront_send_csum(struct netfront *nf, const void *frame, size_t len,
		       uint16_t start, uint16_t offset);

/* Re-reads the link status; true without VIRTIO_NET_F_STATUS. */
bool netfront_link_up(struct netfront *nf);

#endif

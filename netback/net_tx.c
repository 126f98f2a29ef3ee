/* virtio-net TX (guest -> tap) and the pieces both directions share:
 * queue set-up, feature-derived limits, iovec copies, notification and the
 * counters (contract in netback/net.h).
 *
 * A TX chain is header + frame in the guest's readable buffers. The header
 * is copied out once and checked; what goes to the tap is that checked copy
 * followed by the frame's bytes straight out of guest memory (writev, no
 * copy), so a guest rewriting its header after the check changes nothing.
 * A chain is only refused here for what it is; the tap refusing a frame it
 * was given counts as a drop. */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "isle/iov.h"
#include "isle/log.h"
#include "isle/util.h"
#include "net.h"


static bool has(const struct net_queue *q, unsigned int bit)
{
	return q->features & BIT(bit);
}

int net_queue_init(struct net_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->tap_fd = q->rx_call = q->tx_call = -1;
	q->rx_scratch = malloc(NET_RX_SCRATCH);
	q->tx_bounce = malloc(NET_HDR_LEN + NET_FRAME_MAX);
	if (!q->rx_scratch || !q->tx_bounce) {
		net_queue_fini(q);
		return -ENOMEM;
	}
	net_queue_configure(q, 0, 1500);
	return 0;
}

void net_queue_fini(struct net_queue *q)
{
	free(q->rx_scratch);
	free(q->tx_bounce);
	q->rx_scratch = q->tx_bounce = NULL;
}

unsigned int net_hdr_len(uint64_t features)
{
	/* The 12-byte header (with num_buffers) is the only one in virtio
	 * 1.x; legacy drivers use it only with mergeable buffers. */
	if (features & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF)))
		return NET_HDR_LEN;
	return NET_HDR_LEN_LEGACY;
}

void net_queue_configure(struct net_queue *q, uint64_t features, unsigned int mtu)
{
	uint32_t mtu_frame = NET_ETH_HLEN + NET_VLAN_HLEN + mtu;
	bool guest_gso;

	q->features = features;
	q->hdr_len = net_hdr_len(features);
	/* A driver that took the MTU feature promised not to send more
	 * (virtio 1.2, 5.1.6.2); without it a frame may be as big as the tap
	 * takes. GSO frames are limited by NET_FRAME_MAX alone. */
	q->tx_frame_max = has(q, VIRTIO_NET_F_MTU) ? MIN(mtu_frame, NET_FRAME_MAX) : NET_FRAME_MAX;
	/* RX: what one packet can need. The tap gives at most an MTU-sized
	 * frame unless it may hand us GSO packets (the guest takes TSO). */
	guest_gso = has(q, VIRTIO_NET_F_GUEST_TSO4) || has(q, VIRTIO_NET_F_GUEST_TSO6) ||
		    has(q, VIRTIO_NET_F_GUEST_UFO);
	q->rx_min = q->hdr_len + MIN(mtu_frame, NET_FRAME_MAX);
	q->rx_want = guest_gso ? q->hdr_len + NET_FRAME_MAX : q->rx_min;
}

void net_notify(struct vq *vq, int call_fd)
{
	if (vq_should_notify(vq) && call_fd >= 0)
		eventfd_write(call_fd, 1);
}

void net_stats_read(const struct net_stats *s, struct net_stats *out)
{
#define NET_STAT_LOAD(n) out->n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);
	NET_STATS(NET_STAT_LOAD)
#undef NET_STAT_LOAD
}

enum net_tx_verdict net_tx_check(const struct net_queue *q, struct virtio_net_hdr_v1 *hdr,
				 uint64_t frame_len)
{
	uint16_t hdr_len = le16toh(hdr->hdr_len);
	uint16_t csum_start = le16toh(hdr->csum_start), csum_off = le16toh(hdr->csum_offset);
	uint8_t gso = hdr->gso_type;

	if (frame_len < NET_ETH_HLEN)
		return NET_TX_SHORT;
	if (frame_len > NET_FRAME_MAX)
		return NET_TX_OVERSIZE;
	/* DATA_VALID means nothing on TX (drivers must not set it): drop the
	 * bit rather than the frame. RSC_INFO and unknown bits: refuse. */
	hdr->flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	if (hdr->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_BAD_HDR;
	if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* Checksum offload only when negotiated, and the checksum
		 * field (2 bytes at start + offset) inside the frame. */
		if (!has(q, VIRTIO_NET_F_CSUM) || (uint32_t)csum_start + csum_off + 2 > frame_len)
			return NET_TX_BAD_HDR;
	}
	/* The tap refuses headers longer than the frame; say why here. */
	if (hdr_len > frame_len)
		return NET_TX_BAD_HDR;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(q, VIRTIO_NET_F_HOST_ECN))
		return NET_TX_BAD_HDR;
	switch (gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (gso & VIRTIO_NET_HDR_GSO_ECN)
			return NET_TX_BAD_HDR;
		return frame_len > q->tx_frame_max ? NET_TX_OVERSIZE : NET_TX_OK;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(q, VIRTIO_NET_F_HOST_TSO4))
			return NET_TX_BAD_HDR;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(q, VIRTIO_NET_F_HOST_TSO6))
			return NET_TX_BAD_HDR;
		break;
	default:   /* UFO, USO and unknown types: never offered */
		return NET_TX_BAD_HDR;
	}
	/* Segmentation needs a segment size and the partial checksum the
	 * segments' checksums are finished from. */
	if (!hdr->gso_size || !(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return NET_TX_BAD_HDR;
	return NET_TX_OK;
}

static void net_tx_count_bad(struct net_queue *q, enum net_tx_verdict v)
{
	uint64_t *c = v == NET_TX_BAD_DESC ? &q->stats.tx_bad_desc :
		      v == NET_TX_SHORT    ? &q->stats.tx_short :
		      v == NET_TX_OVERSIZE ? &q->stats.tx_oversize : &q->stats.tx_bad_hdr;

	net_stat_add(&q->stats.tx_errors, 1);
	net_stat_add(c, 1);
}

/* Builds header copy + frame iovecs (the guest's, past its header) in
 * tx_wiov; returns the count. */
static unsigned int net_tx_iov(struct net_queue *q, const struct vq_elem *e, void *hdr)
{
	size_t skip = q->hdr_len;
	unsigned int n = 1;

	q->tx_wiov[0] = (struct iovec){ hdr, q->hdr_len };
	for (unsigned int i = 0; i < e->out_num; i++) {
		size_t len = e->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		q->tx_wiov[n++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + skip, len - skip };
		skip = 0;
	}
	return n;
}

/* One chain. Returns 0 when it was consumed (sent, dropped or refused) or
 * -EAGAIN when the tap is full (the chain was not touched). */
static int net_tx_one(struct net_queue *q, const struct vq_elem *e)
{
	struct virtio_net_hdr_v1 hdr = { 0 };
	enum net_tx_verdict v;
	uint64_t frame_len = 0;
	unsigned int cnt;
	ssize_t n;

	if (e->in_num)
		v = NET_TX_BAD_DESC;
	else if (e->out_len < q->hdr_len)
		v = NET_TX_SHORT;
	else {
		iov_to_buf(e->iov, e->out_num, 0, &hdr, q->hdr_len);
		frame_len = e->out_len - q->hdr_len;
		v = net_tx_check(q, &hdr, frame_len);
	}
	if (v != NET_TX_OK) {
		log_debug("netback: tx: dropping a malformed chain (%d, %llu bytes)", (int)v,
			  (unsigned long long)frame_len);
		net_tx_count_bad(q, v);
		vq_push(&q->txvq, e->head, 0);
		return 0;
	}
	cnt = net_tx_iov(q, e, &hdr);
	if (cnt > IOV_MAX) {
		/* More pieces than writev takes: linearize (rare; a normal
		 * driver sends a few descriptors per frame). */
		memcpy(q->tx_bounce, &hdr, q->hdr_len);
		iov_to_buf(e->iov, e->out_num, q->hdr_len, q->tx_bounce + q->hdr_len, frame_len);
		q->tx_wiov[0] = (struct iovec){ q->tx_bounce, q->hdr_len + frame_len };
		cnt = 1;
	}
	do
		n = writev(q->tap_fd, q->tx_wiov, (int)cnt);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (n < 0) {
		log_debug("netback: tx: tap refused a frame: %s", strerror(errno));
		net_stat_add(&q->stats.tx_drops, 1);
	} else {
		net_stat_add(&q->stats.tx_packets, 1);
		net_stat_add(&q->stats.tx_bytes, frame_len);
	}
	vq_push(&q->txvq, e->head, 0);
	return 0;
}

int net_tx_run(struct net_queue *q, unsigned int budget)
{
	struct vq_elem e;
	unsigned int done = 0;
	int r, ret = NET_IDLE;

	vq_elem_init(&e, q->tx_iov, ARRAY_SIZE(q->tx_iov));
	/* No kicks while we are popping anyway. */
	vq_disable_notify(&q->txvq);
	for (;;) {
		if (done == budget) {
			ret = NET_MORE;
			break;
		}
		r = vq_pop(&q->txvq, &e);
		if (r < 0) {
			ret = r;
			break;
		}
		if (r == 0) {
			/* Empty: kicks back on, and one more look for a chain
			 * that came while they were off. */
			if (!vq_enable_notify(&q->txvq))
				break;
			vq_disable_notify(&q->txvq);
			continue;
		}
		if (net_tx_one(q, &e) == -EAGAIN) {
			vq_unpop(&q->txvq, &e);
			ret = NET_BLOCKED;
			break;
		}
		done++;
	}
	net_notify(&q->txvq, q->tx_call);
	return ret;
}

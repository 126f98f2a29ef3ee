/* virtio-net RX (tap -> guest), contract in netback/net.h.
 *
 * A tap read returns one whole packet and we cannot ask its size first, so
 * RX gathers guest chains before it reads: with MRG_RXBUF until they hold
 * the largest packet the tap may give (rx_want: an MTU frame, or 64 KiB when
 * the guest takes TSO), without it one chain. The readv list is the held
 * chains' writable buffers followed by a host scratch tail: a packet that
 * ends in the tail did not fit and is dropped, and the chains, which the
 * guest was never given, take the next one. Held chains stay popped between
 * runs (popping dozens of chains per packet and putting them back would cost
 * more than the packet), in a FIFO whose iovecs are contiguous so the next
 * read is one readv.
 *
 * When the guest is out of buffers RX stops reading (backpressure: packets
 * wait in the tap's queue, the kernel drops past its length) with kicks
 * enabled, and the owner resumes on the kick. The only discards are packets
 * that do not fit what the guest can ever offer. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "isle/iov.h"
#include "isle/log.h"
#include "isle/util.h"
#include "net.h"


static bool has(const struct net_queue *q, unsigned int bit)
{
	return q->features & BIT(bit);
}

static void net_rx_pool_reset(struct net_queue *q)
{
	q->pool_head = q->pool_tail = q->iov_head = q->iov_tail = 0;
	q->pool_bytes = 0;
	q->pool_gap = false;
}

/* Moves the held chains and their iovecs to the front of their arrays. */
static void net_rx_compact(struct net_queue *q)
{
	unsigned int n = q->pool_tail - q->pool_head, niov = q->iov_tail - q->iov_head;

	memmove(q->rx_iov, q->rx_iov + q->iov_head, niov * sizeof(q->rx_iov[0]));
	memmove(q->pool, q->pool + q->pool_head, n * sizeof(q->pool[0]));
	for (unsigned int i = 0; i < n; i++)
		q->pool[i].iov -= q->iov_head;
	q->pool_head = q->iov_head = 0;
	q->pool_tail = n;
	q->iov_tail = niov;
}

/* A chain RX cannot use (readable buffers, too small for the header, too
 * fragmented for one readv): returned empty at once. */
static void net_rx_refuse(struct net_queue *q, const struct vq_elem *e)
{
	/* Held chains popped before it can no longer be unpopped. */
	if (q->pool_tail != q->pool_head)
		q->pool_gap = true;
	vq_push(&q->rxvq, e->head, 0);
	net_stat_add(&q->stats.rx_errors, 1);
	net_stat_add(&q->stats.rx_bad_desc, 1);
}

/* Pops chains until a read can go ahead. Returns 1 when it can (enough
 * space, or all the guest can give), 0 when RX must wait for the guest
 * (kicks are on), -EIO when the ring is broken. */
static int net_rx_fill(struct net_queue *q)
{
	bool mrg = has(q, VIRTIO_NET_F_MRG_RXBUF);
	struct vq_elem *e;
	int r;

	for (;;) {
		unsigned int held = q->pool_tail - q->pool_head;

		if (mrg ? q->pool_bytes >= q->rx_want : held > 0)
			return 1;
		if (held >= q->rxvq.num)
			return 1;   /* the whole ring: nothing more can come */
		if (q->pool_tail == NET_RX_POOL_MAX ||
		    q->iov_tail + VQ_ELEM_MAX_IOV + 1 > NET_RX_ARENA)
			net_rx_compact(q);
		e = &q->pool[q->pool_tail];
		vq_elem_init(e, q->rx_iov + q->iov_tail, VQ_ELEM_MAX_IOV);
		r = vq_pop(&q->rxvq, e);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Enough for an MTU-sized frame: read rather than wait
			 * for room for the largest one. */
			if (mrg && q->pool_bytes >= q->rx_min)
				return 1;
			if (vq_enable_notify(&q->rxvq)) {
				vq_disable_notify(&q->rxvq);
				continue;
			}
			return 0;
		}
		if (e->out_num || e->in_len < q->hdr_len) {
			net_rx_refuse(q, e);
			continue;
		}
		if (q->iov_tail - q->iov_head + e->in_num > NET_RX_IOV_MAX) {
			if (held) {
				vq_unpop(&q->rxvq, e);
				return 1;
			}
			net_rx_refuse(q, e);
			continue;
		}
		q->pool_tail++;
		q->iov_tail += e->in_num;
		q->pool_bytes += e->in_len;
	}
}

/* gso_type values the guest agreed to receive. */
static bool net_rx_gso_ok(const struct net_queue *q, uint8_t gso)
{
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(q, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(gso & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(q, VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(q, VIRTIO_NET_F_GUEST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return has(q, VIRTIO_NET_F_GUEST_UFO);
	}
	return false;
}

/* Fixes the header the tap wrote (it leaves num_buffers alone) and hands
 * the n bytes in the first chains to the guest. */
static void net_rx_deliver(struct net_queue *q, size_t n)
{
	const struct iovec *iov = q->rx_iov + q->iov_head;
	unsigned int cnt = q->iov_tail - q->iov_head, k = 0, niov = 0;
	uint64_t left = n, bytes = 0;
	uint16_t nbufs;

	while (left) {
		const struct vq_elem *e = &q->pool[q->pool_head + k++];

		left -= MIN(left, e->in_len);
	}
	if (q->hdr_len == NET_HDR_LEN) {
		/* Before any push: the guest may look at the first chain as
		 * soon as used->idx moves. */
		nbufs = htole16((uint16_t)k);
		iov_from_buf(iov, cnt, offsetof(struct virtio_net_hdr_v1, num_buffers), &nbufs,
			      sizeof(nbufs));
	}
	left = n;
	for (unsigned int i = 0; i < k; i++) {
		const struct vq_elem *e = &q->pool[q->pool_head + i];
		uint32_t len = (uint32_t)MIN(left, e->in_len);

		vq_push(&q->rxvq, e->head, len);
		left -= len;
		niov += e->in_num;
		bytes += e->in_len;
	}
	q->pool_head += k;
	q->iov_head += niov;
	q->pool_bytes -= bytes;
	if (q->pool_head == q->pool_tail)
		net_rx_pool_reset(q);
	net_stat_add(&q->stats.rx_packets, 1);
	net_stat_add(&q->stats.rx_bytes, n - q->hdr_len);
}

/* Reads one packet into the held chains. Returns 1 when a packet was
 * handled (delivered or dropped), 0 when the tap is empty, -errno. */
static int net_rx_one(struct net_queue *q)
{
	struct iovec *iov = q->rx_iov + q->iov_head;
	unsigned int cnt = q->iov_tail - q->iov_head;
	uint8_t hdr[2];   /* flags, gso_type */
	ssize_t n;

	iov[cnt] = (struct iovec){ q->rx_scratch, NET_RX_SCRATCH };
	do
		n = readv(q->tap_fd, iov, (int)cnt + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		net_stat_add(&q->stats.rx_errors, 1);
		return -errno;
	}
	if ((uint64_t)n > q->pool_bytes || (size_t)n < q->hdr_len + NET_ETH_HLEN) {
		/* Did not fit what we hold (it ran into the scratch tail).
		 * With mergeable buffers, gather for the largest packet from
		 * now on: the tap's MTU went up, or it gives GSO packets. */
		log_debug("netback: rx: dropping a %zd-byte packet (room for %llu)", n,
			  (unsigned long long)q->pool_bytes);
		net_stat_add(&q->stats.rx_drops, 1);
		if (has(q, VIRTIO_NET_F_MRG_RXBUF))
			q->rx_want = q->hdr_len + NET_FRAME_MAX;
		return 1;
	}
	iov_to_buf(iov, cnt, 0, hdr, sizeof(hdr));
	if (!net_rx_gso_ok(q, hdr[1])) {
		/* The tap's offloads follow the guest's features; this only
		 * happens if setting them failed. */
		net_stat_add(&q->stats.rx_drops, 1);
		return 1;
	}
	/* Without GUEST_CSUM the flags must be 0 (virtio 1.2, 5.1.6.4.1);
	 * the tap then never has partial checksums, but may say DATA_VALID. */
	if (!has(q, VIRTIO_NET_F_GUEST_CSUM) && hdr[0]) {
		hdr[0] = 0;
		iov_from_buf(iov, cnt, 0, hdr, 1);
	}
	net_rx_deliver(q, (size_t)n);
	return 1;
}

int net_rx_run(struct net_queue *q, unsigned int budget)
{
	int r = NET_MORE;

	/* Kicks only matter when we run out of buffers (net_rx_fill). */
	vq_disable_notify(&q->rxvq);
	for (unsigned int i = 0; i < budget; i++) {
		r = net_rx_fill(q);
		if (r <= 0) {
			if (r == 0) {
				/* A stall is a packet waiting for buffers; out of
				 * buffers with nothing waiting is just idle. */
				if (poll(&(struct pollfd){ .fd = q->tap_fd, .events = POLLIN }, 1, 0) > 0)
					net_stat_add(&q->stats.rx_stalls, 1);
				r = NET_BLOCKED;
			}
			break;
		}
		r = net_rx_one(q);
		if (r <= 0) {
			if (r == 0)
				r = NET_IDLE;
			break;
		}
		r = NET_MORE;
	}
	net_notify(&q->rxvq, q->rx_call);
	return r;
}

void net_rx_release(struct net_queue *q)
{
	if (q->rxvq.num && q->pool_tail != q->pool_head) {
		if (!q->pool_gap) {
			/* Newest first: vq_unpop is LIFO. */
			for (unsigned int i = q->pool_tail; i-- > q->pool_head;)
				vq_unpop(&q->rxvq, &q->pool[i]);
		} else {
			for (unsigned int i = q->pool_head; i < q->pool_tail; i++)
				vq_push(&q->rxvq, q->pool[i].head, 0);
		}
	}
	net_rx_pool_reset(q);
}

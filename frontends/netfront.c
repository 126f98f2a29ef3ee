/* virtio-net driver (contract in netfront.h).
 *
 * Owns: feature negotiation and the device configuration for a network
 * device (MAC, link status, MTU), the layout of both queues, the receive
 * buffers and the transmit slots in the caller's memory, keeping the
 * receive queue full, reassembling frames the device spread over several
 * buffers (MRG_RXBUF), checking every header and length the device writes,
 * completing partial checksums, and transmitting through copy-in slots.
 * Polled throughout: the test guest cannot take interrupts in ring 3, so
 * used-buffer notifications stay off on both queues.
 *
 * Tokens: a receive chain's token is its buffer, a transmit chain's token
 * its slot's header; virtq_driver hands back only tokens we gave it, so
 * neither needs checking again here. */
#include <stddef.h>

#include "isle/util.h"

#include "netfront.h"

#define NETFRONT_CFG_TRIES   8
#define NETFRONT_RX_ALIGN    4096u   /* page-sized buffers never cross a page */
#define NETFRONT_KNOWN_FLAGS (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)

static const uint8_t netfront_default_mac[6] = { 0x02, 0x69, 0x73, 0x6c, 0x65, 0x01 };

static int netfront_fail(struct netfront *nf, const char *why, int err)
{
	nf->error = why;
	return err;
}

/* A device that broke a ring or the framing: nothing it says afterwards
 * can be placed, so stop until the next init. */
static int netfront_break(struct netfront *nf, const char *why)
{
	nf->broken = true;
	return netfront_fail(nf, why ? why : "device broke a queue", -EIO);
}

/* Ones'-complement sum of p[0, len) in network byte order, folded. */
static uint16_t netfront_csum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* What a device does for NEEDS_CSUM: sum from start to the end, the
 * checksum field's current contents included, and store the result. The
 * caller has checked start + offset + 2 <= len. */
static void netfront_csum_fill(uint8_t *frame, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t ck = netfront_csum(frame + start, len - start);

	frame[start + offset] = (uint8_t)(ck >> 8);
	frame[start + offset + 1] = (uint8_t)ck;
}

static int netfront_read_config(struct netfront *nf)
{
	struct vpci_dev *d = &nf->pci;

	for (int tries = 0; tries < NETFRONT_CFG_TRIES; tries++) {
		uint8_t gen = vpci_cfg_generation(d);
		int r = 0;

		for (unsigned int i = 0; !r && netfront_has(nf, VIRTIO_NET_F_MAC) && i < 6; i++)
			r = vpci_cfg_read8(d, offsetof(struct virtio_net_config, mac) + i,
					   &nf->mac[i]);
		if (!r && netfront_has(nf, VIRTIO_NET_F_STATUS))
			r = vpci_cfg_read16(d, offsetof(struct virtio_net_config, status),
					    &nf->status);
		if (!r && netfront_has(nf, VIRTIO_NET_F_MTU))
			r = vpci_cfg_read16(d, offsetof(struct virtio_net_config, mtu), &nf->mtu);
		if (r)
			return netfront_fail(nf, d->error, r);
		if (gen == vpci_cfg_generation(d))
			return 0;
	}
	return netfront_fail(nf, "config generation never settled", -EIO);
}

static unsigned int netfront_pow2_floor(unsigned int n)
{
	while (n & (n - 1))
		n &= n - 1;
	return n;
}

/* Sizes queues, buffers and slots from what the device reported and the
 * options. */
static int netfront_limits(struct netfront *nf, const struct netfront_opts *o)
{
	unsigned int cap = MIN(o->queue_max ? o->queue_max : NETFRONT_QUEUE_MAX,
			       NETFRONT_QUEUE_MAX);
	unsigned int rxmax = vpci_queue_max(&nf->pci, NETFRONT_RXQ);
	unsigned int txmax = vpci_queue_max(&nf->pci, NETFRONT_TXQ);

	if (!rxmax || !txmax)
		return netfront_fail(nf, "device lacks the receive or transmit queue", -ENODEV);
	nf->rx_size = netfront_pow2_floor(MIN(rxmax, cap));
	nf->tx_size = netfront_pow2_floor(MIN(txmax, cap));
	if (nf->rx_size < 2 || nf->tx_size < 2)
		return netfront_fail(nf, "queue too small", -EIO);

	if (!netfront_has(nf, VIRTIO_NET_F_MTU))
		nf->mtu = NETFRONT_MTU_DEFAULT;
	else if (nf->mtu < NETFRONT_MTU_MIN)
		return netfront_fail(nf, "device reports an MTU below 68", -EIO);
	nf->frame_max = NETFRONT_ETH_OVERHEAD + nf->mtu;
	nf->tx_frame_max = MIN(NETFRONT_TX_BUF, nf->frame_max);

	nf->rx_buf = MAX(o->rx_buf ? o->rx_buf : NETFRONT_RX_BUF, NETFRONT_RX_BUF_MIN);
	/* Without merging, each buffer must take a whole frame. */
	if (!netfront_has(nf, VIRTIO_NET_F_MRG_RXBUF))
		nf->rx_buf = MAX(nf->rx_buf, NETFRONT_HDR_LEN + nf->frame_max);
	nf->rx_buf = ALIGN_UP(MIN(nf->rx_buf, NETFRONT_RX_BUF_MAX), 64u);
	nf->rx_bufs = MIN(o->rx_bufs ? o->rx_bufs : nf->rx_size, nf->rx_size);

	nf->tx_slots = netfront_has(nf, VIRTIO_RING_F_INDIRECT_DESC) ? nf->tx_size
								   : nf->tx_size / 2;
	nf->tx_slots = MIN(nf->tx_slots, NETFRONT_TX_SLOTS);
	return 0;
}

/* Places rings, slots and buffers in the caller's areas; fewer receive
 * buffers if the DMA area is short, as long as a full frame still fits. */
static int netfront_layout(struct netfront *nf, uint8_t *dma, size_t dma_len,
			   uint8_t *priv, size_t priv_len)
{
	struct vqd_config rc = { .num = nf->rx_size }, tc = { .num = nf->tx_size };
	unsigned int need;
	size_t off, rxp, avail;
	uintptr_t rx_at;
	int r;

	if (netfront_has(nf, VIRTIO_RING_F_EVENT_IDX)) {
		rc.flags |= VQD_F_EVENT_IDX;
		tc.flags |= VQD_F_EVENT_IDX;
	}
	if (netfront_has(nf, VIRTIO_RING_F_INDIRECT_DESC)) {
		/* Header and frame: two descriptors, one table per slot. */
		tc.flags |= VQD_F_INDIRECT;
		tc.indirect_tables = nf->tx_slots;
		tc.indirect_max = 2;
	}
	rxp = ALIGN_UP(vqd_priv_bytes(&rc), (size_t)16);
	if (rxp + vqd_priv_bytes(&tc) > priv_len)
		return netfront_fail(nf, "private area too small", -EINVAL);
	off = ALIGN_UP(vqd_dma_bytes(&rc), (size_t)64);
	r = off <= dma_len ? vqd_init(&nf->rxq, &rc, dma, off, priv, rxp) : -EINVAL;
	if (!r)
		r = vqd_init(&nf->txq, &tc, dma + off, dma_len - off, priv + rxp, priv_len - rxp);
	if (r)
		return netfront_fail(nf, "memory areas too small", -EINVAL);
	off = ALIGN_UP(off + vqd_dma_bytes(&tc), (size_t)64);
	nf->tx_hdr = (struct virtio_net_hdr_v1 *)(dma + off);
	off = ALIGN_UP(off + nf->tx_slots * sizeof(*nf->tx_hdr), (size_t)64);
	nf->tx_mem = dma + off;
	off += (size_t)nf->tx_slots * NETFRONT_TX_BUF;
	rx_at = ALIGN_UP((uintptr_t)dma + off, (uintptr_t)NETFRONT_RX_ALIGN);
	avail = rx_at <= (uintptr_t)dma + dma_len ? (uintptr_t)dma + dma_len - rx_at : 0;
	nf->rx_bufs = (unsigned int)MIN((size_t)nf->rx_bufs, avail / nf->rx_buf);
	need = netfront_has(nf, VIRTIO_NET_F_MRG_RXBUF) ?
	       (NETFRONT_HDR_LEN + nf->frame_max + nf->rx_buf - 1) / nf->rx_buf : 1;
	if (nf->rx_bufs < MAX(need, 2u))
		return netfront_fail(nf, "receive buffers cannot hold a full frame", -EINVAL);
	nf->rx_mem = (uint8_t *)rx_at;
	nf->tx_nfree = nf->tx_slots;
	for (unsigned int i = 0; i < nf->tx_slots; i++)
		nf->tx_free[i] = (uint16_t)(nf->tx_slots - 1 - i);
	return 0;
}

static int netfront_rx_post(struct netfront *nf, uint8_t *buf)
{
	struct vqd_sg sg = { buf, nf->rx_buf };
	int r = vqd_add(&nf->rxq, NULL, 0, &sg, 1, buf);

	/* Every buffer was taken from this queue, so there is room. */
	if (r)
		return netfront_break(nf, r == -EIO ? vqd_broken_reason(&nf->rxq) :
				      "receive queue refused a buffer");
	return 0;
}

static void netfront_rx_kick(struct netfront *nf)
{
	if (vqd_kick_prepare(&nf->rxq)) {
		vpci_notify(&nf->pci, nf->rx_notify, NETFRONT_RXQ);
		nf->stats.rx_kicks++;
	}
}

int netfront_init(struct netfront *nf, const struct vpci_env *env,
		  const struct netfront_opts *opts, void *dma, size_t dma_len,
		  void *priv, size_t priv_len)
{
	struct netfront_opts o = { .features = NETFRONT_FEATURES };
	static const uint8_t zero[6];
	int r;

	if (opts)
		o = *opts;
	memset(nf, 0, offsetof(struct netfront, frame));
	nf->broken = true;              /* until the end of this function */
	if (!dma || !priv || ((uintptr_t)dma & (VQD_ALIGN - 1)))
		return netfront_fail(nf, "memory areas misaligned", -EINVAL);
	r = vpci_probe(&nf->pci, env);
	if (r)
		return netfront_fail(nf, nf->pci.error, r);
	if (nf->pci.device != NETFRONT_DEVICE_ID)
		return netfront_fail(nf, "not a virtio-net device", -ENODEV);
	r = vpci_begin(&nf->pci);
	if (!r)
		r = vpci_negotiate(&nf->pci, o.features & NETFRONT_FEATURES);
	if (r)
		return netfront_fail(nf, nf->pci.error, r);
	nf->features = nf->pci.features;
	memcpy(nf->mac, memcmp(o.mac, zero, 6) ? o.mac : netfront_default_mac, 6);
	nf->status = VIRTIO_NET_S_LINK_UP;
	if ((nf->features & (1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
			     1ull << VIRTIO_NET_F_MTU)) && !nf->pci.devcfg.present) {
		r = netfront_fail(nf, "no device config region", -ENODEV);
		goto fail;
	}
	r = netfront_read_config(nf);
	if (!r)
		r = netfront_limits(nf, &o);
	if (!r)
		r = netfront_layout(nf, dma, dma_len, priv, priv_len);
	if (r)
		goto fail;
	/* We poll; interrupts would only cost the device work. */
	vqd_disable_cb(&nf->rxq);
	vqd_disable_cb(&nf->txq);
	r = vpci_queue_enable(&nf->pci, NETFRONT_RXQ, nf->rx_size, nf->rxq.desc_pa,
			      nf->rxq.avail_pa, nf->rxq.used_pa, &nf->rx_notify);
	if (!r)
		r = vpci_queue_enable(&nf->pci, NETFRONT_TXQ, nf->tx_size, nf->txq.desc_pa,
				      nf->txq.avail_pa, nf->txq.used_pa, &nf->tx_notify);
	if (r) {
		netfront_fail(nf, nf->pci.error, r);
		goto fail;
	}
	/* Buffers go in before DRIVER_OK; the kick only after it. */
	nf->broken = false;
	for (unsigned int i = 0; i < nf->rx_bufs && !r; i++)
		r = netfront_rx_post(nf, nf->rx_mem + (size_t)i * nf->rx_buf);
	if (r)
		goto fail;
	vpci_driver_ok(&nf->pci);
	if (vpci_status(&nf->pci) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		r = netfront_fail(nf, "device rejected DRIVER_OK", -EIO);
		goto fail;
	}
	netfront_rx_kick(nf);
	nf->error = NULL;
	return 0;
fail:
	nf->broken = true;
	vpci_fail(&nf->pci);
	return r;
}

int netfront_reset(struct netfront *nf)
{
	nf->broken = true;
	nf->error = "device reset";
	return vpci_reset(&nf->pci);
}

bool netfront_link_up(struct netfront *nf)
{
	uint16_t st;

	if (!netfront_has(nf, VIRTIO_NET_F_STATUS))
		return true;
	if (!vpci_cfg_read16(&nf->pci, offsetof(struct virtio_net_config, status), &st))
		nf->status = st;
	return nf->status & VIRTIO_NET_S_LINK_UP;
}

/* Checks a whole frame's header and hands the frame to fn. */
static bool netfront_rx_deliver(struct netfront *nf, uint8_t *p, size_t len,
				const struct virtio_net_hdr_v1 *h, unsigned int flags,
				netfront_rx_fn fn, void *ctx)
{
	if (len < NETFRONT_ETH_HLEN) {
		nf->stats.rx_short++;
		return false;
	}
	if (len > nf->frame_max) {
		nf->stats.rx_long++;
		return false;
	}
	/* We take no GSO and know only two flags. */
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE || (h->flags & ~NETFRONT_KNOWN_FLAGS)) {
		nf->stats.rx_bad_hdr++;
		return false;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!netfront_has(nf, VIRTIO_NET_F_GUEST_CSUM) ||
		    (size_t)h->csum_start + h->csum_offset + 2 > len) {
			nf->stats.rx_bad_hdr++;
			return false;
		}
		netfront_csum_fill(p, len, h->csum_start, h->csum_offset);
		nf->stats.rx_csum_done++;
		flags |= NETFRONT_RX_CSUM_OK;
	} else if ((h->flags & VIRTIO_NET_HDR_F_DATA_VALID) &&
		   netfront_has(nf, VIRTIO_NET_F_GUEST_CSUM)) {
		nf->stats.rx_csum_valid++;
		flags |= NETFRONT_RX_CSUM_OK;
	}
	nf->stats.rx_frames++;
	nf->stats.rx_bytes += len;
	if (flags & NETFRONT_RX_MERGED)
		nf->stats.rx_merged++;
	fn(ctx, p, len, flags);
	return true;
}

/* One used receive buffer with len bytes written: a frame of its own, the
 * start of a merged one, or the next piece of one. Adds 1 to *delivered
 * when a frame goes to fn. */
static int netfront_rx_buffer(struct netfront *nf, uint8_t *b, uint32_t len,
			      netfront_rx_fn fn, void *ctx, unsigned int *delivered)
{
	struct virtio_net_hdr_v1 h;
	unsigned int nbuf = 1;

	nf->stats.rx_bufs_used++;
	if (nf->rx_left) {
		if (nf->rx_drop || len > sizeof(nf->frame) - nf->rx_have) {
			nf->rx_drop = true;
		} else {
			memcpy(nf->frame + nf->rx_have, b, len);
			nf->rx_have += len;
		}
		if (--nf->rx_left)
			return 0;
		if (nf->rx_drop)
			nf->stats.rx_long++;
		else if (netfront_rx_deliver(nf, nf->frame, nf->rx_have, &nf->rx_hdr,
					     NETFRONT_RX_MERGED, fn, ctx))
			(*delivered)++;
		return 0;
	}
	/* Without a header there is no num_buffers either: count the buffer
	 * as a frame of its own, which is all the framing we can assume. */
	if (len < NETFRONT_HDR_LEN) {
		nf->stats.rx_short++;
		return 0;
	}
	memcpy(&h, b, sizeof(h));
	if (netfront_has(nf, VIRTIO_NET_F_MRG_RXBUF)) {
		nbuf = h.num_buffers;
		/* The rest of the frame must be in buffers the device holds
		 * now; anything else means the framing is lost. */
		if (!nbuf || nbuf - 1 > vqd_inflight(&nf->rxq))
			return netfront_break(nf, "num_buffers beyond the posted receive buffers");
	}
	if (nbuf == 1) {
		if (netfront_rx_deliver(nf, b + NETFRONT_HDR_LEN, len - NETFRONT_HDR_LEN, &h,
					0, fn, ctx))
			(*delivered)++;
		return 0;
	}
	nf->rx_hdr = h;
	nf->rx_left = nbuf - 1;
	nf->rx_have = len - NETFRONT_HDR_LEN;
	nf->rx_drop = nf->rx_have > sizeof(nf->frame);
	if (!nf->rx_drop)
		memcpy(nf->frame, b + NETFRONT_HDR_LEN, nf->rx_have);
	return 0;
}

static int netfront_tx_reclaim(struct netfront *nf)
{
	void *tok;
	uint32_t len;
	int r;

	while ((r = vqd_get_used(&nf->txq, &tok, &len)) == 1)
		nf->tx_free[nf->tx_nfree++] =
			(uint16_t)((struct virtio_net_hdr_v1 *)tok - nf->tx_hdr);
	if (r < 0)
		return netfront_break(nf, vqd_broken_reason(&nf->txq));
	return 0;
}

int netfront_poll(struct netfront *nf, netfront_rx_fn fn, void *ctx, unsigned int budget)
{
	unsigned int delivered = 0, bufs = 0;
	bool posted = false;
	void *tok;
	uint32_t len;
	int r;

	if (nf->broken)
		return -EIO;
	r = netfront_tx_reclaim(nf);
	/* Bounded by the buffers we own too: a device that keeps producing
	 * (or frames we drop) cannot hold the caller here. */
	while (!r && delivered < budget && bufs < nf->rx_bufs) {
		r = vqd_get_used(&nf->rxq, &tok, &len);
		if (r < 0) {
			r = netfront_break(nf, vqd_broken_reason(&nf->rxq));
			break;
		}
		if (!r)
			break;
		bufs++;
		r = netfront_rx_buffer(nf, tok, len, fn, ctx, &delivered);
		if (!r)
			r = netfront_rx_post(nf, tok);
		posted = posted || !r;
	}
	if (posted && !nf->broken)
		netfront_rx_kick(nf);
	return r ? r : (int)delivered;
}

static int netfront_tx(struct netfront *nf, const void *frame, size_t len,
		       bool csum, uint16_t start, uint16_t offset)
{
	struct virtio_net_hdr_v1 *h;
	struct vqd_sg sg[2];
	uint8_t *buf;
	uint16_t slot;
	int r;

	if (nf->broken)
		return -EIO;
	if (!frame || len < NETFRONT_ETH_HLEN || len > nf->tx_frame_max)
		return -EINVAL;
	if (csum && (size_t)start + offset + 2 > len)
		return -EINVAL;
	r = netfront_tx_reclaim(nf);
	if (r)
		return r;
	if (!nf->tx_nfree) {
		nf->stats.tx_busy++;
		return -EAGAIN;
	}
	slot = nf->tx_free[--nf->tx_nfree];
	h = &nf->tx_hdr[slot];
	buf = nf->tx_mem + (size_t)slot * NETFRONT_TX_BUF;
	memset(h, 0, sizeof(*h));
	memcpy(buf, frame, len);
	if (csum && netfront_has(nf, VIRTIO_NET_F_CSUM)) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = start;
		h->csum_offset = offset;
		nf->stats.tx_csum_offload++;
	} else if (csum) {
		netfront_csum_fill(buf, len, start, offset);
		nf->stats.tx_csum_sw++;
	}
	sg[0] = (struct vqd_sg){ h, sizeof(*h) };
	sg[1] = (struct vqd_sg){ buf, (uint32_t)len };
	r = vqd_add(&nf->txq, sg, 2, NULL, 0, h);
	if (r) {
		nf->tx_free[nf->tx_nfree++] = slot;
		return netfront_break(nf, r == -EIO ? vqd_broken_reason(&nf->txq) :
				      "transmit queue refused a slot");
	}
	if (vqd_kick_prepare(&nf->txq)) {
		vpci_notify(&nf->pci, nf->tx_notify, NETFRONT_TXQ);
		nf->stats.tx_kicks++;
	}
	nf->stats.tx_frames++;
	nf->stats.tx_bytes += len;
	return 0;
}

int netfront_send(struct netfront *nf, const void *frame, size_t len)
{
	return netfront_tx(nf, frame, len, false, 0, 0);
}

int netfront_send_csum(struct netfront *nf, const void *frame, size_t len,
		       uint16_t start, uint16_t offset)
{
	return netfront_tx(nf, frame, len, true, start, offset);
}

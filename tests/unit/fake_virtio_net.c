/* The simulated virtio-net PCI function and its peer (see
 * fake_virtio_net.h). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "fake_virtio_net.h"

const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

struct fake_net fk;
static struct iovec rx_iov[FAKE_RX_MAX][4];
static struct vq_elem rx_elem[FAKE_RX_MAX];

/* Both queues run, or the device wants a reset. */
static bool fake_running(void)
{
	return fk.vp.q[0].running && fk.vp.q[1].running;
}

static void fake_driver_ok(uint8_t *status)
{
	if (!fake_running())
		*status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

uint16_t fake_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += i & 1 ? b[i] : (uint32_t)b[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void fake_peer(const uint8_t *f, size_t len);

/* One transmitted chain: header, then the frame, over any iovecs. */
static void fake_tx_chain(struct vq_elem *e)
{
	uint8_t buf[NETFRONT_HDR_LEN + NETFRONT_TX_BUF];
	struct virtio_net_hdr_v1 h;
	unsigned int slot = fk.n_sent < FAKE_SENT ? fk.n_sent++ : FAKE_SENT - 1;
	size_t n = 0;

	CU_ASSERT_EQUAL(e->in_num, 0);
	CU_ASSERT_FATAL(e->out_len >= NETFRONT_HDR_LEN && e->out_len <= sizeof(buf));
	for (unsigned int i = 0; i < e->out_num; i++) {
		memcpy(buf + n, e->iov[i].iov_base, e->iov[i].iov_len);
		n += e->iov[i].iov_len;
	}
	memcpy(&h, buf, sizeof(h));
	n -= NETFRONT_HDR_LEN;
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint8_t *fr = buf + NETFRONT_HDR_LEN;
		uint16_t ck;

		CU_ASSERT_TRUE(fk.vp.driver & 1ull << VIRTIO_NET_F_CSUM);
		if ((size_t)h.csum_start + h.csum_offset + 2 > n) {
			fk.tx_bad_csum++;
		} else {
			ck = fake_csum(fr + h.csum_start, n - h.csum_start);
			fr[h.csum_start + h.csum_offset] = (uint8_t)(ck >> 8);
			fr[h.csum_start + h.csum_offset + 1] = (uint8_t)ck;
		}
	}
	memcpy(fk.sent[slot], buf + NETFRONT_HDR_LEN, n);
	fk.sent_len[slot] = n;
	fk.sent_hdr[slot] = h;
	fk.tx_frames++;
	if (fk.peer)
		fake_peer(buf + NETFRONT_HDR_LEN, n);
}

static void fake_tx_kick(void)
{
	struct iovec iov[8];
	struct vq_elem e;

	vq_elem_init(&e, iov, ARRAY_SIZE(iov));
	while (vq_pop(&fk.vp.q[1].vq, &e) == 1) {
		fake_tx_chain(&e);
		if (fk.tx_hold)
			fk.tx_held[fk.n_tx_held++] = e.head;
		else
			vq_push(&fk.vp.q[1].vq, e.head, 0);
		vq_elem_init(&e, iov, ARRAY_SIZE(iov));
	}
	CU_ASSERT_FALSE(vq_is_broken(&fk.vp.q[1].vq));
}

void fake_net_tx_release(void)
{
	for (unsigned int i = 0; i < fk.n_tx_held; i++)
		vq_push(&fk.vp.q[1].vq, fk.tx_held[i], 0);
	fk.n_tx_held = 0;
	fk.tx_hold = false;
}

unsigned int fake_net_rx_avail(void)
{
	struct vq *vq = &fk.vp.q[0].vq;

	return (uint16_t)(le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) -
			  vq->last_avail_idx);
}

int fake_net_rx(const void *frame, size_t len, const struct virtio_net_hdr_v1 *h)
{
	struct virtio_net_hdr_v1 hdr = { 0 };
	bool mrg = fk.vp.driver & 1ull << VIRTIO_NET_F_MRG_RXBUF;
	size_t total = NETFRONT_HDR_LEN + len, done = 0;
	uint8_t buf[NETFRONT_HDR_LEN + NETFRONT_FRAME_MAX];
	uint32_t lens[FAKE_RX_MAX];
	unsigned int n = 0;

	CU_ASSERT_FATAL(fake_running() && len <= NETFRONT_FRAME_MAX);
	if (h)
		hdr = *h;
	/* Take buffers until the frame fits (one only, without merging). */
	while (done < total) {
		size_t room;

		if (n < FAKE_RX_MAX)
			vq_elem_init(&rx_elem[n], rx_iov[n], 4);
		if (n == FAKE_RX_MAX || (n && !mrg) || vq_pop(&fk.vp.q[0].vq, &rx_elem[n]) != 1) {
			while (n--)
				vq_unpop(&fk.vp.q[0].vq, &rx_elem[n]);
			return -ENOSPC;
		}
		room = rx_elem[n].in_len;
		if (fk.rx_split)
			room = MIN(room, (size_t)fk.rx_split);
		lens[n] = (uint32_t)MIN(room, total - done);
		done += lens[n++];
	}
	hdr.num_buffers = (uint16_t)(fk.rx_num_buffers >= 0 ? fk.rx_num_buffers : (int)n);
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + NETFRONT_HDR_LEN, frame, len);
	done = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct vq_elem *e = &rx_elem[i];
		size_t off = 0;

		for (unsigned int j = 0; j < e->in_num && off < lens[i]; j++) {
			size_t take = MIN(e->iov[j].iov_len, lens[i] - off);

			memcpy(e->iov[j].iov_base, buf + done + off, take);
			off += take;
		}
		done += lens[i];
		if (i == 0 && fk.rx_first_len >= 0)
			lens[i] = (uint32_t)fk.rx_first_len;
		if (fk.rx_publish && i >= fk.rx_publish) {
			fk.rx_held[fk.n_rx_held] = e->head;
			fk.rx_held_len[fk.n_rx_held++] = lens[i] + fk.rx_len_extra;
		} else {
			vq_push(&fk.vp.q[0].vq, e->head, lens[i] + fk.rx_len_extra);
		}
	}
	fk.rx_frames++;
	return 0;
}

void fake_net_rx_release(void)
{
	for (unsigned int i = 0; i < fk.n_rx_held; i++)
		vq_push(&fk.vp.q[0].vq, fk.rx_held[i], fk.rx_held_len[i]);
	fk.n_rx_held = 0;
	fk.rx_publish = 0;
}

static bool fake_notify(unsigned int idx, uint32_t v)
{
	if (!fake_running())
		return false;
	CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_DRIVER_OK);
	if (idx == 0 && v == 0) {
		fk.rx_kicks++;
		return true;
	}
	if (idx == 1 && v == 1) {
		fk.tx_kicks++;
		fake_tx_kick();
		return true;
	}
	return false;
}

static const struct fake_vpci_ops ops = {
	.driver_ok = fake_driver_ok, .notify = fake_notify,
};

void fake_setup(void)
{
	memset(&fk, 0, sizeof(fk));
	fake_vpci_setup(&fk.vp, &ops, NETFRONT_DEVICE_ID, 2, 256, &fk.net,
			sizeof(fk.net), NETFRONT_PRIV_BYTES);
	fk.vp.offered = (1ull << VIRTIO_F_VERSION_1 | NETFRONT_FEATURES) &
			~(1ull << VIRTIO_F_ACCESS_PLATFORM);
	memcpy(fk.net.mac, guest_mac, 6);
	fk.net.status = VIRTIO_NET_S_LINK_UP;
	fk.net.mtu = 1500;
	fk.rx_num_buffers = -1;
	fk.rx_first_len = -1;
}

/* ---- frames and the peer ------------------------------------------------ */

static void be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t fake_arp(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t op,
		uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	be16(f + 12, 0x0806);
	be16(f + 14, 1);
	be16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	be16(f + 20, op);
	memcpy(f + 22, src, 6);
	be32(f + 28, spa);
	memcpy(f + 32, tha, 6);
	be32(f + 38, tpa);
	return 42;
}

size_t fake_echo(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t sip,
		 uint32_t dip, uint8_t type, uint16_t id, uint16_t seq,
		 const uint8_t *data, size_t len)
{
	uint8_t *ip = f + 14, *icmp = f + 34;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	be16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	be16(ip + 2, (uint16_t)(28 + len));
	ip[8] = 64;
	ip[9] = 1;
	be32(ip + 12, sip);
	be32(ip + 16, dip);
	be16(ip + 10, fake_csum(ip, 20));
	icmp[0] = type;
	icmp[1] = 0;
	be16(icmp + 2, 0);
	be16(icmp + 4, id);
	be16(icmp + 6, seq);
	memcpy(icmp + 8, data, len);
	be16(icmp + 2, fake_csum(icmp, 8 + len));
	return 34 + 8 + len;
}

/* Answers ARP for PEER_IP and echo requests to it; a request with a bad
 * checksum goes unanswered, as a real stack would drop it. */
static void fake_peer(const uint8_t *f, size_t len)
{
	uint8_t out[NETFRONT_TX_BUF];
	size_t n;

	if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 &&
	    rd32(f + 38) == PEER_IP) {
		fk.peer_arp++;
		n = fake_arp(out, f + 6, peer_mac, 2, PEER_IP, f + 22, rd32(f + 28));
		fake_net_rx(out, n, NULL);
		return;
	}
	if (len >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 1 && f[34] == 8 &&
	    rd32(f + 30) == PEER_IP && !fake_csum(f + 14, 20) && !fake_csum(f + 34, len - 34)) {
		uint8_t data[NETFRONT_TX_BUF];

		fk.peer_echo++;
		memcpy(data, f + 42, len - 42);
		/* Valid checksums over wrong data: the stack must compare. */
		if (fk.peer_bad_data && len > 42)
			data[len - 43] ^= 0xff;
		n = fake_echo(out, f + 6, peer_mac, PEER_IP, rd32(f + 26), 0,
			      (uint16_t)(f[38] << 8 | f[39]), (uint16_t)(f[40] << 8 | f[41]),
			      data, len - 42);
		fake_net_rx(out, n, NULL);
	}
}

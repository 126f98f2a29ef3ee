/* Unit tests for the isle-netback datapath (netback/net_tx.c, net_rx.c)
 * and the tap offload mapping (the control queue, lib/net_ctrl.c, is
 * test_net_ctrl.c's): the test plays the guest driver,
 * with rings and buffers in calloc'd "guest RAM", and the network, on the
 * far end of a SOCK_SEQPACKET socketpair standing in for the tap (one
 * record per frame, like a tap with IFF_VNET_HDR). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "cunit.h"
#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "net.h"
#include "tap.h"

#define RAM_GPA  0x100000ULL
#define RAM_SIZE (2 * MiB)
#define RXQ      RAM_GPA                /* rings: up to 256 entries each */
#define TXQ      (RAM_GPA + 0x8000)
#define BUFS     (RAM_GPA + 0x10000)    /* buffers, bump-allocated */

#define F_V1   BIT(VIRTIO_F_VERSION_1)
#define F_MRG  BIT(VIRTIO_NET_F_MRG_RXBUF)
#define F_CSUM BIT(VIRTIO_NET_F_CSUM)

struct ring {
	unsigned int num;
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc;
};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static uint8_t *ram;
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */
static struct net_queue *q;
static struct ring rx, tx;
static int peer = -1;           /* the network end of the fake tap */
static uint64_t next_buf;

static uint8_t *hva(uint64_t gpa)
{
	uint64_t len = 1;
	uint8_t *p = gmem_gpa_to_hva(&gm, gpa, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static void ring_init(struct ring *r, struct vq *vq, uint64_t base, unsigned int num,
		      uint64_t features)
{
	struct vq_config c = { .num = num, .flags = vq_flags_from_features(features) };

	memset(r, 0, sizeof(*r));
	r->num = num;
	r->desc = c.desc_gpa = base;
	r->avail = c.avail_gpa = base + 16ULL * num;
	r->used = c.used_gpa = ALIGN_UP(r->avail + 6 + 2ULL * num, 4ULL);
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */
	CU_ASSERT_EQUAL_FATAL(vq_init(vq, &as, &c), 0);
}

static void setup(uint64_t features, unsigned int mtu, unsigned int rxnum)
{
	int sv[2];

	ram = calloc(1, RAM_SIZE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ram);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, ram, -1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	/* Room for a few 64 KiB records in flight. */
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	q = calloc(1, sizeof(*q));
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL_FATAL(net_queue_init(q), 0);
	q->tap_fd = sv[0];
	peer = sv[1];
	net_queue_configure(q, features, mtu);
	ring_init(&rx, &q->rxvq, RXQ, rxnum, features);
	ring_init(&tx, &q->txvq, TXQ, 64, features);
	next_buf = BUFS;
}

static void teardown(void)
{
	close(q->tap_fd);
	close(peer);
	net_queue_fini(q);
	free(q);
	free(ram);
	q = NULL;
	ram = NULL;
}

static uint64_t buf_alloc(uint32_t len)
{
	uint64_t gpa = next_buf;

	next_buf = ALIGN_UP(next_buf + len, 64ULL);
	CU_ASSERT_FATAL(next_buf <= RAM_GPA + RAM_SIZE);
	return gpa;
}

/* Makes a chain of the segments available; returns its head. */
static uint16_t ring_add(struct ring *r, const struct seg *s, unsigned int n)
{
	uint16_t head = r->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % r->num);
		uint8_t *p = hva(r->desc + 16ULL * d);

		put_le64(p, s[i].gpa);
		put_le32(p + 8, s[i].len);
		put_le16(p + 12, (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					    (s[i].write ? VRING_DESC_F_WRITE : 0)));
		put_le16(p + 14, (uint16_t)((d + 1) % r->num));
	}
	r->next_desc = (uint16_t)((head + n) % r->num);
	put_le16(hva(r->avail + 4 + 2ULL * (r->avail_idx % r->num)), head);
	r->avail_idx++;
	put_le16(hva(r->avail + 2), r->avail_idx);
	return head;
}

static uint16_t used_idx(const struct ring *r)
{
	return get_le16(hva(r->used + 2));
}

static uint32_t used_id(const struct ring *r, uint16_t slot)
{
	return get_le32(hva(r->used + 4 + 8ULL * (slot % r->num)));
}

static uint32_t used_len(const struct ring *r, uint16_t slot)
{
	return get_le32(hva(r->used + 8 + 8ULL * (slot % r->num)));
}

/* A frame with a recognizable pattern. */
static void frame_fill(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* ---- TX ---- */

/* One chain: header (12 bytes) then frame, one descriptor each. */
static uint16_t tx_add(const struct virtio_net_hdr_v1 *h, const uint8_t *frame, uint32_t flen)
{
	uint64_t hg = buf_alloc(NET_HDR_LEN), fg = buf_alloc(flen);
	struct seg s[2] = { { hg, NET_HDR_LEN, false }, { fg, flen, false } };

	memcpy(hva(hg), h, NET_HDR_LEN);
	memcpy(hva(fg), frame, flen);
	return ring_add(&tx, s, 2);
}

/* Runs TX and checks the record on the wire (or that there is none). */
static void tx_expect(const struct virtio_net_hdr_v1 *h, const uint8_t *frame, uint32_t flen,
		      bool sent)
{
	static uint8_t buf[NET_HDR_LEN + NET_FRAME_MAX + 64];
	ssize_t n;

	CU_ASSERT_EQUAL(net_tx_run(q, NET_TX_BUDGET), NET_IDLE);
	n = recv(peer, buf, sizeof(buf), 0);
	if (!sent) {
		CU_ASSERT(n < 0 && errno == EAGAIN);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(n, NET_HDR_LEN + (ssize_t)flen);
	CU_ASSERT_EQUAL(memcmp(buf, h, NET_HDR_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(buf + NET_HDR_LEN, frame, flen), 0);
}

static void test_tx_good(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[60];

	setup(F_V1, 1500, 16);
	frame_fill(f, sizeof(f), 1);
	tx_add(&h, f, sizeof(f));
	tx_expect(&h, f, sizeof(f), true);
	CU_ASSERT_EQUAL(used_idx(&tx), 1);
	CU_ASSERT_EQUAL(used_id(&tx, 0), 0);
	CU_ASSERT_EQUAL(used_len(&tx, 0), 0);
	CU_ASSERT_EQUAL(q->stats.tx_packets, 1);
	CU_ASSERT_EQUAL(q->stats.tx_bytes, 60);
	CU_ASSERT_EQUAL(q->stats.tx_errors, 0);
	/* Idle: nothing more, kicks are back on. */
	CU_ASSERT_EQUAL(net_tx_run(q, NET_TX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(get_le16(hva(tx.used)) & VRING_USED_F_NO_NOTIFY, 0);
	teardown();
}

/* The header spread over four descriptors, the frame over two. */
static void test_tx_hdr_split(void)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = htole16(34), .csum_offset = htole16(6) };
	uint8_t f[100], hb[NET_HDR_LEN];
	uint64_t g[6];
	struct seg s[6];
	uint32_t len[6] = { 1, 5, 4, 2, 30, 70 };

	setup(F_V1 | F_CSUM, 1500, 16);
	frame_fill(f, sizeof(f), 9);
	memcpy(hb, &h, sizeof(hb));
	for (int i = 0, off = 0; i < 6; i++) {
		const uint8_t *src = i < 4 ? hb + off : f + off - NET_HDR_LEN;

		g[i] = buf_alloc(len[i]);
		memcpy(hva(g[i]), src, len[i]);
		s[i] = (struct seg){ g[i], len[i], false };
		off += (int)len[i];
	}
	ring_add(&tx, s, 6);
	tx_expect(&h, f, sizeof(f), true);
	CU_ASSERT_EQUAL(q->stats.tx_packets, 1);
	CU_ASSERT_EQUAL(q->stats.tx_bytes, 100);
	teardown();
}

#define STAT(name) offsetof(struct net_stats, name)

static uint64_t stat_at(size_t off)
{
	return *(const uint64_t *)((const uint8_t *)&q->stats + off);
}

static void expect_tx_bad(uint64_t features, const struct virtio_net_hdr_v1 *h, uint32_t flen,
			  size_t counter)
{
	static uint8_t f[NET_FRAME_MAX + 16];
	uint16_t used;

	setup(features, 1500, 16);
	frame_fill(f, flen, 3);
	tx_add(h, f, flen);
	tx_expect(h, f, flen, false);
	used = used_idx(&tx);
	CU_ASSERT_EQUAL(used, 1);
	CU_ASSERT_EQUAL(used_len(&tx, 0), 0);
	CU_ASSERT_EQUAL(q->stats.tx_errors, 1);
	CU_ASSERT_EQUAL(stat_at(counter), 1);
	CU_ASSERT_EQUAL(q->stats.tx_packets, 0);
	/* The queue goes on: a good frame after the bad one is sent. */
	h = &(struct virtio_net_hdr_v1){ 0 };
	tx_add(h, f, 64);
	tx_expect(h, f, 64, true);
	CU_ASSERT_EQUAL(q->stats.tx_packets, 1);
	teardown();
}

static void test_tx_short(void)
{
	struct virtio_net_hdr_v1 h = { 0 };

	expect_tx_bad(F_V1, &h, 13, STAT(tx_short));
	expect_tx_bad(F_V1, &h, 0, STAT(tx_short));
	/* Shorter than the header itself. */
	setup(F_V1, 1500, 16);
	ring_add(&tx, &(struct seg){ buf_alloc(8), 8, false }, 1);
	CU_ASSERT_EQUAL(net_tx_run(q, NET_TX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(q->stats.tx_short, 1);
	CU_ASSERT_EQUAL(used_idx(&tx), 1);
	teardown();
}

static void test_tx_oversize(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	static uint8_t f[2000];

	/* MTU negotiated: the driver promised MTU + Ethernet (+ VLAN). */
	expect_tx_bad(F_V1 | BIT(VIRTIO_NET_F_MTU), &h, 1500 + 18 + 1, STAT(tx_oversize));
	setup(F_V1 | BIT(VIRTIO_NET_F_MTU), 1500, 16);
	tx_add(&h, f, 1518);
	tx_expect(&h, f, 1518, true);
	teardown();
	/* Without it a bigger frame goes, up to 64 KiB + headers. */
	setup(F_V1, 1500, 16);
	tx_add(&h, f, 2000);
	tx_expect(&h, f, 2000, true);
	teardown();
	expect_tx_bad(F_V1, &h, NET_FRAME_MAX + 1, STAT(tx_oversize));
}

static void test_tx_gso(void)
{
	uint64_t tso = F_V1 | F_CSUM | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6);
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(1448),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	static uint8_t f[9000];
	struct virtio_net_hdr_v1 b;

	/* A good TSO frame bigger than the MTU. */
	setup(tso, 1500, 16);
	frame_fill(f, sizeof(f), 5);
	tx_add(&h, f, sizeof(f));
	tx_expect(&h, f, sizeof(f), true);
	teardown();
	/* Not negotiated, or never offered (UFO, USO, ECN), or unknown. */
	expect_tx_bad(F_V1 | F_CSUM, &h, 9000, STAT(tx_bad_hdr));
	b = h; b.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	expect_tx_bad(F_V1 | F_CSUM | BIT(VIRTIO_NET_F_HOST_TSO4), &b, 9000, STAT(tx_bad_hdr));
	b = h; b.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	expect_tx_bad(tso, &b, 9000, STAT(tx_bad_hdr));
	b = h; b.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	expect_tx_bad(tso, &b, 9000, STAT(tx_bad_hdr));
	b = h; b.gso_type = 5;
	expect_tx_bad(tso, &b, 9000, STAT(tx_bad_hdr));
	b = h; b.gso_type = VIRTIO_NET_HDR_GSO_NONE | VIRTIO_NET_HDR_GSO_ECN;
	expect_tx_bad(tso, &b, 100, STAT(tx_bad_hdr));
	/* GSO needs a segment size and a partial checksum. */
	b = h; b.gso_size = 0;
	expect_tx_bad(tso, &b, 9000, STAT(tx_bad_hdr));
	b = h; b.flags = 0;
	expect_tx_bad(tso, &b, 9000, STAT(tx_bad_hdr));
}

static void test_tx_csum(void)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = htole16(50), .csum_offset = htole16(8) };
	static uint8_t f[60];

	/* 50 + 8 + 2 = 60: the checksum field ends at the frame's end. */
	setup(F_V1 | F_CSUM, 1500, 16);
	tx_add(&h, f, 60);
	tx_expect(&h, f, 60, true);
	teardown();
	h.csum_offset = htole16(9);
	expect_tx_bad(F_V1 | F_CSUM, &h, 60, STAT(tx_bad_hdr));
	h.csum_start = htole16(0xffff);
	h.csum_offset = htole16(0xffff);
	expect_tx_bad(F_V1 | F_CSUM, &h, 60, STAT(tx_bad_hdr));
	/* NEEDS_CSUM without the feature. */
	h.csum_start = htole16(14);
	h.csum_offset = htole16(16);
	expect_tx_bad(F_V1, &h, 60, STAT(tx_bad_hdr));
	/* Unknown flags; hdr_len beyond the frame. */
	h = (struct virtio_net_hdr_v1){ .flags = 0x80 };
	expect_tx_bad(F_V1 | F_CSUM, &h, 60, STAT(tx_bad_hdr));
	h = (struct virtio_net_hdr_v1){ .hdr_len = htole16(61) };
	expect_tx_bad(F_V1, &h, 60, STAT(tx_bad_hdr));
}

static void test_tx_check(void)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };

	setup(F_V1, 1500, 16);
	/* DATA_VALID means nothing on TX: dropped from the copy we send. */
	CU_ASSERT_EQUAL(net_tx_check(q, &h, 60), NET_TX_OK);
	CU_ASSERT_EQUAL(h.flags, 0);
	h.flags = VIRTIO_NET_HDR_F_RSC_INFO;
	CU_ASSERT_EQUAL(net_tx_check(q, &h, 60), NET_TX_BAD_HDR);
	CU_ASSERT_EQUAL(net_hdr_len(0), NET_HDR_LEN_LEGACY);
	CU_ASSERT_EQUAL(net_hdr_len(F_MRG), NET_HDR_LEN);
	CU_ASSERT_EQUAL(net_hdr_len(F_V1), NET_HDR_LEN);
	teardown();
}

static void test_tx_bad_desc(void)
{
	struct seg s[2];

	setup(F_V1, 1500, 16);
	s[0] = (struct seg){ buf_alloc(100), 100, false };
	s[1] = (struct seg){ buf_alloc(16), 16, true };
	ring_add(&tx, s, 2);
	CU_ASSERT_EQUAL(net_tx_run(q, NET_TX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(q->stats.tx_bad_desc, 1);
	CU_ASSERT_EQUAL(q->stats.tx_errors, 1);
	CU_ASSERT_EQUAL(used_idx(&tx), 1);
	teardown();
}

/* Legacy 10-byte header, and the budget. */
static void test_tx_legacy_budget(void)
{
	uint8_t f[64], buf[128];

	setup(0, 1500, 16);
	frame_fill(f, sizeof(f), 2);
	for (int i = 0; i < 10; i++) {
		uint64_t g = buf_alloc(NET_HDR_LEN_LEGACY + sizeof(f));

		memcpy(hva(g) + NET_HDR_LEN_LEGACY, f, sizeof(f));
		ring_add(&tx, &(struct seg){ g, NET_HDR_LEN_LEGACY + sizeof(f), false }, 1);
	}
	CU_ASSERT_EQUAL(net_tx_run(q, 4), NET_MORE);
	CU_ASSERT_EQUAL(used_idx(&tx), 4);
	CU_ASSERT_EQUAL(net_tx_run(q, 4), NET_MORE);
	CU_ASSERT_EQUAL(net_tx_run(q, 4), NET_IDLE);
	CU_ASSERT_EQUAL(used_idx(&tx), 10);
	CU_ASSERT_EQUAL(q->stats.tx_packets, 10);
	CU_ASSERT_EQUAL(recv(peer, buf, sizeof(buf), 0), NET_HDR_LEN_LEGACY + 64);
	CU_ASSERT_EQUAL(memcmp(buf + NET_HDR_LEN_LEGACY, f, sizeof(f)), 0);
	teardown();
}

/* ---- RX ---- */

static uint64_t rx_gpa[256];   /* buffer of each RX chain, by head */

/* Posts n chains of one writable buffer of size bytes each. */
static void rx_post(unsigned int n, uint32_t size)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t g = buf_alloc(size);
		uint16_t head;

		memset(hva(g), 0xee, size);   /* num_buffers must be written */
		head = ring_add(&rx, &(struct seg){ g, size, true }, 1);
		rx_gpa[head] = g;
	}
}

/* What the network sends: a tap record, vnet header + frame. */
static void peer_send(const struct virtio_net_hdr_v1 *h, const uint8_t *frame, uint32_t flen)
{
	static uint8_t rec[NET_HDR_LEN + NET_FRAME_MAX];

	memcpy(rec, h, q->hdr_len);
	memcpy(rec + q->hdr_len, frame, flen);
	CU_ASSERT_EQUAL(send(peer, rec, q->hdr_len + flen, 0), (ssize_t)(q->hdr_len + flen));
}

/* Checks the packet in used slots [slot, slot + nbufs): the chains' bytes
 * in order are the header then the frame; returns the header. */
static struct virtio_net_hdr_v1 rx_expect(uint16_t slot, unsigned int nbufs,
					  const uint8_t *frame, uint32_t flen)
{
	static uint8_t got[NET_HDR_LEN + NET_FRAME_MAX];
	struct virtio_net_hdr_v1 h;
	size_t off = 0;

	CU_ASSERT_FATAL((uint16_t)(used_idx(&rx) - slot) >= nbufs);
	for (unsigned int i = 0; i < nbufs; i++) {
		uint32_t id = used_id(&rx, (uint16_t)(slot + i)), len = used_len(&rx, (uint16_t)(slot + i));

		CU_ASSERT_FATAL(id < rx.num && off + len <= sizeof(got));
		memcpy(got + off, hva(rx_gpa[id]), len);
		off += len;
	}
	CU_ASSERT_EQUAL(off, q->hdr_len + flen);
	CU_ASSERT_EQUAL(memcmp(got + q->hdr_len, frame, flen), 0);
	memset(&h, 0, sizeof(h));
	memcpy(&h, got, q->hdr_len);
	if (q->hdr_len == NET_HDR_LEN)
		CU_ASSERT_EQUAL(le16toh(h.num_buffers), nbufs);
	return h;
}

static void test_rx_one_chain(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[100];

	setup(F_V1, 1500, 16);
	frame_fill(f, sizeof(f), 4);
	rx_post(2, 2048);
	peer_send(&h, f, sizeof(f));
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(used_idx(&rx), 1);
	CU_ASSERT_EQUAL(used_len(&rx, 0), NET_HDR_LEN + 100);
	rx_expect(0, 1, f, sizeof(f));   /* num_buffers 1 without MRG_RXBUF */
	CU_ASSERT_EQUAL(q->stats.rx_packets, 1);
	CU_ASSERT_EQUAL(q->stats.rx_bytes, 100);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 0);
	/* The second chain is held for the next packet, and given back. */
	CU_ASSERT_EQUAL(vq_get_last_avail(&q->rxvq), 2);
	net_rx_release(q);
	CU_ASSERT_EQUAL(vq_get_last_avail(&q->rxvq), 1);
	teardown();
}

/* Without MRG_RXBUF a packet must fit one chain; one that does not is
 * dropped and the chain takes the next packet. */
static void test_rx_too_big(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[200];

	setup(F_V1, 1500, 16);
	frame_fill(f, sizeof(f), 6);
	rx_post(1, 100);
	peer_send(&h, f, 150);
	peer_send(&h, f, 80);
	/* Both read; then out of buffers with nothing waiting: no stall. */
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_stalls, 0);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 1);
	CU_ASSERT_EQUAL(q->stats.rx_packets, 1);
	CU_ASSERT_EQUAL(used_idx(&rx), 1);
	rx_expect(0, 1, f, 80);
	teardown();
}

/* MRG_RXBUF: a packet spans chains; num_buffers says how many. */
static void test_rx_mergeable(void)
{
	struct virtio_net_hdr_v1 h = { .gso_type = 0 };
	uint8_t f[1400];

	setup(F_V1 | F_MRG, 1500, 16);
	frame_fill(f, sizeof(f), 8);
	rx_post(4, 512);
	peer_send(&h, f, 1400);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_stalls, 0);
	CU_ASSERT_EQUAL(used_idx(&rx), 3);
	CU_ASSERT_EQUAL(used_len(&rx, 0), 512);
	CU_ASSERT_EQUAL(used_len(&rx, 1), 512);
	CU_ASSERT_EQUAL(used_len(&rx, 2), NET_HDR_LEN + 1400 - 1024);
	rx_expect(0, 3, f, 1400);
	/* One 512-byte chain left: less than an MTU frame needs, so RX stops
	 * reading (backpressure) instead of risking a drop. */
	peer_send(&h, f, 60);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_stalls, 1);
	CU_ASSERT_EQUAL(used_idx(&rx), 3);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 0);
	/* Kicks are on (used->flags clear) for the guest's next buffers. */
	CU_ASSERT_EQUAL(get_le16(hva(rx.used)) & VRING_USED_F_NO_NOTIFY, 0);
	rx_post(4, 512);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(used_idx(&rx), 4);
	rx_expect(3, 1, f, 60);
	CU_ASSERT_EQUAL(q->stats.rx_packets, 2);
	CU_ASSERT_EQUAL(q->stats.rx_bytes, 1460);
	teardown();
}

/* No buffers at all: nothing is read, nothing is dropped. */
static void test_rx_no_buffers(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[64], peek[8];

	setup(F_V1 | F_MRG, 1500, 16);
	frame_fill(f, sizeof(f), 1);
	peer_send(&h, f, sizeof(f));
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_stalls, 2);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 0);
	CU_ASSERT_EQUAL(recv(q->tap_fd, peek, sizeof(peek), MSG_PEEK), sizeof(peek));
	rx_post(1, 2048);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_stalls, 2);
	rx_expect(0, 1, f, sizeof(f));
	teardown();
}

/* A ring too small for a whole MTU frame: RX reads with what the guest
 * has (it cannot give more) and drops only what does not fit. */
static void test_rx_small_ring(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[1400];

	setup(F_V1 | F_MRG, 1500, 2);
	frame_fill(f, sizeof(f), 3);
	rx_post(2, 512);
	peer_send(&h, f, 1400);
	peer_send(&h, f, 900);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 1);
	CU_ASSERT_EQUAL(q->stats.rx_packets, 1);
	rx_expect(0, 2, f, 900);
	teardown();
}

/* With guest TSO a 64 KiB packet spans many 4 KiB chains. */
static void test_rx_gso_big(void)
{
	uint64_t feat = F_V1 | F_MRG | BIT(VIRTIO_NET_F_GUEST_CSUM) |
			BIT(VIRTIO_NET_F_GUEST_TSO4);
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(66), .gso_size = htole16(1448),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	}, got;
	static uint8_t f[65000];

	setup(feat, 1500, 32);
	CU_ASSERT_EQUAL(q->rx_want, NET_HDR_LEN + NET_FRAME_MAX);
	frame_fill(f, sizeof(f), 7);
	rx_post(32, 4096);
	peer_send(&h, f, sizeof(f));
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_IDLE);
	got = rx_expect(0, 16, f, sizeof(f));   /* 65012 bytes: 16 chains */
	CU_ASSERT_EQUAL(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CU_ASSERT_EQUAL(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CU_ASSERT_EQUAL(le16toh(got.gso_size), 1448);
	teardown();
	/* A GSO packet the guest did not ask for is dropped. */
	setup(F_V1 | F_MRG, 1500, 32);
	rx_post(4, 4096);
	peer_send(&h, f, 1000);
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_IDLE);
	CU_ASSERT_EQUAL(q->stats.rx_drops, 1);
	CU_ASSERT_EQUAL(used_idx(&rx), 0);
	teardown();
}

/* Flags are passed through with GUEST_CSUM and cleared without it. */
static void test_rx_flags(void)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, got;
	uint8_t f[64];

	frame_fill(f, sizeof(f), 2);
	setup(F_V1, 1500, 16);
	rx_post(1, 2048);
	peer_send(&h, f, sizeof(f));
	net_rx_run(q, NET_RX_BUDGET);
	got = rx_expect(0, 1, f, sizeof(f));
	CU_ASSERT_EQUAL(got.flags, 0);
	teardown();
	setup(F_V1 | BIT(VIRTIO_NET_F_GUEST_CSUM), 1500, 16);
	rx_post(1, 2048);
	peer_send(&h, f, sizeof(f));
	net_rx_run(q, NET_RX_BUDGET);
	got = rx_expect(0, 1, f, sizeof(f));
	CU_ASSERT_EQUAL(got.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	teardown();
}

/* Chains RX cannot use are returned empty and counted; held chains before
 * one of them can then only be returned (not unpopped) on release. */
static void test_rx_bad_desc(void)
{
	uint8_t f[64];
	struct seg s[2];

	setup(F_V1 | F_MRG, 1500, 16);
	frame_fill(f, sizeof(f), 2);
	rx_post(1, 512);
	s[0] = (struct seg){ buf_alloc(16), 16, false };
	s[1] = (struct seg){ buf_alloc(512), 512, true };
	ring_add(&rx, s, 2);                                   /* readable part */
	ring_add(&rx, &(struct seg){ buf_alloc(8), 8, true }, 1);   /* < header */
	CU_ASSERT_EQUAL(net_rx_run(q, NET_RX_BUDGET), NET_BLOCKED);
	CU_ASSERT_EQUAL(q->stats.rx_bad_desc, 2);
	CU_ASSERT_EQUAL(q->stats.rx_errors, 2);
	CU_ASSERT_EQUAL(used_idx(&rx), 2);
	CU_ASSERT_EQUAL(used_len(&rx, 0), 0);
	CU_ASSERT_EQUAL(used_len(&rx, 1), 0);
	net_rx_release(q);
	CU_ASSERT_EQUAL(used_idx(&rx), 3);   /* the held good chain, empty */
	CU_ASSERT_EQUAL(vq_get_last_avail(&q->rxvq), 3);
	teardown();
}

/* The driver is interrupted through its call eventfd unless it said no. */
static void test_rx_notify(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[64];
	eventfd_t v = 0;
	int efd = eventfd(0, EFD_NONBLOCK);

	setup(F_V1, 1500, 16);
	q->rx_call = efd;
	frame_fill(f, sizeof(f), 2);
	rx_post(2, 2048);
	peer_send(&h, f, sizeof(f));
	net_rx_run(q, NET_RX_BUDGET);
	CU_ASSERT_EQUAL(eventfd_read(efd, &v), 0);
	CU_ASSERT_EQUAL(v, 1);
	put_le16(hva(rx.avail), VRING_AVAIL_F_NO_INTERRUPT);
	peer_send(&h, f, sizeof(f));
	net_rx_run(q, NET_RX_BUDGET);
	CU_ASSERT_EQUAL(used_idx(&rx), 2);
	CU_ASSERT_EQUAL(eventfd_read(efd, &v), -1);
	close(efd);
	teardown();
}

/* ---- offloads ---- */

static void test_tap_offload(void)
{
	uint64_t csum = BIT(VIRTIO_NET_F_GUEST_CSUM);

	CU_ASSERT_EQUAL(tap_offload_for(0), 0);
	/* TSO only with checksum offload. */
	CU_ASSERT_EQUAL(tap_offload_for(BIT(VIRTIO_NET_F_GUEST_TSO4)), 0);
	CU_ASSERT_EQUAL(tap_offload_for(csum), TUN_F_CSUM);
	CU_ASSERT_EQUAL(tap_offload_for(csum | BIT(VIRTIO_NET_F_GUEST_TSO4) |
					BIT(VIRTIO_NET_F_GUEST_TSO6)),
			TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	CU_ASSERT_EQUAL(tap_offload_for(csum | BIT(VIRTIO_NET_F_GUEST_ECN)), TUN_F_CSUM);
	CU_ASSERT_EQUAL(tap_offload_for(csum | BIT(VIRTIO_NET_F_GUEST_TSO4) |
					BIT(VIRTIO_NET_F_GUEST_ECN)),
			TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN);
}

void unit_register(void)
{
	log_set_level(LOG_ERROR);
	UNIT_SUITE("net_tx",
		UNIT_TEST(test_tx_good),
		UNIT_TEST(test_tx_hdr_split),
		UNIT_TEST(test_tx_short),
		UNIT_TEST(test_tx_oversize),
		UNIT_TEST(test_tx_gso),
		UNIT_TEST(test_tx_csum),
		UNIT_TEST(test_tx_check),
		UNIT_TEST(test_tx_bad_desc),
		UNIT_TEST(test_tx_legacy_budget));
	UNIT_SUITE("net_rx",
		UNIT_TEST(test_rx_one_chain),
		UNIT_TEST(test_rx_too_big),
		UNIT_TEST(test_rx_mergeable),
		UNIT_TEST(test_rx_no_buffers),
		UNIT_TEST(test_rx_small_ring),
		UNIT_TEST(test_rx_gso_big),
		UNIT_TEST(test_rx_flags),
		UNIT_TEST(test_rx_bad_desc),
		UNIT_TEST(test_rx_notify));
	UNIT_SUITE("tap",
		UNIT_TEST(test_tap_offload));
}

/* Unit tests for frontends/netfront.c and frontends/inet.c, hosted.
 *
 * netfront runs against the simulated virtio-net function in
 * fake_virtio_net.c, whose queues are served by isle's device-side
 * virtqueue (lib/virtq.c): set-up and its failures, transmit with slot
 * reclaim and checksum offload (device or driver), receive with refill,
 * MRG_RXBUF reassembly (also when the device publishes a frame's buffers
 * in two steps), partial checksums completed, and a hostile device
 * (num_buffers 0 or beyond the posted buffers, used length beyond a buffer,
 * short and long frames, GSO and unknown flags). inet runs on top of it
 * against the fake's peer (ARP, pings both ways, data compared); inet on
 * its own, against malformed frames, is in test_netfront_inet.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "fake_virtio_net.h"

static struct netfront nf;
static uint8_t got[NETFRONT_FRAME_MAX], frame[NETFRONT_FRAME_MAX];
static size_t got_len;
static unsigned int got_n, got_flags;

static int nf_open(const struct netfront_opts *o)
{
	return netfront_init(&nf, &fake_env, o, fake_ram, NETFRONT_DMA_BYTES, fake_priv,
			     NETFRONT_PRIV_BYTES);
}

static void on_rx(void *ctx, uint8_t *f, size_t len, unsigned int flags)
{
	memcpy(got, f, len);
	got_len = len;
	got_flags = flags;
	got_n++;
}

static int poll_all(void)
{
	got_n = 0;
	return netfront_poll(&nf, on_rx, NULL, 1000);
}

/* A frame of len bytes from the peer to us, bytes numbered by seed. */
static void make_frame(size_t len, unsigned int seed)
{
	memcpy(frame, guest_mac, 6);
	memcpy(frame + 6, peer_mac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;                       /* local experimental ethertype */
	for (size_t i = 14; i < len; i++)
		frame[i] = (uint8_t)(i * 13 + seed);
}

static void rx_ok(size_t len, unsigned int seed, unsigned int flags)
{
	make_frame(len, seed);
	CU_ASSERT_EQUAL_FATAL(fake_net_rx(frame, len, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), 1);
	CU_ASSERT_EQUAL(got_len, len);
	CU_ASSERT_EQUAL(memcmp(got, frame, len), 0);
	CU_ASSERT_EQUAL(got_flags, flags);
}

/* ---- netfront ---------------------------------------------------------- */

static void test_init(void)
{
	struct netfront_opts o = {
		.features = NETFRONT_FEATURES & ~(1ull << VIRTIO_RING_F_EVENT_IDX |
						  1ull << VIRTIO_RING_F_INDIRECT_DESC |
						  1ull << VIRTIO_NET_F_MAC),
		.queue_max = 16, .rx_buf = 512, .mac = { 0x02, 1, 2, 3, 4, 5 },
	};

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	CU_ASSERT_PTR_NULL(nf.error);
	CU_ASSERT_EQUAL(fk.vp.driver, fk.vp.offered);
	CU_ASSERT_EQUAL(memcmp(nf.mac, guest_mac, 6), 0);
	CU_ASSERT_EQUAL(nf.mtu, 1500);
	CU_ASSERT_EQUAL(nf.frame_max, 1518);
	CU_ASSERT_EQUAL(nf.rx_size, 256);
	CU_ASSERT_EQUAL(nf.rx_bufs, 256);
	CU_ASSERT_EQUAL(nf.rx_buf, 4096);
	CU_ASSERT_EQUAL(nf.tx_slots, NETFRONT_TX_SLOTS);
	CU_ASSERT_EQUAL((uintptr_t)nf.rx_mem % 4096, 0);
	CU_ASSERT_EQUAL(fake_net_rx_avail(), 256);
	CU_ASSERT_EQUAL(fk.rx_kicks, 1);        /* after DRIVER_OK, not before */
	CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_TRUE(netfront_link_up(&nf));
	fk.net.status = 0;
	CU_ASSERT_FALSE(netfront_link_up(&nf));
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(&o), 0);
	CU_ASSERT_EQUAL(memcmp(nf.mac, o.mac, 6), 0);
	CU_ASSERT_EQUAL(nf.rx_size, 16);
	CU_ASSERT_EQUAL(nf.rx_buf, 512);
	CU_ASSERT_EQUAL(nf.tx_slots, 8);         /* two descriptors each */
	fake_teardown();
}

static void test_init_errors(void)
{
	struct netfront_opts o = { .features = NETFRONT_FEATURES, .rx_buf = 64, .rx_bufs = 4 };

	fake_setup();
	put_le16(&fk.vp.cfg[2], 0x1042);
	CU_ASSERT_EQUAL(nf_open(NULL), -ENODEV);
	CU_ASSERT_STRING_EQUAL(nf.error, "not a virtio-net device");
	fake_teardown();

	fake_setup();
	fk.net.mtu = 60;
	CU_ASSERT_EQUAL(nf_open(NULL), -EIO);
	CU_ASSERT_STRING_EQUAL(nf.error, "device reports an MTU below 68");
	CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_FAILED);
	fake_teardown();

	fake_setup();
	fk.vp.q[1].max = 0;
	CU_ASSERT_EQUAL(nf_open(NULL), -ENODEV);
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL(nf_open(&o), -EINVAL);
	CU_ASSERT_STRING_EQUAL(nf.error, "receive buffers cannot hold a full frame");
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 60), -EIO);
	CU_ASSERT_EQUAL(netfront_init(&nf, &fake_env, NULL, fake_ram, NETFRONT_DMA_BYTES,
				      fake_priv, 1024), -EINVAL);
	CU_ASSERT_EQUAL(netfront_init(&nf, &fake_env, NULL, fake_ram, 4096, fake_priv,
				      NETFRONT_PRIV_BYTES), -EINVAL);
	CU_ASSERT_STRING_EQUAL(nf.error, "memory areas too small");
	/* A short DMA area costs receive buffers, not the device. */
	CU_ASSERT_EQUAL(netfront_init(&nf, &fake_env, NULL, fake_ram, 300 * 1024, fake_priv,
				      NETFRONT_PRIV_BYTES), 0);
	CU_ASSERT_TRUE(nf.rx_bufs > 2 && nf.rx_bufs < 64);
	CU_ASSERT_EQUAL(fake_net_rx_avail(), nf.rx_bufs);
	fake_teardown();

	/* Without merging, buffers grow to a whole frame of the MTU. */
	fake_setup();
	fk.vp.offered &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	fk.net.mtu = 9000;
	o = (struct netfront_opts){ .features = NETFRONT_FEATURES, .rx_buf = 512 };
	CU_ASSERT_EQUAL_FATAL(nf_open(&o), 0);
	CU_ASSERT_EQUAL(nf.rx_buf, ALIGN_UP(12u + 9018u, 64u));
	CU_ASSERT_EQUAL(nf.tx_frame_max, NETFRONT_TX_BUF);
	rx_ok(9018, 1, 0);
	fake_teardown();
}

static void test_tx(void)
{
	struct netfront_opts direct = {
		.features = NETFRONT_FEATURES & ~(1ull << VIRTIO_RING_F_INDIRECT_DESC),
	};

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	make_frame(60, 7);
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 60), 0);
	CU_ASSERT_EQUAL(fk.n_sent, 1);
	CU_ASSERT_EQUAL(fk.sent_len[0], 60);
	CU_ASSERT_EQUAL(memcmp(fk.sent[0], frame, 60), 0);
	CU_ASSERT_EQUAL(fk.sent_hdr[0].flags, 0);
	CU_ASSERT_EQUAL(fk.sent_hdr[0].gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CU_ASSERT_EQUAL(nf.txq.added_indirect, 1);
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 13), -EINVAL);
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 1519), -EINVAL);
	CU_ASSERT_EQUAL(netfront_send(&nf, NULL, 60), -EINVAL);
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 1518), 0);

	/* Slots come back only when the device is done with them. */
	fk.tx_hold = true;
	for (unsigned int i = 0; i < NETFRONT_TX_SLOTS; i++)
		CU_ASSERT_EQUAL(netfront_send(&nf, frame, 100), 0);
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 100), -EAGAIN);
	CU_ASSERT_EQUAL(nf.stats.tx_busy, 1);
	fake_net_tx_release();
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 100), 0);
	CU_ASSERT_EQUAL(nf.stats.tx_frames, 2 + NETFRONT_TX_SLOTS + 1);
	CU_ASSERT_EQUAL(fk.tx_frames, nf.stats.tx_frames);
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(&direct), 0);
	CU_ASSERT_EQUAL(nf.tx_slots, NETFRONT_TX_SLOTS);
	for (unsigned int i = 0; i < 300; i++)
		CU_ASSERT_EQUAL(netfront_send(&nf, frame, 60 + i), 0);
	CU_ASSERT_EQUAL(nf.txq.added_indirect, 0);
	CU_ASSERT_EQUAL(fk.tx_frames, 300);
	fake_teardown();
}

static void test_tx_csum(void)
{
	static const uint8_t data[33] = "checksummed by someone, odd size";

	for (int offload = 1; offload >= 0; offload--) {
		size_t n;

		fake_setup();
		if (!offload)
			fk.vp.offered &= ~(1ull << VIRTIO_NET_F_CSUM);
		CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
		n = fake_echo(frame, peer_mac, guest_mac, GUEST_IP, PEER_IP, 8, 1, 2, data,
			      sizeof(data));
		frame[36] = frame[37] = 0;
		CU_ASSERT_EQUAL(netfront_send_csum(&nf, frame, n, 34, 2), 0);
		CU_ASSERT_EQUAL(fk.sent_hdr[0].flags, offload ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0);
		CU_ASSERT_EQUAL(fk.sent_hdr[0].csum_start, offload ? 34 : 0);
		CU_ASSERT_EQUAL(fake_csum(fk.sent[0] + 34, n - 34), 0);
		CU_ASSERT_EQUAL(fk.tx_bad_csum, 0);
		CU_ASSERT_EQUAL(offload ? nf.stats.tx_csum_offload : nf.stats.tx_csum_sw, 1);
		CU_ASSERT_EQUAL(netfront_send_csum(&nf, frame, n, (uint16_t)(n - 2), 1), -EINVAL);
		fake_teardown();
	}
}

static void test_rx(void)
{
	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	rx_ok(60, 1, 0);
	rx_ok(1518, 2, 0);
	rx_ok(14, 3, 0);
	CU_ASSERT_EQUAL(fake_net_rx_avail(), 256);      /* reposted */
	CU_ASSERT_EQUAL(nf.stats.rx_frames, 3);

	/* The budget bounds one call; the rest waits for the next. */
	for (unsigned int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(fake_net_rx(frame, 100, NULL), 0);
	CU_ASSERT_EQUAL(netfront_poll(&nf, on_rx, NULL, 2), 2);
	CU_ASSERT_EQUAL(poll_all(), 3);

	/* Fill every buffer; the device runs dry until we poll. */
	for (unsigned int i = 0; i < 256; i++)
		CU_ASSERT_EQUAL(fake_net_rx(frame, 100, NULL), 0);
	CU_ASSERT_EQUAL(fake_net_rx(frame, 100, NULL), -ENOSPC);
	CU_ASSERT_EQUAL(poll_all(), 256);
	CU_ASSERT_EQUAL(fake_net_rx_avail(), 256);
	rx_ok(200, 4, 0);
	CU_ASSERT_FALSE(nf.broken);
	fake_teardown();
}

static void test_rx_merge(void)
{
	struct netfront_opts small = { .features = NETFRONT_FEATURES, .rx_buf = 128 };

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	fk.rx_split = 100;
	rx_ok(1000, 5, NETFRONT_RX_MERGED);
	CU_ASSERT_EQUAL(nf.stats.rx_bufs_used, 11);
	CU_ASSERT_EQUAL(nf.stats.rx_merged, 1);
	/* Published in two steps: the first poll keeps what it has. */
	fk.rx_publish = 3;
	make_frame(1500, 6);
	CU_ASSERT_EQUAL(fake_net_rx(frame, 1500, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.rx_left, 13);
	fake_net_rx_release();
	CU_ASSERT_EQUAL(poll_all(), 1);
	CU_ASSERT_EQUAL(got_len, 1500);
	CU_ASSERT_EQUAL(memcmp(got, frame, 1500), 0);
	/* Longer than the MTU allows: all its buffers consumed, dropped. */
	make_frame(1600, 7);
	CU_ASSERT_EQUAL(fake_net_rx(frame, 1600, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_long, 1);
	rx_ok(64, 8, 0);
	CU_ASSERT_EQUAL(fake_net_rx_avail(), 256);
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(&small), 0);
	rx_ok(1514, 9, NETFRONT_RX_MERGED);
	CU_ASSERT_EQUAL(nf.stats.rx_bufs_used, 12);     /* 1526 bytes in 128s */
	fake_teardown();

	/* Without MRG_RXBUF num_buffers means nothing and is not read. */
	fake_setup();
	fk.vp.offered &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	CU_ASSERT_EQUAL_FATAL(nf_open(&small), 0);
	CU_ASSERT_EQUAL(nf.rx_buf, 1536);
	fk.rx_num_buffers = 7;
	rx_ok(1514, 10, 0);
	fake_teardown();
}

static void test_rx_csum(void)
{
	static const uint8_t data[41] = "a partial checksum the driver completes";
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34, .csum_offset = 2 };
	size_t n;

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	n = fake_echo(frame, guest_mac, peer_mac, PEER_IP, GUEST_IP, 0, 3, 4, data, sizeof(data));
	frame[36] = frame[37] = 0;
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, &h), 0);
	CU_ASSERT_EQUAL(poll_all(), 1);
	CU_ASSERT_EQUAL(got_flags, NETFRONT_RX_CSUM_OK);
	CU_ASSERT_EQUAL(fake_csum(got + 34, n - 34), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_csum_done, 1);
	h.csum_start = (uint16_t)(n - 1);               /* field beyond the frame */
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, &h), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_bad_hdr, 1);
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, &h), 0);
	CU_ASSERT_EQUAL(poll_all(), 1);
	CU_ASSERT_EQUAL(got_flags, NETFRONT_RX_CSUM_OK);
	fake_teardown();

	/* Not negotiated: NEEDS_CSUM is a device bug, DATA_VALID no news. */
	fake_setup();
	fk.vp.offered &= ~(1ull << VIRTIO_NET_F_GUEST_CSUM);
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, &h), 0);
	CU_ASSERT_EQUAL(poll_all(), 1);
	CU_ASSERT_EQUAL(got_flags, 0);
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
					.csum_offset = 2 };
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, &h), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_bad_hdr, 1);
	fake_teardown();
}

static void test_rx_hostile(void)
{
	struct virtio_net_hdr_v1 gso = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 };
	struct virtio_net_hdr_v1 odd = { .flags = 0x80 };

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	make_frame(200, 1);
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, &gso), 0);
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, &odd), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_bad_hdr, 2);
	fk.rx_first_len = 5;                            /* not even a header */
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, NULL), 0);
	fk.rx_first_len = NETFRONT_HDR_LEN + 13;        /* no Ethernet header */
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.stats.rx_short, 2);
	fk.rx_first_len = -1;
	rx_ok(200, 2, 0);
	CU_ASSERT_FALSE(nf.broken);
	/* A used length beyond the buffer breaks the queue. */
	fk.rx_first_len = 4097;
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), -EIO);
	CU_ASSERT_TRUE(nf.broken);
	CU_ASSERT_STRING_EQUAL(nf.error, "used length beyond the chain's writable buffers");
	CU_ASSERT_EQUAL(netfront_send(&nf, frame, 60), -EIO);
	CU_ASSERT_EQUAL(poll_all(), -EIO);
	fake_teardown();

	/* num_buffers 0, or more than the buffers the device holds. */
	for (int bad = 0; bad < 2; bad++) {
		fake_setup();
		CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
		fk.rx_num_buffers = bad ? 257 : 0;
		CU_ASSERT_EQUAL(fake_net_rx(frame, 200, NULL), 0);
		CU_ASSERT_EQUAL(poll_all(), -EIO);
		CU_ASSERT_STRING_EQUAL(nf.error, "num_buffers beyond the posted receive buffers");
		CU_ASSERT_EQUAL(got_n, 0);
		fake_teardown();
	}
	/* Exactly as many as it holds is fine (and then takes a while). */
	fake_setup();
	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	fk.rx_num_buffers = 256;
	CU_ASSERT_EQUAL(fake_net_rx(frame, 200, NULL), 0);
	CU_ASSERT_EQUAL(poll_all(), 0);
	CU_ASSERT_EQUAL(nf.rx_left, 255);
	CU_ASSERT_FALSE(nf.broken);
	fake_teardown();
}

/* ---- inet over netfront, against the fake's peer ----------------------- */

static struct inet st;
static unsigned int replies_seen;

static void st_rx(void *ctx, uint8_t *f, size_t len, unsigned int flags)
{
	inet_input(&st, f, len);
}

static int st_poll(void *ctx) { return netfront_poll(&nf, st_rx, NULL, 64); }
static int st_xmit(void *ctx, const void *f, size_t len) { return netfront_send(&nf, f, len); }

static int st_xmit_csum(void *ctx, const void *f, size_t len, uint16_t s, uint16_t o)
{
	return netfront_send_csum(&nf, f, len, s, o);
}

static void st_reply(void *ctx, uint32_t src, uint16_t id, uint16_t seq, const uint8_t *d,
		     size_t len)
{
	replies_seen++;
}

static const struct inet_ops st_ops = {
	.xmit = st_xmit, .xmit_csum = st_xmit_csum, .poll = st_poll, .echo_reply = st_reply,
};

static void stack_open(bool offload)
{
	struct inet_cfg c = { .ip = GUEST_IP, .netmask = 0xffffff00u, .csum_offload = offload };

	CU_ASSERT_EQUAL_FATAL(nf_open(NULL), 0);
	memcpy(c.mac, nf.mac, 6);
	CU_ASSERT_EQUAL_FATAL(inet_init(&st, &c, &st_ops, NULL), 0);
	fk.peer = true;
}

static void test_inet_over_netfront(void)
{
	uint8_t mac[6], data[1400];
	uint64_t rtt;
	size_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	for (int offload = 1; offload >= 0; offload--) {
		fake_setup();
		stack_open(offload);
		CU_ASSERT_EQUAL(inet_resolve(&st, PEER_IP, mac, 1000000), 0);
		CU_ASSERT_EQUAL(memcmp(mac, peer_mac, 6), 0);
		CU_ASSERT_EQUAL(fk.peer_arp, 1);
		for (uint16_t seq = 0; seq < 10; seq++)
			CU_ASSERT_EQUAL(inet_ping(&st, PEER_IP, 7, seq, data, 56, 1000000, &rtt), 0);
		fk.rx_split = 512;                      /* replies merged */
		CU_ASSERT_EQUAL(inet_ping(&st, PEER_IP, 7, 10, data, 1400, 1000000, &rtt), 0);
		CU_ASSERT_EQUAL(nf.stats.rx_merged, 1);
		CU_ASSERT_EQUAL(fk.peer_echo, 11);      /* every checksum good */
		/* Offloaded, or done by inet itself (netfront computes none). */
		CU_ASSERT_EQUAL(nf.stats.tx_csum_offload, offload ? 11 : 0);
		CU_ASSERT_EQUAL(nf.stats.tx_csum_sw, 0);
		fk.peer_bad_data = true;
		CU_ASSERT_EQUAL(inet_ping(&st, PEER_IP, 7, 11, data, 100, 1000000, &rtt), -EBADMSG);
		fk.peer = false;
		CU_ASSERT_EQUAL(inet_ping(&st, PEER_IP, 7, 12, data, 100, 20000, &rtt), -ETIMEDOUT);
		fake_teardown();
	}

	/* The peer pings us: one reply, to its MAC, checksums right. */
	fake_setup();
	stack_open(false);
	n = fake_echo(frame, guest_mac, peer_mac, PEER_IP, GUEST_IP, 8, 0x99, 5, data, 300);
	CU_ASSERT_EQUAL(fake_net_rx(frame, n, NULL), 0);
	CU_ASSERT_EQUAL(inet_serve(&st, 1000, 0), 0);
	CU_ASSERT_EQUAL_FATAL(fk.n_sent, 1);
	CU_ASSERT_EQUAL(fk.sent_len[0], n);
	CU_ASSERT_EQUAL(memcmp(fk.sent[0], peer_mac, 6), 0);
	CU_ASSERT_EQUAL(fk.sent[0][34], 0);
	CU_ASSERT_EQUAL(fake_csum(fk.sent[0] + 14, 20), 0);
	CU_ASSERT_EQUAL(fake_csum(fk.sent[0] + 34, n - 34), 0);
	CU_ASSERT_EQUAL(memcmp(fk.sent[0] + 38, frame + 38, n - 38), 0);
	CU_ASSERT_EQUAL(st.stats.echo_answered, 1);
	CU_ASSERT_EQUAL(replies_seen, 0);
	fake_teardown();
}

void unit_register(void)
{
	UNIT_SUITE("netfront",
		   UNIT_TEST(test_init),
		   UNIT_TEST(test_init_errors),
		   UNIT_TEST(test_tx),
		   UNIT_TEST(test_tx_csum),
		   UNIT_TEST(test_rx),
		   UNIT_TEST(test_rx_merge),
		   UNIT_TEST(test_rx_csum),
		   UNIT_TEST(test_rx_hostile),
		   UNIT_TEST(test_inet_over_netfront));
	unit_register_inet();
}

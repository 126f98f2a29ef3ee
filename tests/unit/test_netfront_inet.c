/* Unit tests for frontends/inet.c on its own (part of the test_netfront
 * program; registered by test_netfront.c): a scripted transport that
 * records what the stack sends and can answer ARP and echo requests, and
 * every received frame copied so that it ends right before an inaccessible
 * page, so a read past its end faults. Malformed frames of each kind
 * (truncated Ethernet, ARP and IPv4 headers, bad version and IHL, total
 * length beyond the frame or below the header, bad checksums, fragments,
 * foreign or bogus addresses, short ICMP) are dropped into their own
 * counter with nothing sent; random damage to valid frames never reads
 * out of bounds. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cunit.h"
#include "fake_virtio_net.h"

static struct inet in;
static unsigned int replies_seen;

static void sx_reply(void *ctx, uint32_t src, uint16_t id, uint16_t seq, const uint8_t *d,
		     size_t len)
{
	replies_seen++;
}

static uint8_t *guard;
static uint8_t sx_sent[INET_FRAME_MAX], sx_queue[INET_FRAME_MAX];
static size_t sx_len, sx_qlen;
static unsigned int sx_n;
static bool sx_echo, sx_arp;
static int sx_seq_delta;

/* Copies f so that its last byte is the last readable one. */
static const uint8_t *at_guard(const void *f, size_t len)
{
	CU_ASSERT_FATAL(guard && len <= 4096);
	return memcpy(guard + 4096 - len, f, len);
}

static int sx_xmit(void *ctx, const void *f, size_t len)
{
	const uint8_t *b = f;

	CU_ASSERT_FATAL(len >= 14 && len <= INET_FRAME_MAX);
	memcpy(sx_sent, f, len);
	sx_len = len;
	sx_n++;
	if (sx_arp && b[12] == 0x08 && b[13] == 0x06 && b[21] == 1)
		sx_qlen = fake_arp(sx_queue, b + 6, peer_mac, 2, PEER_IP, b + 22, GUEST_IP);
	if (sx_echo && b[12] == 0x08 && b[13] == 0x00 && b[34] == 8)
		sx_qlen = fake_echo(sx_queue, b + 6, peer_mac, PEER_IP, GUEST_IP, 0,
				    (uint16_t)(b[38] << 8 | b[39]),
				    (uint16_t)((b[40] << 8 | b[41]) + sx_seq_delta), b + 42, len - 42);
	return 0;
}

static int sx_poll(void *ctx)
{
	size_t n = sx_qlen;

	sx_qlen = 0;
	if (n)
		inet_input(&in, at_guard(sx_queue, n), n);
	return 0;
}

static const struct inet_ops sx_ops = { .xmit = sx_xmit, .poll = sx_poll,
					.echo_reply = sx_reply };

static void sx_open(unsigned int mtu, uint32_t gateway)
{
	struct inet_cfg c = { .ip = GUEST_IP, .netmask = 0xffffff00u, .mtu = mtu,
			      .gateway = gateway };

	memcpy(c.mac, guest_mac, 6);
	CU_ASSERT_EQUAL_FATAL(inet_init(&in, &c, &sx_ops, NULL), 0);
	sx_n = 0;
	sx_qlen = 0;
	sx_echo = sx_arp = false;
	sx_seq_delta = 0;
	replies_seen = 0;
	if (!guard) {
		guard = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CU_ASSERT_FATAL(guard != MAP_FAILED);
		CU_ASSERT_EQUAL_FATAL(mprotect(guard + 4096, 4096, PROT_NONE), 0);
	}
}

static void sx_input(const uint8_t *f, size_t len)
{
	inet_input(&in, at_guard(f, len), len);
}

static void test_inet_init(void)
{
	struct inet_cfg c = { .ip = GUEST_IP, .netmask = 0xffffff00u };

	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), 0);
	CU_ASSERT_EQUAL(in.cfg.mtu, INET_MTU_MAX);
	c.netmask = 0xff00ff00u;
	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), -EINVAL);
	c.netmask = 0xffffff00u;
	c.ip = INET_IPV4(10, 0, 2, 255);
	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), -EINVAL);
	c.ip = GUEST_IP;
	c.mtu = 2000;
	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), -EINVAL);
	c.mtu = 0;
	c.csum_offload = true;                  /* without xmit_csum */
	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), -EINVAL);
	c.csum_offload = false;
	c.mac[0] = 1;
	CU_ASSERT_EQUAL(inet_init(&in, &c, &sx_ops, NULL), -EINVAL);
}

static void test_inet_arp(void)
{
	static const uint8_t zero[6], other_mac[6] = { 0x52, 0, 0, 0, 0, 9 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t other = INET_IPV4(10, 0, 2, 9);
	uint8_t f[64], mac[6];

	sx_open(0, 0);
	sx_input(f, fake_arp(f, bcast, peer_mac, 1, PEER_IP, zero, GUEST_IP));
	CU_ASSERT_EQUAL_FATAL(sx_n, 1);
	CU_ASSERT_EQUAL(sx_len, 42);
	CU_ASSERT_EQUAL(memcmp(sx_sent, peer_mac, 6), 0);
	CU_ASSERT_EQUAL(sx_sent[21], 2);
	CU_ASSERT_EQUAL(memcmp(sx_sent + 22, guest_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(sx_sent + 32, peer_mac, 6), 0);
	CU_ASSERT_EQUAL(in.stats.arp_answered, 1);
	CU_ASSERT_EQUAL(inet_arp_lookup(&in, PEER_IP, mac), 0);
	/* Asking for someone else: no answer, and the asker is not learned. */
	sx_input(f, fake_arp(f, bcast, other_mac, 1, other, zero, PEER_IP));
	CU_ASSERT_EQUAL(sx_n, 1);
	CU_ASSERT_EQUAL(inet_arp_lookup(&in, other, mac), -ENOENT);
	f[22] |= 1;                             /* multicast sender */
	sx_input(f, 42);
	fake_arp(f, guest_mac, other_mac, 1, other, zero, GUEST_IP);
	f[15] = 6;                              /* hardware type */
	sx_input(f, 42);
	CU_ASSERT_EQUAL(in.stats.drop_arp, 2);
	fake_arp(f, guest_mac, other_mac, 1, other, zero, GUEST_IP);
	sx_input(f, 41);
	CU_ASSERT_EQUAL(in.stats.drop_short, 1);
	CU_ASSERT_EQUAL(sx_n, 1);

	/* Resolving: nobody answers, then the peer does. */
	CU_ASSERT_EQUAL(inet_resolve(&in, INET_IPV4(10, 0, 2, 77), mac, 30000), -ETIMEDOUT);
	CU_ASSERT_EQUAL(in.stats.arp_requests, 1);
	CU_ASSERT_EQUAL(memcmp(sx_sent, "\xff\xff\xff\xff\xff\xff", 6), 0);
	CU_ASSERT_EQUAL(sx_sent[41], 77);
	CU_ASSERT_EQUAL(inet_resolve(&in, INET_IPV4(192, 168, 0, 1), mac, 30000), -EHOSTUNREACH);
	sx_open(0, PEER_IP);
	sx_arp = true;
	CU_ASSERT_EQUAL(inet_resolve(&in, INET_IPV4(192, 168, 0, 1), mac, 1000000), 0);
	CU_ASSERT_EQUAL(memcmp(mac, peer_mac, 6), 0);
	CU_ASSERT_EQUAL(in.stats.arp_replies, 1);
}

static void test_inet_echo(void)
{
	uint8_t f[1600], data[1000];
	size_t n;

	memset(data, 0xab, sizeof(data));
	sx_open(0, 0);
	n = fake_echo(f, guest_mac, peer_mac, PEER_IP, GUEST_IP, 8, 1, 2, data, 100);
	sx_input(f, n);
	CU_ASSERT_EQUAL_FATAL(sx_n, 1);
	CU_ASSERT_EQUAL(sx_len, n);
	CU_ASSERT_EQUAL(sx_sent[34], 0);
	CU_ASSERT_EQUAL(sx_sent[22], 64);                         /* TTL */
	CU_ASSERT_EQUAL(sx_sent[20] & 0x40, 0x40);                /* DF */
	CU_ASSERT_EQUAL(fake_csum(sx_sent + 14, 20), 0);
	CU_ASSERT_EQUAL(fake_csum(sx_sent + 34, n - 34), 0);
	CU_ASSERT_EQUAL(memcmp(sx_sent + 38, f + 38, n - 38), 0); /* id, seq, data */
	CU_ASSERT_EQUAL(memcmp(sx_sent + 30, f + 26, 4), 0);      /* back to the sender */
	/* Ethernet padding after the packet is ignored. */
	memset(f + n, 0, 20);
	sx_input(f, n + 20);
	CU_ASSERT_EQUAL(sx_len, n);
	/* Broadcast MAC to our IP is ours; a subnet-broadcast source is not. */
	memset(f, 0xff, 6);
	sx_input(f, n);
	CU_ASSERT_EQUAL(in.stats.echo_answered, 3);
	n = fake_echo(f, guest_mac, peer_mac, INET_IPV4(10, 0, 2, 255), GUEST_IP, 8, 1, 2,
		      data, 10);
	sx_input(f, n);
	CU_ASSERT_EQUAL(in.stats.drop_bad_src, 1);
	/* Too big to answer within a 576-byte MTU. */
	sx_open(576, 0);
	n = fake_echo(f, guest_mac, peer_mac, PEER_IP, GUEST_IP, 8, 1, 2, data, 1000);
	sx_input(f, n);
	CU_ASSERT_EQUAL(in.stats.drop_too_big, 1);
	CU_ASSERT_EQUAL(sx_n, 0);
}

static void fix_ip_csum(uint8_t *f, size_t ihl)
{
	uint16_t ck;

	f[24] = f[25] = 0;
	ck = fake_csum(f + 14, ihl);
	f[24] = (uint8_t)(ck >> 8);
	f[25] = (uint8_t)ck;
}

/* A valid echo request; each case copies it, changes one thing, and the
 * stack must drop it into *counter and send nothing. */
static uint8_t base[128];
static size_t base_len;

static void expect_drop(const uint8_t *f, size_t len, const uint64_t *counter)
{
	uint64_t before = *counter;

	sx_n = 0;
	sx_input(f, len);
	CU_ASSERT_EQUAL(*counter, before + 1);
	CU_ASSERT_EQUAL(sx_n, 0);
}

static void test_inet_malformed(void)
{
	static const uint8_t data[16] = "0123456789abcdef";
	const struct inet_stats *s = &in.stats;
	uint8_t f[128];

	sx_open(0, 0);
	base_len = fake_echo(base, guest_mac, peer_mac, PEER_IP, GUEST_IP, 8, 1, 1, data, 16);
#define MUT(stmt) do { memcpy(f, base, base_len); stmt; } while (0)
	MUT();
	expect_drop(f, 13, &s->drop_short);
	expect_drop(f, 14 + 19, &s->drop_short);                /* IPv4 header cut */
	MUT(f[14] = 0x65; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_ip_hdr);              /* version 6 */
	MUT(f[14] = 0x44);
	expect_drop(f, base_len, &s->drop_ip_hdr);              /* IHL 4 */
	MUT(f[14] = 0x4f);
	expect_drop(f, 14 + 40, &s->drop_short);                /* IHL 60 > frame */
	MUT(f[17] = (uint8_t)(base_len - 14 + 1); fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_ip_len);              /* total > frame */
	MUT(f[17] = 19; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_ip_len);              /* total < IHL */
	MUT(f[25] ^= 1);
	expect_drop(f, base_len, &s->drop_ip_csum);
	MUT(f[20] = 0x20; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_frag);                /* more fragments */
	MUT(f[21] = 1; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_frag);                /* offset 8 */
	MUT(f[33] = 16; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_not_ours);
	MUT(f[23] = 17; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_proto);
	MUT(f[17] = 27; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_icmp_len);            /* 7 bytes of ICMP */
	MUT(f[50] ^= 0x10);
	expect_drop(f, base_len, &s->drop_icmp_csum);
	MUT(f[34] = 13; f[36] = f[37] = 0; f[36] = (uint8_t)(fake_csum(f + 34, base_len - 34) >> 8);
	    f[37] = (uint8_t)fake_csum(f + 34, base_len - 34));
	expect_drop(f, base_len, &s->drop_icmp_other);          /* timestamp */
	MUT(f[6] |= 1);
	expect_drop(f, base_len, &s->drop_bad_src);             /* multicast source MAC */
	MUT(f[26] = 127; fix_ip_csum(f, 20));
	expect_drop(f, base_len, &s->drop_bad_src);             /* loopback source */
	MUT(f[5] ^= 1);
	expect_drop(f, base_len, &s->drop_not_ours);            /* another MAC */
	MUT(f[12] = 0x86; f[13] = 0xdd);
	expect_drop(f, base_len, &s->drop_ethertype);
	CU_ASSERT_EQUAL(s->echo_answered, 0);

	/* IP options are skipped, not refused: one 4-byte NOP option. */
	memcpy(f, base, 34);
	memset(f + 34, 1, 4);
	memcpy(f + 38, base + 34, base_len - 34);
	f[14] = 0x46;
	f[17] = (uint8_t)(base_len - 14 + 4);
	fix_ip_csum(f, 24);
	sx_n = 0;
	sx_input(f, base_len + 4);
	CU_ASSERT_EQUAL(sx_n, 1);
	CU_ASSERT_EQUAL(sx_len, base_len);
	CU_ASSERT_EQUAL(memcmp(sx_sent + 42, data, 16), 0);
#undef MUT
}

/* Random damage to valid frames, each ending at the guard page: whatever
 * arrives, nothing is read beyond it (a read would fault) and anything
 * sent back is a sane frame (sx_xmit checks the length). */
static void test_inet_fuzz(void)
{
	static const uint8_t zero[6], data[40] = "fuzz";
	uint8_t echo[128], arp[64], f[128];
	size_t elen, alen;
	uint64_t x = 0x243f6a8885a308d3ull;

	sx_open(0, 0);
	elen = fake_echo(echo, guest_mac, peer_mac, PEER_IP, GUEST_IP, 8, 1, 1, data, 40);
	alen = fake_arp(arp, guest_mac, peer_mac, 1, PEER_IP, zero, GUEST_IP);
	for (unsigned int i = 0; i < 200000; i++) {
		bool is_echo = i & 1;
		size_t len = is_echo ? elen : alen;

		memcpy(f, is_echo ? echo : arp, len);
		for (unsigned int k = (unsigned int)(x % 4); k < 4; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			f[(x >> 33) % len] = (uint8_t)(x >> 20);
		}
		if (is_echo && (x >> 60) & 1) {
			size_t ihl = (size_t)(f[14] & 15) * 4;

			if (ihl >= 20 && 14 + ihl <= len)
				fix_ip_csum(f, ihl);    /* reach the deeper checks */
		}
		if ((x >> 61) & 1)
			len = (size_t)(x >> 40) % (len + 1);
		sx_input(f, len);
	}
	CU_ASSERT_EQUAL(in.stats.rx_frames, 200000);
}

static void test_inet_ping_match(void)
{
	uint8_t data[64];
	uint64_t rtt;

	memset(data, 0x5c, sizeof(data));
	sx_open(0, 0);
	sx_arp = sx_echo = true;
	CU_ASSERT_EQUAL(inet_ping(&in, PEER_IP, 3, 1, data, 64, 1000000, &rtt), 0);
	CU_ASSERT_EQUAL(in.stats.arp_requests, 1);
	/* A reply with another sequence number is not this ping's. */
	sx_seq_delta = 1;
	CU_ASSERT_EQUAL(inet_ping(&in, PEER_IP, 3, 2, data, 64, 20000, &rtt), -ETIMEDOUT);
	CU_ASSERT_EQUAL(replies_seen, 1);
	sx_seq_delta = 0;
	CU_ASSERT_EQUAL(inet_ping(&in, PEER_IP, 3, 3, data, 0, 1000000, &rtt), 0);
	CU_ASSERT_EQUAL(inet_ping(&in, PEER_IP, 3, 4, data, INET_PING_MAX + 1, 1000, &rtt),
			-EINVAL);
	CU_ASSERT_EQUAL(in.stats.echo_sent, 3);
}

void unit_register_inet(void)
{
	UNIT_SUITE("inet",
		   UNIT_TEST(test_inet_init),
		   UNIT_TEST(test_inet_arp),
		   UNIT_TEST(test_inet_echo),
		   UNIT_TEST(test_inet_malformed),
		   UNIT_TEST(test_inet_fuzz),
		   UNIT_TEST(test_inet_ping_match));
}

/* libFuzzer target for isle-netback's datapath (netback/net_tx.c, and
 * net_rx.c with a flag): the input is a guest that builds TX descriptor
 * chains, vnet headers and frames in its RAM; TX writes what it accepts to
 * /dev/null (the tap stand-in), RX reads packets from the input through a
 * socketpair into chains the input describes.
 *
 * Guest RAM is 256 KiB at guest-physical 0, two separately allocated
 * 128 KiB regions (buffers may straddle 0x20000). The ring sits at 0, data
 * from 0x4000. Input, little-endian:
 *   0 u8  features: bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6, 3 MTU, 4 VERSION_1,
 *         5 MRG_RXBUF, 6 EVENT_IDX, 7 INDIRECT_DESC (RX also takes the
 *         GUEST_* twins of bits 0-2)
 *   1 u8  queue size = 2 << (b % 8)  (2..256)
 *   2 u8  mode: bit 0 raw (the rest of the input is guest RAM from 0: rings
 *         and descriptors as the input has them; byte 3 is avail->idx),
 *         bit 1 RX instead of TX, bits 2-7 budget - 1 (1..64)
 *   3 u8  (raw mode) avail->idx
 * then, structured mode, chains until the input ends or the ring is full:
 *   u8 ndesc (1 + b % 8), then per descriptor
 *     u16 len (≤ 16 KiB used), u8 flags (bit 0 device-writable, bit 1 the
 *     address is the next u32 of the input, anything), then len bytes of
 *     content (as many as the input has; zeros after)
 * and, in RX mode, the input's last bytes split into packets (u16 length
 * prefix each) written to the fake tap.
 *
 * Checks beyond ASan/UBSan (abort): every popped chain is returned exactly
 * once (used->idx advances by the chains consumed), used lengths never
 * exceed the chain, TX counters add up (packets + errors + drops = chains),
 * errors = the sum of their reasons, RX delivers no more than was sent and
 * gives every held chain back. Seeds: corpus/net_tx
 * (gen_net_tx_seeds.py). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"
#include "net.h"

#define REGION_SIZE 0x20000
#define RAM_SIZE    (2 * REGION_SIZE)
#define DATA        0x4000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_net_tx: check failed: %s (line %d)\n", \
				#cond, __LINE__);                             \
			abort();                                              \
		}                                                             \
	} while (0)

static uint8_t *ram[2];
static struct net_queue *q;
static int sink = -1, sv[2] = { -1, -1 };
/* Buffers may overlap the rings (raw mode, input addresses): then what
 * the device wrote into them can be anything, used entries included. */
static bool wild;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	sink = open("/dev/null", O_WRONLY | O_CLOEXEC);
	q = calloc(1, sizeof(*q));
	ram[0] = malloc(REGION_SIZE);
	ram[1] = malloc(REGION_SIZE);
	if (sink < 0 || !q || !ram[0] || !ram[1] || net_queue_init(q) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	return 0;
}

struct in {
	const uint8_t *p;
	size_t left;
};

static size_t take(struct in *in, void *buf, size_t n)
{
	n = MIN(n, in->left);
	memcpy(buf, in->p, n);
	in->p += n;
	in->left -= n;
	return n;
}

static void ram_write(uint64_t gpa, const void *buf, size_t len)
{
	struct gmem gm = { 0 };

	gmem_add(&gm, 0, REGION_SIZE, ram[0], -1, 0);
	gmem_add(&gm, REGION_SIZE, REGION_SIZE, ram[1], -1, 0);
	check(gmem_write(&gm, gpa, buf, len) == 0);
}

/* Builds chains from the input into the ring; returns how many. */
static unsigned int build_chains(struct in *in, unsigned int num, uint64_t ring_desc,
				 uint64_t ring_avail)
{
	uint64_t data = DATA;
	unsigned int chains = 0, desc = 0;
	uint8_t b, d[16];

	while (chains < num && take(in, &b, 1)) {
		unsigned int n = 1 + b % 8, head = desc;

		if (desc + n > num)
			break;
		for (unsigned int i = 0; i < n; i++) {
			uint8_t hdr[3] = { 0 }, content[0x4000];
			uint32_t addr32;
			uint16_t len;
			uint64_t addr;
			size_t got;

			take(in, hdr, 3);
			len = (uint16_t)(get_le16(hdr) % 0x4001);
			addr = data;
			if (hdr[2] & 2) {
				wild = true;
				addr32 = 0;
				take(in, &addr32, 4);
				addr = addr32;
			} else {
				if (data + len > RAM_SIZE)
					return chains;
				memset(content, 0, len);
				got = take(in, content, len);
				ram_write(data, content, MAX(got, (size_t)len));
				data += len;
			}
			put_le64(d, addr);
			put_le32(d + 8, len);
			put_le16(d + 12, (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
						    (hdr[2] & 1 ? VRING_DESC_F_WRITE : 0)));
			put_le16(d + 14, (uint16_t)(desc + 1));
			ram_write(ring_desc + 16ULL * desc, d, 16);
			desc++;
		}
		put_le16(d, (uint16_t)head);
		ram_write(ring_avail + 4 + 2ULL * chains, d, 2);
		chains++;
	}
	put_le16(d, (uint16_t)chains);
	ram_write(ring_avail + 2, d, 2);
	return chains;
}

static void check_counters(const struct net_stats *s)
{
	check(s->tx_errors == s->tx_bad_desc + s->tx_short + s->tx_oversize + s->tx_bad_hdr);
	check(s->rx_errors >= s->rx_bad_desc);
}

static void run_tx(unsigned int budget)
{
	uint16_t used0 = vq_get_used_idx(&q->txvq), last0 = vq_get_last_avail(&q->txvq);
	int r;

	q->tap_fd = sink;
	for (int i = 0; i < 64; i++) {
		r = net_tx_run(q, budget);
		check(r == NET_IDLE || r == NET_MORE || r == -EIO);
		if (r != NET_MORE)
			break;
	}
	/* Every chain popped was pushed, once. */
	check((uint16_t)(vq_get_used_idx(&q->txvq) - used0) ==
	      (uint16_t)(vq_get_last_avail(&q->txvq) - last0));
	check(q->stats.tx_packets + q->stats.tx_errors + q->stats.tx_drops ==
	      (uint16_t)(vq_get_used_idx(&q->txvq) - used0));
	for (uint16_t i = used0; !wild && i != vq_get_used_idx(&q->txvq); i++)
		check(get_le32((uint8_t *)&q->txvq.used->ring[i % q->txvq.num].len) == 0);
	check_counters(&q->stats);
}

static void run_rx(struct in *in, unsigned int budget)
{
	uint8_t pkt[4096 + NET_HDR_LEN];
	uint16_t used0 = vq_get_used_idx(&q->rxvq);
	unsigned int sent = 0;
	uint8_t len[2];
	int r;

	q->tap_fd = sv[0];
	while (take(in, len, 2) == 2 && sent < 32) {
		size_t n = get_le16(len) % sizeof(pkt);

		n = take(in, pkt, n);
		if (send(sv[1], pkt, n, 0) < 0)
			break;
		sent++;
	}
	for (int i = 0; i < 64; i++) {
		r = net_rx_run(q, budget);
		check(r == NET_IDLE || r == NET_MORE || r == NET_BLOCKED || r == -EIO);
		if (r != NET_MORE)
			break;
	}
	check(q->stats.rx_packets + q->stats.rx_drops <= sent);
	/* Used lengths are bounded by the packet sizes we allow. */
	for (uint16_t i = used0; !wild && i != vq_get_used_idx(&q->rxvq); i++)
		check(get_le32((uint8_t *)&q->rxvq.used->ring[i % q->rxvq.num].len) <=
		      NET_HDR_LEN + 4096);
	net_rx_release(q);
	check(q->pool_head == q->pool_tail && !q->pool_bytes);
	check_counters(&q->stats);
	/* Drain what RX did not read. */
	while (recv(sv[0], pkt, sizeof(pkt), 0) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct vq_config cfg = { 0 };
	uint64_t f = 0;
	struct gmem gm;
	struct dma_as as;
	struct vq *vq;
	bool rx;
	unsigned int budget;

	if (size < 4)
		return 0;
	f |= data[0] & 1 ? BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) : 0;
	f |= data[0] & 2 ? BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO4) : 0;
	f |= data[0] & 4 ? BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO6) : 0;
	f |= data[0] & 8 ? BIT(VIRTIO_NET_F_MTU) : 0;
	f |= data[0] & 16 ? BIT(VIRTIO_F_VERSION_1) : 0;
	f |= data[0] & 32 ? BIT(VIRTIO_NET_F_MRG_RXBUF) : 0;
	f |= data[0] & 64 ? BIT(VIRTIO_RING_F_EVENT_IDX) : 0;
	f |= data[0] & 128 ? BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0;
	cfg.num = 2u << (data[1] % 8);
	cfg.desc_gpa = 0;
	cfg.avail_gpa = 16ULL * cfg.num;
	cfg.used_gpa = ALIGN_UP(cfg.avail_gpa + 6 + 2ULL * cfg.num, 4ULL);
	cfg.flags = vq_flags_from_features(f);
	rx = data[2] & 2;
	budget = 1 + (data[2] >> 2);

	memset(ram[0], 0, REGION_SIZE);
	memset(ram[1], 0, REGION_SIZE);
	memset(&q->stats, 0, sizeof(q->stats));
	net_queue_configure(q, f, 1500);
	memset(&gm, 0, sizeof(gm));
	check(gmem_add(&gm, 0, REGION_SIZE, ram[0], -1, 0) == 0);
	check(gmem_add(&gm, REGION_SIZE, REGION_SIZE, ram[1], -1, 0) == 0);
	vq = rx ? &q->rxvq : &q->txvq;
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */
	check(vq_init(vq, &as, &cfg) == 0);
	in.p += 4;
	in.left -= 4;
	wild = data[2] & 1;
	if (wild) {
		size_t n = MIN(in.left, (size_t)REGION_SIZE);
		uint8_t idx[2];

		memcpy(ram[0], in.p, n);
		put_le16(idx, data[3]);
		ram_write(cfg.avail_gpa + 2, idx, 2);
		/* RX packets come from the same bytes: in stays put. */
	} else {
		build_chains(&in, cfg.num, cfg.desc_gpa, cfg.avail_gpa);
	}
	if (rx)
		run_rx(&in, budget);
	else
		run_tx(budget);
	memset(&q->rxvq, 0, sizeof(q->rxvq));
	memset(&q->txvq, 0, sizeof(q->txvq));
	return 0;
}

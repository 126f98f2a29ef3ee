/* Minimal IPv4 over Ethernet (contract in inet.h).
 *
 * Owns: parsing received frames (Ethernet, ARP, IPv4, ICMP) with a bounds
 * check before every read, the ARP cache, answering ARP requests and echo
 * requests for our address, building and sending ARP requests and echo
 * requests, and the polling loops that wait for answers.
 *
 * Frames are read and written byte by byte in network order: received
 * frames sit at arbitrary alignment in the transport's buffers, and packed
 * structs would hide the lengths we check against. */
#include "inet.h"

#define ETH_DST      0
#define ETH_SRC      6
#define ETH_TYPE     12
#define IP_OFF       INET_ETH_HLEN
#define IP_FLAG_DF   0x4000u
#define IP_FLAG_MF   0x2000u
#define IP_FRAG_MASK 0x1fffu
#define IP_TTL       64u
#define ARP_REQUEST  1u
#define ARP_REPLY    2u
#define ICMP_ECHO_REPLY   0u
#define ICMP_ECHO_REQUEST 8u

static const uint8_t inet_bcast[INET_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
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

int inet_init(struct inet *in, const struct inet_cfg *cfg, const struct inet_ops *ops,
	      void *ctx)
{
	uint32_t host = ~cfg->netmask;

	/* A contiguous mask leaves a host part of the form 0...01...1. */
	if (!ops || !ops->xmit || !ops->poll || !cfg->ip || (host & (host + 1)) ||
	    (cfg->ip & host) == host || cfg->mtu > INET_MTU_MAX ||
	    (cfg->mtu && cfg->mtu < INET_IP_HLEN + INET_ICMP_HLEN) ||
	    (cfg->csum_offload && !ops->xmit_csum) || (cfg->mac[0] & 1))
		return -EINVAL;
	memset(in, 0, sizeof(*in));
	in->cfg = *cfg;
	if (!in->cfg.mtu)
		in->cfg.mtu = INET_MTU_MAX;
	in->ops = ops;
	in->ctx = ctx;
	in->ip_id = 1;
	return 0;
}

static bool inet_on_subnet(const struct inet *in, uint32_t ip)
{
	return (ip & in->cfg.netmask) == (in->cfg.ip & in->cfg.netmask);
}

/* Addresses we never answer or learn: 0/8, loopback, multicast and up,
 * our subnet's broadcast. */
static bool inet_bad_src(const struct inet *in, uint32_t ip)
{
	return (ip >> 24) == 0 || (ip >> 24) == 127 || ip >= INET_IPV4(224, 0, 0, 0) ||
	       (inet_on_subnet(in, ip) && (ip | in->cfg.netmask) == 0xffffffffu);
}

int inet_arp_lookup(const struct inet *in, uint32_t ip, uint8_t mac[INET_ETH_ALEN])
{
	for (unsigned int i = 0; i < INET_ARP_CACHE; i++) {
		if (in->arp[i].valid && in->arp[i].ip == ip) {
			memcpy(mac, in->arp[i].mac, INET_ETH_ALEN);
			return 0;
		}
	}
	return -ENOENT;
}

/* Updates ip's entry; adds one (replacing round-robin) only if create. */
static void inet_arp_learn(struct inet *in, uint32_t ip, const uint8_t *mac, bool create)
{
	struct inet_arp_entry *e = NULL;

	for (unsigned int i = 0; i < INET_ARP_CACHE && !e; i++) {
		if (in->arp[i].valid && in->arp[i].ip == ip)
			e = &in->arp[i];
	}
	if (!e && !create)
		return;
	if (!e) {
		e = &in->arp[in->arp_next];
		in->arp_next = (in->arp_next + 1) % INET_ARP_CACHE;
	}
	e->ip = ip;
	memcpy(e->mac, mac, INET_ETH_ALEN);
	e->valid = true;
	in->stats.arp_learned++;
}

/* Sends in->tx[0, len). From inside inet_input() a busy transport drops
 * the frame; elsewhere we poll for room for a while. */
static int inet_tx(struct inet *in, size_t len, bool csum, uint16_t start, uint16_t offset)
{
	uint64_t deadline = 0;
	int r;

	for (;;) {
		if (csum)
			r = in->ops->xmit_csum(in->ctx, in->tx, len, start, offset);
		else
			r = in->ops->xmit(in->ctx, in->tx, len);
		if (r != -EAGAIN)
			break;
		in->stats.tx_busy++;
		if (in->in_input)
			return r;
		if (!deadline)
			deadline = fe_deadline_us(INET_TX_RETRY_US);
		else if (fe_expired(deadline))
			return r;
		r = in->ops->poll(in->ctx);
		if (r < 0)
			break;
	}
	if (r < 0)
		in->stats.tx_errors++;
	else
		in->stats.tx_frames++;
	return r < 0 ? r : 0;
}

static void inet_eth_header(struct inet *in, const uint8_t *dst, uint16_t type)
{
	memcpy(in->tx + ETH_DST, dst, INET_ETH_ALEN);
	memcpy(in->tx + ETH_SRC, in->cfg.mac, INET_ETH_ALEN);
	put_be16(in->tx + ETH_TYPE, type);
}

static int inet_arp_send(struct inet *in, uint16_t op, const uint8_t *dst_mac,
			 const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = in->tx + INET_ETH_HLEN;

	inet_eth_header(in, dst_mac, INET_ETHERTYPE_ARP);
	put_be16(a, 1);                         /* Ethernet */
	put_be16(a + 2, INET_ETHERTYPE_IP);
	a[4] = INET_ETH_ALEN;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, in->cfg.mac, INET_ETH_ALEN);
	put_be32(a + 14, in->cfg.ip);
	memcpy(a + 18, tha, INET_ETH_ALEN);
	put_be32(a + 24, tpa);
	return inet_tx(in, INET_ETH_HLEN + INET_ARP_LEN, false, 0, 0);
}

static void inet_arp_input(struct inet *in, const uint8_t *a, size_t len)
{
	uint32_t spa, tpa;
	uint16_t op;

	in->stats.rx_arp++;
	if (len < INET_ARP_LEN) {
		in->stats.drop_short++;
		return;
	}
	op = get_be16(a + 6);
	if (get_be16(a) != 1 || get_be16(a + 2) != INET_ETHERTYPE_IP ||
	    a[4] != INET_ETH_ALEN || a[5] != 4 || (op != ARP_REQUEST && op != ARP_REPLY)) {
		in->stats.drop_arp++;
		return;
	}
	spa = get_be32(a + 14);
	tpa = get_be32(a + 24);
	/* A multicast sender MAC or address is never a neighbour. */
	if ((a[8] & 1) || inet_bad_src(in, spa) || spa == in->cfg.ip) {
		in->stats.drop_arp++;
		return;
	}
	/* Learn a new neighbour only when it talks to us; refresh any. */
	inet_arp_learn(in, spa, a + 8, tpa == in->cfg.ip);
	if (tpa != in->cfg.ip)
		return;
	if (op == ARP_REPLY) {
		in->stats.arp_replies++;
		return;
	}
	if (!inet_arp_send(in, ARP_REPLY, a + 8, a + 8, spa))
		in->stats.arp_answered++;
}

/* Builds Ethernet and IPv4 headers for an l4len-byte payload in in->tx;
 * the payload goes at in->tx + IP_OFF + INET_IP_HLEN. */
static void inet_ip_header(struct inet *in, const uint8_t *dst_mac, uint32_t dst,
			   uint8_t proto, size_t l4len)
{
	uint8_t *ip = in->tx + IP_OFF;

	inet_eth_header(in, dst_mac, INET_ETHERTYPE_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	put_be16(ip + 2, (uint16_t)(INET_IP_HLEN + l4len));
	put_be16(ip + 4, in->ip_id++);
	put_be16(ip + 6, IP_FLAG_DF);           /* we never fragment */
	ip[8] = IP_TTL;
	ip[9] = proto;
	put_be16(ip + 10, 0);
	put_be32(ip + 12, in->cfg.ip);
	put_be32(ip + 16, dst);
	put_be16(ip + 10, inet_csum(ip, INET_IP_HLEN));
}

/* Sends the ICMP message already at in->tx + 34 (checksum field zero). */
static int inet_icmp_send(struct inet *in, const uint8_t *dst_mac, uint32_t dst, size_t l4len)
{
	uint8_t *icmp = in->tx + IP_OFF + INET_IP_HLEN;
	uint16_t start = IP_OFF + INET_IP_HLEN;

	inet_ip_header(in, dst_mac, dst, INET_PROTO_ICMP, l4len);
	put_be16(icmp + 2, 0);
	if (in->cfg.csum_offload)
		return inet_tx(in, start + l4len, true, start, 2);
	put_be16(icmp + 2, inet_csum(icmp, l4len));
	return inet_tx(in, start + l4len, false, 0, 0);
}

static void inet_icmp_input(struct inet *in, const uint8_t *frame, uint32_t src,
			    const uint8_t *icmp, size_t len)
{
	uint16_t id, seq;

	in->stats.rx_icmp++;
	if (len < INET_ICMP_HLEN) {
		in->stats.drop_icmp_len++;
		return;
	}
	if (inet_csum(icmp, len)) {
		in->stats.drop_icmp_csum++;
		return;
	}
	id = get_be16(icmp + 4);
	seq = get_be16(icmp + 6);
	if (icmp[0] == ICMP_ECHO_REQUEST && icmp[1] == 0) {
		uint8_t *out = in->tx + IP_OFF + INET_IP_HLEN;

		/* Answer to the sender's MAC: no ARP round trip needed. */
		if (len + INET_IP_HLEN > in->cfg.mtu) {
			in->stats.drop_too_big++;
			return;
		}
		memcpy(out, icmp, len);
		out[0] = ICMP_ECHO_REPLY;
		if (!inet_icmp_send(in, frame + ETH_SRC, src, len))
			in->stats.echo_answered++;
		return;
	}
	if (icmp[0] != ICMP_ECHO_REPLY || icmp[1] != 0) {
		in->stats.drop_icmp_other++;
		return;
	}
	in->stats.echo_replies++;
	if (in->ping_wait && !in->ping_done && src == in->ping_dst && id == in->ping_id &&
	    seq == in->ping_seq) {
		in->ping_bad = len - INET_ICMP_HLEN != in->ping_len ||
			       memcmp(icmp + INET_ICMP_HLEN, in->ping_data, in->ping_len);
		in->ping_done = true;
		in->ping_at = fe_now_us();
		return;
	}
	if (in->ops->echo_reply)
		in->ops->echo_reply(in->ctx, src, id, seq, icmp + INET_ICMP_HLEN,
				    len - INET_ICMP_HLEN);
}

static void inet_ip_input(struct inet *in, const uint8_t *frame, const uint8_t *ip, size_t avail)
{
	size_t ihl, total;
	uint32_t src, dst;
	uint16_t frag;

	in->stats.rx_ip++;
	if (avail < INET_IP_HLEN) {
		in->stats.drop_short++;
		return;
	}
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < INET_IP_HLEN) {
		in->stats.drop_ip_hdr++;
		return;
	}
	if (ihl > avail) {
		in->stats.drop_short++;
		return;
	}
	/* Frames may carry padding beyond the packet, never less than it. */
	total = get_be16(ip + 2);
	if (total < ihl || total > avail) {
		in->stats.drop_ip_len++;
		return;
	}
	if (inet_csum(ip, ihl)) {
		in->stats.drop_ip_csum++;
		return;
	}
	frag = get_be16(ip + 6);
	if ((frag & IP_FLAG_MF) || (frag & IP_FRAG_MASK)) {
		in->stats.drop_frag++;
		return;
	}
	src = get_be32(ip + 12);
	dst = get_be32(ip + 16);
	if (dst != in->cfg.ip) {
		in->stats.drop_not_ours++;
		return;
	}
	if (inet_bad_src(in, src) || src == in->cfg.ip) {
		in->stats.drop_bad_src++;
		return;
	}
	if (ip[9] != INET_PROTO_ICMP) {
		in->stats.drop_proto++;
		return;
	}
	inet_icmp_input(in, frame, src, ip + ihl, total - ihl);
}

void inet_input(struct inet *in, const uint8_t *frame, size_t len)
{
	uint16_t type;

	in->stats.rx_frames++;
	if (!frame || len < INET_ETH_HLEN) {
		in->stats.drop_short++;
		return;
	}
	if (memcmp(frame + ETH_DST, in->cfg.mac, INET_ETH_ALEN) &&
	    memcmp(frame + ETH_DST, inet_bcast, INET_ETH_ALEN)) {
		in->stats.drop_not_ours++;
		return;
	}
	/* Replies go to the source MAC: it must name one station. */
	if (frame[ETH_SRC] & 1) {
		in->stats.drop_bad_src++;
		return;
	}
	type = get_be16(frame + ETH_TYPE);
	in->in_input = true;
	if (type == INET_ETHERTYPE_ARP)
		inet_arp_input(in, frame + INET_ETH_HLEN, len - INET_ETH_HLEN);
	else if (type == INET_ETHERTYPE_IP)
		inet_ip_input(in, frame, frame + INET_ETH_HLEN, len - INET_ETH_HLEN);
	else
		in->stats.drop_ethertype++;
	in->in_input = false;
}

int inet_resolve(struct inet *in, uint32_t ip, uint8_t mac[INET_ETH_ALEN], uint64_t timeout_us)
{
	uint64_t deadline = fe_deadline_us(timeout_us), next = 0;
	static const uint8_t zero[INET_ETH_ALEN];
	uint32_t hop = ip;
	int r;

	if (in->in_input || ip == in->cfg.ip)
		return -EINVAL;
	if (!inet_on_subnet(in, ip)) {
		if (!in->cfg.gateway)
			return -EHOSTUNREACH;
		hop = in->cfg.gateway;
	}
	if (inet_bad_src(in, hop))
		return -EINVAL;
	for (;;) {
		if (!inet_arp_lookup(in, hop, mac))
			return 0;
		if (fe_now_us() >= next) {
			r = inet_arp_send(in, ARP_REQUEST, inet_bcast, zero, hop);
			if (r && r != -EAGAIN)
				return r;
			in->stats.arp_requests++;
			next = fe_deadline_us(INET_ARP_RETRY_US);
		}
		if (fe_expired(deadline))
			return -ETIMEDOUT;
		r = in->ops->poll(in->ctx);
		if (r < 0)
			return r;
	}
}

int inet_ping_send(struct inet *in, uint32_t dst, uint16_t id, uint16_t seq,
		   const void *data, size_t len, uint64_t timeout_us)
{
	uint8_t mac[INET_ETH_ALEN];
	uint8_t *icmp = in->tx + IP_OFF + INET_IP_HLEN;
	int r;

	if (len > INET_PING_MAX || len + INET_IP_HLEN + INET_ICMP_HLEN > in->cfg.mtu ||
	    (len && !data))
		return -EINVAL;
	r = inet_resolve(in, dst, mac, timeout_us);
	if (r)
		return r;
	icmp[0] = ICMP_ECHO_REQUEST;
	icmp[1] = 0;
	put_be16(icmp + 4, id);
	put_be16(icmp + 6, seq);
	if (len)
		memcpy(icmp + INET_ICMP_HLEN, data, len);
	r = inet_icmp_send(in, mac, dst, INET_ICMP_HLEN + len);
	if (!r)
		in->stats.echo_sent++;
	return r;
}

int inet_ping(struct inet *in, uint32_t dst, uint16_t id, uint16_t seq,
	      const void *data, size_t len, uint64_t timeout_us, uint64_t *rtt_us)
{
	uint64_t t0 = fe_now_us(), deadline = t0 + timeout_us;
	uint8_t mac[INET_ETH_ALEN];
	int r;

	if (in->in_input)
		return -EINVAL;
	/* Resolve first, so the round trip does not include ARP. */
	r = inet_resolve(in, dst, mac, timeout_us);
	if (r)
		return r;
	in->ping_wait = true;
	in->ping_done = in->ping_bad = false;
	in->ping_dst = dst;
	in->ping_id = id;
	in->ping_seq = seq;
	in->ping_data = data;
	in->ping_len = len;
	t0 = fe_now_us();
	r = inet_ping_send(in, dst, id, seq, data, len, timeout_us);
	while (!r && !in->ping_done) {
		if (fe_expired(deadline)) {
			r = -ETIMEDOUT;
			break;
		}
		r = in->ops->poll(in->ctx);
		r = r < 0 ? r : 0;
	}
	in->ping_wait = false;
	if (r)
		return r;
	if (rtt_us)
		*rtt_us = in->ping_at - t0;
	return in->ping_bad ? -EBADMSG : 0;
}

int inet_serve(struct inet *in, uint64_t us, uint64_t answers)
{
	uint64_t deadline = fe_deadline_us(us), start = in->stats.echo_answered;
	int r;

	if (in->in_input)
		return -EINVAL;
	while (!fe_expired(deadline)) {
		if (answers && in->stats.echo_answered - start >= answers)
			break;
		r = in->ops->poll(in->ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

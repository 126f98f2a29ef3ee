/* A minimal IPv4 stack over Ethernet for the test guest, freestanding: ARP
 * (answers for our address, resolves others with retries and a small
 * cache), IPv4 (header checksum, no options sent, no fragments: received
 * ones are dropped), ICMP echo in both directions (answers pings to us;
 * sends pings and matches replies by id and sequence).
 *
 * Contract:
 *  - Below it is any frame transport, through struct inet_ops: xmit sends
 *    one frame (copied before it returns), poll drives the device and calls
 *    inet_input() for each received frame. netfront is the one the guest
 *    uses; the unit tests use scripted ones.
 *  - inet_input() takes frames from an untrusted network: every field is
 *    bounds-checked against the frame before it is read (IHL, total length,
 *    ARP lengths, ICMP length), checksums are verified, and anything that
 *    fails is dropped and counted in struct inet_stats. It never calls
 *    poll, so it may run inside the transport's receive path; a reply that
 *    finds the transport busy is dropped (counted), not retried.
 *  - The waiting calls (inet_resolve, inet_ping, inet_serve) poll until done
 *    or until their deadline (fe_now_us()); they must not be called from
 *    inside inet_input() or its hooks.
 *  - Addresses are host-order uint32_t; MACs are 6 bytes.
 *  - Functions return 0 or -errno. */
#ifndef FRONTENDS_INET_H
#define FRONTENDS_INET_H

#include "fe_env.h"

#define INET_ETH_ALEN      6u
#define INET_ETH_HLEN      14u
#define INET_IP_HLEN       20u
#define INET_ICMP_HLEN     8u
#define INET_ARP_LEN       28u
#define INET_ETHERTYPE_IP  0x0800u
#define INET_ETHERTYPE_ARP 0x0806u
#define INET_PROTO_ICMP    1u
#define INET_MTU_MAX       1500u     /* largest IPv4 packet we build */
#define INET_FRAME_MAX     (INET_ETH_HLEN + INET_MTU_MAX)
#define INET_PING_MAX      (INET_MTU_MAX - INET_IP_HLEN - INET_ICMP_HLEN)
#define INET_ARP_CACHE     8u
#define INET_ARP_RETRY_US  200000u   /* between ARP requests while resolving */
#define INET_TX_RETRY_US   100000u   /* polling for a free transmit slot */

#define INET_IPV4(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

struct inet_ops {
	/* 0, -EAGAIN (no room now: poll first), or another -errno. */
	int (*xmit)(void *ctx, const void *frame, size_t len);
	/* Optional: xmit with the checksum of frame[start, len) stored at
	 * start + offset (by the device, if it can). Used for ICMP when
	 * inet_cfg.csum_offload is set. */
	int (*xmit_csum)(void *ctx, const void *frame, size_t len, uint16_t start,
			 uint16_t offset);
	/* Receives what has arrived (calling inet_input() per frame): >= 0,
	 * or -errno if the transport failed. */
	int (*poll)(void *ctx);
	/* Optional: each valid echo reply that inet_ping() is not waiting for. */
	void (*echo_reply)(void *ctx, uint32_t src, uint16_t id, uint16_t seq,
			   const uint8_t *data, size_t len);
};

struct inet_cfg {
	uint8_t mac[INET_ETH_ALEN];
	uint32_t ip, netmask;
	uint32_t gateway;          /* next hop off the subnet; 0: none */
	unsigned int mtu;          /* 0: INET_MTU_MAX; at most INET_MTU_MAX */
	bool csum_offload;         /* ICMP checksums through ops->xmit_csum */
};

struct inet_stats {
	uint64_t rx_frames, rx_arp, rx_ip, rx_icmp;
	uint64_t drop_short;       /* shorter than the headers it claims */
	uint64_t drop_not_ours;    /* other MAC or IP destination */
	uint64_t drop_ethertype;   /* neither ARP nor IPv4 */
	uint64_t drop_arp;         /* malformed or unusable ARP */
	uint64_t drop_ip_hdr;      /* version, IHL */
	uint64_t drop_ip_len;      /* total length vs IHL and frame */
	uint64_t drop_ip_csum, drop_frag, drop_proto, drop_bad_src;
	uint64_t drop_icmp_len, drop_icmp_csum, drop_icmp_other;
	uint64_t drop_too_big;     /* an echo we cannot answer in one packet */
	uint64_t arp_requests, arp_replies, arp_answered, arp_learned;
	uint64_t echo_answered, echo_replies, echo_sent;
	uint64_t tx_frames, tx_busy, tx_errors;
};

struct inet_arp_entry {
	uint32_t ip;
	uint8_t mac[INET_ETH_ALEN];
	bool valid;
};

struct inet {
	struct inet_cfg cfg;
	const struct inet_ops *ops;
	void *ctx;
	struct inet_arp_entry arp[INET_ARP_CACHE];
	unsigned int arp_next;           /* slot replaced next */
	uint16_t ip_id;
	bool in_input;                   /* inside inet_input(): no polling */
	/* inet_ping()'s outstanding request. */
	bool ping_wait, ping_done, ping_bad;
	uint32_t ping_dst;
	uint16_t ping_id, ping_seq;
	const uint8_t *ping_data;
	size_t ping_len;
	uint64_t ping_at;                /* fe_now_us() of the reply */
	struct inet_stats stats;
	uint8_t tx[INET_FRAME_MAX];
};

/* Ones'-complement checksum of data (network order), as IPv4 and ICMP
 * use it: 0 over a region that includes a correct checksum field. */
uint16_t inet_csum(const void *data, size_t len);

/* -EINVAL if the address, netmask (must be contiguous) or MTU is unusable
 * or ops lacks xmit/poll. */
int inet_init(struct inet *in, const struct inet_cfg *cfg, const struct inet_ops *ops,
	      void *ctx);

/* One received frame (Ethernet header first). */
void inet_input(struct inet *in, const uint8_t *frame, size_t len);

/* The MAC of ip's next hop (ip itself on our subnet, else the gateway):
 * from the cache, or by ARP requests every INET_ARP_RETRY_US until
 * timeout_us passes (-ETIMEDOUT). -EHOSTUNREACH off the subnet without a
 * gateway. */
int inet_resolve(struct inet *in, uint32_t ip, uint8_t mac[INET_ETH_ALEN], uint64_t timeout_us);

/* Cached MAC of ip, without sending anything: 0 or -ENOENT. */
int inet_arp_lookup(const struct inet *in, uint32_t ip, uint8_t mac[INET_ETH_ALEN]);

/* Sends one echo request (len <= INET_PING_MAX and the MTU) to dst, whose
 * next hop must resolve within timeout_us. */
int inet_ping_send(struct inet *in, uint32_t dst, uint16_t id, uint16_t seq,
		   const void *data, size_t len, uint64_t timeout_us);

/* Sends an echo request and polls for its reply for timeout_us. 0 with the
 * round trip in *rtt_us (may be NULL), -ETIMEDOUT, -EBADMSG if the reply's
 * data differs from data, or the transport's error. */
int inet_ping(struct inet *in, uint32_t dst, uint16_t id, uint16_t seq,
	      const void *data, size_t len, uint64_t timeout_us, uint64_t *rtt_us);

/* Polls (answering ARP and pings) for us microseconds, or until it has
 * answered `answers` echo requests (0: for the whole time). 0 or the
 * transport's error. */
int inet_serve(struct inet *in, uint64_t us, uint64_t answers);

#endif

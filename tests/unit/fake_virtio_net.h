/* A simulated modern virtio-net PCI function, and a peer station behind it,
 * for the netfront and inet unit tests (tests/unit/test_netfront.c). It
 * owns the net side: the device config and both queues' traffic; RAM, the
 * fe_env.h hooks and the virtio-pci transport (fk.vp) are fake_vpci.h's.
 *
 * The queues are served by isle's device-side virtqueue (lib/virtq.c), so
 * the driver's chains are parsed by independent code: a transmit kick pops
 * every chain, checks and records the frame (computing the checksum when
 * the header asks for it) and shows it to the peer; fake_net_rx() writes a
 * frame into receive buffers the way a device does, merged over several
 * when MRG_RXBUF was negotiated. Knobs in struct fake_net make the device
 * misbehave. The peer (fake_peer_*) answers ARP for PEER_IP and echo
 * requests to it, checking their checksums, as QEMU's user-mode gateway
 * does. */
#ifndef TESTS_UNIT_FAKE_VIRTIO_NET_H
#define TESTS_UNIT_FAKE_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fake_vpci.h"
#include "inet.h"
#include "netfront.h"

#define FAKE_SENT    64u                 /* transmitted frames remembered */
#define FAKE_RX_MAX  64u                 /* buffers one received frame may take */

#define GUEST_IP     INET_IPV4(10, 0, 2, 15)
#define PEER_IP      INET_IPV4(10, 0, 2, 2)
extern const uint8_t guest_mac[6], peer_mac[6];

struct fake_net {
	struct fake_vpci vp;         /* queue 0 receives, 1 transmits */
	struct virtio_net_config net;
	/* What the driver sent, oldest first (FAKE_SENT at most). */
	uint8_t sent[FAKE_SENT][NETFRONT_TX_BUF];
	size_t sent_len[FAKE_SENT];
	struct virtio_net_hdr_v1 sent_hdr[FAKE_SENT];
	unsigned int n_sent;
	/* Knobs. */
	bool tx_hold;                /* keep transmit chains (fake_net_tx_release) */
	bool tx_csum_bad;            /* NEEDS_CSUM with csum_start beyond the frame */
	uint32_t rx_split;           /* fill at most this much of each rx buffer */
	unsigned int rx_publish;     /* publish only this many buffers now (0: all) */
	int rx_num_buffers;          /* write this num_buffers instead (-1: honest) */
	int rx_first_len;            /* used length of the first buffer (-1: honest) */
	uint32_t rx_len_extra;       /* added to every used length */
	bool peer;                   /* let the peer answer what is sent */
	bool peer_bad_data;          /* the peer corrupts echo reply data */
	/* Figures. */
	unsigned int rx_kicks, tx_kicks, tx_frames, tx_bad_csum, rx_frames;
	unsigned int peer_arp, peer_echo;
	/* Held transmit chains and unpublished receive buffers. */
	uint16_t tx_held[NETFRONT_QUEUE_MAX];
	unsigned int n_tx_held;
	uint16_t rx_held[FAKE_RX_MAX];
	uint32_t rx_held_len[FAKE_RX_MAX];
	unsigned int n_rx_held;
};

extern struct fake_net fk;

/* A fresh, well-behaved device offering NETFRONT_FEATURES (minus
 * ACCESS_PLATFORM), MTU 1500, link up, and RAM (fake_priv:
 * NETFRONT_PRIV_BYTES). */
void fake_setup(void);

/* Receives one frame with header h (NULL: zeros; num_buffers is always
 * the device's): 0, or -ENOSPC if the posted buffers cannot take it. */
int fake_net_rx(const void *frame, size_t len, const struct virtio_net_hdr_v1 *h);
/* Publishes what rx_publish held back; completes held transmissions. */
void fake_net_rx_release(void);
void fake_net_tx_release(void);
/* Receive buffers the driver has made available and the device not used. */
unsigned int fake_net_rx_avail(void);

/* Frame builders (network order), returning the length: an ARP packet,
 * and an IPv4/ICMP echo with len bytes of data; ICMP checksum correct. */
size_t fake_arp(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t op,
		uint32_t spa, const uint8_t *tha, uint32_t tpa);
size_t fake_echo(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t sip,
		 uint32_t dip, uint8_t type, uint16_t id, uint16_t seq,
		 const uint8_t *data, size_t len);
uint16_t fake_csum(const void *p, size_t len);

/* The inet suite (test_netfront_inet.c), linked into the same program. */
void unit_register_inet(void);

#endif

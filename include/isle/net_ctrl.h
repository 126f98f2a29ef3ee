/* The virtio-net control queue's commands, shared by the VMM (which answers
 * the control queue of its vhost-user-net devices itself) and isle-netback
 * (for frontends that pass the queue through).
 *
 * Contract: the chain is untrusted. net_ctrl_handle() reads the command
 * from the device-readable buffers with bounds-checked copies (a short
 * command gets VIRTIO_NET_ERR), writes only the ack byte, the last byte of
 * the device-writable part, and records what a command changes in struct
 * net_ctrl; the owner acts on it (e.g. follows `pairs`). No I/O, no
 * threads: the owner pops the chain (through its device's DMA address
 * space), calls in, and pushes it with the returned length. */
#ifndef ISLE_NET_CTRL_H
#define ISLE_NET_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "isle/virtq.h"

struct net_ctrl {
	uint64_t features;
	unsigned int max_pairs;
	unsigned int pairs;          /* from VQ_PAIRS_SET; max_pairs until then */
	bool promisc, allmulti;
	uint8_t mac[6];
	uint64_t commands, rejected;
};

void net_ctrl_init(struct net_ctrl *c, uint64_t features, unsigned int max_pairs,
		   const uint8_t mac[6]);
/* Handles one control chain: class + command (+ data) readable, the ack the
 * last writable byte. Returns the used length (1), or -EINVAL when there is
 * no byte to put the ack in. */
int net_ctrl_handle(struct net_ctrl *c, const struct vq_elem *e);

#endif

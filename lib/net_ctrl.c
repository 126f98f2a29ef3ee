/* The virtio-net control queue: commands a driver sends when it negotiated
 * CTRL_VQ (contract in include/isle/net_ctrl.h). isle answers its devices'
 * control queues with it (vmm/virtio/vhost_user_net.c), as QEMU and DPDK's
 * virtio-user answer theirs and switch queue pairs with SET_VRING_ENABLE;
 * isle-netback uses it for a frontend that passes the queue through.
 *
 * What is accepted: VQ_PAIRS_SET (MQ; the owner follows c->pairs), the RX
 * mode and MAC table commands (CTRL_RX) and MAC_ADDR_SET (CTRL_MAC_ADDR).
 * Filtering is the guest's business: the tap gives it whatever the bridge
 * forwards, so RX mode and MAC tables are only recorded. Anything else,
 * including a command whose feature was not negotiated or whose data is
 * short, gets VIRTIO_NET_ERR. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "isle/iov.h"
#include "isle/net_ctrl.h"
#include "isle/util.h"

void net_ctrl_init(struct net_ctrl *c, uint64_t features, unsigned int max_pairs,
		   const uint8_t mac[6])
{
	memset(c, 0, sizeof(*c));
	c->features = features;
	c->max_pairs = c->pairs = max_pairs;
	memcpy(c->mac, mac, 6);
}

static bool has(const struct net_ctrl *c, unsigned int bit)
{
	return c->features & BIT(bit);
}

/* MAC_TABLE_SET data: two tables, each a le32 count and count addresses. */
static bool net_ctrl_mac_table_ok(const struct vq_elem *e, uint64_t len)
{
	uint64_t off = 2;

	for (int t = 0; t < 2; t++) {
		uint32_t n;

		if (len < off - 2 + 4 || iov_to_buf(e->iov, e->out_num, off, &n, 4) != 4)
			return false;
		off += 4 + 6ULL * le32toh(n);
		if (off - 2 > len)
			return false;
	}
	return true;
}

static uint8_t net_ctrl_cmd(struct net_ctrl *c, const struct vq_elem *e, uint8_t cls,
			    uint8_t cmd, uint64_t len)
{
	uint8_t on;
	uint16_t pairs;

	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		if (!has(c, VIRTIO_NET_F_CTRL_RX) || len < 1)
			return VIRTIO_NET_ERR;
		iov_to_buf(e->iov, e->out_num, 2, &on, 1);
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			c->promisc = on;
		else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
			c->allmulti = on;
		else
			return VIRTIO_NET_ERR;   /* the CTRL_RX_EXTRA ones */
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC:
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return has(c, VIRTIO_NET_F_CTRL_RX) && net_ctrl_mac_table_ok(e, len) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		if (cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET || !has(c, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    len < 6)
			return VIRTIO_NET_ERR;
		iov_to_buf(e->iov, e->out_num, 2, c->mac, 6);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ:
		if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !has(c, VIRTIO_NET_F_MQ) || len < 2)
			return VIRTIO_NET_ERR;
		iov_to_buf(e->iov, e->out_num, 2, &pairs, 2);
		pairs = le16toh(pairs);
		if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > c->max_pairs)
			return VIRTIO_NET_ERR;
		c->pairs = pairs;
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

int net_ctrl_handle(struct net_ctrl *c, const struct vq_elem *e)
{
	const struct iovec *last;
	uint8_t hdr[2], ack = VIRTIO_NET_ERR;

	if (!e->in_num)
		return -EINVAL;
	if (e->out_len >= 2) {
		iov_to_buf(e->iov, e->out_num, 0, hdr, 2);
		ack = net_ctrl_cmd(c, e, hdr[0], hdr[1], e->out_len - 2);
	}
	c->commands++;
	if (ack != VIRTIO_NET_OK)
		c->rejected++;
	last = &e->iov[e->out_num + e->in_num - 1];
	((uint8_t *)last->iov_base)[last->iov_len - 1] = ack;
	return 1;
}

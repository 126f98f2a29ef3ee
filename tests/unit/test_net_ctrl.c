/* Unit tests for lib/net_ctrl.c, the virtio-net control queue the VMM and
 * isle-netback share: the test builds the chains a driver would send (as
 * iovecs, the way vq_pop() hands them over) and checks the ack and the
 * state each command leaves. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "cunit.h"
#include "isle/net_ctrl.h"
#include "isle/util.h"

static int ctrl_cmd(struct net_ctrl *c, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t hdr[2] = { cls, cmd }, ack = 0xaa, d[64];
	struct iovec iov[3];
	struct vq_elem e;

	if (len)
		memcpy(d, data, len);
	vq_elem_init(&e, iov, 3);
	iov[0] = (struct iovec){ hdr, 2 };
	iov[1] = (struct iovec){ d, len };
	iov[2] = (struct iovec){ &ack, 1 };
	e.out_num = len ? 2 : 1;
	if (!len)
		iov[1] = iov[2];
	e.in_num = 1;
	e.out_len = 2 + len;
	e.in_len = 1;
	CU_ASSERT_EQUAL(net_ctrl_handle(c, &e), 1);
	return ack;
}

static void test_ctrl(void)
{
	uint64_t f = BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
		     BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 }, mac2[6] = { 2, 0, 0, 0, 0, 9 };
	uint8_t table[4 + 6 + 4] = { 1, 0, 0, 0, 2, 0, 0, 0, 0, 7, 0, 0, 0, 0 };
	struct net_ctrl c;
	struct vq_elem e = { 0 };

	net_ctrl_init(&c, f, 4, mac);
	CU_ASSERT_EQUAL(c.pairs, 4);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				 &(uint16_t){ htole16(2) }, 2), VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(c.pairs, 2);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				 &(uint16_t){ htole16(5) }, 2), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				 &(uint16_t){ 0 }, 2), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(c.pairs, 2);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				 &(uint8_t){ 1 }, 1), VIRTIO_NET_OK);
	CU_ASSERT_TRUE(c.promisc);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST,
				 &(uint8_t){ 1 }, 1), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac2, 6),
			VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(memcmp(c.mac, mac2, 6), 0);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
				 sizeof(table)), VIRTIO_NET_OK);
	table[0] = 2;   /* claims two unicast entries it does not have */
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
				 sizeof(table)), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_ANNOUNCE, 0, NULL, 0), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_VLAN, 0, &(uint16_t){ 1 }, 2),
			VIRTIO_NET_ERR);
	/* Not negotiated: refused. */
	net_ctrl_init(&c, 0, 4, mac);
	CU_ASSERT_EQUAL(ctrl_cmd(&c, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				 &(uint16_t){ htole16(2) }, 2), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(c.rejected, 1);
	/* No writable byte for the ack. */
	CU_ASSERT_EQUAL(net_ctrl_handle(&c, &e), -EINVAL);
}

/* The command split however the driver likes: header and data across
 * iovecs, the ack in the last byte of a longer writable buffer. */
static void test_ctrl_split(void)
{
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t a[1] = { VIRTIO_NET_CTRL_MQ }, b[2] = { VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3 };
	uint8_t c0[1] = { 0 }, in[4] = { 0xaa, 0xaa, 0xaa, 0xaa };
	struct iovec iov[4] = { { a, 1 }, { b, 2 }, { c0, 1 }, { in, 4 } };
	struct net_ctrl c;
	struct vq_elem e;

	net_ctrl_init(&c, BIT(VIRTIO_NET_F_MQ), 4, mac);
	vq_elem_init(&e, iov, 4);
	e.out_num = 3;
	e.out_len = 4;
	e.in_num = 1;
	e.in_len = 4;
	CU_ASSERT_EQUAL(net_ctrl_handle(&c, &e), 1);
	CU_ASSERT_EQUAL(in[3], VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(in[0], 0xaa);   /* only the ack byte is written */
	CU_ASSERT_EQUAL(c.pairs, 3);
	/* Short data: the pairs command without its second byte. */
	iov[2] = (struct iovec){ in, 4 };
	e.out_num = 2;
	e.out_len = 3;
	in[3] = 0xaa;
	CU_ASSERT_EQUAL(net_ctrl_handle(&c, &e), 1);
	CU_ASSERT_EQUAL(in[3], VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(c.pairs, 3);
	/* Not even a header. */
	iov[1] = (struct iovec){ in, 4 };
	e.out_num = 1;
	e.out_len = 1;
	in[3] = 0xaa;
	CU_ASSERT_EQUAL(net_ctrl_handle(&c, &e), 1);
	CU_ASSERT_EQUAL(in[3], VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(c.commands, 3);
	CU_ASSERT_EQUAL(c.rejected, 2);
}

void unit_register(void)
{
	UNIT_SUITE("net_ctrl",
		UNIT_TEST(test_ctrl),
		UNIT_TEST(test_ctrl_split));
}

/* libFuzzer target for lib/net_ctrl.c, the virtio-net control queue the VMM
 * and isle-netback answer: the input is a driver's control chain, cut into
 * iovecs where it likes, as vq_pop() would hand it over.
 *
 * Input: a 4-byte header,
 *   0 u8  features: bit 0 CTRL_RX, 1 CTRL_MAC_ADDR, 2 MQ
 *   1 u8  max pairs (1 + b % 8)
 *   2 u8  readable iovecs (1 + b % 8); the readable bytes are cut into that
 *         many pieces at the offsets that follow
 *   3 u8  writable bytes (b % 8; 0 means no room for the ack)
 * then one cut offset byte per readable iovec but the last, then the
 * readable bytes (the command). Seeds: corpus/net_ctrl.
 *
 * Checks beyond ASan/UBSan (abort on violation): with room for the ack the
 * used length is 1 and the ack, the last writable byte, is OK or ERR and
 * the only byte written; without room, -EINVAL and nothing written; pairs
 * stay within 1..max; commands counts every handled chain. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "isle/net_ctrl.h"
#include "isle/util.h"

#define HDR_SIZE 4
#define MAX_OUT  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_net_ctrl: check failed: %s (line %d)\n", \
				#cond, __LINE__);                             \
			abort();                                              \
		}                                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct iovec iov[MAX_OUT + 1];
	uint8_t in[8], cuts[MAX_OUT];
	struct net_ctrl c;
	struct vq_elem e;
	uint64_t features = 0;
	unsigned int nout, nin_bytes, max_pairs;
	uint8_t *cmd;
	size_t len, at = 0;
	int r;

	if (size < HDR_SIZE)
		return 0;
	features |= data[0] & 1 ? 1ULL << VIRTIO_NET_F_CTRL_RX : 0;
	features |= data[0] & 2 ? 1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR : 0;
	features |= data[0] & 4 ? 1ULL << VIRTIO_NET_F_MQ : 0;
	max_pairs = 1 + data[1] % 8;
	nout = 1 + data[2] % MAX_OUT;
	nin_bytes = data[3] % 8;
	data += HDR_SIZE;
	size -= HDR_SIZE;
	if (size < nout - 1)
		return 0;
	memcpy(cuts, data, nout - 1);
	data += nout - 1;
	size -= nout - 1;

	/* A copy of its own, so ASan sees the command's exact end. */
	len = size;
	cmd = malloc(len ? len : 1);
	if (!cmd)
		abort();
	memcpy(cmd, data, len);
	vq_elem_init(&e, iov, ARRAY_SIZE(iov));
	for (unsigned int i = 0; i < nout; i++) {
		size_t piece = i + 1 < nout ? MIN((size_t)cuts[i], len - at) : len - at;

		iov[i] = (struct iovec){ cmd + at, piece };
		at += piece;
		e.out_len += piece;
	}
	e.out_num = nout;
	memset(in, 0xa5, sizeof(in));
	if (nin_bytes) {
		iov[nout] = (struct iovec){ in, nin_bytes };
		e.in_num = 1;
		e.in_len = nin_bytes;
	}

	net_ctrl_init(&c, features, max_pairs, mac);
	r = net_ctrl_handle(&c, &e);
	if (!nin_bytes) {
		check(r == -EINVAL);
		check(c.commands == 0);
	} else {
		check(r == 1);
		check(in[nin_bytes - 1] == VIRTIO_NET_OK || in[nin_bytes - 1] == VIRTIO_NET_ERR);
		check(c.commands == 1);
	}
	for (unsigned int i = 0; i + 1 < nin_bytes || (!nin_bytes && i < sizeof(in)); i++)
		check(in[i] == 0xa5);
	check(c.pairs >= 1 && c.pairs <= max_pairs);
	free(cmd);
	return 0;
}

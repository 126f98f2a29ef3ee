/* A simulated modern virtio-blk PCI function for the blkfront unit tests
 * (tests/unit/test_blkfront.c). It owns the block side: the device config,
 * an in-memory disk, and a notify that runs the queue through isle's
 * device-side virtqueue (lib/virtq.c). RAM, the fe_env.h hooks and the
 * virtio-pci transport (fk.vp) are fake_vpci.h's. Knobs in struct fake and
 * fk.vp make the device misbehave. Built into the test through
 * unit_extra_deps (tests/unit/meson.build). */
#ifndef TESTS_UNIT_FAKE_VIRTIO_BLK_H
#define TESTS_UNIT_FAKE_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "blkfront.h"
#include "fake_vpci.h"

#define BUF_OFF     (1 * MiB)          /* data buffers; DMA area at 0 */
#define DISK_SECTORS 2048u
#define ID_STRING   "fake-blk-serial-0123"   /* exactly 20 bytes */

struct fake {
	struct fake_vpci vp;               /* one queue */
	struct virtio_blk_config blk;
	struct iovec iov[VQ_ELEM_MAX_IOV];
	struct vq_elem elem;
	uint8_t disk[DISK_SECTORS * 512];
	/* Knobs. */
	bool never_complete, no_status;
	uint32_t len_extra;
	/* Figures. */
	unsigned int notifies, requests, max_data_segs;
};

extern struct fake fk;

/* A fresh, well-behaved device with its default capabilities, and RAM
 * (fake_priv: BLKFRONT_PRIV_BYTES). */
void fake_setup(void);

#endif

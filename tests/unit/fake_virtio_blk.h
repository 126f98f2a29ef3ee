/* A simulated modern virtio-blk PCI function for the blkfront unit tests
 * (tests/unit/test_blkfront.c), plus the fe_env.h hooks over fake guest
 * RAM. Configuration space carries the vendor capabilities; BAR4 holds the
 * common, ISR, device-config and notify regions; a notify runs the queue
 * through isle's device-side virtqueue (lib/virtq.c) against an in-memory
 * disk. Knobs in struct fake make the device misbehave. Built into the
 * test through unit_extra_deps (tests/unit/meson.build). */
#ifndef TESTS_UNIT_FAKE_VIRTIO_BLK_H
#define TESTS_UNIT_FAKE_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "isle/virtq.h"

#include "blkfront.h"

#define RAM_GPA     0x100000ULL
#define RAM_SIZE    (4 * MiB)
#define BUF_OFF     (1 * MiB)          /* data buffers; DMA area at 0 */
#define BAR_BASE    0xfe000000ULL
#define BAR_SIZE    0x4000u
#define COMMON_OFF  0x0000u
#define ISR_OFF     0x1000u
#define DEVCFG_OFF  0x2000u
#define NOTIFY_OFF  0x3000u
#define NOTIFY_MULT 4u
#define DISK_SECTORS 2048u
#define ID_STRING   "fake-blk-serial-0123"   /* exactly 20 bytes */

struct fake {
	uint8_t cfg[256];
	struct virtio_blk_config blk;
	uint32_t devcfg_len;
	uint64_t offered, driver;
	uint32_t dfsel, gfsel;
	uint8_t status, generation;
	uint16_t qsel, qmax, qsize, qenable, qnoff;
	uint64_t qdesc, qavail, qused;
	struct vq vq;
	struct iovec iov[VQ_ELEM_MAX_IOV];
	struct vq_elem elem;
	bool running;
	uint8_t disk[DISK_SECTORS * 512];
	/* Knobs. */
	bool refuse_features_ok, stuck_reset, never_complete, no_status;
	uint32_t len_extra;
	unsigned int unstable_generation;   /* generation reads that change */
	/* Figures. */
	unsigned int notifies, requests, max_data_segs, resets;
};

extern struct fake fk;
extern uint8_t *fake_ram;          /* RAM_SIZE bytes at RAM_GPA, page-aligned */
extern void *fake_priv;            /* BLKFRONT_PRIV_BYTES */
extern const struct vpci_env fake_env;

/* A fresh, well-behaved device with its default capabilities, and RAM. */
void fake_setup(void);
void fake_teardown(void);
/* Writes a virtio vendor capability into configuration space. */
void fake_put_cap(uint8_t at, uint8_t next, uint8_t type, uint8_t bar,
		  uint32_t off, uint32_t len, uint8_t cap_len);

#endif

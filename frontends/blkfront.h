/* virtio-blk driver (the frontend of a split block driver), freestanding:
 * one request queue, synchronous polled requests, no interrupts.
 *
 * Contract:
 *  - The caller supplies the transport environment (virtio_pci.h) and two
 *    memory areas: DMA memory of at least BLKFRONT_DMA_BYTES (16-byte
 *    aligned, physically contiguous, device-visible: rings, the indirect
 *    table, request header and status) and private memory of at least
 *    BLKFRONT_PRIV_BYTES. Data buffers are the caller's and must be
 *    device-visible too; fe_virt_to_phys() translates them.
 *  - Requests return the device's status (VIRTIO_BLK_S_OK, _IOERR,
 *    _UNSUPP) or a negative errno for what the driver itself detects:
 *    -EINVAL bad arguments, -EOPNOTSUPP feature not negotiated, -ETIMEDOUT
 *    the device did not complete within timeout_us, -EIO the device broke
 *    the ring, -EPROTO the device completed without a valid status byte.
 *    After -ETIMEDOUT or -EIO the device may still own our buffers: the
 *    driver is "broken" and refuses everything until blkfront_init().
 *  - Policy stays with the device: the driver does not refuse writes to a
 *    read-only disk nor requests beyond the capacity (bf->ro and
 *    bf->capacity are there for callers that want to); the test guest
 *    checks that the device does.
 *  - Sectors are 512 bytes whatever blk_size says (blk_size is the
 *    device's preferred granularity). */
#ifndef FRONTENDS_BLKFRONT_H
#define FRONTENDS_BLKFRONT_H

#include <linux/virtio_blk.h>

#include "virtio_pci.h"
#include "virtq_driver.h"

#define BLKFRONT_DEVICE_ID   (VPCI_MODERN_BASE + 2)   /* 1af4:1042 */
#define BLKFRONT_QUEUE_MAX   256u
#define BLKFRONT_SECTOR      512u
#define BLKFRONT_SEG_BYTES   4096u     /* blkfront_rw() splits at 4 KiB pages */
#define BLKFRONT_TIMEOUT_US  10000000ull

/* Upper bounds for the queue, one indirect table and the request area. */
#define BLKFRONT_DMA_BYTES   (16 * 1024)
#define BLKFRONT_PRIV_BYTES  (8 * 1024)

/* Features blkfront asks for (VERSION_1 is always asked). */
#define BLKFRONT_FEATURES                                                   \
	(1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |      \
	 1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |        \
	 1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_DISCARD |            \
	 1ull << VIRTIO_BLK_F_WRITE_ZEROES |                                 \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC | \
	 1ull << VIRTIO_F_ACCESS_PLATFORM)

struct blkfront_opts {
	uint64_t features;        /* subset of BLKFRONT_FEATURES to ask for */
	unsigned int queue_max;   /* cap on the queue size (<= BLKFRONT_QUEUE_MAX) */
	uint64_t timeout_us;      /* per request */
};

/* Request header, status and small payloads: in the DMA area. */
struct blkfront_req {
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes range;
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t status;
};

struct blkfront {
	struct vpci_dev pci;
	struct vqd vq;
	uint64_t notify_addr;
	struct blkfront_req *req;
	uint64_t features;            /* negotiated */
	uint64_t capacity;            /* in 512-byte sectors */
	uint32_t blk_size, size_max, seg_max;
	uint32_t max_discard_sectors, max_discard_seg, discard_align;
	uint32_t max_wz_sectors, max_wz_seg;
	bool wz_may_unmap;
	bool ro;
	unsigned int queue_size;
	unsigned int seg_limit;       /* data segments per request we send */
	uint64_t timeout_us;
	bool broken;
	const char *error;            /* last driver-detected problem */
	uint32_t last_len;            /* used length of the last request */
	/* Figures. */
	uint64_t requests, bytes_read, bytes_written;
	/* Scratch: blkfront_rw()'s data segments, and the whole chain. */
	struct vqd_sg sg[BLKFRONT_QUEUE_MAX];
	struct vqd_sg chain[BLKFRONT_QUEUE_MAX];
};

static inline bool blkfront_has(const struct blkfront *bf, unsigned int bit)
{
	return bf->features & (1ull << bit);
}

/* Probes, resets and configures the device, sets up queue 0 and sets
 * DRIVER_OK. opts may be NULL (all of BLKFRONT_FEATURES, the largest
 * queue, BLKFRONT_TIMEOUT_US). Returns 0 or -errno with bf->error set. */
int blkfront_init(struct blkfront *bf, const struct vpci_env *env,
		  const struct blkfront_opts *opts, void *dma, size_t dma_len,
		  void *priv, size_t priv_len);

/* Resets the device (stops all DMA into our memory). */
int blkfront_reset(struct blkfront *bf);

/* One request with the caller's data segments (n <= seg_limit, each no
 * larger than size_max, the total a whole number of sectors). */
int blkfront_rw_sg(struct blkfront *bf, uint64_t sector, const struct vqd_sg *sg,
		   unsigned int n, bool write);

/* Reads or writes len bytes (a multiple of 512) at sector, split at 4 KiB
 * page boundaries into as many requests as seg_limit requires. Stops at
 * the first status other than OK and returns it. */
int blkfront_rw(struct blkfront *bf, uint64_t sector, void *buf, size_t len, bool write);

int blkfront_flush(struct blkfront *bf);
int blkfront_discard(struct blkfront *bf, uint64_t sector, uint32_t nsect);
int blkfront_write_zeroes(struct blkfront *bf, uint64_t sector, uint32_t nsect, bool unmap);
/* The device's id string (up to 20 bytes), NUL-terminated into id[21]. */
int blkfront_get_id(struct blkfront *bf, char id[VIRTIO_BLK_ID_BYTES + 1]);

#endif

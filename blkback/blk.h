/* virtio-blk request handling for isle-tapdisk: turns one popped descriptor
 * chain into a disk request (or an immediate answer) and writes the status
 * byte when it completes. No rings, threads or sockets here, so it is
 * unit-tested and fuzzed on its own.
 *
 * Contract:
 *  - The chain is untrusted. The request header (type, ioprio, sector) is
 *    gathered from the first 16 device-readable bytes, whatever iovecs they
 *    span; the status byte is the last device-writable byte. A chain without
 *    a readable byte or without a writable byte cannot be answered:
 *    blk_handle() returns -EIO and the caller breaks the queue. Everything
 *    else gets a status: OK, IOERR (bad lengths, out-of-range sectors, writes
 *    to a read-only disk, engine errors) or UNSUPP (unknown types, flags).
 *  - blk_handle() returns 0 when the request is either answered now or handed
 *    to the disk: either way req->complete runs exactly once (from inside
 *    blk_handle() for immediate answers, from disk_reap() otherwise), with
 *    req->written the used length (bytes written to the guest, status
 *    included). -EAGAIN: the disk queue is full; nothing was written and
 *    blk_retry() must be called later. -EIO: see above, no callback.
 *  - Writes, flushes, discards and write-zeroes are answered only after the
 *    engine completed them (FLUSH: once durable).
 *  - The buffers stay the caller's: keep the guest memory mapped and req
 *    untouched until complete runs. No allocation on this path. */
#ifndef ISLE_BLKBACK_BLK_H
#define ISLE_BLKBACK_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_blk.h>

#include "disk.h"
#include "isle/virtq.h"

#define BLK_SECTOR_SIZE 512u
#define BLK_HDR_SIZE    16u               /* struct virtio_blk_outhdr */
#define BLK_ID_BYTES    VIRTIO_BLK_ID_BYTES
#define BLK_SEG_MAX     254u              /* data segments per request */
#define BLK_SIZE_MAX    (1u << 20)        /* bytes per segment (advisory) */
#define BLK_DWZ_SEG_MAX 16u               /* discard / write-zeroes ranges */
#define BLK_DWZ_SECTORS_MAX (1u << 22)    /* sectors per range (2 GiB) */
/* iovecs a request slot needs: data, header and status descriptors, plus
 * the splits where guest-RAM regions meet. */
#define BLK_REQ_MAX_IOV (BLK_SEG_MAX + 2 + VQ_SPLIT_EXTRA)

/* What the device is, fixed once the disk is open; shared read-only by
 * every queue thread. */
struct blk_dev {
	uint64_t capacity;            /* 512-byte sectors */
	uint32_t blk_size;            /* logical block size */
	uint32_t phys_block_size;
	bool readonly;
	bool discard;                 /* the disk discards */
	unsigned int num_queues;
	char serial[BLK_ID_BYTES];    /* not NUL-terminated when 20 long */
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
};

struct blk_req;
typedef void (*blk_complete_fn)(struct blk_req *req);

struct blk_req {
	struct vq_elem elem;          /* the chain, from vq_pop/vq_resubmit */
	blk_complete_fn complete;
	void *opaque;                 /* the caller's */
	uint32_t written;             /* used length, valid in complete */
	uint8_t status;               /* VIRTIO_BLK_S_*, valid in complete */
	/* Private. */
	const struct blk_dev *dev;
	struct disk *disk;
	struct disk_req dreq;
	uint8_t *status_ptr;          /* last writable byte of the chain */
	uint32_t type;
	uint32_t ok_written;          /* used length on success */
	unsigned int nranges, next_range;
	struct blk_range ranges[BLK_DWZ_SEG_MAX];
};

/* Fills bd from an open disk. The GET_ID serial is vdev (the xl vdev) when
 * given and not empty, else "isle" and a hash of the image path. */
void blk_dev_init(struct blk_dev *bd, const struct disk *disk, unsigned int num_queues,
		  const char *vdev);

/* virtio-blk device feature bits (without the transport bits). */
uint64_t blk_features(const struct blk_dev *bd);

/* The config space, little-endian, as the driver reads it. */
void blk_config(const struct blk_dev *bd, struct virtio_blk_config *cfg);

/* Sets up a request slot once: its iovec storage (BLK_REQ_MAX_IOV is what
 * the advertised seg_max needs) and completion. */
void blk_req_init(struct blk_req *req, struct iovec *iov, unsigned int cap,
		  blk_complete_fn complete, void *opaque);

/* Handles the chain in req->elem against disk. See the contract above. */
int blk_handle(const struct blk_dev *bd, struct disk *disk, struct blk_req *req);

/* Submits again a request blk_handle() or an earlier retry left with
 * -EAGAIN; same results. */
int blk_retry(struct blk_req *req);

/* "OK", "IOERR", "UNSUPP" or "?" for logs and tests. */
const char *blk_status_name(uint8_t status);

#endif

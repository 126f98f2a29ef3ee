/* Device side of a virtio 1.x split virtqueue, served straight from guest
 * memory. Shared by the VMM's own devices and the vhost-user backends.
 *
 * Contract:
 *  - The driver (guest, or a vhost-user frontend) is untrusted. vq_init()
 *    validates the queue size, alignments, and that each ring part lies in one
 *    contiguous mapping of the device's DMA address space (isle/dma.h) with
 *    the access the device needs (descriptor table and avail ring: read; used
 *    ring: write, and read back on resume), so ring accesses afterwards are
 *    plain loads and stores into validated memory. Every descriptor is read
 *    once into a local copy and checked; every buffer is translated through
 *    the address space with the access its descriptor implies (device-
 *    writable: DMA_WRITE, else DMA_READ; indirect tables: DMA_READ).
 *  - Anything the driver got wrong makes the queue "broken": vq_pop() returns
 *    -EIO from then on, until the next vq_init(). The caller sets the device's
 *    DEVICE_NEEDS_RESET status; vq_broken_reason() says why.
 *  - The vq caches host pointers to its rings, from the address space it was
 *    given: the AS must outlive it, and the rings stay valid until the AS
 *    announces an invalidation that covers them. A device learns that with a
 *    dma_notifier on the AS (DMA_EV_UNMAP; vq_rings_overlap() says whether
 *    the range hits this queue's rings), stops using the queue, and calls
 *    vq_init() again once the rings are mapped again, restoring the indices
 *    with vq_set_last_avail()/vq_sync_used_idx(); iovecs of chains popped
 *    before must not be touched after an invalidation covering them. A
 *    vhost-user memory-table change (SET_MEM_TABLE) is such an invalidation
 *    of everything.
 *  - Addresses are IOVAs of that address space (guest-physical with the
 *    identity AS). A vhost-user backend translates the frontend's ring
 *    addresses (its virtual addresses) to guest-physical before vq_init().
 *  - One thread uses a vq at a time; the driver runs concurrently, which is
 *    what the barriers are for. Little-endian layout (virtio 1.x). */
#ifndef ISLE_VIRTQ_H
#define ISLE_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "isle/dma.h"

#define VQ_MAX_SIZE 32768           /* the split-ring limit on the queue size */
/* Descriptors a device normally accepts in one chain (advertise a seg_max
 * below this), plus slack for buffers split where mappings meet.
 * Callers size their iovec arrays with VQ_ELEM_MAX_IOV. */
#define VQ_MAX_SEGS     1024
#define VQ_SPLIT_EXTRA  64
#define VQ_ELEM_MAX_IOV (VQ_MAX_SEGS + VQ_SPLIT_EXTRA)
#define VQ_INDIRECT_MAX 65536       /* entries in one indirect table */

/* vq_config.flags: what the driver negotiated that changes ring handling. */
#define VQ_F_EVENT_IDX     (1u << 0)   /* VIRTIO_RING_F_EVENT_IDX */
#define VQ_F_INDIRECT_DESC (1u << 1)   /* VIRTIO_RING_F_INDIRECT_DESC */

struct vq_config {
	unsigned int num;      /* queue size the driver chose */
	unsigned int max_num;  /* the device's limit; 0 means VQ_MAX_SIZE */
	uint64_t desc_gpa;     /* descriptor table, 16-byte aligned (an IOVA) */
	uint64_t avail_gpa;    /* driver (avail) ring, 2-byte aligned */
	uint64_t used_gpa;     /* device (used) ring, 4-byte aligned */
	unsigned int flags;    /* VQ_F_* */
};

/* Maps a virtio feature word to VQ_F_* flags. */
static inline unsigned int vq_flags_from_features(uint64_t features)
{
	return (features & (1ULL << VIRTIO_RING_F_EVENT_IDX) ? VQ_F_EVENT_IDX : 0) |
	       (features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC) ? VQ_F_INDIRECT_DESC : 0);
}

/* One popped descriptor chain. iov[0, out_num) are the device-readable
 * buffers, iov[out_num, out_num + in_num) the device-writable ones, in chain
 * order; a buffer that crosses a mapping boundary of the address space takes several
 * iovecs. The iovec array is the caller's (see vq_elem_init()). */
struct vq_elem {
	struct iovec *iov;
	unsigned int iov_cap;
	uint16_t head;          /* pass to vq_push() */
	unsigned int out_num, in_num;
	uint64_t out_len, in_len;   /* byte totals (cannot overflow: ≤ 2^17 buffers of < 2^32) */
};

static inline void vq_elem_init(struct vq_elem *elem, struct iovec *iov, unsigned int cap)
{
	elem->iov = iov;
	elem->iov_cap = cap;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	elem->head = 0;
}

/* vhost-user INFLIGHT_SHMFD, split-ring layout (vhost-user spec,
 * "Inflight I/O tracking"). One region per queue in the shared memfd; the
 * frontend keeps it across a backend restart. */
struct vq_inflight_desc {
	uint8_t inflight;       /* popped, not yet completed */
	uint8_t padding[5];
	uint16_t next;          /* links the last used batch */
	uint64_t counter;       /* pop order, for resubmission */
};

struct vq_inflight_split {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vq_inflight_desc desc[];
};

_Static_assert(sizeof(struct vq_inflight_desc) == 16, "DescStateSplit layout");
_Static_assert(sizeof(struct vq_inflight_split) == 16, "QueueRegionSplit layout");

#define VQ_INFLIGHT_VERSION 1
#define VQ_INFLIGHT_ALIGN   64   /* per-queue stride in the memfd (our choice) */

struct vq {
	struct dma_as *as;          /* every guest address goes through it */
	uint64_t desc_iova, avail_iova, used_iova;   /* for vq_rings_overlap() */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;       /* avail->ring[num], written by the driver */
	uint16_t *avail_event;      /* after used->ring[num], written by us */
	unsigned int num;           /* 0 until vq_init() succeeds */
	unsigned int flags;
	uint16_t last_avail_idx;    /* next avail slot to pop */
	uint16_t shadow_avail_idx;  /* avail->idx as last read */
	uint16_t used_idx;          /* ours: the driver cannot move it */
	uint16_t signalled_used;    /* used_idx at the last vq_should_notify() */
	bool signalled_used_valid;
	bool notify;                /* driver kicks wanted (vq_enable_notify) */
	bool broken;
	const char *broken_reason;
	struct vq_inflight_split *inflight;
	uint64_t inflight_counter;
};

/* Validates cfg against as and starts the queue fresh (indices 0, kicks
 * enabled, not broken, no inflight region). Returns -EINVAL, leaving *vq
 * untouched, if num is 0, not a power of two, or over the limits, if a ring
 * is misaligned, or if a ring part (desc 16*num; avail 6+2*num; used 6+8*num
 * bytes, event fields included) is not inside one contiguous mapping with
 * the access it needs. */
int vq_init(struct vq *vq, struct dma_as *as, const struct vq_config *cfg);

/* Whether an address-space event on [iova, iova+len) touches this queue's
 * rings (false for a queue never initialized). For a device's dma_notifier:
 * true means the cached ring pointers are stale, vq_init() again. */
bool vq_rings_overlap(const struct vq *vq, uint64_t iova, uint64_t len);
/* The same for a split ring of num entries given by its three addresses
 * (a ring that is not a struct vq: a vhost-user ring's, a device's). */
bool vq_split_rings_overlap(uint64_t desc, uint64_t avail, uint64_t used, uint64_t num,
			    uint64_t iova, uint64_t len);

/* vhost-user GET/SET_VRING_BASE and resumption. vq_sync_used_idx() adopts
 * used->idx from guest memory (the ring already carries state, e.g. after a
 * backend reconnect or migration); a fresh queue starts at 0. */
void vq_set_last_avail(struct vq *vq, uint16_t idx);
uint16_t vq_get_last_avail(const struct vq *vq);
void vq_sync_used_idx(struct vq *vq);
uint16_t vq_get_used_idx(const struct vq *vq);

static inline bool vq_is_broken(const struct vq *vq) { return vq->broken; }
const char *vq_broken_reason(const struct vq *vq);
/* Marks the queue broken (also for device-level violations the caller finds,
 * e.g. a request header that does not fit); returns -EIO. reason must be a
 * string that lives forever. */
int vq_set_broken(struct vq *vq, const char *reason);

/* Takes the next available chain. Returns 1 with *elem filled, 0 if the ring
 * is empty, -EIO if the ring is broken (now or before), -EINVAL if vq was
 * never initialized. A kick is guaranteed for buffers added after vq_pop()
 * returned 0 (while notifications are enabled); a caller that stops popping
 * earlier must come back by itself. */
int vq_pop(struct vq *vq, struct vq_elem *elem);

/* Puts the most recently popped chain back (LIFO), e.g. when the backend ran
 * out of resources; it will be popped again. */
void vq_unpop(struct vq *vq, const struct vq_elem *elem);

/* Returns a chain to the driver with `written` bytes written into its
 * device-writable buffers: writes the used element, then publishes used->idx
 * (release). Chains may complete in any order. -EINVAL if head ≥ num. Works
 * on a broken queue too (memory stays validated), so in-flight requests can
 * finish while the device waits for its reset. */
int vq_push(struct vq *vq, uint16_t head, uint32_t written);

/* After one or more vq_push(): whether to interrupt the driver now
 * (EVENT_IDX: used_event crossed since the last call; otherwise: the driver
 * did not set VRING_AVAIL_F_NO_INTERRUPT). Assumes the caller notifies when
 * true. */
bool vq_should_notify(struct vq *vq);
/* vq_should_notify(), and if so one write to the eventfd call_fd (an irqfd
 * or a vhost-user call fd; -1: the driver takes no interrupts). */
void vq_notify_eventfd(struct vq *vq, int call_fd);

/* Kicks from the driver: off while a backend polls, on again when it goes
 * idle. vq_enable_notify() returns true if buffers are already waiting (the
 * caller must pop them: no kick will come for them). */
void vq_disable_notify(struct vq *vq);
bool vq_enable_notify(struct vq *vq);

/* Inflight tracking (lib/virtq_inflight.c). Bytes one queue's region needs. */
size_t vq_inflight_region_size(unsigned int num);

/* Attaches a queue's region (after vq_init and the indices are set). A
 * zeroed region (version 0) is initialized; otherwise the version must
 * match and desc_num be at least the ring size (a frontend sizes regions
 * for its largest queue). From then on vq_pop marks heads inflight and vq_push clears
 * them, in the order the spec requires. Returns 0 or -EINVAL. */
int vq_inflight_attach(struct vq *vq, struct vq_inflight_split *region, size_t size);

/* After a backend restart: repairs the last used batch if the crash hit
 * between publishing used->idx and clearing its inflight flags, then stores
 * the inflight heads in heads[] oldest first (by counter), at most cap (the
 * queue size always suffices). Sets used_idx from the ring and last_avail to
 * used_idx + count, since every popped chain is either used or inflight.
 * Returns the count, or -EIO (queue marked broken) if the region is
 * inconsistent, -ENOSPC if cap is too small, -EINVAL without a region,
 * -ENOMEM. */
int vq_inflight_recover(struct vq *vq, uint16_t *heads, unsigned int cap);

/* Maps the chain at head again, without touching the avail ring, for
 * resubmitting a recovered inflight head (its inflight mark stays). Returns
 * 1, -EIO as vq_pop(), or -EINVAL if head ≥ num. */
int vq_resubmit(struct vq *vq, uint16_t head, struct vq_elem *elem);

#endif

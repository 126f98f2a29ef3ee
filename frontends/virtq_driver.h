/* Driver side of a virtio 1.x split virtqueue (the counterpart of the
 * device side in include/isle/virtq.h), freestanding.
 *
 * Contract:
 *  - Memory is the caller's, in two parts. The DMA part (vqd_dma_bytes(),
 *    16-byte aligned, physically contiguous) holds what the device reads or
 *    writes: the descriptor table, the avail ring, the used ring and the
 *    pool of indirect tables. The private part (vqd_priv_bytes()) holds the
 *    driver's bookkeeping (tokens, chain links, free lists), which the device
 *    never needs to see: the driver's view of what is in flight does not
 *    depend on anything the device can write.
 *  - The device is untrusted. Everything it writes (used->idx, used
 *    elements, avail_event, used->flags) is read once and checked: a used id
 *    that is out of range or not a chain in flight, a length above what the
 *    chain offered, or a used index that moves by more than is in flight
 *    breaks the queue. A broken queue refuses everything with -EIO until
 *    vqd_init() (after a device reset); vqd_broken_reason() says why.
 *  - Buffers are given as virtual addresses; each one must be physically
 *    contiguous. fe_virt_to_phys() (fe_env.h) turns them into the addresses
 *    written into descriptors.
 *  - One caller at a time per queue (no locking); the device runs
 *    concurrently, which is what the barriers are for. */
#ifndef FRONTENDS_VIRTQ_DRIVER_H
#define FRONTENDS_VIRTQ_DRIVER_H

#include <linux/virtio_ring.h>

#include "fe_env.h"

#define VQD_MAX_NUM   32768u    /* split-ring limit on the queue size */
#define VQD_ALIGN     16u       /* of the DMA part (the descriptor table) */

/* vqd_config.flags: ring features the device and driver agreed on. */
#define VQD_F_EVENT_IDX (1u << 0)    /* VIRTIO_RING_F_EVENT_IDX */
#define VQD_F_INDIRECT  (1u << 1)    /* VIRTIO_RING_F_INDIRECT_DESC */

struct vqd_config {
	unsigned int num;              /* power of two, 1..VQD_MAX_NUM */
	unsigned int flags;            /* VQD_F_* */
	/* Indirect table pool, used only with VQD_F_INDIRECT: tables of
	 * indirect_max descriptors each; 0 tables means never indirect. */
	unsigned int indirect_tables;
	unsigned int indirect_max;
};

/* One buffer of a request: virtual address and length (> 0). */
struct vqd_sg {
	const void *buf;
	uint32_t len;
};

struct vqd_slot;

struct vqd {
	unsigned int num;
	unsigned int flags;
	unsigned int indirect_tables, indirect_max;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;          /* avail->ring[num]: ours */
	uint16_t *avail_event;         /* after used->ring[num]: the device's */
	struct vring_desc *tables;     /* indirect_tables * indirect_max */
	uint64_t desc_pa, avail_pa, used_pa;   /* for the transport */

	struct vqd_slot *slot;         /* num entries, private */
	uint16_t *table_free;          /* stack of free table numbers */
	unsigned int tables_free;
	uint16_t free_head;            /* free descriptor list (private links) */
	unsigned int num_free;
	unsigned int inflight;         /* chains the device owns */

	uint16_t avail_idx;            /* next avail slot; published already */
	uint16_t kicked_avail;         /* avail_idx at the last kick decision */
	uint16_t last_used;            /* next used slot to consume */
	bool cb_enabled;               /* used-buffer notifications wanted */
	bool broken;
	const char *broken_reason;
	/* Figures, for tests and diagnostics. */
	uint64_t added, added_indirect, completed;
};

/* Bytes the two memory parts need for cfg (0 if cfg is invalid). */
size_t vqd_dma_bytes(const struct vqd_config *cfg);
size_t vqd_priv_bytes(const struct vqd_config *cfg);

/* Lays the queue out in dma/priv (zeroing both) and starts it empty.
 * -EINVAL if cfg is invalid, dma is misaligned, or a part is too small.
 * Call again after a device reset: every token in flight is forgotten. */
int vqd_init(struct vqd *vq, const struct vqd_config *cfg,
	     void *dma, size_t dma_len, void *priv, size_t priv_len);

/* Makes one chain available: n_out device-readable buffers, then n_in
 * device-writable ones. Uses an indirect table when the queue has one free
 * and the chain has more than one buffer, else a direct chain. token
 * (non-NULL) comes back from vqd_get_used(). Publishes avail->idx; the
 * device may take the chain at once, but is only told with a kick.
 * 0, -EINVAL (bad arguments, chain longer than the queue), -ENOSPC (not
 * enough free descriptors: wait for completions) or -EIO (broken). */
int vqd_add(struct vqd *vq, const struct vqd_sg *out, unsigned int n_out,
	    const struct vqd_sg *in, unsigned int n_in, void *token);

/* Whether the device wants a kick for what was added since the last call
 * (EVENT_IDX: avail_event crossed; else: used->flags lacks NO_NOTIFY). The
 * caller then notifies through the transport. */
bool vqd_kick_prepare(struct vqd *vq);

/* Takes the next used chain: returns 1 with *token and *len (bytes the
 * device says it wrote), 0 if none is ready, -EIO if the device broke the
 * ring (now or before). */
int vqd_get_used(struct vqd *vq, void **token, uint32_t *len);

/* Used-buffer notifications (interrupts): a polling driver disables them;
 * vqd_enable_cb() returns true if used chains are already waiting, which
 * no interrupt will announce. */
void vqd_disable_cb(struct vqd *vq);
bool vqd_enable_cb(struct vqd *vq);

static inline bool vqd_is_broken(const struct vqd *vq)
{
	return vq->broken;
}

static inline const char *vqd_broken_reason(const struct vqd *vq)
{
	return vq->broken ? vq->broken_reason : NULL;
}

/* Free descriptors, chains in flight. */
static inline unsigned int vqd_num_free(const struct vqd *vq)
{
	return vq->num_free;
}

static inline unsigned int vqd_inflight(const struct vqd *vq)
{
	return vq->inflight;
}

#endif

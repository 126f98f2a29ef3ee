/* DMA address spaces: the one translation point for device-side accesses to
 * guest memory. A device (virtqueue, ring check, vhost-user ring address)
 * never looks at a struct gmem: it holds a struct dma_as and asks it to
 * translate an I/O virtual address (IOVA) with the access it intends.
 *
 * Who implements what:
 *  - dma_as_identity_init(): IOVA = guest-physical, over a gmem. The VMM
 *    gives every emulated PCI device the VM's identity AS (vm->dma); a
 *    vhost-user backend builds one over the memory table the frontend sent
 *    (vu_dev.dma), or over its own copy of it.
 *  - An IOMMU (the emulated Intel VT-d, iommu/) supplies another ops table:
 *    translate() walks the context and second-level tables for the
 *    requester id the AS belongs to (one AS per PCI device, priv = its
 *    context), checks the R/W bits against `access`, and returns the fault
 *    (-EFAULT not present, -EPERM permission) the fault-recording code
 *    reports. On an IOTLB/context invalidation it calls dma_as_invalidate()
 *    on the AS concerned; a VFIO user registers a notifier to turn map and
 *    unmap events into VFIO_IOMMU_MAP_DMA / UNMAP_DMA.
 *
 * Contract:
 *  - translate() returns 0 with *hva set and *len cut down to the number of
 *    contiguous valid bytes at iova (> 0, ≤ the request), the way
 *    libvhost-user's vu_gpa_to_va() does; callers loop. Otherwise -EFAULT
 *    (not mapped) or -EPERM (mapped, but not for this access), *len = 0.
 *    dma_translate() rejects a zero length and clamps a range that would
 *    wrap past 2^64 before the ops see it.
 *  - Host pointers a translation returned stay valid until an invalidation
 *    covering them is announced: a user that caches them (a virtqueue's
 *    rings) registers a notifier and drops the cache from it. The identity
 *    AS never invalidates: its gmem does not change under it (a vhost-user
 *    backend whose table changes announces [0, 2^64) itself).
 *  - Notifier callbacks run on the thread that announces the event, under
 *    the AS's notifier lock: they must be short (mark state, wake a thread)
 *    and must not register, unregister or announce on the same AS.
 *  - translate() may run on any thread concurrently with everything else.
 */
#ifndef ISLE_DMA_H
#define ISLE_DMA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/gmem.h"

/* Access bits: what the device is about to do with the bytes. */
#define DMA_READ  (1u << 0)   /* device reads guest memory (to-device) */
#define DMA_WRITE (1u << 1)   /* device writes guest memory (from-device) */
#define DMA_RW    (DMA_READ | DMA_WRITE)

/* Events a notifier hears about. len UINT64_MAX with iova 0 means "all of
 * it" (the whole 2^64 space cannot be written as a length). */
#define DMA_EV_MAP   (1u << 0)   /* [iova, iova+len) became mapped */
#define DMA_EV_UNMAP (1u << 1)   /* [iova, iova+len) is gone: drop pointers */

struct dma_as;

/* A mapped run met by a walk: [iova, iova+len) reaches host memory at
 * hva.. with perm (DMA_* bits). Nonzero stops the walk. */
typedef int (*dma_walk_fn)(void *opaque, uint64_t iova, void *hva, uint64_t len,
			   unsigned int perm);

struct dma_as_ops {
	const char *name;
	/* See the contract above. iova + *len - 1 does not wrap and *len > 0
	 * when called; access is DMA_READ, DMA_WRITE or both. */
	int (*translate)(struct dma_as *as, uint64_t iova, uint64_t *len,
			 unsigned int access, void **hva);
	/* Optional: the same, also saying what the mapping allows (*granted,
	 * DMA_* bits, a superset of access) without a fault for what access
	 * did not ask: a device IOTLB hands that on to its back-end. */
	int (*translate_perm)(struct dma_as *as, uint64_t iova, uint64_t *len,
			      unsigned int access, void **hva, unsigned int *granted);
	/* Optional: whether IOVA = guest-physical for every address right
	 * now, asked without side effects (no fault recorded); valid until
	 * the next invalidation. NULL: unknown (false). */
	bool (*identity)(struct dma_as *as);
	/* Optional: calls fn for every run of [iova, iova+len) that is mapped
	 * to guest RAM, in IOVA order, without recording faults (a host
	 * IOMMU shadowing the guest's mappings). Returns 0, fn's nonzero
	 * return, 1 when every IOVA is the identity right now (fn not
	 * called), or -ENOENT when nothing can be mapped. fn may run under
	 * the implementation's lock: it must only record what it is told. */
	int (*walk)(struct dma_as *as, uint64_t iova, uint64_t len, dma_walk_fn fn, void *opaque);
};

struct dma_notifier {
	unsigned int events;   /* DMA_EV_* this notifier wants */
	void (*notify)(void *opaque, unsigned int event, uint64_t iova, uint64_t len);
	void *opaque;
	struct dma_notifier *next;   /* the AS's list; owned by dma.c */
};

struct dma_as {
	const struct dma_as_ops *ops;
	void *priv;                  /* the implementation's (identity: gmem) */
	pthread_mutex_t lock;        /* the notifier list */
	struct dma_notifier *notifiers;
};

/* Any implementation: fills the ops, priv, an empty notifier list. */
void dma_as_init(struct dma_as *as, const struct dma_as_ops *ops, void *priv);
/* IOVA = guest-physical over gm (which must outlive the AS); every byte of
 * guest RAM is readable and writable. */
void dma_as_identity_init(struct dma_as *as, const struct gmem *gm);
/* No notifier may still be registered. */
void dma_as_destroy(struct dma_as *as);

/* Translates [iova, iova + *len): 0 with *hva and *len (contiguous valid
 * bytes), -EFAULT, -EPERM, or -EINVAL for *len == 0. */
int dma_translate(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
		  void **hva);
/* dma_translate, and *granted: every access the mapping allows (DMA_RW
 * for an address space that cannot tell more than that access is). */
int dma_translate_granted(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
			  void **hva, unsigned int *granted);
/* ops->identity, false when the AS cannot say. */
static inline bool dma_as_is_identity(struct dma_as *as)
{
	return as->ops->identity && as->ops->identity(as);
}
/* Host address of the whole range [iova, iova + len) if it is one
 * contiguous mapping with this access (rings, indirect tables), else NULL
 * with *err set (-EFAULT, -EPERM, or -ERANGE: mapped, but not contiguous). */
void *dma_map_whole(struct dma_as *as, uint64_t iova, uint64_t len, unsigned int access,
		    int *err);

/* Copies between guest memory and a buffer, looping over translate().
 * Return 0, or the first fault (-EFAULT, -EPERM; also -EFAULT if the range
 * wraps); after a fault nothing is guaranteed about partial copies. */
int dma_read(struct dma_as *as, uint64_t iova, void *buf, size_t len);
int dma_write(struct dma_as *as, uint64_t iova, const void *buf, size_t len);

/* Notifiers: n stays the caller's and must stay registered at most once. */
void dma_notifier_register(struct dma_as *as, struct dma_notifier *n);
void dma_notifier_unregister(struct dma_as *as, struct dma_notifier *n);
/* The AS owner announces an event on [iova, iova+len) to every notifier
 * whose events include it (each compares the range with what it cached,
 * e.g. with dma_range_overlaps()). dma_as_invalidate() is DMA_EV_UNMAP. */
void dma_as_notify(struct dma_as *as, unsigned int event, uint64_t iova, uint64_t len);
static inline void dma_as_invalidate(struct dma_as *as, uint64_t iova, uint64_t len)
{
	dma_as_notify(as, DMA_EV_UNMAP, iova, len);
}

/* Whether [a, a+alen) and [b, b+blen) overlap (len UINT64_MAX: to the end),
 * for notifier callbacks comparing an event with what they cached. */
static inline uint64_t dma_range_last(uint64_t iova, uint64_t len)
{
	return len == UINT64_MAX || len - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + len - 1;
}

static inline bool dma_range_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	uint64_t a_last = dma_range_last(a, alen), b_last = dma_range_last(b, blen);

	return alen && blen && a <= b_last && b <= a_last;
}

#endif

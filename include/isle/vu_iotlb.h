/* A vhost-user back-end's device IOTLB (VIRTIO_F_ACCESS_PLATFORM): what
 * the front-end's IOMMU said about I/O virtual addresses, and a DMA address
 * space (isle/dma.h) that translates through it (lib/vu_iotlb.c).
 *
 * Entries come from VHOST_USER_IOTLB_MSG updates: [iova, iova + size) is
 * guest-physical gpa onward (the library converts the front-end's uaddr
 * through its region table before it gets here) with perm (VHOST_ACCESS_RO,
 * WO, RW). Entries never overlap: an update replaces what it overlaps,
 * except that the same range again only adds permissions. The table is
 * bounded (max entries, least recently used evicted) and sorted, so a
 * lookup is a binary search.
 *
 * A translation that misses asks the front-end (the miss callback: a
 * VHOST_USER_BACKEND_IOTLB_MSG MISS on the back-end channel) and waits for
 * the update, up to wait_ms, on any thread but the one that serves the
 * front-end's socket (vu_iotlb_set_dispatcher): that thread would wait for
 * itself, so there it fails at once (after asking). A translation that
 * still fails reports VHOST_IOTLB_ACCESS_FAIL through the same callback.
 *
 * Contract: every call is thread-safe (one mutex; the callback runs without
 * it). Host pointers a translation returned stay valid while the entry
 * does: users that cache them (virtqueue rings) must learn of
 * invalidations (the library passes them on as dma_as_invalidate on the
 * address spaces it made). Nothing the front-end sends can make an entry
 * wrap around 2^64 or point outside the guest memory it is translated with. */
#ifndef ISLE_VU_IOTLB_H
#define ISLE_VU_IOTLB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "isle/dma.h"
#include "isle/gmem.h"

#define VU_IOTLB_DEFAULT_MAX  2048
#define VU_IOTLB_WAIT_MS      2000

struct vu_iotlb_entry {
	uint64_t iova, size, gpa;
	uint64_t stamp;               /* LRU clock */
	uint8_t perm;                 /* VHOST_ACCESS_* */
};

/* Sends a MISS or ACCESS_FAIL (type) for iova with perm; 0 or -errno. */
typedef int (*vu_iotlb_send_fn)(void *opaque, uint64_t iova, uint8_t perm, uint8_t type);

struct vu_iotlb_stats {
	uint64_t hits, misses, miss_msgs, updates, invalidations, access_fails, timeouts;
	uint64_t waits, wait_ns;      /* misses waited for, and how long in all */
};

struct vu_iotlb {
	pthread_mutex_t lock;
	pthread_cond_t cond;          /* an update arrived */
	struct vu_iotlb_entry *e;     /* sorted by iova, n in use */
	unsigned int n, max;
	uint64_t clock, gen;
	unsigned int wait_ms;
	vu_iotlb_send_fn send;
	void *send_opaque;
	pthread_t dispatcher;
	bool has_dispatcher;
	uint64_t last_miss_page, last_miss_at;   /* collapses repeated misses */
	uint8_t last_miss_perm;
	struct vu_iotlb_stats st;
};

int vu_iotlb_init(struct vu_iotlb *t, unsigned int max, unsigned int wait_ms,
		  vu_iotlb_send_fn send, void *opaque);
void vu_iotlb_destroy(struct vu_iotlb *t);
/* The thread that handles the front-end's messages never waits. */
void vu_iotlb_set_dispatcher(struct vu_iotlb *t, pthread_t thread);

/* Adds [iova, iova + size) -> gpa with perm. -EINVAL for size 0, a range
 * that wraps, or perm not RO/WO/RW. */
int vu_iotlb_update(struct vu_iotlb *t, uint64_t iova, uint64_t size, uint64_t gpa,
		    uint8_t perm);
/* Drops every entry overlapping [iova, iova + size) (size UINT64_MAX or a
 * range past 2^64: to the end). */
void vu_iotlb_invalidate(struct vu_iotlb *t, uint64_t iova, uint64_t size);
void vu_iotlb_flush(struct vu_iotlb *t);
/* Looks iova up without asking: 0 with *gpa and *len (≤ the request, up to
 * the entry's end), -ENOENT (no entry) or -EPERM (an entry without
 * access). */
int vu_iotlb_lookup(struct vu_iotlb *t, uint64_t iova, uint64_t *len, unsigned int access,
		    uint64_t *gpa);
void vu_iotlb_get_stats(struct vu_iotlb *t, struct vu_iotlb_stats *st);

/* A DMA address space translating through t, then gm (which must outlive
 * it, and which the caller keeps current: a queue thread's own copy). */
struct vu_iotlb_as {
	struct dma_as as;
	struct vu_iotlb *t;
	const struct gmem *gm;
};
void vu_iotlb_as_init(struct vu_iotlb_as *a, struct vu_iotlb *t, const struct gmem *gm);
void vu_iotlb_as_destroy(struct vu_iotlb_as *a);

#endif

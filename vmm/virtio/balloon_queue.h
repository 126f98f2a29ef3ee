/* What a virtio-balloon device does with the buffers its queues bring
 * (vmm/virtio/balloon_queue.c), apart from any VM, thread or transport, so
 * the unit tests and the fuzzer drive it with plain memory.
 *
 * Contract:
 *  - Buffers come from vq_pop(): their iovecs already lie in guest RAM. The
 *    PFNs inside an inflate or deflate buffer do not: each is checked
 *    against the guest memory map; one that is not RAM is ignored and
 *    counted (bad_pfns), never an error of the queue.
 *  - A buffer counts for at most BQ_BUF_PFNS PFNs; the rest is counted bad
 *    unread, so one buffer's work is bounded whatever lengths the guest
 *    claims (Linux sends 256 PFNs a buffer, the test guest 4096).
 *  - Inflated PFNs are sorted and merged into runs of contiguous pages, and
 *    each run goes to discard() whole (cut only where RAM regions meet): a
 *    1 GiB inflation in 4096-PFN buffers costs a few hundred calls, not
 *    262,144.
 *  - discard() is the device's: it returns how many bytes of the run the
 *    policy kept (0: all went back to the host; an assigned device may pin
 *    all of it or some pages), or -errno (counted, the guest is not told:
 *    the pages stay allocated).
 *  - The statistics buffer is parsed into values[] by tag; unknown tags and
 *    a trailing partial entry are ignored.
 *  - Single-threaded: the device's lock covers it. */
#ifndef ISLE_VMM_BALLOON_QUEUE_H
#define ISLE_VMM_BALLOON_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "isle/gmem.h"
#include "isle/virtq.h"

#define BQ_PAGE_SHIFT    12            /* VIRTIO_BALLOON_PFN_SHIFT */
#define BQ_PAGE_SIZE     (1u << BQ_PAGE_SHIFT)
#define BQ_CHUNK_PFNS    4096          /* PFNs sorted and merged at a time */
#define BQ_BUF_PFNS      65536         /* PFNs read from one buffer (256 MiB) */
#define BQ_STATS_TAGS    16            /* Linux 6.12's tags 0-15 */
#define BQ_STATS_MAX     64            /* entries read from one buffer */

struct bq_counters {
	uint64_t inflated;        /* pages given back to the host */
	uint64_t deflated;        /* pages the guest took back */
	uint64_t kept;            /* inflated or reported pages the policy kept */
	uint64_t reported;        /* free pages reported and given back */
	uint64_t bad_pfns;        /* PFNs (or reported ranges' pages) outside RAM */
	uint64_t discard_calls;   /* runs given to discard() */
	uint64_t discard_errors;
	uint64_t stats_updates;
	uint64_t stats_unknown;   /* entries with a tag above BQ_STATS_TAGS - 1 */
};

struct bq_stats {
	uint64_t value[BQ_STATS_TAGS];
	uint32_t valid;           /* bit per tag the guest sent */
	uint64_t when_ns;         /* CLOCK_MONOTONIC of the last update; 0: never */
};

struct bq {
	const struct gmem *gm;
	int64_t (*discard)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
	struct bq_counters c;
	struct bq_stats st;
	uint32_t pfns[BQ_CHUNK_PFNS];  /* scratch */
};

/* An inflate buffer: every PFN given back, or kept, or counted bad. */
void bq_inflate(struct bq *b, const struct vq_elem *e);
/* A deflate buffer: the pages are the guest's again (they read zero if
 * they were given back); only counted. */
void bq_deflate(struct bq *b, const struct vq_elem *e);
/* A statistics buffer, at now_ns. */
void bq_stats_update(struct bq *b, const struct vq_elem *e, uint64_t now_ns);
/* A free page report: every device-writable buffer is a free range. */
void bq_report(struct bq *b, const struct vq_elem *e);

/* Linux's name of a statistics tag (Firecracker's JSON names), or NULL. */
const char *bq_stat_name(unsigned int tag);

#endif

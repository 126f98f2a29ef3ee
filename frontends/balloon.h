/* virtio-balloon driver (the guest side of memory ballooning), freestanding:
 * polled, no interrupts. Symbols are balloonfe_* ("balloon frontend"):
 * isle's device model has balloon_* in the same link of the unit tests.
 *
 * Contract:
 *  - The caller supplies the transport environment (virtio_pci.h), DMA
 *    memory of at least BALLOONFE_DMA_BYTES (16-byte aligned, physically
 *    contiguous, device-visible: the rings, the PFN buffer, the stats
 *    buffer) and private memory of at least BALLOONFE_PRIV_BYTES.
 *  - Features: VERSION_1, and STATS_VQ, DEFLATE_ON_OOM, REPORTING when both
 *    the device offers them and opts asks (default: all three). Never
 *    FREE_PAGE_HINT (no migration helper here) nor PAGE_POISON (we poison
 *    nothing). MUST_TELL_HOST is not asked: we tell the host before reusing
 *    a page anyway (deflate waits for the buffer to be used).
 *  - Queue indices are compacted from the NEGOTIATED features: inflate 0,
 *    deflate 1, then stats, free-page hint, reporting, each only if its
 *    feature was negotiated; an absent queue takes no index
 *    (balloonfe_queue_index()).
 *  - Pages are 4 KiB (VIRTIO_BALLOON_PFN_SHIFT), named by 32-bit PFNs. The
 *    caller owns the choice of pages and must not touch a page while it is
 *    in the balloon. balloonfe_inflate()/_deflate() send the PFNs in
 *    buffers of at most `batch`, up to `depth` of them in flight (1, as
 *    Linux, by default; more keeps the device busy while the driver waits
 *    for one and fills the next), and as each one is used update and write
 *    `actual` (config offset 4; the driver owns it). They return once all
 *    are used, in whatever order the device uses them.
 *    num_pages (offset 0) is the host's target: balloonfe_target().
 *  - Stats: with STATS_VQ and a callback, one buffer of (le16 tag, le64
 *    value) entries (10 bytes each, packed) is given to the device after
 *    DRIVER_OK; each time the device gives it back (its request for fresh
 *    numbers) it is refilled from the callback and given again.
 *    balloonfe_poll() does that; every wait inside the driver does too, so
 *    requests are answered during a long inflate.
 *  - Free page reporting: balloonfe_report() sends one chain of
 *    device-WRITABLE buffers (as Linux's virtqueue_add_inbuf), each a free
 *    range, and waits for it to be used.
 *  - The device is untrusted: used ids, lengths and index steps are
 *    checked by virtq_driver (any writable length on an out-only buffer is
 *    a violation), config values are only ever numbers we compare. A broken
 *    ring or a timeout makes the driver "broken": everything returns -EIO
 *    until balloonfe_init() (the device may still own our buffers; with
 *    depth > 1 which of them it used is unknown, so re-initializing, which
 *    writes actual = 0, is the only way back).
 *  - Functions return 0 (balloonfe_poll: requests answered) or -errno:
 *    -EINVAL bad arguments, -EOPNOTSUPP feature not negotiated,
 *    -ETIMEDOUT, -EIO; b->error names the driver-detected problem. */
#ifndef FRONTENDS_BALLOON_H
#define FRONTENDS_BALLOON_H

#include <linux/virtio_balloon.h>

#include "virtio_pci.h"
#include "virtq_driver.h"

/* Stat tags added in Linux 6.12; older UAPI headers stop at 9. */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL       10
#endif
#ifndef VIRTIO_BALLOON_S_ALLOC_STALL
#define VIRTIO_BALLOON_S_ALLOC_STALL    11
#endif
#ifndef VIRTIO_BALLOON_S_ASYNC_SCAN
#define VIRTIO_BALLOON_S_ASYNC_SCAN     12
#endif
#ifndef VIRTIO_BALLOON_S_DIRECT_SCAN
#define VIRTIO_BALLOON_S_DIRECT_SCAN    13
#endif
#ifndef VIRTIO_BALLOON_S_ASYNC_RECLAIM
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM  14
#endif
#ifndef VIRTIO_BALLOON_S_DIRECT_RECLAIM
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM 15
#endif

#define BALLOONFE_DEVICE_ID    (VPCI_MODERN_BASE + 5)   /* 1af4:1045 */
#define BALLOONFE_PAGE         (1u << VIRTIO_BALLOON_PFN_SHIFT)
#define BALLOONFE_QUEUE_MAX    32u       /* QEMU's reporting queue size */
#define BALLOONFE_BATCH        256u      /* Linux's PFNs per buffer */
#define BALLOONFE_BATCH_MAX    4096u     /* 16 MiB per buffer: 1 GiB in 64 */
#define BALLOONFE_DEPTH_MAX    4u        /* PFN buffers in flight */
#define BALLOONFE_STATS_MAX    16u       /* tags 0..15 */
#define BALLOONFE_STAT_BYTES   10u       /* le16 tag + le64 value, packed */
#define BALLOONFE_TIMEOUT_US   10000000ull

/* Roles of the queues; the device index of each is balloonfe_queue_index(). */
enum balloonfe_vq {
	BALLOONFE_VQ_INFLATE,
	BALLOONFE_VQ_DEFLATE,
	BALLOONFE_VQ_STATS,
	BALLOONFE_VQ_HINT,        /* never used by this driver; indexed for the layout */
	BALLOONFE_VQ_REPORT,
	BALLOONFE_VQ_NR,
};

/* Upper bounds for four queues of BALLOONFE_QUEUE_MAX (8 KiB), the PFN
 * buffers, the stats buffer and alignment. */
#define BALLOONFE_DMA_BYTES    (8 * 1024 + BALLOONFE_DEPTH_MAX * BALLOONFE_BATCH_MAX * 4)
#define BALLOONFE_PRIV_BYTES   (4 * 1024)

/* Features the driver may ask for (VERSION_1 is always asked). EVENT_IDX is
 * harmless for a polled driver and what Linux negotiates. */
#define BALLOONFE_FEATURES                                                  \
	(1ull << VIRTIO_BALLOON_F_STATS_VQ |                                 \
	 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM |                           \
	 1ull << VIRTIO_BALLOON_F_REPORTING |                                \
	 1ull << VIRTIO_RING_F_EVENT_IDX)

_Static_assert(sizeof(struct virtio_balloon_stat) == BALLOONFE_STAT_BYTES,
	       "stats entries are packed to 10 bytes");

struct balloonfe_stat {
	uint16_t tag;
	uint64_t val;
};

/* Fills up to max entries with fresh values; returns how many. */
typedef unsigned int (*balloonfe_stats_fn)(void *ctx, struct balloonfe_stat *out,
					   unsigned int max);

struct balloonfe_opts {
	uint64_t features;          /* subset of BALLOONFE_FEATURES to ask for */
	unsigned int queue_max;     /* cap on queue sizes (<= BALLOONFE_QUEUE_MAX) */
	unsigned int batch;         /* PFNs per buffer (<= BALLOONFE_BATCH_MAX) */
	unsigned int depth;         /* PFN buffers in flight (<= BALLOONFE_DEPTH_MAX; 0: 1) */
	uint64_t timeout_us;        /* per buffer */
	balloonfe_stats_fn stats_fn;   /* NULL: the stats queue stays unused */
	void *stats_ctx;
};

struct balloonfe {
	struct vpci_dev pci;
	uint64_t features;                    /* negotiated */
	struct vqd vq[BALLOONFE_VQ_NR];       /* num 0: queue not in use */
	int qidx[BALLOONFE_VQ_NR];            /* device index, -1 if absent */
	uint64_t notify[BALLOONFE_VQ_NR];
	uint32_t *pfns;                       /* DMA: depth buffers of batch PFNs */
	struct virtio_balloon_stat *stats;    /* DMA: BALLOONFE_STATS_MAX entries */
	unsigned int batch, depth;
	uint64_t timeout_us;
	balloonfe_stats_fn stats_fn;
	void *stats_ctx;
	bool stats_out;                       /* the device holds the stats buffer */
	unsigned int stats_n;                 /* entries in it, as last filled */
	uint32_t actual;                      /* pages in the balloon, as written */
	bool broken;
	const char *error;                    /* last driver-detected problem */
	/* Figures. */
	uint64_t inflated, deflated;          /* pages, cumulative */
	uint64_t buffers, stats_requests, reports, actual_writes;
};

static inline bool balloonfe_has(const struct balloonfe *b, unsigned int bit)
{
	return b->features & (1ull << bit);
}

/* Device index of queue `role` for negotiated `features`, -1 if absent. */
int balloonfe_queue_index(uint64_t features, enum balloonfe_vq role);

/* Probes, resets and configures the device, sets up its queues, sets
 * DRIVER_OK, writes actual = 0 (the balloon starts empty) and gives the
 * stats buffer. opts may be NULL (all features, the largest queues,
 * BALLOONFE_BATCH, BALLOONFE_TIMEOUT_US, no stats). 0 or -errno with
 * b->error set. */
int balloonfe_init(struct balloonfe *b, const struct vpci_env *env,
		   const struct balloonfe_opts *opts, void *dma, size_t dma_len,
		   void *priv, size_t priv_len);

/* Resets the device (stops all DMA into our memory). */
int balloonfe_reset(struct balloonfe *b);

/* The host's target (num_pages), read until config_generation is stable. */
int balloonfe_target(struct balloonfe *b, uint32_t *pages);

/* Gives n pages to the host / takes n back (n > 0, any count: split into
 * buffers of `batch`, `depth` in flight). actual moves as each buffer is
 * used; deflating more than actual is -EINVAL. */
int balloonfe_inflate(struct balloonfe *b, const uint32_t *pfns, unsigned int n);
int balloonfe_deflate(struct balloonfe *b, const uint32_t *pfns, unsigned int n);

/* Answers a pending stats request, if any: 1 answered, 0 none, -errno. */
int balloonfe_poll(struct balloonfe *b);

/* Reports n free ranges (buf = start, len = size, each > 0) in one chain
 * of device-writable buffers; n <= the reporting queue's size. */
int balloonfe_report(struct balloonfe *b, const struct vqd_sg *ranges, unsigned int n);

#endif

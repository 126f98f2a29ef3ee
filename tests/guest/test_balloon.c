/* Scenarios "balloon" and "balloon-idle": frontends/balloon.c against the
 * first modern virtio-balloon PCI function (1af4:1045) — QEMU's
 * virtio-balloon-pci (the reference) or isle's. Polled throughout.
 *
 * The page pool is the RAM of the PVH memory map above the guest image
 * (identity mapped: crt0.S below 4 GiB, paging_map() above). Its first
 * 16 MiB are the "keep" area, filled with a pattern and never ballooned;
 * the balloon takes the remaining pages in pool order and gives them back
 * last-in first-out. Every stats request is answered (MEMTOT = RAM in the
 * map, MEMFREE = AVAIL = pool bytes outside the balloon, tags 10..15 = 1..6,
 * the rest 0).
 *
 * "balloon": the target is polled every 10 ms, each phase bounded by
 * balloon_wait=SECONDS (default 120). Phase 1 waits for a target above 0
 * and follows it (a word is written into each page before it goes, so the
 * host really has it to take back); phase 2 follows every change until the
 * target is 0 again. Then the deflated pages must read all zero (only with
 * balloon_zero=1: isle documents zero-fill, QEMU's MADV_DONTNEED gives it
 * too), take a pattern back, and the keep area must be intact. With
 * REPORTING, 64 MiB of the pool are reported in 4 MiB buffers. With
 * balloon_stats=1 the host must have asked for stats at least once.
 * "balloon-idle": the same bring-up, a write into every pool page, then it
 * follows the target forever (the host ends the VM); balloon_rogue=N first
 * inflates N pages whatever the target (prints "# balloon: rogue inflate of
 * N pages"), as a misbehaving driver would.
 *
 * Console protocol (for host harnesses; exact):
 *   # balloon: features stats=S deflate_on_oom=D reporting=R
 *   # balloon: at target N pages in T ms (phase P ms)
 *       N = actual; printed each time actual reaches a new target (capped
 *       at the pool size); T counts from the target's change, P from the
 *       phase's start
 *   # balloon: stats requests answered: K
 *   # balloon-idle: ready
 * No device: skip (exit 77). */
#include "balloon.h"

#include "virtio_glue.h"

#define PAGE          ((uint64_t)4096)
#define KEEP_BYTES    ((uint64_t)16 << 20)
#define POLL_US       ((uint64_t)10000)
#define REPORT_BYTES  ((uint64_t)64 << 20)
#define REPORT_CHUNK  ((uint64_t)4 << 20)
#define REPORT_N      (REPORT_BYTES / REPORT_CHUNK)
#define POOL_RANGES   BOOT_MEMMAP_MAX
#define PFN_LIMIT     ((uint64_t)1 << 32)           /* PFNs are 32-bit */
#define MEMMAP_RAM    1
#define NONE          UINT32_MAX

struct pool_range {
	uint64_t pfn, pages;
};

static struct {
	struct pool_range r[POOL_RANGES];
	unsigned int nr;
	uint64_t pages;            /* balloonable: the ranges, keep excluded */
	uint64_t keep;             /* address of the keep area */
	uint64_t ram;              /* bytes of RAM in the memory map */
} pool;

static struct balloonfe bl;
static struct virtio_glue glue;
static uint8_t bl_dma[BALLOONFE_DMA_BYTES] __attribute__((aligned(4096)));
static uint8_t bl_priv[BALLOONFE_PRIV_BYTES] __attribute__((aligned(16)));
static uint32_t batch[BALLOONFE_BATCH_MAX * BALLOONFE_DEPTH_MAX];
static uint32_t announced;         /* the last target reached and printed */
static uint64_t touched;           /* pages [0, touched) were in the balloon */

static uint64_t pattern(uint64_t pfn, unsigned int k)
{
	return (pfn * 0x9e3779b97f4a7c15ull) ^ (0x5a5aa5a5c3c33c3cull + k);
}

static volatile uint64_t *page_at(uint64_t pfn)
{
	return phys_ptr(pfn * PAGE);
}

/* RAM above the image, page-aligned, mapped; the keep area carved off the
 * first range that holds it. */
static bool pool_build(void)
{
	uint64_t low = ALIGN_UP((uint64_t)(uintptr_t)__image_end, (uint64_t)2 << 20);

	for (uint32_t i = 0; i < boot.memmap_nr; i++) {
		const struct hvm_memmap_table_entry *e = &boot.memmap[i];
		uint64_t start = ALIGN_UP(MAX(e->addr, low), PAGE);
		uint64_t end = ALIGN_DOWN(MIN(e->addr + e->size, PFN_LIMIT * PAGE), PAGE);

		if (e->type != MEMMAP_RAM)
			continue;
		pool.ram += e->size;
		if (end <= start || pool.nr == POOL_RANGES)
			continue;
		if (!paging_map(start, end - start)) {
			report_info("RAM %lx-%lx cannot be mapped; left out", start, end);
			continue;
		}
		pool.r[pool.nr++] = (struct pool_range){ start / PAGE, (end - start) / PAGE };
	}
	for (unsigned int i = 0; i < pool.nr; i++) {
		if (pool.r[i].pages * PAGE >= KEEP_BYTES * 2) {
			pool.keep = pool.r[i].pfn * PAGE;
			pool.r[i].pfn += KEEP_BYTES / PAGE;
			pool.r[i].pages -= KEEP_BYTES / PAGE;
			break;
		}
	}
	for (unsigned int i = 0; i < pool.nr; i++)
		pool.pages += pool.r[i].pages;
	report_info("pool %lu pages (%lu MiB) in %u ranges above %lx, keep 16 MiB at %lx, "
		    "RAM %lu MiB", pool.pages, pool.pages * PAGE >> 20, pool.nr, low, pool.keep,
		    pool.ram >> 20);
	return pool.keep != 0;
}

/* PFNs of pool pages [first, first + n). */
static void pool_pfns(uint64_t first, unsigned int n, uint32_t *out)
{
	unsigned int i = 0;

	for (unsigned int r = 0; r < pool.nr && i < n; r++) {
		if (first >= pool.r[r].pages) {
			first -= pool.r[r].pages;
			continue;
		}
		for (uint64_t p = first; p < pool.r[r].pages && i < n; p++)
			out[i++] = (uint32_t)(pool.r[r].pfn + p);
		first = 0;
	}
}

static void keep_fill(void)
{
	volatile uint64_t *w = phys_ptr(pool.keep);

	for (uint64_t i = 0; i < KEEP_BYTES / 8; i++)
		w[i] = pattern(i, 7);
}

static bool keep_intact(void)
{
	volatile uint64_t *w = phys_ptr(pool.keep);

	for (uint64_t i = 0; i < KEEP_BYTES / 8; i++) {
		if (w[i] != pattern(i, 7)) {
			report_info("keep area differs at %lx", pool.keep + i * 8);
			return false;
		}
	}
	return true;
}

static unsigned int stats_fill(void *ctx, struct balloonfe_stat *out, unsigned int max)
{
	uint64_t total = pool.pages * PAGE + KEEP_BYTES;
	uint64_t free = total - (uint64_t)bl.actual * PAGE;
	unsigned int n = 0;

	for (uint16_t tag = 0; tag < BALLOONFE_STATS_MAX && n < max; tag++) {
		uint64_t v = 0;

		if (tag == VIRTIO_BALLOON_S_MEMTOT)
			v = pool.ram;
		else if (tag == VIRTIO_BALLOON_S_MEMFREE || tag == VIRTIO_BALLOON_S_AVAIL)
			v = free;
		else if (tag >= VIRTIO_BALLOON_S_OOM_KILL)
			v = tag - VIRTIO_BALLOON_S_OOM_KILL + 1u;
		out[n++] = (struct balloonfe_stat){ tag, v };
	}
	return n;
}

/* Waits about POLL_US, halted (the host's CPU is spared), answering stats. */
static bool balloon_pause(void)
{
	if (balloonfe_poll(&bl) < 0)
		return false;
	irq_idle_us(POLL_US);
	return balloonfe_poll(&bl) >= 0;
}

/* Up to a full pipeline of buffers towards want: inflate (after a write
 * into each page) or deflate the top of the balloon. */
static int balloon_step(uint32_t want)
{
	uint32_t actual = bl.actual;
	unsigned int n;

	if (want > actual) {
		n = MIN(want - actual, (uint32_t)ARRAY_SIZE(batch));
		pool_pfns(actual, n, batch);
		for (unsigned int i = 0; i < n; i++)
			page_at(batch[i])[0] = pattern(batch[i], 0);
		touched = MAX(touched, (uint64_t)actual + n);
		return balloonfe_inflate(&bl, batch, n);
	}
	n = MIN(actual - want, (uint32_t)ARRAY_SIZE(batch));
	pool_pfns(actual - n, n, batch);
	return balloonfe_deflate(&bl, batch, n);
}

/* Follows the host's target until the balloon holds `goal`-satisfying
 * target (forever if wait_us is 0). False on a driver error or timeout,
 * reported. */
static bool balloon_follow(bool (*goal)(uint32_t target), uint64_t wait_us, const char *what)
{
	uint64_t t0 = timer_elapsed_us(0), changed = t0;
	uint32_t last = NONE, target;

	for (;;) {
		uint64_t now = timer_elapsed_us(0);
		uint32_t want;

		if (balloonfe_target(&bl, &target))
			return report(false, "%s: reading num_pages: %s", what, bl.error);
		if (target != last) {
			if (target > pool.pages)
				report_info("target %u pages exceeds the pool; holding %lu", target,
					    pool.pages);
			last = target;
			changed = now;
		}
		want = (uint32_t)MIN((uint64_t)target, pool.pages);
		if (bl.actual != want) {
			if (balloon_step(want))
				return report(false, "%s: towards %u pages: %s", what, want,
					      bl.error ? bl.error : "driver error");
			continue;       /* re-read the target between buffers */
		}
		if (want != announced) {
			printf("# balloon: at target %u pages in %lu ms (phase %lu ms)\n",
			       bl.actual, (now - changed) / 1000, (now - t0) / 1000);
			announced = want;
		}
		if (goal && goal(target))
			return true;
		if (wait_us && now - t0 > wait_us)
			return report(false, "%s: no such target within %lu s (target %u, actual %u)",
				      what, wait_us / 1000000, target, bl.actual);
		if (!balloon_pause())
			return report(false, "%s: stats: %s", what, bl.error);
	}
}

static bool goal_inflated(uint32_t target)
{
	return target > 0;
}

static bool goal_empty(uint32_t target)
{
	return target == 0 && bl.actual == 0;
}

/* Finds and starts the balloon; false (reported or skipped) if there is
 * none or it fails. */
static bool balloon_up(void)
{
	struct balloonfe_opts o = {
		.features = BALLOONFE_FEATURES, .batch = BALLOONFE_BATCH_MAX,
		.depth = BALLOONFE_DEPTH_MAX, .stats_fn = stats_fill,
	};
	int bdf, r;

	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	bdf = pci_find(VPCI_VENDOR, BALLOONFE_DEVICE_ID);
	if (bdf < 0) {
		report_skip("no modern virtio-balloon 1af4:1045 (QEMU: disable-legacy=on)");
		return false;
	}
	if (!pool_build()) {
		report(false, "no RAM range of 32 MiB above the image for a pool");
		return false;
	}
	virtio_glue_init(&glue, (uint16_t)bdf);
	r = balloonfe_init(&bl, &glue.env, &o, bl_dma, sizeof(bl_dma), bl_priv, sizeof(bl_priv));
	if (!report(r == 0, "bring-up at %02x:%02x.%x", PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf))) {
		report_info("balloonfe_init: %d (%s)", r, bl.error ? bl.error : "?");
		return false;
	}
	printf("# balloon: features stats=%d deflate_on_oom=%d reporting=%d\n",
	       balloonfe_has(&bl, VIRTIO_BALLOON_F_STATS_VQ),
	       balloonfe_has(&bl, VIRTIO_BALLOON_F_DEFLATE_ON_OOM),
	       balloonfe_has(&bl, VIRTIO_BALLOON_F_REPORTING));
	return true;
}

/* The pages that were in the balloon: zero (if asked), then usable. */
static void check_deflated(bool zero)
{
	uint64_t nonzero = 0, bad = 0, t0 = timer_elapsed_us(0);

	for (uint64_t i = 0; i < touched; i += BALLOONFE_BATCH_MAX) {
		unsigned int n = (unsigned int)MIN(touched - i, (uint64_t)BALLOONFE_BATCH_MAX);

		/* Seconds of work under TCG: keep answering the host. */
		balloonfe_poll(&bl);
		pool_pfns(i, n, batch);
		for (unsigned int j = 0; j < n; j++) {
			volatile uint64_t *w = page_at(batch[j]);
			uint64_t acc = 0;

			if (zero) {
				for (unsigned int k = 0; k < PAGE / 8; k++)
					acc |= w[k];
				nonzero += acc != 0;
			}
			w[0] = pattern(batch[j], 1);
			w[PAGE / 16] = pattern(batch[j], 2);
			w[PAGE / 8 - 1] = pattern(batch[j], 3);
			bad += w[0] != pattern(batch[j], 1) || w[PAGE / 16] != pattern(batch[j], 2) ||
			       w[PAGE / 8 - 1] != pattern(batch[j], 3);
		}
	}
	if (zero)
		report(nonzero == 0, "deflated pages come back zero-filled (%lu of %lu not)",
		       nonzero, touched);
	report(bad == 0 && touched, "deflated pages usable again (%lu pages, %lu ms)", touched,
	       (timer_elapsed_us(0) - t0) / 1000);
}

static void check_reporting(void)
{
	struct vqd_sg sg[REPORT_N];
	uint64_t t0;
	int r;

	if (!balloonfe_has(&bl, VIRTIO_BALLOON_F_REPORTING)) {
		report_skip("free page reporting: not offered");
		return;
	}
	/* The bottom of the pool: out of the balloon now, and contiguous if
	 * the first range is large enough. */
	if (bl.actual || pool.r[0].pages * PAGE < REPORT_BYTES) {
		report_skip("free page reporting: no free 64 MiB at the pool's start");
		return;
	}
	for (unsigned int i = 0; i < REPORT_N; i++)
		sg[i] = (struct vqd_sg){ phys_ptr(pool.r[0].pfn * PAGE + i * REPORT_CHUNK),
					 (uint32_t)REPORT_CHUNK };
	t0 = timer_elapsed_us(0);
	r = balloonfe_report(&bl, sg, REPORT_N);
	report(r == 0, "free page report of 64 MiB in %u buffers used by the device (%lu ms)",
	       (unsigned int)REPORT_N, (timer_elapsed_us(0) - t0) / 1000);
	if (r)
		report_info("balloonfe_report: %d (%s)", r, bl.error ? bl.error : "?");
}

/* main.c's scenario table declares them too. */
void test_balloon_run(void);
void test_balloon_idle_run(void);

void test_balloon_run(void)
{
	uint64_t wait_us = cmdline_get_u64("balloon_wait", 120) * 1000000;
	bool zero = cmdline_get_u64("balloon_zero", 0) != 0;
	bool stats = cmdline_get_u64("balloon_stats", 0) != 0;
	bool inflated;

	report_prefix_push("balloon");
	if (!balloon_up())
		goto out;
	keep_fill();
	inflated = balloon_follow(goal_inflated, wait_us, "inflate");
	if (inflated)
		report(bl.actual > 0, "inflated to %u pages", bl.actual);
	if (balloon_follow(goal_empty, wait_us, "deflate") && inflated)
		check_deflated(zero);
	report(keep_intact(), "keep area intact");
	check_reporting();
	printf("# balloon: stats requests answered: %lu\n", bl.stats_requests);
	if (stats)
		report(bl.stats_requests > 0, "stats requests answered: %lu", bl.stats_requests);
	balloonfe_reset(&bl);
out:
	report_prefix_pop();
}

void test_balloon_idle_run(void)
{
	uint64_t t0;

	report_prefix_push("balloon");
	if (!balloon_up())
		goto out;
	t0 = timer_elapsed_us(0);
	for (uint64_t i = 0; i < pool.pages; i += BALLOONFE_BATCH_MAX) {
		unsigned int n = (unsigned int)MIN(pool.pages - i, (uint64_t)BALLOONFE_BATCH_MAX);

		pool_pfns(i, n, batch);
		for (unsigned int j = 0; j < n; j++)
			page_at(batch[j])[0] = pattern(batch[j], 0);
		balloonfe_poll(&bl);
	}
	report_info("touched %lu pages in %lu ms", pool.pages,
		    (timer_elapsed_us(0) - t0) / 1000);
	printf("# balloon-idle: ready\n");
	/* balloon_rogue=N: a driver that inflates N pages nobody asked for
	 * (the host's policy must keep them when it refuses to take any). */
	for (uint32_t rogue = (uint32_t)MIN(cmdline_get_u64("balloon_rogue", 0), pool.pages);
	     bl.actual < rogue; )
		if (balloon_step(rogue))
			goto out;
	if (bl.actual) {
		printf("# balloon: rogue inflate of %u pages\n", bl.actual);
		announced = NONE;   /* so the way back to the target is announced */
	}
	/* Returns only on a driver error, already reported. */
	balloon_follow(NULL, 0, "serve");
	balloonfe_reset(&bl);
out:
	report_prefix_pop();
}

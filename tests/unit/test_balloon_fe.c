/* Unit tests for frontends/balloon.c (the virtio-balloon driver; named
 * balloon_fe because isle's device model owns test_balloon), hosted,
 * against the simulated balloon in fake_virtio_balloon.c, which serves the
 * queues with isle's device-side virtqueue and maps queue indices to roles
 * on its own. Covered: the compacted queue indices for every feature
 * combination (by formula and on the device), what is negotiated, PFN
 * arrays on the wire (le32, batches), `actual` written only after the
 * device used a buffer, the stats buffer's packed layout and its refill on
 * every request, free page reporting chains (device-writable), and a
 * hostile device: bad used ids and lengths, buffers never used, missing
 * queues, a short config, an unsettled config generation. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "fake_virtio_balloon.h"

#define F(bit)       (1ull << (bit))
#define ALL_OFFERED  (F(VIRTIO_BALLOON_F_MUST_TELL_HOST) | F(VIRTIO_BALLOON_F_STATS_VQ) | \
		      F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |                           \
		      F(VIRTIO_BALLOON_F_FREE_PAGE_HINT) | F(VIRTIO_BALLOON_F_PAGE_POISON) | \
		      F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_RING_F_EVENT_IDX))

static struct balloonfe b;
static unsigned int stats_calls;
static bool stats_broken;       /* stats_fill fails (gives nothing) */

/* Tags 0..15, values that change with every call. */
static unsigned int stats_fill(void *ctx, struct balloonfe_stat *out, unsigned int max)
{
	unsigned int n = MIN(max, (unsigned int)BALLOONFE_STATS_MAX);

	if (stats_broken)
		return 0;
	stats_calls++;
	for (unsigned int i = 0; i < n; i++)
		out[i] = (struct balloonfe_stat){ (uint16_t)i,
			0x0102030405060700ull + i + 0x100000ull * stats_calls };
	return n;
}

static unsigned int stats_none(void *ctx, struct balloonfe_stat *out, unsigned int max)
{
	return 0;
}

static int open_with(const struct balloonfe_opts *o)
{
	return balloonfe_init(&b, &fake_env, o, fake_ram, BALLOONFE_DMA_BYTES, fake_priv,
			      BALLOONFE_PRIV_BYTES);
}

static int open_default(unsigned int batch, uint64_t timeout_us)
{
	struct balloonfe_opts o = {
		.features = BALLOONFE_FEATURES, .batch = batch, .timeout_us = timeout_us,
		.stats_fn = stats_fill,
	};

	stats_calls = 0;
	return open_with(&o);
}

/* ---- tests ------------------------------------------------------------ */

static void test_queue_index(void)
{
	for (unsigned int m = 0; m < 64; m++) {
		/* Bits 1 (stats), 3 (hint), 5 (reporting) and bystanders. */
		uint64_t f = (m & 1 ? F(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
			     (m & 2 ? F(VIRTIO_BALLOON_F_FREE_PAGE_HINT) : 0) |
			     (m & 4 ? F(VIRTIO_BALLOON_F_REPORTING) : 0) |
			     (m & 8 ? F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) : 0) |
			     (m & 16 ? F(VIRTIO_BALLOON_F_PAGE_POISON) : 0) |
			     (m & 32 ? F(VIRTIO_F_VERSION_1) | F(VIRTIO_BALLOON_F_MUST_TELL_HOST) : 0);
		int s = !!(m & 1), h = !!(m & 2), r = !!(m & 4);

		CU_ASSERT_EQUAL(balloonfe_queue_index(f, BALLOONFE_VQ_INFLATE), 0);
		CU_ASSERT_EQUAL(balloonfe_queue_index(f, BALLOONFE_VQ_DEFLATE), 1);
		CU_ASSERT_EQUAL(balloonfe_queue_index(f, BALLOONFE_VQ_STATS), s ? 2 : -1);
		CU_ASSERT_EQUAL(balloonfe_queue_index(f, BALLOONFE_VQ_HINT), h ? 2 + s : -1);
		CU_ASSERT_EQUAL(balloonfe_queue_index(f, BALLOONFE_VQ_REPORT), r ? 2 + s + h : -1);
	}
	CU_ASSERT_EQUAL(balloonfe_queue_index(~0ull, BALLOONFE_VQ_NR), -1);
}

static void test_init(void)
{
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	CU_ASSERT_PTR_NULL(b.error);
	/* Never HINT, POISON or MUST_TELL_HOST, whatever is offered. */
	CU_ASSERT_EQUAL(fk.vp.driver, F(VIRTIO_F_VERSION_1) | F(VIRTIO_BALLOON_F_STATS_VQ) |
			F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | F(VIRTIO_BALLOON_F_REPORTING) |
			F(VIRTIO_RING_F_EVENT_IDX));
	CU_ASSERT_EQUAL(b.features, fk.vp.driver);
	CU_ASSERT_EQUAL(fk.vp.status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	/* The hint queue is offered but not negotiated: reporting moves up. */
	CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_REPORT), 3);
	CU_ASSERT_FALSE(fk.vp.q[4].enable);
	CU_ASSERT_EQUAL(b.vq[BALLOONFE_VQ_REPORT].num, 32);
	CU_ASSERT_EQUAL(b.vq[BALLOONFE_VQ_INFLATE].num, BALLOONFE_QUEUE_MAX);
	/* The balloon starts empty, said after DRIVER_OK; stats given once. */
	CU_ASSERT_EQUAL(fk.actual_writes, 1);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);
	CU_ASSERT_EQUAL(fk.stats_bufs, 1);
	CU_ASSERT_TRUE(fk.stats_held);
	CU_ASSERT_EQUAL(fk.early_notifies + fk.bad_notifies + fk.stray_cfg_writes, 0);
	CU_ASSERT_EQUAL(get_le16(&fk.vp.cfg[4]) & 0x6, 0x6);   /* memory + bus master */
	fake_teardown();
}

/* Every combination of the queue-making features the device may offer:
 * the driver's queues land where the device (its own mapping) has them. */
static void test_init_combos(void)
{
	for (unsigned int m = 0; m < 16; m++) {
		uint64_t offered = (m & 1 ? F(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
				   (m & 2 ? F(VIRTIO_BALLOON_F_FREE_PAGE_HINT) : 0) |
				   (m & 4 ? F(VIRTIO_BALLOON_F_REPORTING) : 0) |
				   (m & 8 ? F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) : 0);
		int s = !!(m & 1), r = !!(m & 4);

		fake_setup(offered);
		CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
		CU_ASSERT_EQUAL(fk.vp.driver & ~F(VIRTIO_F_VERSION_1),
				offered & ~F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
		CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_INFLATE), 0);
		CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_DEFLATE), 1);
		CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_STATS), s ? 2 : -1);
		CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_HINT), -1);
		CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_REPORT), r ? 2 + s : -1);
		CU_ASSERT_EQUAL(b.qidx[BALLOONFE_VQ_REPORT], r ? 2 + s : -1);
		CU_ASSERT_EQUAL(fk.stats_bufs, (unsigned int)s);
		fake_teardown();
	}
	/* No callback: the stats queue is not negotiated, nothing moves. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_with(NULL), 0);
	CU_ASSERT_FALSE(balloonfe_has(&b, VIRTIO_BALLOON_F_STATS_VQ));
	CU_ASSERT_EQUAL(fake_index_of(BALLOONFE_VQ_REPORT), 2);
	CU_ASSERT_EQUAL(fk.stats_bufs, 0);
	fake_teardown();
}

static void test_inflate_deflate(void)
{
	static uint32_t pfns[5000];

	for (unsigned int i = 0; i < ARRAY_SIZE(pfns); i++)
		pfns[i] = 0x80000000u + i * 0x10101u;   /* high bits: le32 on the wire */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 1000), 0);
	/* 256 per buffer (Linux's), the last one short. */
	CU_ASSERT_EQUAL(fk.inflate_bufs, 4);
	CU_ASSERT_EQUAL(fk.max_pfns_per_buf, 256);
	CU_ASSERT_EQUAL(fk.pfn_logged, 1000);
	CU_ASSERT_EQUAL(memcmp(fk.pfn_log, pfns, 1000 * sizeof(uint32_t)), 0);
	/* actual moves after each buffer is used, never before. */
	CU_ASSERT_EQUAL(fk.actual_at_pop, 768);
	CU_ASSERT_EQUAL(fk.bc.actual, 1000);
	CU_ASSERT_EQUAL(b.actual, 1000);
	CU_ASSERT_EQUAL(fk.actual_writes, 1 + 4);
	CU_ASSERT_EQUAL(balloonfe_deflate(&b, pfns + 700, 300), 0);
	CU_ASSERT_EQUAL(fk.deflated, 300);
	CU_ASSERT_EQUAL(fk.actual_at_pop, 1000 - 256);
	CU_ASSERT_EQUAL(fk.bc.actual, 700);
	/* Driver-side checks send nothing. */
	CU_ASSERT_EQUAL(balloonfe_deflate(&b, pfns, 701), -EINVAL);
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 0), -EINVAL);
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(fk.deflate_bufs, 2);
	CU_ASSERT_FALSE(b.broken);
	fake_teardown();

	/* The large batch: 5000 PFNs in two buffers. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(BALLOONFE_BATCH_MAX, 0), 0);
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 5000), 0);
	CU_ASSERT_EQUAL(fk.inflate_bufs, 2);
	CU_ASSERT_EQUAL(fk.max_pfns_per_buf, BALLOONFE_BATCH_MAX);
	CU_ASSERT_EQUAL(memcmp(fk.pfn_log, pfns, sizeof(pfns)), 0);
	CU_ASSERT_EQUAL(fk.bc.actual, 5000);
	CU_ASSERT_EQUAL(balloonfe_deflate(&b, pfns, 5000), 0);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);
	fake_teardown();
	/* A batch beyond the DMA area's PFN buffer is refused. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL(open_default(BALLOONFE_BATCH_MAX + 1, 0), -EINVAL);
	fake_teardown();
}

/* Buffers in flight: the device has all of a pipeline before it uses any,
 * uses them in any order, and actual follows each one. */
static void test_depth(void)
{
	static uint32_t pfns[2000];
	struct balloonfe_opts o = {
		.features = BALLOONFE_FEATURES, .batch = 256, .depth = 4, .stats_fn = stats_fill,
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(pfns); i++)
		pfns[i] = 0x1000u + i;
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_with(&o), 0);
	CU_ASSERT_EQUAL(b.depth, 4);
	fk.hold_pfn_bufs = 4;        /* used last-in first-out once it holds four */
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 1024), 0);
	CU_ASSERT_EQUAL(fk.inflate_bufs, 4);
	CU_ASSERT_EQUAL(fk.actual_at_pop, 0);          /* all four out before one came back */
	CU_ASSERT_EQUAL(memcmp(fk.pfn_log, pfns, 1024 * sizeof(uint32_t)), 0);
	CU_ASSERT_EQUAL(fk.bc.actual, 1024);
	CU_ASSERT_EQUAL(fk.actual_writes, 1 + 4);
	/* Eight buffers, two pipelines; the buffers' slots are reused. */
	CU_ASSERT_EQUAL(balloonfe_deflate(&b, pfns, 1024), 0);
	CU_ASSERT_EQUAL(fk.deflated, 1024);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);
	fk.hold_pfn_bufs = 0;
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 2000), 0);   /* 8 buffers, one short */
	CU_ASSERT_EQUAL(fk.inflate_bufs, 4 + 8);
	CU_ASSERT_EQUAL(memcmp(fk.pfn_log + 1024, pfns, 2000 * sizeof(uint32_t)), 0);
	CU_ASSERT_EQUAL(fk.bc.actual, 2000);
	CU_ASSERT_FALSE(b.broken);
	fake_teardown();

	/* Never more in flight than the ring has entries. */
	fake_setup(ALL_OFFERED);
	o.queue_max = 2;
	CU_ASSERT_EQUAL_FATAL(open_with(&o), 0);
	CU_ASSERT_EQUAL(b.depth, 2);
	fk.hold_pfn_bufs = 2;
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 1024), 0);
	CU_ASSERT_EQUAL(fk.bc.actual, 1024);
	fake_teardown();
	/* A pipeline beyond the DMA area's PFN buffers is refused. */
	fake_setup(ALL_OFFERED);
	o.depth = BALLOONFE_DEPTH_MAX + 1;
	CU_ASSERT_EQUAL(open_with(&o), -EINVAL);
	fake_teardown();
}

static void test_target(void)
{
	uint32_t t = 0;

	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	fk.bc.num_pages = 262144;
	CU_ASSERT_EQUAL(balloonfe_target(&b, &t), 0);
	CU_ASSERT_EQUAL(t, 262144);
	fk.vp.unstable_generation = 100;
	CU_ASSERT_EQUAL(balloonfe_target(&b, &t), -EIO);
	CU_ASSERT_PTR_NOT_NULL(b.error);
	fake_teardown();
}

static void test_stats(void)
{
	const uint8_t *raw;
	uint32_t pfn = 42;

	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	/* 16 packed entries of le16 tag + le64 value. */
	CU_ASSERT_EQUAL(fk.stats_len, 16 * 10);
	CU_ASSERT_EQUAL(fk.stat_seen, 0xffff);
	CU_ASSERT_EQUAL(fk.stat[VIRTIO_BALLOON_S_MEMTOT], 0x0102030405060705ull + 0x100000);
	CU_ASSERT_EQUAL(fk.stat[VIRTIO_BALLOON_S_DIRECT_RECLAIM], 0x010203040506070full + 0x100000);
	raw = fake_ram + (fk.stats_gpa - RAM_GPA);
	CU_ASSERT_EQUAL(get_le16(raw + 30), 3);
	CU_ASSERT_EQUAL(get_le64(raw + 32), 0x0102030405060703ull + 0x100000);
	/* No request pending: nothing to answer. */
	CU_ASSERT_EQUAL(balloonfe_poll(&b), 0);
	CU_ASSERT_EQUAL(stats_calls, 1);
	/* The device's request: answered with fresh numbers, given again. */
	CU_ASSERT_TRUE(fake_stats_request());
	CU_ASSERT_EQUAL(balloonfe_poll(&b), 1);
	CU_ASSERT_EQUAL(b.stats_requests, 1);
	CU_ASSERT_EQUAL(fk.stats_bufs, 2);
	CU_ASSERT_EQUAL(fk.stat[VIRTIO_BALLOON_S_MEMTOT], 0x0102030405060705ull + 0x200000);
	CU_ASSERT_TRUE(fk.stats_held);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_TRUE(fake_stats_request());
		CU_ASSERT_EQUAL(balloonfe_poll(&b), 1);
	}
	CU_ASSERT_EQUAL(b.stats_requests, 6);
	/* A request pending during an inflate is answered by its wait. */
	CU_ASSERT_TRUE(fake_stats_request());
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, &pfn, 1), 0);
	CU_ASSERT_EQUAL(b.stats_requests, 7);
	CU_ASSERT_TRUE(fk.stats_held);
	CU_ASSERT_EQUAL(balloonfe_poll(&b), 0);
	fake_teardown();

	/* A callback failing later: the buffer goes back with the values
	 * sent last, the error is reported, and fresh values follow once the
	 * callback recovers. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	CU_ASSERT_EQUAL(stats_calls, 1);
	stats_broken = true;
	CU_ASSERT_TRUE(fake_stats_request());
	CU_ASSERT_EQUAL(balloonfe_poll(&b), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(b.error);
	CU_ASSERT_FALSE(b.broken);
	CU_ASSERT_TRUE(fk.stats_held);
	CU_ASSERT_EQUAL(fk.stats_len, BALLOONFE_STATS_MAX * BALLOONFE_STAT_BYTES);
	CU_ASSERT_EQUAL(fk.stat[4], 0x0102030405060700ull + 4 + 0x100000ull * 1);
	stats_broken = false;
	CU_ASSERT_TRUE(fake_stats_request());
	CU_ASSERT_EQUAL(balloonfe_poll(&b), 1);
	CU_ASSERT_EQUAL(fk.stat[4], 0x0102030405060700ull + 4 + 0x100000ull * 2);
	fake_teardown();

	/* A callback with nothing to say fails the start-up, cleanly. */
	fake_setup(ALL_OFFERED);
	{
		struct balloonfe_opts o = { .features = BALLOONFE_FEATURES, .stats_fn = stats_none };

		CU_ASSERT_EQUAL(open_with(&o), -EINVAL);
		CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_FAILED);
	}
	fake_teardown();
}

static void test_report(void)
{
	struct vqd_sg r[33];

	fake_setup(ALL_OFFERED);
	for (unsigned int i = 0; i < ARRAY_SIZE(r); i++)
		r[i] = (struct vqd_sg){ fake_ram + BUF_OFF + i * 65536, 65536 };
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	CU_ASSERT_EQUAL(balloonfe_report(&b, r, 16), 0);
	CU_ASSERT_EQUAL(fk.report_chains, 1);
	CU_ASSERT_EQUAL(fk.report_out, 0);          /* device-writable only */
	CU_ASSERT_EQUAL(fk.report_in, 16);
	CU_ASSERT_EQUAL(fk.report_gpa[0], RAM_GPA + BUF_OFF);
	CU_ASSERT_EQUAL(fk.report_gpa[15], RAM_GPA + BUF_OFF + 15 * 65536);
	CU_ASSERT_EQUAL(fk.report_len[15], 65536);
	CU_ASSERT_EQUAL(b.reports, 1);
	/* More ranges than the queue holds, an empty range: refused. */
	CU_ASSERT_EQUAL(balloonfe_report(&b, r, 33), -EINVAL);
	r[1].len = 0;
	CU_ASSERT_EQUAL(balloonfe_report(&b, r, 2), -EINVAL);
	CU_ASSERT_EQUAL(fk.report_chains, 1);
	fake_teardown();

	fake_setup(ALL_OFFERED & ~F(VIRTIO_BALLOON_F_REPORTING));
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	r[0] = (struct vqd_sg){ fake_ram + BUF_OFF, 65536 };
	CU_ASSERT_EQUAL(balloonfe_report(&b, r, 1), -EOPNOTSUPP);
	fake_teardown();
}

static void test_hostile(void)
{
	uint32_t pfns[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct vqd_sg r = { NULL, 4096 };
	uint32_t t;

	/* A used id that is not in flight. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	fk.bad_id = true;
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 8), -EIO);
	CU_ASSERT_TRUE(b.broken);
	CU_ASSERT_PTR_NOT_NULL(b.error);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);           /* never claimed */
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 8), -EIO);
	CU_ASSERT_EQUAL(balloonfe_poll(&b), -EIO);
	CU_ASSERT_EQUAL(balloonfe_target(&b, &t), -EIO);
	CU_ASSERT_EQUAL(fk.inflate_bufs, 1);
	fake_teardown();

	/* A used length on a read-only buffer. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	fk.len_extra = 4;
	CU_ASSERT_EQUAL(balloonfe_deflate(&b, pfns, 1), -EINVAL);   /* balloon empty */
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 8), -EIO);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);
	fake_teardown();

	/* A report used for more than it offered. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	r.buf = fake_ram + BUF_OFF;
	fk.len_extra = 4097;
	CU_ASSERT_EQUAL(balloonfe_report(&b, &r, 1), -EIO);
	fake_teardown();

	/* The stats buffer returned with a bad id. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	fk.bad_id = true;
	CU_ASSERT_TRUE(fake_stats_request());
	CU_ASSERT_EQUAL(balloonfe_poll(&b), -EIO);
	CU_ASSERT_TRUE(b.broken);
	fake_teardown();

	/* Never used: a bounded wait, then nothing more. */
	fake_setup(ALL_OFFERED);
	CU_ASSERT_EQUAL_FATAL(open_default(0, 20000), 0);
	fk.never_complete = true;
	CU_ASSERT_EQUAL(balloonfe_inflate(&b, pfns, 8), -ETIMEDOUT);
	CU_ASSERT_EQUAL(fk.bc.actual, 0);
	CU_ASSERT_EQUAL(balloonfe_report(&b, &r, 1), -EIO);
	fake_teardown();

	/* A promised queue the device does not have. */
	fake_setup(ALL_OFFERED);
	fk.qmax[BALLOONFE_VQ_REPORT] = 0;
	CU_ASSERT_EQUAL(open_default(0, 0), -ENODEV);
	CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_FAILED);
	fake_teardown();

	/* Odd queue sizes round down to a power of two. */
	fake_setup(ALL_OFFERED);
	fk.qmax[BALLOONFE_VQ_INFLATE] = 7;
	CU_ASSERT_EQUAL_FATAL(open_default(0, 0), 0);
	CU_ASSERT_EQUAL(b.vq[BALLOONFE_VQ_INFLATE].num, 4);
	fake_teardown();

	/* A device config too short for actual; FEATURES_OK refused. */
	fake_setup(ALL_OFFERED);
	fk.vp.cfg[0x60 + 12] = 4;
	CU_ASSERT_EQUAL(open_default(0, 0), -ENODEV);
	fake_teardown();
	fake_setup(ALL_OFFERED);
	fk.vp.refuse_features_ok = true;
	CU_ASSERT_EQUAL(open_default(0, 0), -EIO);
	fake_teardown();
	/* Not a balloon. */
	fake_setup(ALL_OFFERED);
	put_le16(&fk.vp.cfg[2], 0x1042);
	CU_ASSERT_EQUAL(open_default(0, 0), -ENODEV);
	fake_teardown();
}

void unit_register(void)
{
	UNIT_SUITE("balloon_fe",
		   UNIT_TEST(test_queue_index),
		   UNIT_TEST(test_init),
		   UNIT_TEST(test_init_combos),
		   UNIT_TEST(test_inflate_deflate),
		   UNIT_TEST(test_depth),
		   UNIT_TEST(test_target),
		   UNIT_TEST(test_stats),
		   UNIT_TEST(test_report),
		   UNIT_TEST(test_hostile));
}

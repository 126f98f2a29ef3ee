/* Scenario "blk": frontends/blkfront.c against the first modern virtio-blk
 * PCI device (1af4:1042) on bus 0 — QEMU's virtio-blk-pci today, isle's
 * own later. Polled throughout: no interrupts.
 *
 * Read-write disk (default): in three driver configurations (indirect
 * tables + EVENT_IDX with the largest queue; direct chains + EVENT_IDX;
 * direct chains, no EVENT_IDX, a 16-entry queue) it writes patterns and
 * reads them back at many offsets and sizes: single sectors, page-split
 * multi-segment chains from misaligned buffers, one request of exactly
 * seg_limit segments given in reverse memory order, the last sectors, a
 * batch of pseudo-random requests; checks that data survives a device
 * reset, that seg_limit + 1 segments are refused by the driver, that
 * requests beyond the capacity get VIRTIO_BLK_S_IOERR, that flush and
 * discard succeed (discard promises no zeroes, so only its status is
 * checked), that write-zeroes reads back as zeroes, and GET_ID (compared
 * with blk_serial=ID if given).
 * Read-only disk (blk=ro): VIRTIO_BLK_F_RO is offered, reads work, writes
 * and write-zeroes fail with IOERR or UNSUPP, discard gets a valid status
 * (it is advisory), the contents stay unchanged and the device keeps
 * working afterwards.
 * A transitional device (1af4:1001) is not supported: skip, as without a
 * device (exit 77). */
#include "blkfront.h"

#include "virtio_glue.h"

#define VIRTIO_BLK_TRANSITIONAL 0x1001
#define SECT         BLKFRONT_SECTOR
#define PAGE         4096u
#define BUF_BYTES    (1024 * 1024 + 2 * PAGE)
#define MIN_SECTORS  32768ull           /* 16 MiB: the test regions stay apart */
#define RANDOM_REQS  200

static struct blkfront bf;
static struct virtio_glue glue;
static uint8_t blk_dma[BLKFRONT_DMA_BYTES] __attribute__((aligned(PAGE)));
static uint8_t blk_priv[BLKFRONT_PRIV_BYTES] __attribute__((aligned(16)));
/* Not zeroed at boot (.noinit): the scenario fills them before use. */
static uint8_t wbuf[BUF_BYTES] __attribute__((section(".noinit"), aligned(PAGE)));
static uint8_t rbuf[BUF_BYTES] __attribute__((section(".noinit"), aligned(PAGE)));

/* What a byte at (sector, offset) holds for a given seed, so a read that
 * returns the wrong sector, the wrong pass or stale data is caught. */
static uint8_t pattern_byte(uint64_t sector, uint32_t off, uint32_t seed)
{
	uint32_t x = (uint32_t)sector * 2654435761u ^ (uint32_t)(sector >> 32) ^
		     off * 40503u ^ seed * 97u;

	return (uint8_t)(x ^ x >> 8 ^ x >> 16 ^ x >> 24);
}

static void pattern_fill(uint8_t *p, uint64_t sector, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(sector + i / SECT, (uint32_t)(i % SECT), seed);
}

static bool pattern_ok(const uint8_t *p, uint64_t sector, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != pattern_byte(sector + i / SECT, (uint32_t)(i % SECT), seed)) {
			report_info("mismatch at sector %lu byte %lu",
				    sector + i / SECT, (unsigned long)(i % SECT));
			return false;
		}
	}
	return true;
}

static bool zero_ok(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

static const char *status_name(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	default:
		return bf.error ? bf.error : "driver error";
	}
}

/* Writes a pattern from wbuf + woff, reads it into rbuf + roff (primed
 * with garbage) and compares. The offsets misalign the buffers so the
 * page split yields odd-sized segments. */
static bool rw_verify(uint64_t sector, size_t len, size_t woff, size_t roff, uint32_t seed)
{
	int st;

	pattern_fill(wbuf + woff, sector, len, seed);
	st = blkfront_rw(&bf, sector, wbuf + woff, len, true);
	if (st != VIRTIO_BLK_S_OK) {
		report_info("write %lu+%lu: %d (%s)", sector, (unsigned long)len, st,
			    status_name(st));
		return false;
	}
	memset(rbuf + roff, 0xa5, len);
	st = blkfront_rw(&bf, sector, rbuf + roff, len, false);
	if (st != VIRTIO_BLK_S_OK) {
		report_info("read %lu+%lu: %d (%s)", sector, (unsigned long)len, st,
			    status_name(st));
		return false;
	}
	return pattern_ok(rbuf + roff, sector, len, seed);
}

static void check_single_sectors(uint32_t seed)
{
	uint64_t cap = bf.capacity;
	const uint64_t at[] = { 0, 1, 63, 64, cap / 2, cap - 2, cap - 1 };
	bool ok = true;

	for (size_t i = 0; i < ARRAY_SIZE(at); i++)
		ok = rw_verify(at[i], SECT, 0, 0, seed) && ok;
	report(ok, "single sectors at %u offsets (first, middle, last)",
	       (unsigned int)ARRAY_SIZE(at));
	/* The device reports what it wrote: data plus the status byte. */
	report(bf.last_len == SECT + 1, "read used length %u = data + status", bf.last_len);
}

static void check_sizes(uint32_t seed)
{
	static const struct { uint32_t sectors; uint32_t woff, roff; } t[] = {
		{ 2, 0, 0 }, { 8, 0, 0 }, { 9, 512, 1024 }, { 16, 3584, 512 },
		{ 128, 0, 2048 }, { 131, 1536, 3584 }, { 256, 512, 0 },
	};
	uint64_t sector = 1000;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		size_t len = (size_t)t[i].sectors * SECT;

		report(rw_verify(sector, len, t[i].woff, t[i].roff, seed),
		       "%u sectors at %lu, buffers +%u/+%u", t[i].sectors, sector,
		       t[i].woff, t[i].roff);
		sector += t[i].sectors + 7;
	}
}

/* One request of exactly seg_limit page segments, listed in reverse memory
 * order: the device must follow the chain, not the addresses. */
static uint64_t big_sector(void)
{
	return bf.capacity / 4;
}

static void check_max_request(uint32_t seed)
{
	unsigned int n = MIN(bf.seg_limit, (unsigned int)(BUF_BYTES / PAGE) - 2);
	uint32_t seg = MIN((uint32_t)PAGE, bf.size_max);
	size_t len = (size_t)n * seg;
	struct vqd_sg sg[BLKFRONT_QUEUE_MAX + 1];
	uint64_t sector = big_sector();
	int st;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *page = wbuf + (size_t)(n - 1 - i) * PAGE;

		pattern_fill(page, sector + (uint64_t)i * seg / SECT, seg, seed);
		sg[i] = (struct vqd_sg){ page, seg };
	}
	st = blkfront_rw_sg(&bf, sector, sg, n, true);
	report(st == VIRTIO_BLK_S_OK, "write of %u segments (%lu KiB) in one request: %s",
	       n, (unsigned long)(len / 1024), status_name(st));
	memset(rbuf, 0xa5, len);
	st = blkfront_rw(&bf, sector, rbuf, len, false);
	report(st == VIRTIO_BLK_S_OK && pattern_ok(rbuf, sector, len, seed),
	       "read back in chain order");

	sg[n] = sg[0];
	st = blkfront_rw_sg(&bf, sector, sg, n + 1, false);
	report(st == -EINVAL, "driver refuses %u segments (limit %u): %d", n + 1,
	       bf.seg_limit, st);
}

static void check_last_and_beyond(uint32_t seed)
{
	uint64_t cap = bf.capacity;
	int st;

	report(rw_verify(cap - 8, 8 * SECT, 0, 0, seed), "8 sectors ending at the capacity");
	st = blkfront_rw(&bf, cap, rbuf, SECT, false);
	report(st == VIRTIO_BLK_S_IOERR, "read at the capacity: %s", status_name(st));
	st = blkfront_rw(&bf, cap - 1, rbuf, 2 * SECT, false);
	report(st == VIRTIO_BLK_S_IOERR, "read across the end: %s", status_name(st));
	pattern_fill(wbuf, cap - 1, 2 * SECT, seed);
	st = blkfront_rw(&bf, cap - 1, wbuf, 2 * SECT, true);
	report(st == VIRTIO_BLK_S_IOERR, "write across the end: %s", status_name(st));
	st = blkfront_rw(&bf, UINT64_MAX / SECT, rbuf, SECT, false);
	report(st == VIRTIO_BLK_S_IOERR, "read at sector 2^55: %s", status_name(st));
	/* The device must still work after refusing. */
	report(rw_verify(cap - 1, SECT, 0, 0, seed + 1), "last sector still usable");
}

static void check_random(uint32_t seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ seed, base = 2048;
	unsigned int done = 0;
	bool ok = true;

	/* Distinct ranges in a 2 MiB window; each written then read back. */
	for (unsigned int i = 0; i < RANDOM_REQS && ok; i++) {
		uint64_t sector, sectors, off;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		sectors = 1 + (x >> 33) % 64;
		sector = base + (x >> 17) % (4096 - sectors);
		off = ((x >> 7) % 8) * SECT;
		ok = rw_verify(sector, sectors * SECT, off, (off + SECT) % PAGE, seed + i);
		done++;
	}
	report(ok, "%u pseudo-random write/read pairs", done);
}

static void check_flush_discard_zeroes(uint32_t seed)
{
	uint64_t sector = 3 * bf.capacity / 4;
	int st;

	st = blkfront_flush(&bf);
	if (st == -EOPNOTSUPP)
		report_skip("flush: VIRTIO_BLK_F_FLUSH not offered");
	else
		report(st == VIRTIO_BLK_S_OK, "flush: %s", status_name(st));

	st = blkfront_discard(&bf, sector, 8);
	if (st == -EOPNOTSUPP)
		report_skip("discard: VIRTIO_BLK_F_DISCARD not offered");
	else
		report(st == VIRTIO_BLK_S_OK, "discard 8 sectors: %s", status_name(st));

	if (!blkfront_has(&bf, VIRTIO_BLK_F_WRITE_ZEROES)) {
		report_skip("write-zeroes: VIRTIO_BLK_F_WRITE_ZEROES not offered");
		return;
	}
	/* Zero the middle 16 of 32 patterned sectors. */
	report(rw_verify(sector + 16, 32 * SECT, 0, 0, seed), "pattern before write-zeroes");
	st = blkfront_write_zeroes(&bf, sector + 24, 16, false);
	report(st == VIRTIO_BLK_S_OK, "write-zeroes 16 sectors: %s", status_name(st));
	memset(rbuf, 0xa5, 32 * SECT);
	st = blkfront_rw(&bf, sector + 16, rbuf, 32 * SECT, false);
	report(st == VIRTIO_BLK_S_OK && pattern_ok(rbuf, sector + 16, 8 * SECT, seed) &&
	       zero_ok(rbuf + 8 * SECT, 16 * SECT) &&
	       pattern_ok(rbuf + 24 * SECT, sector + 40, 8 * SECT, seed),
	       "zeroes read back, neighbours intact");
	if (bf.wz_may_unmap) {
		st = blkfront_write_zeroes(&bf, sector + 16, 8, true);
		memset(rbuf, 0xa5, 8 * SECT);
		if (st == VIRTIO_BLK_S_OK)
			st = blkfront_rw(&bf, sector + 16, rbuf, 8 * SECT, false);
		report(st == VIRTIO_BLK_S_OK && zero_ok(rbuf, 8 * SECT),
		       "write-zeroes with UNMAP reads back zeroes");
	}
}

static void check_get_id(void)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];
	const char *want = cmdline_get("blk_serial");
	int st = blkfront_get_id(&bf, id);

	if (st == VIRTIO_BLK_S_UNSUPP) {
		report_skip("GET_ID: UNSUPP");
		return;
	}
	report(st == VIRTIO_BLK_S_OK, "GET_ID: %s, id \"%s\"", status_name(st), id);
	if (want)
		report(!strcmp(id, want), "id matches blk_serial=%s", want);
}

static bool blk_open(const struct blkfront_opts *opts, const char *what)
{
	int r = blkfront_init(&bf, &glue.env, opts, blk_dma, sizeof(blk_dma),
			      blk_priv, sizeof(blk_priv));

	if (!report(r == 0, "init (%s): %d%s%s", what, r, bf.error ? ", " : "",
		    bf.error ? bf.error : ""))
		return false;
	report_info("features %#lx of %#lx, capacity %lu sectors, blk_size %u, "
		    "seg_max %u, size_max %#x, queue %u, seg_limit %u",
		    bf.features, bf.pci.offered, bf.capacity, bf.blk_size, bf.seg_max,
		    bf.size_max, bf.queue_size, bf.seg_limit);
	/* blk_pause_ms=N: a window between init and the pass's I/O in which
	 * a test can freeze the backend however slow its own polling is
	 * (tests/integration/isle-blk restart|external, also in the lab). */
	timer_delay_us(cmdline_get_u64("blk_pause_ms", 0) * 1000);
	/* Polled: keep the device off the INTx line. */
	pci_write16(glue.bdf, PCI_COMMAND, pci_read16(glue.bdf, PCI_COMMAND) | PCI_CMD_INTX_OFF);
	return true;
}

static void blk_summary(uint64_t t0)
{
	report(!vpci_needs_reset(&bf.pci) && !bf.broken && vqd_inflight(&bf.vq) == 0,
	       "device healthy, nothing in flight");
	report_info("%lu requests (%lu via indirect tables), %lu KiB read, %lu KiB "
		    "written, %lu ms", bf.requests, bf.vq.added_indirect,
		    bf.bytes_read / 1024, bf.bytes_written / 1024,
		    timer_elapsed_us(t0) / 1000);
}

static void run_rw_pass(unsigned int pass, const struct blkfront_opts *opts,
			const char *what)
{
	uint32_t seed = 0x1000 * (pass + 1);
	uint64_t t0 = rdtsc();

	report_prefix_pushf("pass %u", pass + 1);
	if (!blk_open(opts, what))
		goto out;
	if (!report(!bf.ro, "writable disk (blk=ro not given)"))
		goto out;
	if (!report(bf.capacity >= MIN_SECTORS, "capacity %lu >= %llu sectors",
		    bf.capacity, MIN_SECTORS))
		goto out;
	if (pass > 0) {
		/* Written by the previous pass, before its device reset. */
		memset(rbuf, 0xa5, 8 * SECT);
		report(blkfront_rw(&bf, big_sector(), rbuf, 8 * SECT, false) == VIRTIO_BLK_S_OK &&
		       pattern_ok(rbuf, big_sector(), 8 * SECT, seed - 0x1000),
		       "data from pass %u survived the reset", pass);
	}
	check_single_sectors(seed);
	check_sizes(seed);
	check_max_request(seed);
	check_last_and_beyond(seed);
	if (pass == 0)
		check_random(seed);
	check_flush_discard_zeroes(seed);
	check_get_id();
	blk_summary(t0);
out:
	report_prefix_pop();
}

static void run_ro(void)
{
	static uint8_t orig[8 * SECT];
	uint64_t t0 = rdtsc();
	int st;

	if (!blk_open(NULL, "read-only"))
		return;
	if (!report(bf.ro, "VIRTIO_BLK_F_RO offered"))
		return;
	memset(rbuf, 0xa5, 8 * SECT);
	st = blkfront_rw(&bf, 0, rbuf, 8 * SECT, false);
	report(st == VIRTIO_BLK_S_OK, "read first sectors: %s", status_name(st));
	/* orig: what the disk held; wbuf: something else to try writing. */
	memcpy(orig, rbuf, 8 * SECT);
	pattern_fill(wbuf, 0, 8 * SECT, 0x5a5a);
	st = blkfront_rw(&bf, bf.capacity - 1, rbuf, SECT, false);
	report(st == VIRTIO_BLK_S_OK, "read last sector: %s", status_name(st));
	st = blkfront_rw(&bf, 0, wbuf, 8 * SECT, true);
	report(st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP,
	       "write refused: %s", status_name(st));
	if (blkfront_has(&bf, VIRTIO_BLK_F_WRITE_ZEROES)) {
		st = blkfront_write_zeroes(&bf, 0, 8, false);
		report(st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP,
		       "write-zeroes refused: %s", status_name(st));
	}
	if (blkfront_has(&bf, VIRTIO_BLK_F_DISCARD)) {
		/* Discard is advisory and writes no data, so a device may
		 * accept it on a read-only disk (QEMU without discard=unmap
		 * does); the contents check below is what matters. */
		st = blkfront_discard(&bf, 0, 8);
		report(st >= VIRTIO_BLK_S_OK && st <= VIRTIO_BLK_S_UNSUPP,
		       "discard answered: %s", status_name(st));
	}
	st = blkfront_flush(&bf);
	if (st != -EOPNOTSUPP)
		report(st == VIRTIO_BLK_S_OK, "flush: %s", status_name(st));
	memset(rbuf, 0xa5, 8 * SECT);
	st = blkfront_rw(&bf, 0, rbuf, 8 * SECT, false);
	report(st == VIRTIO_BLK_S_OK && !memcmp(rbuf, orig, 8 * SECT),
	       "contents unchanged, reads still work");
	check_get_id();
	blk_summary(t0);
}

/* First modern virtio-blk function on bus 0; -1 if none (and a note on a
 * transitional one). */
int blk_find(void)
{
	struct pci_dev devs[64];
	int n = pci_scan_bus0(devs, ARRAY_SIZE(devs));
	int transitional = -1;

	for (int i = 0; i < n && i < (int)ARRAY_SIZE(devs); i++) {
		if (devs[i].vendor != VPCI_VENDOR)
			continue;
		if (devs[i].device == BLKFRONT_DEVICE_ID)
			return devs[i].bdf;
		if (devs[i].device == VIRTIO_BLK_TRANSITIONAL && transitional < 0)
			transitional = devs[i].bdf;
	}
	if (transitional >= 0)
		report_info("transitional virtio-blk (1af4:1001) at %02x:%02x.%x",
			    PCI_BUS(transitional), PCI_DEV(transitional), PCI_FN(transitional));
	return transitional >= 0 ? -2 : -1;
}

void test_blk_run(void)
{
	const char *mode = cmdline_get("blk");
	const uint64_t no_ring_features =
		1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	const struct blkfront_opts passes[] = {
		{ BLKFRONT_FEATURES, BLKFRONT_QUEUE_MAX, 0 },
		{ BLKFRONT_FEATURES & ~(1ull << VIRTIO_RING_F_INDIRECT_DESC),
		  BLKFRONT_QUEUE_MAX, 0 },
		{ BLKFRONT_FEATURES & ~no_ring_features, 16, 0 },
	};
	const char *what[] = {
		"indirect + event idx", "direct chains + event idx", "direct chains, queue 16",
	};
	int bdf;

	report_prefix_push("blk");
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	bdf = blk_find();
	if (bdf < 0) {
		report_skip("%s", bdf == -2 ? "transitional virtio-blk 1af4:1001 not "
			    "supported (QEMU: disable-legacy=on)" :
			    "no virtio-blk device 1af4:1042");
		report_prefix_pop();
		return;
	}
	virtio_glue_init(&glue, (uint16_t)bdf);
	report_info("virtio-blk at %02x:%02x.%x, expecting a %s disk", PCI_BUS(bdf),
		    PCI_DEV(bdf), PCI_FN(bdf), mode && !strcmp(mode, "ro") ? "read-only" :
		    "writable");
	if (mode && !strcmp(mode, "ro")) {
		run_ro();
	} else {
		for (unsigned int i = 0; i < ARRAY_SIZE(passes); i++)
			run_rw_pass(i, &passes[i], what[i]);
	}
	blkfront_reset(&bf);
	report_prefix_pop();
}

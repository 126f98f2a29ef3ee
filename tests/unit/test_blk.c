/* Unit tests for blkback/blk.c, the virtio-blk request handler of
 * isle-tapdisk. The test plays the guest driver: a split ring of 16 entries
 * in calloc'd "guest RAM" (two adjacent regions, so buffers can straddle a
 * region boundary), requests built from descriptor chains of any shape, and
 * a disk on a temporary image under /var/tmp. Each request is popped with
 * vq_pop(), handled with blk_handle() and completed through the disk's
 * eventfd; the test then checks the status byte in guest memory, the used
 * element's length, and the image through a separate descriptor.
 * The data-moving cases run on every engine (sync, aio, uring); the parsing
 * and validation cases on sync. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "cunit.h"
#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"

#define RAM_GPA   0x100000ULL
#define RAM_SIZE  (4 * MiB)
#define RAM2_GPA  (RAM_GPA + RAM_SIZE)
#define RAM2_SIZE (1 * MiB)
#define QNUM      16
#define DESC      RAM_GPA
#define AVAIL     (RAM_GPA + 16 * QNUM)
#define USED      (RAM_GPA + 0x1000)
#define HDR       (RAM_GPA + 0x2000)      /* request headers, ranges */
#define STATUS    (RAM_GPA + 0x3000)
#define DATA      (RAM_GPA + 0x10000)     /* data buffers, up to RAM end */
#define IMG_SIZE  (8 * MiB)
#define SECTORS   (IMG_SIZE / 512)

static uint8_t *ram, *ram2;
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */
static struct vq vq;
static uint16_t avail_idx;
static unsigned int ndesc;
static struct disk disk;
static struct blk_dev bd;
static char img[64];
static int img_fd = -1;
static struct iovec iov[BLK_REQ_MAX_IOV];
static struct blk_req req;
static int ncomplete;

static uint8_t *hva(uint64_t gpa)
{
	uint64_t len = 1;
	uint8_t *p = gmem_gpa_to_hva(&gm, gpa, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static void on_complete(struct blk_req *r)
{
	ncomplete++;
	CU_ASSERT_EQUAL(vq_push(&vq, r->elem.head, r->written), 0);
}

static bool setup_engine(enum disk_engine_hint e, bool ro)
{
	struct disk_flags f = { .readonly = ro };
	struct vq_config c = { .num = QNUM, .desc_gpa = DESC, .avail_gpa = AVAIL,
			       .used_gpa = USED, .flags = VQ_F_INDIRECT_DESC };
	struct disk_spec spec;
	char s[96], err[256];
	int fd, r;

	ram = calloc(1, RAM_SIZE);
	ram2 = calloc(1, RAM2_SIZE);
	CU_ASSERT_FATAL(ram && ram2);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, ram, -1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM2_GPA, RAM2_SIZE, ram2, -1, 0), 0);
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */
	CU_ASSERT_EQUAL_FATAL(vq_init(&vq, &as, &c), 0);
	avail_idx = 0;
	snprintf(img, sizeof(img), "/var/tmp/isle-blk-XXXXXX");
	fd = mkstemp(img);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, IMG_SIZE) == 0);
	close(fd);
	snprintf(s, sizeof(s), "file:%s", img);
	CU_ASSERT_EQUAL_FATAL(diskspec_parse(s, &spec, err, sizeof(err)), 0);
	r = disk_open(&disk, &spec, e, &f, err, sizeof(err));
	if (r && e == DISK_ENGINE_URING && (r == -ENOSYS || r == -EPERM)) {
		printf("[skipped: %s] ", err);
		unlink(img);
		free(ram);
		free(ram2);
		return false;
	}
	CU_ASSERT_EQUAL_FATAL(r, 0);
	img_fd = open(img, O_RDWR);
	CU_ASSERT_FATAL(img_fd >= 0);
	blk_dev_init(&bd, &disk, 1, "xvdb");
	blk_req_init(&req, iov, ARRAY_SIZE(iov), on_complete, NULL);
	return true;
}

static bool setup(bool ro)
{
	return setup_engine(DISK_ENGINE_SYNC, ro);
}

static void teardown(void)
{
	disk_close(&disk);
	close(img_fd);
	unlink(img);
	free(ram);
	free(ram2);
}

/* ---- the driver side ---- */

static void chain_begin(void)
{
	ndesc = 0;
}

/* Appends a buffer to the chain being built (descriptors 0, 1, ...). */
static void chain_add(uint64_t gpa, uint32_t len, bool write)
{
	uint8_t *d = hva(DESC + 16ULL * ndesc);

	if (ndesc) {   /* link the previous one */
		uint8_t *p = hva(DESC + 16ULL * (ndesc - 1));

		put_le16(p + 12, get_le16(p + 12) | VRING_DESC_F_NEXT);
		put_le16(p + 14, (uint16_t)ndesc);
	}
	put_le64(d, gpa);
	put_le32(d + 8, len);
	put_le16(d + 12, write ? VRING_DESC_F_WRITE : 0);
	put_le16(d + 14, 0);
	ndesc++;
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *p = hva(gpa);

	put_le32(p, type);
	put_le32(p + 4, 0);
	put_le64(p + 8, sector);
}

static void make_avail_pop(void)
{
	put_le16(hva(AVAIL + 4 + 2ULL * (avail_idx % QNUM)), 0);
	avail_idx++;
	put_le16(hva(AVAIL + 2), avail_idx);
	CU_ASSERT_EQUAL_FATAL(vq_pop(&vq, &req.elem), 1);
}

static void wait_reap(void)
{
	struct pollfd p = { .fd = disk_event_fd(&disk), .events = POLLIN };

	CU_ASSERT_FATAL(poll(&p, 1, 10000) == 1);
	CU_ASSERT_FATAL(disk_reap(&disk) >= 0);
}

/* Makes the chain available, pops it and handles it; waits for the
 * completion. Returns blk_handle()'s result; *status and *used from the
 * guest's view (status byte at status_gpa, the used element). */
static int submit(uint64_t status_gpa, uint8_t *status, uint32_t *used)
{
	uint16_t used_before = vq_get_used_idx(&vq);
	int want = ncomplete + 1, r;

	*hva(status_gpa) = 0xee;
	make_avail_pop();
	r = blk_handle(&bd, &disk, &req);
	if (r)
		return r;
	while (ncomplete < want)
		wait_reap();
	CU_ASSERT_EQUAL(get_le16(hva(USED + 2)), (uint16_t)(used_before + 1));
	*status = *hva(status_gpa);
	*used = get_le32(hva(USED + 8 + 8ULL * (used_before % QNUM)));
	CU_ASSERT_EQUAL(*status, req.status);
	CU_ASSERT_EQUAL(*used, req.written);
	return 0;
}

/* submit() for a chain whose status byte is at STATUS. */
static uint8_t chain_status(uint32_t *used)
{
	uint8_t st = 0xff;

	CU_ASSERT_EQUAL(submit(STATUS, &st, used), 0);
	return st;
}

/* The usual Linux layout: header, data buffers, status. */
static uint8_t rw(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, uint32_t *used)
{
	chain_begin();
	put_hdr(HDR, type, sector);
	chain_add(HDR, 16, false);
	if (len)
		chain_add(data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID);
	chain_add(STATUS, 1, true);
	return chain_status(used);
}

static uint8_t simple(uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	uint32_t used;

	return rw(type, sector, data, len, &used);
}

static uint8_t pat(uint64_t off, unsigned int seed)
{
	return (uint8_t)(((off * 2654435761u) >> 11) ^ (off >> 9) ^ seed);
}

static void fill(uint8_t *p, uint64_t off, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(off + i, seed);
}

static bool check(const uint8_t *p, uint64_t off, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(off + i, seed))
			return false;
	return true;
}

static bool image_is(uint64_t off, size_t len, unsigned int seed, bool zero)
{
	uint8_t *b = malloc(len);
	bool ok;

	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(pread(img_fd, b, len, (off_t)off) == (ssize_t)len);
	ok = true;
	for (size_t i = 0; i < len && ok; i++)
		ok = zero ? !b[i] : b[i] == pat(off + i, seed);
	free(b);
	return ok;
}


/* ---- data-moving cases, per engine ---- */

/* Writes through many chain shapes (header split over iovecs, data split
 * across the RAM-region boundary), reads back through others. */
static void check_rw(enum disk_engine_hint e)
{
	static const uint32_t lens[] = { 512, 4096, 3 * 512, 64 * KiB, 1 * MiB };
	uint32_t used;
	uint8_t st;

	if (!setup_engine(e, false))
		return;
	for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++) {
		uint64_t sector = 7 + i * 2048, off = sector * 512;

		fill(hva(DATA), off, lens[i], i);
		CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_OUT, sector, DATA, lens[i], &used), VIRTIO_BLK_S_OK);
		CU_ASSERT_EQUAL(used, 1);
		CU_ASSERT(image_is(off, lens[i], i, false));
		memset(hva(DATA), 0, lens[i]);
		CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_IN, sector, DATA, lens[i], &used), VIRTIO_BLK_S_OK);
		CU_ASSERT_EQUAL(used, lens[i] + 1);
		CU_ASSERT(check(hva(DATA), off, lens[i], i));
	}

	/* Header in six uneven pieces (the sector field split too), data in 3
	 * parts, the last of which crosses into the second RAM region; read
	 * back with the status byte sharing the last data buffer. */
	chain_begin();
	put_hdr(HDR, VIRTIO_BLK_T_OUT, 100);
	for (unsigned int i = 0, at = 0, piece[] = { 1, 1, 2, 5, 3, 4 }; i < 6; at += piece[i++])
		chain_add(HDR + at, piece[i], false);
	fill(hva(DATA), 100 * 512, 1024, 9);
	fill(hva(RAM2_GPA - 1536), 100 * 512 + 1024, 1536, 9);
	fill(hva(RAM2_GPA), 100 * 512 + 2560, 512, 9);
	chain_add(DATA, 512, false);
	chain_add(DATA + 512, 512, false);
	chain_add(RAM2_GPA - 1536, 2048, false);
	chain_add(STATUS, 1, true);
	CU_ASSERT_EQUAL(submit(STATUS, &st, &used), 0);
	CU_ASSERT_EQUAL(st, VIRTIO_BLK_S_OK);
	CU_ASSERT(image_is(100 * 512, 3072, 9, false));

	chain_begin();
	put_hdr(HDR + 0x100, VIRTIO_BLK_T_IN, 100);
	chain_add(HDR + 0x100, 5, false);
	chain_add(HDR + 0x105, 11, false);
	memset(hva(DATA), 0, 8192);
	chain_add(DATA, 1000, true);
	chain_add(DATA + 1000, 3072 - 1000 + 1, true);   /* data tail + status */
	CU_ASSERT_EQUAL(submit(DATA + 3072, &st, &used), 0);
	CU_ASSERT_EQUAL(st, VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(used, 3073);
	CU_ASSERT(check(hva(DATA), 100 * 512, 3072, 9));

	/* The last sector. */
	fill(hva(DATA), IMG_SIZE - 512, 512, 3);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, SECTORS - 1, DATA, 512), VIRTIO_BLK_S_OK);
	CU_ASSERT(image_is(IMG_SIZE - 512, 512, 3, false));
	teardown();
}

static void check_flush(enum disk_engine_hint e)
{
	uint32_t used;

	if (!setup_engine(e, false))
		return;
	fill(hva(DATA), 0, 4096, 1);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, 0, DATA, 4096), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(used, 1);
	teardown();
}

/* One discard or write-zeroes with the given ranges. */
static uint8_t dwz(uint32_t type, const struct blk_range *rg, unsigned int n, uint32_t flags)
{
	uint32_t used;
	uint8_t st;

	chain_begin();
	put_hdr(HDR, type, 0);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = hva(HDR + 16 + 16ULL * i);

		put_le64(p, rg[i].sector);
		put_le32(p + 8, rg[i].num_sectors);
		put_le32(p + 12, flags);
	}
	chain_add(HDR, 16 + 16 * n, false);
	chain_add(STATUS, 1, true);
	st = chain_status(&used);
	CU_ASSERT_EQUAL(used, 1);
	return st;
}

static void check_discard_zeroes(enum disk_engine_hint e)
{
	const struct blk_range two[] = { { 8, 16 }, { 64, 8 } };
	const struct blk_range one[] = { { 200, 24 } };

	if (!setup_engine(e, false))
		return;
	fill(hva(DATA), 0, 256 * 512, 5);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, 0, DATA, 256 * 512), VIRTIO_BLK_S_OK);
	if (bd.discard) {
		CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_DISCARD, two, 2, 0), VIRTIO_BLK_S_OK);
		CU_ASSERT(image_is(8 * 512, 16 * 512, 0, true));   /* files read zeros */
		CU_ASSERT(image_is(64 * 512, 8 * 512, 0, true));
		CU_ASSERT(image_is(24 * 512, 40 * 512, 5, false));
	}
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, one, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			VIRTIO_BLK_S_OK);
	CU_ASSERT(image_is(200 * 512, 24 * 512, 0, true));
	CU_ASSERT(image_is(224 * 512, 32 * 512, 5, false));
	CU_ASSERT(image_is(72 * 512, 128 * 512, 5, false));
	teardown();
}

#define ENGINE_TESTS(e)                                                       \
	static void test_rw_##e(void) { check_rw(DISK_ENGINE_##e); }          \
	static void test_flush_##e(void) { check_flush(DISK_ENGINE_##e); }   \
	static void test_discard_zeroes_##e(void) { check_discard_zeroes(DISK_ENGINE_##e); }
ENGINE_TESTS(SYNC)
ENGINE_TESTS(AIO)
ENGINE_TESTS(URING)

/* ---- parsing and validation (sync engine) ---- */

static void test_get_id(void)
{
	uint32_t used;

	setup(false);
	memset(hva(DATA), 0xaa, 64);
	CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_GET_ID, 0, DATA, 64, &used), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(used, 21);
	CU_ASSERT_EQUAL(memcmp(hva(DATA), "xvdb", 5), 0);   /* NUL-padded */
	CU_ASSERT_EQUAL(*hva(DATA + 19), 0);
	CU_ASSERT_EQUAL(*hva(DATA + 20), 0xaa);             /* nothing past 20 */
	memset(hva(DATA), 0xaa, 64);
	CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_GET_ID, 0, DATA, 3, &used), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(used, 4);
	CU_ASSERT_EQUAL(memcmp(hva(DATA), "xvd\xaa", 4), 0);
	/* Without a vdev: a 20-byte hash of the path, the same every time. */
	blk_dev_init(&bd, &disk, 1, "");
	CU_ASSERT_EQUAL(memcmp(bd.serial, "isle", 4), 0);
	CU_ASSERT_PTR_NULL(memchr(bd.serial, 0, sizeof(bd.serial)));
	teardown();
}

static void test_out_of_range(void)
{
	setup(false);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, SECTORS, DATA, 512), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, SECTORS - 1, DATA, 1024), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, SECTORS, DATA, 512), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, UINT64_MAX, DATA, 512), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, DATA, 512),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, SECTORS - 2, DATA, 1024), VIRTIO_BLK_S_OK);
	teardown();
}

/* An engine error (the image shrank under us: the read finds EOF) is an
 * IOERR with nothing but the status written. */
static void test_engine_error(void)
{
	uint32_t used;

	setup(false);
	CU_ASSERT_FATAL(ftruncate(img_fd, IMG_SIZE / 2) == 0);
	CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_IN, SECTORS - 8, DATA, 4096, &used), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(used, 1);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, 0, DATA, 4096), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_bad_lengths(void)
{
	uint32_t used;

	setup(false);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, 0, DATA, 100), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, 0, DATA, 513), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, 0, DATA, 511), VIRTIO_BLK_S_IOERR);
	/* No data at all: nothing to do, answered OK. */
	CU_ASSERT_EQUAL(rw(VIRTIO_BLK_T_IN, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(used, 1);
	/* A header shorter than 16 bytes, with a status byte: IOERR. */
	chain_begin();
	put_hdr(HDR, VIRTIO_BLK_T_IN, 0);
	chain_add(HDR, 8, false);
	chain_add(DATA, 512, true);
	chain_add(STATUS, 1, true);
	CU_ASSERT_EQUAL(chain_status(&used), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(used, 1);
	teardown();
}

static void test_readonly(void)
{
	const struct blk_range one[] = { { 0, 8 } };

	setup(true);
	CU_ASSERT(blk_features(&bd) & 1ULL << VIRTIO_BLK_F_RO);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_OUT, 0, DATA, 512), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_DISCARD, one, 1, 0), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, one, 1, 0), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_IN, 0, DATA, 512), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_unsupported(void)
{
	const struct blk_range ok1[] = { { 0, 8 } }, out[] = { { SECTORS - 4, 8 } };
	struct blk_range many[BLK_DWZ_SEG_MAX + 1];
	uint32_t used;

	setup(false);
	CU_ASSERT_EQUAL(simple(0x1234, 0, DATA, 512), VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_SCSI_CMD, 0, DATA, 512), VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(simple(10 /* GET_LIFETIME */, 0, DATA, 16), VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(simple(VIRTIO_BLK_T_SECURE_ERASE, 0, DATA, 16), VIRTIO_BLK_S_UNSUPP);
	/* Discard with unmap, unknown flags: UNSUPP. Out of range: IOERR. */
	if (bd.discard)
		CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_DISCARD, ok1, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
				VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, ok1, 1, 2), VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, out, 1, 0), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, ok1, 0, 0), VIRTIO_BLK_S_IOERR);
	for (unsigned int i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (struct blk_range){ i * 8, 8 };
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, many, BLK_DWZ_SEG_MAX + 1, 0),
			VIRTIO_BLK_S_UNSUPP);
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, many, BLK_DWZ_SEG_MAX, 0),
			VIRTIO_BLK_S_OK);
	many[0].num_sectors = BLK_DWZ_SECTORS_MAX + 1;
	CU_ASSERT_EQUAL(dwz(VIRTIO_BLK_T_WRITE_ZEROES, many, 1, 0), VIRTIO_BLK_S_IOERR);
	/* A range array that is not a whole number of entries. */
	chain_begin();
	put_hdr(HDR, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	chain_add(HDR, 16 + 12, false);
	chain_add(STATUS, 1, true);
	CU_ASSERT_EQUAL(chain_status(&used), VIRTIO_BLK_S_IOERR);
	teardown();
}

/* Chains that cannot be answered break the queue (the caller's job, after
 * -EIO); nothing is written and nothing completes. */
static void test_no_status(void)
{
	int before;
	uint32_t used;
	uint8_t st;

	setup(false);
	before = ncomplete;
	chain_begin();
	chain_add(STATUS, 1, true);   /* no header at all */
	CU_ASSERT_EQUAL(submit(STATUS, &st, &used), -EIO);
	CU_ASSERT_EQUAL(*hva(STATUS), 0xee);
	chain_begin();
	put_hdr(HDR, VIRTIO_BLK_T_OUT, 0);
	chain_add(HDR, 16, false);
	chain_add(DATA, 512, false);   /* no writable byte */
	CU_ASSERT_EQUAL(submit(STATUS, &st, &used), -EIO);
	CU_ASSERT_EQUAL(ncomplete, before);
	CU_ASSERT_EQUAL(vq_set_broken(&vq, "no status"), -EIO);
	CU_ASSERT_EQUAL(vq_pop(&vq, &req.elem), -EIO);
	teardown();
}

/* A full disk queue refuses at once, writing nothing; the request goes
 * through on retry. */
static int flush_done;

static void on_flush(struct disk_req *r, int64_t result)
{
	flush_done++;
}

static void test_backpressure(void)
{
	struct disk_req f = { .op = DISK_OP_FLUSH, .done = on_flush };
	int want;

	setup(false);
	disk.queue_depth = 1;
	CU_ASSERT_EQUAL(disk_submit(&disk, &f), 0);   /* takes the only slot */
	chain_begin();
	put_hdr(HDR, VIRTIO_BLK_T_OUT, 0);
	chain_add(HDR, 16, false);
	chain_add(DATA, 512, false);
	chain_add(STATUS, 1, true);
	make_avail_pop();
	*hva(STATUS) = 0xee;
	want = ncomplete + 1;
	CU_ASSERT_EQUAL(blk_handle(&bd, &disk, &req), -EAGAIN);
	CU_ASSERT_EQUAL(blk_retry(&req), -EAGAIN);
	CU_ASSERT_EQUAL(*hva(STATUS), 0xee);
	CU_ASSERT_EQUAL(ncomplete, want - 1);
	while (!flush_done)
		wait_reap();
	CU_ASSERT_EQUAL(blk_retry(&req), 0);
	while (ncomplete < want)
		wait_reap();
	CU_ASSERT_EQUAL(*hva(STATUS), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_config(void)
{
	struct virtio_blk_config c;
	uint64_t f;

	setup(false);
	blk_dev_init(&bd, &disk, 4, NULL);
	f = blk_features(&bd);
	blk_config(&bd, &c);
	CU_ASSERT_EQUAL(get_le64(&c.capacity), SECTORS);
	CU_ASSERT_EQUAL(get_le32(&c.seg_max), BLK_SEG_MAX);
	CU_ASSERT_EQUAL(get_le32(&c.blk_size), 512);
	CU_ASSERT_EQUAL(get_le16(&c.num_queues), 4);
	CU_ASSERT(f & 1ULL << VIRTIO_BLK_F_MQ);
	CU_ASSERT(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	CU_ASSERT(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	CU_ASSERT_FALSE(f & 1ULL << VIRTIO_BLK_F_RO);
	CU_ASSERT_EQUAL(get_le32(&c.max_write_zeroes_seg), BLK_DWZ_SEG_MAX);
	CU_ASSERT_EQUAL(!!(f & 1ULL << VIRTIO_BLK_F_DISCARD), bd.discard);
	if (bd.discard)
		CU_ASSERT_EQUAL(get_le32(&c.max_discard_seg), BLK_DWZ_SEG_MAX);
	teardown();
}

void unit_register(void)
{
	log_set_level(LOG_ERROR);
	UNIT_SUITE("blk_sync", UNIT_TEST(test_rw_SYNC), UNIT_TEST(test_flush_SYNC),
		   UNIT_TEST(test_discard_zeroes_SYNC));
	UNIT_SUITE("blk_aio", UNIT_TEST(test_rw_AIO), UNIT_TEST(test_flush_AIO),
		   UNIT_TEST(test_discard_zeroes_AIO));
	UNIT_SUITE("blk_uring", UNIT_TEST(test_rw_URING), UNIT_TEST(test_flush_URING),
		   UNIT_TEST(test_discard_zeroes_URING));
	UNIT_SUITE("blk_requests", UNIT_TEST(test_get_id), UNIT_TEST(test_out_of_range),
		   UNIT_TEST(test_bad_lengths), UNIT_TEST(test_engine_error),
		   UNIT_TEST(test_readonly),
		   UNIT_TEST(test_unsupported), UNIT_TEST(test_no_status),
		   UNIT_TEST(test_backpressure), UNIT_TEST(test_config));
}

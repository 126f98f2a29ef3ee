/* Unit tests for vmm/virtio/balloon_queue.c: PFN arrays merged into runs and
 * given back from a real memfd (its blocks and contents checked), bad PFNs,
 * the policy keeping pages, statistics parsing, free page reports. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/gmem.h"
#include "isle/util.h"
#include "virtio/balloon_queue.h"

#define RAM_GPA   0x100000ull
#define RAM_SIZE  (4ull << 20)
#define RAM_PFN0  (RAM_GPA >> 12)

static int fd = -1;
static uint8_t *ram;
static struct gmem gm;
static unsigned int calls, keep_all;
static uint64_t last_len;

static int64_t fake_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	calls++;
	last_len = len;
	if (keep_all)   /* the first page goes, the rest is kept (a pinned range) */
		return gmem_discard(&gm, gpa, 4096) ?: (int64_t)len - 4096;
	return gmem_discard(&gm, gpa, len);
}

static void ram_setup(struct bq *b)
{
	if (fd < 0) {
		fd = memfd_create("test-ram", MFD_CLOEXEC);
		CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, (off_t)RAM_SIZE) == 0);
		ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CU_ASSERT_FATAL(ram != MAP_FAILED);
	}
	for (uint64_t i = 0; i < RAM_SIZE; i += 4096)
		memset(ram + i, (int)(0x40 + (i >> 12) % 64), 4096);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_EQUAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, ram, fd, 0), 0);
	memset(b, 0, sizeof(*b));
	b->gm = &gm;
	b->discard = fake_discard;
	calls = keep_all = 0;
}

static uint64_t ram_blocks(void)
{
	struct stat st;

	CU_ASSERT_EQUAL(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static bool page_is(uint64_t pfn, int c)
{
	const uint8_t *p = ram + ((pfn - RAM_PFN0) << 12);

	for (unsigned int i = 0; i < 4096; i++)
		if (p[i] != (uint8_t)c)
			return false;
	return true;
}

static void elem_out(struct vq_elem *e, struct iovec *iov, unsigned int n, void *buf,
		     size_t len)
{
	vq_elem_init(e, iov, n);
	/* Two iovecs, split off-boundary, as a chain split where mappings meet. */
	iov[0] = (struct iovec){ .iov_base = buf, .iov_len = len / 2 + 1 };
	iov[1] = (struct iovec){ .iov_base = (uint8_t *)buf + len / 2 + 1,
				 .iov_len = len - len / 2 - 1 };
	e->out_num = 2;
	e->out_len = len;
}

static void test_inflate_runs_and_blocks(void)
{
	struct bq *b = calloc(1, sizeof(*b));
	uint32_t pfns[300];
	struct iovec iov[2];
	struct vq_elem e;
	unsigned int n = 0;
	uint64_t before;

	ram_setup(b);
	before = ram_blocks();
	CU_ASSERT(before >= RAM_SIZE);
	/* 256 contiguous pages in reverse order, a duplicate, two singles. */
	for (int i = 255; i >= 0; i--)
		pfns[n++] = htole32((uint32_t)(RAM_PFN0 + 16 + (uint32_t)i));
	pfns[n++] = htole32((uint32_t)(RAM_PFN0 + 20));
	pfns[n++] = htole32((uint32_t)(RAM_PFN0 + 600));
	pfns[n++] = htole32((uint32_t)(RAM_PFN0 + 900));
	elem_out(&e, iov, 2, pfns, n * sizeof(uint32_t));
	bq_inflate(b, &e);
	CU_ASSERT_EQUAL(calls, 3);                 /* three runs, not 258 pages */
	CU_ASSERT_EQUAL(b->c.inflated, 258);
	CU_ASSERT_EQUAL(b->c.bad_pfns, 0);
	CU_ASSERT_EQUAL(b->c.discard_calls, 3);
	/* The memfd really lost the blocks (what MADV_DONTNEED alone misses);
	 * looked at first: reading a hole of a shared memfd allocates a page. */
	CU_ASSERT(before - ram_blocks() >= 258 * 4096ull);
	CU_ASSERT(page_is(RAM_PFN0 + 16, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 271, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 900, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 15, 0x40 + 15));   /* the neighbours keep their data */
	CU_ASSERT(page_is(RAM_PFN0 + 272, 0x40 + 272 % 64));
	free(b);
}

/* A buffer already in order (our driver's, a fresh balloon's) is taken as
 * it is: its duplicates still count once, a gap still splits the run. */
static void test_inflate_sorted(void)
{
	static const uint32_t at[] = { 40, 41, 42, 43, 43 /* a repeat */, 44, 50 /* a gap */, 51 };
	struct bq *b = calloc(1, sizeof(*b));
	uint32_t pfns[ARRAY_SIZE(at)];
	struct iovec iov[2];
	struct vq_elem e;

	ram_setup(b);
	for (unsigned int i = 0; i < ARRAY_SIZE(at); i++)
		pfns[i] = htole32((uint32_t)(RAM_PFN0 + at[i]));
	elem_out(&e, iov, 2, pfns, sizeof(pfns));
	bq_inflate(b, &e);
	CU_ASSERT_EQUAL(calls, 2);
	CU_ASSERT_EQUAL(b->c.inflated, 7);
	CU_ASSERT(page_is(RAM_PFN0 + 44, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 45, 0x40 + 45));
	CU_ASSERT(page_is(RAM_PFN0 + 51, 0));
	free(b);
}

/* A buffer claiming more than BQ_BUF_PFNS (64 iovecs over one array of
 * 4096 PFNs): only BQ_BUF_PFNS are read, the rest counted bad unread. */
static void test_inflate_capped(void)
{
	static uint32_t pfns[BQ_CHUNK_PFNS];
	struct bq *b = calloc(1, sizeof(*b));
	struct iovec iov[64];
	struct vq_elem e;

	ram_setup(b);
	for (unsigned int i = 0; i < ARRAY_SIZE(pfns); i++)
		pfns[i] = htole32((uint32_t)(RAM_PFN0 + 1));
	vq_elem_init(&e, iov, ARRAY_SIZE(iov));
	for (unsigned int i = 0; i < ARRAY_SIZE(iov); i++)
		iov[i] = (struct iovec){ .iov_base = pfns, .iov_len = sizeof(pfns) };
	e.out_num = ARRAY_SIZE(iov);
	e.out_len = ARRAY_SIZE(iov) * sizeof(pfns);
	bq_inflate(b, &e);
	CU_ASSERT_EQUAL(b->c.bad_pfns, ARRAY_SIZE(iov) * BQ_CHUNK_PFNS - BQ_BUF_PFNS);
	CU_ASSERT_EQUAL(calls, BQ_BUF_PFNS / BQ_CHUNK_PFNS);   /* one run per chunk read */
	CU_ASSERT_EQUAL(b->c.inflated, BQ_BUF_PFNS / BQ_CHUNK_PFNS);
	free(b);
}

static void test_inflate_bad_pfns(void)
{
	struct bq *b = calloc(1, sizeof(*b));
	uint32_t pfns[5] = {
		htole32(0), htole32((uint32_t)(RAM_PFN0 - 1)), htole32(UINT32_MAX),
		htole32((uint32_t)(RAM_PFN0 + (RAM_SIZE >> 12))),      /* one past the end */
		htole32((uint32_t)(RAM_PFN0 + (RAM_SIZE >> 12) - 1)),  /* the last page: good */
	};
	struct iovec iov[2];
	struct vq_elem e;

	ram_setup(b);
	elem_out(&e, iov, 2, pfns, sizeof(pfns) + 3);   /* a trailing partial PFN: ignored */
	e.out_len = sizeof(pfns) + 2;
	iov[1].iov_len -= 1;
	bq_inflate(b, &e);
	CU_ASSERT_EQUAL(b->c.bad_pfns, 4);
	CU_ASSERT_EQUAL(b->c.inflated, 1);
	CU_ASSERT(page_is(RAM_PFN0 + (RAM_SIZE >> 12) - 1, 0));
	bq_deflate(b, &e);
	CU_ASSERT_EQUAL(b->c.deflated, 1);
	CU_ASSERT_EQUAL(b->c.bad_pfns, 8);
	free(b);
}

static void test_policy_keeps(void)
{
	struct bq *b = calloc(1, sizeof(*b));
	uint32_t pfns[64];
	struct iovec iov[2];
	struct vq_elem e;

	ram_setup(b);
	keep_all = 1;
	for (unsigned int i = 0; i < 64; i++)
		pfns[i] = htole32((uint32_t)(RAM_PFN0 + 100 + i));
	elem_out(&e, iov, 2, pfns, sizeof(pfns));
	bq_inflate(b, &e);
	CU_ASSERT_EQUAL(b->c.kept, 63);
	CU_ASSERT_EQUAL(b->c.inflated, 1);
	CU_ASSERT(page_is(RAM_PFN0 + 100, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 101, 0x40 + 101 % 64));   /* kept: untouched */
	free(b);
}

static void test_stats(void)
{
	struct bq *b = calloc(1, sizeof(*b));
	uint8_t buf[10 * 4 + 7];
	struct iovec iov[2];
	struct vq_elem e;
	const uint16_t tags[4] = { 5, 15, 99, 4 };

	ram_setup(b);
	for (unsigned int i = 0; i < 4; i++) {
		put_le16(buf + i * 10, tags[i]);
		put_le64(buf + i * 10 + 2, 1000 + i);
	}
	elem_out(&e, iov, 2, buf, sizeof(buf));
	bq_stats_update(b, &e, 42);
	CU_ASSERT_EQUAL(b->st.value[5], 1000);
	CU_ASSERT_EQUAL(b->st.value[15], 1001);
	CU_ASSERT_EQUAL(b->st.value[4], 1003);
	CU_ASSERT_EQUAL(b->st.valid, (1u << 5) | (1u << 15) | (1u << 4));
	CU_ASSERT_EQUAL(b->c.stats_unknown, 1);
	CU_ASSERT_EQUAL(b->st.when_ns, 42);
	CU_ASSERT_STRING_EQUAL(bq_stat_name(15), "direct_reclaim");
	CU_ASSERT_STRING_EQUAL(bq_stat_name(5), "total_memory");
	CU_ASSERT_PTR_NULL(bq_stat_name(16));
	free(b);
}

static void test_report(void)
{
	struct bq *b = calloc(1, sizeof(*b));
	struct iovec iov[3];
	struct vq_elem e;
	uint8_t outside[8192];

	ram_setup(b);
	vq_elem_init(&e, iov, 3);
	/* 1 MiB at page 256; an unaligned range keeps its partial pages; memory
	 * that is not guest RAM is counted, not touched. */
	iov[0] = (struct iovec){ .iov_base = ram + (256 << 12), .iov_len = 1 << 20 };
	iov[1] = (struct iovec){ .iov_base = ram + (600 << 12) + 100, .iov_len = 3 * 4096 };
	iov[2] = (struct iovec){ .iov_base = outside, .iov_len = sizeof(outside) };
	e.in_num = 3;
	e.in_len = (1 << 20) + 3 * 4096 + sizeof(outside);
	memset(outside, 7, sizeof(outside));
	bq_report(b, &e);
	CU_ASSERT_EQUAL(b->c.reported, 256 + 2);
	CU_ASSERT_EQUAL(b->c.bad_pfns, 2);
	CU_ASSERT(page_is(RAM_PFN0 + 256, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 511, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 600, 0x40 + 600 % 64));   /* partial: kept */
	CU_ASSERT(page_is(RAM_PFN0 + 601, 0));
	CU_ASSERT(page_is(RAM_PFN0 + 603, 0x40 + 603 % 64));
	CU_ASSERT_EQUAL(outside[0], 7);
	free(b);
}

void unit_register(void)
{
	UNIT_SUITE("balloon_queue",
		   UNIT_TEST(test_inflate_runs_and_blocks),
		   UNIT_TEST(test_inflate_sorted),
		   UNIT_TEST(test_inflate_capped),
		   UNIT_TEST(test_inflate_bad_pfns),
		   UNIT_TEST(test_policy_keeps),
		   UNIT_TEST(test_stats),
		   UNIT_TEST(test_report));
}

/* Unit tests for lib/dma.c: the identity address space over a gmem, a
 * non-identity test address space standing in for an IOMMU (IOVA pages
 * remapped out of order, holes, read-only and write-only pages), the copy
 * helpers' loops and faults, ranges that wrap, and the notifier list. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/dma.h"
#include "isle/util.h"

#define PG 0x1000ULL

static uint8_t ram_a[4 * PG], ram_b[2 * PG];

static void two_regions(struct gmem *gm)
{
	memset(gm, 0, sizeof(*gm));
	CU_ASSERT_EQUAL(gmem_add(gm, 0x10000, sizeof(ram_a), ram_a, -1, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(gm, 0x20000, sizeof(ram_b), ram_b, -1, 0), 0);
}

/* ---- identity ---- */

static void test_identity(void)
{
	struct gmem gm;
	struct dma_as as;
	uint64_t len;
	void *p;

	two_regions(&gm);
	dma_as_identity_init(&as, &gm);
	len = 16;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000, &len, DMA_READ, &p), 0);
	CU_ASSERT_PTR_EQUAL(p, ram_a);
	CU_ASSERT_EQUAL(len, 16);
	/* Contiguous bytes only: the request is cut at the region's end. */
	len = 100;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000 + 4 * PG - 10, &len, DMA_RW, &p), 0);
	CU_ASSERT_PTR_EQUAL(p, ram_a + 4 * PG - 10);
	CU_ASSERT_EQUAL(len, 10);
	/* Not RAM. */
	len = 1;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000 + 4 * PG, &len, DMA_WRITE, &p), -EFAULT);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NULL(p);
	len = 1;
	CU_ASSERT_EQUAL(dma_translate(&as, 0xffff, &len, DMA_READ, &p), -EFAULT);
	/* Bad arguments. */
	len = 0;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000, &len, DMA_READ, &p), -EINVAL);
	len = 1;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000, &len, 0, &p), -EINVAL);
	len = 1;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x10000, &len, 4, &p), -EINVAL);
	dma_as_destroy(&as);
}

static void test_identity_copy(void)
{
	struct gmem gm;
	struct dma_as as;
	uint8_t buf[64], back[64];

	two_regions(&gm);
	dma_as_identity_init(&as, &gm);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL(dma_write(&as, 0x10100, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(memcmp(ram_a + 0x100, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(dma_read(&as, 0x10100, back, sizeof(back)), 0);
	CU_ASSERT_EQUAL(memcmp(back, buf, sizeof(buf)), 0);
	/* Running off the end of a region into a hole. */
	CU_ASSERT_EQUAL(dma_read(&as, 0x10000 + 4 * PG - 8, back, 16), -EFAULT);
	CU_ASSERT_EQUAL(dma_write(&as, 0x20000 + 2 * PG - 1, buf, 2), -EFAULT);
	CU_ASSERT_EQUAL(dma_read(&as, 0x10000, back, 0), 0);   /* nothing to do */
	dma_as_destroy(&as);
}

/* ---- a test IOMMU: IOVA pages mapped to RAM pages with permissions ---- */

struct test_map {
	uint64_t iova;          /* page-aligned */
	uint8_t *hva;           /* backing page */
	unsigned int perm;      /* DMA_READ / DMA_WRITE */
};

/* IOVA 0x0: RAM page 2 rw; 0x1000: page 3 rw (host-contiguous with the
 * previous, but a translation never spans two IOVA pages here, as with an
 * IOMMU page walk); 0x2000: hole; 0x3000: page 0 read-only; 0x4000: page 1
 * write-only; the top page of the 64-bit space: ram_b page 0 rw. */
static const struct test_map test_maps[] = {
	{ 0x0000, ram_a + 2 * PG, DMA_RW },
	{ 0x1000, ram_a + 3 * PG, DMA_RW },
	{ 0x3000, ram_a + 0 * PG, DMA_READ },
	{ 0x4000, ram_a + 1 * PG, DMA_WRITE },
	{ UINT64_MAX - PG + 1, ram_b, DMA_RW },
};

static unsigned int test_calls;

static int test_translate(struct dma_as *as, uint64_t iova, uint64_t *len,
			  unsigned int access, void **hva)
{
	const struct test_map *maps = as->priv;

	test_calls++;
	/* The contract: the range never wraps when we are called. */
	CU_ASSERT(*len && *len - 1 <= UINT64_MAX - iova);
	for (unsigned int i = 0; i < ARRAY_SIZE(test_maps); i++) {
		const struct test_map *m = &maps[i];

		if (iova < m->iova || iova - m->iova >= PG)
			continue;
		if ((access & m->perm) != access)
			return -EPERM;
		*len = MIN(*len, PG - (iova - m->iova));
		*hva = m->hva + (iova - m->iova);
		return 0;
	}
	return -EFAULT;
}

static const struct dma_as_ops test_ops = { .name = "test", .translate = test_translate };

static void test_remapped(void)
{
	struct dma_as as;
	uint64_t len;
	void *p;
	int err;

	dma_as_init(&as, &test_ops, (void *)test_maps);
	len = 0x800;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x0c00, &len, DMA_READ, &p), 0);
	CU_ASSERT_PTR_EQUAL(p, ram_a + 2 * PG + 0xc00);
	CU_ASSERT_EQUAL(len, 0x400);   /* to the end of the page */
	/* Holes and permissions. */
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x2000, &len, DMA_READ, &p), -EFAULT);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x3000, &len, DMA_READ, &p), 0);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x3000, &len, DMA_WRITE, &p), -EPERM);
	CU_ASSERT_EQUAL(len, 0);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x3008, &len, DMA_RW, &p), -EPERM);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x4000, &len, DMA_READ, &p), -EPERM);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&as, 0x4000, &len, DMA_WRITE, &p), 0);
	CU_ASSERT_PTR_EQUAL(p, ram_a + PG);
	/* Whole-range mappings (rings): one mapping, else why not. */
	CU_ASSERT_PTR_EQUAL(dma_map_whole(&as, 0x100, 0x100, DMA_RW, &err), ram_a + 2 * PG + 0x100);
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_PTR_NULL(dma_map_whole(&as, 0xf00, 0x200, DMA_READ, &err));
	CU_ASSERT_EQUAL(err, -ERANGE);
	CU_ASSERT_PTR_NULL(dma_map_whole(&as, 0x3000, 16, DMA_WRITE, &err));
	CU_ASSERT_EQUAL(err, -EPERM);
	CU_ASSERT_PTR_NULL(dma_map_whole(&as, 0x2000, 16, DMA_READ, &err));
	CU_ASSERT_EQUAL(err, -EFAULT);
	dma_as_destroy(&as);
}

static void test_remapped_copy(void)
{
	struct dma_as as;
	uint8_t buf[0x40], back[0x40];

	memset(ram_a, 0, sizeof(ram_a));
	dma_as_init(&as, &test_ops, (void *)test_maps);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0x80 + i);
	/* Across the IOVA page boundary 0x1000: two pieces of RAM. */
	test_calls = 0;
	CU_ASSERT_EQUAL(dma_write(&as, 0x1000 - 0x10, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(test_calls, 2);
	CU_ASSERT_EQUAL(memcmp(ram_a + 3 * PG - 0x10, buf, 0x10), 0);
	CU_ASSERT_EQUAL(memcmp(ram_a + 3 * PG, buf + 0x10, 0x30), 0);
	CU_ASSERT_EQUAL(dma_read(&as, 0x1000 - 0x10, back, sizeof(back)), 0);
	CU_ASSERT_EQUAL(memcmp(back, buf, sizeof(buf)), 0);
	/* Into the hole, onto read-only and write-only pages. */
	CU_ASSERT_EQUAL(dma_read(&as, 0x2000 - 0x10, back, 0x20), -EFAULT);
	CU_ASSERT_EQUAL(dma_write(&as, 0x3000, buf, 4), -EPERM);
	CU_ASSERT_EQUAL(dma_read(&as, 0x3000, back, 4), 0);
	CU_ASSERT_EQUAL(dma_read(&as, 0x4000, back, 4), -EPERM);
	CU_ASSERT_EQUAL(dma_write(&as, 0x4000, buf, 4), 0);
	CU_ASSERT_EQUAL(memcmp(ram_a + PG, buf, 4), 0);
	dma_as_destroy(&as);
}

/* iova + len past 2^64: the ops never see a wrapping range. */
static void test_overflow(void)
{
	struct dma_as as;
	uint8_t buf[32];
	uint64_t len;
	void *p;
	int err;

	dma_as_init(&as, &test_ops, (void *)test_maps);
	/* The last page is mapped: a request past 2^64 is cut to it. */
	len = 64;
	CU_ASSERT_EQUAL(dma_translate(&as, UINT64_MAX - 15, &len, DMA_READ, &p), 0);
	CU_ASSERT_EQUAL(len, 16);
	CU_ASSERT_PTR_EQUAL(p, ram_b + PG - 16);
	len = UINT64_MAX;
	CU_ASSERT_EQUAL(dma_translate(&as, UINT64_MAX, &len, DMA_READ, &p), 0);
	CU_ASSERT_EQUAL(len, 1);
	/* Copies and whole ranges that wrap fail without touching memory. */
	test_calls = 0;
	CU_ASSERT_EQUAL(dma_read(&as, UINT64_MAX - 15, buf, sizeof(buf)), -EFAULT);
	CU_ASSERT_EQUAL(dma_write(&as, UINT64_MAX, buf, 2), -EFAULT);
	CU_ASSERT_PTR_NULL(dma_map_whole(&as, UINT64_MAX - 7, 16, DMA_READ, &err));
	CU_ASSERT_EQUAL(err, -EFAULT);
	CU_ASSERT_EQUAL(test_calls, 0);
	/* Up to exactly 2^64 - 1 is fine. */
	CU_ASSERT_EQUAL(dma_read(&as, UINT64_MAX - 15, buf, 16), 0);
	CU_ASSERT_PTR_NOT_NULL(dma_map_whole(&as, UINT64_MAX - 15, 16, DMA_READ, &err));
	dma_as_destroy(&as);
}

/* ---- notifiers ---- */

struct heard {
	unsigned int n;
	unsigned int event;
	uint64_t iova, len;
};

static void hear(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	struct heard *h = opaque;

	h->n++;
	h->event = event;
	h->iova = iova;
	h->len = len;
}

static void test_notifiers(void)
{
	struct gmem gm;
	struct dma_as as;
	struct heard a = { 0 }, b = { 0 };
	struct dma_notifier na = { .events = DMA_EV_UNMAP, .notify = hear, .opaque = &a };
	struct dma_notifier nb = { .events = DMA_EV_MAP | DMA_EV_UNMAP, .notify = hear,
				   .opaque = &b };

	two_regions(&gm);
	dma_as_identity_init(&as, &gm);
	dma_as_invalidate(&as, 0, 1);   /* nobody listens: fine */
	dma_notifier_register(&as, &na);
	dma_notifier_register(&as, &nb);
	dma_as_invalidate(&as, 0x10000, 0x2000);
	CU_ASSERT_EQUAL(a.n, 1);
	CU_ASSERT_EQUAL(b.n, 1);
	CU_ASSERT_EQUAL(a.event, DMA_EV_UNMAP);
	CU_ASSERT_EQUAL(a.iova, 0x10000);
	CU_ASSERT_EQUAL(a.len, 0x2000);
	/* Only those that asked hear about maps. */
	dma_as_notify(&as, DMA_EV_MAP, 0x3000, PG);
	CU_ASSERT_EQUAL(a.n, 1);
	CU_ASSERT_EQUAL(b.n, 2);
	CU_ASSERT_EQUAL(b.event, DMA_EV_MAP);
	/* Unregistered: silent; unregistering twice is harmless. */
	dma_notifier_unregister(&as, &na);
	dma_notifier_unregister(&as, &na);
	dma_as_invalidate(&as, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(a.n, 1);
	CU_ASSERT_EQUAL(b.n, 3);
	CU_ASSERT_EQUAL(b.len, UINT64_MAX);
	dma_notifier_unregister(&as, &nb);
	dma_as_invalidate(&as, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(b.n, 3);
	/* Registering again after unregistering works. */
	dma_notifier_register(&as, &na);
	dma_as_invalidate(&as, 5, 5);
	CU_ASSERT_EQUAL(a.n, 2);
	dma_notifier_unregister(&as, &na);
	dma_as_destroy(&as);
}

static void test_range_overlaps(void)
{
	CU_ASSERT_TRUE(dma_range_overlaps(0x1000, 0x1000, 0x1fff, 1));
	CU_ASSERT_FALSE(dma_range_overlaps(0x1000, 0x1000, 0x2000, 1));
	CU_ASSERT_FALSE(dma_range_overlaps(0x1000, 0x1000, 0xfff, 1));
	CU_ASSERT_TRUE(dma_range_overlaps(0xfff, 2, 0x1000, 0x1000));
	CU_ASSERT_FALSE(dma_range_overlaps(0x1000, 0, 0x1000, 0x1000));   /* empty */
	/* "Everything", and lengths that would run past 2^64. */
	CU_ASSERT_TRUE(dma_range_overlaps(0, UINT64_MAX, UINT64_MAX, 1));
	CU_ASSERT_TRUE(dma_range_overlaps(UINT64_MAX - 1, 100, UINT64_MAX, 1));
	CU_ASSERT_FALSE(dma_range_overlaps(UINT64_MAX - 1, 100, 0, 0x1000));
}

void unit_register(void)
{
	UNIT_SUITE("dma",
		UNIT_TEST(test_identity),
		UNIT_TEST(test_identity_copy),
		UNIT_TEST(test_remapped),
		UNIT_TEST(test_remapped_copy),
		UNIT_TEST(test_overflow),
		UNIT_TEST(test_notifiers),
		UNIT_TEST(test_range_overlaps));
}

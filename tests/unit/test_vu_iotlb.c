/* Unit tests for lib/vu_iotlb.c, a vhost-user back-end's device IOTLB:
 * updates (checked, sorted, overlaps replaced, the same mapping adding
 * permissions, an update inside a bigger entry changing nothing), lookups
 * with their permission and length cut, invalidation of ranges and of
 * everything, LRU eviction at the bound, and the address space over it:
 * a miss asks the front-end once and waits for the update another thread
 * brings (asking again every 50 ms while none comes), the dispatch thread
 * never waits, a miss nobody answers ends in
 * ACCESS_FAIL, and translations stay inside guest memory. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/vhost_types.h>

#include "cunit.h"
#include "isle/util.h"
#include "isle/vu_iotlb.h"

#define PG 0x1000ULL
#define RAM_GPA 0x100000ULL

static uint8_t ram[16 * PG];

struct sent {
	unsigned int miss, fail;
	uint64_t iova;
	uint8_t perm;
};
static struct sent sent;

static int fake_send(void *opaque, uint64_t iova, uint8_t perm, uint8_t type)
{
	CU_ASSERT_PTR_EQUAL(opaque, &sent);
	if (type == VHOST_IOTLB_MISS)
		sent.miss++;
	else if (type == VHOST_IOTLB_ACCESS_FAIL)
		sent.fail++;
	sent.iova = iova;
	sent.perm = perm;
	return 0;
}

static void test_update_lookup(void)
{
	struct vu_iotlb t;
	uint64_t len, gpa;

	CU_ASSERT_EQUAL_FATAL(vu_iotlb_init(&t, 8, 0, fake_send, &sent), 0);
	/* Refused: empty, wrapping, bad permission. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0, RAM_GPA, VHOST_ACCESS_RO), -EINVAL);
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, UINT64_MAX - 10, 0x1000, RAM_GPA, VHOST_ACCESS_RO),
			-EINVAL);
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0x1000, UINT64_MAX - 10, VHOST_ACCESS_RO),
			-EINVAL);
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0x1000, RAM_GPA, 0), -EINVAL);
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0x1000, RAM_GPA, 4), -EINVAL);
	CU_ASSERT_EQUAL(t.n, 0);

	/* Out of order in, sorted inside. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x5000, 0x1000, RAM_GPA + 0x3000, VHOST_ACCESS_RW), 0);
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0x2000, RAM_GPA, VHOST_ACCESS_RO), 0);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.e[0].iova, 0x1000);
	len = 0x3000;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x1800, &len, DMA_READ, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, RAM_GPA + 0x800);
	CU_ASSERT_EQUAL(len, 0x1800);                   /* cut at the entry's end */
	len = 4;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x1800, &len, DMA_WRITE, &gpa), -EPERM);
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x3000, &len, DMA_READ, &gpa), -ENOENT);
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x0fff, &len, DMA_READ, &gpa), -ENOENT);
	len = 0;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x1000, &len, DMA_READ, &gpa), -EINVAL);

	/* The same mapping for another access: one entry, both perms. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x1000, 0x2000, RAM_GPA, VHOST_ACCESS_WO), 0);
	CU_ASSERT_EQUAL(t.n, 2);
	len = 8;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x1000, &len, DMA_RW, &gpa), 0);
	/* Inside an entry that says so already: nothing changes. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x2000, 0x1000, RAM_GPA + 0x1000, VHOST_ACCESS_RO), 0);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.e[0].size, 0x2000);
	/* Overlapping with another translation: the new one replaces it. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x2000, 0x4000, RAM_GPA + 0x8000, VHOST_ACCESS_RO), 0);
	CU_ASSERT_EQUAL(t.n, 1);
	len = 8;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x5000, &len, DMA_READ, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, RAM_GPA + 0xb000);
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0x1000, &len, DMA_READ, &gpa), -ENOENT);

	/* Invalidation: a range, then everything. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x10000, 0x1000, RAM_GPA, VHOST_ACCESS_RO), 0);
	vu_iotlb_invalidate(&t, 0x5fff, 2);
	CU_ASSERT_EQUAL(t.n, 1);
	CU_ASSERT_EQUAL(t.e[0].iova, 0x10000);
	vu_iotlb_invalidate(&t, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(t.n, 0);
	vu_iotlb_destroy(&t);
}

static void test_lru(void)
{
	struct vu_iotlb t;
	uint64_t len, gpa;

	CU_ASSERT_EQUAL_FATAL(vu_iotlb_init(&t, 4, 0, fake_send, &sent), 0);
	for (uint64_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(vu_iotlb_update(&t, i * PG, PG, RAM_GPA, VHOST_ACCESS_RO), 0);
	len = 1;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0, &len, DMA_READ, &gpa), 0);   /* 0 is recent */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 9 * PG, PG, RAM_GPA, VHOST_ACCESS_RO), 0);
	CU_ASSERT_EQUAL(t.n, 4);
	len = 1;
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 0, &len, DMA_READ, &gpa), 0);
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, PG, &len, DMA_READ, &gpa), -ENOENT);   /* evicted */
	CU_ASSERT_EQUAL(vu_iotlb_lookup(&t, 9 * PG, &len, DMA_READ, &gpa), 0);
	for (unsigned int i = 1; i < t.n; i++)
		CU_ASSERT(t.e[i - 1].iova < t.e[i].iova);
	vu_iotlb_flush(&t);
	CU_ASSERT_EQUAL(t.n, 0);
	vu_iotlb_destroy(&t);
}

/* The front-end: answers a miss from another thread after a while. */
static void *answer_later(void *arg)
{
	usleep(20000);
	vu_iotlb_update(arg, 0x40000, PG, RAM_GPA + 2 * PG, VHOST_ACCESS_RW);
	return NULL;
}

/* A front-end that maps only on a later question (its first answers were
 * "not mapped", which vhost-user cannot say): 180 ms. */
static void *answer_much_later(void *arg)
{
	usleep(180000);
	vu_iotlb_update(arg, 0x60000, PG, RAM_GPA + 3 * PG, VHOST_ACCESS_RW);
	return NULL;
}

/* While it waits, the queue thread asks again every 50 ms, so a miss
 * answered too early (or lost) does not cost the whole deadline. */
static void test_as_reask(void)
{
	struct vu_iotlb t;
	struct vu_iotlb_as a;
	struct gmem gm = { .nr = 0 };
	pthread_t th;
	uint64_t len = 8;
	void *hva;

	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, sizeof(ram), ram, -1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(vu_iotlb_init(&t, 0, 2000, fake_send, &sent), 0);
	vu_iotlb_as_init(&a, &t, &gm);
	memset(&sent, 0, sizeof(sent));
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, answer_much_later, &t), 0);
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x60000, &len, DMA_WRITE, &hva), 0);
	CU_ASSERT_PTR_EQUAL(hva, ram + 3 * PG);
	pthread_join(th, NULL);
	CU_ASSERT(sent.miss >= 3);
	CU_ASSERT_EQUAL(sent.fail, 0);
	vu_iotlb_as_destroy(&a);
	vu_iotlb_destroy(&t);
}

static void test_as_wait(void)
{
	struct vu_iotlb t;
	struct vu_iotlb_as a;
	struct vu_iotlb_stats st;
	struct gmem gm = { .nr = 0 };
	pthread_t th;
	uint64_t len;
	void *hva;

	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, sizeof(ram), ram, -1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(vu_iotlb_init(&t, 0, 2000, fake_send, &sent), 0);
	vu_iotlb_as_init(&a, &t, &gm);
	memset(&sent, 0, sizeof(sent));

	/* A miss on a queue thread: asked once, waited for, then served. */
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, answer_later, &t), 0);
	len = 0x100;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x40010, &len, DMA_WRITE, &hva), 0);
	CU_ASSERT_PTR_EQUAL(hva, ram + 2 * PG + 0x10);
	CU_ASSERT_EQUAL(len, 0x100);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(sent.miss, 1);
	CU_ASSERT_EQUAL(sent.iova, 0x40010);
	CU_ASSERT_EQUAL(sent.perm, VHOST_ACCESS_WO);
	/* A hit now; the length stops at the entry. */
	len = 2 * PG;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x40800, &len, DMA_READ, &hva), 0);
	CU_ASSERT_EQUAL(len, 0x800);

	/* The dispatch thread asks but never waits. */
	vu_iotlb_set_dispatcher(&t, pthread_self());
	memset(&sent, 0, sizeof(sent));
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x90000, &len, DMA_READ, &hva), -EFAULT);
	CU_ASSERT_EQUAL(sent.miss, 1);
	CU_ASSERT_EQUAL(sent.fail, 0);
	/* Asked again at once: collapsed into the question in flight. */
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x90008, &len, DMA_READ, &hva), -EFAULT);
	CU_ASSERT_EQUAL(sent.miss, 1);

	/* An entry pointing outside guest memory is refused by gmem. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x50000, PG, 0x900000, VHOST_ACCESS_RW), 0);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x50000, &len, DMA_READ, &hva), -EFAULT);
	vu_iotlb_as_destroy(&a);
	vu_iotlb_destroy(&t);

	/* Nobody answers: after the wait, ACCESS_FAIL. */
	CU_ASSERT_EQUAL_FATAL(vu_iotlb_init(&t, 0, 30, fake_send, &sent), 0);
	vu_iotlb_as_init(&a, &t, &gm);
	memset(&sent, 0, sizeof(sent));
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x70000, &len, DMA_READ, &hva), -EFAULT);
	CU_ASSERT(sent.miss >= 1);
	CU_ASSERT_EQUAL(sent.fail, 1);
	CU_ASSERT_EQUAL(sent.iova, 0x70000);
	/* A mapping without the access asked for fails the same way. */
	CU_ASSERT_EQUAL(vu_iotlb_update(&t, 0x80000, PG, RAM_GPA, VHOST_ACCESS_RO), 0);
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&a.as, 0x80000, &len, DMA_WRITE, &hva), -EPERM);
	CU_ASSERT_EQUAL(sent.fail, 2);
	vu_iotlb_get_stats(&t, &st);
	CU_ASSERT_EQUAL(st.access_fails, 2);
	CU_ASSERT(st.timeouts >= 2);
	vu_iotlb_as_destroy(&a);
	vu_iotlb_destroy(&t);
}

void unit_register(void)
{
	UNIT_SUITE("vu_iotlb",
		   UNIT_TEST(test_update_lookup),
		   UNIT_TEST(test_lru),
		   UNIT_TEST(test_as_wait), UNIT_TEST(test_as_reask));
}

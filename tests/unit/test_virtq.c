/* Unit tests for lib/virtq.c and lib/virtq_inflight.c: the test plays the
 * driver, building rings in calloc'd "guest RAM" (two adjacent regions, so
 * buffers and ring parts can straddle a boundary), and checks what the
 * device side makes of good rings and of hostile ones. The device reaches
 * the RAM through the identity DMA address space, or through a test one
 * with a read-only window (as an IOMMU page without write permission). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"

#define RAM_GPA   0x100000ULL
#define RAM_SIZE  (1 * MiB)
#define RAM2_GPA  (RAM_GPA + RAM_SIZE)   /* adjacent, separately allocated */
#define RAM2_SIZE (64 * KiB)
#define DATA      (RAM_GPA + 0x80000)    /* buffers */
#define TABLE     (RAM_GPA + 0xc0000)    /* indirect tables */

static uint8_t *ram, *ram2;
static struct gmem gm;
static struct dma_as as;       /* identity over gm */
static struct dma_as ro_as;    /* gm with [ro_lo, ro_hi) read-only */
static uint64_t ro_lo, ro_hi;

struct drv {
	unsigned int num;
	uint64_t desc, avail, used;
	uint16_t avail_idx;
	struct vq vq;
	struct iovec iov[64];
	struct vq_elem elem;
};

static void ram_setup(void)
{
	ram = calloc(1, RAM_SIZE);
	ram2 = calloc(1, RAM2_SIZE);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_FATAL(ram && ram2);
	CU_ASSERT_EQUAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, ram, -1, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(&gm, RAM2_GPA, RAM2_SIZE, ram2, -1, 0), 0);
	dma_as_identity_init(&as, &gm);
}

static void ram_teardown(void)
{
	free(ram);
	free(ram2);
	ram = ram2 = NULL;
}

static uint8_t *hva(uint64_t gpa)
{
	uint64_t len = 1;
	uint8_t *p = gmem_gpa_to_hva(&gm, gpa, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static struct vq_config drv_config(unsigned int num, unsigned int flags)
{
	struct vq_config c = { .num = num, .flags = flags };

	c.desc_gpa = RAM_GPA;
	c.avail_gpa = RAM_GPA + 16ULL * num;
	c.used_gpa = ALIGN_UP(c.avail_gpa + 6 + 2ULL * num, 4ULL);
	return c;
}

static void drv_setup(struct drv *d, unsigned int num, unsigned int flags)
{
	struct vq_config c = drv_config(num, flags);

	ram_setup();
	memset(d, 0, sizeof(*d));
	d->num = num;
	d->desc = c.desc_gpa;
	d->avail = c.avail_gpa;
	d->used = c.used_gpa;
	CU_ASSERT_EQUAL_FATAL(vq_init(&d->vq, &as, &c), 0);
	vq_elem_init(&d->elem, d->iov, ARRAY_SIZE(d->iov));
}

/* A descriptor in any table (the ring's or an indirect one). */
static void put_desc(uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = hva(table + 16ULL * i);

	put_le64(p, addr);
	put_le32(p + 8, len);
	put_le16(p + 12, flags);
	put_le16(p + 14, next);
}

static void drv_desc(struct drv *d, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	put_desc(d->desc, i, addr, len, flags, next);
}

static void drv_set_avail_idx(struct drv *d, uint16_t idx)
{
	d->avail_idx = idx;
	put_le16(hva(d->avail + 2), idx);
}

static void drv_avail(struct drv *d, uint16_t head)
{
	put_le16(hva(d->avail + 4 + 2ULL * (d->avail_idx % d->num)), head);
	drv_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
}

static uint16_t drv_used_idx(struct drv *d)
{
	return get_le16(hva(d->used + 2));
}

static uint32_t drv_used_id(struct drv *d, uint16_t slot)
{
	return get_le32(hva(d->used + 4 + 8ULL * (slot % d->num)));
}

static uint32_t drv_used_len(struct drv *d, uint16_t slot)
{
	return get_le32(hva(d->used + 8 + 8ULL * (slot % d->num)));
}

static void drv_set_used_event(struct drv *d, uint16_t v)
{
	put_le16(hva(d->avail + 4 + 2ULL * d->num), v);
}

static uint16_t drv_avail_event(struct drv *d)
{
	return get_le16(hva(d->used + 4 + 8ULL * d->num));
}

/* A chain the test made available must break the ring, for good. */
static void expect_broken(struct drv *d)
{
	uint16_t last = vq_get_last_avail(&d->vq);

	CU_ASSERT_EQUAL(vq_pop(&d->vq, &d->elem), -EIO);
	CU_ASSERT_TRUE(vq_is_broken(&d->vq));
	CU_ASSERT_PTR_NOT_NULL(vq_broken_reason(&d->vq));
	CU_ASSERT_EQUAL(vq_get_last_avail(&d->vq), last);
	/* Even a good chain added afterwards does not revive it. */
	drv_desc(d, 0, DATA, 8, 0, 0);
	drv_avail(d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d->vq, &d->elem), -EIO);
	CU_ASSERT_EQUAL(vq_pop(&d->vq, &d->elem), -EIO);
}

static void test_init_ok(void)
{
	struct vq_config c;
	struct vq vq;

	ram_setup();
	c = drv_config(256, VQ_F_EVENT_IDX);
	CU_ASSERT_EQUAL(vq_init(&vq, &as, &c), 0);
	CU_ASSERT_EQUAL(vq.num, 256);
	CU_ASSERT_FALSE(vq_is_broken(&vq));
	CU_ASSERT_PTR_NULL(vq_broken_reason(&vq));
	CU_ASSERT_EQUAL(vq_get_last_avail(&vq), 0);
	CU_ASSERT_EQUAL(vq_get_used_idx(&vq), 0);
	/* The largest queue fits in 1 MiB: 512 + 64 + 256 KiB. */
	c = drv_config(32768, 0);
	CU_ASSERT_EQUAL(vq_init(&vq, &as, &c), 0);
	c = drv_config(1, 0);
	CU_ASSERT_EQUAL(vq_init(&vq, &as, &c), 0);
	/* Rings ending exactly at the end of a region. */
	c.num = 16;
	c.desc_gpa = RAM2_GPA;
	c.used_gpa = RAM2_GPA + 256;
	c.avail_gpa = RAM2_GPA + RAM2_SIZE - 38;
	CU_ASSERT_EQUAL(vq_init(&vq, &as, &c), 0);
	CU_ASSERT_EQUAL(vq_flags_from_features(1ULL << VIRTIO_RING_F_EVENT_IDX |
					       1ULL << VIRTIO_F_VERSION_1),
			VQ_F_EVENT_IDX);
	CU_ASSERT_EQUAL(vq_flags_from_features(1ULL << VIRTIO_RING_F_INDIRECT_DESC),
			VQ_F_INDIRECT_DESC);
	ram_teardown();
}

static void expect_init_fails(struct vq_config c)
{
	struct vq vq, before;

	memset(&vq, 0xa5, sizeof(vq));
	before = vq;
	CU_ASSERT_EQUAL(vq_init(&vq, &as, &c), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&vq, &before, sizeof(vq)), 0);
}

static void test_init_bad(void)
{
	struct vq_config c, good;

	ram_setup();
	good = drv_config(256, 0);
	c = good; c.num = 0; expect_init_fails(c);
	c = good; c.num = 3; expect_init_fails(c);
	c = good; c.num = 384; expect_init_fails(c);
	c = good; c.num = 65536; expect_init_fails(c);
	c = good; c.max_num = 128; expect_init_fails(c);
	c = good; c.flags = 1u << 7; expect_init_fails(c);
	/* Alignment. */
	c = good; c.desc_gpa += 8; expect_init_fails(c);
	c = good; c.avail_gpa += 1; expect_init_fails(c);
	c = good; c.used_gpa += 2; expect_init_fails(c);
	/* Outside RAM, partly outside, straddling the two regions. */
	c = good; c.desc_gpa = 0x1000; expect_init_fails(c);
	c = good; c.avail_gpa = RAM2_GPA + RAM2_SIZE - 512; expect_init_fails(c);
	c = good; c.used_gpa = RAM2_GPA + RAM2_SIZE - 2048; expect_init_fails(c);
	c = good; c.desc_gpa = RAM2_GPA - 2048; expect_init_fails(c);
	c = good; c.avail_gpa = RAM2_GPA - 256; expect_init_fails(c);
	c = good; c.used_gpa = RAM2_GPA - 1024; expect_init_fails(c);
	/* used_event / avail_event are part of the rings: one byte short. */
	c = good; c.avail_gpa = RAM2_GPA + RAM2_SIZE - (6 + 512) + 2; expect_init_fails(c);
	c = good; c.used_gpa = RAM2_GPA + RAM2_SIZE - 2052; expect_init_fails(c);
	c = good; c.desc_gpa = UINT64_MAX - 15; expect_init_fails(c);
	ram_teardown();
}

static void test_pop_empty(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	ram_teardown();
}

static void test_direct_chain(void)
{
	struct drv d;

	drv_setup(&d, 16, 0);
	drv_desc(&d, 5, DATA, 16, VRING_DESC_F_NEXT, 9);
	drv_desc(&d, 9, DATA + 0x1000, 512, VRING_DESC_F_NEXT, 2);
	drv_desc(&d, 2, DATA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 5);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 5);
	CU_ASSERT_EQUAL(d.elem.out_num, 2);
	CU_ASSERT_EQUAL(d.elem.in_num, 1);
	CU_ASSERT_EQUAL(d.elem.out_len, 528);
	CU_ASSERT_EQUAL(d.elem.in_len, 1);
	CU_ASSERT_PTR_EQUAL(d.iov[0].iov_base, hva(DATA));
	CU_ASSERT_EQUAL(d.iov[0].iov_len, 16);
	CU_ASSERT_PTR_EQUAL(d.iov[1].iov_base, hva(DATA + 0x1000));
	CU_ASSERT_EQUAL(d.iov[1].iov_len, 512);
	CU_ASSERT_PTR_EQUAL(d.iov[2].iov_base, hva(DATA + 0x2000));
	CU_ASSERT_EQUAL(d.iov[2].iov_len, 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);

	CU_ASSERT_EQUAL(vq_push(&d.vq, d.elem.head, 1), 0);
	CU_ASSERT_EQUAL(drv_used_idx(&d), 1);
	CU_ASSERT_EQUAL(drv_used_id(&d, 0), 5);
	CU_ASSERT_EQUAL(drv_used_len(&d, 0), 1);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 16, 0), -EINVAL);
	CU_ASSERT_EQUAL(drv_used_idx(&d), 1);

	/* Zero-length buffers are legal and take no iovec. */
	drv_desc(&d, 0, DATA, 0, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, DATA, 4, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.out_num, 0);
	CU_ASSERT_EQUAL(d.elem.in_num, 1);
	ram_teardown();
}

static void test_indirect_chain(void)
{
	struct drv d;

	drv_setup(&d, 8, VQ_F_INDIRECT_DESC);
	put_desc(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 2);
	put_desc(TABLE, 2, DATA + 0x100, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(TABLE, 1, DATA + 0x200, 1, VRING_DESC_F_WRITE, 0);
	/* The indirect descriptor's own WRITE flag is ignored (spec). */
	drv_desc(&d, 3, TABLE, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 3);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 3);
	CU_ASSERT_EQUAL(d.elem.out_num, 1);
	CU_ASSERT_EQUAL(d.elem.in_num, 2);
	CU_ASSERT_EQUAL(d.elem.out_len, 16);
	CU_ASSERT_EQUAL(d.elem.in_len, 101);
	CU_ASSERT_PTR_EQUAL(d.iov[1].iov_base, hva(DATA + 0x100));
	CU_ASSERT_PTR_EQUAL(d.iov[2].iov_base, hva(DATA + 0x200));

	/* Direct descriptors first, then an indirect one ending the chain. */
	drv_desc(&d, 0, DATA + 0x300, 8, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, TABLE + 0x100, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(TABLE + 0x100, 0, DATA + 0x400, 8, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE + 0x100, 1, DATA + 0x500, 64, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.out_num, 2);
	CU_ASSERT_EQUAL(d.elem.in_num, 1);
	CU_ASSERT_EQUAL(d.elem.out_len, 16);
	CU_ASSERT_EQUAL(d.elem.in_len, 64);
	CU_ASSERT_PTR_EQUAL(d.iov[1].iov_base, hva(DATA + 0x400));

	/* A table larger than the queue is fine: it is bounded by its own size. */
	for (unsigned int i = 0; i < 20; i++)
		put_desc(TABLE + 0x1000, i, DATA + 16 * i, 16,
			 i < 19 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_desc(&d, 4, TABLE + 0x1000, 20 * 16, VRING_DESC_F_INDIRECT, 0);
	drv_avail(&d, 4);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.out_num, 20);
	CU_ASSERT_EQUAL(d.elem.out_len, 320);
	CU_ASSERT_FALSE(vq_is_broken(&d.vq));
	ram_teardown();
}

static void test_split_buffer(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	/* Crosses from the first region into the second: two iovecs. */
	drv_desc(&d, 0, RAM2_GPA - 100, 300, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.in_num, 2);
	CU_ASSERT_EQUAL(d.elem.in_len, 300);
	CU_ASSERT_PTR_EQUAL(d.iov[0].iov_base, ram + RAM_SIZE - 100);
	CU_ASSERT_EQUAL(d.iov[0].iov_len, 100);
	CU_ASSERT_PTR_EQUAL(d.iov[1].iov_base, ram2);
	CU_ASSERT_EQUAL(d.iov[1].iov_len, 200);
	ram_teardown();
}

static void test_wraparound(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	/* Resume as after SET_VRING_BASE close to the 16-bit wrap. */
	drv_set_avail_idx(&d, 65530);
	put_le16(hva(d.used + 2), 65528);
	vq_set_last_avail(&d.vq, 65530);
	vq_sync_used_idx(&d.vq);
	CU_ASSERT_EQUAL(vq_get_used_idx(&d.vq), 65528);
	for (unsigned int i = 0; i < 20; i++) {
		uint16_t head = (uint16_t)(i % 8);

		drv_desc(&d, head, DATA + 64 * i, 64, VRING_DESC_F_WRITE, 0);
		drv_avail(&d, head);
		CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
		CU_ASSERT_EQUAL(d.elem.head, head);
		CU_ASSERT_PTR_EQUAL(d.iov[0].iov_base, hva(DATA + 64 * i));
		CU_ASSERT_EQUAL(vq_push(&d.vq, head, i), 0);
		CU_ASSERT_EQUAL(drv_used_id(&d, (uint16_t)(65528 + i)), head);
		CU_ASSERT_EQUAL(drv_used_len(&d, (uint16_t)(65528 + i)), i);
	}
	CU_ASSERT_EQUAL(vq_get_last_avail(&d.vq), 14);
	CU_ASSERT_EQUAL(drv_used_idx(&d), 12);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	/* A full ring across the wrap: exactly num chains. */
	for (unsigned int i = 0; i < 8; i++)
		drv_avail(&d, (uint16_t)i);
	for (unsigned int i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	ram_teardown();
}

static void test_event_idx_notify(void)
{
	struct drv d;

	drv_setup(&d, 16, VQ_F_EVENT_IDX);
	vq_push(&d.vq, 0, 0);                      /* used 1 */
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));   /* first decision: always */
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));  /* nothing new */
	drv_set_used_event(&d, 1);                 /* interrupt once used passes 1 */
	vq_push(&d.vq, 0, 0);                      /* used 2 */
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	vq_push(&d.vq, 0, 0);                      /* used 3: event 1 already passed */
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));
	drv_set_used_event(&d, 6);
	vq_push(&d.vq, 0, 0);
	vq_push(&d.vq, 0, 0);
	vq_push(&d.vq, 0, 0);                      /* used 6 */
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));
	vq_push(&d.vq, 0, 0);                      /* used 7 passes 6 */
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	/* A batch whose window (7, 10] contains the event. */
	drv_set_used_event(&d, 8);
	vq_push(&d.vq, 0, 0);
	vq_push(&d.vq, 0, 0);
	vq_push(&d.vq, 0, 0);
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	/* The avail flag means nothing with EVENT_IDX. */
	put_le16(hva(d.avail), VRING_AVAIL_F_NO_INTERRUPT);
	drv_set_used_event(&d, 10);
	vq_push(&d.vq, 0, 0);
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));

	/* Across the 16-bit wrap. */
	put_le16(hva(d.used + 2), 65534);
	vq_sync_used_idx(&d.vq);
	vq_push(&d.vq, 0, 0);                      /* 65535, first after sync */
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	drv_set_used_event(&d, 0);
	vq_push(&d.vq, 0, 0);                      /* 0: event 0 not passed yet */
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));
	vq_push(&d.vq, 0, 0);                      /* 1 */
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	drv_set_used_event(&d, 65535);             /* stale: behind us */
	vq_push(&d.vq, 0, 0);
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));
	ram_teardown();
}

static void test_no_interrupt_flag(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	vq_push(&d.vq, 1, 0);
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));  /* nothing new */
	put_le16(hva(d.avail), VRING_AVAIL_F_NO_INTERRUPT);
	vq_push(&d.vq, 1, 0);
	CU_ASSERT_FALSE(vq_should_notify(&d.vq));
	put_le16(hva(d.avail), 0);
	vq_push(&d.vq, 1, 0);
	CU_ASSERT_TRUE(vq_should_notify(&d.vq));
	ram_teardown();
}

static void test_kick_suppression(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	vq_disable_notify(&d.vq);
	CU_ASSERT_EQUAL(get_le16(hva(d.used)), VRING_USED_F_NO_NOTIFY);
	CU_ASSERT_FALSE(vq_enable_notify(&d.vq));
	CU_ASSERT_EQUAL(get_le16(hva(d.used)), 0);
	vq_disable_notify(&d.vq);
	drv_desc(&d, 0, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	CU_ASSERT_TRUE(vq_enable_notify(&d.vq));   /* a chain slipped in */
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_FALSE(vq_enable_notify(&d.vq));
	ram_teardown();

	drv_setup(&d, 8, VQ_F_EVENT_IDX);
	drv_desc(&d, 0, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	/* Finding the ring empty asks for a kick at the next chain. */
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	CU_ASSERT_EQUAL(drv_avail_event(&d), 2);
	vq_disable_notify(&d.vq);
	CU_ASSERT_EQUAL(get_le16(hva(d.used)), 0);  /* flags unused with EVENT_IDX */
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	CU_ASSERT_EQUAL(drv_avail_event(&d), 2);   /* polling: left alone */
	CU_ASSERT_FALSE(vq_enable_notify(&d.vq));
	CU_ASSERT_EQUAL(drv_avail_event(&d), 3);
	drv_avail(&d, 0);
	CU_ASSERT_TRUE(vq_enable_notify(&d.vq));
	ram_teardown();
}

static void test_unpop(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_desc(&d, 3, DATA, 8, 0, 0);
	drv_desc(&d, 4, DATA, 8, 0, 0);
	drv_avail(&d, 3);
	drv_avail(&d, 4);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 4);
	vq_unpop(&d.vq, &d.elem);
	CU_ASSERT_EQUAL(vq_get_last_avail(&d.vq), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 4);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	ram_teardown();
}

/* Hostile rings. Each builds one bad chain at head 0 and expects the ring
 * broken for good. */
static void test_bad_loops(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, DATA, 8, VRING_DESC_F_NEXT, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	drv_setup(&d, 8, 0);
	drv_desc(&d, 0, DATA, 0, VRING_DESC_F_NEXT, 0);   /* zero-length self loop */
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	/* A loop inside an indirect table. */
	drv_setup(&d, 8, VQ_F_INDIRECT_DESC);
	put_desc(TABLE, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE, 1, DATA, 8, VRING_DESC_F_NEXT, 0);
	drv_desc(&d, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();
}

static void test_bad_indices(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_avail(&d, 8);                  /* head ≥ num */
	expect_broken(&d);
	CU_ASSERT_STRING_EQUAL(vq_broken_reason(&d.vq), "head out of range");
	ram_teardown();

	drv_setup(&d, 8, 0);
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT, 8);   /* next ≥ num */
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	drv_setup(&d, 8, VQ_F_INDIRECT_DESC);
	put_desc(TABLE, 0, DATA, 8, VRING_DESC_F_NEXT, 2);   /* next ≥ table size */
	put_desc(TABLE, 2, DATA, 8, 0, 0);
	drv_desc(&d, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	drv_setup(&d, 8, 0);
	drv_set_avail_idx(&d, 9);          /* 9 chains in an 8-entry ring */
	expect_broken(&d);
	CU_ASSERT_STRING_EQUAL(vq_broken_reason(&d.vq), "avail index jumped");
	ram_teardown();

	drv_setup(&d, 8, 0);
	drv_set_avail_idx(&d, 0xffff);     /* "behind" us */
	expect_broken(&d);
	ram_teardown();

	/* Jump detected relative to where we are, after a wrap too. */
	drv_setup(&d, 8, 0);
	vq_set_last_avail(&d.vq, 65533);
	drv_set_avail_idx(&d, (uint16_t)(65533 + 9));
	expect_broken(&d);
	ram_teardown();
}

static void test_bad_buffers(void)
{
	static const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ DATA, 0xffffffff },                  /* runs out of RAM */
		{ UINT64_MAX - 15, 32 },               /* wraps */
		{ UINT64_MAX, 2 },
		{ 0x1000, 8 },                         /* below RAM */
		{ RAM2_GPA + RAM2_SIZE - 10, 20 },     /* runs off the end */
		{ RAM2_GPA + RAM2_SIZE, 1 },
	};
	struct drv d;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		drv_setup(&d, 8, 0);
		drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
		drv_desc(&d, 1, bad[i].addr, bad[i].len, VRING_DESC_F_WRITE, 0);
		drv_avail(&d, 0);
		expect_broken(&d);
		ram_teardown();
	}
}

static void test_bad_order(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	drv_desc(&d, 1, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	/* Even after a zero-length writable buffer. */
	drv_setup(&d, 8, 0);
	drv_desc(&d, 0, DATA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	drv_desc(&d, 1, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();

	/* Writable in the ring, readable in the indirect table after it. */
	drv_setup(&d, 8, VQ_F_INDIRECT_DESC);
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	drv_desc(&d, 1, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(TABLE, 0, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();
}

static void test_bad_indirect(void)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		unsigned int vqflags;
	} bad[] = {
		{ TABLE, 16, VRING_DESC_F_INDIRECT, 0 },                      /* no feature */
		{ TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, VQ_F_INDIRECT_DESC },
		{ TABLE, 40, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC },     /* not ×16 */
		{ TABLE, 0, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC },
		{ TABLE, 0x100010, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC }, /* > 2^16 entries */
		{ 0x2000, 16, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC },    /* outside RAM */
		{ RAM2_GPA - 16, 32, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC }, /* straddles */
		{ RAM2_GPA + RAM2_SIZE - 16, 32, VRING_DESC_F_INDIRECT, VQ_F_INDIRECT_DESC },
	};
	struct drv d;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		drv_setup(&d, 8, bad[i].vqflags);
		put_desc(TABLE, 0, DATA, 8, 0, 0);
		put_desc(TABLE, 1, DATA, 8, 0, 0);
		drv_desc(&d, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
		drv_desc(&d, 1, DATA, 8, 0, 0);
		drv_avail(&d, 0);
		expect_broken(&d);
		ram_teardown();
	}

	/* Nested: an indirect descriptor inside an indirect table. */
	drv_setup(&d, 8, VQ_F_INDIRECT_DESC);
	put_desc(TABLE, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE, 1, TABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(TABLE + 0x100, 0, DATA, 8, 0, 0);
	drv_desc(&d, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	CU_ASSERT_STRING_EQUAL(vq_broken_reason(&d.vq), "nested indirect descriptor");
	ram_teardown();
}

static void test_too_many_segments(void)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	d.elem.iov_cap = 2;
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, DATA, 8, VRING_DESC_F_NEXT, 2);
	drv_desc(&d, 2, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	CU_ASSERT_STRING_EQUAL(vq_broken_reason(&d.vq), "too many segments");
	ram_teardown();

	/* Region splits count too. */
	drv_setup(&d, 8, 0);
	d.elem.iov_cap = 2;
	drv_desc(&d, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, RAM2_GPA - 8, 16, 0, 0);
	drv_avail(&d, 0);
	expect_broken(&d);
	ram_teardown();
}

static void test_reinit_clears_broken(void)
{
	struct drv d;
	struct vq_config c;

	drv_setup(&d, 8, 0);
	drv_avail(&d, 200);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), -EIO);
	/* The driver resets the device and sets the queue up again. */
	memset(ram, 0, RAM_SIZE);
	c = drv_config(8, 0);
	CU_ASSERT_EQUAL(vq_init(&d.vq, &as, &c), 0);
	CU_ASSERT_FALSE(vq_is_broken(&d.vq));
	d.avail_idx = 0;
	drv_desc(&d, 0, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	/* An uninitialized queue is a caller bug, not a broken ring. */
	memset(&d.vq, 0, sizeof(d.vq));
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), -EINVAL);
	ram_teardown();
}

/* Inflight tracking. */
static struct vq_inflight_split *inflight_alloc(unsigned int num, size_t *size)
{
	struct vq_inflight_split *r;

	*size = vq_inflight_region_size(num);
	CU_ASSERT_EQUAL(*size % VQ_INFLIGHT_ALIGN, 0);
	CU_ASSERT_TRUE(*size >= 16 + 16 * num);
	r = aligned_alloc(VQ_INFLIGHT_ALIGN, *size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	memset(r, 0, *size);
	return r;
}

/* The backend restarts: a new vq on the same rings and region. */
static void drv_restart(struct drv *d, struct vq_inflight_split *r, size_t size)
{
	struct vq_config c = drv_config(d->num, 0);

	CU_ASSERT_EQUAL(vq_init(&d->vq, &as, &c), 0);
	vq_sync_used_idx(&d->vq);
	CU_ASSERT_EQUAL(vq_inflight_attach(&d->vq, r, size), 0);
}

static void test_inflight_order(void)
{
	struct vq_inflight_split *r;
	uint16_t heads[8];
	size_t size;
	struct drv d;
	uint64_t c0;

	drv_setup(&d, 8, 0);
	r = inflight_alloc(8, &size);
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), 0);
	CU_ASSERT_EQUAL(r->version, 1);
	CU_ASSERT_EQUAL(r->desc_num, 8);
	for (uint16_t h = 0; h < 4; h++) {
		drv_desc(&d, h, DATA + 8 * h, 8, 0, 0);
		drv_avail(&d, h);
		CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
		CU_ASSERT_EQUAL(r->desc[h].inflight, 1);
	}
	c0 = r->desc[0].counter;
	CU_ASSERT_TRUE(r->desc[1].counter > c0 && r->desc[2].counter > r->desc[1].counter &&
		       r->desc[3].counter > r->desc[2].counter);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 1, 0), 0);
	CU_ASSERT_EQUAL(r->desc[1].inflight, 0);
	CU_ASSERT_EQUAL(r->used_idx, 1);
	CU_ASSERT_EQUAL(r->last_batch_head, 1);
	/* Unpopping the newest clears its mark. */
	d.elem.head = 3;
	vq_unpop(&d.vq, &d.elem);
	CU_ASSERT_EQUAL(r->desc[3].inflight, 0);

	/* Make head 2 look older than head 0: resubmission follows counters. */
	r->desc[2].counter = c0 - 1;
	drv_restart(&d, r, size);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 1), -ENOSPC);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), 2);
	CU_ASSERT_EQUAL(heads[0], 2);
	CU_ASSERT_EQUAL(heads[1], 0);
	CU_ASSERT_EQUAL(vq_get_used_idx(&d.vq), 1);
	CU_ASSERT_EQUAL(vq_get_last_avail(&d.vq), 3);   /* 1 used + 2 inflight */
	CU_ASSERT_EQUAL(vq_resubmit(&d.vq, heads[0], &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 2);
	CU_ASSERT_PTR_EQUAL(d.iov[0].iov_base, hva(DATA + 16));
	CU_ASSERT_EQUAL(vq_resubmit(&d.vq, 8, &d.elem), -EINVAL);
	/* The unpopped chain is popped again, after the inflight ones. */
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.head, 3);
	CU_ASSERT_TRUE(r->desc[3].counter > r->desc[0].counter);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 2, 0), 0);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 0, 0), 0);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 3, 0), 0);
	CU_ASSERT_EQUAL(drv_used_idx(&d), 4);
	drv_restart(&d, r, size);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), 0);
	CU_ASSERT_EQUAL(vq_get_last_avail(&d.vq), 4);
	free(r);
	ram_teardown();
}

static void test_inflight_crash_in_push(void)
{
	struct vq_inflight_split *r;
	uint16_t heads[8];
	size_t size;
	struct drv d;

	drv_setup(&d, 8, 0);
	r = inflight_alloc(8, &size);
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), 0);
	for (uint16_t h = 0; h < 3; h++) {
		drv_desc(&d, h, DATA, 8, 0, 0);
		drv_avail(&d, h);
		CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	}
	CU_ASSERT_EQUAL(vq_push(&d.vq, 0, 0), 0);
	/* Push heads 2 and 1 as a batch but die after publishing used->idx,
	 * before clearing their flags and recording used_idx. */
	r->desc[2].next = r->last_batch_head;
	r->last_batch_head = 2;
	r->desc[1].next = r->last_batch_head;
	r->last_batch_head = 1;
	put_le32(hva(d.used + 4 + 8 * 1), 2);
	put_le32(hva(d.used + 4 + 8 * 2), 1);
	put_le16(hva(d.used + 2), 3);
	CU_ASSERT_EQUAL(r->desc[1].inflight, 1);
	CU_ASSERT_EQUAL(r->used_idx, 1);

	drv_restart(&d, r, size);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), 0);
	CU_ASSERT_EQUAL(r->desc[1].inflight, 0);
	CU_ASSERT_EQUAL(r->desc[2].inflight, 0);
	CU_ASSERT_EQUAL(r->used_idx, 3);
	CU_ASSERT_EQUAL(vq_get_last_avail(&d.vq), 3);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	free(r);
	ram_teardown();
}

static void test_inflight_bad(void)
{
	struct vq_inflight_split *r;
	uint16_t heads[8];
	size_t size;
	struct drv d;

	drv_setup(&d, 8, 0);
	r = inflight_alloc(8, &size);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), -EINVAL);   /* none */
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, 16 + 16 * 7), -EINVAL);
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, (void *)((uint8_t *)r + 4), size - 4),
			-EINVAL);
	/* A region for a bigger queue fits a smaller ring; a smaller one not. */
	r->version = 1;
	r->desc_num = 4;
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), -EINVAL);
	r->desc_num = 16;
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), 0);
	d.vq.inflight = NULL;
	r->version = 2;
	r->desc_num = 8;
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), -EINVAL);
	CU_ASSERT_PTR_NULL(d.vq.inflight);

	/* A batch list leading out of the table. */
	r->version = 1;
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), 0);
	r->used_idx = 0;
	r->last_batch_head = 1;
	r->desc[1].next = 0x4000;
	put_le16(hva(d.used + 2), 2);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), -EIO);
	CU_ASSERT_TRUE(vq_is_broken(&d.vq));
	ram_teardown();

	/* used->idx ahead of the region by more than a ring. */
	drv_setup(&d, 8, 0);
	memset(r, 0, size);
	CU_ASSERT_EQUAL(vq_inflight_attach(&d.vq, r, size), 0);
	put_le16(hva(d.used + 2), 9);
	CU_ASSERT_EQUAL(vq_inflight_recover(&d.vq, heads, 8), -EIO);
	free(r);
	ram_teardown();
}

/* ---- through a DMA address space other than the identity ---- */

static int ro_translate(struct dma_as *a, uint64_t iova, uint64_t *len, unsigned int access,
			void **p)
{
	(void)a;
	if (iova >= ro_lo && iova < ro_hi) {
		if (access & DMA_WRITE)
			return -EPERM;
		*len = MIN(*len, ro_hi - iova);
	} else if (iova < ro_lo && iova + *len - 1 >= ro_lo) {
		*len = ro_lo - iova;   /* the window is another mapping */
	}
	*p = gmem_gpa_to_hva(&gm, iova, len);
	return *p ? 0 : -EFAULT;
}

static const struct dma_as_ops ro_ops = { .name = "test-ro", .translate = ro_translate };

static void ro_setup(struct drv *d, unsigned int num, unsigned int flags)
{
	struct vq_config c = drv_config(num, flags);

	ram_setup();
	dma_as_init(&ro_as, &ro_ops, NULL);
	ro_lo = DATA;
	ro_hi = DATA + 0x1000;
	memset(d, 0, sizeof(*d));
	d->num = num;
	d->desc = c.desc_gpa;
	d->avail = c.avail_gpa;
	d->used = c.used_gpa;
	CU_ASSERT_EQUAL_FATAL(vq_init(&d->vq, &ro_as, &c), 0);
	vq_elem_init(&d->elem, d->iov, ARRAY_SIZE(d->iov));
}

static void test_dma_access(void)
{
	struct vq_config c;
	struct drv d;

	/* Device-readable buffers in the read-only window are fine, and one
	 * that runs into it is split where the mappings meet. */
	ro_setup(&d, 8, VQ_F_INDIRECT_DESC);
	drv_desc(&d, 0, DATA - 8, 24, VRING_DESC_F_NEXT, 1);
	drv_desc(&d, 1, DATA + 0x1000, 8, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL_FATAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(d.elem.out_num, 2);
	CU_ASSERT_EQUAL(d.elem.iov[0].iov_len, 8);
	CU_ASSERT_EQUAL(d.elem.iov[1].iov_len, 16);
	CU_ASSERT_EQUAL(d.elem.in_num, 1);
	/* An indirect table only needs read access. */
	put_desc(DATA, 0, DATA + 0x2000, 4, 0, 0);
	drv_desc(&d, 2, DATA, 16, VRING_DESC_F_INDIRECT, 0);
	drv_avail(&d, 2);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	/* A device-writable one there breaks the ring. */
	drv_desc(&d, 3, DATA + 0x10, 8, VRING_DESC_F_WRITE, 0);
	drv_avail(&d, 3);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), -EIO);
	CU_ASSERT_STRING_EQUAL(vq_broken_reason(&d.vq), "buffer not writable by the device");
	/* Rings: desc and avail may be read-only, the used ring may not. */
	c = drv_config(8, 0);
	c.desc_gpa = DATA;
	c.avail_gpa = DATA + 0x200;
	CU_ASSERT_EQUAL(vq_init(&d.vq, &ro_as, &c), 0);
	c.used_gpa = DATA + 0x400;
	CU_ASSERT_EQUAL(vq_init(&d.vq, &ro_as, &c), -EINVAL);
	/* A ring part across the window's edge is two mappings. */
	c = drv_config(8, 0);
	c.desc_gpa = DATA - 64;
	CU_ASSERT_EQUAL(vq_init(&d.vq, &ro_as, &c), -EINVAL);
	CU_ASSERT_EQUAL(vq_init(&d.vq, NULL, &c), -EINVAL);
	dma_as_destroy(&ro_as);
	ram_teardown();
}

struct inval_watch {
	struct vq *vq;
	unsigned int hits, events;
};

static void inval_notify(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	struct inval_watch *w = opaque;

	w->events++;
	if (event == DMA_EV_UNMAP && vq_rings_overlap(w->vq, iova, len))
		w->hits++;
}

/* How a device learns its rings went away: a notifier on its AS. */
static void test_invalidate_rings(void)
{
	struct drv d;
	struct inval_watch w = { .vq = &d.vq };
	struct dma_notifier n = { .events = DMA_EV_UNMAP, .notify = inval_notify, .opaque = &w };
	struct vq_config c;
	uint16_t last;

	drv_setup(&d, 8, 0);
	c = drv_config(8, 0);
	dma_notifier_register(&as, &n);
	dma_as_invalidate(&as, DATA, 0x1000);           /* data only */
	dma_as_notify(&as, DMA_EV_MAP, d.desc, 16);     /* not asked for */
	CU_ASSERT_EQUAL(w.events, 1);
	CU_ASSERT_EQUAL(w.hits, 0);
	dma_as_invalidate(&as, d.used + 6 + 8 * 8 - 1, 1);   /* avail_event, last byte */
	CU_ASSERT_EQUAL(w.hits, 1);
	dma_as_invalidate(&as, d.desc - 1, 1);          /* just before the table */
	CU_ASSERT_EQUAL(w.hits, 1);
	dma_as_invalidate(&as, d.avail, 1);             /* avail (after desc here) */
	CU_ASSERT_EQUAL(w.hits, 2);
	dma_as_invalidate(&as, 0, UINT64_MAX);          /* everything */
	CU_ASSERT_EQUAL(w.hits, 3);
	/* The device re-initializes and carries on where it was. */
	drv_desc(&d, 0, DATA, 8, 0, 0);
	drv_avail(&d, 0);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 1);
	CU_ASSERT_EQUAL(vq_push(&d.vq, 0, 0), 0);
	last = vq_get_last_avail(&d.vq);
	CU_ASSERT_EQUAL(vq_init(&d.vq, &as, &c), 0);
	vq_set_last_avail(&d.vq, last);
	vq_sync_used_idx(&d.vq);
	CU_ASSERT_EQUAL(vq_get_used_idx(&d.vq), 1);
	CU_ASSERT_EQUAL(vq_pop(&d.vq, &d.elem), 0);
	dma_notifier_unregister(&as, &n);
	dma_as_invalidate(&as, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(w.events, 5);
	/* A queue never initialized has no rings to lose. */
	memset(&d.vq, 0, sizeof(d.vq));
	CU_ASSERT_FALSE(vq_rings_overlap(&d.vq, 0, UINT64_MAX));
	ram_teardown();
}

void unit_register(void)
{
	log_set_level(LOG_ERROR);   /* broken rings are the point here */
	UNIT_SUITE("virtq",
		UNIT_TEST(test_init_ok),
		UNIT_TEST(test_init_bad),
		UNIT_TEST(test_pop_empty),
		UNIT_TEST(test_direct_chain),
		UNIT_TEST(test_indirect_chain),
		UNIT_TEST(test_split_buffer),
		UNIT_TEST(test_wraparound),
		UNIT_TEST(test_event_idx_notify),
		UNIT_TEST(test_no_interrupt_flag),
		UNIT_TEST(test_kick_suppression),
		UNIT_TEST(test_unpop),
		UNIT_TEST(test_bad_loops),
		UNIT_TEST(test_bad_indices),
		UNIT_TEST(test_bad_buffers),
		UNIT_TEST(test_bad_order),
		UNIT_TEST(test_bad_indirect),
		UNIT_TEST(test_too_many_segments),
		UNIT_TEST(test_reinit_clears_broken),
		UNIT_TEST(test_dma_access),
		UNIT_TEST(test_invalidate_rings));
	UNIT_SUITE("virtq_inflight",
		UNIT_TEST(test_inflight_order),
		UNIT_TEST(test_inflight_crash_in_push),
		UNIT_TEST(test_inflight_bad));
}

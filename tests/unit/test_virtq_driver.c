/* Unit tests for frontends/virtq_driver.c, hosted. The device is isle's own
 * device-side virtqueue (lib/virtq.c, vq_pop/vq_push over a struct gmem),
 * so every chain the driver builds is parsed by independent code: a real
 * cross-check of both sides. Fake guest RAM is one calloc'd region; the
 * fe_env.h hooks below translate pointers into it. Hostile-device cases
 * write the used ring by hand. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit.h"
#include "isle/gmem.h"
#include "isle/util.h"
#include "isle/virtq.h"

#include "virtq_driver.h"

#define RAM_GPA   0x100000ULL
#define RAM_SIZE  (2 * MiB)
#define RING_OFF  0                 /* DMA part of the queue */
#define BUF_OFF   (1 * MiB)         /* data buffers */

static uint8_t *ram;
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */
static void *priv;

uint64_t fe_virt_to_phys(const void *p)
{
	const uint8_t *b = p;

	/* Anything outside fake RAM gets an address the device rejects. */
	if (!ram || b < ram || b >= ram + RAM_SIZE)
		return 0xdead000000000000ULL;
	return RAM_GPA + (uint64_t)(b - ram);
}

uint64_t fe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The pair under test: our driver queue and isle's device queue on the
 * same rings. */
struct pair {
	struct vqd d;
	struct vq v;
	struct iovec iov[64];
	struct vq_elem elem;
};

static void ram_setup(void)
{
	ram = calloc(1, RAM_SIZE);
	priv = calloc(1, 1 * MiB);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_FATAL(ram && priv);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, ram, -1, 0), 0);
}

static void ram_teardown(void)
{
	free(ram);
	free(priv);
	ram = NULL;
	priv = NULL;
}

static void pair_setup(struct pair *p, unsigned int num, unsigned int flags,
		       unsigned int tables, unsigned int tmax)
{
	struct vqd_config c = { num, flags, tables, tmax };
	struct vq_config vc = { .num = num };

	ram_setup();
	memset(p, 0, sizeof(*p));
	CU_ASSERT_FATAL(vqd_dma_bytes(&c) <= BUF_OFF);
	CU_ASSERT_EQUAL_FATAL(vqd_init(&p->d, &c, ram + RING_OFF, BUF_OFF, priv, 1 * MiB), 0);
	vc.desc_gpa = p->d.desc_pa;
	vc.avail_gpa = p->d.avail_pa;
	vc.used_gpa = p->d.used_pa;
	vc.flags = (flags & VQD_F_EVENT_IDX ? VQ_F_EVENT_IDX : 0) |
		   (flags & VQD_F_INDIRECT ? VQ_F_INDIRECT_DESC : 0);
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */
	CU_ASSERT_EQUAL_FATAL(vq_init(&p->v, &as, &vc), 0);
	vq_elem_init(&p->elem, p->iov, ARRAY_SIZE(p->iov));
}

static uint8_t *buf(size_t off)
{
	return ram + BUF_OFF + off;
}

/* Adds out/in buffers of the given sizes (carved from the buffer area at
 * base) and checks what the device pops: same host addresses, same sizes,
 * same order. */
static void add_and_pop(struct pair *p, const uint32_t *outs, unsigned int n_out,
			const uint32_t *ins, unsigned int n_in, size_t base, void *token)
{
	struct vqd_sg out[16], in[16];
	size_t off = base;

	for (unsigned int i = 0; i < n_out; i++, off += outs[i - 1])
		out[i] = (struct vqd_sg){ buf(off), outs[i] };
	for (unsigned int i = 0; i < n_in; i++, off += ins[i - 1])
		in[i] = (struct vqd_sg){ buf(off), ins[i] };
	CU_ASSERT_EQUAL_FATAL(vqd_add(&p->d, out, n_out, in, n_in, token), 0);
	CU_ASSERT_EQUAL_FATAL(vq_pop(&p->v, &p->elem), 1);
	CU_ASSERT_EQUAL(p->elem.out_num, n_out);
	CU_ASSERT_EQUAL(p->elem.in_num, n_in);
	for (unsigned int i = 0; i < n_out; i++) {
		CU_ASSERT_PTR_EQUAL(p->elem.iov[i].iov_base, out[i].buf);
		CU_ASSERT_EQUAL(p->elem.iov[i].iov_len, out[i].len);
	}
	for (unsigned int i = 0; i < n_in; i++) {
		CU_ASSERT_PTR_EQUAL(p->elem.iov[n_out + i].iov_base, in[i].buf);
		CU_ASSERT_EQUAL(p->elem.iov[n_out + i].iov_len, in[i].len);
	}
}

static void expect_used(struct pair *p, void *token, uint32_t len)
{
	void *t = NULL;
	uint32_t l = 0;

	CU_ASSERT_EQUAL(vqd_get_used(&p->d, &t, &l), 1);
	CU_ASSERT_PTR_EQUAL(t, token);
	CU_ASSERT_EQUAL(l, len);
}

static void test_layout(void)
{
	struct vqd_config c = { 256, VQD_F_EVENT_IDX | VQD_F_INDIRECT, 2, 64 };
	struct vqd d;

	ram_setup();
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 0, 0, 0, 0 }), 0);
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 3, 0, 0, 0 }), 0);
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 65536, 0, 0, 0 }), 0);
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 16, 0x80, 0, 0 }), 0);
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 16, 0, 1, 17 }), 0);
	CU_ASSERT_EQUAL(vqd_dma_bytes(&(struct vqd_config){ 16, 0, 1, 0 }), 0);
	CU_ASSERT(vqd_dma_bytes(&(struct vqd_config){ 32768, 0, 0, 0 }) > 0);
	CU_ASSERT_EQUAL(vqd_priv_bytes(&(struct vqd_config){ 5, 0, 0, 0 }), 0);

	CU_ASSERT_EQUAL(vqd_init(&d, &c, ram + 8, BUF_OFF, priv, MiB), -EINVAL);
	CU_ASSERT_EQUAL(vqd_init(&d, &c, ram, vqd_dma_bytes(&c) - 1, priv, MiB), -EINVAL);
	CU_ASSERT_EQUAL(vqd_init(&d, &c, ram, BUF_OFF, priv, vqd_priv_bytes(&c) - 1), -EINVAL);
	CU_ASSERT_EQUAL(vqd_init(&d, &c, ram, vqd_dma_bytes(&c), priv, vqd_priv_bytes(&c)), 0);
	CU_ASSERT_EQUAL(d.desc_pa, RAM_GPA);
	CU_ASSERT_EQUAL(d.avail_pa, RAM_GPA + 16 * 256);
	CU_ASSERT_EQUAL(d.used_pa % 64, 0);
	CU_ASSERT(d.used_pa >= d.avail_pa + 6 + 2 * 256);
	CU_ASSERT_EQUAL(vqd_num_free(&d), 256);
	CU_ASSERT_EQUAL(vqd_inflight(&d), 0);
	CU_ASSERT_FALSE(vqd_is_broken(&d));
	CU_ASSERT_PTR_NULL(vqd_broken_reason(&d));
	ram_teardown();
}

static void test_roundtrip(void)
{
	static const uint32_t outs[] = { 16, 4096 }, ins[] = { 512, 1 };
	struct pair p;
	int token;

	pair_setup(&p, 8, 0, 0, 0);
	add_and_pop(&p, outs, 2, ins, 2, 0, &token);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 4);
	CU_ASSERT_EQUAL(vqd_inflight(&p.d), 1);
	memset(p.elem.iov[2].iov_base, 0x5a, 512);
	CU_ASSERT_EQUAL(vq_push(&p.v, p.elem.head, 513), 0);
	expect_used(&p, &token, 513);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 8);
	CU_ASSERT_EQUAL(vqd_inflight(&p.d), 0);
	CU_ASSERT_EQUAL(buf(16 + 4096)[511], 0x5a);
	/* Nothing more. */
	{
		void *t;
		uint32_t l;

		CU_ASSERT_EQUAL(vqd_get_used(&p.d, &t, &l), 0);
	}
	ram_teardown();
}

/* Many cycles with varying shapes: the free list recycles descriptors in
 * every order and the 16-bit indices wrap. */
static void test_wrap(void)
{
	struct pair p;
	uint32_t outs[4] = { 16, 100, 200, 300 }, ins[4] = { 1, 7, 64, 512 };
	unsigned int errors = 0;

	pair_setup(&p, 8, VQD_F_EVENT_IDX, 0, 0);
	for (unsigned int i = 0; i < 70000 && !errors; i++) {
		unsigned int no = 1 + i % 3, ni = i % 4;
		void *t = NULL;
		uint32_t l = 0;

		add_and_pop(&p, outs, no, ins, ni, (i % 16) * 2048, (void *)(uintptr_t)(i + 1));
		vq_push(&p.v, p.elem.head, (uint32_t)p.elem.in_len);
		if (vqd_get_used(&p.d, &t, &l) != 1 || t != (void *)(uintptr_t)(i + 1) ||
		    l != p.elem.in_len || vqd_num_free(&p.d) != 8)
			errors++;
	}
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(p.d.completed, 70000);
	CU_ASSERT_EQUAL(p.d.last_used, (uint16_t)70000);
	ram_teardown();
}

static void test_out_of_order(void)
{
	static const uint32_t outs[] = { 16 }, ins[] = { 64, 1 };
	uint16_t heads[4];
	int tokens[4];
	struct pair p;

	pair_setup(&p, 16, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		add_and_pop(&p, outs, 1, ins, 2, (size_t)i * 4096, &tokens[i]);
		heads[i] = p.elem.head;
	}
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 4);
	for (int i = 3; i >= 0; i--)
		vq_push(&p.v, heads[i], (uint32_t)i);
	for (int i = 3; i >= 0; i--)
		expect_used(&p, &tokens[i], (uint32_t)i);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 16);
	/* The recycled list still builds valid chains. */
	add_and_pop(&p, outs, 1, ins, 2, 0, &tokens[0]);
	vq_push(&p.v, p.elem.head, 65);
	expect_used(&p, &tokens[0], 65);
	ram_teardown();
}

static void test_indirect(void)
{
	static const uint32_t outs[] = { 16, 512, 512 }, ins[] = { 512, 1 };
	uint16_t heads[3];
	int tokens[3];
	struct pair p;

	pair_setup(&p, 8, VQD_F_INDIRECT, 2, 8);
	for (int i = 0; i < 3; i++) {
		add_and_pop(&p, outs, 3, ins, 2, (size_t)i * 4096, &tokens[i]);
		heads[i] = p.elem.head;
	}
	/* Two chains took one descriptor each (the two tables); the third
	 * found no table and went direct. */
	CU_ASSERT_EQUAL(p.d.added_indirect, 2);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 8 - 1 - 1 - 5);
	/* A single buffer never needs a table. */
	CU_ASSERT_EQUAL(vqd_add(&p.d, NULL, 0, &(struct vqd_sg){ buf(0), 8 }, 1, &tokens[0]), 0);
	CU_ASSERT_EQUAL(p.d.added_indirect, 2);
	CU_ASSERT_EQUAL(vq_pop(&p.v, &p.elem), 1);
	vq_push(&p.v, p.elem.head, 8);
	expect_used(&p, &tokens[0], 8);
	for (int i = 0; i < 3; i++)
		vq_push(&p.v, heads[i], 513);
	for (int i = 0; i < 3; i++)
		expect_used(&p, &tokens[i], 513);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 8);
	CU_ASSERT_EQUAL(p.d.tables_free, 2);
	ram_teardown();
}

static void test_bad_args(void)
{
	struct vqd_sg sg = { NULL, 16 }, zero = { NULL, 0 }, many[9];
	struct pair p;
	int token;

	pair_setup(&p, 8, 0, 0, 0);
	sg.buf = zero.buf = buf(0);
	for (int i = 0; i < 9; i++)
		many[i] = (struct vqd_sg){ buf(0), 16 };
	CU_ASSERT_EQUAL(vqd_add(&p.d, &sg, 0, &sg, 0, &token), -EINVAL);
	CU_ASSERT_EQUAL(vqd_add(&p.d, &sg, 1, NULL, 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vqd_add(&p.d, &zero, 1, NULL, 0, &token), -EINVAL);
	CU_ASSERT_EQUAL(vqd_add(&p.d, many, 9, NULL, 0, &token), -EINVAL);
	CU_ASSERT_EQUAL(vqd_add(&p.d, many, 5, many, 4, &token), -EINVAL);
	CU_ASSERT_EQUAL(vqd_add(&p.d, NULL, 1, NULL, 0, &token), -EINVAL);
	/* Exactly the queue size is allowed. */
	CU_ASSERT_EQUAL(vqd_add(&p.d, many, 4, many, 4, &token), 0);
	/* Ring full: -ENOSPC until something completes. */
	CU_ASSERT_EQUAL(vqd_add(&p.d, &sg, 1, NULL, 0, &token), -ENOSPC);
	CU_ASSERT_EQUAL(vq_pop(&p.v, &p.elem), 1);
	vq_push(&p.v, p.elem.head, 0);
	expect_used(&p, &token, 0);
	CU_ASSERT_EQUAL(vqd_add(&p.d, &sg, 1, NULL, 0, &token), 0);
	CU_ASSERT_FALSE(vqd_is_broken(&p.d));
	ram_teardown();
}

static void test_kick_no_event_idx(void)
{
	struct vqd_sg sg = { NULL, 16 };
	struct pair p;
	int token;

	pair_setup(&p, 8, 0, 0, 0);
	sg.buf = buf(0);
	CU_ASSERT_FALSE(vqd_kick_prepare(&p.d));         /* nothing added */
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_TRUE(vqd_kick_prepare(&p.d));
	CU_ASSERT_FALSE(vqd_kick_prepare(&p.d));         /* already decided */
	vq_disable_notify(&p.v);                         /* device polls */
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_FALSE(vqd_kick_prepare(&p.d));
	CU_ASSERT_TRUE(vq_enable_notify(&p.v));          /* and sees the chains */
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_TRUE(vqd_kick_prepare(&p.d));
	ram_teardown();
}

static void test_kick_event_idx(void)
{
	struct vqd_sg sg = { NULL, 16 };
	struct pair p;
	int token;

	pair_setup(&p, 8, VQD_F_EVENT_IDX, 0, 0);
	sg.buf = buf(0);
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_TRUE(vqd_kick_prepare(&p.d));          /* avail_event 0 crossed */
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_FALSE(vqd_kick_prepare(&p.d));         /* device not idle yet */
	CU_ASSERT_EQUAL(vq_pop(&p.v, &p.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&p.v, &p.elem), 1);
	CU_ASSERT_EQUAL(vq_pop(&p.v, &p.elem), 0);       /* idle: avail_event = 2 */
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	vqd_add(&p.d, &sg, 1, NULL, 0, &token);
	CU_ASSERT_TRUE(vqd_kick_prepare(&p.d));          /* both since the last */
	ram_teardown();
}

static void test_interrupt_suppression(void)
{
	static const uint32_t outs[] = { 16 };
	struct pair p;
	int token;

	for (unsigned int flags = 0; flags <= VQD_F_EVENT_IDX; flags += VQD_F_EVENT_IDX) {
		pair_setup(&p, 8, flags, 0, 0);
		/* Enabled at start; the device's first decision is "notify". */
		add_and_pop(&p, outs, 1, NULL, 0, 0, &token);
		vq_push(&p.v, p.elem.head, 0);
		CU_ASSERT_TRUE(vq_should_notify(&p.v));
		expect_used(&p, &token, 0);
		vqd_disable_cb(&p.d);
		for (int i = 0; i < 3; i++) {
			add_and_pop(&p, outs, 1, NULL, 0, 0, &token);
			vq_push(&p.v, p.elem.head, 0);
			CU_ASSERT_FALSE(vq_should_notify(&p.v));
			expect_used(&p, &token, 0);
		}
		add_and_pop(&p, outs, 1, NULL, 0, 0, &token);
		vq_push(&p.v, p.elem.head, 0);
		/* Completion pending: enabling must say so. */
		CU_ASSERT_TRUE(vqd_enable_cb(&p.d));
		expect_used(&p, &token, 0);
		CU_ASSERT_FALSE(vqd_enable_cb(&p.d));
		add_and_pop(&p, outs, 1, NULL, 0, 0, &token);
		vq_push(&p.v, p.elem.head, 0);
		CU_ASSERT_TRUE(vq_should_notify(&p.v));
		ram_teardown();
	}
}

/* ---- hostile devices: the used ring written by hand ------------------- */

static void used_put(struct pair *p, uint16_t slot, uint32_t id, uint32_t len)
{
	p->d.used->ring[slot % p->d.num].id = id;
	p->d.used->ring[slot % p->d.num].len = len;
}

static void used_publish(struct pair *p, uint16_t idx)
{
	__atomic_store_n(&p->d.used->idx, idx, __ATOMIC_RELEASE);
}

static void expect_broken(struct pair *p)
{
	struct vqd_sg sg = { buf(0), 16 };
	void *t = NULL;
	uint32_t l;
	int token;

	CU_ASSERT_EQUAL(vqd_get_used(&p->d, &t, &l), -EIO);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_TRUE(vqd_is_broken(&p->d));
	CU_ASSERT_PTR_NOT_NULL(vqd_broken_reason(&p->d));
	CU_ASSERT_EQUAL(vqd_add(&p->d, &sg, 1, NULL, 0, &token), -EIO);
	CU_ASSERT_FALSE(vqd_kick_prepare(&p->d));
	CU_ASSERT_EQUAL(vqd_get_used(&p->d, &t, &l), -EIO);
}

/* Sets up a queue with two chains in flight (heads returned) and no
 * device-side processing: the test plays the device. */
static void two_inflight(struct pair *p, uint16_t heads[2], int tokens[2])
{
	static const uint32_t outs[] = { 16, 16 }, ins[] = { 100 };

	pair_setup(p, 8, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		add_and_pop(p, outs, 2, ins, 1, (size_t)i * 4096, &tokens[i]);
		heads[i] = p->elem.head;
	}
}

static void test_hostile_id_range(void)
{
	struct pair p;
	uint16_t heads[2];
	int tokens[2];

	two_inflight(&p, heads, tokens);
	used_put(&p, 0, 8, 0);
	used_publish(&p, 1);
	expect_broken(&p);
	CU_ASSERT_STRING_EQUAL(vqd_broken_reason(&p.d), "used id out of range");
	used_put(&p, 0, 0xffffffffu, 0);
	expect_broken(&p);
	ram_teardown();
}

static void test_hostile_id_not_inflight(void)
{
	struct pair p;
	uint16_t heads[2];
	int tokens[2];

	/* A descriptor in the middle of a chain is not a head. */
	two_inflight(&p, heads, tokens);
	used_put(&p, 0, (uint16_t)(heads[0] + 1), 0);
	used_publish(&p, 1);
	expect_broken(&p);
	ram_teardown();

	/* A free descriptor. */
	two_inflight(&p, heads, tokens);
	used_put(&p, 0, 7, 0);
	used_publish(&p, 1);
	expect_broken(&p);
	ram_teardown();

	/* The same head twice in one batch: the second is a replay. */
	two_inflight(&p, heads, tokens);
	used_put(&p, 0, heads[0], 4);
	used_put(&p, 1, heads[0], 4);
	used_publish(&p, 2);
	expect_used(&p, &tokens[0], 4);
	expect_broken(&p);
	CU_ASSERT_STRING_EQUAL(vqd_broken_reason(&p.d), "used id is not a chain in flight");
	ram_teardown();
}

static void test_hostile_len(void)
{
	struct pair p;
	uint16_t heads[2];
	int tokens[2];

	two_inflight(&p, heads, tokens);
	used_put(&p, 0, heads[1], 100);      /* exactly the writable size: fine */
	used_put(&p, 1, heads[0], 101);
	used_publish(&p, 2);
	expect_used(&p, &tokens[1], 100);
	expect_broken(&p);
	CU_ASSERT_STRING_EQUAL(vqd_broken_reason(&p.d),
			       "used length beyond the chain's writable buffers");
	ram_teardown();
}

static void test_hostile_idx(void)
{
	struct pair p;
	uint16_t heads[2];
	int tokens[2];

	/* Three used entries with two chains in flight. */
	two_inflight(&p, heads, tokens);
	used_put(&p, 0, heads[0], 0);
	used_put(&p, 1, heads[1], 0);
	used_put(&p, 2, heads[0], 0);
	used_publish(&p, 3);
	expect_broken(&p);
	CU_ASSERT_STRING_EQUAL(vqd_broken_reason(&p.d),
			       "used index moved past the chains in flight");
	ram_teardown();

	/* Index rewound: looks like 65535 new entries. */
	two_inflight(&p, heads, tokens);
	used_put(&p, 0, heads[0], 0);
	used_publish(&p, 1);
	expect_used(&p, &tokens[0], 0);
	used_publish(&p, 0);
	expect_broken(&p);
	ram_teardown();

	/* A device that re-inits its queue state is undone by vqd_init. */
	two_inflight(&p, heads, tokens);
	used_publish(&p, 0x8000);
	expect_broken(&p);
	{
		struct vqd_config c = { 8, 0, 0, 0 };

		CU_ASSERT_EQUAL(vqd_init(&p.d, &c, ram, BUF_OFF, priv, MiB), 0);
		CU_ASSERT_FALSE(vqd_is_broken(&p.d));
		CU_ASSERT_EQUAL(vqd_num_free(&p.d), 8);
	}
	ram_teardown();
}

/* A device scribbling over the descriptor table cannot corrupt the free
 * list: the links the driver follows are private. */
static void test_hostile_desc_scribble(void)
{
	static const uint32_t outs[] = { 16, 16, 16 }, ins[] = { 32 };
	struct pair p;
	int token;

	pair_setup(&p, 8, 0, 0, 0);
	add_and_pop(&p, outs, 3, ins, 1, 0, &token);
	for (unsigned int i = 0; i < 8; i++) {
		p.d.desc[i].next = 3;
		p.d.desc[i].flags = VRING_DESC_F_NEXT;
	}
	vq_push(&p.v, p.elem.head, 32);
	expect_used(&p, &token, 32);
	CU_ASSERT_EQUAL(vqd_num_free(&p.d), 8);
	/* Every descriptor is usable again: a full-size chain works. */
	{
		static const uint32_t o8[] = { 8, 8, 8, 8, 8, 8, 8, 8 };

		add_and_pop(&p, o8, 8, NULL, 0, 0, &token);
		vq_push(&p.v, p.elem.head, 0);
		expect_used(&p, &token, 0);
	}
	CU_ASSERT_FALSE(vqd_is_broken(&p.d));
	ram_teardown();
}

/* A chain without writable buffers may only report 0 bytes. */
static void test_hostile_len_out_only(void)
{
	static const uint32_t outs[] = { 16 };
	struct pair p;
	int token;

	pair_setup(&p, 8, 0, 0, 0);
	add_and_pop(&p, outs, 1, NULL, 0, 0, &token);
	used_put(&p, 0, p.elem.head, 1);
	used_publish(&p, 1);
	expect_broken(&p);
	ram_teardown();
}

void unit_register(void)
{
	UNIT_SUITE("virtq_driver",
		   UNIT_TEST(test_layout),
		   UNIT_TEST(test_roundtrip),
		   UNIT_TEST(test_wrap),
		   UNIT_TEST(test_out_of_order),
		   UNIT_TEST(test_indirect),
		   UNIT_TEST(test_bad_args),
		   UNIT_TEST(test_kick_no_event_idx),
		   UNIT_TEST(test_kick_event_idx),
		   UNIT_TEST(test_interrupt_suppression),
		   UNIT_TEST(test_hostile_id_range),
		   UNIT_TEST(test_hostile_id_not_inflight),
		   UNIT_TEST(test_hostile_len),
		   UNIT_TEST(test_hostile_idx),
		   UNIT_TEST(test_hostile_desc_scribble),
		   UNIT_TEST(test_hostile_len_out_only));
}

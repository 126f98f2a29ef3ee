/* Unit tests for vmm/devices/vfio_pci_dma.c: a VFIO container kept equal to a
 * DMA address space. The container calls are replaced (vfio_vm_set_dma_ops)
 * by a recorder, and the address space is a fake IOMMU whose mappings the
 * test edits and then announces, as isle's VT-d does on the guest's
 * invalidations. Checked: the identity AS maps all RAM once; leaving the
 * identity unmaps it and maps what the guest mapped, one mapping per leaf,
 * so one leaf going never takes its neighbours with it; an invalidation
 * that changes nothing touches nothing; a failed walk unmaps what the range
 * held (fail closed); read-only runs are mapped read-only, write-only ones
 * not at all; going back to the identity; the shared space of identity
 * users. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/log.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"

#define RAM (1u << 20)

static uint8_t ram[RAM] __attribute__((aligned(4096)));
static struct vm vm;

/* What the container saw, in order: 'M' map (w: writable), 'U' unmap. */
struct call {
	char op;
	uint64_t iova, size;
	void *hva;
	bool w;
};
static struct call calls[64];
static unsigned int ncalls;

static int rec_open(struct vfio_container *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->nr_groups = 1;   /* as if a device had joined: unmaps happen */
	return 0;
}

static int rec_map(struct vfio_container *c, uint64_t iova, uint64_t size, void *hva,
		   bool writable, char *err, size_t errlen)
{
	if (ncalls < 64)
		calls[ncalls++] = (struct call){ 'M', iova, size, hva, writable };
	return 0;
}

static int rec_unmap(struct vfio_container *c, uint64_t iova, uint64_t size, uint64_t *un)
{
	if (ncalls < 64)
		calls[ncalls++] = (struct call){ 'U', iova, size, NULL, false };
	return 0;
}

static void rec_close(struct vfio_container *c)
{
}

static const struct vfio_dma_ops rec_ops = {
	.open = rec_open, .map = rec_map, .unmap = rec_unmap, .close = rec_close,
};

/* The fake IOMMU: identity, or 4 KiB pages iova -> ram offset. */
static bool fake_identity;
static int fake_walk_err;   /* nonzero: the walk fails with it */
static struct { uint64_t iova; uint32_t off; unsigned int perm; bool on; } pages[16];

static int fake_translate(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
			  void **hva)
{
	*len = 0;
	return -EFAULT;
}

static bool fake_is_identity(struct dma_as *as)
{
	return fake_identity;
}

static int fake_walk(struct dma_as *as, uint64_t iova, uint64_t len, dma_walk_fn fn,
		     void *opaque)
{
	uint64_t last = dma_range_last(iova, len);

	if (fake_identity)
		return 1;
	if (fake_walk_err)
		return fake_walk_err;
	/* In IOVA order: the table is kept sorted by the tests. */
	for (unsigned int i = 0; i < 16; i++) {
		int r;

		if (!pages[i].on || pages[i].iova < iova || pages[i].iova > last)
			continue;
		r = fn(opaque, pages[i].iova, ram + pages[i].off, 4096, pages[i].perm);
		if (r)
			return r;
	}
	return 0;
}

static const struct dma_as_ops fake_ops = {
	.name = "fake-iommu",
	.translate = fake_translate,
	.identity = fake_is_identity,
	.walk = fake_walk,
};

static struct dma_as fake_as;

static void setup(void)
{
	log_set_level(LOG_ERROR);
	memset(&vm, 0, sizeof(vm));
	memset(pages, 0, sizeof(pages));
	ncalls = 0;
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, 0, RAM / 2, ram, -1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, 0x100000000ULL, RAM / 2, ram + RAM / 2, -1, 0),
			      0);
	dma_as_identity_init(&vm.dma, &vm.gmem);
	dma_as_init(&fake_as, &fake_ops, NULL);
	CU_ASSERT_EQUAL_FATAL(vfio_vm_set_dma_ops(&vm, &rec_ops), 0);
}

static void page_set(unsigned int i, uint64_t iova, uint32_t off, unsigned int perm)
{
	pages[i].iova = iova;
	pages[i].off = off;
	pages[i].perm = perm;
	pages[i].on = true;
}

static void test_identity_shared(void)
{
	struct vfio_space *a, *b;
	char err[256];

	setup();
	CU_ASSERT_EQUAL_FATAL(vfio_space_get(&vm, &vm.dma, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vfio_space_start(a, &vm.dma, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ncalls, 2);
	CU_ASSERT(calls[0].op == 'M' && calls[0].iova == 0 && calls[0].size == RAM / 2 &&
		  calls[0].hva == ram && calls[0].w);
	CU_ASSERT(calls[1].op == 'M' && calls[1].iova == 0x100000000ULL &&
		  calls[1].hva == ram + RAM / 2);
	/* A second function with the same address space shares it. */
	CU_ASSERT_EQUAL_FATAL(vfio_space_get(&vm, &vm.dma, &b, err, sizeof(err)), 0);
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_EQUAL(vfio_space_start(b, &vm.dma, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ncalls, 2);
	vfio_space_put(&vm, b);
	CU_ASSERT_PTR_NOT_NULL(vm.vfio);
	vfio_space_put(&vm, a);
	CU_ASSERT_EQUAL(ncalls, 4);   /* both unmapped */
	CU_ASSERT_PTR_NULL(vm.vfio);
	dma_as_destroy(&vm.dma);
}

static void test_follow(void)
{
	struct vfio_space *s;
	char err[256];

	setup();
	fake_identity = true;
	CU_ASSERT_EQUAL_FATAL(vfio_space_get(&vm, NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vfio_space_start(s, &fake_as, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ncalls, 2);   /* translation off: all RAM */

	/* The guest turns translation on with two contiguous pages mapped:
	 * one container mapping per leaf, never merged. */
	ncalls = 0;
	fake_identity = false;
	page_set(0, 0x10000000, 0x1000, DMA_RW);
	page_set(1, 0x10001000, 0x2000, DMA_RW);
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0, UINT64_MAX);
	CU_ASSERT_EQUAL_FATAL(ncalls, 4);
	CU_ASSERT(calls[0].op == 'U' && calls[1].op == 'U');
	CU_ASSERT(calls[2].op == 'M' && calls[2].iova == 0x10000000 && calls[2].size == 4096 &&
		  calls[2].hva == ram + 0x1000 && calls[2].w);
	CU_ASSERT(calls[3].op == 'M' && calls[3].iova == 0x10001000 && calls[3].size == 4096 &&
		  calls[3].hva == ram + 0x2000);

	/* Nothing changed in the range: nothing happens. */
	ncalls = 0;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x10000000, 8192);
	CU_ASSERT_EQUAL(ncalls, 0);

	/* The second page goes: only its mapping leaves; the first page's
	 * DMA is never interrupted. */
	pages[1].on = false;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x10001000, 4096);
	CU_ASSERT_EQUAL_FATAL(ncalls, 1);
	CU_ASSERT(calls[0].op == 'U' && calls[0].iova == 0x10001000 && calls[0].size == 4096);

	/* A read-only page and a write-only one elsewhere (caching mode: the
	 * guest invalidates after mapping). */
	ncalls = 0;
	page_set(2, 0x20000000, 0x3000, DMA_READ);
	page_set(3, 0x20001000, 0x4000, DMA_WRITE);
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x20000000, 8192);
	CU_ASSERT_EQUAL_FATAL(ncalls, 1);
	CU_ASSERT(calls[0].op == 'M' && calls[0].iova == 0x20000000 && !calls[0].w);

	/* A page moved to other RAM under the same IOVA. */
	ncalls = 0;
	pages[0].off = 0x5000;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x10000000, 4096);
	CU_ASSERT_EQUAL_FATAL(ncalls, 2);
	CU_ASSERT(calls[0].op == 'U' && calls[1].op == 'M' && calls[1].hva == ram + 0x5000);

	/* A walk that fails (a malformed or endless table): what the range
	 * held leaves the container, nothing stays mapped that the guest
	 * may have revoked. */
	ncalls = 0;
	fake_walk_err = -E2BIG;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x10000000, 4096);
	fake_walk_err = 0;
	CU_ASSERT_EQUAL_FATAL(ncalls, 1);
	CU_ASSERT(calls[0].op == 'U' && calls[0].iova == 0x10000000);
	ncalls = 0;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0x10000000, 4096);
	CU_ASSERT_EQUAL_FATAL(ncalls, 1);   /* and comes back on the next sync */
	CU_ASSERT(calls[0].op == 'M' && calls[0].iova == 0x10000000);

	/* Back to the identity (translation off again). */
	ncalls = 0;
	fake_identity = true;
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(ncalls, 4);   /* two mappings out, two RAM regions in */
	CU_ASSERT(calls[2].op == 'M' && calls[2].iova == 0);
	vfio_space_put(&vm, s);
	CU_ASSERT_PTR_NULL(vm.vfio);
	dma_as_destroy(&fake_as);
	dma_as_destroy(&vm.dma);
}

/* The balloon's question: what a container maps stays, the rest goes. */
static struct { uint64_t gpa, len; } given[8];
static unsigned int ngiven;

static int give(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	if (ngiven < 8)
		given[ngiven++] = (typeof(given[0])){ gpa, len };
	return 0;
}

static void test_discard_unmapped(void)
{
	struct vfio_space *s;
	char err[256];

	setup();
	/* No container: everything goes, in one piece. */
	ngiven = 0;
	CU_ASSERT_EQUAL(vfio_vm_discard_unmapped(&vm, 0x10000, 0x8000, give, NULL), 0);
	CU_ASSERT(ngiven == 1 && given[0].gpa == 0x10000 && given[0].len == 0x8000);
	/* Translation off: the container maps all RAM, nothing goes. */
	fake_identity = true;
	CU_ASSERT_EQUAL_FATAL(vfio_space_get(&vm, NULL, &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vfio_space_start(s, &fake_as, err, sizeof(err)), 0);
	ngiven = 0;
	CU_ASSERT_EQUAL(vfio_vm_discard_unmapped(&vm, 0x10000, 0x8000, give, NULL), 0x8000);
	CU_ASSERT_EQUAL(ngiven, 0);
	/* The guest maps RAM pages 0x11000 and 0x13000 (two leaves) for DMA:
	 * a run over 0x10000-0x17fff gives three pieces around them. */
	fake_identity = false;
	page_set(0, 0x10000000, 0x11000, DMA_RW);
	page_set(1, 0x10001000, 0x13000, DMA_READ);
	dma_as_notify(&fake_as, DMA_EV_UNMAP, 0, UINT64_MAX);
	ngiven = 0;
	CU_ASSERT_EQUAL(vfio_vm_discard_unmapped(&vm, 0x10000, 0x8000, give, NULL), 0x2000);
	CU_ASSERT_EQUAL_FATAL(ngiven, 3);
	CU_ASSERT(given[0].gpa == 0x10000 && given[0].len == 0x1000);
	CU_ASSERT(given[1].gpa == 0x12000 && given[1].len == 0x1000);
	CU_ASSERT(given[2].gpa == 0x14000 && given[2].len == 0x4000);
	/* A run that starts on a mapped page and one outside RAM. */
	ngiven = 0;
	CU_ASSERT_EQUAL(vfio_vm_discard_unmapped(&vm, 0x13000, 0x2000, give, NULL), 0x1000);
	CU_ASSERT(ngiven == 1 && given[0].gpa == 0x14000);
	CU_ASSERT_EQUAL(vfio_vm_discard_unmapped(&vm, RAM / 2, 0x1000, give, NULL), -EFAULT);
	vfio_space_put(&vm, s);
	CU_ASSERT_PTR_NULL(vm.vfio);
}

void unit_register(void)
{
	UNIT_SUITE("vfio_pci_dma", UNIT_TEST(test_identity_shared), UNIT_TEST(test_follow),
		   UNIT_TEST(test_discard_unmapped));
}

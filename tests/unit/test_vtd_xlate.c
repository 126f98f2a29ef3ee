/* Unit tests for iommu/vtd_xlate.c: legacy root and context tables, the
 * second-level walk with 3 and 4 levels, 2M and 1G superpages, R/W
 * permissions (ANDed over the levels), pass-through, every DMA-remapping
 * fault reason the model implements, the context cache and IOTLB (hits,
 * LRU eviction, bounded size), and that context-cache and IOTLB
 * invalidations (global, domain, device, page-selective with AM) really
 * drop stale translations and call the notifier; vtd_walk (leaves in IOVA
 * order, clipped, permissions ANDed, bad entries skipped, no fault recorded,
 * no cache touched, stopped by fn). Guest memory is a static buffer at
 * gpa 0; tables are built in it. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "vtd_fixture.h"
#include "vtd_internal.h"

/* Expects a fault: return value, reason and that it was recorded. */
static void expect_fault(uint16_t sid, uint64_t iova, unsigned int access, int ret, uint8_t fr)
{
	struct vtd_xlate x;

	CU_ASSERT_EQUAL(vtd_translate(&v, sid, iova, access, &x), ret);
	CU_ASSERT_EQUAL(x.fault, fr);
	CU_ASSERT(x.recorded);
	CU_ASSERT_EQUAL(x.gpa, 0);
	/* clear the records so later faults are recorded too */
	vtd_mmio_write(&v, VTD_FRO + 16 * ((v.next_frcd + v.cfg.nr_frcd - 1) % v.cfg.nr_frcd) + 8,
		       VTD_FRCD_F, 8);
}

static uint64_t xl(uint16_t sid, uint64_t iova, unsigned int access, struct vtd_xlate *x)
{
	CU_ASSERT_EQUAL(vtd_translate(&v, sid, iova, access, x), 0);
	CU_ASSERT_EQUAL(x->fault, 0);
	return x->gpa;
}

static void inval_ccmd_global(void)
{
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (1ULL << 61), 8);
}

static void inval_iotlb(unsigned int gran, uint16_t did, uint64_t addr, unsigned int am)
{
	vtd_mmio_write(&v, VTD_REG_IVA, addr | am, 8);
	vtd_mmio_write(&v, VTD_REG_IOTLB, VTD_IOTLB_IVT | ((uint64_t)gran << 60) |
		       ((uint64_t)did << 32), 8);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_IOTLB, 8) >> 57) & 3, gran);
}

static void test_te_off_identity(void)
{
	struct vtd_xlate x;

	up(39);
	CU_ASSERT_EQUAL(xl(SID, 0x123456789abcULL, DMA_RW, &x), 0x123456789abcULL);
	CU_ASSERT_EQUAL(x.page_mask, UINT64_MAX);
	CU_ASSERT_EQUAL(x.perm, DMA_RW);
	down();
}

static void test_walk_3level(void)
{
	struct vtd_xlate x;
	uint64_t top;

	up(39);
	top = setup_ctx(SID, 1, 42, 0);
	map(top, 3, 0x7f12345000ULL, 0x300000, 3, 1);
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0x7f12345abcULL, DMA_RW, &x), 0x300abc);
	CU_ASSERT_EQUAL(x.page_mask, 0xfff);
	CU_ASSERT_EQUAL(x.perm, DMA_RW);
	CU_ASSERT_EQUAL(x.did, 42);
	/* the neighbouring page is not mapped */
	expect_fault(SID, 0x7f12346000ULL, DMA_READ, -EFAULT, VTD_FR_READ);
	/* another device on the same bus has no context entry */
	expect_fault(SID + 1, 0x7f12345000ULL, DMA_READ, -EFAULT, VTD_FR_CTX_P);
	down();
}

static void test_walk_4level(void)
{
	struct vtd_xlate x;
	uint64_t top;

	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	map(top, 4, 0xfedcba987000ULL, 0x1234000, 3, 1);
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0xfedcba987010ULL, DMA_WRITE, &x), 0x1234010);
	/* the same unit also takes 3-level contexts */
	top = setup_ctx(0x0200, 1, 2, 0);
	map(top, 3, 0x5000, 0x9000, 1, 1);
	CU_ASSERT_EQUAL(xl(0x0200, 0x5008, DMA_READ, &x), 0x9008);
	expect_fault(0x0200, 1ULL << 39, DMA_READ, -EFAULT, VTD_FR_ADDR_BEYOND_AW);
	expect_fault(SID, 1ULL << 48, DMA_READ, -EFAULT, VTD_FR_ADDR_BEYOND_AW);
	down();
}

static void test_superpages(void)
{
	struct vtd_xlate x;
	uint64_t top;

	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	map(top, 4, 0x40000000, 0x80000000, 3, 3);    /* 1G */
	map(top, 4, 0x200000, 0xc00000, 1, 2);        /* 2M read-only */
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0x4abcdef0, DMA_RW, &x), 0x8abcdef0);
	CU_ASSERT_EQUAL(x.page_mask, 0x3fffffff);
	CU_ASSERT_EQUAL(xl(SID, 0x3fffff, DMA_READ, &x), 0xdfffff);
	CU_ASSERT_EQUAL(x.page_mask, 0x1fffff);
	CU_ASSERT_EQUAL(x.perm, DMA_READ);
	/* a 2M leaf with address bits 20:12 set is reserved */
	wr64(next_tbl - 0x1000 + 8, 0xc01000 | 1 | (1ULL << 7));
	map(top, 4, 0x600000, 0xe01000, 1, 2);
	expect_fault(SID, 0x600000, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	/* a 1G leaf with bits 29:12 set too */
	map(top, 4, 0x80000000, 0x80200000, 1, 3);
	expect_fault(SID, 0x80000000, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	/* PS in a PML4 entry is reserved */
	wr64(top + 8, 0x40000000 | 3 | (1ULL << 7));
	expect_fault(SID, 1ULL << 39, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	down();
}

static void test_permissions(void)
{
	struct vtd_xlate x;
	uint64_t top, pde;

	up(39);
	top = setup_ctx(SID, 1, 1, 0);
	map(top, 3, 0x1000, 0x11000, 1, 1);   /* read-only */
	map(top, 3, 0x2000, 0x12000, 2, 1);   /* write-only */
	map(top, 3, 0x40000000, 0x13000, 3, 1);
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x11000);
	expect_fault(SID, 0x1000, DMA_WRITE, -EPERM, VTD_FR_WRITE);
	expect_fault(SID, 0x1000, DMA_RW, -EPERM, VTD_FR_WRITE);
	CU_ASSERT_EQUAL(xl(SID, 0x2000, DMA_WRITE, &x), 0x12000);
	expect_fault(SID, 0x2000, DMA_READ, -EPERM, VTD_FR_READ);
	/* a read-only directory entry limits the whole range below it */
	pde = get_le64(mem + top + 8);
	wr64(top + 8, pde & ~2ULL);
	inval_iotlb(VTD_INV_GLOBAL, 0, 0, 0);
	CU_ASSERT_EQUAL(xl(SID, 0x40000000, DMA_READ, &x), 0x13000);
	CU_ASSERT_EQUAL(x.perm, DMA_READ);
	expect_fault(SID, 0x40000000, DMA_WRITE, -EPERM, VTD_FR_WRITE);
	/* and the cached entry keeps the same answer */
	expect_fault(SID, 0x40000000, DMA_WRITE, -EPERM, VTD_FR_WRITE);
	CU_ASSERT(v.iotlb_hits > 0);
	down();
}

static void test_passthrough(void)
{
	struct vtd_xlate x;

	up(39);
	setup_ctx(SID, 1, 3, VTD_TT_PASSTHROUGH << 2);
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0xabcdef012345ULL, DMA_RW, &x), 0xabcdef012345ULL);
	CU_ASSERT_EQUAL(x.page_mask, UINT64_MAX);
	CU_ASSERT_EQUAL(x.did, 3);
	down();
}

static void test_context_faults(void)
{
	struct vtd_xlate x;
	uint64_t clo;

	up(39);
	setup_ctx(SID, 1, 1, 0);
	enable();
	clo = get_le64(mem + CTXT + 16 * (SID & 0xff));
	/* root entry of another bus absent */
	expect_fault(0x0500, 0, DMA_READ, -EFAULT, VTD_FR_ROOT_P);
	/* reserved bits in a root entry (low and high quad) */
	wr64(ROOT + 16 * 5, CTXT | 1 | 0x10);
	expect_fault(0x0500, 0, DMA_READ, -EFAULT, VTD_FR_ROOT_RSVD);
	wr64(ROOT + 16 * 5, CTXT | 1);
	wr64(ROOT + 16 * 5 + 8, 1);
	expect_fault(0x0500, 0, DMA_READ, -EFAULT, VTD_FR_ROOT_RSVD);
	wr64(ROOT + 16 * 5 + 8, 0);
	wr64(ROOT + 16 * 5, (1ULL << 39) | 1);    /* above the host width */
	expect_fault(0x0500, 0, DMA_READ, -EFAULT, VTD_FR_ROOT_RSVD);
	/* context table outside guest memory */
	wr64(ROOT + 16 * 5, (MEMSZ + 0x1000ULL) | 1);
	expect_fault(0x0500, 0, DMA_READ, -EFAULT, VTD_FR_CTX_ACCESS);
	/* context entry: reserved, TT 1 (no device-TLB) and 3, AGAW 48 on a
	 * 39-bit unit, AGAW 0 (2-level) */
	wr64(CTXT + 16 * (SID & 0xff), clo | 0x100);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_RSVD);
	wr64(CTXT + 16 * (SID & 0xff), clo | 1 << 2);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_TT);
	wr64(CTXT + 16 * (SID & 0xff), clo | 3 << 2);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_TT);
	wr64(CTXT + 16 * (SID & 0xff), clo);
	wr64(CTXT + 16 * (SID & 0xff) + 8, 1 << 8 | 2);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_INV);
	wr64(CTXT + 16 * (SID & 0xff) + 8, 1 << 8 | 0);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_INV);
	wr64(CTXT + 16 * (SID & 0xff) + 8, 1 << 8 | 7);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_CTX_INV);
	/* root table outside guest memory */
	vtd_mmio_write(&v, VTD_REG_RTADDR, 1ULL << 36, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_TE | VTD_GCMD_SRTP, 4);
	expect_fault(SID, 0, DMA_READ, -EFAULT, VTD_FR_ROOT_ACCESS);
	CU_ASSERT_EQUAL(vtd_translate(&v, 0xffff, UINT64_MAX, DMA_RW, &x), -EFAULT);
	down();
}

static void test_paging_faults(void)
{
	uint64_t top;

	up(39);
	top = setup_ctx(SID, 1, 1, 0);
	map(top, 3, 0x1000, 0x11000, 3, 1);
	enable();
	/* a directory pointing outside guest memory */
	wr64(top + 8 * 1, (MEMSZ + 0x10000ULL) | 3);
	expect_fault(SID, 1ULL << 30, DMA_READ, -EFAULT, VTD_FR_PAGING_ACCESS);
	/* SNP, TM and bits above the host width are reserved */
	wr64(top + 8 * 2, 0x200000 | 3 | VTD_SL_SNP);
	expect_fault(SID, 2ULL << 30, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	wr64(top + 8 * 2, 0x200000 | 3 | VTD_SL_TM);
	expect_fault(SID, 2ULL << 30, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	wr64(top + 8 * 2, 0x200000 | 3 | (1ULL << 45));
	expect_fault(SID, 2ULL << 30, DMA_READ, -EFAULT, VTD_FR_PAGING_RSVD);
	/* ignored high bits (63, 61:52) are fine */
	wr64(top + 8 * 3, 0x40000000 | 3 | (1ULL << 7) | (1ULL << 63) | (1ULL << 55));
	{
		struct vtd_xlate x;

		CU_ASSERT_EQUAL(xl(SID, (3ULL << 30) + 5, DMA_READ, &x), 0x40000005);
	}
	/* a not-present leaf for a write reports a write fault */
	expect_fault(SID, 0x2000, DMA_WRITE, -EFAULT, VTD_FR_WRITE);
	down();
}

static void test_iotlb_lru(void)
{
	struct vtd_config cfg = { .aw_bits = 39, .nr_frcd = 8, .iotlb_entries = 4 };
	struct vtd_xlate x;
	uint64_t top, i;

	up_cfg(&cfg);
	top = setup_ctx(SID, 1, 1, 0);
	for (i = 1; i <= 5; i++)
		map(top, 3, i << 12, 0x100000 + (i << 12), 3, 1);
	enable();
	for (i = 1; i <= 4; i++)
		xl(SID, i << 12, DMA_READ, &x);
	CU_ASSERT_EQUAL(v.iotlb_misses, 4);
	xl(SID, 1 << 12, DMA_READ, &x);              /* hit: 1 is now newest */
	CU_ASSERT_EQUAL(v.iotlb_hits, 1);
	xl(SID, 5 << 12, DMA_READ, &x);              /* miss: evicts 2, the LRU */
	CU_ASSERT_EQUAL(v.iotlb_misses, 5);
	xl(SID, 1 << 12, DMA_READ, &x);
	xl(SID, 3 << 12, DMA_READ, &x);
	xl(SID, 4 << 12, DMA_READ, &x);
	CU_ASSERT_EQUAL(v.iotlb_hits, 4);
	CU_ASSERT_EQUAL(v.iotlb_misses, 5);
	xl(SID, 2 << 12, DMA_READ, &x);              /* 2 was evicted */
	CU_ASSERT_EQUAL(v.iotlb_misses, 6);
	CU_ASSERT_EQUAL(x.gpa, 0x102000);
	down();
}

static void test_ctx_cache_lru(void)
{
	struct vtd_config cfg = { .aw_bits = 39, .nr_frcd = 8, .ctx_entries = 2 };
	struct vtd_xlate x;

	up_cfg(&cfg);
	setup_ctx(0x0100, 1, 1, VTD_TT_PASSTHROUGH << 2);
	setup_ctx(0x0101, 1, 2, VTD_TT_PASSTHROUGH << 2);
	setup_ctx(0x0102, 1, 3, VTD_TT_PASSTHROUGH << 2);
	enable();
	xl(0x0100, 0, DMA_READ, &x);
	xl(0x0101, 0, DMA_READ, &x);
	xl(0x0100, 0, DMA_READ, &x);
	CU_ASSERT_EQUAL(v.ctx_hits, 1);
	xl(0x0102, 0, DMA_READ, &x);    /* evicts 0x0101 */
	xl(0x0100, 0, DMA_READ, &x);
	CU_ASSERT_EQUAL(v.ctx_hits, 2);
	CU_ASSERT_EQUAL(v.ctx_misses, 3);
	xl(0x0101, 0, DMA_READ, &x);
	CU_ASSERT_EQUAL(v.ctx_misses, 4);
	/* a faulting context is not cached */
	expect_fault(0x0103, 0, DMA_READ, -EFAULT, VTD_FR_CTX_P);
	expect_fault(0x0103, 0, DMA_READ, -EFAULT, VTD_FR_CTX_P);
	CU_ASSERT_EQUAL(v.ctx_misses, 6);
	down();
}

static void test_psi_drops_stale(void)
{
	struct vtd_xlate x;
	uint64_t top;

	up(39);
	nr_inval = 0;
	vtd_set_notifier(&v, on_inval, NULL);
	top = setup_ctx(SID, 1, 9, 0);
	map(top, 3, 0x10000, 0x50000, 3, 1);
	map(top, 3, 0x20000, 0x60000, 3, 1);
	enable();
	CU_ASSERT_EQUAL(xl(SID, 0x10000, DMA_READ, &x), 0x50000);
	CU_ASSERT_EQUAL(xl(SID, 0x20000, DMA_READ, &x), 0x60000);
	/* the guest remaps both pages: the IOTLB still has the old ones */
	map(top, 3, 0x10000, 0x70000, 3, 1);
	map(top, 3, 0x20000, 0x80000, 3, 1);
	CU_ASSERT_EQUAL(xl(SID, 0x10000, DMA_READ, &x), 0x50000);
	/* a PSI for another domain or another page changes nothing */
	inval_iotlb(VTD_INV_DEVICE, 8, 0x10000, 0);
	inval_iotlb(VTD_INV_DEVICE, 9, 0x30000, 0);
	CU_ASSERT_EQUAL(xl(SID, 0x10000, DMA_READ, &x), 0x50000);
	/* the PSI for the page drops it, and only it */
	nr_inval = 0;
	inval_iotlb(VTD_INV_DEVICE, 9, 0x10000, 0);
	CU_ASSERT_EQUAL(nr_inval, 1);
	CU_ASSERT_EQUAL(last_sid, VTD_ALL);
	CU_ASSERT_EQUAL(last_did, 9);
	CU_ASSERT_EQUAL(last_iova, 0x10000);
	CU_ASSERT_EQUAL(last_len, 0x1000);
	CU_ASSERT_EQUAL(xl(SID, 0x10000, DMA_READ, &x), 0x70000);
	CU_ASSERT_EQUAL(xl(SID, 0x20000, DMA_READ, &x), 0x60000);
	/* AM=5 covers 0x00000-0x1ffff... not 0x20000; AM=6 does */
	inval_iotlb(VTD_INV_DEVICE, 9, 0x0, 5);
	CU_ASSERT_EQUAL(xl(SID, 0x20000, DMA_READ, &x), 0x60000);
	inval_iotlb(VTD_INV_DEVICE, 9, 0x3f000, 6);
	CU_ASSERT_EQUAL(last_iova, 0);
	CU_ASSERT_EQUAL(last_len, 0x40000);
	CU_ASSERT_EQUAL(xl(SID, 0x20000, DMA_READ, &x), 0x80000);
	/* a 4K PSI inside a cached 2M page drops the whole superpage */
	map(top, 3, 0x200000, 0x400000, 3, 2);
	CU_ASSERT_EQUAL(xl(SID, 0x234567, DMA_READ, &x), 0x434567);
	map(top, 3, 0x200000, 0x600000, 3, 2);
	inval_iotlb(VTD_INV_DEVICE, 9, 0x3ff000, 0);
	CU_ASSERT_EQUAL(xl(SID, 0x234567, DMA_READ, &x), 0x634567);
	down();
}

static void test_dsi_global(void)
{
	struct vtd_xlate x;
	uint64_t top1, top2;

	up(39);
	top1 = setup_ctx(0x0100, 1, 1, 0);
	top2 = setup_ctx(0x0101, 1, 2, 0);
	map(top1, 3, 0x1000, 0x11000, 3, 1);
	map(top2, 3, 0x1000, 0x21000, 3, 1);
	enable();
	xl(0x0100, 0x1000, DMA_READ, &x);
	xl(0x0101, 0x1000, DMA_READ, &x);
	map(top1, 3, 0x1000, 0x12000, 3, 1);
	map(top2, 3, 0x1000, 0x22000, 3, 1);
	inval_iotlb(VTD_INV_DOMAIN, 1, 0, 0);
	CU_ASSERT_EQUAL(xl(0x0100, 0x1000, DMA_READ, &x), 0x12000);
	CU_ASSERT_EQUAL(xl(0x0101, 0x1000, DMA_READ, &x), 0x21000);
	inval_iotlb(VTD_INV_GLOBAL, 0, 0, 0);
	CU_ASSERT_EQUAL(xl(0x0101, 0x1000, DMA_READ, &x), 0x22000);
	down();
}

static void test_ctx_invalidation(void)
{
	struct vtd_xlate x;
	uint64_t top, top2;

	up(39);
	top = setup_ctx(SID, 1, 1, 0);
	map(top, 3, 0x1000, 0x11000, 3, 1);
	enable();
	xl(SID, 0x1000, DMA_READ, &x);
	/* the guest moves the device to domain 2 with other tables */
	top2 = alloc_tbl();
	map(top2, 3, 0x1000, 0x31000, 3, 1);
	wr64(CTXT + 16 * (SID & 0xff), top2 | 1);
	wr64(CTXT + 16 * (SID & 0xff) + 8, 2 << 8 | 1);
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x11000);   /* cached */
	/* device-selective for another function (FM=0) keeps it */
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (3ULL << 61) |
		       ((uint64_t)(SID + 1) << 16) | 1, 8);
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x11000);
	/* ... with FM=1 (function bit 2 masked: functions 0 and 4) too */
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (3ULL << 61) | (1ULL << 32) |
		       ((uint64_t)(SID + 4) << 16) | 1, 8);
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x31000);
	CU_ASSERT_EQUAL(x.did, 2);
	/* domain-selective on the new domain drops it */
	wr64(CTXT + 16 * (SID & 0xff), 0);
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (2ULL << 61) | 2, 8);
	expect_fault(SID, 0x1000, DMA_READ, -EFAULT, VTD_FR_CTX_P);
	inval_ccmd_global();
	down();
}

/* Hostile inputs: self-referencing tables, every sid, addresses at the top
 * of the space; nothing crashes and nothing is mapped by accident. */
static void test_hostile(void)
{
	struct vtd_xlate x;
	uint64_t top;
	unsigned int sid;

	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	wr64(top, top | 3);                       /* PML4[0] -> itself */
	wr64(ROOT + 16 * 2, ROOT | 1);            /* bus 2's context table = root */
	enable();
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0, DMA_READ, &x), 0);   /* loop ends at level 1 */
	CU_ASSERT_EQUAL(x.gpa, top);
	for (sid = 0; sid <= 0xffff; sid += 0x81)
		vtd_translate(&v, (uint16_t)sid, UINT64_MAX - sid, DMA_RW, &x);
	for (sid = 0; sid < 4; sid++)
		vtd_translate(&v, 0x0200 | sid, 0xfffffffff000ULL, sid, &x);
	down();
}

/* ---- vtd_walk ---- */

#define WALK_MAX 16

struct walk_rec {
	unsigned int n;           /* leaves reported */
	unsigned int stop_at;     /* return 7 from this call (1-based), 0: never */
	uint64_t iova[WALK_MAX], gpa[WALK_MAX], size[WALK_MAX];
	unsigned int perm[WALK_MAX];
};

static int walk_cb(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size, unsigned int perm)
{
	struct walk_rec *w = opaque;

	if (w->n < WALK_MAX) {
		w->iova[w->n] = iova;
		w->gpa[w->n] = gpa;
		w->size[w->n] = size;
		w->perm[w->n] = perm;
	}
	w->n++;
	return w->n == w->stop_at ? 7 : 0;
}

static void expect_leaf(const struct walk_rec *w, unsigned int i, uint64_t iova, uint64_t gpa,
			uint64_t size, unsigned int perm)
{
	CU_ASSERT_FATAL(i < w->n && i < WALK_MAX);
	CU_ASSERT_EQUAL(w->iova[i], iova);
	CU_ASSERT_EQUAL(w->gpa[i], gpa);
	CU_ASSERT_EQUAL(w->size[i], size);
	CU_ASSERT_EQUAL(w->perm[i], perm);
}

/* A walk, checking that it left every register (FSTS, the FRCDs, ...), the
 * fault-event MSIs and the cache counters as they were. */
static int walk(uint16_t sid, uint64_t iova, uint64_t len, struct walk_rec *w)
{
	static uint8_t csr[VTD_MMIO_SIZE];
	uint64_t counters[4] = { v.ctx_hits, v.ctx_misses, v.iotlb_hits, v.iotlb_misses };
	unsigned int msis = msi_count;
	int r;

	memcpy(csr, v.csr, sizeof(csr));
	memset(w, 0, sizeof(*w));
	r = vtd_walk(&v, sid, iova, len, walk_cb, w);
	CU_ASSERT_EQUAL(memcmp(csr, v.csr, sizeof(csr)), 0);
	CU_ASSERT_EQUAL(msi_count, msis);
	CU_ASSERT_EQUAL(v.ctx_hits, counters[0]);
	CU_ASSERT_EQUAL(v.ctx_misses, counters[1]);
	CU_ASSERT_EQUAL(v.iotlb_hits, counters[2]);
	CU_ASSERT_EQUAL(v.iotlb_misses, counters[3]);
	return r;
}

/* Where the 4K leaf entry for iova sits (its tables must exist). */
static uint64_t pte_at(uint64_t top, unsigned int levels, uint64_t iova)
{
	uint64_t t = top;

	for (unsigned int l = levels; l > 1; l--)
		t = rd64(t + 8 * ((iova >> (12 + 9 * (l - 1))) & 0x1ff)) & 0x000ffffffffff000ULL;
	return t + 8 * ((iova >> 12) & 0x1ff);
}

static uint32_t fsts(void)
{
	return (uint32_t)vtd_mmio_read(&v, VTD_REG_FSTS, 4);
}

/* Identity (translation off, pass-through) and no context: fn never runs. */
static void test_walk_identity_and_no_ctx(void)
{
	struct walk_rec w;

	up(39);
	setup_ctx(SID, 1, 1, 0);
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), 1);   /* TE off */
	CU_ASSERT_EQUAL(w.n, 0);
	setup_ctx(0x0109, 1, 2, VTD_TT_PASSTHROUGH << 2);
	enable();
	CU_ASSERT_EQUAL(walk(0x0109, 0x1000, 0x1000, &w), 1);
	CU_ASSERT_EQUAL(w.n, 0);
	/* No context entry, no root entry, a reserved bit, an unreadable
	 * context table: -ENOENT, and no fault recorded for any of them. */
	CU_ASSERT_EQUAL(walk(SID + 2, 0, UINT64_MAX, &w), -ENOENT);
	CU_ASSERT_EQUAL(walk(0x0700, 0, UINT64_MAX, &w), -ENOENT);
	wr64(CTXT + 16 * 3 + 8, 1ULL << 8 | 1 | 0x80);   /* devfn 3: AVAIL/rsvd bit 7 */
	wr64(CTXT + 16 * 3, alloc_tbl() | 1);
	CU_ASSERT_EQUAL(walk(0x0103, 0, UINT64_MAX, &w), -ENOENT);
	wr64(ROOT + 16 * 6, (MEMSZ + 0x1000ULL) | 1);
	CU_ASSERT_EQUAL(walk(0x0600, 0, UINT64_MAX, &w), -ENOENT);
	CU_ASSERT_EQUAL(fsts(), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	/* The same request through vtd_translate does fault: the checks
	 * above can see one. */
	{
		struct vtd_xlate x;

		CU_ASSERT_EQUAL(vtd_translate(&v, SID + 2, 0, DMA_READ, &x), -EFAULT);
		CU_ASSERT(x.recorded);
		CU_ASSERT(fsts() & VTD_FSTS_PPF);
	}
	down();
}

/* Leaves of every size in IOVA order, permissions ANDed down the levels,
 * absent and malformed entries skipped, nothing recorded. */
static void test_walk_leaves(void)
{
	struct walk_rec w;
	uint64_t top, pde;

	up(39);
	top = setup_ctx(SID, 1, 5, 0);
	map(top, 3, 0x40000000, 0x80000000, 1, 3);        /* 1G read-only */
	map(top, 3, 0x3000, 0x13000, 3, 1);
	map(top, 3, 0x1000, 0x11000, 1, 1);               /* 4K R */
	map(top, 3, 0x2000, 0x12000, 2, 1);               /* 4K W */
	map(top, 3, 0x400000, 0xa00000, 3, 2);            /* 2M RW */
	map(top, 3, 0x7f00000000ULL, 0x14000, 3, 1);      /* near the top of 39 bits */
	enable();
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 6);
	expect_leaf(&w, 0, 0x1000, 0x11000, 0x1000, DMA_READ);
	expect_leaf(&w, 1, 0x2000, 0x12000, 0x1000, DMA_WRITE);
	expect_leaf(&w, 2, 0x3000, 0x13000, 0x1000, DMA_RW);
	expect_leaf(&w, 3, 0x400000, 0xa00000, 0x200000, DMA_RW);
	expect_leaf(&w, 4, 0x40000000, 0x80000000, 0x40000000, DMA_READ);
	expect_leaf(&w, 5, 0x7f00000000ULL, 0x14000, 0x1000, DMA_RW);
	CU_ASSERT_EQUAL(fsts(), 0);

	/* A read-only directory limits the leaves below it. */
	pde = rd64(top);
	wr64(top, pde & ~2ULL);
	CU_ASSERT_EQUAL(walk(SID, 0, 0x40000000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 4);
	CU_ASSERT_EQUAL(w.perm[1], 0);    /* W leaf under an R directory */
	CU_ASSERT_EQUAL(w.perm[2], DMA_READ);
	CU_ASSERT_EQUAL(w.perm[3], DMA_READ);
	wr64(top, pde);

	/* Malformed entries are not mapped, and their neighbours still are:
	 * SNP in a 4K leaf, address bits 20:12 in a 2M leaf, a directory
	 * outside guest memory. */
	wr64(pte_at(top, 3, 0x2000), 0x12000 | 2 | VTD_SL_SNP);        /* the 4K W leaf */
	map(top, 3, 0x600000, 0xc01000, 3, 2);
	wr64(top + 8 * 2, (MEMSZ + 0x10000ULL) | 3);                    /* 2G..3G */
	map(top, 3, 0xc0000000, 0x15000, 3, 1);
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 6);
	expect_leaf(&w, 0, 0x1000, 0x11000, 0x1000, DMA_READ);
	expect_leaf(&w, 1, 0x3000, 0x13000, 0x1000, DMA_RW);
	expect_leaf(&w, 2, 0x400000, 0xa00000, 0x200000, DMA_RW);
	expect_leaf(&w, 3, 0x40000000, 0x80000000, 0x40000000, DMA_READ);
	expect_leaf(&w, 4, 0xc0000000, 0x15000, 0x1000, DMA_RW);
	expect_leaf(&w, 5, 0x7f00000000ULL, 0x14000, 0x1000, DMA_RW);
	CU_ASSERT_EQUAL(fsts(), 0);
	down();
}

/* The range: leaves clipped to it (gpa advanced with the IOVA), nothing
 * outside it, nothing beyond the context's address width, len 0 a no-op,
 * and iova + len past 2^64 clamped. */
static void test_walk_range(void)
{
	struct walk_rec w;
	uint64_t top;

	up(39);
	top = setup_ctx(SID, 1, 1, 0);
	map(top, 3, 0x3000, 0x13000, 3, 1);
	map(top, 3, 0x4000, 0x24000, 3, 1);
	map(top, 3, 0x400000, 0xa00000, 3, 2);
	map(top, 3, (1ULL << 39) - 0x1000, 0x16000, 1, 1);   /* the last page */
	enable();
	CU_ASSERT_EQUAL(walk(SID, 0x3800, 0x1000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 2);
	expect_leaf(&w, 0, 0x3800, 0x13800, 0x800, DMA_RW);
	expect_leaf(&w, 1, 0x4000, 0x24000, 0x800, DMA_RW);
	CU_ASSERT_EQUAL(walk(SID, 0x401000, 0x2000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 1);
	expect_leaf(&w, 0, 0x401000, 0xa01000, 0x2000, DMA_RW);
	CU_ASSERT_EQUAL(walk(SID, 0x4000, 0x1000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 1);
	expect_leaf(&w, 0, 0x4000, 0x24000, 0x1000, DMA_RW);
	/* Unmapped ranges: nothing reported, no fault. */
	CU_ASSERT_EQUAL(walk(SID, 0x5000, 0x3fb000, &w), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	CU_ASSERT_EQUAL(walk(SID, 0x600000, 0x7000000000ULL, &w), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	CU_ASSERT_EQUAL(walk(SID, 0x3000, 0, &w), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	/* At and beyond the address width (a translation there faults). */
	CU_ASSERT_EQUAL(walk(SID, 1ULL << 39, 0x1000, &w), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	CU_ASSERT_EQUAL(walk(SID, (1ULL << 39) - 0x800, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 1);
	expect_leaf(&w, 0, (1ULL << 39) - 0x800, 0x16800, 0x800, DMA_READ);
	CU_ASSERT_EQUAL(walk(SID, 0x4000, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL(w.n, 3);
	CU_ASSERT_EQUAL(fsts(), 0);
	down();
}

/* 4 levels, a nonzero return stops the walk, tables are read afresh (the
 * IOTLB's stale entry is not used), and a self-referencing table ends. */
static void test_walk_stop_and_fresh(void)
{
	struct vtd_xlate x;
	struct walk_rec w;
	uint64_t top;
	int r;

	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	map(top, 4, 0x1000, 0x11000, 3, 1);
	map(top, 4, 0x200000, 0x400000, 3, 2);
	map(top, 4, 0x8000000000ULL, 0x12000, 3, 1);          /* PML4 entry 1 */
	map(top, 4, 0xfedcba987000ULL, 0x13000, 3, 1);
	enable();
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 4);
	expect_leaf(&w, 2, 0x8000000000ULL, 0x12000, 0x1000, DMA_RW);
	expect_leaf(&w, 3, 0xfedcba987000ULL, 0x13000, 0x1000, DMA_RW);
	/* Stop on the second leaf: its value comes back, no third call. */
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	r = vtd_walk(&v, SID, 0, UINT64_MAX, walk_cb, &w);
	CU_ASSERT_EQUAL(r, 7);
	CU_ASSERT_EQUAL(w.n, 2);
	CU_ASSERT_EQUAL(w.iova[1], 0x200000);
	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	CU_ASSERT_EQUAL(vtd_walk(&v, SID, 0x8000000000ULL, UINT64_MAX, walk_cb, &w), 7);
	CU_ASSERT_EQUAL(w.n, 1);

	/* Fresh tables: the IOTLB holds 0x1000 -> 0x11000, the guest remapped
	 * it without invalidating; the walk sees the new entry. */
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x11000);
	map(top, 4, 0x1000, 0x21000, 1, 1);
	CU_ASSERT_EQUAL(xl(SID, 0x1000, DMA_READ, &x), 0x11000);   /* still cached */
	CU_ASSERT_EQUAL(walk(SID, 0x1000, 0x1000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 1);
	expect_leaf(&w, 0, 0x1000, 0x21000, 0x1000, DMA_READ);
	down();

	/* PML4[0] -> itself: one 4K leaf at 0 (as vtd_translate finds). */
	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	wr64(top, top | 3);
	enable();
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), 0);
	CU_ASSERT_EQUAL_FATAL(w.n, 1);
	expect_leaf(&w, 0, 0, top, 0x1000, DMA_RW);
	down();
}

/* Tables that alias (every entry of each level pointing at one table) would
 * make a walk read 2^36 entries: it gives up with -E2BIG, reporting no
 * leaf and recording no fault. */
static void test_walk_aliased(void)
{
	uint64_t top, t3, t2, t1;
	struct walk_rec w;

	up(48);
	top = setup_ctx(SID, 2, 1, 0);
	t3 = alloc_tbl();
	t2 = alloc_tbl();
	t1 = alloc_tbl();   /* the last level: every entry absent */
	for (unsigned int i = 0; i < 512; i++) {
		wr64(top + 8 * i, t3 | 3);
		wr64(t3 + 8 * i, t2 | 3);
		wr64(t2 + 8 * i, t1 | 3);
	}
	enable();
	CU_ASSERT_EQUAL(walk(SID, 0, UINT64_MAX, &w), -E2BIG);
	CU_ASSERT_EQUAL(w.n, 0);
	down();
}

void unit_register(void)
{
	UNIT_SUITE("vtd_xlate",
		   UNIT_TEST(test_walk_aliased),
		   UNIT_TEST(test_te_off_identity),
		   UNIT_TEST(test_walk_3level),
		   UNIT_TEST(test_walk_4level),
		   UNIT_TEST(test_superpages),
		   UNIT_TEST(test_permissions),
		   UNIT_TEST(test_passthrough),
		   UNIT_TEST(test_context_faults),
		   UNIT_TEST(test_paging_faults),
		   UNIT_TEST(test_iotlb_lru),
		   UNIT_TEST(test_ctx_cache_lru),
		   UNIT_TEST(test_psi_drops_stale),
		   UNIT_TEST(test_dsi_global),
		   UNIT_TEST(test_ctx_invalidation),
		   UNIT_TEST(test_hostile),
		   UNIT_TEST(test_walk_identity_and_no_ctx),
		   UNIT_TEST(test_walk_leaves),
		   UNIT_TEST(test_walk_range),
		   UNIT_TEST(test_walk_stop_and_fresh));
}

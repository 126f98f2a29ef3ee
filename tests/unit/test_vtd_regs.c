/* Unit tests for iommu/vtd_regs.c: the register file (reset values, CAP
 * and ECAP per configuration, write / W1C / write-only masks, hostile
 * sizes and offsets), GCMD one-shot and persistent commands, fault
 * recording (FRCD contents, FSTS.PPF/FRI, PFO on overflow, FPD), the
 * fault event (IM/IP, the MSI from FEADDR/FEDATA), and register-based
 * context-cache and IOTLB invalidation with their notifier calls. Guest
 * memory is a static buffer at gpa 0. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "vtd_fixture.h"
#include "vtd_internal.h"

static uint32_t fsts(void)
{
	return (uint32_t)vtd_mmio_read(&v, VTD_REG_FSTS, 4);
}

static uint32_t fectl(void)
{
	return (uint32_t)vtd_mmio_read(&v, VTD_REG_FECTL, 4);
}

/* A read fault on an unmapped page: context present, tables empty. */
static int unmapped_read(uint64_t iova)
{
	struct vtd_xlate x;

	return vtd_translate(&v, SID, iova, DMA_READ, &x) == -EFAULT && x.recorded;
}

static void test_init_rejects(void)
{
	struct vtd_config cfg = { .aw_bits = 40, .nr_frcd = 8 };

	CU_ASSERT_EQUAL(vtd_init(&v, &cfg, &host), -EINVAL);
	cfg.aw_bits = 39;
	cfg.nr_frcd = 7;
	CU_ASSERT_EQUAL(vtd_init(&v, &cfg, &host), -EINVAL);
	cfg.nr_frcd = VTD_MAX_FRCD + 1;
	CU_ASSERT_EQUAL(vtd_init(&v, &cfg, &host), -EINVAL);
	cfg.nr_frcd = 8;
	CU_ASSERT_EQUAL(vtd_init(&v, &cfg, NULL), -EINVAL);
}

static void test_reset_values(void)
{
	struct vtd_config cfg = { .aw_bits = 48, .nr_frcd = 16, .caching_mode = true };
	uint64_t cap;

	up(39);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_VER, 4), 0x10);
	/* QEMU 7.2's default CAP with 8 FRCDs instead of one. */
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CAP, 8), 0x00d2078c22260206ULL);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_ECAP, 8), 0xf00f4aULL);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_GSTS, 4), 0);
	CU_ASSERT_EQUAL(fectl(), VTD_FECTL_IM);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, 0xa0, 4), VTD_FECTL_IM);
	down();
	up_cfg(&cfg);
	cap = vtd_mmio_read(&v, VTD_REG_CAP, 8);
	CU_ASSERT_EQUAL((cap >> 8) & 0x1f, 6);          /* SAGAW 39 and 48 */
	CU_ASSERT_EQUAL((cap >> 16) & 0x3f, 47);        /* MGAW */
	CU_ASSERT_EQUAL((cap >> 40) & 0xff, 15);        /* NFR */
	CU_ASSERT_EQUAL(((cap >> 24) & 0x3ff) * 16, VTD_FRO);
	CU_ASSERT(cap & VTD_CAP_CM);
	CU_ASSERT_EQUAL(cap & 7, 6);
	CU_ASSERT_EQUAL((cap >> 34) & 0xf, 3);
	CU_ASSERT_EQUAL((cap >> 48) & 0x3f, VTD_MAMV);
	CU_ASSERT_EQUAL(((vtd_mmio_read(&v, VTD_REG_ECAP, 8) >> 8) & 0x3ff) * 16, VTD_IRO);
	down();
}

static void test_masks(void)
{
	up(39);
	vtd_mmio_write(&v, VTD_REG_CAP, 0, 8);
	CU_ASSERT_NOT_EQUAL(vtd_mmio_read(&v, VTD_REG_CAP, 8), 0);
	vtd_mmio_write(&v, VTD_REG_VER, 0xffffffff, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_VER, 4), 0x10);
	vtd_mmio_write(&v, VTD_REG_RTADDR, 0x123456fffULL, 8);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_RTADDR, 8), 0x123456000ULL);
	vtd_mmio_write(&v, VTD_REG_RTADDR + 4, 0xabcd, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_RTADDR, 8), 0xabcd23456000ULL);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_RTADDR + 4, 4), 0xabcd);
	/* write-only registers read 0 */
	vtd_mmio_write(&v, VTD_REG_IVA, 0x5000, 8);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_IVA, 8), 0);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_CFI, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_GCMD, 4), 0);
	/* FEADDR's low bits and FEDATA's high half are not writable */
	vtd_mmio_write(&v, VTD_REG_FEADDR, 0xfee00003, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_FEADDR, 4), 0xfee00000);
	vtd_mmio_write(&v, VTD_REG_FEDATA, 0x12345678, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_FEDATA, 4), 0x5678);
	/* hostile sizes, alignment and offsets */
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_VER, 2), 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_VER, 1), 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CAP + 4, 8), 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_MMIO_SIZE, 4), 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, UINT64_MAX - 3, 4), 0);
	vtd_mmio_write(&v, VTD_REG_FEUADDR, 0x1, 2);
	vtd_mmio_write(&v, VTD_REG_FEADDR + 2, 0x1, 4);
	vtd_mmio_write(&v, UINT64_MAX - 7, 0x1, 8);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_FEUADDR, 4), 0);
	down();
}

static void test_gcmd(void)
{
	uint32_t sts;

	up(39);
	nr_inval = 0;
	vtd_set_notifier(&v, on_inval, NULL);
	vtd_mmio_write(&v, VTD_REG_RTADDR, ROOT, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	sts = vtd_mmio_read(&v, VTD_REG_GSTS, 4);
	CU_ASSERT_EQUAL(sts, VTD_GCMD_SRTP);    /* RTPS */
	CU_ASSERT_EQUAL(v.root, ROOT);
	CU_ASSERT_EQUAL(nr_inval, 1);
	/* RTADDR changes take effect only with the next SRTP */
	vtd_mmio_write(&v, VTD_REG_RTADDR, 0x7000, 8);
	CU_ASSERT_EQUAL(v.root, ROOT);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_TE, 4);
	sts = vtd_mmio_read(&v, VTD_REG_GSTS, 4);
	CU_ASSERT_EQUAL(sts, VTD_GCMD_SRTP | VTD_GCMD_TE);
	CU_ASSERT_EQUAL(nr_inval, 2);
	CU_ASSERT_EQUAL(last_sid, VTD_ALL);
	CU_ASSERT_EQUAL(last_len, UINT64_MAX);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE |
		       VTD_GCMD_CFI, 4);
	sts = vtd_mmio_read(&v, VTD_REG_GSTS, 4);
	CU_ASSERT_EQUAL(sts, VTD_GCMD_SRTP | VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE |
			VTD_GCMD_CFI);
	CU_ASSERT_EQUAL(nr_inval, 2);          /* TE unchanged: no flush */
	vtd_mmio_write(&v, VTD_REG_IRTA, 0x9000f, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_TE | VTD_GCMD_SIRTP, 4);
	sts = vtd_mmio_read(&v, VTD_REG_GSTS, 4);
	CU_ASSERT_EQUAL(sts, VTD_GCMD_SRTP | VTD_GCMD_TE | VTD_GCMD_SIRTP);
	CU_ASSERT_EQUAL(v.irta, 0x9000f);
	vtd_mmio_write(&v, VTD_REG_GCMD, 0, 4);
	sts = vtd_mmio_read(&v, VTD_REG_GSTS, 4);
	CU_ASSERT_EQUAL(sts, VTD_GCMD_SRTP | VTD_GCMD_SIRTP);
	CU_ASSERT_EQUAL(nr_inval, 3);
	down();
}

static void test_frcd_contents(void)
{
	struct vtd_xlate x;
	uint64_t hi;

	up(39);
	setup_ctx(SID, 1, 5, 0);
	enable();
	vtd_mmio_write(&v, VTD_REG_FEADDR, 0xfee01000, 4);
	vtd_mmio_write(&v, VTD_REG_FEDATA, 0x41, 4);
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);           /* unmask */
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x12345678, DMA_WRITE, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_WRITE);
	CU_ASSERT(x.recorded);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_FRO, 8), 0x12345000ULL);
	hi = vtd_mmio_read(&v, VTD_FRO + 8, 8);
	CU_ASSERT_EQUAL(hi, VTD_FRCD_F | VTD_FRCD_FR(VTD_FR_WRITE) | SID);   /* T=0: write */
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PPF);               /* FRI 0 */
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(msi_addr, 0xfee01000);
	CU_ASSERT_EQUAL(msi_data, 0x41);
	CU_ASSERT_EQUAL(fectl(), 0);
	/* a second fault while PPF is pending: recorded, no new event */
	CU_ASSERT_EQUAL(vtd_translate(&v, 0x0300, 0x2000, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_ROOT_P);
	hi = vtd_mmio_read(&v, VTD_FRO + 16 + 8, 8);
	CU_ASSERT_EQUAL(hi, VTD_FRCD_F | VTD_FRCD_T | VTD_FRCD_FR(VTD_FR_ROOT_P) | 0x0300);
	CU_ASSERT_EQUAL(msi_count, 1);
	/* clearing record 0 moves FRI to record 1; clearing that drops PPF */
	vtd_mmio_write(&v, VTD_FRO + 8, VTD_FRCD_F, 8);
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PPF | (1u << VTD_FSTS_FRI_SHIFT));
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_FRO + 8, 8) & VTD_FRCD_F, 0);
	vtd_mmio_write(&v, VTD_FRO + 16 + 12, 0x80000000u, 4);   /* 4-byte W1C */
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_PPF, 0);
	/* the next fault is an event again */
	CU_ASSERT(unmapped_read(0x3000));
	CU_ASSERT_EQUAL(msi_count, 2);
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PPF | (2u << VTD_FSTS_FRI_SHIFT));
	down();
}

static void test_pfo_overflow(void)
{
	struct vtd_xlate x;
	unsigned int i;

	up(39);
	setup_ctx(SID, 1, 5, 0);
	enable();
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	for (i = 0; i < 8; i++)
		CU_ASSERT(unmapped_read(0x1000ULL * i));
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_PFO, 0);
	/* ninth: all records full -> PFO, not recorded, no event (PPF set) */
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x9000, DMA_READ, &x), -EFAULT);
	CU_ASSERT(!x.recorded);
	CU_ASSERT(fsts() & VTD_FSTS_PFO);
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_FRO, 8), 0);   /* record 0 kept */
	/* clear every record: PFO stays until cleared, and drops faults */
	for (i = 0; i < 8; i++)
		vtd_mmio_write(&v, VTD_FRO + 16 * i + 8, VTD_FRCD_F, 8);
	CU_ASSERT_EQUAL(fsts() & ~VTD_FSTS_FRI_MASK, VTD_FSTS_PFO);   /* FRI: stale */
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x9000, DMA_READ, &x), -EFAULT);
	CU_ASSERT(!x.recorded);
	vtd_mmio_write(&v, VTD_REG_FSTS, VTD_FSTS_PFO, 4);
	CU_ASSERT_EQUAL(fsts() & ~VTD_FSTS_FRI_MASK, 0);
	CU_ASSERT(unmapped_read(0xa000));
	CU_ASSERT_EQUAL(msi_count, 2);
	/* records wrap around: this one went to record 0 */
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_FRO, 8), 0xa000);
	down();
}

/* The next record in line is still pending (software serviced the others
 * only): the fault overflows although seven records are free. */
static void test_pfo_next_busy(void)
{
	struct vtd_xlate x;
	unsigned int i;

	up(39);
	setup_ctx(SID, 1, 5, 0);
	enable();
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	for (i = 0; i < 8; i++)
		CU_ASSERT(unmapped_read(0x1000ULL * i));
	for (i = 1; i < 8; i++)
		vtd_mmio_write(&v, VTD_FRO + 16 * i + 8, VTD_FRCD_F, 8);
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PPF);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x8000, DMA_READ, &x), -EFAULT);
	CU_ASSERT(!x.recorded);
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PPF | VTD_FSTS_PFO);
	CU_ASSERT_EQUAL(msi_count, 1);
	/* service everything: a new fault is an event again */
	vtd_mmio_write(&v, VTD_FRO + 8, VTD_FRCD_F, 8);
	CU_ASSERT_EQUAL(fsts(), VTD_FSTS_PFO);
	vtd_mmio_write(&v, VTD_REG_FSTS, VTD_FSTS_PFO, 4);
	CU_ASSERT(unmapped_read(0x9000));
	CU_ASSERT_EQUAL(msi_count, 2);
	down();
}

static void test_im_ip(void)
{
	up(39);
	setup_ctx(SID, 1, 5, 0);
	enable();
	vtd_mmio_write(&v, VTD_REG_FEADDR, 0xfee00000, 4);
	vtd_mmio_write(&v, VTD_REG_FEUADDR, 0x1, 4);
	vtd_mmio_write(&v, VTD_REG_FEDATA, 0x33, 4);
	/* masked (the reset state): IP set, no MSI */
	CU_ASSERT(unmapped_read(0x1000));
	CU_ASSERT_EQUAL(msi_count, 0);
	CU_ASSERT_EQUAL(fectl(), VTD_FECTL_IM | VTD_FECTL_IP);
	/* IP is read-only */
	vtd_mmio_write(&v, VTD_REG_FECTL, VTD_FECTL_IM, 4);
	CU_ASSERT_EQUAL(fectl(), VTD_FECTL_IM | VTD_FECTL_IP);
	/* unmasking delivers it and clears IP */
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(msi_addr, 0x1fee00000ULL);
	CU_ASSERT_EQUAL(msi_data, 0x33);
	CU_ASSERT_EQUAL(fectl(), 0);
	/* masked again; a pending IP goes away when software services the
	 * fault, and unmasking then sends nothing */
	vtd_mmio_write(&v, VTD_FRO + 8, VTD_FRCD_F, 8);
	vtd_mmio_write(&v, VTD_REG_FECTL, VTD_FECTL_IM, 4);
	CU_ASSERT(unmapped_read(0x2000));
	CU_ASSERT_EQUAL(fectl(), VTD_FECTL_IM | VTD_FECTL_IP);
	vtd_mmio_write(&v, VTD_FRO + 16 + 8, VTD_FRCD_F, 8);
	CU_ASSERT_EQUAL(fectl(), VTD_FECTL_IM);
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	CU_ASSERT_EQUAL(msi_count, 1);
	down();
}

static void test_fpd(void)
{
	struct vtd_xlate x;

	up(39);
	setup_ctx(SID, 1, 5, VTD_CTX_FPD);
	enable();
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	/* qualified faults are suppressed ... */
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_READ);
	CU_ASSERT(!x.recorded);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 1ULL << 40, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_ADDR_BEYOND_AW);
	CU_ASSERT(!x.recorded);
	/* FPD counts in a context entry that is not present, too */
	wr64(CTXT + 16 * ((SID + 1) & 0xff), VTD_CTX_FPD);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID + 1, 0x1000, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_CTX_P);
	CU_ASSERT(!x.recorded);
	/* invalid translation type: qualified */
	wr64(CTXT + 16 * ((SID + 2) & 0xff), VTD_CTX_FPD | 3 << 2 | 1);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID + 2, 0x1000, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_CTX_TT);
	CU_ASSERT(!x.recorded);
	CU_ASSERT_EQUAL(fsts(), 0);
	CU_ASSERT_EQUAL(msi_count, 0);
	/* ... a context entry with reserved bits is always reported */
	wr64(CTXT + 16 * (SID & 0xff) + 8, 5 << 8 | 1 | (1ULL << 40));
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (1ULL << 61), 8);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.fault, VTD_FR_CTX_RSVD);
	CU_ASSERT(x.recorded);
	CU_ASSERT_EQUAL(msi_count, 1);
	down();
}

static void test_ccmd(void)
{
	up(39);
	nr_inval = 0;
	vtd_set_notifier(&v, on_inval, NULL);
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (1ULL << 61), 8);   /* global */
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CCMD, 8), (1ULL << 61) | (1ULL << 59));
	CU_ASSERT_EQUAL(nr_inval, 1);
	CU_ASSERT_EQUAL(last_sid, VTD_ALL);
	CU_ASSERT_EQUAL(last_did, VTD_ALL);
	/* domain-selective, written as two halves (high half last) */
	vtd_mmio_write(&v, VTD_REG_CCMD, 7, 4);
	vtd_mmio_write(&v, VTD_REG_CCMD + 4, 0xc0000000u, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CCMD, 8) >> 59, 0x8 | 2);
	CU_ASSERT_EQUAL(nr_inval, 2);
	CU_ASSERT_EQUAL(last_did, 7);
	/* device-selective with FM=3: all 8 functions of the device */
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (3ULL << 61) | (3ULL << 32) |
		       ((uint64_t)0x010a << 16) | 7, 8);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_CCMD, 8) >> 59) & 3, 3);
	CU_ASSERT_EQUAL(nr_inval, 10);
	CU_ASSERT_EQUAL(last_sid, 0x010f);
	/* CIRG 0 is invalid: CAIG 0, nothing happens */
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC, 8);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CCMD, 8), 0);
	CU_ASSERT_EQUAL(nr_inval, 10);
	/* refused while queued invalidation is on */
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (1ULL << 61), 8);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_CCMD, 8), 1ULL << 61);
	CU_ASSERT_EQUAL(nr_inval, 10);
	down();
}

static void test_iotlb_reg(void)
{
	uint64_t cmd;

	up(39);
	nr_inval = 0;
	vtd_set_notifier(&v, on_inval, NULL);
	vtd_mmio_write(&v, VTD_REG_IOTLB, VTD_IOTLB_IVT | (1ULL << 60), 8);
	cmd = vtd_mmio_read(&v, VTD_REG_IOTLB, 8);
	CU_ASSERT_EQUAL(cmd, (1ULL << 60) | (1ULL << 57));
	CU_ASSERT_EQUAL(nr_inval, 1);
	/* page-selective, 2^9 pages at 0x345000 -> the aligned 2M */
	vtd_mmio_write(&v, VTD_REG_IVA, 0x345000 | 9, 8);
	vtd_mmio_write(&v, VTD_REG_IOTLB, VTD_IOTLB_IVT | (3ULL << 60) | (4ULL << 32), 8);
	cmd = vtd_mmio_read(&v, VTD_REG_IOTLB, 8);
	CU_ASSERT_EQUAL((cmd >> 57) & 3, 3);
	CU_ASSERT_EQUAL(cmd & VTD_IOTLB_IVT, 0);
	CU_ASSERT_EQUAL(nr_inval, 2);
	CU_ASSERT_EQUAL(last_did, 4);
	CU_ASSERT_EQUAL(last_iova, 0x200000);
	CU_ASSERT_EQUAL(last_len, 0x200000);
	/* AM above MAMV is refused */
	vtd_mmio_write(&v, VTD_REG_IVA, VTD_MAMV + 1, 8);
	vtd_mmio_write(&v, VTD_REG_IOTLB, VTD_IOTLB_IVT | (3ULL << 60) | (4ULL << 32), 8);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_IOTLB, 8) >> 57) & 3, 0);
	CU_ASSERT_EQUAL(nr_inval, 2);
	/* a 4-byte write to the high half triggers it too */
	vtd_mmio_write(&v, VTD_REG_IOTLB + 4, 0x90000000u | 4, 4);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_IOTLB, 8) >> 57) & 3, 1);
	CU_ASSERT_EQUAL(nr_inval, 3);
	down();
}

void unit_register(void)
{
	UNIT_SUITE("vtd_regs",
		   UNIT_TEST(test_init_rejects),
		   UNIT_TEST(test_reset_values),
		   UNIT_TEST(test_masks),
		   UNIT_TEST(test_gcmd),
		   UNIT_TEST(test_frcd_contents),
		   UNIT_TEST(test_pfo_overflow),
		   UNIT_TEST(test_pfo_next_busy),
		   UNIT_TEST(test_im_ip),
		   UNIT_TEST(test_fpd),
		   UNIT_TEST(test_ccmd),
		   UNIT_TEST(test_iotlb_reg));
}

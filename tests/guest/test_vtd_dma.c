/* Scenario "vtd-dma": the edu device's DMA through second-level VT-d
 * mappings the guest makes and takes back, checked only by what reaches
 * memory, so that it passes the same on QEMU (-device intel-iommu,
 * caching-mode=on -device edu), on isle's emulated edu (--iommu --edu) and
 * on an edu assigned to isle (--iommu --pci), where isle shadows the
 * guest's mappings into the host IOMMU and a blocked DMA never reaches
 * isle's VT-d (so no fault record is checked; they are only cleared).
 *
 * Checks: root, context and a 3- or 4-level table (SAGAW), translation on
 * after the tables exist, queued invalidation; after every map and unmap a
 * page-selective (or domain) IOTLB invalidation waited for, which is what
 * caching mode asks and what lets isle follow; RAM -> device -> RAM of 64,
 * 1000 and 4000 bytes through IOVAs that are not the buffers' addresses,
 * compared byte for byte, nothing around them written; a write to an IOVA
 * never mapped whose number is a sentinel's guest-physical address: the
 * sentinel unchanged; a page unmapped: writes to it dropped, mapped again:
 * they arrive; a read-only page: writes dropped (before and after it was
 * read through), reads work. Whether a blocked DMA completes is not
 * checked, only that it is waited for with a bound. No interrupts (the
 * "vtd" scenario covers remapping them). Skips (77) without edu or a
 * DMAR table. */
#include "guest.h"
#include "edu.h"
#include "vtd.h"

/* Below edu's 28-bit DMA mask (QEMU clamps, isle's model refuses
 * anything above it), far from the image the buffers live in. */
#define IOVA_BASE    0x0e000000ULL   /* L2 slot 0x70: the 4 KiB table l1 */
#define PG_SRC       0
#define PG_DST       1
#define PG_RO        2
#define DID          1
#define XFER_MAX     4000            /* never 4096: QEMU 7.2's edu aborts */
#define BAD_LEN      1000

#define PAGE __attribute__((aligned(4096)))
static uint64_t root[512] PAGE, ctx[512] PAGE, l4[512] PAGE, l3[512] PAGE;
static uint64_t l2[512] PAGE, l1[512] PAGE, iq_mem[512] PAGE;
static uint8_t ram_src[4096] PAGE, ram_dst[4096] PAGE, ram_ro[4096] PAGE;
static uint8_t sentinel[4096] PAGE, expect[4096];
static volatile uint32_t qi_status;

static struct vtd_unit u;
static struct edu edu;

static uint64_t pa(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static uint64_t iova(unsigned int page)
{
	return IOVA_BASE + 4096ULL * page;
}

static uint8_t pattern(unsigned int i, unsigned int seed)
{
	return (uint8_t)(i * 7 + (i >> 8) + seed * 31 + 3);
}

static void fill(uint8_t *p, unsigned int seed)
{
	for (unsigned int i = 0; i < 4096; i++)
		p[i] = pattern(i, seed);
}

/* Sets (or with flags 0 clears) the PTE of page and invalidates it. */
static bool map(unsigned int page, const void *buf, uint64_t flags)
{
	l1[page] = flags ? pa(buf) | flags : 0;
	__asm__ volatile("" ::: "memory");
	return vtd_inv_iotlb_page(&u, DID, iova(page), &qi_status);
}

/* A DMA that the IOMMU must refuse: waited for (bounded), whether it
 * completes is not the point; any fault it left is noted and cleared. */
static void bad_dma(uint64_t src, uint64_t dst, uint32_t cmd)
{
	struct vtd_fault f;
	unsigned int i;
	bool done = edu_dma(&edu, src, dst, BAD_LEN, cmd);

	if (vtd_fault_first(&u, &f, &i))
		report_info("DMA %s: fault reason %#x at %#lx", done ? "done" : "still running",
			    f.reason, f.addr);
	else
		report_info("DMA %s, no fault recorded", done ? "done" : "still running");
	vtd_faults_clear_all(&u);
}

/* Loads the device buffer's first BAD_LEN bytes with pattern seed from
 * ram_src (mapped): what a refused write would carry. */
static bool load_device(unsigned int seed)
{
	fill(ram_src, seed);
	return edu_dma(&edu, iova(PG_SRC), EDU_DMA_BUF, BAD_LEN, 0);
}

static bool setup(void)
{
	uint64_t *top = u.levels == 4 ? l4 : l3;

	root[0] = pa(ctx) | 1;                                   /* bus 0 */
	ctx[2 * (uint8_t)edu.bdf + 1] = (uint64_t)DID << 8 | (u.levels == 4 ? 2 : 1);
	ctx[2 * (uint8_t)edu.bdf] = pa(top) | 1;                 /* TT 0 */
	l4[0] = pa(l3) | VTD_SL_R | VTD_SL_W;
	l3[0] = pa(l2) | VTD_SL_R | VTD_SL_W;
	l2[IOVA_BASE >> 21] = pa(l1) | VTD_SL_R | VTD_SL_W;

	vtd_wr32(&u, VTD_FECTL, VTD_FECTL_IM);                  /* no fault events */
	vtd_faults_clear_all(&u);
	vtd_wr64(&u, VTD_RTADDR, pa(root));
	if (!report(vtd_gcmd(&u, VTD_GCMD_SRTP, true), "root table latched (RTPS)") ||
	    !report(vtd_inv_regs_global(&u), "global context and IOTLB invalidation done"))
		return false;
	if (u.ecap & VTD_ECAP_QI) {
		vtd_qi_setup(&u, pa(iq_mem));
		if (!report(vtd_gcmd(&u, VTD_GCMD_QIE, true), "queued invalidation on (QIES)"))
			return false;
	} else {
		report_info("no queued invalidation: IOTLB registers");
	}
	return report(vtd_gcmd(&u, VTD_GCMD_TE, true), "translation on (TES)");
}

static void check_xfer(void)
{
	static const unsigned int lens[] = { 64, 1000, XFER_MAX };

	report_prefix_push("xfer");
	report(map(PG_SRC, ram_src, VTD_SL_R | VTD_SL_W) &&
	       map(PG_DST, ram_dst, VTD_SL_R | VTD_SL_W),
	       "src %#lx at IOVA %#lx, dst %#lx at IOVA %#lx: invalidated", pa(ram_src),
	       iova(PG_SRC), pa(ram_dst), iova(PG_DST));
	for (unsigned int t = 0; t < ARRAY_SIZE(lens); t++) {
		unsigned int len = lens[t];
		bool around = true;

		fill(ram_src, t);
		memset(ram_dst, 0xee, sizeof(ram_dst));
		report(edu_dma(&edu, iova(PG_SRC), EDU_DMA_BUF, len, 0) &&
		       edu_dma(&edu, EDU_DMA_BUF, iova(PG_DST), len, EDU_DMA_TO_RAM),
		       "len %u: RAM -> device -> RAM done", len);
		for (unsigned int i = len; i < sizeof(ram_dst); i++)
			around &= ram_dst[i] == 0xee;
		report(!memcmp(ram_dst, ram_src, len) && around,
		       "len %u: arrived byte for byte, nothing after it written", len);
	}
	report_prefix_pop();
}

static void check_unmapped(void)
{
	report_prefix_push("unmapped");
	/* Identity would put the write right on the sentinel. */
	if (!report(pa(sentinel) < (1ULL << 28) && pa(sentinel) >> 21 != IOVA_BASE >> 21,
		    "sentinel at %#lx: below edu's DMA mask, outside the mapped 2 MiB",
		    pa(sentinel))) {
		report_prefix_pop();
		return;
	}
	report(load_device(7), "device buffer loaded through the mapping");
	fill(sentinel, 8);
	memcpy(expect, sentinel, sizeof(expect));
	bad_dma(EDU_DMA_BUF, pa(sentinel), EDU_DMA_TO_RAM);
	report(!memcmp(sentinel, expect, sizeof(expect)),
	       "device -> IOVA %#lx never mapped: the sentinel there unchanged", pa(sentinel));
	report_prefix_pop();
}

static void check_unmap(void)
{
	report_prefix_push("unmap");
	report(load_device(9), "device buffer loaded through the mapping");
	report(map(PG_DST, NULL, 0), "dst PTE cleared, invalidated");
	fill(ram_dst, 10);
	memcpy(expect, ram_dst, sizeof(expect));
	bad_dma(EDU_DMA_BUF, iova(PG_DST), EDU_DMA_TO_RAM);
	report(!memcmp(ram_dst, expect, sizeof(expect)), "device -> old IOVA: dst unchanged");
	report(map(PG_DST, ram_dst, VTD_SL_R | VTD_SL_W), "dst mapped again, invalidated");
	report(edu_dma(&edu, EDU_DMA_BUF, iova(PG_DST), BAD_LEN, EDU_DMA_TO_RAM) &&
	       !memcmp(ram_dst, ram_src, BAD_LEN) &&
	       !memcmp(ram_dst + BAD_LEN, expect + BAD_LEN, sizeof(ram_dst) - BAD_LEN),
	       "device -> the same IOVA: the data arrives");
	report_prefix_pop();
}

static void check_read_only(void)
{
	report_prefix_push("read-only");
	fill(ram_ro, 12);
	memcpy(expect, ram_ro, sizeof(expect));
	report(map(PG_RO, ram_ro, VTD_SL_R), "page at IOVA %#lx mapped R, invalidated",
	       iova(PG_RO));
	report(load_device(13), "device buffer loaded through the mapping");
	bad_dma(EDU_DMA_BUF, iova(PG_RO), EDU_DMA_TO_RAM);
	report(!memcmp(ram_ro, expect, sizeof(expect)), "device -> it: unchanged");
	memset(ram_dst, 0, sizeof(ram_dst));
	report(edu_dma(&edu, iova(PG_RO), EDU_DMA_BUF, XFER_MAX, 0) &&
	       edu_dma(&edu, EDU_DMA_BUF, iova(PG_DST), XFER_MAX, EDU_DMA_TO_RAM) &&
	       !memcmp(ram_dst, ram_ro, XFER_MAX), "it -> device -> dst: its data");
	/* Now that a read may have cached the translation. */
	report(load_device(14), "device buffer loaded again");
	bad_dma(EDU_DMA_BUF, iova(PG_RO), EDU_DMA_TO_RAM);
	report(!memcmp(ram_ro, expect, sizeof(expect)), "device -> it after the read: unchanged");
	report(map(PG_RO, NULL, 0), "unmapped, invalidated");
	report_prefix_pop();
}

void test_vtd_dma_run(void);   /* main.c's scenario table */

void test_vtd_dma_run(void)
{
	bool absent;

	report_prefix_push("vtd-dma");
	if (!edu_open(&edu, &absent)) {
		if (absent)
			report_skip("edu device %04x:%04x absent", EDU_VENDOR, EDU_DEVICE);
		else
			report(false, "edu BAR0 mapped");
		report_prefix_pop();
		return;
	}
	if (!vtd_find(&u, edu.bdf)) {
		report_skip("no DMAR table with a DRHD");
		report_prefix_pop();
		return;
	}
	report_info("edu at %02x:%02x.%x, subsystem %08x; DRHD at %#lx, CAP %#lx ECAP %#lx",
		    PCI_BUS(edu.bdf), PCI_DEV(edu.bdf), PCI_FN(edu.bdf),
		    pci_read32(edu.bdf, PCI_SUBSYSTEM), u.base, u.cap, u.ecap);
	report_info("caching mode %s; SAGAW %#x (%u-level tables), %s invalidation",
		    u.cap & VTD_CAP_CM ? "on (CM)" : "off", VTD_CAP_SAGAW(u.cap), u.levels,
		    u.cap & VTD_CAP_PSI ? "page-selective" : "domain");
	if (!report(u.covers, "the DRHD covers edu") ||
	    !report(VTD_CAP_SAGAW(u.cap) & 6, "3- or 4-level tables offered (SAGAW %#x)",
		    VTD_CAP_SAGAW(u.cap))) {
		report_prefix_pop();
		return;
	}
	if (setup()) {
		check_xfer();
		check_unmapped();
		check_unmap();
		check_read_only();
		vtd_faults_clear_all(&u);
		report(!(vtd_rd32(&u, VTD_FSTS) & (VTD_FSTS_PPF | VTD_FSTS_PFO)),
		       "no fault left pending");
	}
	vtd_gcmd(&u, VTD_GCMD_TE, false);
	report_prefix_pop();
}

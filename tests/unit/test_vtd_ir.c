/* Unit tests for iommu/vtd_ir.c: compatibility-format pass-through (IRE
 * off, and GSTS.CFIS), remappable-format handles (index bit 15, SHV
 * subhandle), the MSI built from an IRTE (xAPIC and x2APIC destinations,
 * vector, delivery/destination/trigger mode, redirection hint), source-id
 * validation (SVT 1 with each SQ mask, SVT 2 bus range, SVT 3 reserved),
 * every IR fault reason 0x20-0x26 with its FRCD contents, and FPD
 * suppressing qualified faults only. Guest memory is a static buffer at
 * gpa 0; the table sits at IRT. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "vtd_fixture.h"
#include "vtd_internal.h"

#define IRT 0x100000ULL           /* room for 65536 entries (1 MiB) */
#define IRTE_P 1ULL
#define MSI_REMAP(idx) (0xfee00000ULL | ((uint64_t)(idx) & 0x7fff) << 5 | 1 << 4 | \
			((idx) & 0x8000 ? 4 : 0))

static void ir_up(bool eim, unsigned int s, bool eime)
{
	struct vtd_config cfg = { .aw_bits = 39, .nr_frcd = 8, .eim = eim };

	up_cfg(&cfg);
	nr_iec = 0;
	vtd_set_iec_notifier(&v, on_iec, NULL);
	vtd_mmio_write(&v, VTD_REG_IRTA, IRT | s | (eime ? VTD_IRTA_EIME : 0), 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_SIRTP, 4);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_IRE, 4);
}

static void irte(unsigned int index, uint64_t lo, uint64_t hi)
{
	wr64(IRT + 16 * index, lo);
	wr64(IRT + 16 * index + 8, hi);
}

/* An IRTE: present, vector, xAPIC destination apic (bits 47:40). */
static uint64_t irte_lo(uint8_t vector, uint8_t apic)
{
	return IRTE_P | (uint64_t)vector << 16 | (uint64_t)apic << 40;
}

/* Expects a fault with reason fr and return ret; checks the FRCD when it
 * is to be recorded (FI = index << 48, SID, FR) and clears it. */
static void expect_fault(uint16_t sid, uint64_t addr, uint32_t data, int ret, uint8_t fr,
			 bool recorded, unsigned int index)
{
	unsigned int before = v.next_frcd;
	uint64_t oa = 1;
	uint32_t od = 1;
	unsigned int off;

	CU_ASSERT_EQUAL(vtd_ir_translate(&v, sid, addr, data, &oa, &od), ret);
	CU_ASSERT_EQUAL(v.ir_fault, fr);
	CU_ASSERT_EQUAL(oa, 0);
	CU_ASSERT_EQUAL(od, 0);
	if (!recorded) {
		CU_ASSERT_EQUAL(v.next_frcd, before);
		return;
	}
	CU_ASSERT_EQUAL(v.next_frcd, (before + 1) % 8);
	off = VTD_FRO + 16 * before;
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, off, 8), (uint64_t)index << 48);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, off + 8, 8),
			VTD_FRCD_F | VTD_FRCD_FR(fr) | sid);
	vtd_mmio_write(&v, off + 12, (uint32_t)(VTD_FRCD_F >> 32), 4);
}

static void test_compat(void)
{
	uint64_t oa;
	uint32_t od;

	/* IRE off: everything passes through, even remappable format */
	up(39);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, 0xfee01000, 0x4041, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, 0xfee01000);
	CU_ASSERT_EQUAL(od, 0x4041);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(3), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, MSI_REMAP(3));
	down();
	/* IRE on: compatibility format blocked without CFIS (0x25) */
	ir_up(false, 7, false);
	expect_fault(SID, 0xfee01000, 0x41, -EPERM, VTD_FR_IR_REQ_COMPAT, true, 0);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_IRE | VTD_GCMD_CFI, 4);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_GSTS, 4) & VTD_GCMD_CFI);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, 0xfee01000, 0x41, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, 0xfee01000);
	CU_ASSERT_EQUAL(od, 0x41);
	down();
}

static void test_remap_xapic(void)
{
	uint64_t oa;
	uint32_t od;

	ir_up(false, 7, false);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_GSTS, 4) & VTD_GCMD_IRE);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_GSTS, 4) & VTD_GCMD_SIRTP);
	CU_ASSERT_EQUAL(nr_iec, 2);     /* SIRTP, IRE */
	/* vector 0x31, dest 5, DM logical, RH, TM level, DLM lowest (1) */
	irte(3, irte_lo(0x31, 5) | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5, 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(3), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, 0xfee05000 | 8 | 4);
	CU_ASSERT_EQUAL(od, 0x31 | 1 << 8 | 1 << 14 | 1 << 15);
	CU_ASSERT_EQUAL(v.ir_fault, 0);
	/* fixed, physical, edge */
	irte(4, irte_lo(0x22, 0xfe), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(4), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, 0xfeefe000);
	CU_ASSERT_EQUAL(od, 0x22);
	/* xAPIC: destination bits other than 47:40 are reserved */
	irte(5, irte_lo(0x22, 1) | 1ULL << 32, 0);
	expect_fault(SID, MSI_REMAP(5), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 5);
	/* EIME without ECAP.EIM is ignored: still xAPIC */
	down();
	ir_up(false, 7, true);
	irte(4, irte_lo(0x22, 0xfe), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(4), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(oa, 0xfeefe000);
	down();
}

static void test_remap_x2apic(void)
{
	uint64_t oa;
	uint32_t od;

	ir_up(true, 7, true);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_ECAP, 8) & VTD_ECAP_EIM);
	irte(2, IRTE_P | 0x40ULL << 16 | 0x12345678ULL << 32, 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(2), 0, &oa, &od), 0);
	/* dest 7:0 in address 19:12, dest 31:8 in address 63:40 */
	CU_ASSERT_EQUAL(oa, 0x12345600ULL << 32 | 0xfee78000);
	CU_ASSERT_EQUAL(od, 0x40);
	down();
}

static void test_handle(void)
{
	uint64_t oa;
	uint32_t od;

	ir_up(false, 0xf, false);
	irte(0x8003, irte_lo(0x50, 1), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(0x8003), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(od, 0x50);
	/* SHV: the subhandle in data 15:0 is added to the handle */
	irte(0x107, irte_lo(0x51, 2), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(0x100) | 8, 7, &oa, &od), 0);
	CU_ASSERT_EQUAL(od, 0x51);
	CU_ASSERT_EQUAL(oa, 0xfee02000);
	/* without SHV the data is ignored */
	irte(0x100, irte_lo(0x52, 2), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, MSI_REMAP(0x100), 7, &oa, &od), 0);
	CU_ASSERT_EQUAL(od, 0x52);
	/* handle + subhandle beyond 16 bits */
	expect_fault(SID, MSI_REMAP(0xffff) | 8, 1, -EFAULT, VTD_FR_IR_INDEX_OVER, true, 0);
	down();
}

static void test_faults(void)
{
	ir_up(false, 3, false);          /* 16 entries */
	irte(1, irte_lo(0x30, 1), 0);
	/* 0x20: high address bits, wrong head, SHV data bits 31:16 */
	expect_fault(SID, 1ULL << 32 | MSI_REMAP(1), 0, -EINVAL, VTD_FR_IR_REQ_RSVD, true, 0);
	expect_fault(SID, 0xfed00010, 0, -EINVAL, VTD_FR_IR_REQ_RSVD, true, 0);
	expect_fault(SID, MSI_REMAP(1) | 8, 0x10000, -EINVAL, VTD_FR_IR_REQ_RSVD, true, 1);
	/* 0x21: index beyond 2^(S+1) */
	expect_fault(SID, MSI_REMAP(16), 0, -EFAULT, VTD_FR_IR_INDEX_OVER, true, 16);
	/* 0x22: not present */
	expect_fault(SID, MSI_REMAP(2), 0, -EFAULT, VTD_FR_IR_ENTRY_P, true, 2);
	/* 0x24: reserved bits low, posted (IM), high, SVT 3 */
	irte(3, irte_lo(0x30, 1) | 1ULL << 12, 0);
	expect_fault(SID, MSI_REMAP(3), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 3);
	irte(3, irte_lo(0x30, 1) | 1ULL << 15, 0);
	expect_fault(SID, MSI_REMAP(3), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 3);
	irte(3, irte_lo(0x30, 1) | 1ULL << 24, 0);
	expect_fault(SID, MSI_REMAP(3), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 3);
	irte(3, irte_lo(0x30, 1), 1ULL << 20);
	expect_fault(SID, MSI_REMAP(3), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 3);
	irte(3, irte_lo(0x30, 1), 3ULL << 18 | SID);
	expect_fault(SID, MSI_REMAP(3), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, true, 3);
	/* 0x26: source id */
	irte(4, irte_lo(0x30, 1), 1ULL << 18 | 0x0200);
	expect_fault(SID, MSI_REMAP(4), 0, -EPERM, VTD_FR_IR_SID_ERR, true, 4);
	down();
	/* 0x23: the table lies in a memory hole */
	up(39);
	vtd_mmio_write(&v, VTD_REG_IRTA, MEMSZ | 0xf, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_SIRTP, 4);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_IRE, 4);
	expect_fault(SID, MSI_REMAP(9), 0, -EFAULT, VTD_FR_IR_ROOT_INVAL, true, 9);
	down();
}

static void test_fpd(void)
{
	ir_up(false, 3, false);
	/* FPD suppresses the qualified faults: not present, reserved, SID */
	irte(1, 1ULL << 1, 0);
	expect_fault(SID, MSI_REMAP(1), 0, -EFAULT, VTD_FR_IR_ENTRY_P, false, 1);
	irte(2, irte_lo(0x30, 1) | 2 | 1ULL << 12, 0);
	expect_fault(SID, MSI_REMAP(2), 0, -EFAULT, VTD_FR_IR_IRTE_RSVD, false, 2);
	irte(3, irte_lo(0x30, 1) | 2, 1ULL << 18 | 0x0300);
	expect_fault(SID, MSI_REMAP(3), 0, -EPERM, VTD_FR_IR_SID_ERR, false, 3);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_FSTS, 4) & VTD_FSTS_PPF, 0);
	/* but not the others (index beyond the table) */
	expect_fault(SID, MSI_REMAP(20), 0, -EFAULT, VTD_FR_IR_INDEX_OVER, true, 20);
	down();
}

static void test_svt_sq(void)
{
	static const struct {
		unsigned int sq;
		uint16_t sid;
		bool ok;
	} cases[] = {
		{ 0, 0x0108, true }, { 0, 0x0109, false },
		{ 1, 0x010c, true }, { 1, 0x010a, false },   /* ignore bit 2 */
		{ 2, 0x010e, true }, { 2, 0x0109, false },   /* ignore bits 2:1 */
		{ 3, 0x010f, true }, { 3, 0x0110, false },   /* ignore bits 2:0 */
	};
	uint64_t oa;
	uint32_t od;
	unsigned int i;

	ir_up(false, 3, false);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		irte(1, irte_lo(0x30, 1), 1ULL << 18 | (uint64_t)cases[i].sq << 16 | 0x0108);
		if (cases[i].ok) {
			CU_ASSERT_EQUAL(vtd_ir_translate(&v, cases[i].sid, MSI_REMAP(1), 0, &oa,
							 &od), 0);
		} else {
			expect_fault(cases[i].sid, MSI_REMAP(1), 0, -EPERM, VTD_FR_IR_SID_ERR,
				     true, 1);
		}
	}
	/* SVT 2: the requester's bus within [0x02, 0x05] */
	irte(1, irte_lo(0x30, 1), 2ULL << 18 | 0x0205);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, 0x0200, MSI_REMAP(1), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, 0x05ff, MSI_REMAP(1), 0, &oa, &od), 0);
	expect_fault(0x0108, MSI_REMAP(1), 0, -EPERM, VTD_FR_IR_SID_ERR, true, 1);
	expect_fault(0x0600, MSI_REMAP(1), 0, -EPERM, VTD_FR_IR_SID_ERR, true, 1);
	/* SVT 0: any requester */
	irte(1, irte_lo(0x30, 1), 0x0205);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, 0xffff, MSI_REMAP(1), 0, &oa, &od), 0);
	down();
}

/* The IOAPIC path: the RTE becomes an MSI with the IOAPIC's source id. */
static void test_ioapic(void)
{
	const uint16_t ioapic_sid = 0xff00;
	uint64_t oa;
	uint32_t od;

	ir_up(false, 7, false);
	irte(0x21, irte_lo(0x61, 0) | 1 << 4, 1ULL << 18 | ioapic_sid);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, ioapic_sid, MSI_REMAP(0x21), 0, &oa, &od), 0);
	CU_ASSERT_EQUAL(od, 0x61 | 1 << 14 | 1 << 15);
	expect_fault(SID, MSI_REMAP(0x21), 0, -EPERM, VTD_FR_IR_SID_ERR, true, 0x21);
	down();
}

void unit_register(void)
{
	UNIT_SUITE("vtd_ir",
		   UNIT_TEST(test_compat),
		   UNIT_TEST(test_remap_xapic),
		   UNIT_TEST(test_remap_x2apic),
		   UNIT_TEST(test_handle),
		   UNIT_TEST(test_faults),
		   UNIT_TEST(test_fpd),
		   UNIT_TEST(test_svt_sq),
		   UNIT_TEST(test_ioapic));
}

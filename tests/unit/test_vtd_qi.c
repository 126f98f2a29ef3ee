/* Unit tests for iommu/vtd_qi.c: enabling the queue (QIES, IQH reset,
 * register-based invalidation refused), every descriptor type
 * (context-cache, IOTLB, device-IOTLB with the ATS size encoding, IEC with
 * the IEC notifier, wait with SW, IF and both), the completion event
 * (ICS.IWC, IECTL IM/IP), and the queue errors: reserved bits per type,
 * unknown types, unreadable slots, IQT beyond the queue -- each sets
 * FSTS.IQE with IQH at the bad descriptor, stops the queue, raises the
 * fault event, and resumes when software clears IQE. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "vtd_fixture.h"
#include "vtd_internal.h"

#define IQ 0x10000ULL    /* the queue: 256 slots (QS 0) */
#define STATUS 0x30000ULL

static unsigned int tail;

static void qi_up(void)
{
	up(39);
	tail = 0;
	nr_inval = 0;
	nr_iec = 0;
	vtd_set_notifier(&v, on_inval, NULL);
	vtd_set_iec_notifier(&v, on_iec, NULL);
	vtd_mmio_write(&v, VTD_REG_IQA, IQ, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
}

/* Queues one descriptor and rings IQT. */
static void submit(uint64_t lo, uint64_t hi)
{
	wr64(IQ + 16 * tail, lo);
	wr64(IQ + 16 * tail + 8, hi);
	tail = (tail + 1) % 256;
	vtd_mmio_write(&v, VTD_REG_IQT, (uint64_t)tail << 4, 8);
}

static unsigned int iqh(void)
{
	return (unsigned int)(vtd_mmio_read(&v, VTD_REG_IQH, 8) >> 4);
}

static uint32_t fsts(void)
{
	return (uint32_t)vtd_mmio_read(&v, VTD_REG_FSTS, 4);
}

/* Root table and TE, keeping QIE on (GCMD is written as GSTS | cmd). */
static void enable_te(void)
{
	vtd_mmio_write(&v, VTD_REG_RTADDR, ROOT, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_SRTP, 4);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_TE, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_GSTS, 4),
			VTD_GCMD_QIE | VTD_GCMD_TE | VTD_GCMD_SRTP);
}

static void test_enable(void)
{
	up(39);
	vtd_mmio_write(&v, VTD_REG_IQA, IQ, 8);
	/* Windows rings IQT before QIE: the wait then runs at enable. */
	wr64(IQ, 0x1234567800000025ULL);
	wr64(IQ + 8, STATUS);
	vtd_mmio_write(&v, VTD_REG_IQT, 1 << 4, 8);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_GSTS, 4) & VTD_GCMD_QIE);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0x12345678);
	CU_ASSERT_EQUAL(iqh(), 1);
	/* register-based invalidation is refused while QIES */
	vtd_mmio_write(&v, VTD_REG_CCMD, VTD_CCMD_ICC | (1ULL << 61), 8);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_CCMD, 8) >> 59) & 3, 0);
	vtd_mmio_write(&v, VTD_REG_IOTLB, VTD_IOTLB_IVT | (1ULL << 60), 8);
	CU_ASSERT_EQUAL((vtd_mmio_read(&v, VTD_REG_IOTLB, 8) >> 57) & 3, 0);
	/* disable, re-enable: IQH back to 0 */
	vtd_mmio_write(&v, VTD_REG_GCMD, 0, 4);
	vtd_mmio_write(&v, VTD_REG_IQT, 0, 8);
	CU_ASSERT_FALSE(vtd_mmio_read(&v, VTD_REG_GSTS, 4) & VTD_GCMD_QIE);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	CU_ASSERT_EQUAL(iqh(), 0);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

static void test_cc(void)
{
	struct vtd_xlate x;
	uint64_t top;

	qi_up();
	top = setup_ctx(SID, 1, 5, 0);
	map(top, 3, 0x1000, 0x5000, 3, 1);
	enable_te();
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), 0);
	nr_inval = 0;
	submit(0x11, 0);                                   /* global */
	CU_ASSERT_EQUAL(nr_inval, 1);
	CU_ASSERT_EQUAL(last_sid, VTD_ALL);
	CU_ASSERT_EQUAL(last_did, VTD_ALL);
	CU_ASSERT_EQUAL(v.ctx_misses, 1);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), 0);
	CU_ASSERT_EQUAL(v.ctx_misses, 2);                  /* the entry was dropped */
	submit(0x21 | 5ULL << 16, 0);                      /* domain 5 */
	CU_ASSERT_EQUAL(last_did, 5);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), 0);
	CU_ASSERT_EQUAL(v.ctx_misses, 3);
	submit(0x31 | (uint64_t)SID << 32, 0);             /* device */
	CU_ASSERT_EQUAL(last_sid, SID);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x1000, DMA_READ, &x), 0);
	CU_ASSERT_EQUAL(v.ctx_misses, 4);
	CU_ASSERT_EQUAL(iqh(), 3);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

static void test_iotlb(void)
{
	struct vtd_xlate x;
	uint64_t top;

	qi_up();
	top = setup_ctx(SID, 1, 5, 0);
	map(top, 3, 0x201000, 0x5000, 3, 1);
	enable_te();
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x201000, DMA_READ, &x), 0);
	nr_inval = 0;
	submit(0x12, 0);                                   /* global */
	CU_ASSERT_EQUAL(nr_inval, 1);
	CU_ASSERT_EQUAL(last_did, VTD_ALL);
	submit(0x22 | 5ULL << 16 | 0xc0, 0);               /* domain, DR|DW ignored */
	CU_ASSERT_EQUAL(last_did, 5);
	CU_ASSERT_EQUAL(last_len, UINT64_MAX);
	/* page-selective, AM 9: the 2M region around the address */
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x201000, DMA_READ, &x), 0);
	CU_ASSERT_EQUAL(v.iotlb_misses, 2);
	submit(0x32 | 5ULL << 16, 0x2ff000 | 9);
	CU_ASSERT_EQUAL(last_did, 5);
	CU_ASSERT_EQUAL(last_iova, 0x200000);
	CU_ASSERT_EQUAL(last_len, 0x200000);
	CU_ASSERT_EQUAL(vtd_translate(&v, SID, 0x201000, DMA_READ, &x), 0);
	CU_ASSERT_EQUAL(v.iotlb_misses, 3);
	CU_ASSERT_EQUAL(nr_inval, 3);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	/* AM above MAMV is a queue error */
	submit(0x32 | 5ULL << 16, VTD_MAMV + 1);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 3);
	down();
}

static void test_devtlb(void)
{
	qi_up();
	submit(0x3 | (uint64_t)SID << 32, 0x7000);        /* S=0: one page */
	CU_ASSERT_EQUAL(nr_inval, 1);
	CU_ASSERT_EQUAL(last_sid, SID);
	CU_ASSERT_EQUAL(last_did, VTD_ALL);
	CU_ASSERT_EQUAL(last_iova, 0x7000);
	CU_ASSERT_EQUAL(last_len, 0x1000);
	submit(0x3 | (uint64_t)SID << 32, 0x5000 | 1);    /* bit 12 set, 13 clear: 16K */
	CU_ASSERT_EQUAL(last_iova, 0x4000);
	CU_ASSERT_EQUAL(last_len, 0x4000);
	submit(0x3 | (uint64_t)SID << 32, 0x1000 | 0x2000 | 0x4000 | 0x10000 | 1);
	CU_ASSERT_EQUAL(last_iova, 0x10000);               /* bits 14:12 ones: 64K */
	CU_ASSERT_EQUAL(last_len, 0x10000);
	submit(0x3, ~0xfffULL | 1);                        /* all ones: everything */
	CU_ASSERT_EQUAL(last_iova, 0);
	CU_ASSERT_EQUAL(last_len, UINT64_MAX);
	/* PFSID and MIP are accepted */
	submit(0x3 | 0xfffULL << 52 | 0xfULL << 12 | 0x1fULL << 16, 0x1000);
	CU_ASSERT_EQUAL(nr_inval, 5);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

static void test_iec(void)
{
	qi_up();
	submit(0x4, 0);                                    /* global */
	CU_ASSERT_EQUAL(nr_iec, 1);
	CU_ASSERT_EQUAL(last_iec_index, 0);
	CU_ASSERT_EQUAL(last_iec_count, VTD_IRTE_MAX);
	submit(0x14 | 0x13ULL << 32 | 2ULL << 27, 0);      /* index 0x13, IM 2 */
	CU_ASSERT_EQUAL(nr_iec, 2);
	CU_ASSERT_EQUAL(last_iec_index, 0x10);
	CU_ASSERT_EQUAL(last_iec_count, 4);
	submit(0x14 | 0xffffULL << 32, 0);                 /* one entry */
	CU_ASSERT_EQUAL(last_iec_index, 0xffff);
	CU_ASSERT_EQUAL(last_iec_count, 1);
	submit(0x14 | 0xffffULL << 32 | 31ULL << 27, 0);   /* IM beyond the table */
	CU_ASSERT_EQUAL(last_iec_index, 0);
	CU_ASSERT_EQUAL(last_iec_count, VTD_IRTE_MAX);
	/* SIRTP and IRE changes also invalidate every route */
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_SIRTP, 4);
	CU_ASSERT_EQUAL(nr_iec, 5);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_IRE, 4);
	CU_ASSERT_EQUAL(nr_iec, 6);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

static void test_wait_sw(void)
{
	qi_up();
	submit(0xcafef00d00000025ULL, STATUS);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0xcafef00d);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS + 4), 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_ICS, 4), 0);
	CU_ASSERT_EQUAL(msi_count, 0);
	/* FN (fence) is accepted */
	submit(0x0000000200000065ULL, STATUS + 4);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS + 4), 2);
	/* a status address outside guest memory is a queue error */
	submit(0x0000000300000025ULL, MEMSZ);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 2);
	down();
}

static void test_wait_if(void)
{
	qi_up();
	vtd_mmio_write(&v, VTD_REG_IEDATA, 0x41, 4);
	vtd_mmio_write(&v, VTD_REG_IEADDR, 0xfee01000, 4);
	/* masked (reset value): IWC and IP, no interrupt */
	submit(0x15, 0);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_ICS, 4), VTD_ICS_IWC);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_IECTL, 4) & VTD_FECTL_IP);
	CU_ASSERT_EQUAL(msi_count, 0);
	/* unmasking delivers the pending one */
	vtd_mmio_write(&v, VTD_REG_IECTL, 0, 4);
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(msi_addr, 0xfee01000);
	CU_ASSERT_EQUAL(msi_data, 0x41);
	CU_ASSERT_FALSE(vtd_mmio_read(&v, VTD_REG_IECTL, 4) & VTD_FECTL_IP);
	/* IWC still set: no new event */
	submit(0x15, 0);
	CU_ASSERT_EQUAL(msi_count, 1);
	/* clear IWC (W1C); the next one interrupts at once */
	vtd_mmio_write(&v, VTD_REG_ICS, VTD_ICS_IWC, 4);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_ICS, 4), 0);
	submit(0x15, 0);
	CU_ASSERT_EQUAL(msi_count, 2);
	/* masked, then IWC cleared: IP goes away, unmask sends nothing */
	vtd_mmio_write(&v, VTD_REG_ICS, VTD_ICS_IWC, 4);
	vtd_mmio_write(&v, VTD_REG_IECTL, VTD_FECTL_IM, 4);
	submit(0x15, 0);
	CU_ASSERT(vtd_mmio_read(&v, VTD_REG_IECTL, 4) & VTD_FECTL_IP);
	vtd_mmio_write(&v, VTD_REG_ICS, VTD_ICS_IWC, 4);
	CU_ASSERT_FALSE(vtd_mmio_read(&v, VTD_REG_IECTL, 4) & VTD_FECTL_IP);
	vtd_mmio_write(&v, VTD_REG_IECTL, 0, 4);
	CU_ASSERT_EQUAL(msi_count, 2);
	down();
}

/* QEMU 7.2 aborts on this one (SW and IF together). */
static void test_wait_both(void)
{
	qi_up();
	vtd_mmio_write(&v, VTD_REG_IECTL, 0, 4);
	vtd_mmio_write(&v, VTD_REG_IEADDR, 0xfee00000, 4);
	submit(0x1234567800000035ULL, STATUS);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0x12345678);
	CU_ASSERT_EQUAL(vtd_mmio_read(&v, VTD_REG_ICS, 4), VTD_ICS_IWC);
	CU_ASSERT_EQUAL(msi_count, 1);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

/* Expects the descriptor to stop the queue with IQE at its slot. */
static void expect_iqe(uint64_t lo, uint64_t hi)
{
	qi_up();
	submit(0x4, 0);     /* one good descriptor first */
	submit(lo, hi);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 1);
	CU_ASSERT_EQUAL(nr_iec, 1);
	down();
}

static void test_reserved(void)
{
	expect_iqe(0x11 | 1ULL << 6, 0);          /* CC: bit 6 */
	expect_iqe(0x11 | 1ULL << 50, 0);         /* CC: bit 50 */
	expect_iqe(0x11, 1);                      /* CC: high quad */
	expect_iqe(0x01, 0);                      /* CC: granularity 0 */
	expect_iqe(0x12 | 1ULL << 8, 0);          /* IOTLB: bit 8 */
	expect_iqe(0x12 | 1ULL << 32, 0);         /* IOTLB: bit 32 */
	expect_iqe(0x12, 1ULL << 7);              /* IOTLB: hi bit 7 */
	expect_iqe(0x02, 0);                      /* IOTLB: granularity 0 */
	expect_iqe(0x3 | 1ULL << 4, 0);           /* device-IOTLB: bit 4 */
	expect_iqe(0x3 | 1ULL << 21, 0);          /* device-IOTLB: bit 21 */
	expect_iqe(0x3, 2);                       /* device-IOTLB: hi bit 1 */
	expect_iqe(0x4 | 1ULL << 5, 0);           /* IEC: bit 5 */
	expect_iqe(0x4 | 1ULL << 48, 0);          /* IEC: bit 48 */
	expect_iqe(0x4, 1);                       /* IEC: high quad */
	expect_iqe(0x25 | 1ULL << 7, STATUS);     /* wait: PD (no PRS) */
	expect_iqe(0x25 | 1ULL << 12, STATUS);    /* wait: bit 12 */
	expect_iqe(0x25, STATUS | 1);             /* wait: address bit 0 */
	expect_iqe(0x25, 1ULL << 40);             /* wait: address beyond HAW */
}

static void test_bad_type(void)
{
	expect_iqe(0x0, 0);
	expect_iqe(0x6, 0);                       /* PASID-IOTLB: scalable only */
	expect_iqe(0x7, 0);
	expect_iqe(0xf, 0);
	expect_iqe(0x11 | 1ULL << 9, 0);          /* type bits 11:9 */
}

static void test_iqe_stops_and_resumes(void)
{
	qi_up();
	vtd_mmio_write(&v, VTD_REG_FECTL, 0, 4);
	vtd_mmio_write(&v, VTD_REG_FEADDR, 0xfee00000, 4);
	vtd_mmio_write(&v, VTD_REG_FEDATA, 0x30, 4);
	/* good, bad, good (a wait that must not run yet) */
	wr64(IQ, 0x4);
	wr64(IQ + 8, 0);
	wr64(IQ + 16, 0x9);
	wr64(IQ + 24, 0);
	wr64(IQ + 32, 0x0000000700000025ULL);
	wr64(IQ + 40, STATUS);
	vtd_mmio_write(&v, VTD_REG_IQT, 3 << 4, 8);
	CU_ASSERT_EQUAL(nr_iec, 1);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 1);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0);
	CU_ASSERT_EQUAL(msi_count, 1);                     /* the fault event */
	CU_ASSERT_EQUAL(msi_data, 0x30);
	/* more IQT writes do nothing while IQE is set */
	vtd_mmio_write(&v, VTD_REG_IQT, 3 << 4, 8);
	CU_ASSERT_EQUAL(iqh(), 1);
	/* software fixes the descriptor and clears IQE: the queue resumes */
	wr64(IQ + 16, 0x4);
	vtd_mmio_write(&v, VTD_REG_FSTS, VTD_FSTS_IQE, 4);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	CU_ASSERT_EQUAL(iqh(), 3);
	CU_ASSERT_EQUAL(nr_iec, 2);
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 7);
	down();
}

static void test_queue_errors(void)
{
	/* IQT beyond a 256-entry queue */
	qi_up();
	vtd_mmio_write(&v, VTD_REG_IQT, 256 << 4, 8);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 0);
	down();
	/* a queue in a memory hole: the fetch fails */
	up(39);
	vtd_mmio_write(&v, VTD_REG_IQA, MEMSZ, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	vtd_mmio_write(&v, VTD_REG_IQT, 1 << 4, 8);
	CU_ASSERT(fsts() & VTD_FSTS_IQE);
	CU_ASSERT_EQUAL(iqh(), 0);
	down();
	/* a bigger queue (QS 1: 512 entries) wraps at its end */
	up(39);
	vtd_mmio_write(&v, VTD_REG_IQA, IQ | 1, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	for (unsigned int i = 0; i < 512; i++)
		wr64(IQ + 16 * i, 0x4);                    /* IEC global */
	nr_iec = 0;
	vtd_set_iec_notifier(&v, on_iec, NULL);
	vtd_mmio_write(&v, VTD_REG_IQT, 511 << 4, 8);
	CU_ASSERT_EQUAL(iqh(), 511);
	vtd_mmio_write(&v, VTD_REG_IQT, 2 << 4, 8);      /* 511, 0, 1 */
	CU_ASSERT_EQUAL(iqh(), 2);
	CU_ASSERT_EQUAL(nr_iec, 514);
	CU_ASSERT_EQUAL(fsts() & VTD_FSTS_IQE, 0);
	down();
}

/* The notifiers run without the unit's lock, before a later wait
 * completes: a notifier may translate (it would deadlock under the lock),
 * and the wait's status is not written yet when it runs. */
static unsigned int reentrant_calls;
static uint32_t status_seen;
static int translate_ret;

static void on_inval_reenter(void *o, int sid, int did, uint64_t iova, uint64_t len)
{
	struct vtd_xlate x;
	uint64_t oa;
	uint32_t od;

	reentrant_calls++;
	status_seen = get_le32(mem + STATUS);
	translate_ret = vtd_translate(&v, SID, 0x5000, DMA_READ, &x);
	CU_ASSERT_EQUAL(vtd_ir_translate(&v, SID, 0xfee00000, 0x30, &oa, &od), 0);
}

static void test_notify_unlocked(void)
{
	uint64_t top;

	qi_up();
	top = setup_ctx(SID, 1, 7, 0);
	map(top, 3, 0x5000, 0x9000, 1, 1);
	enable_te();
	reentrant_calls = 0;
	vtd_set_notifier(&v, on_inval_reenter, NULL);
	wr64(IQ + 16 * tail, 0x2ULL | 1ULL << 4);                 /* IOTLB global */
	wr64(IQ + 16 * tail + 8, 0);
	wr64(IQ + 16 * (tail + 1), 0x5555000000000025ULL);        /* wait, SW */
	wr64(IQ + 16 * (tail + 1) + 8, STATUS);
	tail += 2;
	vtd_mmio_write(&v, VTD_REG_IQT, (uint64_t)tail << 4, 8);
	CU_ASSERT_EQUAL(reentrant_calls, 1);
	CU_ASSERT_EQUAL(status_seen, 0);                           /* before the wait */
	CU_ASSERT_EQUAL(translate_ret, 0);                         /* and no deadlock */
	CU_ASSERT_EQUAL(get_le32(mem + STATUS), 0x55550000);
	CU_ASSERT_EQUAL(iqh(), tail);
	down();
}

void unit_register(void)
{
	UNIT_SUITE("vtd_qi",
		   UNIT_TEST(test_enable),
		   UNIT_TEST(test_cc),
		   UNIT_TEST(test_iotlb),
		   UNIT_TEST(test_devtlb),
		   UNIT_TEST(test_iec),
		   UNIT_TEST(test_wait_sw),
		   UNIT_TEST(test_wait_if),
		   UNIT_TEST(test_wait_both),
		   UNIT_TEST(test_reserved),
		   UNIT_TEST(test_bad_type),
		   UNIT_TEST(test_iqe_stops_and_resumes),
		   UNIT_TEST(test_queue_errors),
		   UNIT_TEST(test_notify_unlocked));
}

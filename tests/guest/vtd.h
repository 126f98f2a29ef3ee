/* The test guest's Intel VT-d driver (legacy mode): the DMAR table, the
 * register page, root/context/second-level tables, fault records, queued
 * invalidation and interrupt remapping, as a guest OS programs them. Used
 * by test_vtd.c against isle's unit (--iommu) and QEMU's intel-iommu.
 * Register offsets and bits are the VT-d specification's (rev. 4). */
#ifndef GUEST_VTD_H
#define GUEST_VTD_H

#include <stdbool.h>
#include <stdint.h>

/* Registers. */
#define VTD_VER      0x00
#define VTD_CAP      0x08
#define VTD_ECAP     0x10
#define VTD_GCMD     0x18
#define VTD_GSTS     0x1c
#define VTD_RTADDR   0x20
#define VTD_CCMD     0x28
#define VTD_FSTS     0x34
#define VTD_FECTL    0x38
#define VTD_FEDATA   0x3c
#define VTD_FEADDR   0x40
#define VTD_FEUADDR  0x44
#define VTD_IQH      0x80
#define VTD_IQT      0x88
#define VTD_IQA      0x90
#define VTD_ICS      0x9c
#define VTD_IECTL    0xa0
#define VTD_IEDATA   0xa4
#define VTD_IEADDR   0xa8
#define VTD_IEUADDR  0xac
#define VTD_IRTA     0xb8

/* GCMD / GSTS */
#define VTD_GCMD_TE      (1u << 31)
#define VTD_GCMD_SRTP    (1u << 30)
#define VTD_GCMD_QIE     (1u << 26)
#define VTD_GCMD_IRE     (1u << 25)
#define VTD_GCMD_SIRTP   (1u << 24)
#define VTD_GCMD_CFI     (1u << 23)
#define VTD_GCMD_ONESHOT (VTD_GCMD_SRTP | VTD_GCMD_SIRTP)

/* CAP / ECAP fields */
#define VTD_CAP_NFR(c)    ((unsigned int)(((c) >> 40) & 0xff) + 1)
#define VTD_CAP_FRO(c)    ((unsigned int)(((c) >> 24) & 0x3ff) * 16)
#define VTD_CAP_SAGAW(c)  ((unsigned int)(((c) >> 8) & 0x1f))
#define VTD_CAP_MGAW(c)   ((unsigned int)(((c) >> 16) & 0x3f) + 1)
#define VTD_CAP_SLLPS(c)  ((unsigned int)(((c) >> 34) & 0xf))
#define VTD_CAP_PSI       (1ULL << 39)
#define VTD_CAP_CM        (1ULL << 7)
#define VTD_CAP_MAMV(c)   ((unsigned int)(((c) >> 48) & 0x3f))
#define VTD_ECAP_QI       (1ULL << 1)
#define VTD_ECAP_IR       (1ULL << 3)
#define VTD_ECAP_EIM      (1ULL << 4)
#define VTD_ECAP_PT       (1ULL << 6)
#define VTD_ECAP_IRO(e)   ((unsigned int)(((e) >> 8) & 0x3ff) * 16)

/* FSTS / FECTL / FRCD */
#define VTD_FSTS_PFO      (1u << 0)
#define VTD_FSTS_PPF      (1u << 1)
#define VTD_FSTS_IQE      (1u << 4)
#define VTD_FSTS_FRI(f)   (((f) >> 8) & 0xff)
#define VTD_FECTL_IM      (1u << 31)
#define VTD_FECTL_IP      (1u << 30)

/* Second-level entries. */
#define VTD_SL_R          (1ULL << 0)
#define VTD_SL_W          (1ULL << 1)
#define VTD_SL_PS         (1ULL << 7)

/* Fault reasons the tests expect. */
#define VTD_FR_WRITE      0x05
#define VTD_FR_READ       0x06
#define VTD_FR_PAGING_RSVD 0x0c
#define VTD_FR_IR_SID_ERR 0x26

struct vtd_fault {
	bool valid;            /* F was set */
	uint8_t reason;
	uint16_t sid;
	bool read;             /* T: 1 read, 0 write */
	uint64_t addr;         /* FI: page address (IR: index << 48) */
};

/* What the DMAR table says and the unit advertises. */
struct vtd_unit {
	uint64_t base;          /* DRHD register base */
	uint8_t haw;            /* host address width (bits) */
	uint8_t dmar_flags;
	uint8_t drhd_flags;
	bool include_all;
	bool covers;            /* INCLUDE_PCI_ALL or an endpoint scope names bdf */
	bool ioapic_scope;      /* the DRHD names an IOAPIC */
	uint8_t ioapic_id;
	uint16_t ioapic_sid;
	uint64_t cap, ecap;
	unsigned int levels;    /* 4 if SAGAW has 4-level tables, else 3 */
};

/* Parses the DMAR table's first DRHD (and whether it covers the function
 * bdf on bus 0's root complex); false without one. */
bool vtd_find(struct vtd_unit *u, uint16_t bdf);

uint32_t vtd_rd32(const struct vtd_unit *u, unsigned int off);
uint64_t vtd_rd64(const struct vtd_unit *u, unsigned int off);
void vtd_wr32(const struct vtd_unit *u, unsigned int off, uint32_t v);
void vtd_wr64(const struct vtd_unit *u, unsigned int off, uint64_t v);

/* Sets or clears one GCMD bit (keeping the other persistent ones) and
 * waits for GSTS to follow; true if it did. */
bool vtd_gcmd(const struct vtd_unit *u, uint32_t bit, bool on);
/* Register-based global context-cache and IOTLB invalidation; true when
 * the hardware reported them done. */
bool vtd_inv_regs_global(const struct vtd_unit *u);

/* Fault recording registers. */
void vtd_fault_read(const struct vtd_unit *u, unsigned int i, struct vtd_fault *f);
void vtd_fault_clear(const struct vtd_unit *u, unsigned int i);
/* Clears every F bit and FSTS.PFO. */
void vtd_faults_clear_all(const struct vtd_unit *u);
/* The first recorded fault (from FSTS.FRI on): true with *f and *index. */
bool vtd_fault_first(const struct vtd_unit *u, struct vtd_fault *f, unsigned int *index);

/* Drops domain did's IOTLB entries for the 4 KiB page at iova (page-
 * selective with CAP.PSI, else the whole domain) and waits for it: through
 * the queue when GSTS.QIES is set (a wait descriptor writing a fresh value
 * to *status), else through the IOTLB registers. true when done. Needed
 * after every change to a mapping when CAP.CM is set, after every unmap
 * always. */
bool vtd_inv_iotlb_page(const struct vtd_unit *u, uint16_t did, uint64_t iova,
			volatile uint32_t *status);

/* Queued invalidation over a 256-entry queue in iq (4 KiB aligned). */
void vtd_qi_setup(const struct vtd_unit *u, uint64_t iq_pa);
/* Appends one 128-bit descriptor and moves the tail. */
void vtd_qi_submit(const struct vtd_unit *u, uint64_t lo, uint64_t hi);
/* Submits a wait descriptor with a status write of value to *status and
 * polls it: true if it arrived. */
bool vtd_qi_sync(const struct vtd_unit *u, volatile uint32_t *status, uint32_t value);

#define VTD_QI_CC_GLOBAL   (0x1ULL | 1ULL << 4)
#define VTD_QI_IOTLB_GLOBAL (0x2ULL | 1ULL << 4 | 1ULL << 6 | 1ULL << 7)
#define VTD_QI_IOTLB_PAGE(did) (0x2ULL | 3ULL << 4 | 1ULL << 6 | 1ULL << 7 | (uint64_t)(did) << 16)
#define VTD_QI_IOTLB_DOMAIN(did) (0x2ULL | 2ULL << 4 | 1ULL << 6 | 1ULL << 7 | (uint64_t)(did) << 16)
#define VTD_QI_IEC_GLOBAL  0x4ULL
#define VTD_QI_WAIT        0x5ULL
#define VTD_QI_WAIT_IF     (1ULL << 4)
#define VTD_QI_WAIT_SW     (1ULL << 5)

/* Interrupt remapping table entries (xAPIC destinations). */
#define VTD_IRTE_SVT_NONE  0
#define VTD_IRTE_SVT_SID   1
#define VTD_IRTE_SVT_BUS   2
void vtd_irte_set(uint64_t *irt, unsigned int index, uint8_t vector, uint8_t apic_id,
		  bool level, unsigned int svt, uint16_t sid);
/* The remappable-format MSI address for handle index (no subhandle). */
static inline uint64_t vtd_ir_msi_addr(unsigned int index)
{
	return 0xfee00000ULL | (uint64_t)(index & 0x7fff) << 5 | 1u << 4 |
	       ((index & 0x8000) ? 1u << 2 : 0);
}

#endif

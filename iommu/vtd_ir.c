/* VT-d interrupt remapping (VT-d spec chapter 5), legacy mode, no posted
 * interrupts.
 *
 * Owns vtd_ir_translate(): an MSI write (or an IOAPIC RTE the VMM turned
 * into the MSI it stands for) from a requester id becomes the x86 MSI
 * message its interrupt remapping table entry describes. The table is the
 * one latched by GCMD.SIRTP (vtd_regs.c: v->irta, address, size S and
 * EIME); GSTS.IRES turns remapping on and GSTS.CFIS lets compatibility-
 * format messages through. IRTEs are read from guest memory on every call
 * and never cached, so an IEC invalidation only has to reach the VMM's
 * routes (the IEC notifier, called from vtd_qi.c and vtd_regs.c).
 *
 * IOAPIC lines use the same call: the VMM turns a remappable-format RTE
 * (index[14:0] in bits 63:49, index[15] in bit 11, format in bit 48) into
 * the MSI it stands for, 0xfee00000 | index[14:0] << 5 | 1 << 4 |
 * index[15] << 2 with data 0, and passes the IOAPIC's source id, the one
 * the DMAR table's IOAPIC device scope names. The IRTE then supplies
 * vector, destination and trigger mode; the RTE's own vector and trigger
 * fields only have to agree with it (Linux keeps them equal).
 *
 * Contract: the message and the IRTE are untrusted. Every field is
 * checked (address head and high bits, index against the table size, P,
 * reserved bits, source-id per SVT/SQ); a failure returns an error with
 * the spec's IR reason code (0x20-0x26) in v->ir_fault and is recorded in
 * an FRCD unless the IRTE's FPD suppresses a qualified fault.
 */
#include <errno.h>
#include <string.h>

#include "isle/util.h"
#include "vtd_internal.h"

/* The interrupt request (remappable format). */
#define MSI_HEAD_MASK      0xfff00000ULL
#define MSI_HEAD           0xfee00000ULL
#define MSI_IR_FORMAT      (1ULL << 4)     /* 1: remappable */
#define MSI_IR_SHV         (1ULL << 3)
#define MSI_IR_INDEX15     (1ULL << 2)
#define MSI_IR_INDEX(a)    ((((a) >> 5) & 0x7fff) | (((a) & MSI_IR_INDEX15) ? 0x8000 : 0))
#define MSI_IR_DATA_RSVD   0xffff0000u

/* The IRTE (128 bits). */
#define IRTE_P             (1ULL << 0)
#define IRTE_FPD           (1ULL << 1)
#define IRTE_DM            (1ULL << 2)
#define IRTE_RH            (1ULL << 3)
#define IRTE_TM            (1ULL << 4)
#define IRTE_DLM(lo)       (((lo) >> 5) & 7)
#define IRTE_VECTOR(lo)    (((lo) >> 16) & 0xff)
#define IRTE_DEST(lo)      ((uint32_t)((lo) >> 32))
/* 14:12 reserved, 15 IM (posted: CAP.PI is clear), 31:24 reserved */
#define IRTE_RSVD_LO       0xff00f000ULL
#define IRTE_XAPIC_DEST_RSVD 0xff0000ffULL  /* xAPIC: only dest bits 15:8 */
#define IRTE_SID(hi)       ((uint16_t)(hi))
#define IRTE_SQ(hi)        (((hi) >> 16) & 3)
#define IRTE_SVT(hi)       (((hi) >> 18) & 3)
#define IRTE_RSVD_HI       0xfffffffffff00000ULL

enum { SVT_NONE = 0, SVT_SID = 1, SVT_BUS = 2 };

/* The x86 MSI message. */
#define MSI_ADDR_DEST(d)   ((uint64_t)((d) & 0xff) << 12)
#define MSI_ADDR_RH        (1ULL << 3)
#define MSI_ADDR_DM        (1ULL << 2)
#define MSI_DATA_DLM(m)    ((uint32_t)(m) << 8)
#define MSI_DATA_LEVEL     (1u << 14)
#define MSI_DATA_TM        (1u << 15)

/* Checks the requester against the IRTE's SID/SQ/SVT: 0 or a reason. */
static uint8_t check_sid(uint16_t sid, uint64_t hi)
{
	/* SQ: compare all bits, ignore function bit 2, bits 2:1, bits 2:0 */
	static const uint16_t sq_mask[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };
	uint16_t want = IRTE_SID(hi);

	switch (IRTE_SVT(hi)) {
	case SVT_NONE:
		return 0;
	case SVT_SID:
		if ((sid & sq_mask[IRTE_SQ(hi)]) != (want & sq_mask[IRTE_SQ(hi)]))
			return VTD_FR_IR_SID_ERR;
		return 0;
	case SVT_BUS:
		/* SID field: start bus in 15:8, end bus in 7:0 */
		if ((sid >> 8) < (want >> 8) || (sid >> 8) > (want & 0xff))
			return VTD_FR_IR_SID_ERR;
		return 0;
	default:
		return VTD_FR_IR_IRTE_RSVD;   /* SVT 3 is reserved */
	}
}

/* Reads and validates IRTE index: 0 with lo/hi, or a reason (*fpd set as
 * soon as the entry was read: it qualifies P, reserved and SID faults). */
static uint8_t irte_fetch(struct vtd *v, uint16_t sid, unsigned int index, uint64_t *lo,
			  uint64_t *hi, bool *fpd)
{
	uint64_t irta = v->irta;
	uint8_t b[16], fr;

	if (index >= 2u << VTD_IRTA_S(irta))
		return VTD_FR_IR_INDEX_OVER;
	if ((VTD_IRTA_ADDR(irta) & ~vtd_haw_mask(v)) ||
	    v->host.mem_read(v->host.opaque, VTD_IRTA_ADDR(irta) + 16ULL * index, b, sizeof(b)))
		return VTD_FR_IR_ROOT_INVAL;
	*lo = get_le64(b);
	*hi = get_le64(b + 8);
	*fpd = *lo & IRTE_FPD;
	if (!(*lo & IRTE_P))
		return VTD_FR_IR_ENTRY_P;
	if ((*lo & IRTE_RSVD_LO) || (*hi & IRTE_RSVD_HI))
		return VTD_FR_IR_IRTE_RSVD;
	if (!(irta & VTD_IRTA_EIME) && (IRTE_DEST(*lo) & IRTE_XAPIC_DEST_RSVD))
		return VTD_FR_IR_IRTE_RSVD;
	fr = check_sid(sid, *hi);
	return fr;
}

/* The message the IRTE stands for. */
static void irte_msi(const struct vtd *v, uint64_t lo, uint64_t *addr, uint32_t *data)
{
	uint32_t dest = IRTE_DEST(lo);

	if (!(v->irta & VTD_IRTA_EIME))
		dest = (dest >> 8) & 0xff;   /* xAPIC: APIC id in bits 47:40 */
	*addr = MSI_HEAD | MSI_ADDR_DEST(dest) | (uint64_t)(dest & 0xffffff00u) << 32;
	if (lo & IRTE_RH)
		*addr |= MSI_ADDR_RH;
	if (lo & IRTE_DM)
		*addr |= MSI_ADDR_DM;
	*data = IRTE_VECTOR(lo) | MSI_DATA_DLM(IRTE_DLM(lo));
	if (lo & IRTE_TM)
		*data |= MSI_DATA_TM | MSI_DATA_LEVEL;
}

static int fault_errno(uint8_t fr)
{
	switch (fr) {
	case VTD_FR_IR_REQ_RSVD:
		return -EINVAL;
	case VTD_FR_IR_REQ_COMPAT:
	case VTD_FR_IR_SID_ERR:
		return -EPERM;
	default:
		return -EFAULT;
	}
}

int vtd_ir_translate(struct vtd *v, uint16_t sid, uint64_t addr, uint32_t data,
		     uint64_t *out_addr, uint32_t *out_data)
{
	uint32_t gsts;
	unsigned int index = 0;
	uint64_t lo = 0, hi = 0;
	bool fpd = false;
	uint8_t fr;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	v->ir_fault = 0;
	gsts = vtd_get32(v, VTD_REG_GSTS);
	*out_addr = addr;
	*out_data = data;
	if (!(gsts & VTD_GCMD_IRE))
		goto unlock;   /* remapping off: every message is compatibility format */
	if ((addr >> 32) || (addr & MSI_HEAD_MASK) != MSI_HEAD) {
		fr = VTD_FR_IR_REQ_RSVD;
		goto fault;
	}
	if (!(addr & MSI_IR_FORMAT)) {
		if (gsts & VTD_GCMD_CFI)
			goto unlock;
		fr = VTD_FR_IR_REQ_COMPAT;
		goto fault;
	}
	index = MSI_IR_INDEX(addr);
	if (addr & MSI_IR_SHV) {
		if (data & MSI_IR_DATA_RSVD) {
			fr = VTD_FR_IR_REQ_RSVD;
			goto fault;
		}
		index += data & 0xffff;
		if (index >= VTD_IRTE_MAX) {
			fr = VTD_FR_IR_INDEX_OVER;
			index &= 0xffff;   /* FI holds 16 bits */
			goto fault;
		}
	}
	fr = irte_fetch(v, sid, index, &lo, &hi, &fpd);
	if (fr)
		goto fault;
	irte_msi(v, lo, out_addr, out_data);
	goto unlock;
fault:
	*out_addr = 0;
	*out_data = 0;
	v->ir_fault = fr;
	/* An interrupt request is a write; FI carries the index in 63:48. */
	vtd_fault(v, sid, (uint64_t)index << 48, fr, true, fpd);
	ret = fault_errno(fr);
unlock:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

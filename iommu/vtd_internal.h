/* VT-d internals shared by vtd_regs.c (registers, faults, invalidation
 * commands) and vtd_xlate.c (table walks, context cache, IOTLB): register
 * offsets and bits (VT-d spec chapter 11), entry layouts and the calls
 * between the two files. Every function here runs with v->lock held. */
#ifndef ISLE_IOMMU_VTD_INTERNAL_H
#define ISLE_IOMMU_VTD_INTERNAL_H

#include "vtd.h"

/* Register offsets. */
#define VTD_REG_VER     0x00
#define VTD_REG_CAP     0x08
#define VTD_REG_ECAP    0x10
#define VTD_REG_GCMD    0x18
#define VTD_REG_GSTS    0x1c
#define VTD_REG_RTADDR  0x20
#define VTD_REG_CCMD    0x28
#define VTD_REG_FSTS    0x34
#define VTD_REG_FECTL   0x38
#define VTD_REG_FEDATA  0x3c
#define VTD_REG_FEADDR  0x40
#define VTD_REG_FEUADDR 0x44
#define VTD_REG_IQH     0x80
#define VTD_REG_IQT     0x88
#define VTD_REG_IQA     0x90
#define VTD_REG_ICS     0x9c
#define VTD_REG_IECTL   0xa0
#define VTD_REG_IEDATA  0xa4
#define VTD_REG_IEADDR  0xa8
#define VTD_REG_IEUADDR 0xac
#define VTD_REG_IRTA    0xb8
#define VTD_IRO         0xf0    /* IVA here, IOTLB at +8 */
#define VTD_REG_IVA     VTD_IRO
#define VTD_REG_IOTLB   (VTD_IRO + 8)
#define VTD_FRO         0x220   /* FRCD i at VTD_FRO + 16 * i */

/* CAP */
#define VTD_CAP_ND16     6ULL                   /* 16-bit domain ids */
#define VTD_CAP_CM       (1ULL << 7)
#define VTD_CAP_SAGAW39  (1ULL << 9)            /* 3-level tables */
#define VTD_CAP_SAGAW48  (1ULL << 10)           /* 4-level tables */
#define VTD_CAP_MGAW(aw) ((uint64_t)((aw) - 1) << 16)
#define VTD_CAP_FRO(off) ((uint64_t)((off) / 16) << 24)
#define VTD_CAP_SLLPS    (3ULL << 34)           /* 2M and 1G */
#define VTD_CAP_PSI      (1ULL << 39)
#define VTD_CAP_NFR(n)   ((uint64_t)((n) - 1) << 40)
#define VTD_MAMV         18u
#define VTD_CAP_MAMV     ((uint64_t)VTD_MAMV << 48)
#define VTD_CAP_DWD      (1ULL << 54)
#define VTD_CAP_DRD      (1ULL << 55)

/* ECAP */
#define VTD_ECAP_QI      (1ULL << 1)
#define VTD_ECAP_IR      (1ULL << 3)
#define VTD_ECAP_EIM     (1ULL << 4)
#define VTD_ECAP_PT      (1ULL << 6)
#define VTD_ECAP_IRO     ((uint64_t)(VTD_IRO / 16) << 8)
#define VTD_ECAP_MHMV    (0xfULL << 20)

/* GCMD / GSTS (same bit positions) */
#define VTD_GCMD_TE      (1u << 31)
#define VTD_GCMD_SRTP    (1u << 30)
#define VTD_GCMD_QIE     (1u << 26)
#define VTD_GCMD_IRE     (1u << 25)
#define VTD_GCMD_SIRTP   (1u << 24)
#define VTD_GCMD_CFI     (1u << 23)

/* CCMD */
#define VTD_CCMD_ICC       (1ULL << 63)
#define VTD_CCMD_CIRG(x)   (((x) >> 61) & 3)
#define VTD_CCMD_CAIG_SHIFT 59
#define VTD_CCMD_CAIG_MASK (3ULL << 59)
#define VTD_CCMD_FM(x)     (((x) >> 32) & 3)
#define VTD_CCMD_SID(x)    (((x) >> 16) & 0xffff)
#define VTD_CCMD_DID(x)    ((x) & 0xffff)

/* IOTLB / IVA */
#define VTD_IOTLB_IVT      (1ULL << 63)
#define VTD_IOTLB_IIRG(x)  (((x) >> 60) & 3)
#define VTD_IOTLB_IAIG_SHIFT 57
#define VTD_IOTLB_IAIG_MASK (3ULL << 57)
#define VTD_IOTLB_DID(x)   (((x) >> 32) & 0xffff)
#define VTD_IVA_AM(x)      ((x) & 0x3f)
#define VTD_IVA_ADDR(x)    ((x) & ~0xfffULL)

/* Invalidation granularities (CIRG/IIRG) */
#define VTD_INV_GLOBAL 1
#define VTD_INV_DOMAIN 2
#define VTD_INV_DEVICE 3   /* CCMD: device; IOTLB: page-selective */

/* FSTS / FECTL */
#define VTD_FSTS_PFO     (1u << 0)
#define VTD_FSTS_PPF     (1u << 1)
#define VTD_FSTS_IQE     (1u << 4)
#define VTD_FSTS_ICE     (1u << 5)
#define VTD_FSTS_ITE     (1u << 6)
#define VTD_FSTS_FRI_SHIFT 8
#define VTD_FSTS_FRI_MASK (0xffu << 8)
#define VTD_FECTL_IM     (1u << 31)
#define VTD_FECTL_IP     (1u << 30)

/* FRCD high quad */
#define VTD_FRCD_F       (1ULL << 63)
#define VTD_FRCD_T       (1ULL << 62)   /* 1: read request, 0: write */
#define VTD_FRCD_FR(r)   ((uint64_t)(r) << 32)

/* Queued invalidation: IQA, IQH/IQT, ICS, IECTL (IM/IP as in FECTL). */
#define VTD_IQA_ADDR(x)    ((x) & ~0xfffULL)
#define VTD_IQA_QS(x)      ((x) & 7)             /* 2^QS 4K pages */
#define VTD_IQ_INDEX(x)    (((x) >> 4) & 0x7fff) /* IQH/IQT: 16-byte slot */
#define VTD_ICS_IWC        1u

/* Interrupt remapping: IRTA. */
#define VTD_IRTA_ADDR(x)   ((x) & ~0xfffULL)
#define VTD_IRTA_EIME      (1ULL << 11)
#define VTD_IRTA_S(x)      ((x) & 0xf)           /* 2^(S+1) entries */

/* Root and context entries (legacy mode), second-level entries. */
#define VTD_PRESENT       1ULL
#define VTD_ROOT_RSVD_LO  0xffeULL                /* plus bits above AW */
#define VTD_CTX_FPD       (1ULL << 1)
#define VTD_CTX_TT(lo)    (((lo) >> 2) & 3)
#define VTD_CTX_RSVD_LO   0xff0ULL
#define VTD_CTX_AW(hi)    ((hi) & 7)
#define VTD_CTX_DID(hi)   (((hi) >> 8) & 0xffff)
#define VTD_CTX_RSVD_HI   0xffffffffff000080ULL
#define VTD_TT_UNTRANSLATED 0
#define VTD_TT_DEVTLB       1
#define VTD_TT_PASSTHROUGH  2
#define VTD_SL_R          (1ULL << 0)
#define VTD_SL_W          (1ULL << 1)
#define VTD_SL_PS         (1ULL << 7)
#define VTD_SL_SNP        (1ULL << 11)
#define VTD_SL_TM         (1ULL << 62)
#define VTD_PAGE_ADDR     0x000ffffffffff000ULL

/* Mask of the address bits a table pointer may use (AW = host width). */
static inline uint64_t vtd_haw_mask(const struct vtd *v)
{
	return (1ULL << v->cfg.aw_bits) - 1;
}

/* vtd_regs.c */
uint32_t vtd_get32(const struct vtd *v, unsigned int off);
uint64_t vtd_get64(const struct vtd *v, unsigned int off);
void vtd_set32(struct vtd *v, unsigned int off, uint32_t val);
void vtd_set64(struct vtd *v, unsigned int off, uint64_t val);
/* Records a fault (unless fpd) and raises the fault event. Returns
 * whether an FRCD was written. */
bool vtd_fault(struct vtd *v, uint16_t sid, uint64_t iova, uint8_t reason,
	       bool is_write, bool fpd);
/* Queue a notification (called with the lock held). */
void vtd_notify(struct vtd *v, int sid, int did, uint64_t iova, uint64_t len);
void vtd_iec_notify(struct vtd *v, unsigned int index, unsigned int count);
/* Delivers the queued notifications: called with the lock held, drops it
 * around the callbacks and returns with it held again. */
void vtd_notify_flush(struct vtd *v);
/* Sets bits (IQE, ICE, ITE) in FSTS and raises the fault event if no
 * fault condition was pending. */
void vtd_fault_status(struct vtd *v, uint32_t bits);

/* vtd_qi.c: register side effects of the invalidation queue. */
void vtd_qi_run(struct vtd *v);       /* IQT written, QIE enabled, IQE cleared */
void vtd_qi_ics(struct vtd *v);       /* ICS written (IWC cleared) */
void vtd_qi_iectl(struct vtd *v);     /* IECTL written (IM cleared) */

/* vtd_xlate.c */
int vtd_caches_init(struct vtd *v);
void vtd_caches_free(struct vtd *v);
void vtd_caches_reset(struct vtd *v);
/* Context cache invalidation: gran VTD_INV_*, sid and function mask fm for
 * device-selective. Returns the granularity performed (0: refused). */
unsigned int vtd_ctx_invalidate(struct vtd *v, unsigned int gran, uint16_t did,
				uint16_t sid, unsigned int fm);
/* IOTLB invalidation: gran VTD_INV_*, am the address mask (page-selective).
 * Returns the granularity performed (0: refused). */
unsigned int vtd_iotlb_invalidate(struct vtd *v, unsigned int gran, uint16_t did,
				  uint64_t addr, unsigned int am);

#endif

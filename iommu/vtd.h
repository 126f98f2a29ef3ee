/* The emulated Intel VT-d remapping unit (legacy, non-scalable mode): a
 * device model that knows neither KVM nor the VMM. The host hands it guest
 * memory accessors and a fault-event MSI sink (struct vtd_host); it gets
 * the register window (vtd_mmio_read/write), DMA translation per requester
 * id (vtd_translate), interrupt remapping (vtd_ir_translate), queued
 * invalidation (run synchronously inside the guest's IQT write) and two
 * notifiers: DMA invalidations (vtd_set_notifier) and interrupt-entry-cache
 * invalidations (vtd_set_iec_notifier).
 *
 * Contract:
 *  - Everything the guest writes (registers, root/context/page tables) is
 *    untrusted: bad values give the spec's fault codes or are ignored,
 *    never a crash. MMIO accesses must be 4 or 8 bytes, naturally aligned,
 *    inside VTD_MMIO_SIZE: anything else reads 0 and writes are dropped.
 *  - All entry points take the unit's lock; they may run on any thread.
 *    The host callbacks mem_read/mem_write/msi run under that lock and
 *    must not call back into vtd_*.
 *  - The notifiers (DMA invalidation, IEC) run WITHOUT the lock, on the
 *    thread whose register write caused them, before that write returns
 *    and before any later wait descriptor of the same queue completes (a
 *    guest that waits for its invalidation sees it delivered). They may
 *    call vtd_translate / vtd_ir_translate (re-translating routes) and
 *    take locks that are held around those calls. Only one thread runs
 *    the invalidation queue at a time; an IQT write that finds it running
 *    leaves the new descriptors to that thread.
 *  - Queued invalidation: descriptors are processed when the guest writes
 *    IQT (or clears FSTS.IQE, or enables QIE with IQT already set); a bad
 *    descriptor or an unreadable queue sets FSTS.IQE with IQH left at the
 *    bad descriptor. Register-based invalidation is refused while QIES.
 *  - Not implemented: scalable mode, posted interrupts, the DMAR table.
 */
#ifndef ISLE_IOMMU_VTD_H
#define ISLE_IOMMU_VTD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/dma.h"   /* DMA_READ, DMA_WRITE: the access bits */

#define VTD_MMIO_SIZE 0x1000u   /* the register window */

/* Fault reasons (VT-d spec, legacy-mode DMA remapping). */
enum vtd_fault_reason {
	VTD_FR_NONE = 0,
	VTD_FR_ROOT_P = 0x1,          /* root entry not present */
	VTD_FR_CTX_P = 0x2,           /* context entry not present */
	VTD_FR_CTX_INV = 0x3,         /* invalid context entry (AW not supported) */
	VTD_FR_ADDR_BEYOND_AW = 0x4,  /* input address above the context's AGAW */
	VTD_FR_WRITE = 0x5,           /* write without W permission */
	VTD_FR_READ = 0x6,            /* read without R permission */
	VTD_FR_PAGING_ACCESS = 0x7,   /* a second-level entry could not be read */
	VTD_FR_ROOT_ACCESS = 0x8,     /* the root entry could not be read */
	VTD_FR_CTX_ACCESS = 0x9,      /* the context entry could not be read */
	VTD_FR_ROOT_RSVD = 0xa,       /* reserved bits set in a root entry */
	VTD_FR_CTX_RSVD = 0xb,        /* reserved bits set in a context entry */
	VTD_FR_PAGING_RSVD = 0xc,     /* reserved bits set in a paging entry */
	VTD_FR_CTX_TT = 0xd,          /* translation type not supported */
	/* interrupt remapping */
	VTD_FR_IR_REQ_RSVD = 0x20,    /* reserved bits in the interrupt request */
	VTD_FR_IR_INDEX_OVER = 0x21,  /* handle beyond the IRTA size */
	VTD_FR_IR_ENTRY_P = 0x22,     /* IRTE not present */
	VTD_FR_IR_ROOT_INVAL = 0x23,  /* the IRTE could not be read */
	VTD_FR_IR_IRTE_RSVD = 0x24,   /* reserved bits (or SVT 3) in the IRTE */
	VTD_FR_IR_REQ_COMPAT = 0x25,  /* compatibility format blocked (no CFIS) */
	VTD_FR_IR_SID_ERR = 0x26,     /* source-id validation failed */
};

/* Everything the model needs from its host. mem_* return 0 or -errno (a
 * failed read is a fault, never a crash). msi delivers the fault event. */
struct vtd_host {
	int (*mem_read)(void *o, uint64_t gpa, void *buf, size_t len);
	int (*mem_write)(void *o, uint64_t gpa, const void *buf, size_t len);
	void (*msi)(void *o, uint64_t addr, uint32_t data);
	void *opaque;
};

struct vtd_config {
	unsigned int aw_bits;        /* 39 or 48 */
	bool caching_mode;           /* CAP.CM */
	unsigned int nr_frcd;        /* fault-recording registers, 8..VTD_MAX_FRCD */
	unsigned int iotlb_entries;  /* 0: VTD_IOTLB_DEFAULT; capped at VTD_IOTLB_MAX */
	unsigned int ctx_entries;    /* 0: VTD_CTX_DEFAULT; capped at VTD_CTX_MAX */
	bool eim;                    /* ECAP.EIM: x2APIC destinations (IRTA.EIME) */
};

#define VTD_MAX_FRCD 64
#define VTD_IOTLB_DEFAULT 512
#define VTD_IOTLB_MAX 8192
#define VTD_CTX_DEFAULT 64
#define VTD_CTX_MAX 1024

/* A translation's result. On success gpa is iova's guest-physical address
 * and page_mask the offset bits of the page it lies in (0xfff, 0x1fffff,
 * 0x3fffffff, or UINT64_MAX for pass-through / translation disabled: the
 * whole space maps 1:1). On failure fault is the reason code. */
struct vtd_xlate {
	uint64_t gpa;
	uint64_t page_mask;
	unsigned int perm;   /* DMA_READ | DMA_WRITE granted in that page */
	uint16_t did;        /* the domain (0 when translation is off) */
	uint8_t fault;       /* enum vtd_fault_reason, 0 on success */
	bool recorded;       /* the fault went to an FRCD (false: FPD, PFO) */
};

/* The notifier's "all" for sid and did. */
#define VTD_ALL (-1)

/* Called for every invalidation the guest issues (and when SRTP or TE
 * change every translation): translations of requester id sid (VTD_ALL:
 * any) in domain did (VTD_ALL: any) within [iova, iova + len) are stale.
 * len UINT64_MAX with iova 0 means the whole space, as in dma.h. */
typedef void (*vtd_inval_fn)(void *opaque, int sid, int did, uint64_t iova, uint64_t len);

/* Called when the guest invalidates interrupt-entry-cache entries (an IEC
 * descriptor, or SIRTP, IRE or CFI changing): every MSI route built from
 * IRTEs [index, index + count) must be translated again through
 * vtd_ir_translate (count VTD_IRTE_MAX with index 0: all of them), which
 * the notifier may do itself (it runs without the unit's lock). */
typedef void (*vtd_iec_fn)(void *opaque, unsigned int index, unsigned int count);
#define VTD_IRTE_MAX 65536u

/* Notifications collected under the lock, delivered after it (vtd_regs.c). */
#define VTD_PENDING_MAX 32
struct vtd_pending {
	bool iec;
	int sid, did;                 /* DMA: as vtd_inval_fn's */
	uint64_t iova, len;
	unsigned int index, count;    /* IEC */
};

/* Caches are fixed arrays with LRU replacement (private to the model). */
struct vtd_ctx_entry;
struct vtd_iotlb_entry;

struct vtd {
	pthread_mutex_t lock;
	struct vtd_host host;
	struct vtd_config cfg;
	vtd_inval_fn inval;
	void *inval_opaque;
	vtd_iec_fn iec;
	void *iec_opaque;
	/* Registers as data: value, write mask, write-1-to-clear and
	 * write-only masks per byte (vtd_regs.c). */
	uint8_t csr[VTD_MMIO_SIZE], wmask[VTD_MMIO_SIZE];
	uint8_t w1cmask[VTD_MMIO_SIZE], womask[VTD_MMIO_SIZE];
	uint64_t cap, ecap;
	uint64_t root;        /* root table address latched by SRTP */
	uint64_t irta;        /* latched by SIRTP (vtd_ir.c) */
	unsigned int next_frcd;
	/* Caches (vtd_xlate.c). */
	struct vtd_ctx_entry *ctx;
	struct vtd_iotlb_entry *iotlb;
	uint64_t clock;       /* LRU stamps */
	/* Counters, for tests and statistics. */
	uint64_t iotlb_hits, iotlb_misses, ctx_hits, ctx_misses;
	uint64_t qi_descs;    /* queued descriptors processed */
	uint8_t ir_fault;     /* the last vtd_ir_translate fault reason (0: none) */
	/* Pending notifications; past VTD_PENDING_MAX they collapse into
	 * "everything" of their kind (always correct, only more work). */
	struct vtd_pending pending[VTD_PENDING_MAX];
	unsigned int npending;
	bool pending_all_dma, pending_all_iec;
	bool qi_running;      /* a thread is processing the queue */
};

int vtd_init(struct vtd *v, const struct vtd_config *cfg, const struct vtd_host *host);
void vtd_destroy(struct vtd *v);
void vtd_set_notifier(struct vtd *v, vtd_inval_fn fn, void *opaque);
void vtd_set_iec_notifier(struct vtd *v, vtd_iec_fn fn, void *opaque);

/* Register window; offset relative to the unit's base, len 4 or 8. */
uint64_t vtd_mmio_read(struct vtd *v, uint64_t offset, unsigned int len);
void vtd_mmio_write(struct vtd *v, uint64_t offset, uint64_t data, unsigned int len);

/* Translates iova for requester id sid (bus << 8 | devfn) for access
 * (DMA_READ, DMA_WRITE or both). Returns 0 with *out filled, or -EFAULT
 * (not mapped: root/context/paging entry absent or invalid) or -EPERM
 * (mapped without the permission) with out->fault set and the fault
 * recorded unless the context's FPD is set or the FRCDs overflowed. */
int vtd_translate(struct vtd *v, uint16_t sid, uint64_t iova, unsigned int access,
		  struct vtd_xlate *out);

/* Whether every IOVA of requester id sid is its guest-physical address
 * right now (translation off, or a pass-through context), as a probe: it
 * records no fault. Valid until the next invalidation. */
bool vtd_identity(struct vtd *v, uint16_t sid);

/* Called by vtd_walk for each present leaf, clipped to the walk's range:
 * [iova, iova + size) maps to gpa.. with perm (DMA_READ | DMA_WRITE bits).
 * Nonzero stops the walk and is returned. Runs under the unit's lock: it
 * must only record what it is told. */
typedef int (*vtd_walk_fn)(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size,
			   unsigned int perm);
/* Walks requester id sid's second-level tables over [iova, iova + len)
 * (len UINT64_MAX from 0: all of it) in IOVA order, reading the guest's
 * tables afresh (no cache is used or filled) and recording no fault:
 * absent, unreadable or malformed entries are simply not mapped. This is
 * how a host IOMMU shadows the guest's mappings (caching mode: the guest
 * invalidates after mapping too). Returns 0, fn's nonzero return, 1 when
 * every IOVA is the identity (translation off or pass-through; fn not
 * called), -ENOENT when sid has no usable context (nothing mapped), or
 * -E2BIG when the tables would take more than 2^21 entry reads (tables
 * that alias each other): the caller treats the range as unmapped. */
int vtd_walk(struct vtd *v, uint16_t sid, uint64_t iova, uint64_t len, vtd_walk_fn fn,
	     void *opaque);

/* Interrupt remapping of the MSI write (addr, data) from requester id sid.
 * Returns 0 with *out_addr and *out_data the x86 MSI message to deliver:
 *  - IRE off: the message unchanged;
 *  - IRE on, compatibility format: unchanged if GSTS.CFIS, else a fault;
 *  - remappable format: the IRTE named by the handle (address bits 19:5
 *    and 2, plus data bits 15:0 when SHV) gives destination (x2APIC with
 *    IRTA.EIME: 32 bits, the upper 24 in out_addr bits 63:40 as KVM's
 *    X2APIC_API expects; xAPIC: IRTE bits 47:40), vector, delivery mode,
 *    destination mode, trigger mode and redirection hint.
 * On a fault returns -EINVAL (malformed request), -EFAULT (IRTE absent,
 * unreadable, reserved bits, index too big) or -EPERM (compatibility
 * format blocked, source-id mismatch); v->ir_fault holds the reason and
 * the fault is recorded in an FRCD (FI = index << 48) unless the IRTE's
 * FPD suppresses it (qualified faults 0x22, 0x24, 0x26).
 * IOAPIC: the VMM converts a remappable-format RTE into the MSI it stands
 * for (addr 0xfee00000 | index[14:0] << 5 | 1 << 4 | index[15] << 2,
 * data 0) and calls this with the IOAPIC's source id (IOAPIC_RID, the id
 * the DMAR table's IOAPIC scope names); the IRTE's TM must then match the
 * RTE's trigger mode. */
int vtd_ir_translate(struct vtd *v, uint16_t sid, uint64_t addr, uint32_t data,
		     uint64_t *out_addr, uint32_t *out_data);

#endif

/* The emulated Intel VT-d remapping unit (legacy, non-scalable mode): a
 * device model that knows neither KVM nor the VMM. The host hands it guest
 * memory accessors and a fault-event MSI sink (struct vtd_host); it gets
 * the register window (vtd_mmio_read/write), DMA translation per requester
 * id (vtd_translate) and an invalidation notifier (vtd_set_notifier).
 *
 * Contract:
 *  - Everything the guest writes (registers, root/context/page tables) is
 *    untrusted: bad values give the spec's fault codes or are ignored,
 *    never a crash. MMIO accesses must be 4 or 8 bytes, naturally aligned,
 *    inside VTD_MMIO_SIZE: anything else reads 0 and writes are dropped.
 *  - All entry points take the unit's lock; they may run on any thread.
 *    The host callbacks (mem_read/mem_write/msi and the notifier) run under
 *    that lock and must not call back into vtd_*.
 *  - Not implemented yet: queued invalidation (QIE only toggles QIES;
 *    register-based invalidation is refused while it is set), interrupt
 *    remapping (IRE/SIRTP only toggle status), device-IOTLB, the DMAR table.
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

/* Caches are fixed arrays with LRU replacement (private to the model). */
struct vtd_ctx_entry;
struct vtd_iotlb_entry;

struct vtd {
	pthread_mutex_t lock;
	struct vtd_host host;
	struct vtd_config cfg;
	vtd_inval_fn inval;
	void *inval_opaque;
	/* Registers as data: value, write mask, write-1-to-clear and
	 * write-only masks per byte (vtd_regs.c). */
	uint8_t csr[VTD_MMIO_SIZE], wmask[VTD_MMIO_SIZE];
	uint8_t w1cmask[VTD_MMIO_SIZE], womask[VTD_MMIO_SIZE];
	uint64_t cap, ecap;
	uint64_t root;        /* root table address latched by SRTP */
	uint64_t irta;        /* latched by SIRTP (interrupt remapping: later) */
	unsigned int next_frcd;
	/* Caches (vtd_xlate.c). */
	struct vtd_ctx_entry *ctx;
	struct vtd_iotlb_entry *iotlb;
	uint64_t clock;       /* LRU stamps */
	/* Counters, for tests and statistics. */
	uint64_t iotlb_hits, iotlb_misses, ctx_hits, ctx_misses;
};

int vtd_init(struct vtd *v, const struct vtd_config *cfg, const struct vtd_host *host);
void vtd_destroy(struct vtd *v);
void vtd_set_notifier(struct vtd *v, vtd_inval_fn fn, void *opaque);

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

#endif

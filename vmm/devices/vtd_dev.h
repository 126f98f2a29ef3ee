/* The emulated VT-d in a VM (vmm/devices/vtd_dev.c): what the rest of the
 * VMM asks of it. */
#ifndef ISLE_VMM_VTD_DEV_H
#define ISLE_VMM_VTD_DEV_H

#include <stdint.h>

struct dma_as;
struct vtd_dev;

/* The DMA address space of requester id rid (bus << 8 | devfn) behind the
 * unit: translations through the guest's context and page tables. Lives
 * as long as the VM; NULL only when out of memory. */
struct dma_as *vtd_dev_as(struct vtd_dev *vd, uint16_t rid);

struct vtd_dev_counters {
	uint64_t iotlb_hits, iotlb_misses;
	uint64_t qi_descs;          /* queued invalidation descriptors processed */
	uint64_t inval_events;      /* DMA invalidations passed to address spaces */
};
void vtd_dev_stats(const struct vtd_dev *vd, struct vtd_dev_counters *c);

#endif

/* MSI-X capability, vector table and PBA for an emulated PCI device.
 *
 * Each vector that is enabled and unmasked owns an MSI route object (gsi.h:
 * the device's requester id and the entry's message, translated for KVM)
 * and an irqfd, so a device (or a backend process holding the eventfd)
 * raises it with one eventfd write. A masked vector latches its pending bit
 * in the PBA and is delivered on unmask, as the PCI spec requires; that
 * includes eventfd writes a backend made while the vector was masked.
 *
 * Contract: table/PBA accesses come from the guest: only naturally aligned
 * 4- and 8-byte accesses inside the structures are honoured (others read
 * zero / are dropped); the PBA is read-only. */
#ifndef ISLE_VMM_MSIX_H
#define ISLE_VMM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq/gsi.h"
#include "pci/pci.h"

#define MSIX_MAX_VECTORS 2048
#define MSIX_ENTRY_SIZE  16

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;  /* the guest-visible table entry */
	struct msi_route route; /* route.gsi is -1 until the vector first goes live */
	int efd;        /* irqfd eventfd, -1 until routed */
	bool bound;     /* irqfd attached: only while the vector is unmasked */
};

struct msix {
	struct pci_dev *dev;
	struct gsi_table *gsi;
	pthread_mutex_t lock;
	unsigned int nr;
	unsigned int cap;          /* config offset of the capability */
	unsigned int bar;
	uint32_t table_off, pba_off;
	struct msix_vector *vec;
	uint64_t *pba;
	/* Shadow of the control word's ENABLE / MASKALL bits, so notify and
	 * table accesses never read config space (that is bus->lock's). */
	bool enabled, fn_masked;
};

/* Adds the capability to dev (table and PBA in BAR bar at the given offsets,
 * which the caller has declared large enough). */
int msix_init(struct msix *m, struct pci_dev *dev, struct gsi_table *gt, unsigned int nr,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off);
/* The same for a capability the caller already placed at config offset cap
 * (an assigned function keeps its device's layout): fills it in. */
int msix_init_at(struct msix *m, struct pci_dev *dev, struct gsi_table *gt, unsigned int nr,
		 unsigned int cap, unsigned int bar, uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *m);

/* Handles a BAR access if it falls in the table or PBA; returns true if so. */
bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t offset, void *data,
		     unsigned int len, bool is_write);
/* Call from the device's config_write hook: reacts to enable/function-mask. */
void msix_config_write(struct msix *m, unsigned int offset, unsigned int len, uint32_t old);

/* The reset state (a function reset): MSI-X off, every entry zero and
 * masked, nothing pending. The caller clears the capability's control
 * word in config space. */
void msix_reset(struct msix *m);
bool msix_enabled(struct msix *m);
/* Raises vector n: delivered now, or latched in the PBA while masked or
 * while MSI-X is disabled. -EINVAL for n out of range. */
int msix_notify(struct msix *m, unsigned int n);
/* The eventfd that raises vector n, for handing to a backend (-1 if unrouted). */
int msix_vector_eventfd(struct msix *m, unsigned int n);
/* The same, creating it now if the vector never went live: a source that
 * needs every vector's fd up front (VFIO's MSI-X enable) writes to it and
 * the writes count as pending until the vector is unmasked. >= 0 or -errno. */
int msix_vector_eventfd_get(struct msix *m, unsigned int n);

#endif

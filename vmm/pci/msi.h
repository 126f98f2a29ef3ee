/* MSI capability (one vector, 64-bit address, no per-vector masking) for an
 * emulated PCI device, e.g. the edu device (vmm/devices/edu.c).
 *
 * While the guest has MSI enabled, the vector owns an MSI route object
 * (gsi.h: the function's requester id and the message the guest programmed
 * in config space, translated for KVM) and an irqfd, so msi_notify() is one
 * eventfd write. Without per-vector masking there is no pending bit: a
 * notification while MSI is disabled is dropped, and the device uses INTx
 * instead (msi_enabled()).
 *
 * Contract: config space is guest input, but the capability is data
 * (pci_dev.c applies the write masks): only the enable bit, the address
 * (dword aligned) and the 16-bit data are writable. msi_config_write() is
 * called from the device's config_write hook, under bus->lock (lock order
 * bus -> msi -> gsi); msi_notify() and msi_enabled() may run on any thread. */
#ifndef ISLE_VMM_MSI_H
#define ISLE_VMM_MSI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq/gsi.h"
#include "pci/pci.h"

#define MSI_CAP_SIZE 0x10   /* id, next, control, address lo/hi, 16-bit data, 2 reserved */

struct msi {
	struct pci_dev *dev;
	struct gsi_table *gsi;
	pthread_mutex_t lock;
	unsigned int cap;          /* config offset of the capability, 0 before init */
	bool enabled;              /* shadow of the control word's enable bit */
	struct msi_msg msg;        /* the message last taken from config space */
	struct msi_route route;    /* route.gsi is -1 while not in the table */
	int efd;                   /* irqfd eventfd, -1 until first enabled */
	bool bound;                /* irqfd attached: only while enabled */
};

/* Adds the capability to dev (before pci_register). 0 or -errno. */
int msi_init(struct msi *m, struct pci_dev *dev, struct gsi_table *gt);
/* Drops the route and the eventfd; a no-op for an msi never initialized. */
void msi_destroy(struct msi *m);

/* From the device's config_write hook: follows enable and message changes. */
void msi_config_write(struct msi *m, unsigned int offset, unsigned int len, uint32_t old);

bool msi_enabled(struct msi *m);
/* Sends the message: 0, or -EAGAIN while MSI is disabled or unroutable
 * (nothing is latched: use INTx). */
int msi_notify(struct msi *m);

#endif

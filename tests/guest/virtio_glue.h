/* The test guest's side of frontends/fe_env.h and frontends/virtio_pci.h:
 * identity DMA addresses, the TSC clock, and a struct vpci_env for one PCI
 * function backed by pci.c (ECAM) and the identity-mapped, uncached BARs.
 * Also declares the scenario that uses them (test_blk.c). */
#ifndef GUEST_VIRTIO_GLUE_H
#define GUEST_VIRTIO_GLUE_H

#include "virtio_pci.h"

#include "guest.h"

struct virtio_glue {
	struct vpci_env env;
	uint16_t bdf;
	bool probed[PCI_BAR_MAX];
	struct pci_bar bar[PCI_BAR_MAX];
};

/* Fills g (g->env is what vpci_probe() takes) for the function at bdf. */
void virtio_glue_init(struct virtio_glue *g, uint16_t bdf);

void test_blk_run(void);
void test_blkbench_run(void);
void test_hotplug_run(void);   /* test_hotplug.c: a disk hot-added and ejected */

/* bdf of the first modern virtio-blk function; -2 if only a transitional
 * one exists, -1 if none (test_blk.c). */
int blk_find(void);

#endif

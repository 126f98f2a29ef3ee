/* A fake assigned function for the tests of vmm/devices/vfio_pci_*.c and
 * fuzz_vfio_cfg: a struct vfio_pci whose VFIO device fd is a memfd holding
 * the device's config space as region 7 (VFIO_PCI_CONFIG_REGION_INDEX, at
 * offset 0, read-write), so what isle reads live and writes through lands
 * in the memfd; VFIO's ioctls fail on it. The VM has a GSI table without
 * KVM (vm_fd -1) and a PCI bus with isle's windows. */
#ifndef ISLE_TESTS_FAKE_VFIO_H
#define ISLE_TESTS_FAKE_VFIO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/vm.h"
#include "devices/vfio_pci.h"

/* config_read/config_write are vfio_pci_cfg.c's. */
extern const struct pci_dev_ops fake_vfio_ops;

/* Zeroes vm and v, builds the VM's GSI table and bus, the memfd with the
 * PCI_CFG_SIZE bytes of img, VFIO's irq counts (INTx 1) and pci_dev_init;
 * vfio_cfg_init is the caller's. 0 or -errno. */
int fake_vfio_open(struct vm *vm, struct vfio_pci *v, const uint8_t *img, bool permissive,
		   unsigned int msi_count, unsigned int msix_count);
/* Unregisters, vfio_irq_fini, closes the memfd, destroys bus and table. */
void fake_vfio_close(struct vm *vm, struct vfio_pci *v);

/* The guest's config accesses to the function (through the bus). */
uint32_t fake_vfio_rd(struct vm *vm, struct vfio_pci *v, unsigned int off, unsigned int len);
void fake_vfio_wr(struct vm *vm, struct vfio_pci *v, unsigned int off, unsigned int len,
		  uint32_t val);

#endif

/* A fake assigned function over a memfd (contract in fake_vfio.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "isle/util.h"
#include "boot/layout.h"
#include "fake_vfio.h"

const struct pci_dev_ops fake_vfio_ops = {
	.name = "fake-vfio",
	.config_write = vfio_cfg_write,
	.config_read = vfio_cfg_read,
};

static const struct pci_windows fake_win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

int fake_vfio_open(struct vm *vm, struct vfio_pci *v, const uint8_t *img, bool permissive,
		   unsigned int msi_count, unsigned int msix_count)
{
	int fd, r;

	memset(vm, 0, sizeof(*vm));
	memset(v, 0, sizeof(*v));
	if ((r = gsi_init(&vm->gsi, -1)))
		return r;
	if ((r = pci_bus_init(&vm->pci, &fake_win))) {
		gsi_destroy(&vm->gsi);
		return r;
	}
	fd = memfd_create("fake-vfio", MFD_CLOEXEC);
	if (fd < 0 || pwrite(fd, img, PCI_CFG_SIZE, 0) != PCI_CFG_SIZE) {
		r = fd < 0 ? -errno : -EIO;
		if (fd >= 0)
			close(fd);
		pci_bus_destroy(&vm->pci);
		gsi_destroy(&vm->gsi);
		return r;
	}
	v->vm = vm;
	v->vd.fd = fd;
	v->vd.nr_regions = VFIO_PCI_NUM_REGIONS;
	v->vd.nr_irqs = VFIO_PCI_NUM_IRQS;
	v->vd.regions[VFIO_PCI_CONFIG_REGION_INDEX] = (struct vfio_region){
		.index = VFIO_PCI_CONFIG_REGION_INDEX, .size = PCI_CFG_SIZE, .offset = 0,
		.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE };
	v->vd.irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;
	v->vd.irqs[VFIO_PCI_MSI_IRQ_INDEX].count = msi_count;
	v->vd.irqs[VFIO_PCI_MSIX_IRQ_INDEX].count = msix_count;
	vfio_irq_clear(v);
	v->permissive = permissive;
	strcpy(v->id, "fake");
	pci_dev_init(&v->pci, 0, 0, 0, 0, &fake_vfio_ops, v);
	return 0;
}

void fake_vfio_close(struct vm *vm, struct vfio_pci *v)
{
	pci_unregister(&vm->pci, &v->pci);
	vfio_irq_fini(v);
	if (v->vd.fd >= 0)
		close(v->vd.fd);
	v->vd.fd = -1;
	pci_bus_destroy(&vm->pci);
	gsi_destroy(&vm->gsi);
}

uint32_t fake_vfio_rd(struct vm *vm, struct vfio_pci *v, unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&vm->pci, 0, v->pci.devfn, off, b, len, false);
	return len == 1 ? b[0] : len == 2 ? get_le16(b) : get_le32(b);
}

void fake_vfio_wr(struct vm *vm, struct vfio_pci *v, unsigned int off, unsigned int len,
		  uint32_t val)
{
	uint8_t b[4];

	put_le32(b, val);
	pci_cfg_access(&vm->pci, 0, v->pci.devfn, off, b, len, true);
}

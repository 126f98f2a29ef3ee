/* An assigned host PCI function (`isle run --pci BDF`): the state the four
 * files of the device share. vfio_pci.c is the device type (realize, BARs:
 * mmapped KVM slots and trapped pages, MSI-X relocation, reset);
 * vfio_pci_cfg.c virtualizes config space; vfio_pci_irq.c turns MSI, MSI-X
 * and INTx into KVM irqfds; vfio_pci_dma.c gives the VFIO container the guest's
 * DMA mappings (all RAM, or the guest's VT-d mappings shadowed).
 *
 * Locking: config space and BAR moves run under the PCI bus lock (from
 * vCPU threads), trapped BAR accesses outside it (msix has its own lock);
 * vfio_pci_dma.c has a lock per DMA space. Nothing here is on a hot path except
 * the trapped pages, which a guest only touches to program interrupts. */
#ifndef ISLE_VMM_VFIO_PCI_H
#define ISLE_VMM_VFIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio.h"
#include "pci/msix.h"
#include "pci/pci.h"

struct vm;
struct vfio_space;

#define VFIO_PCI_MAX_MAPS  8          /* mmapped pieces per BAR */
#define VFIO_MSI_MAX       32

enum vfio_msix_reloc {
	VFIO_MSIX_RELOC_AUTO = 0,     /* when the table shares a page with registers */
	VFIO_MSIX_RELOC_ALWAYS,
	VFIO_MSIX_RELOC_NEVER,
};

/* One mmapped piece of a BAR: [off, off+size) of the region, at hva. */
struct vfio_bar_map {
	uint64_t off, size;
	void *hva;
	int slot;                     /* KVM memory slot while decoded, else -1 */
};

struct vfio_bar {
	uint64_t hw_size;             /* the region's size (0: no BAR) */
	uint64_t size;                /* what the guest sees (doubled when relocated) */
	bool relocated;               /* MSI-X table and PBA moved to [hw_size, size) */
	unsigned int nr_maps;
	struct vfio_bar_map maps[VFIO_PCI_MAX_MAPS];
};

struct vfio_pci {
	struct vm *vm;
	struct pci_dev pci;
	struct vfio_device vd;
	struct vfio_space *space;     /* the DMA space its container belongs to */
	bool balloon_pinned;          /* counted by the balloon's policy */
	char id[64];                  /* for messages: "pci0 (0000:00:04.0)" */
	bool permissive;
	bool rw_warned;               /* a trapped access failed (logged once) */
	enum vfio_msix_reloc reloc;
	struct vfio_bar bars[PCI_NUM_REGIONS];   /* BAR0-5 and the ROM */

	/* Config space (vfio_pci_cfg.c): bytes whose reads come from cfg[]
	 * (emulated) and bits of the others a guest write reaches the device
	 * with. */
	uint8_t emu[PCI_CFG_SIZE];
	uint8_t pwmask[PCI_CFG_SIZE];
	unsigned int cfg_size;        /* the device's config space: 256 or 4096 */
	uint32_t hw_bar[PCI_NUM_BARS];   /* the BAR registers' type bits, as read */
	bool no_caps;                 /* every capability hidden: status says so */
	unsigned int pcie_cap;        /* offset of the PCI Express capability, 0: none */
	bool flr, flr_warned;         /* DEVCAP.FLR; an unsupported FLR was logged */

	/* Interrupts (vfio_pci_irq.c). */
	unsigned int msi_cap;         /* 0: none */
	unsigned int msi_max;         /* vectors the capability offers */
	bool msi_64;
	bool msi_on;
	unsigned int msi_nr;          /* vectors enabled */
	struct msi_route msi_routes[VFIO_MSI_MAX];
	int msi_efd[VFIO_MSI_MAX];
	bool has_msix;
	unsigned int msix_cap, msix_nr, msix_bar;
	uint32_t msix_table_off, msix_pba_off;   /* where the guest sees them */
	uint32_t msix_hw_table, msix_hw_pba;     /* where the device has them */
	unsigned int msix_hw_pba_bar;
	struct msix msix;
	bool msix_on;
	int intx_pin;                 /* IOAPIC input, -1: no INTx */
	int intx_trigger, intx_unmask;
	bool intx_on;                 /* VFIO's INTx trigger is set */
};

/* vfio_pci.c: declares the BARs the guest sees (after vfio_cfg_init, which
 * found MSI-X), decides where the MSI-X table goes and mmaps what can be
 * mapped; logs one line per BAR. 0 or -errno with err. */
int vfio_bars_init(struct vfio_pci *v, char *err, size_t errlen);
void vfio_bars_fini(struct vfio_pci *v);
/* The pci_dev_ops hook: KVM slots follow a BAR the guest moved. */
void vfio_pci_bar_moved(struct pci_dev *dev, unsigned int b, uint64_t addr);

/* vfio_pci_cfg.c */
/* Builds pci.cfg and the masks from the device's config space; finds MSI,
 * MSI-X and PCIe; hides what is not passed through. 0 or -errno. */
int vfio_cfg_init(struct vfio_pci *v, char *err, size_t errlen);
void vfio_cfg_read(struct pci_dev *dev, unsigned int offset, unsigned int len, void *data);
void vfio_cfg_write(struct pci_dev *dev, unsigned int offset, unsigned int len, uint32_t old);

/* vfio_pci_irq.c: vfio_irq_clear first of all (every fd -1, no route), so
 * vfio_irq_fini may run whatever failed after; then before pci_register (the MSI-X capability, once the
 * BARs are declared) and after it (INTx needs the slot). */
void vfio_irq_clear(struct vfio_pci *v);
int vfio_irq_init(struct vfio_pci *v);
int vfio_irq_start(struct vfio_pci *v);
void vfio_irq_fini(struct vfio_pci *v);
/* From vfio_cfg_write: the MSI / MSI-X capability or the command register
 * changed. Under the bus lock. */
void vfio_irq_config_write(struct vfio_pci *v, unsigned int offset, unsigned int len,
			   uint32_t old);
/* After a reset: every interrupt off in VFIO and in the emulation. */
void vfio_irq_reset(struct vfio_pci *v);

/* vfio_pci_dma.c: the container for a device's DMA address space, shared by the
 * functions that have the same one (without a vIOMMU: every function, the
 * VM's identity AS). as NULL: a private space, for a function behind the
 * VT-d whose address space is known once it has a slot. */
int vfio_space_get(struct vm *vm, struct dma_as *as, struct vfio_space **out, char *err,
		   size_t errlen);
struct vfio_container *vfio_space_container(struct vfio_space *s);
/* After a device joined the container: mirror as (all RAM while it is the
 * identity, else the guest's mappings) and follow its invalidations. A
 * started space ignores the call. 0 or -errno with err. */
int vfio_space_start(struct vfio_space *s, struct dma_as *as, char *err, size_t errlen);
void vfio_space_put(struct vm *vm, struct vfio_space *s);
/* The balloon's question (vmm/virtio/balloon.h, policy vfio-iommu): gives
 * the parts of [gpa, gpa+len) (one RAM region, page aligned) that no
 * container maps to discard(), with every container held still meanwhile
 * (the guest cannot map a page for DMA between the question and the
 * discard; one it maps afterwards is pinned afresh). Returns the bytes kept
 * because a container maps them, or discard()'s or our -errno. Any thread. */
int64_t vfio_vm_discard_unmapped(struct vm *vm, uint64_t gpa, uint64_t len,
				 int (*discard)(void *opaque, uint64_t gpa, uint64_t len),
				 void *opaque);
/* How spaces reach VFIO: vfio-glue's container calls, which a unit test
 * replaces (before the VM's first space) to watch the maps and unmaps. */
struct vfio_dma_ops {
	int (*open)(struct vfio_container *c, char *err, size_t errlen);
	int (*map)(struct vfio_container *c, uint64_t iova, uint64_t size, void *hva,
		   bool writable, char *err, size_t errlen);
	int (*unmap)(struct vfio_container *c, uint64_t iova, uint64_t size, uint64_t *unmapped);
	void (*close)(struct vfio_container *c);
};
extern const struct vfio_dma_ops vfio_dma_host_ops;
int vfio_vm_set_dma_ops(struct vm *vm, const struct vfio_dma_ops *ops);

#endif

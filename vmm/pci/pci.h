/* PCI bus 0 behind an ECAM window and ports 0xcf8/0xcfc: the one registry
 * for every PCI device isle emulates or assigns.
 *
 * Config space is modelled as data (QEMU style): each byte has a value, a
 * write mask and a write-1-to-clear mask; a write applies
 *   new = ((old & ~wmask) | (val & wmask)) & ~(w1cmask & val)
 * and then calls the device's config_write hook for side effects. BAR sizing
 * falls out of the write masks. BARs are placed at registration (isle is the
 * firmware) inside the windows the DSDT advertises; guests may move them.
 * MMIO/PIO accesses inside the windows are decoded against the current BARs
 * and the command register.
 *
 * Contract: the guest is untrusted. Config offsets and widths are checked
 * (naturally aligned 1/2/4-byte accesses inside 4 KiB; others read all-ones
 * and drop writes); no access can reach outside a device's arrays. */
#ifndef ISLE_VMM_PCI_H
#define ISLE_VMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/pci_regs.h>

struct dma_as;

#define PCI_CFG_SIZE   4096
#define PCI_MAX_DEVS   32        /* slots on bus 0 */
#define PCI_MAX_FNS    (PCI_MAX_DEVS * 8)   /* functions: indexed by devfn */
#define PCI_NUM_BARS   6
#define PCI_ROM_BAR    6         /* the expansion ROM, as a seventh BAR index */
#define PCI_NUM_REGIONS 7

/* Host bridge identity: Red Hat's "QEMU PCIe host bridge" id, which no Linux quirk matches. */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

enum pci_bar_type {
	PCI_BAR_NONE = 0,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64,      /* takes this BAR and the next */
};

struct pci_dev;

struct pci_dev_ops {
	const char *name;
	/* A BAR access; offset is relative to the BAR. Reads must fill data. */
	void (*bar_access)(struct pci_dev *dev, unsigned int bar, uint64_t offset,
			   void *data, unsigned int len, bool is_write);
	/* Called after a config write was applied; old is the prior dword at
	 * the aligned offset. May be NULL. */
	void (*config_write)(struct pci_dev *dev, unsigned int offset, unsigned int len,
			     uint32_t old);
	/* Called for a config read after data was filled from dev->cfg, so a
	 * device whose registers live elsewhere (an assigned function) can
	 * overwrite the bytes it does not emulate. Under bus->lock. May be NULL. */
	void (*config_read)(struct pci_dev *dev, unsigned int offset, unsigned int len,
			    void *data);
	/* Called when a BAR's decoded address changes (addr = 0 when decoding
	 * stops), e.g. to move ioeventfds. May be NULL. */
	void (*bar_moved)(struct pci_dev *dev, unsigned int bar, uint64_t addr);
};

struct pci_bar {
	enum pci_bar_type type;
	bool prefetch;
	uint64_t size;     /* power of two; 0 = unused */
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t w1cmask[PCI_CFG_SIZE];
	struct pci_bar bars[PCI_NUM_REGIONS];       /* BAR0-5 and the ROM */
	uint64_t bar_addr[PCI_NUM_REGIONS];   /* last decoded address, for bar_moved */
	const struct pci_dev_ops *ops;
	void *opaque;
	unsigned int slot;                 /* device number on bus 0 */
	unsigned int devfn;                /* slot << 3 | function */
	/* Where the device's DMA goes (isle/dma.h): the VM's identity AS,
	 * set by the device model before pci_register; an IOMMU would give
	 * each requester id its own. NULL: the device does no DMA. */
	struct dma_as *dma;
	uint8_t cap_next;                  /* next free config offset for capabilities */
};

struct pci_windows {
	uint64_t ecam_base;
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
	uint16_t pio_base;
	uint32_t pio_size;
};

struct pci_bus {
	pthread_mutex_t lock;
	struct pci_windows win;
	struct pci_dev *devs[PCI_MAX_FNS];  /* by devfn */
	struct pci_dev host_bridge;
	uint32_t cf8;                      /* last value written to 0xcf8 */
	/* Read-held by BAR accesses while they run a device's bar_access
	 * (outside lock); pci_unregister write-takes it to wait them out. */
	pthread_rwlock_t access_lock;
	/* Port 0xcf9 (reset control) sits inside the 0xcf8-0xcff range that
	 * pci_cf8_handler is registered for, and bus ranges cannot overlap, so
	 * the handler passes byte writes to 0xcf9 here (set it after pci_bus_init,
	 * before any vCPU runs; it is called without bus->lock). NULL: dropped.
	 * Byte reads of 0xcf9 return 0. */
	void (*cf9_write)(void *opaque, uint8_t val);
	void *cf9_opaque;
};

/* Creates bus 0 with the host bridge at 00:00.0. */
int pci_bus_init(struct pci_bus *bus, const struct pci_windows *win);
void pci_bus_destroy(struct pci_bus *bus);

/* Fills identity registers and the default masks (command, status W1C,
 * latency, interrupt line). */
void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, const struct pci_dev_ops *ops, void *opaque);
/* Declares BAR n (size a power of two; 16 bytes minimum for memory, 4 for I/O). */
int pci_dev_set_bar(struct pci_dev *dev, unsigned int bar, enum pci_bar_type type,
		    uint64_t size, bool prefetch);
/* Declares an expansion ROM of size bytes (a power of two, >= 2 KiB): a
 * 32-bit memory BAR at config offset 0x30 (index PCI_ROM_BAR) that decodes
 * only while its enable bit and the command register's memory bit are set. */
int pci_dev_set_rom(struct pci_dev *dev, uint64_t size);
/* Config offset of BAR index b (0x10 + 4b, or 0x30 for PCI_ROM_BAR). */
static inline unsigned int pci_bar_reg(unsigned int b)
{
	return b == PCI_ROM_BAR ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * b;
}
/* Reserves len bytes for a capability with the given id in the standard
 * list; returns its config offset or -ENOSPC. */
int pci_dev_add_cap(struct pci_dev *dev, uint8_t cap_id, unsigned int len);

/* Puts dev in the first free slot (or -ENOSPC) and assigns its BARs, first
 * fit in the windows around the BARs of the devices registered now. */
int pci_register(struct pci_bus *bus, struct pci_dev *dev);
/* The same at a given slot and function (devfn = slot << 3 | fn), for
 * assigned functions that keep their numbering: -EBUSY if taken, -EINVAL
 * for slot 0 or devfn out of range. Function 0 of a slot whose other
 * functions are registered reads the multi-function bit in its header type. */
int pci_register_at(struct pci_bus *bus, struct pci_dev *dev, unsigned int devfn);
/* Takes dev off the bus: its slot and BAR space are free for the next
 * device, decoded BARs report bar_moved(0), and on return no config or BAR
 * access can reach it any more (it waits for those in flight, so it must
 * not be called from a device's own bar_access). 0, or -ENOENT if dev is
 * not registered. */
int pci_unregister(struct pci_bus *bus, struct pci_dev *dev);

/* Current guest address of a BAR (0 when not decoded). */
uint64_t pci_bar_address(const struct pci_dev *dev, unsigned int bar);
/* The function's requester id (bus 0, its devfn): the source id its MSI
 * and MSI-X messages and its DMA carry. */
static inline uint16_t pci_dev_rid(const struct pci_dev *dev)
{
	return (uint16_t)dev->devfn;
}

/* Config access by bus/dev/fn: absent functions read all-ones. */
void pci_cfg_access(struct pci_bus *bus, unsigned int busno, unsigned int devfn,
		    unsigned int offset, void *data, unsigned int len, bool is_write);

/* Bus handlers (see vmm/core/bus.h): the ECAM window, ports 0xcf8-0xcff, and the
 * MMIO / PIO windows in which BARs decode. offset is relative to the range
 * the handler was registered for. */
void pci_ecam_handler(void *bus, uint64_t offset, void *data, unsigned int len, bool is_write);
void pci_cf8_handler(void *bus, uint64_t offset, void *data, unsigned int len, bool is_write);
/* The window handlers add the window's base to offset and decode BARs. */
void pci_mmio32_handler(void *bus, uint64_t offset, void *data, unsigned int len, bool is_write);
void pci_mmio64_handler(void *bus, uint64_t offset, void *data, unsigned int len, bool is_write);
void pci_pio_handler(void *bus, uint64_t offset, void *data, unsigned int len, bool is_write);

#endif

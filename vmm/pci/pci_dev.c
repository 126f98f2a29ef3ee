/* A PCI function's config space as data (owner: pci_dev.c; API in
 * vmm/pci/pci.h; the bus is pci.c's).
 *
 * Every byte has a value, a write mask and a write-1-to-clear mask, so guest
 * writes are applied generically and BAR sizing, read-only registers and
 * W1C status bits need no per-device code. A device model describes itself
 * once, before pci_register: identity (pci_dev_init), BARs
 * (pci_dev_set_bar), capabilities (pci_dev_add_cap); those builders run
 * single-threaded. Afterwards a device may still poke dev->cfg for
 * registers reflecting its own state, under bus->lock. */
#include <errno.h>
#include <string.h>
#include <linux/pci.h>

#include "isle/util.h"
#include "pci/pci.h"

/* Command bits a guest may set. I/O, memory and bus-master enables are what
 * drivers use; parity/SERR/INTx-disable are kept writable because Linux
 * writes them and expects to read back what it wrote. */
#define PCI_CMD_WMASK (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
		       PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

/* Status error bits are RW1C by the spec; the rest of status is read-only. */
#define PCI_STATUS_W1C (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
			PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
			PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/* Capabilities live in the standard 256-byte space; pointers are 8 bits. */
#define PCI_CAP_END   PCI_CFG_SPACE_SIZE
#define PCI_CAP_MAX   ((PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4)

void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, const struct pci_dev_ops *ops, void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	put_le16(dev->cfg + PCI_VENDOR_ID, vendor);
	put_le16(dev->cfg + PCI_DEVICE_ID, device);
	dev->cfg[PCI_REVISION_ID] = revision;
	dev->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	put_le16(dev->cfg + PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	dev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;

	put_le16(dev->wmask + PCI_COMMAND, PCI_CMD_WMASK);
	put_le16(dev->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
	/* Firmware and drivers program these; they mean nothing to an emulated
	 * device but must read back as written. */
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	/* The expansion ROM BAR (0x30) stays all-zero and read-only unless
	 * pci_dev_set_rom declares one: sizing it yields 0, "no ROM". */

	dev->cap_next = PCI_STD_HEADER_SIZEOF;
	dev->ops = ops;
	dev->opaque = opaque;
}

int pci_dev_set_bar(struct pci_dev *dev, unsigned int bar, enum pci_bar_type type,
		    uint64_t size, bool prefetch)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint32_t flags, lomask;
	uint64_t mask;

	if (bar >= PCI_NUM_BARS || !size || (size & (size - 1)))
		return -EINVAL;
	/* Neither this register nor (for 64-bit) the next may be taken already,
	 * including as the upper half of a 64-bit BAR below. */
	if (dev->bars[bar].type != PCI_BAR_NONE ||
	    (bar > 0 && dev->bars[bar - 1].type == PCI_BAR_MEM64))
		return -EBUSY;

	switch (type) {
	case PCI_BAR_IO:
		/* x86 port space is 64 KiB; no prefetch notion for I/O. */
		if (size < 4 || size > 0x10000 || prefetch)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_SPACE_IO;
		lomask = (uint32_t)PCI_BASE_ADDRESS_IO_MASK;
		break;
	case PCI_BAR_MEM32:
		if (size < 16 || size > 2 * GiB)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_32;
		lomask = (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
		break;
	case PCI_BAR_MEM64:
		if (size < 16 || size > (1ULL << 62) || bar + 1 >= PCI_NUM_BARS ||
		    dev->bars[bar + 1].type != PCI_BAR_NONE)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_64;
		lomask = (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
		break;
	default:
		return -EINVAL;
	}
	if (prefetch)
		flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;

	/* Only the address bits at or above the size are writable, so writing
	 * all-ones and reading back gives ~(size - 1) plus the type bits. */
	mask = ~(size - 1);
	put_le32(dev->cfg + reg, flags);
	put_le32(dev->wmask + reg, (uint32_t)mask & lomask);
	if (type == PCI_BAR_MEM64) {
		put_le32(dev->cfg + reg + 4, 0);
		put_le32(dev->wmask + reg + 4, (uint32_t)(mask >> 32));
	}
	dev->bars[bar] = (struct pci_bar){ .type = type, .prefetch = prefetch, .size = size };
	return 0;
}

int pci_dev_set_rom(struct pci_dev *dev, uint64_t size)
{
	if (size < 2048 || size > 2 * GiB || (size & (size - 1)))
		return -EINVAL;
	if (dev->bars[PCI_ROM_BAR].type != PCI_BAR_NONE)
		return -EBUSY;
	put_le32(dev->cfg + PCI_ROM_ADDRESS, 0);
	put_le32(dev->wmask + PCI_ROM_ADDRESS,
		 ((uint32_t)~(size - 1) & (uint32_t)PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE);
	dev->bars[PCI_ROM_BAR] = (struct pci_bar){ .type = PCI_BAR_MEM32, .size = size };
	return 0;
}

int pci_dev_add_cap(struct pci_dev *dev, uint8_t cap_id, unsigned int len)
{
	unsigned int off, end, p;

	if (len < 2)
		return -EINVAL;
	/* cap_next is 8 bits wide: 0 after pci_dev_init means the list reached
	 * the end of the standard space. */
	off = dev->cap_next ? dev->cap_next : PCI_CAP_END;
	off = ALIGN_UP(off, 4u);
	if (off < PCI_STD_HEADER_SIZEOF || len > PCI_CAP_END || off > PCI_CAP_END - len)
		return -ENOSPC;

	if (!(get_le16(dev->cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		put_le16(dev->cfg + PCI_STATUS,
			 get_le16(dev->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	} else {
		/* Append, so the guest walks capabilities in the order added.
		 * Bounded: each entry takes at least 4 bytes of the 192. */
		p = dev->cfg[PCI_CAPABILITY_LIST];
		for (unsigned int i = 0; i < PCI_CAP_MAX && dev->cfg[p + PCI_CAP_LIST_NEXT]; i++)
			p = dev->cfg[p + PCI_CAP_LIST_NEXT];
		dev->cfg[p + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	}
	dev->cfg[off + PCI_CAP_LIST_ID] = cap_id;
	dev->cfg[off + PCI_CAP_LIST_NEXT] = 0;

	end = ALIGN_UP(off + len, 4u);
	dev->cap_next = end >= PCI_CAP_END ? 0 : (uint8_t)end;
	return (int)off;
}

uint64_t pci_bar_address(const struct pci_dev *dev, unsigned int bar)
{
	if (bar >= PCI_NUM_REGIONS)
		return 0;
	/* bar_addr is maintained by the bus under its lock whenever decoding
	 * changes; an atomic load lets device threads read it lock-free. */
	return __atomic_load_n(&dev->bar_addr[bar], __ATOMIC_ACQUIRE);
}


/* PCI bus 0 and the config space of the functions on it (owner: pci.c;
 * API in vmm/pci/pci.h).
 *
 * Config space is data: every byte has a value, a write mask and a
 * write-1-to-clear mask, so guest writes are applied generically and BAR
 * sizing, read-only registers and W1C status bits need no per-device code.
 * A device model describes itself once, before pci_register: identity
 * (pci_dev_init), BARs (pci_dev_set_bar), capabilities (pci_dev_add_cap);
 * those builders run single-threaded. Afterwards a device may still poke
 * dev->cfg for registers reflecting its own state, under bus->lock.
 *
 * isle plays firmware: pci_register puts a device in the first free slot and
 * assigns its BARs, naturally aligned, first fit, inside the host bridge
 * windows the DSDT advertises, so Linux keeps the assignment (it only reallocates BARs
 * that fall outside a root bus window). Decoding stays off until the guest
 * sets the command register's I/O / memory bits.
 *
 * Guest accesses arrive three ways: ECAM (MMCONFIG), the legacy 0xcf8/0xcfc
 * pair, and the MMIO/PIO windows in which BARs decode. All three end in the
 * same checked paths; nothing the guest sends can index outside a device's
 * arrays.
 *
 * Decoding: a BAR decodes when its command-register enable bit is set, its
 * address is non-zero and the whole BAR lies inside a window of its kind.
 * Addresses outside the windows never reach isle's handlers anyway, and
 * reporting them through bar_moved would let a device put ioeventfds over
 * RAM or the APICs. The decoded address is cached in dev->bar_addr (0 = not
 * decoded) and recomputed after every config write; a change calls bar_moved.
 *
 * Locking: bus->lock guards all bus and config state. config_write and
 * bar_moved run under it (so moves reach the device in order); they must not
 * call pci_cfg_access or the bus handlers. bar_access runs outside it, so a
 * device may take its own locks and raise interrupts there; bus->access_lock
 * (read-held around it) lets pci_unregister wait for accesses in flight
 * before the device goes away. pci_bar_address
 * is lock-free (atomic load) and may be called from anywhere. Lock order:
 * bus->lock -> device locks -> msix -> gsi.
 */
#include <errno.h>
#include <string.h>
#include <linux/pci.h>   /* PCI_SLOT, PCI_FUNC */

#include "isle/util.h"
#include "pci/pci.h"

/* CONFIG_ADDRESS (0xcf8): enable, bus, device, function, dword register.
 * Bits 30-24 are reserved and bits 1-0 select type 0/1; neither is kept. */
#define CF8_ENABLE   0x80000000u
#define CF8_MASK     0x80fffffcu
#define CF8_DATA     4          /* 0xcfc - 0xcf8 */
#define CF9_OFFSET   1          /* 0xcf9 - 0xcf8: reset control */
#define ECAM_BUSES   256

static const struct pci_dev_ops pci_host_ops = {
	.name = "host-bridge",
};

/* --- a function's config space as data --- */

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
	/* The expansion ROM BAR (0x30) stays all-zero and read-only: sizing it
	 * yields 0, which tells the guest there is no ROM. */

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
	if (bar >= PCI_NUM_BARS)
		return 0;
	/* bar_addr is maintained by the bus under its lock whenever decoding
	 * changes; an atomic load lets device threads read it lock-free. */
	return __atomic_load_n(&dev->bar_addr[bar], __ATOMIC_ACQUIRE);
}

/* --- the bus --- */

static bool pci_in_window(uint64_t addr, uint64_t size, uint64_t base, uint64_t wsize)
{
	return wsize && addr >= base && range_ok(addr - base, size, wsize);
}

/* The address BAR b decodes at right now, or 0. Called with bus->lock held. */
static uint64_t pci_decode(const struct pci_bus *bus, const struct pci_dev *dev, unsigned int b)
{
	const struct pci_windows *w = &bus->win;
	const struct pci_bar *bar = &dev->bars[b];
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * b;
	uint16_t cmd = get_le16(dev->cfg + PCI_COMMAND);
	uint32_t lo = get_le32(dev->cfg + reg);
	uint64_t addr;

	switch (bar->type) {
	case PCI_BAR_IO:
		addr = lo & PCI_BASE_ADDRESS_IO_MASK;
		if (!(cmd & PCI_COMMAND_IO) || !addr)
			return 0;
		return pci_in_window(addr, bar->size, w->pio_base, w->pio_size) ? addr : 0;
	case PCI_BAR_MEM32:
		addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
		break;
	case PCI_BAR_MEM64:
		addr = (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)get_le32(dev->cfg + reg + 4) << 32;
		break;
	default:
		return 0;
	}
	if (!(cmd & PCI_COMMAND_MEMORY) || !addr)
		return 0;
	if (pci_in_window(addr, bar->size, w->mmio32_base, w->mmio32_size) ||
	    pci_in_window(addr, bar->size, w->mmio64_base, w->mmio64_size))
		return addr;
	return 0;
}

/* Refreshes the decode cache after a config change. Called with bus->lock held. */
static void pci_update_decode(struct pci_bus *bus, struct pci_dev *dev)
{
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t addr = pci_decode(bus, dev, b);

		if (addr == dev->bar_addr[b])
			continue;
		__atomic_store_n(&dev->bar_addr[b], addr, __ATOMIC_RELEASE);
		if (dev->ops && dev->ops->bar_moved)
			dev->ops->bar_moved(dev, b, addr);
	}
}

int pci_bus_init(struct pci_bus *bus, const struct pci_windows *win)
{
	int ret;

	memset(bus, 0, sizeof(*bus));
	ret = pthread_mutex_init(&bus->lock, NULL);
	if (ret)
		return -ret;
	ret = pthread_rwlock_init(&bus->access_lock, NULL);
	if (ret) {
		pthread_mutex_destroy(&bus->lock);
		return -ret;
	}
	bus->win = *win;

	/* The host bridge only has to exist: Linux finds bus 0 through it and
	 * the MCFG/DSDT; it has no BARs and decodes nothing itself. */
	pci_dev_init(&bus->host_bridge, PCI_HOST_VENDOR, PCI_HOST_DEVICE, 0x060000, 0,
		     &pci_host_ops, bus);
	bus->host_bridge.slot = 0;
	bus->devs[0] = &bus->host_bridge;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	pthread_rwlock_destroy(&bus->access_lock);
	pthread_mutex_destroy(&bus->lock);
}

/* The address BAR b is programmed with, decoding or not (0: none). */
static uint64_t pci_bar_programmed(const struct pci_dev *dev, unsigned int b)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * b;
	uint32_t lo = get_le32(dev->cfg + reg);

	switch (dev->bars[b].type) {
	case PCI_BAR_IO:
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	case PCI_BAR_MEM32:
		return lo & PCI_BASE_ADDRESS_MEM_MASK;
	case PCI_BAR_MEM64:
		return (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)get_le32(dev->cfg + reg + 4) << 32;
	default:
		return 0;
	}
}

static bool pci_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

/* The first naturally aligned place for size bytes of I/O or memory space in
 * the window that no BAR of a registered device (where it is programmed now:
 * a guest may have moved it) nor one already placed for dev (addr[0..nb))
 * covers. Space of unregistered devices is free again. Each collision moves
 * the candidate past the BAR it hit, so the loop ends. Called with bus->lock
 * held. */
static int pci_place(const struct pci_bus *bus, const struct pci_dev *dev, const uint64_t *addr,
		     unsigned int nb, bool io, uint64_t size, uint64_t base, uint64_t wsize,
		     uint64_t *out)
{
	uint64_t a = ALIGN_UP(base, size);
	bool moved = true;

	while (moved) {
		moved = false;
		if (a < base || !pci_in_window(a, size, base, wsize))
			return -ENOSPC;
		for (unsigned int s = 0; s <= PCI_MAX_DEVS && !moved; s++) {
			const struct pci_dev *o = s < PCI_MAX_DEVS ? bus->devs[s] : dev;

			if (!o)
				continue;
			for (unsigned int b = 0; b < (o == dev ? nb : PCI_NUM_BARS) && !moved; b++) {
				uint64_t ob = o == dev ? addr[b] : pci_bar_programmed(o, b);
				uint64_t os = o->bars[b].size;

				if (!ob || !os || (o->bars[b].type == PCI_BAR_IO) != io ||
				    !pci_overlap(a, size, ob, os))
					continue;
				if (ob + os < ob || ALIGN_UP(ob + os, size) < ob + os)
					return -ENOSPC;
				a = ALIGN_UP(ob + os, size);
				moved = true;
			}
		}
	}
	*out = a;
	return 0;
}

int pci_register(struct pci_bus *bus, struct pci_dev *dev)
{
	const struct pci_windows *w = &bus->win;
	uint64_t addr[PCI_NUM_BARS] = { 0 };
	unsigned int slot;
	int ret = 0;

	pthread_mutex_lock(&bus->lock);
	for (slot = 0; slot < PCI_MAX_DEVS; slot++) {
		if (bus->devs[slot] == dev) {
			ret = -EEXIST;
			goto out;
		}
	}
	for (slot = 1; slot < PCI_MAX_DEVS && bus->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_DEVS) {
		ret = -ENOSPC;
		goto out;
	}

	/* Nothing is written until every BAR has a place, so a device that
	 * does not fit leaves the bus untouched. BARs are placed in index
	 * order, first fit. */
	for (unsigned int b = 0; b < PCI_NUM_BARS && !ret; b++) {
		const struct pci_bar *bar = &dev->bars[b];

		switch (bar->type) {
		case PCI_BAR_IO:
			ret = pci_place(bus, dev, addr, b, true, bar->size, w->pio_base,
					w->pio_size, &addr[b]);
			break;
		case PCI_BAR_MEM64:
			/* Only prefetchable 64-bit BARs go high: Linux wants
			 * non-prefetchable memory below 4 GiB behind bridges, and
			 * keeping that rule here keeps hot-plug paths simple. */
			if (bar->prefetch && w->mmio64_size) {
				ret = pci_place(bus, dev, addr, b, false, bar->size, w->mmio64_base,
						w->mmio64_size, &addr[b]);
				break;
			}
			/* fall through */
		case PCI_BAR_MEM32:
			ret = pci_place(bus, dev, addr, b, false, bar->size, w->mmio32_base,
					w->mmio32_size, &addr[b]);
			break;
		default:
			break;
		}
	}
	if (ret)
		goto out;

	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * b;

		if (dev->bars[b].type == PCI_BAR_NONE)
			continue;
		/* The address is aligned to the size, so it only touches
		 * writable bits; the type bits below stay. */
		put_le32(dev->cfg + reg, (get_le32(dev->cfg + reg) & ~get_le32(dev->wmask + reg)) |
					 (uint32_t)addr[b]);
		if (dev->bars[b].type == PCI_BAR_MEM64)
			put_le32(dev->cfg + reg + 4, (uint32_t)(addr[b] >> 32));
	}
	dev->slot = slot;
	bus->devs[slot] = dev;
	pci_update_decode(bus, dev);
out:
	pthread_mutex_unlock(&bus->lock);
	return ret;
}

int pci_unregister(struct pci_bus *bus, struct pci_dev *dev)
{
	pthread_mutex_lock(&bus->lock);
	if (!dev->slot || dev->slot >= PCI_MAX_DEVS || bus->devs[dev->slot] != dev) {
		pthread_mutex_unlock(&bus->lock);
		return -ENOENT;
	}
	/* Decoding stops: the device takes down what it attached to its BARs
	 * (ioeventfds) as when the guest turns decoding off. */
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * b;

		if (dev->bar_addr[b]) {
			__atomic_store_n(&dev->bar_addr[b], 0, __ATOMIC_RELEASE);
			if (dev->ops && dev->ops->bar_moved)
				dev->ops->bar_moved(dev, b, 0);
		}
		if (dev->bars[b].type == PCI_BAR_NONE)
			continue;
		/* Its space is free for the next device (pci_place looks at
		 * registered devices only); a re-registered dev starts clean. */
		put_le32(dev->cfg + reg, get_le32(dev->cfg + reg) & ~get_le32(dev->wmask + reg));
		if (dev->bars[b].type == PCI_BAR_MEM64)
			put_le32(dev->cfg + reg + 4, 0);
	}
	bus->devs[dev->slot] = NULL;
	dev->slot = 0;
	pthread_mutex_unlock(&bus->lock);
	/* A vCPU may be inside dev->ops->bar_access, which runs outside
	 * bus->lock: wait until every such access is done. */
	pthread_rwlock_wrlock(&bus->access_lock);
	pthread_rwlock_unlock(&bus->access_lock);
	return 0;
}

/* Accepts only what a config cycle can be: bus 0, function 0 of a slot,
 * a naturally aligned 1/2/4-byte access inside 4 KiB. */
static bool pci_cfg_ok(unsigned int busno, unsigned int devfn, unsigned int offset,
		       unsigned int len)
{
	if (busno != 0 || devfn >= PCI_MAX_DEVS * 8 || PCI_FUNC(devfn) != 0)
		return false;
	if (len != 1 && len != 2 && len != 4)
		return false;
	return offset < PCI_CFG_SIZE && offset % len == 0;
}

/* A checked config access to slot; reads were pre-filled with all-ones.
 * Called with bus->lock held. */
static void pci_cfg_locked(struct pci_bus *bus, unsigned int slot, unsigned int offset,
			   void *data, unsigned int len, bool is_write)
{
	struct pci_dev *dev = bus->devs[slot];
	const uint8_t *val = data;
	uint32_t old;

	if (!dev)
		return;
	if (!is_write) {
		memcpy(data, dev->cfg + offset, len);
		return;
	}
	old = get_le32(dev->cfg + (offset & ~3u));
	for (unsigned int i = 0; i < len; i++) {
		unsigned int o = offset + i;
		uint8_t wm = dev->wmask[o];

		dev->cfg[o] = (uint8_t)(((dev->cfg[o] & ~wm) | (val[i] & wm)) &
					~(dev->w1cmask[o] & val[i]));
	}
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, offset, len, old);
	pci_update_decode(bus, dev);
}

void pci_cfg_access(struct pci_bus *bus, unsigned int busno, unsigned int devfn,
		    unsigned int offset, void *data, unsigned int len, bool is_write)
{
	/* Master abort semantics: whatever does not reach a function reads
	 * all-ones and a write goes nowhere. */
	if (!is_write)
		memset(data, 0xff, len);
	if (!pci_cfg_ok(busno, devfn, offset, len))
		return;
	pthread_mutex_lock(&bus->lock);
	pci_cfg_locked(bus, PCI_SLOT(devfn), offset, data, len, is_write);
	pthread_mutex_unlock(&bus->lock);
}

void pci_ecam_handler(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	/* ECAM: bus << 20 | device << 15 | function << 12 | register. */
	uint64_t busno = offset >> 20;

	if (busno >= ECAM_BUSES) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(opaque, (unsigned int)busno, (unsigned int)(offset >> 12) & 0xff,
		       (unsigned int)offset & (PCI_CFG_SIZE - 1), data, len, is_write);
}

void pci_cf8_handler(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;
	unsigned int reg;
	uint32_t cf8;

	if (!is_write)
		memset(data, 0xff, len);

	/* Only a dword at 0xcf8 is CONFIG_ADDRESS; narrower accesses there
	 * belong to other (absent) ISA devices, except 0xcf9 below. */
	if (offset == 0 && len == 4) {
		pthread_mutex_lock(&bus->lock);
		if (is_write)
			bus->cf8 = get_le32(data) & CF8_MASK;
		else
			put_le32(data, bus->cf8);
		pthread_mutex_unlock(&bus->lock);
		return;
	}
	if (offset == CF9_OFFSET && len == 1) {
		if (!is_write)
			*(uint8_t *)data = 0;
		else if (bus->cf9_write)
			bus->cf9_write(bus->cf9_opaque, *(uint8_t *)data);
		return;
	}
	if (offset < CF8_DATA || offset >= CF8_DATA + 4)
		return;

	/* CONFIG_DATA: 0xcfc-0xcff select the byte within the dword. */
	reg = (unsigned int)offset - CF8_DATA;
	if ((len != 1 && len != 2 && len != 4) || reg % len)
		return;
	pthread_mutex_lock(&bus->lock);
	cf8 = bus->cf8;
	if ((cf8 & CF8_ENABLE) &&
	    pci_cfg_ok((cf8 >> 16) & 0xff, (cf8 >> 8) & 0xff, (cf8 & 0xfc) + reg, len))
		pci_cfg_locked(bus, (cf8 >> 11) & 0x1f, (cf8 & 0xfc) + reg, data, len, is_write);
	pthread_mutex_unlock(&bus->lock);
}

/* Finds the BAR of the wanted kind covering [addr, addr+len) and calls the
 * device outside the lock. */
static void pci_window_access(struct pci_bus *bus, uint64_t addr, bool io, void *data,
			      unsigned int len, bool is_write)
{
	struct pci_dev *hit = NULL;
	unsigned int hit_bar = 0;
	uint64_t off = 0;

	if (!is_write)
		memset(data, 0xff, len);
	/* KVM exits are at most 8 bytes; anything else is not a real access. */
	if (len == 0 || len > 8)
		return;
	/* Held across bar_access: pci_unregister waits for it, so hit stays
	 * valid until the access is done. */
	pthread_rwlock_rdlock(&bus->access_lock);
	pthread_mutex_lock(&bus->lock);
	for (unsigned int s = 0; s < PCI_MAX_DEVS && !hit; s++) {
		struct pci_dev *dev = bus->devs[s];

		if (!dev)
			continue;
		for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
			uint64_t base = dev->bar_addr[b];

			if (!base || (dev->bars[b].type == PCI_BAR_IO) != io)
				continue;
			if (addr >= base && range_ok(addr - base, len, dev->bars[b].size)) {
				hit = dev;
				hit_bar = b;
				off = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (hit && hit->ops && hit->ops->bar_access)
		hit->ops->bar_access(hit, hit_bar, off, data, len, is_write);
	pthread_rwlock_unlock(&bus->access_lock);
}

void pci_mmio32_handler(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;

	pci_window_access(bus, bus->win.mmio32_base + offset, false, data, len, is_write);
}

void pci_mmio64_handler(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;

	pci_window_access(bus, bus->win.mmio64_base + offset, false, data, len, is_write);
}

void pci_pio_handler(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct pci_bus *bus = opaque;

	pci_window_access(bus, bus->win.pio_base + offset, true, data, len, is_write);
}

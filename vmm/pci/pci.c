/* PCI bus 0 (owner: pci.c; API in vmm/pci/pci.h): registering and
 * unregistering functions, BAR placement and decoding, and guest accesses.
 * A function's config space as data (value, write mask, W1C mask) and its
 * builders are pci_dev.c's.
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
	unsigned int reg = pci_bar_reg(b);
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
		/* The ROM decodes only while its own enable bit is set too. */
		if (b == PCI_ROM_BAR)
			addr = lo & PCI_ROM_ADDRESS_ENABLE ? lo & PCI_ROM_ADDRESS_MASK : 0;
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
	for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
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
	unsigned int reg = pci_bar_reg(b);
	uint32_t lo = get_le32(dev->cfg + reg);

	switch (dev->bars[b].type) {
	case PCI_BAR_IO:
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	case PCI_BAR_MEM32:
		return lo & (b == PCI_ROM_BAR ? PCI_ROM_ADDRESS_MASK : PCI_BASE_ADDRESS_MEM_MASK);
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
		for (unsigned int s = 0; s <= PCI_MAX_FNS && !moved; s++) {
			const struct pci_dev *o = s < PCI_MAX_FNS ? bus->devs[s] : dev;

			if (!o)
				continue;
			for (unsigned int b = 0; b < (o == dev ? nb : PCI_NUM_REGIONS) && !moved; b++) {
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

/* Whether any function of slot other than fn is registered. */
static bool pci_slot_busy(const struct pci_bus *bus, unsigned int slot, int except_fn)
{
	for (unsigned int fn = 0; fn < 8; fn++)
		if ((int)fn != except_fn && bus->devs[slot << 3 | fn])
			return true;
	return false;
}

static int pci_register_locked(struct pci_bus *bus, struct pci_dev *dev, int want)
{
	const struct pci_windows *w = &bus->win;
	uint64_t addr[PCI_NUM_REGIONS] = { 0 };
	unsigned int devfn;
	int ret = 0;

	for (devfn = 0; devfn < PCI_MAX_FNS; devfn++)
		if (bus->devs[devfn] == dev)
			return -EEXIST;
	if (want >= 0) {
		if (want < 8 || want >= PCI_MAX_FNS)
			return -EINVAL;
		devfn = (unsigned int)want;
		if (bus->devs[devfn])
			return -EBUSY;
	} else {
		/* A whole free slot: its other functions belong to one device. */
		for (devfn = 8; devfn < PCI_MAX_FNS && pci_slot_busy(bus, devfn >> 3, -1); devfn += 8)
			;
		if (devfn >= PCI_MAX_FNS)
			return -ENOSPC;
	}

	/* Nothing is written until every BAR has a place, so a device that
	 * does not fit leaves the bus untouched. BARs are placed in index
	 * order, first fit. */
	for (unsigned int b = 0; b < PCI_NUM_REGIONS && !ret; b++) {
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
		return ret;

	for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
		unsigned int reg = pci_bar_reg(b);

		if (dev->bars[b].type == PCI_BAR_NONE)
			continue;
		/* The address is aligned to the size, so it only touches
		 * writable bits; the type bits below stay. */
		put_le32(dev->cfg + reg, (get_le32(dev->cfg + reg) & ~get_le32(dev->wmask + reg)) |
					 (uint32_t)addr[b]);
		if (dev->bars[b].type == PCI_BAR_MEM64)
			put_le32(dev->cfg + reg + 4, (uint32_t)(addr[b] >> 32));
	}
	dev->devfn = devfn;
	dev->slot = devfn >> 3;
	bus->devs[devfn] = dev;
	pci_update_decode(bus, dev);
	return 0;
}

int pci_register(struct pci_bus *bus, struct pci_dev *dev)
{
	int ret;

	pthread_mutex_lock(&bus->lock);
	ret = pci_register_locked(bus, dev, -1);
	pthread_mutex_unlock(&bus->lock);
	return ret;
}

int pci_register_at(struct pci_bus *bus, struct pci_dev *dev, unsigned int devfn)
{
	int ret;

	pthread_mutex_lock(&bus->lock);
	ret = pci_register_locked(bus, dev, devfn >= PCI_MAX_FNS ? PCI_MAX_FNS : (int)devfn);
	pthread_mutex_unlock(&bus->lock);
	return ret;
}

int pci_unregister(struct pci_bus *bus, struct pci_dev *dev)
{
	pthread_mutex_lock(&bus->lock);
	if (dev->devfn < 8 || dev->devfn >= PCI_MAX_FNS || bus->devs[dev->devfn] != dev) {
		pthread_mutex_unlock(&bus->lock);
		return -ENOENT;
	}
	/* Decoding stops: the device takes down what it attached to its BARs
	 * (ioeventfds) as when the guest turns decoding off. */
	for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
		unsigned int reg = pci_bar_reg(b);

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
	bus->devs[dev->devfn] = NULL;
	dev->slot = 0;
	dev->devfn = 0;
	pthread_mutex_unlock(&bus->lock);
	/* A vCPU may be inside dev->ops->bar_access, which runs outside
	 * bus->lock: wait until every such access is done. */
	pthread_rwlock_wrlock(&bus->access_lock);
	pthread_rwlock_unlock(&bus->access_lock);
	return 0;
}

/* Accepts only what a config cycle can be: bus 0, a function of a slot,
 * a naturally aligned 1/2/4-byte access inside 4 KiB. */
static bool pci_cfg_ok(unsigned int busno, unsigned int devfn, unsigned int offset,
		       unsigned int len)
{
	if (busno != 0 || devfn >= PCI_MAX_FNS)
		return false;
	if (len != 1 && len != 2 && len != 4)
		return false;
	return offset < PCI_CFG_SIZE && offset % len == 0;
}

/* A checked config access to devfn; reads were pre-filled with all-ones.
 * Called with bus->lock held. */
static void pci_cfg_locked(struct pci_bus *bus, unsigned int devfn, unsigned int offset,
			   void *data, unsigned int len, bool is_write)
{
	struct pci_dev *dev = bus->devs[devfn];
	const uint8_t *val = data;
	uint32_t old;

	if (!dev)
		return;
	if (!is_write) {
		memcpy(data, dev->cfg + offset, len);
		if (dev->ops && dev->ops->config_read)
			dev->ops->config_read(dev, offset, len, data);
		/* Function 0 says whether the slot has others (software scans
		 * functions 1-7 only then), whatever its device reported. */
		if (offset <= PCI_HEADER_TYPE && offset + len > PCI_HEADER_TYPE &&
		    PCI_FUNC(devfn) == 0) {
			uint8_t *ht = (uint8_t *)data + (PCI_HEADER_TYPE - offset);

			*ht = (uint8_t)((*ht & 0x7f) |
					(pci_slot_busy(bus, devfn >> 3, 0) ? 0x80 : 0));
		}
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
	pci_cfg_locked(bus, devfn, offset, data, len, is_write);
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
		pci_cfg_locked(bus, (cf8 >> 8) & 0xff, (cf8 & 0xfc) + reg, data, len, is_write);
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
	for (unsigned int s = 0; s < PCI_MAX_FNS && !hit; s++) {
		struct pci_dev *dev = bus->devs[s];

		if (!dev)
			continue;
		for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
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

/* PCI configuration space for the test guest: ECAM (found via ACPI MCFG) as
 * the main accessor, the legacy 0xcf8/0xcfc ports as a cross-check, bus-0
 * enumeration, BAR sizing and a last-resort BAR allocator.
 *
 * ECAM is plain MMIO that ring 3 reaches through the user-mapped, uncached
 * page tables; the legacy ports work there because of IOPL=3 (or, under
 * PVM, the TSS I/O bitmap; see crt0.S). */
#include "guest.h"

#define PCI_CF8        0xcf8
#define PCI_CFC        0xcfc
/* 32-bit PCI window, the same on isle (vmm/boot/layout.h) and QEMU q35 with
 * <= 2.75 GiB of RAM; used only when a BAR arrives unassigned. */
#define MMIO32_START   0xc0000000ull
#define MMIO32_END     0xfec00000ull

static struct acpi_ecam ecam;
static bool ecam_ok;

bool pci_init(void)
{
	ecam_ok = acpi_mcfg_ecam(&ecam);
	return ecam_ok;
}

const struct acpi_ecam *pci_ecam(void)
{
	return ecam_ok ? &ecam : NULL;
}

static uint64_t ecam_addr(uint16_t bdf, uint16_t off)
{
	return ecam.base + ((uint64_t)(PCI_BUS(bdf) - ecam.bus_start) << 20) +
	       ((uint64_t)(bdf & 0xff) << 12) + (off & 0xfff);
}

/* Without ECAM everything falls back to the legacy ports (first 256
 * bytes only), so a missing MCFG fails checks instead of faulting. */
uint32_t pci_read32(uint16_t bdf, uint16_t off)
{
	if (!ecam_ok)
		return pci_cf8_read32(bdf, off);
	return mmio_read32(ecam_addr(bdf, off & ~3));
}

uint16_t pci_read16(uint16_t bdf, uint16_t off)
{
	if (!ecam_ok)
		return (uint16_t)(pci_cf8_read32(bdf, off) >> ((off & 2) * 8));
	return mmio_read16(ecam_addr(bdf, off & ~1));
}

uint8_t pci_read8(uint16_t bdf, uint16_t off)
{
	if (!ecam_ok)
		return (uint8_t)(pci_cf8_read32(bdf, off) >> ((off & 3) * 8));
	return mmio_read8(ecam_addr(bdf, off));
}

void pci_write32(uint16_t bdf, uint16_t off, uint32_t v)
{
	if (!ecam_ok) {
		pci_cf8_write32(bdf, off, v);
		return;
	}
	mmio_write32(ecam_addr(bdf, off & ~3), v);
}

void pci_write16(uint16_t bdf, uint16_t off, uint16_t v)
{
	if (!ecam_ok) {
		outl(PCI_CF8, 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc));
		outw((uint16_t)(PCI_CFC + (off & 2)), v);
		return;
	}
	mmio_write16(ecam_addr(bdf, off & ~1), v);
}

uint32_t pci_cf8_read32(uint16_t bdf, uint16_t off)
{
	outl(PCI_CF8, 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc));
	return inl(PCI_CFC);
}

void pci_cf8_write32(uint16_t bdf, uint16_t off, uint32_t v)
{
	outl(PCI_CF8, 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc));
	outl(PCI_CFC, v);
}

int pci_scan_bus0(struct pci_dev *out, int max)
{
	int n = 0;

	for (unsigned int dev = 0; dev < 32; dev++) {
		uint8_t hdr;
		unsigned int nfn;

		if (pci_read16(PCI_BDF(0, dev, 0), PCI_VENDOR_ID) == 0xffff)
			continue;
		hdr = pci_read8(PCI_BDF(0, dev, 0), PCI_HEADER_TYPE);
		nfn = (hdr & 0x80) ? 8 : 1;
		for (unsigned int fn = 0; fn < nfn; fn++) {
			uint16_t bdf = PCI_BDF(0, dev, fn);
			uint32_t id = pci_read32(bdf, PCI_VENDOR_ID);

			if ((id & 0xffff) == 0xffff)
				continue;
			if (n < max) {
				out[n].bdf = bdf;
				out[n].vendor = (uint16_t)id;
				out[n].device = (uint16_t)(id >> 16);
				out[n].class_rev = pci_read32(bdf, PCI_CLASS_REV);
				out[n].header_type = pci_read8(bdf, PCI_HEADER_TYPE) & 0x7f;
			}
			n++;
		}
	}
	return n;
}

int pci_find_nth(uint16_t vendor, uint16_t device, unsigned int nth)
{
	struct pci_dev devs[64];
	int n = pci_scan_bus0(devs, ARRAY_SIZE(devs));

	for (int i = 0; i < n && i < (int)ARRAY_SIZE(devs); i++) {
		if (devs[i].vendor == vendor && devs[i].device == device && !nth--)
			return devs[i].bdf;
	}
	return -1;
}

int pci_find(uint16_t vendor, uint16_t device)
{
	return pci_find_nth(vendor, device, 0);
}

unsigned int pci_bar_count(uint16_t bdf)
{
	switch (pci_read8(bdf, PCI_HEADER_TYPE) & 0x7f) {
	case 0:
		return 6;
	case 1:
		return 2;       /* PCI-to-PCI bridge */
	default:
		return 0;
	}
}

int pci_bar_probe(uint16_t bdf, unsigned int idx, struct pci_bar *bar)
{
	uint16_t off = (uint16_t)(PCI_BAR0 + 4 * idx);
	uint16_t cmd = pci_read16(bdf, PCI_COMMAND);
	uint32_t orig, rb, orig_hi = 0, rb_hi = 0;
	uint64_t mask;

	*bar = (struct pci_bar){ 0 };
	/* Decode off: while it holds all-ones the BAR must not claim
	 * addresses (they may overlap RAM or another device). */
	pci_write16(bdf, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	orig = pci_read32(bdf, off);
	pci_write32(bdf, off, 0xffffffffu);
	rb = pci_read32(bdf, off);
	pci_write32(bdf, off, orig);

	bar->io = rb & 1;
	if (!bar->io) {
		bar->is64 = ((rb >> 1) & 3) == 2;
		bar->prefetch = rb & 8;
	}
	if (bar->is64 && idx + 1 < pci_bar_count(bdf)) {
		orig_hi = pci_read32(bdf, off + 4);
		pci_write32(bdf, off + 4, 0xffffffffu);
		rb_hi = pci_read32(bdf, off + 4);
		pci_write32(bdf, off + 4, orig_hi);
	}
	pci_write16(bdf, PCI_COMMAND, cmd);

	bar->readback = (uint64_t)rb_hi << 32 | rb;
	if (bar->io) {
		mask = rb & ~3u;
		/* Many I/O BARs decode only 16 bits; the rest reads 0. */
		if (!(mask & 0xffff0000u))
			mask |= 0xffff0000u;
		mask |= 0xffffffff00000000ull;
		bar->addr = orig & ~3u;
		bar->present = (rb & ~3u) != 0;
	} else if (bar->is64) {
		mask = (uint64_t)rb_hi << 32 | (rb & ~0xfu);
		bar->addr = (uint64_t)orig_hi << 32 | (orig & ~0xfu);
		bar->present = mask != 0;
	} else {
		mask = (rb & ~0xfu) | 0xffffffff00000000ull;
		bar->addr = orig & ~0xfu;
		bar->present = (rb & ~0xfu) != 0;
	}
	bar->size = bar->present ? ~mask + 1 : 0;
	return bar->is64 ? 2 : 1;
}

/* End of the highest memory BAR on bus 0 inside the 32-bit window. */
uint64_t pci_mmio32_used_end(void)
{
	struct pci_dev devs[64];
	int n = pci_scan_bus0(devs, ARRAY_SIZE(devs));
	uint64_t end = MMIO32_START;

	for (int i = 0; i < n && i < (int)ARRAY_SIZE(devs); i++) {
		unsigned int nbar = pci_bar_count(devs[i].bdf);

		for (unsigned int b = 0; b < nbar;) {
			struct pci_bar bar;

			b += (unsigned int)pci_bar_probe(devs[i].bdf, b, &bar);
			if (!bar.present || bar.io || bar.addr < MMIO32_START ||
			    bar.addr >= MMIO32_END)
				continue;
			if (bar.addr + bar.size > end)
				end = bar.addr + bar.size;
		}
	}
	return end;
}

uint64_t pci_bar_map(uint16_t bdf, unsigned int idx)
{
	struct pci_bar bar;
	uint16_t off = (uint16_t)(PCI_BAR0 + 4 * idx);

	pci_bar_probe(bdf, idx, &bar);
	if (!bar.present || bar.io)
		return 0;
	if (!bar.addr) {
		/* Nobody (firmware or VMM) placed it: put it above every
		 * BAR already in the window. */
		uint64_t addr = ALIGN_UP(pci_mmio32_used_end(), bar.size);

		if (addr + bar.size > MMIO32_END)
			return 0;
		pci_write32(bdf, off, (uint32_t)addr);
		if (bar.is64)
			pci_write32(bdf, off + 4, 0);
		report_info("assigned %02x:%02x.%x BAR%u at %#lx",
			    PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf), idx, addr);
		bar.addr = addr;
	}
	pci_write16(bdf, PCI_COMMAND, pci_read16(bdf, PCI_COMMAND) | PCI_CMD_MEM);
	return bar.addr;
}

uint8_t pci_cap_find(uint16_t bdf, uint8_t id)
{
	uint8_t ptr;

	if (!(pci_read16(bdf, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	ptr = pci_read8(bdf, PCI_CAP_PTR) & 0xfc;
	/* 48 capabilities fit in 192 bytes: bounds a looping list. */
	for (int i = 0; i < 48 && ptr >= 0x40; i++) {
		if (pci_read8(bdf, ptr) == id)
			return ptr;
		ptr = pci_read8(bdf, (uint16_t)(ptr + 1)) & 0xfc;
	}
	return 0;
}

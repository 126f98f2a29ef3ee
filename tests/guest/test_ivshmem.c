/* Scenario "ivshmem": the inter-VM shared memory device ivshmem-plain (PCI
 * 1af4:1110), whose BAR2 is a host memory object: QEMU's (the reference,
 * -device ivshmem-plain) and the same device assigned to isle in the lab,
 * where BAR2 is 8 GiB and must be placed above 4 GiB.
 *
 * Checks: BAR2 is a 64-bit prefetchable memory BAR; its size (reported;
 * with ivshmem_size=N it must be N GiB); its address (reported; with
 * ivshmem_high=1 it must be at or above 4 GiB); memory decoding on; the
 * first and the last 4 KiB page of BAR2 reachable through the guest's
 * identity map (paging.c: 1 GiB pages, or 2 MiB pages for just those
 * ranges); a pattern written to each page reads back. The pattern stays
 * in place for the host to check in the backing file afterwards: every
 * byte of the first page is P, every byte of the last page P ^ 0xff, with
 * P from ivshmem_pattern=0xNN (default 0x5a); a report_info line names
 * both. Skips (77) without the device. */
#include "guest.h"

#define IVSHMEM_VENDOR  0x1af4
#define IVSHMEM_DEVICE  0x1110
#define SHM_BAR         2
#define PAGE            4096u
#define LOW_4G          (4ull << 30)
#define PATTERN_DEFAULT 0x5a

static uint16_t bdf;

static uint32_t word_of(uint8_t byte)
{
	return byte * 0x01010101u;
}

/* Fills one page of BAR2 with byte b, then reads it back; true if every
 * word came back. 32-bit accesses: what a VMM trapping them would see. */
static bool page_fill_check(uint64_t addr, uint8_t b)
{
	uint32_t w = word_of(b);

	for (uint32_t off = 0; off < PAGE; off += 4)
		mmio_write32(addr + off, w);
	for (uint32_t off = 0; off < PAGE; off += 4) {
		if (mmio_read32(addr + off) != w) {
			report_info("%#lx reads %#x, wrote %#x", addr + off,
				    mmio_read32(addr + off), w);
			return false;
		}
	}
	return true;
}

static bool check_bar(struct pci_bar *bar)
{
	uint64_t want_gib = cmdline_get_u64("ivshmem_size", 0);

	pci_bar_probe(bdf, SHM_BAR, bar);
	if (!report(bar->present && !bar->io && bar->is64 && bar->prefetch,
		    "BAR2: 64-bit prefetchable memory (raw %#lx)", bar->readback))
		return false;
	if (want_gib)
		report(bar->size == want_gib << 30, "BAR2 size %#lx is ivshmem_size=%lu GiB",
		       bar->size, want_gib);
	else
		report_info("BAR2 size %#lx (%lu MiB)", bar->size, bar->size >> 20);
	return report(bar->size >= 2 * PAGE && !(bar->size & (bar->size - 1)),
		      "BAR2 size a power of two, at least two pages");
}

static bool check_placement(struct pci_bar *bar)
{
	bool high = cmdline_get_u64("ivshmem_high", 0) != 0;
	uint64_t placed = bar->addr, addr;

	report_info("BAR2 placed at %#lx-%#lx by the firmware/VMM%s", placed,
		    placed + bar->size - 1, placed ? "" : " (unassigned)");
	if (high)
		report(placed >= LOW_4G, "BAR2 above 4 GiB (ivshmem_high=1)");
	/* Gives an unplaced BAR an address in the 32-bit window if it fits,
	 * and turns memory decoding on. */
	addr = pci_bar_map(bdf, SHM_BAR);
	if (!report(addr != 0 && (!placed || addr == placed), "BAR2 at %#lx", addr))
		return false;
	bar->addr = addr;
	report(pci_read16(bdf, PCI_COMMAND) & PCI_CMD_MEM, "memory decoding enabled");
	return report(paging_map(addr, PAGE) && paging_map(addr + bar->size - PAGE, PAGE),
		      "first and last page reachable (%s)",
		      addr + bar->size <= LOW_4G ? "below 4 GiB" :
		      paging_gib_pages() ? "1 GiB pages" : "2 MiB pages");
}

void test_ivshmem_run(void)
{
	uint64_t p = cmdline_get_u64("ivshmem_pattern", PATTERN_DEFAULT);
	uint8_t first, last;
	struct pci_bar bar;
	int found;

	report_prefix_push("ivshmem");
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	found = pci_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	if (found < 0) {
		report_skip("ivshmem-plain %04x:%04x absent", IVSHMEM_VENDOR, IVSHMEM_DEVICE);
		report_prefix_pop();
		return;
	}
	bdf = (uint16_t)found;
	report_info("ivshmem at %02x:%02x.%x", PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf));
	if (p > 0xff) {
		report_info("ivshmem_pattern=%#lx is not a byte; using %#x", p, PATTERN_DEFAULT);
		p = PATTERN_DEFAULT;
	}
	first = (uint8_t)p;
	last = (uint8_t)(p ^ 0xff);
	if (check_bar(&bar) && check_placement(&bar)) {
		uint64_t lo = bar.addr, hi = bar.addr + bar.size - PAGE;

		report_info("first page held %08x %08x before the test", mmio_read32(lo),
			    mmio_read32(lo + 4));
		report(page_fill_check(lo, first), "first page (%#lx): pattern %#x reads back",
		       lo, first);
		report(page_fill_check(hi, last), "last page (%#lx): pattern %#x reads back",
		       hi, last);
		/* Each page again: the other page's fill must not alias it. */
		report(mmio_read32(lo) == word_of(first) && mmio_read32(lo + PAGE - 4) == word_of(first),
		       "first page still holds its pattern");
		report_info("pattern left in place: every byte of the first page %#x, "
			    "of the last page (offset %#lx) %#x", first, bar.size - PAGE, last);
	}
	report_prefix_pop();
}

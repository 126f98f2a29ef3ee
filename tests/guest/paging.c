/* The test guest's identity map above 4 GiB.
 *
 * crt0.S maps 0-4 GiB at assembly time. 64-bit BARs may be placed far
 * above: isle's 64-bit window follows high RAM, firmware puts large
 * prefetchable BARs (an 8 GiB ivshmem) there too. paging_init() maps the
 * rest of the first 512 GiB (the one PDPT crt0.S built) with 1 GiB pages
 * when the CPU has them; without, paging_map() builds 2 MiB mappings for
 * the ranges a scenario asks for, from a small pool of page directories.
 *
 * Everything runs in ring 3: the page tables are ordinary user-writable
 * data in the identity map. Only entries that were not present are ever
 * written, and the CPU caches no translation for a not-present entry, so
 * no TLB flush (a ring-0 operation) is needed. Memory that the boot memory
 * map calls RAM is mapped write-back, everything else uncached like the
 * MMIO below 4 GiB. */
#include "guest.h"

#define PG_P        0x001ull
#define PG_RW       0x002ull
#define PG_US       0x004ull
#define PG_PWT      0x008ull
#define PG_PCD      0x010ull
#define PG_PS       0x080ull
#define PG_UC       (PG_PWT | PG_PCD)        /* UC with the reset PAT */
#define PG_TABLE    (PG_P | PG_RW | PG_US)
#define PG_LARGE    (PG_P | PG_RW | PG_US | PG_PS)
#define PG_ADDR     0x000ffffffffff000ull

#define LOW_END     (4ull << 30)             /* crt0.S maps below */
#define MAP_END     (512ull << 30)           /* one PDPT */
#define PD_POOL     16                       /* 2 MiB mode: 16 GiB of ranges */
#define MEMMAP_RAM  1

extern uint64_t pdpt[512];

static uint64_t pd_pool[PD_POOL][512] __attribute__((aligned(4096)));
static unsigned int pd_used;
static bool gib_pages;

/* Whether [start, start + len) lies inside one RAM entry of the boot map. */
static bool range_is_ram(uint64_t start, uint64_t len)
{
	for (uint32_t i = 0; i < boot.memmap_nr; i++) {
		const struct hvm_memmap_table_entry *e = &boot.memmap[i];

		if (e->type == MEMMAP_RAM && e->addr <= start &&
		    start + len <= e->addr + e->size)
			return true;
	}
	return false;
}

static uint64_t large_entry(uint64_t addr, uint64_t size)
{
	return addr | PG_LARGE | (range_is_ram(addr, size) ? 0 : PG_UC);
}

void paging_init(void)
{
	struct cpuid_regs r = cpuid(0x80000000);

	gib_pages = r.eax >= 0x80000001 && (cpuid(0x80000001).edx & (1u << 26));
	if (!gib_pages)
		return;
	for (uint64_t i = LOW_END >> 30; i < MAP_END >> 30; i++) {
		if (!(pdpt[i] & PG_P))
			pdpt[i] = large_entry(i << 30, 1ull << 30);
	}
}

bool paging_gib_pages(void)
{
	return gib_pages;
}

/* 2 MiB mode: the page directory for GiB number gib, new if need be. */
static uint64_t *pd_for(uint64_t gib)
{
	uint64_t *pd;

	if (pdpt[gib] & PG_P) {
		/* 1 GiB pages never coexist with pool directories. */
		if (pdpt[gib] & PG_PS)
			return NULL;
		return phys_ptr(pdpt[gib] & PG_ADDR);
	}
	if (pd_used == PD_POOL)
		return NULL;
	pd = pd_pool[pd_used++];
	memset(pd, 0, 4096);
	barrier();
	pdpt[gib] = (uint64_t)(uintptr_t)pd | PG_TABLE;
	return pd;
}

bool paging_map(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (!len || end < addr || end > MAP_END)
		return false;
	if (end <= LOW_END || gib_pages)
		return true;
	for (uint64_t a = ALIGN_DOWN(MAX(addr, LOW_END), 2ull << 20); a < end; a += 2ull << 20) {
		uint64_t *pd = pd_for(a >> 30);
		unsigned int idx = (unsigned int)((a >> 21) & 511);

		if (!pd) {
			report_info("paging: no page directory left for %#lx", a);
			return false;
		}
		if (!(pd[idx] & PG_P))
			pd[idx] = large_entry(a, 2ull << 20);
	}
	return true;
}

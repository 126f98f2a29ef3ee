/* Guest-physical memory layout of an isle VM, and the e820 map that
 * describes it. One place decides where everything lives:
 *
 *   0x00000000  low RAM (memfd offset = address) ........ up to 2.75 GiB
 *      0x00500    GDT used by the 64-bit Linux boot path
 *      0x01000    hvm_start_info (PVH)            0x07000 zero page (bzImage)
 *      0x02000    PVH memory map / module list
 *      0x09000    boot page tables (PML4, PDPT, 4 PDs: identity 0-4 GiB)
 *      0x20000    kernel command line (≤ 64 KiB)
 *      0x9fc00    EBDA (reserved)
 *   0x000a0000  hole: no memory slot, nothing in e820 (legacy VGA/ROM area)
 *      0xe0000    ACPI tables, RSDP first (reserved)
 *      0xffff0    reset vector: a stub that resets through 0xcf9 (reserved)
 *      0x100000   kernel
 *   0xb0000000  PCI ECAM, 256 buses (reserved in e820, described by MCFG)
 *   0xc0000000  32-bit PCI MMIO window ............... up to the IOAPIC
 *   0xfec00000  IOAPIC   0xfed90000 VT-d registers   0xfee00000 LAPIC
 *   0x100000000 high RAM (memfd offset = low RAM size), if any
 *   after high RAM, 1 GiB aligned: 64-bit PCI MMIO window (64 GiB)
 *
 * PIO: 0x3f8 COM1, 0x60/0x64 i8042 (reset), 0xcf8-0xcff PCI config,
 *      0xcf9 reset control, 0x3c0 ACPI sleep control, 0xf4 test exit,
 *      0xf8 test report, 0xc000-0xffff PCI I/O window. */
#ifndef ISLE_VMM_LAYOUT_H
#define ISLE_VMM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define LAYOUT_GDT            0x500ULL
#define LAYOUT_START_INFO     0x1000ULL
#define LAYOUT_PVH_MEMMAP     0x2000ULL
#define LAYOUT_ZERO_PAGE      0x7000ULL
#define LAYOUT_PAGE_TABLES    0x9000ULL
#define LAYOUT_CMDLINE        0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_EBDA           0x9fc00ULL
#define LAYOUT_VGA_HOLE       0xa0000ULL
#define LAYOUT_ACPI           0xe0000ULL
#define LAYOUT_ACPI_SIZE      0x1f000ULL
#define LAYOUT_RESET_VECTOR   0xffff0ULL    /* F000:FFF0: see vmm/devices/power.c */
#define LAYOUT_HIGH_MEM       0x100000ULL   /* 1 MiB: where kernels go */
#define LAYOUT_ECAM           0xb0000000ULL
#define LAYOUT_ECAM_SIZE      0x10000000ULL
#define LAYOUT_ECAM_BUSES     256
#define LAYOUT_MMIO32         0xc0000000ULL
#define LAYOUT_MMIO32_END     0xfec00000ULL
#define LAYOUT_IOAPIC         0xfec00000ULL
/* VT-d remapping unit registers (the DMAR table's DRHD base): between the
 * IOAPIC and the LAPIC, where QEMU's q35 puts them, so guests' expectations
 * hold; one 4 KiB page (no device is mapped there yet). */
#define LAYOUT_VTD            0xfed90000ULL
#define LAYOUT_VTD_SIZE       0x1000ULL
#define LAYOUT_LAPIC          0xfee00000ULL
#define LAYOUT_4G             0x100000000ULL
#define LAYOUT_MMIO64_SIZE    (64ULL << 30)
#define LAYOUT_PIO_WINDOW     0xc000
#define LAYOUT_PIO_WINDOW_END 0x10000

#define LAYOUT_LOWMEM_MAX     LAYOUT_ECAM   /* low RAM ends at ECAM at most */
#define LAYOUT_MIN_RAM        (8ULL << 20)

/* e820 types (also the PVH hvm_memmap_table_entry types). */
#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX 16

struct layout {
	uint64_t ram_size;      /* total guest RAM */
	uint64_t low_size;      /* slot 0: [0, low_size) */
	uint64_t high_size;     /* slot 1: [4 GiB, 4 GiB + high_size) */
	uint64_t mmio64_base;   /* 64-bit PCI window */
	uint64_t mmio64_size;
	struct e820_entry e820[E820_MAX];
	unsigned int e820_nr;
};

/* Fills *l for ram_size bytes of RAM; -EINVAL if below LAYOUT_MIN_RAM or
 * not a multiple of 4 KiB. */
int layout_init(struct layout *l, uint64_t ram_size);

/* A KVM memory slot: [gpa, gpa+size) backed by the RAM memfd at offset. */
struct layout_slot {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
};

/* The memory slots of l (at most 3); returns how many, or -ENOSPC. */
int layout_slots(const struct layout *l, struct layout_slot *slots, unsigned int max);

/* Highest address + 1 of RAM below 4 GiB usable for boot data
 * (initrd placement): the end of low RAM. */
static inline uint64_t layout_low_end(const struct layout *l)
{
	return l->low_size;
}

#endif

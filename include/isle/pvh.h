/* The PVH boot ABI (Xen's arch-x86/hvm/start_info.h, version 1), shared by the
 * VMM's loader and the test guest. Freestanding: only fixed-width types. */
#ifndef ISLE_PVH_H
#define ISLE_PVH_H

#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC_VALUE    0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;       /* 1: memmap fields valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#endif

/* Kernel loaders: PVH ELF (Xen's PVH boot ABI) and Linux bzImage (64-bit boot
 * protocol). Both are pure functions of an image in memory and a guest memory
 * map, so they are unit-tested and fuzzed without KVM.
 *
 * Contract: the image, initrd and command line are untrusted. Every offset and
 * size read from them is bounds-checked against the image and against guest
 * RAM; a bad image returns -ENOEXEC (not this format), -EINVAL (malformed,
 * with *err set to a static message), -ENOSPC (does not fit in guest RAM). */
#ifndef ISLE_VMM_LOADER_H
#define ISLE_VMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "isle/gmem.h"
#include "vmm/layout.h"

enum boot_mode {
	BOOT_PVH32,   /* 32-bit protected mode, paging off, ebx = start_info */
	BOOT_LINUX64, /* long mode, identity-mapped 0-4 GiB, rsi = zero page */
};

struct boot_info {
	enum boot_mode mode;
	uint64_t entry;      /* rip/eip */
	uint64_t arg;        /* ebx (PVH start_info) or rsi (zero page) */
};

struct boot_request {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;   /* may be NULL */
	size_t initrd_size;
	const char *cmdline;     /* may be NULL */
	uint64_t rsdp;           /* guest-physical RSDP address, 0 if none */
	const struct layout *layout;
	const struct gmem *gmem;
};

/* Each returns 0 and fills *bi, or a negative errno with *err describing it. */
int loader_pvh_load(const struct boot_request *req, struct boot_info *bi, const char **err);
int loader_bzimage_load(const struct boot_request *req, struct boot_info *bi, const char **err);

/* Tries bzImage then PVH ELF; -ENOEXEC with *err = "unknown kernel format" if neither. */
int loader_load(const struct boot_request *req, struct boot_info *bi, const char **err);

/* Writes the GDT and identity page tables (0-4 GiB, 2 MiB pages) that
 * BOOT_LINUX64 expects at LAYOUT_GDT / LAYOUT_PAGE_TABLES. */
int loader_write_boot_tables(const struct gmem *gm);

#endif

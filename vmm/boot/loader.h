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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/gmem.h"
#include "boot/layout.h"

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
	/* Guest RAM is known to be all zeros (a fresh memfd): the PVH loader
	 * then leaves a segment's bss alone instead of faulting in every page
	 * of it just to write zeros. */
	bool ram_zeroed;
};

/* Each returns 0 and fills *bi, or a negative errno with *err describing it. */
int loader_pvh_load(const struct boot_request *req, struct boot_info *bi, const char **err);
int loader_bzimage_load(const struct boot_request *req, struct boot_info *bi, const char **err);

/* Tries bzImage then PVH ELF; -ENOEXEC with *err = "unknown kernel format" if neither. */
int loader_load(const struct boot_request *req, struct boot_info *bi, const char **err);

/* Writes the GDT and identity page tables (0-4 GiB, 2 MiB pages) that
 * BOOT_LINUX64 expects at LAYOUT_GDT / LAYOUT_PAGE_TABLES. */
int loader_write_boot_tables(const struct gmem *gm);

/* Helpers shared by loader.c, loader_pvh.c and loader_bzimage.c only; other
 * code should call the entry points above. */

/* True when the image carries the format's signature (bzImage: 0xAA55 and
 * "HdrS"; PVH: the ELF magic), whether or not the rest of it is valid. Used
 * by loader_load to decide whose error message to report. */
bool loader_bzimage_probe(const uint8_t *image, size_t size);
bool loader_pvh_probe(const uint8_t *image, size_t size);

/* True when [gpa, gpa+len) is guest RAM in gm, without wrap-around. */
bool loader_ram_ok(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* Checks req->cmdline (NULL means empty) is shorter than max_len and than
 * LAYOUT_CMDLINE_MAX bytes, and stores its length in *len; -EINVAL "command
 * line too long" otherwise. */
int loader_cmdline_check(const struct boot_request *req, uint64_t max_len,
			 size_t *len, const char **err);

/* Writes the checked command line, NUL-terminated, at LAYOUT_CMDLINE. */
int loader_cmdline_write(const struct boot_request *req, size_t len);

/* Picks the highest page-aligned gpa for the initrd such that
 * [gpa, gpa+initrd_size) lies in [lo, hi), avoids [avoid_lo, avoid_hi) and is
 * guest RAM; -ENOSPC with *err set if there is none (-EINVAL if req->initrd
 * is NULL). */
int loader_initrd_place(const struct boot_request *req, uint64_t lo, uint64_t hi,
			uint64_t avoid_lo, uint64_t avoid_hi, uint64_t *gpa,
			const char **err);

#endif

/* Guest memory map: the regions of guest-physical memory and where they are
 * mapped in this process. The VMM builds it from its memfd; a vhost-user
 * backend builds it from the regions a frontend sends.
 *
 * Contract: every access to guest memory goes through gmem_gpa_to_hva(), which
 * bounds-checks and returns how many contiguous bytes are valid at that
 * address; callers loop. Nothing else in the tree does pointer arithmetic on
 * guest addresses. */
#ifndef ISLE_GMEM_H
#define ISLE_GMEM_H

#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;      /* bytes */
	uint8_t *hva;       /* where it is mapped here */
	int fd;             /* backing fd (memfd), -1 if none */
	uint64_t fd_offset; /* offset of gpa in fd */
};

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int nr;
};

/* Adds a region; fails with -EINVAL if it is empty, wraps, or overlaps
 * another, and -ENOSPC when the table is full. */
int gmem_add(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva, int fd,
	     uint64_t fd_offset);

/* Host address of gpa, or NULL if gpa is not guest RAM. On entry *len is the
 * number of bytes wanted; on return it is how many contiguous bytes starting
 * at gpa are valid (≤ the request, > 0 when the result is non-NULL). */
void *gmem_gpa_to_hva(const struct gmem *gm, uint64_t gpa, uint64_t *len);

/* Copies between guest memory and a buffer, looping over regions.
 * Return 0, or -EFAULT if any byte of the range is not guest RAM (then
 * nothing is guaranteed about partial copies). */
int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len);
int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len);
int gmem_fill(const struct gmem *gm, uint64_t gpa, int c, size_t len);

/* Gives guest RAM back to the host (a balloon): [gpa, gpa+len), page
 * aligned, has its backing released: a hole punched in the region's file
 * (fallocate PUNCH_HOLE|KEEP_SIZE: for a shared memfd MADV_DONTNEED alone
 * frees nothing, the file keeps the pages), or for a region without a file
 * this process's mapping dropped (MADV_DONTNEED). The
 * range reads as zeros afterwards, here and in every other mapping of the
 * file (the kernel zaps them). Returns 0, -EINVAL if unaligned, -EFAULT if
 * any byte is not guest RAM (then nothing was discarded), or the first
 * failing call's -errno. The hole alone does it for a region with a file:
 * punching a shared mapping's file unmaps the range in every mapping. */
int gmem_discard(const struct gmem *gm, uint64_t gpa, uint64_t len);
/* The guest-physical address of a host address inside a region, with
 * [hva, hva+len) wholly in that region: 0, or -EFAULT. */
int gmem_hva_to_gpa(const struct gmem *gm, const void *hva, uint64_t len, uint64_t *gpa);

#endif

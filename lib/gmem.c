/* Guest memory map (see include/isle/gmem.h for the contract). The table is
 * tiny (a handful of regions), so lookups are linear. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "isle/gmem.h"
#include "isle/util.h"

int gmem_add(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva, int fd,
	     uint64_t fd_offset)
{
	if (!size || gpa + size < gpa || !hva)
		return -EINVAL;
	if (gm->nr >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	gm->regions[gm->nr++] = (struct gmem_region){
		.gpa = gpa, .size = size, .hva = hva, .fd = fd, .fd_offset = fd_offset,
	};
	return 0;
}

void *gmem_gpa_to_hva(const struct gmem *gm, uint64_t gpa, uint64_t *len)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *r = &gm->regions[i];
		uint64_t off = gpa - r->gpa;

		if (gpa < r->gpa || off >= r->size)
			continue;
		*len = MIN(*len, r->size - off);
		return r->hva + off;
	}
	*len = 0;
	return NULL;
}

static int gmem_copy(const struct gmem *gm, uint64_t gpa, void *buf, size_t len,
		     int is_write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t n = len;
		uint8_t *hva = gmem_gpa_to_hva(gm, gpa, &n);

		if (!hva)
			return -EFAULT;
		if (is_write)
			memcpy(hva, p, n);
		else
			memcpy(p, hva, n);
		gpa += n;
		p += n;
		len -= n;
	}
	return 0;
}

int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
	return gmem_copy(gm, gpa, buf, len, 0);
}

int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
	return gmem_copy(gm, gpa, (void *)buf, len, 1);
}

int gmem_fill(const struct gmem *gm, uint64_t gpa, int c, size_t len)
{
	while (len) {
		uint64_t n = len;
		uint8_t *hva = gmem_gpa_to_hva(gm, gpa, &n);

		if (!hva)
			return -EFAULT;
		memset(hva, c, n);
		gpa += n;
		len -= n;
	}
	return 0;
}

/* One region's part of a discard. With a file: the hole, which also unmaps
 * the range from every shared mapping of it (ours, a vhost-user backend's)
 * on its own, so no MADV_DONTNEED after it: under KVM each of the two calls
 * costs a round of secondary-MMU invalidations, and a guest's scattered
 * pages make one call per page. Without a file: MADV_DONTNEED. */
static int gmem_discard_region(const struct gmem_region *r, uint64_t off, uint64_t len)
{
	if (r->fd >= 0)
		return fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (off_t)(r->fd_offset + off), (off_t)len) < 0 ? -errno : 0;
	return madvise(r->hva + off, len, MADV_DONTNEED) < 0 ? -errno : 0;
}

int gmem_discard(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t at, left;

	if ((gpa | len) & 4095 || !len || gpa + len < gpa)
		return -EINVAL;
	/* All of it must be RAM before any of it goes. */
	for (at = gpa, left = len; left; ) {
		uint64_t n = left;

		if (!gmem_gpa_to_hva(gm, at, &n))
			return -EFAULT;
		at += n;
		left -= n;
	}
	for (at = gpa, left = len; left; ) {
		uint64_t n = left;
		uint8_t *hva = gmem_gpa_to_hva(gm, at, &n);
		int r;

		for (unsigned int i = 0; i < gm->nr; i++) {
			const struct gmem_region *g = &gm->regions[i];

			if (hva >= g->hva && hva < g->hva + g->size) {
				if ((r = gmem_discard_region(g, (uint64_t)(hva - g->hva), n)))
					return r;
				break;
			}
		}
		at += n;
		left -= n;
	}
	return 0;
}

int gmem_hva_to_gpa(const struct gmem *gm, const void *hva, uint64_t len, uint64_t *gpa)
{
	const uint8_t *p = hva;

	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (p >= r->hva && p < r->hva + r->size &&
		    len <= (uint64_t)(r->hva + r->size - p)) {
			*gpa = r->gpa + (uint64_t)(p - r->hva);
			return 0;
		}
	}
	return -EFAULT;
}

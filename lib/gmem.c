/* Guest memory map (see include/isle/gmem.h for the contract). The table is
 * tiny (a handful of regions), so lookups are linear. */
#include <errno.h>
#include <string.h>

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

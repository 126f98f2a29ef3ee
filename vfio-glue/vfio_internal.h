/* vfio-glue internals shared by vfio.c, vfio_dma.c, assignable.c and the
 * unit tests: bounded sysfs helpers and the pure parsers of what the kernel
 * returns. Nothing here is part of the VMM's interface (vfio.h,
 * assignable.h).
 *
 * Contract: every input (sysfs contents, link targets, ioctl buffers) is
 * untrusted; the helpers bound their reads and walks and return 0 or
 * -errno, never crash on malformed data. */
#ifndef ISLE_VFIO_GLUE_VFIO_INTERNAL_H
#define ISLE_VFIO_GLUE_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio.h"

#define VFIO_INFO_MAX   (64u * 1024)   /* largest info buffer (argsz) we accept */
#define VFIO_CAP_WALK   64             /* capabilities visited per chain at most */
#define VFIO_NAME_MAX   64             /* a driver or interface name */

/* Formats one line into err (when err and errlen) and returns r. */
int vfio_err(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* snprintf into a PATH_MAX buffer: 0 or -ENAMETOOLONG. */
int vfio_pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads at most len-1 bytes of a (sysfs) file into buf, NUL-terminated,
 * trailing newline stripped: 0 or -errno. */
int vfio_read_small(const char *path, char *buf, size_t len);

/* The last component of a symlink's target (a driver, an IOMMU group):
 * 0, -ENOENT when there is no link, -ENAMETOOLONG, -EINVAL for an empty
 * or "."/".." name, -errno. */
int vfio_link_base(const char *path, char *out, size_t outlen);

/* The driver a PCI function is bound to: 0 with the name ("" when none),
 * -ENOENT when there is no such function, -errno. bdf is canonical. */
int vfio_device_driver(const char *sysfs, const char *bdf, char *out, size_t outlen);
/* An existing function from untrusted text: its canonical BDF and driver
 * ("" for none). 0, or -EINVAL (not a BDF), -ENOENT (no such device) or
 * -errno with one line in err, the same for every caller. */
int vfio_lookup(const char *sysfs, const char *in, char bdf[VFIO_BDF_MAX],
		char drv[VFIO_NAME_MAX], char *err, size_t errlen);

/* Walks the capability chain of an info buffer (buf, len bytes valid) from
 * offset `first`: every header must lie inside [min_off, len), offsets
 * strictly increase (so a loop ends the walk) and at most VFIO_CAP_WALK
 * are visited. Finds the first capability `id` whose cap_size bytes fit:
 * 0 with its offset in *at, -ENOENT when absent, -EINVAL on a malformed
 * chain. */
int vfio_cap_find(const void *buf, size_t len, size_t min_off, uint32_t first, uint16_t id,
		  size_t cap_size, size_t *at);

/* Fills r from a VFIO_DEVICE_GET_REGION_INFO answer (buf starts with the
 * struct vfio_region_info, len bytes valid): index, flags, size, offset
 * and the mmappable areas (see struct vfio_region). Sparse areas are
 * clipped to the region; empty ones, ones starting past its end or whose
 * end overflows are dropped. 0, or -EINVAL for a malformed chain or cap
 * (then r has no areas). */
int vfio_region_parse(struct vfio_region *r, const void *buf, size_t len);

/* The verdict of vfio_memlock_check from its inputs (limit UINT64_MAX:
 * unlimited): 0 or -ENOMEM with the message. */
int vfio_memlock_judge(uint64_t need, bool cap_ipc_lock, uint64_t limit, char *err,
		       size_t errlen);

/* type1's count of DMA mappings still available (the DMA_AVAIL capability
 * of VFIO_IOMMU_GET_INFO): 0, or -errno (-ENOENT: not reported). */
struct vfio_container;
int vfio_dma_avail(const struct vfio_container *c, uint32_t *avail);

#endif

/* vfio-glue core (contract in vfio.h): the container and its refcounted
 * groups, opening a device and caching its region and irq infos (with the
 * capability-chain parser behind the sparse mmap areas), region accesses,
 * interrupts and reset. DMA mappings and the memlock check are in
 * vfio_dma.c, sysfs (BDFs, groups, viability) in vfio_sysfs.c.
 *
 * Every buffer the kernel fills is parsed as untrusted: info sizes are
 * capped at VFIO_INFO_MAX, capability chains walked with a bound, counts
 * checked against what was allocated. All fds are O_CLOEXEC. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "isle/util.h"
#include "vfio_internal.h"

#define HOT_RESET_MAX 256   /* functions a hot reset may affect */

int vfio_container_open(struct vfio_container *c, char *err, size_t errlen)
{
	int fd, v;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return vfio_err(err, errlen, -ENOENT, "/dev/vfio/vfio does not exist: load VFIO "
				"(modprobe vfio-pci)");
	if (fd < 0)
		return vfio_err(err, errlen, -errno, "/dev/vfio/vfio: %s", strerror(errno));
	v = ioctl(fd, VFIO_GET_API_VERSION);
	if (v != VFIO_API_VERSION) {
		close(fd);
		return vfio_err(err, errlen, -EINVAL, "VFIO API version %d, isle speaks %d", v,
				VFIO_API_VERSION);
	}
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0 &&
	    ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
		close(fd);
		return vfio_err(err, errlen, -ENODEV, "VFIO offers no type1 IOMMU "
				"(modprobe vfio_iommu_type1)");
	}
	c->fd = fd;
	return 0;
}

void vfio_container_close(struct vfio_container *c)
{
	for (unsigned int i = 0; i < c->nr_groups && i < VFIO_MAX_GROUPS; i++)
		if (c->groups[i].fd >= 0)
			close(c->groups[i].fd);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Sets the IOMMU model once the first group has joined, and reads the
 * page sizes it supports. */
static int container_set_iommu(struct vfio_container *c, char *err, size_t errlen)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	unsigned long type = VFIO_TYPE1v2_IOMMU;

	if (ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		type = VFIO_TYPE1_IOMMU;
	if (ioctl(c->fd, VFIO_SET_IOMMU, type) < 0)
		return vfio_err(err, errlen, -errno, "VFIO_SET_IOMMU (type1%s): %s",
				type == VFIO_TYPE1v2_IOMMU ? "v2" : "", strerror(errno));
	if (ioctl(c->fd, VFIO_IOMMU_GET_INFO, &info) == 0 && (info.flags & VFIO_IOMMU_INFO_PGSIZES))
		c->iova_pgsizes = info.iova_pgsizes;
	/* Nothing is mapped yet: what is available is type1's limit. */
	if (vfio_dma_avail(c, &c->dma_limit))
		c->dma_limit = 0;
	return 0;
}

/* The index of group `id` in c, opened and attached when new. */
static int group_get(struct vfio_container *c, int id, const char *bdf, char *err, size_t errlen)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX];
	unsigned int i;
	int fd, r;

	for (i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].id == id) {
			c->groups[i].refs++;
			return (int)i;
		}
	}
	if (c->nr_groups >= VFIO_MAX_GROUPS)
		return vfio_err(err, errlen, -ENOSPC, "a VM holds at most %d IOMMU groups",
				VFIO_MAX_GROUPS);
	if (vfio_pathf(path, "/dev/vfio/%d", id))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY)
		return vfio_err(err, errlen, -EBUSY, "IOMMU group %d of %s is in use (by another "
				"isle or VMM?)", id, bdf);
	if (fd < 0 && errno == ENOENT)
		return vfio_err(err, errlen, -ENOENT, "%s does not exist: is %s bound to vfio-pci?",
				path, bdf);
	if (fd < 0)
		return vfio_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		r = vfio_err(err, errlen, -errno, "%s: VFIO_GROUP_GET_STATUS: %s", path,
			     strerror(errno));
		goto fail;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		r = vfio_err(err, errlen, -EBUSY, "IOMMU group %d is not viable: bind every device "
			     "in it to vfio-pci (isle pci-assignable-add)", id);
		goto fail;
	}
	if (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) {
		r = vfio_err(err, errlen, -EBUSY, "IOMMU group %d already has a container", id);
		goto fail;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &c->fd) < 0) {
		r = vfio_err(err, errlen, -errno, "IOMMU group %d: VFIO_GROUP_SET_CONTAINER: %s", id,
			     strerror(errno));
		goto fail;
	}
	/* The first group in: the container gets its IOMMU model. */
	if (!c->nr_groups && (r = container_set_iommu(c, err, errlen)) < 0)
		goto fail;
	c->groups[c->nr_groups] = (struct vfio_group){ .fd = fd, .id = id, .refs = 1 };
	return (int)c->nr_groups++;
fail:
	close(fd);     /* also detaches it from the container */
	return r;
}

static void group_put(struct vfio_container *c, int id)
{
	for (unsigned int i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].id != id)
			continue;
		if (--c->groups[i].refs)
			return;
		close(c->groups[i].fd);
		c->groups[i] = c->groups[--c->nr_groups];
		if (c->nr_groups == 0) {
			/* The last group leaving releases the IOMMU and its mappings. */
			c->nr_maps = 0;
			c->mapped_bytes = 0;
			c->iova_pgsizes = 0;
		}
		return;
	}
}

int vfio_cap_find(const void *buf, size_t len, size_t min_off, uint32_t first, uint16_t id,
		  size_t cap_size, size_t *at)
{
	struct vfio_info_cap_header h;
	uint64_t off = first, prev = 0;

	for (unsigned int n = 0; off; n++) {
		if (n >= VFIO_CAP_WALK || off < min_off || (n && off <= prev) ||
		    !range_ok(off, sizeof(h), len))
			return -EINVAL;
		memcpy(&h, (const uint8_t *)buf + off, sizeof(h));
		if (h.id == id) {
			if (!range_ok(off, cap_size, len))
				return -EINVAL;
			*at = (size_t)off;
			return 0;
		}
		prev = off;
		off = h.next;
	}
	return -ENOENT;
}

int vfio_region_parse(struct vfio_region *r, const void *buf, size_t len)
{
	struct vfio_region_info_cap_sparse_mmap cap;
	struct vfio_region_sparse_mmap_area a;
	struct vfio_region_info info;
	size_t at;
	int rc;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(info))
		return -EINVAL;
	memcpy(&info, buf, sizeof(info));
	r->index = info.index;
	r->flags = info.flags;
	r->size = info.size;
	r->offset = info.offset;
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP) || info.size == 0)
		return 0;
	if ((info.flags & VFIO_REGION_INFO_FLAG_CAPS) && info.cap_offset) {
		rc = vfio_cap_find(buf, len, sizeof(info), info.cap_offset,
				   VFIO_REGION_INFO_CAP_SPARSE_MMAP, sizeof(cap), &at);
		if (rc == -EINVAL)
			return rc;
		if (rc == 0) {
			memcpy(&cap, (const uint8_t *)buf + at, sizeof(cap));
			if ((uint64_t)cap.nr_areas * sizeof(a) > len - at - sizeof(cap))
				return -EINVAL;
			for (uint32_t i = 0; i < cap.nr_areas && r->nr_areas < VFIO_MAX_SPARSE; i++) {
				memcpy(&a, (const uint8_t *)buf + at + sizeof(cap) + i * sizeof(a),
				       sizeof(a));
				if (a.size == 0 || a.offset >= info.size || a.offset + a.size < a.offset)
					continue;
				r->areas[r->nr_areas++] = (struct vfio_area){
					.offset = a.offset,
					.size = MIN(a.size, info.size - a.offset),
				};
			}
			return 0;
		}
	}
	r->nr_areas = 1;
	r->areas[0] = (struct vfio_area){ .offset = 0, .size = info.size };
	return 0;
}

/* VFIO_DEVICE_GET_REGION_INFO, growing argsz for the capability chain. */
static int region_read_info(struct vfio_device *d, uint32_t index, char *err, size_t errlen)
{
	struct vfio_region_info *info = NULL;
	size_t size = sizeof(*info), alloc = 0;
	int r = 0;

	for (int tries = 0; tries < 3; tries++) {
		void *p = realloc(info, size);
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		info = p;
		alloc = size;
		memset(info, 0, size);
		info->argsz = (uint32_t)size;
		info->index = index;
		if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, info) < 0) {
			r = -errno;
			if (r == -EINVAL) {      /* e.g. the VGA region of a non-VGA device */
				memset(&d->regions[index], 0, sizeof(d->regions[index]));
				d->regions[index].index = index;
				r = 0;
			} else {
				vfio_err(err, errlen, r, "%s: region %u info: %s", d->bdf, index,
					 strerror(-r));
			}
			goto out;
		}
		if (info->argsz <= size)
			break;
		if (info->argsz > VFIO_INFO_MAX) {
			r = vfio_err(err, errlen, -EIO, "%s: region %u info of %u bytes", d->bdf,
				     index, info->argsz);
			goto out;
		}
		size = info->argsz;
	}
	/* Still growing after the retries: only what was filled is parsed. */
	if (vfio_region_parse(&d->regions[index], info, MIN(alloc, (size_t)info->argsz)) < 0)
		r = vfio_err(err, errlen, -EIO, "%s: region %u: malformed capability chain",
			     d->bdf, index);
	d->regions[index].index = index;
out:
	free(info);
	return r;
}

static int device_read_infos(struct vfio_device *d, char *err, size_t errlen)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int r;

	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info) < 0)
		return vfio_err(err, errlen, -errno, "%s: VFIO_DEVICE_GET_INFO: %s", d->bdf,
				strerror(errno));
	d->flags = info.flags;
	d->nr_regions = MIN(info.num_regions, (uint32_t)VFIO_PCI_NUM_REGIONS);
	d->nr_irqs = MIN(info.num_irqs, (uint32_t)VFIO_PCI_NUM_IRQS);
	for (uint32_t i = 0; i < d->nr_regions; i++)
		if ((r = region_read_info(d, i, err, errlen)) < 0)
			return r;
	for (uint32_t i = 0; i < d->nr_irqs; i++) {
		struct vfio_irq_info *irq = &d->irqs[i];
		*irq = (struct vfio_irq_info){ .argsz = sizeof(*irq), .index = i };
		if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, irq) < 0) {
			if (errno != EINVAL)
				return vfio_err(err, errlen, -errno, "%s: irq %u info: %s", d->bdf, i,
						strerror(errno));
			*irq = (struct vfio_irq_info){ .argsz = sizeof(*irq), .index = i };
		}
		irq->index = i;
	}
	return 0;
}

int vfio_device_open(struct vfio_container *c, const char *sysfs, const char *bdf,
		     struct vfio_device *d, char *err, size_t errlen)
{
	char drv[VFIO_NAME_MAX];
	int group, r;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->group_id = -1;
	if ((r = vfio_lookup(sysfs, bdf, d->bdf, drv, err, errlen)))
		return r;
	if (strcmp(drv, "vfio-pci"))
		return vfio_err(err, errlen, -EBUSY, "%s is bound to %s, not vfio-pci: run `isle "
				"pci-assignable-add %s`", d->bdf, drv[0] ? drv : "no driver", d->bdf);
	group = vfio_device_group(sysfs, d->bdf, err, errlen);
	if (group < 0)
		return group;
	if ((r = vfio_group_viable(sysfs, group, err, errlen)) < 0)
		return r;
	if (!c || c->fd < 0)
		return vfio_err(err, errlen, -EBADF, "the VFIO container is not open");
	if ((r = group_get(c, group, d->bdf, err, errlen)) < 0)
		return r;
	d->c = c;
	d->group_id = group;
	d->fd = ioctl(c->groups[r].fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->fd < 0) {
		if (errno == EBUSY)
			r = vfio_err(err, errlen, -EBUSY, "%s is in use (by another isle or VMM?)",
				     d->bdf);
		else
			r = vfio_err(err, errlen, -errno, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", d->bdf,
				     strerror(errno));
		goto fail;
	}
	fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	if ((r = device_read_infos(d, err, errlen)) < 0)
		goto fail;
	return 0;
fail:
	vfio_device_close(d);
	return r;
}

void vfio_device_close(struct vfio_device *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->c && d->group_id >= 0)
		group_put(d->c, d->group_id);
	d->c = NULL;
	d->group_id = -1;
}

/* The region when [off, off+len) lies inside it and its file offset fits. */
static const struct vfio_region *region_at(const struct vfio_device *d, unsigned int index,
					   uint64_t off, uint64_t len)
{
	const struct vfio_region *r;

	if (index >= d->nr_regions || index >= VFIO_PCI_NUM_REGIONS)
		return NULL;
	r = &d->regions[index];
	if (!r->size || !range_ok(off, len, r->size) || r->offset > (uint64_t)INT64_MAX - off ||
	    r->offset + off > (uint64_t)INT64_MAX - len)
		return NULL;
	return r;
}

static int region_rw(const struct vfio_device *d, unsigned int index, uint64_t off, void *buf,
		     size_t len, bool write)
{
	const struct vfio_region *r = region_at(d, index, off, len);
	ssize_t n;

	if (!r || !(r->flags & (write ? VFIO_REGION_INFO_FLAG_WRITE : VFIO_REGION_INFO_FLAG_READ)))
		return -EINVAL;
	if (d->fd < 0)
		return -EBADF;
	do {
		n = write ? pwrite(d->fd, buf, len, (off_t)(r->offset + off))
			  : pread(d->fd, buf, len, (off_t)(r->offset + off));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int vfio_region_read(const struct vfio_device *d, unsigned int index, uint64_t off,
		     void *buf, size_t len)
{
	return region_rw(d, index, off, buf, len, false);
}

int vfio_region_write(const struct vfio_device *d, unsigned int index, uint64_t off,
		      const void *buf, size_t len)
{
	return region_rw(d, index, off, (void *)buf, len, true);
}

void *vfio_region_mmap(const struct vfio_device *d, unsigned int index, uint64_t off,
		       uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	const struct vfio_region *r = region_at(d, index, off, len);
	int prot = 0;

	if (!r || !len || off % page || len % page || len > SIZE_MAX || d->fd < 0)
		goto inval;
	for (unsigned int i = 0; i < r->nr_areas && i < VFIO_MAX_SPARSE; i++) {
		const struct vfio_area *a = &r->areas[i];
		if (off < a->offset || !range_ok(off - a->offset, len, a->size))
			continue;
		if (r->flags & VFIO_REGION_INFO_FLAG_READ)
			prot |= PROT_READ;
		if (r->flags & VFIO_REGION_INFO_FLAG_WRITE)
			prot |= PROT_WRITE;
		return mmap(NULL, (size_t)len, prot, MAP_SHARED, d->fd, (off_t)(r->offset + off));
	}
inval:
	errno = EINVAL;
	return MAP_FAILED;
}

/* One VFIO_DEVICE_SET_IRQS with `count` 32-bit data words (or none). */
static int irq_set(const struct vfio_device *d, unsigned int index, uint32_t flags,
		   unsigned int start, unsigned int count, const int32_t *data)
{
	size_t dlen = data ? (size_t)count * sizeof(int32_t) : 0;
	struct vfio_irq_set *s;
	int r = 0;

	if (d->fd < 0)
		return -EBADF;
	s = calloc(1, sizeof(*s) + dlen);
	if (!s)
		return -ENOMEM;
	*s = (struct vfio_irq_set){ .argsz = (uint32_t)(sizeof(*s) + dlen), .flags = flags,
				    .index = index, .start = start, .count = count };
	if (dlen)
		memcpy(s->data, data, dlen);
	if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s) < 0)
		r = -errno;
	free(s);
	return r;
}

/* VFIO's eventfd arrays are int32_t: an int is that here. */
_Static_assert(sizeof(int) == sizeof(int32_t), "int is not 32 bits");

int vfio_irq_set_eventfds(const struct vfio_device *d, unsigned int index, unsigned int start,
			  unsigned int n, const int *fds)
{
	if (index >= d->nr_irqs || index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	if (n == 0)
		return irq_set(d, index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
			       NULL);
	if (!fds || n > 2048 || start > d->irqs[index].count || n > d->irqs[index].count - start)
		return -EINVAL;
	return irq_set(d, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, start,
		       n, (const int32_t *)fds);
}

int vfio_irq_set_unmask_eventfd(const struct vfio_device *d, unsigned int index, int fd)
{
	int32_t v = fd;

	if (index >= d->nr_irqs || index >= VFIO_PCI_NUM_IRQS || !d->irqs[index].count)
		return -EINVAL;
	return irq_set(d, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &v);
}

int vfio_irq_mask(const struct vfio_device *d, unsigned int index, bool mask)
{
	if (index >= d->nr_irqs || index >= VFIO_PCI_NUM_IRQS || !d->irqs[index].count)
		return -EINVAL;
	return irq_set(d, index, VFIO_IRQ_SET_DATA_NONE |
		       (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK), 0, 1, NULL);
}

/* A bus or slot reset through VFIO_DEVICE_PCI_HOT_RESET: every affected
 * function must be in a group the container holds. */
static int hot_reset(struct vfio_device *d, char *err, size_t errlen)
{
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *rst = NULL;
	struct vfio_container *c = d->c;
	uint32_t count = 0;
	int r = 0;

	info = calloc(1, sizeof(*info) + HOT_RESET_MAX * sizeof(info->devices[0]));
	if (!info)
		return -ENOMEM;
	info->argsz = sizeof(*info) + HOT_RESET_MAX * sizeof(info->devices[0]);
	if (ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info) < 0) {
		if (errno == ENOSPC)
			r = vfio_err(err, errlen, -EIO, "%s: a hot reset affects more than %d "
				     "functions", d->bdf, HOT_RESET_MAX);
		else if (errno == ENODEV || errno == ENOTTY || errno == EINVAL)
			r = vfio_err(err, errlen, -ENOTTY, "%s can be reset neither by itself "
				     "(FLR, PM) nor by a bus or slot reset", d->bdf);
		else
			r = vfio_err(err, errlen, -errno, "%s: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: %s",
				     d->bdf, strerror(errno));
		goto out;
	}
	count = MIN(info->count, (uint32_t)HOT_RESET_MAX);
	for (uint32_t i = 0; i < count; i++) {
		const struct vfio_pci_dependent_device *dep = &info->devices[i];
		bool held = false;
		for (unsigned int g = 0; g < c->nr_groups; g++)
			held |= c->groups[g].id >= 0 && (uint32_t)c->groups[g].id == dep->group_id;
		if (!held) {
			r = vfio_err(err, errlen, -EPERM, "%s: a hot reset also resets "
				     "%04x:%02x:%02x.%x (IOMMU group %u), which this VM does not "
				     "hold: assign it too", d->bdf, dep->segment, dep->bus,
				     dep->devfn >> 3, dep->devfn & 7, dep->group_id);
			goto out;
		}
	}
	rst = calloc(1, sizeof(*rst) + c->nr_groups * sizeof(rst->group_fds[0]));
	if (!rst) {
		r = -ENOMEM;
		goto out;
	}
	rst->argsz = (uint32_t)(sizeof(*rst) + c->nr_groups * sizeof(rst->group_fds[0]));
	rst->count = c->nr_groups;
	for (unsigned int g = 0; g < c->nr_groups; g++)
		rst->group_fds[g] = c->groups[g].fd;
	if (ioctl(d->fd, VFIO_DEVICE_PCI_HOT_RESET, rst) < 0)
		r = vfio_err(err, errlen, -errno, "%s: VFIO_DEVICE_PCI_HOT_RESET: %s", d->bdf,
			     strerror(errno));
out:
	free(rst);
	free(info);
	return r;
}

int vfio_device_reset(struct vfio_device *d, char *err, size_t errlen)
{
	if (d->fd < 0 || !d->c)
		return vfio_err(err, errlen, -EBADF, "%s is not open", d->bdf);
	if (d->flags & VFIO_DEVICE_FLAGS_RESET) {
		if (ioctl(d->fd, VFIO_DEVICE_RESET) < 0)
			return vfio_err(err, errlen, -errno, "%s: VFIO_DEVICE_RESET: %s", d->bdf,
					strerror(errno));
		return 0;
	}
	return hot_reset(d, err, errlen);
}

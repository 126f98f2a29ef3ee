/* vfio-glue DMA (contract in vfio.h): VFIO_IOMMU_MAP_DMA / UNMAP_DMA on
 * the container with the mapping count and pinned bytes kept in it, and
 * the RLIMIT_MEMLOCK checks and messages around pinning.
 *
 * nr_maps is checked against VFIO_TYPE1_DMA_LIMIT before the ioctl, so a
 * VM that would pass type1's dma_entry_limit gets -ENOSPC and a message
 * rather than the kernel's bare ENOSPC. An unmap may remove several
 * mappings; the count then comes from type1's DMA_AVAIL capability
 * (Linux 5.10+), measured around the unmap. Not thread-safe: the caller
 * serializes the calls on one container. */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isle/util.h"
#include "vfio_internal.h"

#define MIB_UP(x) ((unsigned long long)(((x) + MiB - 1) / MiB))

/* The memory this process has locked (VmLck, where type1 accounts the
 * pages it pins): bytes, or 0 when unknown. */
static uint64_t locked_bytes(void)
{
	char buf[4096], *p;
	unsigned long long kib;

	if (vfio_read_small("/proc/self/status", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "\nVmLck:");
	if (!p || sscanf(p + 7, "%llu", &kib) != 1 || kib > UINT64_MAX / KiB)
		return 0;
	return kib * KiB;
}

static uint64_t memlock_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return rl.rlim_cur;
}

int vfio_dma_map(struct vfio_container *c, uint64_t iova, uint64_t size, void *hva,
		 bool writable, char *err, size_t errlen)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uint64_t)(uintptr_t)hva,
		.iova = iova,
		.size = size,
	};
	uint64_t limit;

	if (size == 0 || iova + size - 1 < iova)
		return vfio_err(err, errlen, -EINVAL, "DMA mapping of %#llx bytes at iova %#llx",
				(unsigned long long)size, (unsigned long long)iova);
	if (c->nr_maps + 1 > vfio_dma_limit(c))
		return vfio_err(err, errlen, -ENOSPC, "the VM has %llu VFIO DMA mappings, type1's "
				"limit is %u (raise dma_entry_limit of vfio_iommu_type1, or give the "
				"guest fewer, larger mappings)", (unsigned long long)c->nr_maps,
				vfio_dma_limit(c));
	if (c->fd < 0)
		return vfio_err(err, errlen, -EBADF, "the VFIO container is not open");
	if (ioctl(c->fd, VFIO_IOMMU_MAP_DMA, &map) == 0) {
		c->nr_maps++;
		c->mapped_bytes += size;
		return 0;
	}
	switch (errno) {
	case ENOMEM:
		limit = memlock_limit();
		return vfio_err(err, errlen, -ENOMEM, "VFIO cannot pin %llu MiB more for DMA: %llu "
				"MiB locked, RLIMIT_MEMLOCK is %llu MiB (raise it: ulimit -l, or "
				"LimitMEMLOCK= in a systemd unit)", MIB_UP(size),
				(unsigned long long)(locked_bytes() / MiB),
				(unsigned long long)(limit == UINT64_MAX ? 0 : limit / MiB));
	case ENOSPC:
		return vfio_err(err, errlen, -ENOSPC, "type1 refused DMA mapping %llu: its "
				"dma_entry_limit is reached", (unsigned long long)c->nr_maps + 1);
	case EEXIST:
		return vfio_err(err, errlen, -EEXIST, "iova %#llx+%#llx overlaps a DMA mapping",
				(unsigned long long)iova, (unsigned long long)size);
	default:
		return vfio_err(err, errlen, -errno, "VFIO_IOMMU_MAP_DMA iova %#llx+%#llx: %s",
				(unsigned long long)iova, (unsigned long long)size,
				strerror(errno));
	}
}

/* type1's count of DMA mappings still available: 0, or -errno. */
int vfio_dma_avail(const struct vfio_container *c, uint32_t *avail)
{
	struct vfio_iommu_type1_info_dma_avail cap;
	struct vfio_iommu_type1_info *info;
	size_t size = 512, at;
	int r = -ENOENT;

	info = calloc(1, size);
	if (!info)
		return -ENOMEM;
	info->argsz = (uint32_t)size;
	if (ioctl(c->fd, VFIO_IOMMU_GET_INFO, info) < 0) {
		r = -errno;
	} else if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset &&
		   vfio_cap_find(info, MIN(size, (size_t)info->argsz), sizeof(*info),
				 info->cap_offset, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, sizeof(cap),
				 &at) == 0) {
		memcpy(&cap, (uint8_t *)info + at, sizeof(cap));
		*avail = cap.avail;
		r = 0;
	}
	free(info);
	return r;
}

int vfio_dma_unmap(struct vfio_container *c, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova,
						    .size = size };
	uint32_t after;

	if (unmapped)
		*unmapped = 0;
	if (size == 0 || iova + size - 1 < iova)
		return -EINVAL;
	if (c->fd < 0)
		return -EBADF;
	if (ioctl(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		return -errno;
	if (unmapped)
		*unmapped = unmap.size;
	if (!unmap.size)
		return 0;
	c->mapped_bytes -= MIN(c->mapped_bytes, (uint64_t)unmap.size);
	if (!c->mapped_bytes)
		c->nr_maps = 0;
	else if (c->dma_limit && vfio_dma_avail(c, &after) == 0 && after <= c->dma_limit)
		c->nr_maps = c->dma_limit - after;   /* however many one unmap removed */
	else if (c->nr_maps)
		c->nr_maps--;   /* no DMA_AVAIL: at least one went */
	return 0;
}

int vfio_memlock_judge(uint64_t need, bool cap_ipc_lock, uint64_t limit, char *err,
		       size_t errlen)
{
	if (cap_ipc_lock || limit == UINT64_MAX || need <= limit)
		return 0;
	return vfio_err(err, errlen, -ENOMEM, "assigning a device pins all guest memory: %llu MiB "
			"needed, RLIMIT_MEMLOCK is %llu MiB (raise it: ulimit -l %llu, or "
			"LimitMEMLOCK= in a systemd unit)", MIB_UP(need),
			(unsigned long long)(limit / MiB), (unsigned long long)((need + KiB - 1) / KiB));
}

static bool has_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}

int vfio_memlock_check(uint64_t need, char *err, size_t errlen)
{
	return vfio_memlock_judge(need, has_cap_ipc_lock(), memlock_limit(), err, errlen);
}

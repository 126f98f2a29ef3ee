/* vfio-glue: host PCI functions through Linux VFIO's legacy container/group
 * API (the Debian kernels isle runs on have no IOMMUFD), as a library with a
 * narrow interface. It knows nothing of KVM or of isle's PCI bus: the VMM's
 * device model (vmm/devices/vfio_pci.c) calls it.
 *
 *  - One struct vfio_container per VM (/dev/vfio/vfio, type1v2 IOMMU set
 *    when the first group joins). Every DMA mapping of the VM goes through
 *    vfio_dma_map/unmap, which count the mappings against type1's
 *    dma_entry_limit (read then; 65535 by default) and the bytes pinned.
 *  - Groups are opened on demand by vfio_device_open and shared by every
 *    function of the group the VM assigns (refcounted in the container).
 *    A group must be viable: every device in it bound to vfio-pci (or
 *    pci-stub) or to no driver at all, else -EBUSY and a message naming the
 *    device and its driver.
 *  - A struct vfio_device caches its regions (with the sparse-mmap areas of
 *    VFIO_REGION_INFO_CAP_SPARSE_MMAP) and interrupt infos.
 *
 * Errors come back as -errno plus one line in err (no prefix, no newline):
 * what failed and, where the user can act, what to do. The sysfs root is a
 * parameter ("/sys" in production) so tests run against a fake tree. */
#ifndef ISLE_VFIO_GLUE_VFIO_H
#define ISLE_VFIO_GLUE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/vfio.h>

#define VFIO_BDF_MAX         16        /* "DDDD:BB:DD.F" plus NUL */
#define VFIO_MAX_GROUPS      32
#define VFIO_MAX_SPARSE      16        /* mmap areas kept per region */
#define VFIO_TYPE1_DMA_LIMIT 65535u    /* vfio_iommu_type1's default dma_entry_limit */

struct vfio_group {
	int fd;                  /* /dev/vfio/N */
	int id;                  /* N */
	unsigned int refs;       /* devices of this VM open in it */
};

struct vfio_container {
	int fd;                  /* /dev/vfio/vfio, -1 until opened */
	uint32_t dma_limit;      /* type1's dma_entry_limit, read when the IOMMU is set
				  * (0: unknown, VFIO_TYPE1_DMA_LIMIT assumed) */
	struct vfio_group groups[VFIO_MAX_GROUPS];
	unsigned int nr_groups;
	uint64_t nr_maps;        /* live VFIO_IOMMU_MAP_DMA mappings */
	uint64_t mapped_bytes;   /* and the bytes they pin */
	uint64_t iova_pgsizes;   /* from VFIO_IOMMU_GET_INFO, 0 if unknown */
};

/* The mappings type1 takes in c: its dma_entry_limit when read, else the
 * default. */
static inline uint32_t vfio_dma_limit(const struct vfio_container *c)
{
	return c->dma_limit ? c->dma_limit : VFIO_TYPE1_DMA_LIMIT;
}

struct vfio_area {
	uint64_t offset, size;   /* inside the region */
};

struct vfio_region {
	uint32_t index;
	uint32_t flags;          /* VFIO_REGION_INFO_FLAG_{READ,WRITE,MMAP,CAPS} */
	uint64_t size;           /* 0: the region does not exist */
	uint64_t offset;         /* file offset on the device fd */
	/* mmappable areas: the whole region when MMAP without a sparse cap;
	 * the cap's areas (clipped to the region, at most VFIO_MAX_SPARSE)
	 * with it; none without MMAP. */
	unsigned int nr_areas;
	struct vfio_area areas[VFIO_MAX_SPARSE];
};

struct vfio_device {
	int fd;                  /* -1 when closed */
	char bdf[VFIO_BDF_MAX];  /* canonical "0000:00:03.0" */
	struct vfio_container *c;
	int group_id;
	uint32_t flags;          /* vfio_device_info.flags (VFIO_DEVICE_FLAGS_RESET, _PCI) */
	unsigned int nr_regions, nr_irqs;
	struct vfio_region regions[VFIO_PCI_NUM_REGIONS];     /* BAR0-5, ROM, CONFIG, VGA */
	struct vfio_irq_info irqs[VFIO_PCI_NUM_IRQS];        /* INTX, MSI, MSIX, ERR, REQ */
};

/* Canonical form of a host BDF "[DDDD:]BB:DD.F" (hex, domain 0 default):
 * writes "DDDD:BB:DD.F" to out (VFIO_BDF_MAX). 0 or -EINVAL. */
int vfio_bdf_canon(const char *in, char out[VFIO_BDF_MAX]);

int vfio_container_open(struct vfio_container *c, char *err, size_t errlen);
/* Closes every group and the container (devices must be closed first). */
void vfio_container_close(struct vfio_container *c);

/* Checks that IOMMU group `group` is viable (see above): 0, -EBUSY with the
 * offending device and driver in err, -ENOENT when the group is missing. */
int vfio_group_viable(const char *sysfs, int group, char *err, size_t errlen);
/* The IOMMU group of a host device: >= 0, -ENOENT (no such device: "no PCI
 * device 0000:00:09.0"), -ENODEV (no IOMMU group: "is the IOMMU on?"). */
int vfio_device_group(const char *sysfs, const char *bdf, char *err, size_t errlen);

/* Opens a host function for assignment: canonicalises bdf, checks it is
 * bound to vfio-pci (-EBUSY naming its driver otherwise), finds and checks
 * its group, opens the group (or shares it), attaches it to the container
 * (setting the IOMMU model on the first group), gets the device fd
 * (-EBUSY when another process has it: "in use by another VMM?") and reads
 * the device, region and irq infos. On failure nothing stays open. */
int vfio_device_open(struct vfio_container *c, const char *sysfs, const char *bdf,
		     struct vfio_device *d, char *err, size_t errlen);
void vfio_device_close(struct vfio_device *d);

/* Region accesses through the device fd, bounds-checked against the
 * region (-EINVAL outside it, -EIO on a short transfer). */
int vfio_region_read(const struct vfio_device *d, unsigned int index, uint64_t off,
		     void *buf, size_t len);
int vfio_region_write(const struct vfio_device *d, unsigned int index, uint64_t off,
		      const void *buf, size_t len);
/* mmaps [off, off+len) of a region (page aligned, inside one mmappable
 * area): the mapping or MAP_FAILED with errno set. */
void *vfio_region_mmap(const struct vfio_device *d, unsigned int index, uint64_t off,
		       uint64_t len);

/* Interrupts (VFIO_DEVICE_SET_IRQS). vfio_irq_set_eventfds binds fds[0..n)
 * to vectors start.. of irq index `index` (fd -1: that vector unbound);
 * n == 0 disables the index (DATA_NONE | ACTION_TRIGGER, count 0). */
int vfio_irq_set_eventfds(const struct vfio_device *d, unsigned int index, unsigned int start,
			  unsigned int n, const int *fds);
/* INTx: the eventfd whose write unmasks the line (KVM's resample fd). */
int vfio_irq_set_unmask_eventfd(const struct vfio_device *d, unsigned int index, int fd);
/* Masks / unmasks vector 0 of an index (INTx) by ioctl. */
int vfio_irq_mask(const struct vfio_device *d, unsigned int index, bool mask);

/* VFIO_DEVICE_RESET when the device offers it (-ENOTTY otherwise), else a
 * bus/slot hot reset (VFIO_DEVICE_PCI_HOT_RESET) when every function it
 * affects belongs to a group this container holds (-EPERM with the
 * function that does not, otherwise). 0 on success. */
int vfio_device_reset(struct vfio_device *d, char *err, size_t errlen);

/* DMA: maps [iova, iova+size) to hva with read (and write when writable)
 * permission. -ENOSPC when the mapping count would pass
 * VFIO_TYPE1_DMA_LIMIT, -ENOMEM on RLIMIT_MEMLOCK (err says how much is
 * locked, how much was asked and `ulimit -l` / LimitMEMLOCK), -errno. */
int vfio_dma_map(struct vfio_container *c, uint64_t iova, uint64_t size, void *hva,
		 bool writable, char *err, size_t errlen);
/* Unmaps every mapping inside [iova, iova+size) (type1 unmaps whole
 * mappings: a range that cuts one fails with -EINVAL). Returns 0 and the
 * bytes unmapped in *unmapped (may be NULL), or -errno. */
int vfio_dma_unmap(struct vfio_container *c, uint64_t iova, uint64_t size, uint64_t *unmapped);

/* Checks up front that `need` bytes can be locked (RLIMIT_MEMLOCK, unless
 * CAP_IPC_LOCK): 0, or -ENOMEM with "assigning a device pins all guest
 * memory: N MiB needed, RLIMIT_MEMLOCK is M MiB (raise it: ulimit -l ...,
 * or LimitMEMLOCK= in a systemd unit)" in err. */
int vfio_memlock_check(uint64_t need, char *err, size_t errlen);

#endif

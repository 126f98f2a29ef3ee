/* The emulated Intel VT-d in a VM (`isle run --iommu`): the host side of
 * the device model in iommu/ (which knows neither KVM nor the VMM).
 *
 * Owns:
 *  - the register page at LAYOUT_VTD (the DMAR table's DRHD base; vm.c
 *    builds the table when the VM has this device);
 *  - one DMA address space per requester id (vtd_dev_as), created on first
 *    use, whose translate() is vtd_translate() followed by the guest-RAM
 *    lookup; the model's invalidation notifier becomes dma_as_invalidate()
 *    on the address spaces concerned;
 *  - interrupt remapping: the GSI table's translate hook is
 *    vtd_ir_translate(), so every MSI, MSI-X vector and IOAPIC pin reaches
 *    KVM as its IRTE says; an interrupt-entry-cache invalidation re-runs it
 *    on every route (gsi_retranslate_all) from the IEC notifier, which the
 *    model calls without its lock and before a later wait descriptor
 *    completes, so a guest that waited for its IEC invalidation finds its
 *    routes already changed;
 *  - the fault event: the model's MSI goes straight to KVM (KVM_SIGNAL_MSI;
 *    fault events are not subject to remapping);
 *  - x2APIC: with KVM_CAP_X2APIC_API the unit offers EIM and KVM takes
 *    32-bit destinations from the remapped messages.
 *
 * Contract: a platform device, added before every PCI device and removed
 * after them (device_del_all goes newest first), so no device can hold an
 * address space that is gone. Guest input (registers, tables) is the
 * model's to check; the accessors here bound every guest-physical access
 * by gmem. Faults are recorded when a source is used: a DMA access, or an
 * MSI route being translated (when the guest unmasks or changes it, or
 * invalidates its IRTE), not per interrupt.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vtd.h"
#include "isle/dma.h"
#include "isle/log.h"
#include "isle/util.h"
#include "core/device.h"
#include "core/vm.h"
#include "devices/vtd_dev.h"

#define VTD_DEV_RIDS 65536u

struct vtd_as {
	struct dma_as as;
	struct vtd_dev *vd;
	uint16_t sid;
	struct vtd_as *next;               /* vd->list: every one made */
};

struct vtd_dev {
	struct vm *vm;
	struct vtd vtd;
	pthread_mutex_t as_lock;           /* creation of address spaces */
	struct vtd_as **as;                /* by requester id, lazily */
	/* The same ones in a list: a global invalidation (Linux's lazy
	 * flushes, often) walks the few that exist, not 64K slots. */
	struct vtd_as *list;
	uint64_t inval_events;             /* DMA invalidations announced */
};

/* --- the model's host ------------------------------------------------ */

static int vtd_dev_mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct vtd_dev *vd = o;

	return gmem_read(&vd->vm->gmem, gpa, buf, len);
}

static int vtd_dev_mem_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct vtd_dev *vd = o;

	return gmem_write(&vd->vm->gmem, gpa, buf, len);
}

static void vtd_dev_msi(void *o, uint64_t addr, uint32_t data)
{
	struct vtd_dev *vd = o;
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	if (ioctl(vd->vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_warn("vtd: fault event MSI %#llx/%#x: %s", (unsigned long long)addr, data,
			 strerror(errno));
}

/* --- DMA address spaces ---------------------------------------------- */

static int vtd_as_translate_perm(struct dma_as *as, uint64_t iova, uint64_t *len,
				 unsigned int access, void **hva, unsigned int *granted)
{
	struct vtd_as *a = as->priv;
	struct vtd_xlate x;
	uint64_t n = *len;
	void *p;
	int r;

	r = vtd_translate(&a->vd->vtd, a->sid, iova, access, &x);
	if (r) {
		*len = 0;
		return r;
	}
	/* Contiguous up to the end of the page it lies in (pass-through:
	 * the whole request), then as far as guest RAM is contiguous. */
	if (x.page_mask != UINT64_MAX)
		n = MIN(n, x.page_mask - (iova & x.page_mask) + 1);
	p = gmem_gpa_to_hva(&a->vd->vm->gmem, x.gpa, &n);
	if (!p || !n) {
		/* Mapped to something that is not RAM (MMIO, a hole): a
		 * device cannot reach it through isle. */
		*len = 0;
		return -EFAULT;
	}
	*len = n;
	*hva = p;
	*granted = x.perm;
	return 0;
}

static int vtd_as_translate(struct dma_as *as, uint64_t iova, uint64_t *len,
			    unsigned int access, void **hva)
{
	unsigned int granted;

	return vtd_as_translate_perm(as, iova, len, access, hva, &granted);
}

static bool vtd_as_identity(struct dma_as *as)
{
	struct vtd_as *a = as->priv;

	return vtd_identity(&a->vd->vtd, a->sid);
}

struct vtd_as_walk {
	const struct gmem *gm;
	dma_walk_fn fn;
	void *opaque;
};

/* A leaf of the guest's tables: its RAM parts, as host runs. */
static int vtd_as_walk_leaf(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size,
			    unsigned int perm)
{
	struct vtd_as_walk *w = opaque;

	while (size) {
		uint64_t n = size;
		void *p = gmem_gpa_to_hva(w->gm, gpa, &n);
		int r;

		if (!p || !n)
			return 0;   /* MMIO or a hole: nothing a host IOMMU can map */
		r = w->fn(w->opaque, iova, p, n, perm);
		if (r)
			return r;
		iova += n;
		gpa += n;
		size -= n;
	}
	return 0;
}

static int vtd_as_walk(struct dma_as *as, uint64_t iova, uint64_t len, dma_walk_fn fn,
		       void *opaque)
{
	struct vtd_as *a = as->priv;
	struct vtd_as_walk w = { .gm = &a->vd->vm->gmem, .fn = fn, .opaque = opaque };

	return vtd_walk(&a->vd->vtd, a->sid, iova, len, vtd_as_walk_leaf, &w);
}

static const struct dma_as_ops vtd_as_ops = {
	.name = "vtd",
	.translate = vtd_as_translate,
	.translate_perm = vtd_as_translate_perm,
	.identity = vtd_as_identity,
	.walk = vtd_as_walk,
};

struct dma_as *vtd_dev_as(struct vtd_dev *vd, uint16_t rid)
{
	struct vtd_as *a;

	pthread_mutex_lock(&vd->as_lock);
	a = vd->as[rid];
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (a) {
			a->vd = vd;
			a->sid = rid;
			dma_as_init(&a->as, &vtd_as_ops, a);
			vd->as[rid] = a;
			a->next = vd->list;
			vd->list = a;
		}
	}
	pthread_mutex_unlock(&vd->as_lock);
	return a ? &a->as : NULL;
}

/* Tell the users of the address spaces concerned
 * (virtqueues caching ring pointers) to drop what they hold. did is not
 * looked at: invalidating more than needed is always correct. */
static void vtd_dev_inval(void *opaque, int sid, int did, uint64_t iova, uint64_t len)
{
	struct vtd_dev *vd = opaque;

	(void)did;
	vd->inval_events++;
	pthread_mutex_lock(&vd->as_lock);
	if (sid != VTD_ALL) {
		if (sid >= 0 && sid < (int)VTD_DEV_RIDS && vd->as[sid])
			dma_as_invalidate(&vd->as[sid]->as, iova, len);
	} else {
		for (struct vtd_as *a = vd->list; a; a = a->next)
			dma_as_invalidate(&a->as, iova, len);
	}
	pthread_mutex_unlock(&vd->as_lock);
}

/* --- interrupt remapping --------------------------------------------- */

static int vtd_dev_ir(void *opaque, uint16_t rid, const struct msi_msg *in, struct msi_msg *out)
{
	struct vtd_dev *vd = opaque;

	return vtd_ir_translate(&vd->vtd, rid, in->addr, in->data, &out->addr, &out->data);
}

/* Routes are not indexed by IRTE (a message names its IRTE only through
 * the guest's tables), so every route is translated again. */
static void vtd_dev_iec(void *opaque, unsigned int index, unsigned int count)
{
	struct vtd_dev *vd = opaque;
	int r;

	(void)index;
	(void)count;
	r = gsi_retranslate_all(&vd->vm->gsi);
	if (r)
		log_warn("vtd: re-translating interrupt routes: %s", strerror(-r));
}

/* --- registers --------------------------------------------------------- */

static void vtd_dev_mmio(void *opaque, uint64_t offset, void *data, unsigned int len,
			 bool is_write)
{
	struct vtd_dev *vd = opaque;
	uint64_t v = 0;

	if (!is_write) {
		v = vtd_mmio_read(&vd->vtd, offset, len);
		memcpy(data, &v, MIN(len, sizeof(v)));
		return;
	}
	memcpy(&v, data, MIN(len, sizeof(v)));
	vtd_mmio_write(&vd->vtd, offset, v, len);
}

/* --- the device type --------------------------------------------------- */

static bool vtd_dev_x2apic_api(struct vm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X2APIC_API,
		.args = { KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK },
	};

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X2APIC_API) <= 0)
		return false;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		log_warn("vtd: KVM_CAP_X2APIC_API: %s; no EIM", strerror(errno));
		return false;
	}
	return true;
}

static void vtd_dev_unrealize(struct device *dev);

static int vtd_dev_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	const struct vm_iommu *io = &vm->cfg->iommu;
	struct vtd_dev *vd = calloc(1, sizeof(*vd));
	struct vtd_config cfg = {
		.aw_bits = io->aw_bits ? io->aw_bits : 48,
		/* An assigned function's container follows the guest's mappings
		 * only if the guest reports maps too (vfio_pci_dma.c). */
		.caching_mode = io->caching_mode || vm_config_count(vm->cfg, DEVICE_PCI),
		.nr_frcd = 8,
	};
	struct vtd_host host = {
		.mem_read = vtd_dev_mem_read,
		.mem_write = vtd_dev_mem_write,
		.msi = vtd_dev_msi,
	};
	int r;

	if (!vd)
		return -ENOMEM;
	vd->as = calloc(VTD_DEV_RIDS, sizeof(*vd->as));
	if (!vd->as) {
		free(vd);
		return -ENOMEM;
	}
	pthread_mutex_init(&vd->as_lock, NULL);
	vd->vm = vm;
	host.opaque = vd;
	cfg.eim = vtd_dev_x2apic_api(vm);
	r = vtd_init(&vd->vtd, &cfg, &host);
	if (r) {
		pthread_mutex_destroy(&vd->as_lock);
		free(vd->as);
		free(vd);
		return r;
	}
	dev->priv = vd;
	vtd_set_notifier(&vd->vtd, vtd_dev_inval, vd);
	vtd_set_iec_notifier(&vd->vtd, vtd_dev_iec, vd);
	r = bus_register(&vm->mmio, LAYOUT_VTD, LAYOUT_VTD_SIZE, vtd_dev_mmio, vd, "vtd");
	if (!r)
		r = gsi_set_translate(&vm->gsi, vtd_dev_ir, vd);
	if (r) {
		log_error("vtd: %s", strerror(-r));
		vtd_dev_unrealize(dev);
		return r;
	}
	vm->vtd = vd;
	log_info("vtd: remapping unit at %#llx: %u-bit, %s, interrupt remapping%s%s",
		 (unsigned long long)LAYOUT_VTD, cfg.aw_bits,
		 cfg.aw_bits == 48 ? "3- and 4-level tables" : "3-level tables",
		 cfg.eim ? ", x2APIC (EIM)" : "", cfg.caching_mode ? ", caching mode" : "");
	return 0;
}

static void vtd_dev_unrealize(struct device *dev)
{
	struct vtd_dev *vd = dev->priv;
	struct vm *vm = dev->vm;

	if (!vd)
		return;
	if (vm->vtd == vd) {
		gsi_set_translate(&vm->gsi, NULL, NULL);
		vm->vtd = NULL;
	}
	/* The register page stays on the bus: platform ranges leave with the
	 * VM, and this runs only at its teardown (or a failed realize, before
	 * any vCPU ran). */
	while (vd->list) {
		struct vtd_as *a = vd->list;

		vd->list = a->next;
		dma_as_destroy(&a->as);
		free(a);
	}
	vtd_destroy(&vd->vtd);
	pthread_mutex_destroy(&vd->as_lock);
	free(vd->as);
	free(vd);
	dev->priv = NULL;
}

void vtd_dev_stats(const struct vtd_dev *vd, struct vtd_dev_counters *c)
{
	c->iotlb_hits = vd->vtd.iotlb_hits;
	c->iotlb_misses = vd->vtd.iotlb_misses;
	c->qi_descs = vd->vtd.qi_descs;
	c->inval_events = vd->inval_events;
}

const struct device_type vtd_type = {
	.name = "intel-iommu",
	.id_prefix = "vtd",
	.kind = DEVICE_VTD,
	.platform = true,
	.realize = vtd_dev_realize,
	.unrealize = vtd_dev_unrealize,
};

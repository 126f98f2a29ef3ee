/* An assigned host PCI function (owner: vfio_pci.c; device type "pci",
 * `isle run --pci BDF`): the device type, its BARs and its lifetime. Config
 * space is vfio_pci_cfg.c's, interrupts vfio_pci_irq.c's, DMA vfio_pci_dma.c's;
 * the host side (VFIO container, group, device) is vfio-glue's.
 *
 * BARs: each BAR the guest sees has the device's size (memory BARs at least
 * a page, so they can be mapped) and type; 64-bit prefetchable ones go
 * above 4 GiB (pci.c). What VFIO lets us mmap (the whole region, or the
 * areas of VFIO_REGION_INFO_CAP_SPARSE_MMAP) becomes KVM memory slots at
 * the BAR's guest address, so the guest reaches the registers without an
 * exit; slots follow the BAR when the guest moves it. Only what cannot be
 * mapped traps: the pages of the MSI-X table and PBA (isle's, pci/msix.c)
 * and whatever VFIO does not allow to be mmapped (forwarded with pread and
 * pwrite on the device fd). When the MSI-X table shares a page with the
 * device's registers (its offset is not page aligned), the BAR is doubled
 * and the table and PBA the guest sees move into the new upper half, so
 * the registers stay mapped (QEMU's x-msix-relocation, done by default);
 * `msix_relocation=on|off` forces it either way. One log line per BAR says
 * what was chosen.
 *
 * Reset: VFIO_DEVICE_RESET (or a hot reset) at start, on the guest's FLR
 * and at teardown, so a function leaves isle as it came. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "isle/log.h"
#include "isle/util.h"
#include "assignable.h"
#include "core/device.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"
#include "virtio/balloon.h"

#define PAGE 4096ULL

void vfio_pci_bar_moved(struct pci_dev *dev, unsigned int b, uint64_t addr)
{
	struct vfio_pci *v = dev->opaque;
	struct vfio_bar *bar = &v->bars[b];

	for (unsigned int i = 0; i < bar->nr_maps; i++) {
		struct vfio_bar_map *m = &bar->maps[i];

		if (m->slot >= 0)
			vm_memslot_del(v->vm, m->slot);
		m->slot = -1;
		if (!addr)
			continue;
		m->slot = vm_memslot_add(v->vm, addr + m->off, m->size, m->hva);
		if (m->slot < 0)
			log_warn("%s: BAR%u at %#llx: no KVM slot for +%#llx (%s): trapped instead",
				 v->id, b, (unsigned long long)addr, (unsigned long long)m->off,
				 strerror(-m->slot));
	}
}

static void vfio_pci_bar_access(struct pci_dev *dev, unsigned int b, uint64_t offset,
				void *data, unsigned int len, bool is_write)
{
	struct vfio_pci *v = dev->opaque;
	int r = 0;

	if (v->has_msix && msix_bar_access(&v->msix, b, offset, data, len, is_write))
		return;
	if (!is_write)
		memset(data, 0, len);
	if (offset >= v->bars[b].hw_size || len > v->bars[b].hw_size - offset)
		return;   /* the relocated half, outside the table and PBA */
	if (b == PCI_ROM_BAR && is_write)
		return;
	r = is_write ? vfio_region_write(&v->vd, b, offset, data, len) :
		       vfio_region_read(&v->vd, b, offset, data, len);
	/* Once per function: a guest could otherwise flood the log. */
	if (r && !__atomic_exchange_n(&v->rw_warned, true, __ATOMIC_RELAXED))
		log_warn("%s: BAR%u %s at %#llx: %s (further errors not logged)", v->id, b,
			 is_write ? "write" : "read", (unsigned long long)offset, strerror(-r));
}

static const struct pci_dev_ops vfio_pci_ops = {
	.name = "vfio-pci",
	.bar_access = vfio_pci_bar_access,
	.config_write = vfio_cfg_write,
	.config_read = vfio_cfg_read,
	.bar_moved = vfio_pci_bar_moved,
};

/* Adds the mmappable parts of [lo, hi) of region b that are not trapped. */
static void bar_add_piece(struct vfio_pci *v, unsigned int b, uint64_t lo, uint64_t hi,
			  const uint64_t (*trap)[2], unsigned int ntrap)
{
	struct vfio_bar *bar = &v->bars[b];

	for (unsigned int t = 0; t < ntrap && lo < hi; t++) {
		if (trap[t][1] <= lo || trap[t][0] >= hi)
			continue;
		if (trap[t][0] > lo)
			bar_add_piece(v, b, lo, trap[t][0], trap + t + 1, ntrap - t - 1);
		lo = trap[t][1];
	}
	if (lo >= hi || bar->nr_maps == VFIO_PCI_MAX_MAPS)
		return;
	void *p = vfio_region_mmap(&v->vd, b, lo, hi - lo);

	if (p == MAP_FAILED) {
		log_warn("%s: BAR%u: mmap %#llx-%#llx: %s: trapped", v->id, b,
			 (unsigned long long)lo, (unsigned long long)hi, strerror(errno));
		return;
	}
	bar->maps[bar->nr_maps++] = (struct vfio_bar_map){ .off = lo, .size = hi - lo, .hva = p,
							   .slot = -1 };
}

static void bar_log(struct vfio_pci *v, unsigned int b, const char *type)
{
	const struct vfio_bar *bar = &v->bars[b];
	char line[512];
	int n;

	uint64_t sz = bar->size;
	const char *unit = sz >= (1ULL << 30) ? "GiB" : sz >= (1ULL << 20) ? "MiB" :
			   sz >= 1024 ? "KiB" : "bytes";

	n = snprintf(line, sizeof(line), "%s: %s%u: %llu %s %s", v->id, b == PCI_ROM_BAR ?
		     "ROM" : "BAR", b == PCI_ROM_BAR ? 0 : b,
		     (unsigned long long)(sz >= (1ULL << 30) ? sz >> 30 : sz >= (1ULL << 20) ?
					  sz >> 20 : sz >= 1024 ? sz >> 10 : sz), unit, type);
	if (bar->relocated)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ", MSI-X table relocated to %#x and PBA to %#x (trapped)",
			      v->msix_table_off, v->msix_pba_off);
	else if (v->has_msix && v->msix_bar == b)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ", MSI-X table at %#x and PBA at %#x (trapped pages)",
			      v->msix_table_off, v->msix_pba_off);
	if (!bar->nr_maps)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", all trapped");
	for (unsigned int i = 0; i < bar->nr_maps && n < (int)sizeof(line) - 40; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%#llx-%#llx",
			      i ? ", " : ", mmapped ", (unsigned long long)bar->maps[i].off,
			      (unsigned long long)(bar->maps[i].off + bar->maps[i].size));
	log_info("%s", line);
}

/* Whether the MSI-X table must move (see the top). The table and PBA
 * offset registers are 32 bits: a BAR of 2 GiB or more cannot grow a half
 * for them, so its table pages are trapped in place. */
static bool msix_relocate(const struct vfio_pci *v, uint64_t hw_size)
{
	if (hw_size >= (1ULL << 31))
		return false;
	if (v->reloc == VFIO_MSIX_RELOC_ALWAYS)
		return true;
	/* The guest's PBA lives in the table's BAR: one in another moves. */
	if (v->msix_hw_pba_bar != v->msix_bar)
		return true;
	if (v->reloc == VFIO_MSIX_RELOC_NEVER)
		return false;
	return v->msix_hw_table % PAGE != 0;
}

int vfio_bars_init(struct vfio_pci *v, char *err, size_t errlen)
{
	const char *knob = getenv("ISLE_VFIO_NO_MMAP");
	bool no_mmap = knob && !strcmp(knob, "1");

	for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
		const struct vfio_region *reg = &v->vd.regions[b];
		struct vfio_bar *bar = &v->bars[b];
		uint64_t trap[4][2];
		unsigned int ntrap = 0;
		enum pci_bar_type type = PCI_BAR_MEM32;
		bool pf = false;
		int r;

		if (!reg->size || b >= v->vd.nr_regions)
			continue;
		if (reg->size & (reg->size - 1)) {
			snprintf(err, errlen, "BAR%u: size %#llx is not a power of two", b,
				 (unsigned long long)reg->size);
			return -EINVAL;
		}
		bar->hw_size = reg->size;
		bar->size = MAX(reg->size, PAGE);
		if (b < PCI_NUM_BARS) {
			uint32_t hw = v->hw_bar[b];

			if (hw & PCI_BASE_ADDRESS_SPACE_IO) {
				type = PCI_BAR_IO;
				bar->size = reg->size;
			} else if ((hw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64) {
				type = PCI_BAR_MEM64;
			}
			pf = type != PCI_BAR_IO && (hw & PCI_BASE_ADDRESS_MEM_PREFETCH);
		}
		if (v->has_msix && v->msix_bar == b) {
			uint64_t tlen = (uint64_t)v->msix_nr * MSIX_ENTRY_SIZE;
			uint64_t plen = ALIGN_UP(v->msix_nr, 64u) / 8;

			if (v->msix_hw_pba_bar != v->msix_bar && reg->size >= (1ULL << 31)) {
				snprintf(err, errlen, "BAR%u: MSI-X PBA in another BAR of a BAR "
					 "too large to relocate into", b);
				return -ENOTSUP;
			}
			bar->relocated = msix_relocate(v, reg->size);
			if (bar->relocated) {
				uint64_t need = ALIGN_UP(tlen, PAGE) + ALIGN_UP(plen, PAGE);

				/* hw_size < 2 GiB and need <= 33 KiB: at most 4 GiB. */
				while (bar->size < reg->size + need)
					bar->size *= 2;
				v->msix_table_off = (uint32_t)ALIGN_UP(reg->size, PAGE);
				v->msix_pba_off = (uint32_t)(v->msix_table_off + ALIGN_UP(tlen, PAGE));
			} else {
				v->msix_table_off = v->msix_hw_table;
				v->msix_pba_off = v->msix_hw_pba;
				trap[ntrap][0] = ALIGN_DOWN(v->msix_hw_table, PAGE);
				trap[ntrap++][1] = ALIGN_UP(v->msix_hw_table + tlen, PAGE);
				trap[ntrap][0] = ALIGN_DOWN(v->msix_hw_pba, PAGE);
				trap[ntrap++][1] = ALIGN_UP(v->msix_hw_pba + plen, PAGE);
			}
		}
		r = b == PCI_ROM_BAR ? pci_dev_set_rom(&v->pci, MAX(bar->size, 2048ULL)) :
				       pci_dev_set_bar(&v->pci, b, type, bar->size, pf);
		if (r) {
			snprintf(err, errlen, "BAR%u (%#llx bytes): %s", b,
				 (unsigned long long)bar->size, strerror(-r));
			return r;
		}
		/* Mapped: memory BARs only (the ROM is read through VFIO, I/O
		 * ports always trap), and only what VFIO allows. bench/vfio
		 * traps everything (ISLE_VFIO_NO_MMAP=1, QEMU's x-no-mmap) to
		 * measure what the mapping saves. */
		if (type != PCI_BAR_IO && b != PCI_ROM_BAR && reg->size >= PAGE && !no_mmap) {
			for (unsigned int a = 0; a < reg->nr_areas; a++)
				bar_add_piece(v, b, ALIGN_UP(reg->areas[a].offset, PAGE),
					      ALIGN_DOWN(reg->areas[a].offset + reg->areas[a].size,
							 PAGE), (const uint64_t (*)[2])trap, ntrap);
		}
		bar_log(v, b, type == PCI_BAR_IO ? "I/O" : b == PCI_ROM_BAR ? "expansion ROM" :
			type == PCI_BAR_MEM64 ? (pf ? "64-bit prefetchable" : "64-bit") :
			(pf ? "32-bit prefetchable" : "32-bit"));
		if (type == PCI_BAR_MEM64)
			b++;   /* its upper half */
	}
	return 0;
}

void vfio_bars_fini(struct vfio_pci *v)
{
	for (unsigned int b = 0; b < PCI_NUM_REGIONS; b++) {
		struct vfio_bar *bar = &v->bars[b];

		for (unsigned int i = 0; i < bar->nr_maps; i++) {
			if (bar->maps[i].slot >= 0)
				vm_memslot_del(v->vm, bar->maps[i].slot);
			munmap(bar->maps[i].hva, bar->maps[i].size);
		}
		bar->nr_maps = 0;
	}
}

/* The assigned function a device instance is, or NULL. */
static struct vfio_pci *vfio_pci_of(const struct device *d)
{
	return d->type == &vfio_pci_type ? d->priv : NULL;
}

/* The guest slot: @VSLOT, or the one a sibling function already has. */
static int vfio_pci_place(struct vfio_pci *v, const struct vm_pci *spec)
{
	unsigned int fn = (unsigned int)(spec->host[11] - '0');

	if (spec->vslot >= 0)
		return pci_register_at(&v->vm->pci, &v->pci, (unsigned int)spec->vslot << 3 | fn);
	for (struct device *d = v->vm->devices.first; d; d = d->next) {
		struct vfio_pci *o = vfio_pci_of(d);

		if (o && o != v && !strncmp(o->vd.bdf, spec->host, 10) && o->pci.devfn)
			return pci_register_at(&v->vm->pci, &v->pci, o->pci.slot << 3 | fn);
	}
	return pci_register(&v->vm->pci, &v->pci);
}

/* seize=1: what `isle pci-assignable-add` does, first. */
static int vfio_pci_seize(const char *bdf, char *err, size_t errlen)
{
	struct pa_env env;
	struct pa_out out;
	int r;

	pa_env_host(&env);
	r = pa_add(&env, bdf, &out);
	if (r)
		snprintf(err, errlen, "seize=1: %.400s", out.msg);
	else if (out.warn[0])
		log_warn("pci %s: %s", bdf, out.warn);
	return r;
}

/* Assigned functions in the VM so far, this one included. */
static unsigned int vfio_pci_count(struct vm *vm)
{
	unsigned int n = 0;

	for (struct device *d = vm->devices.first; d; d = d->next)
		n += vfio_pci_of(d) != NULL;
	return n + 1;
}

/* Behind the VT-d every function has its own DMA address space, and so its
 * own container; VFIO puts a whole IOMMU group in one container, so two
 * functions of one group cannot both be assigned there (QEMU refuses the
 * same). Said here rather than as "in use" by the group open. */
static int vfio_pci_vtd_check(struct vfio_pci *v, const char *host, char *err, size_t errlen)
{
	int group;

	if (!v->vm->vtd)
		return 0;
	group = vfio_device_group("/sys", host, err, errlen);
	if (group < 0)
		return 0;   /* vfio_device_open says why */
	for (struct device *d = v->vm->devices.first; d; d = d->next) {
		struct vfio_pci *o = vfio_pci_of(d);

		if (o && o != v && o->vd.fd >= 0 && o->vd.group_id == group) {
			snprintf(err, errlen, "%s shares IOMMU group %d with %s: behind --iommu "
				 "each function needs its own group (assign them without --iommu)",
				 host, group, o->vd.bdf);
			return -EBUSY;
		}
	}
	return 0;
}

static void vfio_pci_unrealize(struct device *dev);

static int vfio_pci_realize(struct device *dev)
{
	const struct vm_pci *spec = &dev->spec.pci;
	struct vm *vm = dev->vm;
	struct vfio_pci *v;
	char err[512];
	int r;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	dev->priv = v;
	v->vm = vm;
	v->vd.fd = -1;
	vfio_irq_clear(v);   /* before anything can fail: unrealize closes fds >= 0 */
	v->permissive = spec->permissive;
	v->reloc = (enum vfio_msix_reloc)spec->msix_relocation;
	snprintf(v->id, sizeof(v->id), "%s (%s)", dev->id, spec->host);

	if (spec->seize && (r = vfio_pci_seize(spec->host, err, sizeof(err))))
		goto fail;
	if ((r = vfio_pci_vtd_check(v, spec->host, err, sizeof(err))))
		goto fail;
	/* The balloon's policy: no page of a ballooned guest may be pinned. */
	if ((r = balloon_vfio_pin(vm, err, sizeof(err))))
		goto fail;
	v->balloon_pinned = true;
	/* Behind the VT-d each function has its own container, which pins all
	 * of RAM while the guest's translation is off: count them all. */
	if ((r = vfio_memlock_check(vm->layout.ram_size * (vm->vtd ? vfio_pci_count(vm) : 1),
				    err, sizeof(err))))
		goto fail;
	r = vfio_space_get(vm, vm->vtd ? NULL : &vm->dma, &v->space, err, sizeof(err));
	if (r)
		goto fail;
	r = vfio_device_open(vfio_space_container(v->space), "/sys", spec->host, &v->vd, err,
			     sizeof(err));
	if (r)
		goto fail;
	if (vfio_device_reset(&v->vd, err, sizeof(err)))
		log_info("%s: no reset at start: %s", v->id, err);

	pci_dev_init(&v->pci, 0, 0, 0, 0, &vfio_pci_ops, v);
	if ((r = vfio_cfg_init(v, err, sizeof(err))) || (r = vfio_bars_init(v, err, sizeof(err))))
		goto fail;
	r = vfio_irq_init(v);
	if (r) {
		snprintf(err, sizeof(err), "MSI-X: %s", strerror(-r));
		goto fail;
	}
	r = vfio_pci_place(v, spec);
	if (r) {
		snprintf(err, sizeof(err), "no PCI slot: %s", strerror(-r));
		goto fail;
	}
	/* The requester id is known now: behind the VT-d its own address
	 * space. Bus mastering stays off until the guest sets it. */
	v->pci.dma = vm_dma_as(vm, pci_dev_rid(&v->pci));
	if ((r = vfio_space_start(v->space, v->pci.dma, err, sizeof(err))))
		goto fail;
	r = vfio_irq_start(v);
	if (r) {
		snprintf(err, sizeof(err), "INTx: %s", strerror(-r));
		goto fail;
	}
	log_info("%s: %04x:%04x at guest 00:%02x.%x; interrupts:%s%s%s", v->id,
		 get_le16(v->pci.cfg), get_le16(v->pci.cfg + 2), v->pci.slot, v->pci.devfn & 7,
		 v->has_msix ? " MSI-X" : "", v->msi_cap ? " MSI" : "",
		 v->intx_pin >= 0 ? " INTx" : (v->has_msix || v->msi_cap ? "" : " none"));
	if (v->intx_pin >= 0)
		log_info("%s: INTx on IOAPIC input %d (resample irqfd)", v->id, v->intx_pin);
	dev->pci = &v->pci;
	return 0;
fail:
	log_error("%s: %s", v->id, err);
	vfio_pci_unrealize(dev);
	return r;
}

static void vfio_pci_unrealize(struct device *dev)
{
	struct vfio_pci *v = dev->priv;
	char err[256];

	if (!v)
		return;
	pci_unregister(&v->vm->pci, &v->pci);   /* -ENOENT if never registered */
	vfio_irq_fini(v);
	vfio_bars_fini(v);
	if (v->vd.fd >= 0) {
		if (vfio_device_reset(&v->vd, err, sizeof(err)))
			log_info("%s: no reset at exit: %s", v->id, err);
		vfio_device_close(&v->vd);
	}
	if (v->space)
		vfio_space_put(v->vm, v->space);
	if (v->balloon_pinned)
		balloon_vfio_unpin(v->vm);
	free(v);
	dev->priv = NULL;
}

const struct device_type vfio_pci_type = {
	.name = "vfio-pci",
	.id_prefix = "pci",
	.kind = DEVICE_PCI,
	.realize_logs = true,
	.realize = vfio_pci_realize,
	.unrealize = vfio_pci_unrealize,
};

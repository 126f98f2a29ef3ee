/* Environment hooks for the frontends in the test guest (see
 * virtio_glue.h). Everything below 4 GiB is identity mapped with the User
 * bit, so a buffer's virtual address is its physical address and ring 3 can
 * reach every BAR the firmware (or isle) placed below 4 GiB; the whole
 * 0xB0000000-4 GiB range is uncached, which MMIO needs. */
#include "virtio_glue.h"

uint64_t fe_virt_to_phys(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

uint64_t fe_now_us(void)
{
	return timer_elapsed_us(0);
}

static uint8_t glue_cfg_read8(void *ctx, uint16_t off)
{
	return pci_read8(((struct virtio_glue *)ctx)->bdf, off);
}

static uint16_t glue_cfg_read16(void *ctx, uint16_t off)
{
	return pci_read16(((struct virtio_glue *)ctx)->bdf, off);
}

static uint32_t glue_cfg_read32(void *ctx, uint16_t off)
{
	return pci_read32(((struct virtio_glue *)ctx)->bdf, off);
}

static void glue_cfg_write16(void *ctx, uint16_t off, uint16_t v)
{
	pci_write16(((struct virtio_glue *)ctx)->bdf, off, v);
}

static const struct pci_bar *glue_bar(struct virtio_glue *g, unsigned int idx)
{
	if (!g->probed[idx]) {
		pci_bar_probe(g->bdf, idx, &g->bar[idx]);
		g->probed[idx] = true;
	}
	return &g->bar[idx];
}

static uint64_t glue_bar_map(void *ctx, unsigned int idx, uint64_t *size)
{
	struct virtio_glue *g = ctx;
	const struct pci_bar *bar;
	uint64_t addr;

	*size = 0;
	if (idx >= pci_bar_count(g->bdf))
		return 0;
	/* The upper half of a 64-bit BAR is not a BAR of its own. */
	if (idx > 0 && glue_bar(g, idx - 1)->is64)
		return 0;
	bar = glue_bar(g, idx);
	if (!bar->present || bar->io)
		return 0;
	addr = pci_bar_map(g->bdf, idx);
	/* The page tables stop at 4 GiB: a BAR placed above is unreachable. */
	if (!addr || addr + bar->size > 0x100000000ull) {
		report_info("virtio: BAR%u at %#lx (size %#lx) is out of reach",
			    idx, addr, bar->size);
		return 0;
	}
	*size = bar->size;
	return addr;
}

static uint32_t glue_mmio_read(void *ctx, uint64_t addr, unsigned int size)
{
	switch (size) {
	case 1:
		return mmio_read8(addr);
	case 2:
		return mmio_read16(addr);
	default:
		return mmio_read32(addr);
	}
}

static void glue_mmio_write(void *ctx, uint64_t addr, unsigned int size, uint32_t v)
{
	switch (size) {
	case 1:
		mmio_write8(addr, (uint8_t)v);
		break;
	case 2:
		mmio_write16(addr, (uint16_t)v);
		break;
	default:
		mmio_write32(addr, v);
		break;
	}
}

void virtio_glue_init(struct virtio_glue *g, uint16_t bdf)
{
	memset(g, 0, sizeof(*g));
	g->bdf = bdf;
	g->env = (struct vpci_env){
		.ctx = g,
		.cfg_read8 = glue_cfg_read8,
		.cfg_read16 = glue_cfg_read16,
		.cfg_read32 = glue_cfg_read32,
		.cfg_write16 = glue_cfg_write16,
		.bar_map = glue_bar_map,
		.mmio_read = glue_mmio_read,
		.mmio_write = glue_mmio_write,
	};
}

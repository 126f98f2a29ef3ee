/* The test guest's edu driver (see edu.h). */
#include "guest.h"
#include "edu.h"

#define PCI_CAP_MSI     0x05
#define MSI_FLAGS       2
#define MSI_ADDR_LO     4
#define MSI_ADDR_HI     8
#define MSI_FLAGS_EN    0x0001
#define MSI_FLAGS_64    0x0080
#define EDU_DONE_US     2000000     /* QEMU's DMA timer is 100 ms */

bool edu_open(struct edu *e, bool *absent)
{
	int found;

	*absent = false;
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	found = pci_find_nth(EDU_VENDOR, EDU_DEVICE, (unsigned int)cmdline_get_u64("edu_index", 0));
	if (found < 0) {
		*absent = true;
		return false;
	}
	e->bdf = (uint16_t)found;
	e->regs = pci_bar_map(e->bdf, 0);
	e->msi_cap = pci_cap_find(e->bdf, PCI_CAP_MSI);
	if (!e->regs)
		return false;
	pci_write16(e->bdf, PCI_COMMAND, pci_read16(e->bdf, PCI_COMMAND) | PCI_CMD_MEM |
		    PCI_CMD_MASTER);
	return true;
}

uint32_t edu_rd(const struct edu *e, uint32_t off)
{
	return mmio_read32(e->regs + off);
}

void edu_wr(const struct edu *e, uint32_t off, uint32_t v)
{
	mmio_write32(e->regs + off, v);
}

bool edu_wait_clear(const struct edu *e, uint32_t off, uint32_t mask, uint64_t us)
{
	uint64_t deadline = timer_deadline_us(us);

	while (edu_rd(e, off) & mask) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

bool edu_dma(const struct edu *e, uint64_t src, uint64_t dst, uint32_t cnt, uint32_t cmd)
{
	edu_wr(e, EDU_DMA_SRC, (uint32_t)src);
	edu_wr(e, EDU_DMA_DST, (uint32_t)dst);
	edu_wr(e, EDU_DMA_CNT, cnt);
	edu_wr(e, EDU_DMA_CMD, cmd | EDU_DMA_RUN);
	return edu_wait_clear(e, EDU_DMA_CMD, EDU_DMA_RUN, EDU_DONE_US);
}

bool edu_msi_enable(const struct edu *e, uint64_t addr, uint16_t data)
{
	uint16_t flags;

	if (!e->msi_cap)
		return false;
	flags = pci_read16(e->bdf, (uint16_t)(e->msi_cap + MSI_FLAGS));
	pci_write32(e->bdf, (uint16_t)(e->msi_cap + MSI_ADDR_LO), (uint32_t)addr);
	if (flags & MSI_FLAGS_64) {
		pci_write32(e->bdf, (uint16_t)(e->msi_cap + MSI_ADDR_HI), (uint32_t)(addr >> 32));
		pci_write16(e->bdf, (uint16_t)(e->msi_cap + 12), data);
	} else {
		pci_write16(e->bdf, (uint16_t)(e->msi_cap + 8), data);
	}
	pci_write16(e->bdf, (uint16_t)(e->msi_cap + MSI_FLAGS), (uint16_t)(flags | MSI_FLAGS_EN));
	pci_write16(e->bdf, PCI_COMMAND, pci_read16(e->bdf, PCI_COMMAND) | PCI_CMD_INTX_OFF);
	return true;
}

void edu_msi_disable(const struct edu *e)
{
	uint16_t flags;

	if (!e->msi_cap)
		return;
	flags = pci_read16(e->bdf, (uint16_t)(e->msi_cap + MSI_FLAGS));
	pci_write16(e->bdf, (uint16_t)(e->msi_cap + MSI_FLAGS), (uint16_t)(flags & ~MSI_FLAGS_EN));
}

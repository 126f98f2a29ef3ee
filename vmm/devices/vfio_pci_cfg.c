/* Config space of an assigned function (owner: vfio_pci_cfg.c; API in
 * devices/vfio_pci.h).
 *
 * The guest sees the device's own config space, at the device's offsets,
 * with isle in charge of what decides where the device sits and how it
 * interrupts. Per byte, either:
 *  - emulated (emu[] set): reads come from pci.cfg, writes follow pci.cfg's
 *    write masks (pci_dev.c). That is the header (identity, command, BARs
 *    and ROM, capability pointer, interrupt line and pin), every capability
 *    header (id, next: the list is rebuilt without the hidden ones) and the
 *    MSI and MSI-X capabilities whole; or
 *  - live: reads go to the device through VFIO (status, the bodies of the
 *    capabilities passed through), and a guest write reaches the device
 *    only in the bits of pwmask[] (power state and PME, the PCIe device
 *    control registers less payload size and phantom functions; with
 *    `permissive` all of PM control, device control and link control). A
 *    Function Level Reset bit is not written through: it becomes
 *    VFIO_DEVICE_RESET when the device can reset alone. The command
 *    register is emulated, but its enables reach the device the same way.
 * Passed through: power management, PCI Express, vendor-specific, and of
 * the extended capabilities AER, the serial number and vendor-specific
 * ones. Hidden: everything else (SR-IOV, ATS, PASID, resizable BAR, ...).
 *
 * The device's config space is untrusted too: the capability walks are
 * bounded and loop-proof, and offsets outside the space end them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/pci_regs.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"

#define CMD_PASSED (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
		    PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

static void cfg_emulate(struct vfio_pci *v, unsigned int off, unsigned int len)
{
	if (off < PCI_CFG_SIZE)
		memset(v->emu + off, 1, MIN(len, PCI_CFG_SIZE - off));
}

/* Bytes the guest may write through, with their bits. */
static void cfg_pass(struct vfio_pci *v, unsigned int off, unsigned int len, uint8_t bits)
{
	for (unsigned int i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
		v->pwmask[off + i] = bits;
		/* pci.cfg carries the written value to vfio_cfg_write. */
		v->pci.wmask[off + i] = 0xff;
	}
}

static unsigned int msi_cap_len(uint16_t flags)
{
	unsigned int len = flags & PCI_MSI_FLAGS_64BIT ? 14 : 10;

	return flags & PCI_MSI_FLAGS_MASKBIT ? len + 10 : len;
}

/* The bytes a capability spans, by what it is (at least its header). */
static unsigned int cap_len(const uint8_t *hw, unsigned int p)
{
	uint16_t flags = get_le16(hw + p + 2);

	switch (hw[p]) {
	case PCI_CAP_ID_MSI:
		return msi_cap_len(flags);
	case PCI_CAP_ID_MSIX:
		return PCI_CAP_MSIX_SIZEOF;
	case PCI_CAP_ID_PM:
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_EXP:
		return (flags & PCI_EXP_FLAGS_VERS) >= 2 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 :
							   PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
	case PCI_CAP_ID_VNDR:
		return hw[p + 2] > 2 ? hw[p + 2] : 2;
	default:
		return 2;
	}
}

/* The standard list: keeps MSI, MSI-X, PM, PCIe and vendor-specific ones.
 * A capability that overlaps one kept before it (a hostile or broken list)
 * is hidden: emulated registers never share bytes. */
static void cfg_caps(struct vfio_pci *v, const uint8_t *hw)
{
	uint8_t seen[PCI_CFG_SPACE_SIZE / 4] = { 0 };
	uint8_t claimed[PCI_CFG_SPACE_SIZE] = { 0 };
	unsigned int prev = PCI_CAPABILITY_LIST, kept = 0;
	unsigned int p = hw[PCI_STATUS] & PCI_STATUS_CAP_LIST ? hw[PCI_CAPABILITY_LIST] & ~3u : 0;

	v->pci.cfg[PCI_CAPABILITY_LIST] = 0;
	for (unsigned int i = 0; p >= PCI_STD_HEADER_SIZEOF && p <= PCI_CFG_SPACE_SIZE - 4 &&
				 !seen[p / 4] && i < 48; i++) {
		unsigned int id = hw[p], next = hw[p + 1] & ~3u;
		bool keep = true, perm = v->permissive;
		uint16_t flags = get_le16(hw + p + 2);

		unsigned int len = MIN(cap_len(hw, p), PCI_CFG_SPACE_SIZE - p);

		seen[p / 4] = 1;
		for (unsigned int b = p; b < p + len; b++)
			keep &= !claimed[b];
		switch (keep ? id : ~0u) {
		case PCI_CAP_ID_MSI:
			/* Shown only if VFIO can deliver it. */
			if (p + msi_cap_len(flags) > PCI_CFG_SPACE_SIZE ||
			    !v->vd.irqs[VFIO_PCI_MSI_IRQ_INDEX].count) {
				keep = false;
				break;
			}
			v->msi_cap = p;
			v->msi_max = 1u << MIN((unsigned int)(flags & PCI_MSI_FLAGS_QMASK) >> 1, 5u);
			v->msi_64 = flags & PCI_MSI_FLAGS_64BIT;
			cfg_emulate(v, p, msi_cap_len(flags));
			memset(v->pci.cfg + p + 2, 0, msi_cap_len(flags) - 2);
			/* Per-vector masking is not offered: the bit goes. */
			put_le16(v->pci.cfg + p + PCI_MSI_FLAGS,
				 flags & (PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_64BIT));
			put_le16(v->pci.wmask + p + PCI_MSI_FLAGS,
				 PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
			put_le32(v->pci.wmask + p + PCI_MSI_ADDRESS_LO, ~3u);
			if (v->msi_64) {
				put_le32(v->pci.wmask + p + PCI_MSI_ADDRESS_HI, ~0u);
				put_le16(v->pci.wmask + p + PCI_MSI_DATA_64, 0xffff);
			} else {
				put_le16(v->pci.wmask + p + PCI_MSI_DATA_32, 0xffff);
			}
			break;
		case PCI_CAP_ID_MSIX:
			if (p + PCI_CAP_MSIX_SIZEOF > PCI_CFG_SPACE_SIZE ||
			    !v->vd.irqs[VFIO_PCI_MSIX_IRQ_INDEX].count) {
				keep = false;
				break;
			}
			v->has_msix = true;
			v->msix_cap = p;
			v->msix_nr = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
			v->msix_bar = get_le32(hw + p + PCI_MSIX_TABLE) & PCI_MSIX_TABLE_BIR;
			v->msix_hw_table = get_le32(hw + p + PCI_MSIX_TABLE) & PCI_MSIX_TABLE_OFFSET;
			v->msix_hw_pba_bar = get_le32(hw + p + PCI_MSIX_PBA) & PCI_MSIX_PBA_BIR;
			v->msix_hw_pba = get_le32(hw + p + PCI_MSIX_PBA) & PCI_MSIX_PBA_OFFSET;
			cfg_emulate(v, p, PCI_CAP_MSIX_SIZEOF);
			memset(v->pci.cfg + p + 2, 0, PCI_CAP_MSIX_SIZEOF - 2);
			break;
		case PCI_CAP_ID_PM:
			if (p + PCI_PM_SIZEOF > PCI_CFG_SPACE_SIZE)
				break;
			cfg_pass(v, p + PCI_PM_CTRL, 1, perm ? 0xff : PCI_PM_CTRL_STATE_MASK);
			cfg_pass(v, p + PCI_PM_CTRL + 1, 1, perm ? 0xff : 0x81);  /* PME_En, PME_Status */
			break;
		case PCI_CAP_ID_EXP:
			if (p + PCI_EXP_DEVSTA > PCI_CFG_SPACE_SIZE) {
				keep = false;
				break;
			}
			v->pcie_cap = p;
			v->flr = get_le32(hw + p + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR;
			/* Device control: error reporting, relaxed ordering, no
			 * snoop, read request size; not the payload size or
			 * phantom functions (the link's business), never FLR (ours). */
			cfg_pass(v, p + PCI_EXP_DEVCTL, 1,
				 perm ? 0xff : (uint8_t)~PCI_EXP_DEVCTL_PAYLOAD);
			cfg_pass(v, p + PCI_EXP_DEVCTL + 1, 1,
				 perm ? 0x7f : (uint8_t)(0x7f & ~(PCI_EXP_DEVCTL_PHANTOM >> 8)));
			/* Version 2 capabilities have control 2; inside 256 bytes only. */
			if ((flags & PCI_EXP_FLAGS_VERS) >= 2 &&
			    p + PCI_EXP_DEVCTL2 + 2 <= PCI_CFG_SPACE_SIZE)
				cfg_pass(v, p + PCI_EXP_DEVCTL2, 2, 0xff);
			if (perm && p + PCI_EXP_LNKCTL + 2 <= PCI_CFG_SPACE_SIZE)
				cfg_pass(v, p + PCI_EXP_LNKCTL, 2, 0xff);
			break;
		case PCI_CAP_ID_VNDR:
			break;
		default:
			keep = false;
			break;
		}
		if (keep) {
			memset(claimed + p, 1, len);
			cfg_emulate(v, p, 2);
			v->pci.cfg[p] = (uint8_t)id;
			v->pci.cfg[p + 1] = 0;
			v->pci.cfg[prev] = (uint8_t)p;
			prev = p + 1;
			kept++;
		} else {
			log_info("%s: capability %#x at %#x hidden", v->id, id, p);
		}
		p = next;
	}
	v->no_caps = !kept;
}

/* The extended list (PCIe, offsets 0x100-0xfff). */
static void cfg_ext_caps(struct vfio_pci *v, const uint8_t *hw)
{
	uint8_t seen[(PCI_CFG_SIZE - PCI_CFG_SPACE_SIZE) / 4] = { 0 };
	unsigned int p = PCI_CFG_SPACE_SIZE, prev = 0;
	uint32_t first_hdr = 0;
	bool any = false;

	cfg_emulate(v, PCI_CFG_SPACE_SIZE, 4);
	put_le32(v->pci.cfg + PCI_CFG_SPACE_SIZE, 0);
	if (v->cfg_size <= PCI_CFG_SPACE_SIZE)
		return;
	for (unsigned int i = 0; p >= PCI_CFG_SPACE_SIZE && p <= v->cfg_size - 4 &&
				 !seen[(p - PCI_CFG_SPACE_SIZE) / 4] && i < 256; i++) {
		uint32_t hdr = get_le32(hw + p);
		unsigned int id = PCI_EXT_CAP_ID(hdr), next = PCI_EXT_CAP_NEXT(hdr);
		bool keep = id == PCI_EXT_CAP_ID_ERR || id == PCI_EXT_CAP_ID_DSN ||
			    id == PCI_EXT_CAP_ID_VNDR;

		if (!hdr)
			break;
		seen[(p - PCI_CFG_SPACE_SIZE) / 4] = 1;
		if (keep) {
			uint32_t own = hdr & 0xfffff;   /* id and version; next is ours */

			cfg_emulate(v, p, 4);
			if (!any && p != PCI_CFG_SPACE_SIZE)
				first_hdr = (uint32_t)p << 20;   /* a null header at 0x100 leads on */
			if (prev)
				put_le32(v->pci.cfg + prev,
					 (get_le32(v->pci.cfg + prev) & 0xfffff) | (uint32_t)p << 20);
			put_le32(v->pci.cfg + p, own);
			prev = p;
			any = true;
		} else {
			log_info("%s: extended capability %#x at %#x hidden", v->id, id, p);
		}
		p = next;
	}
	if (first_hdr)
		put_le32(v->pci.cfg + PCI_CFG_SPACE_SIZE, first_hdr);
}

int vfio_cfg_init(struct vfio_pci *v, char *err, size_t errlen)
{
	uint8_t hw[PCI_CFG_SIZE];
	const struct vfio_region *r = &v->vd.regions[VFIO_PCI_CONFIG_REGION_INDEX];
	int ret;

	if (r->size < PCI_CFG_SPACE_SIZE) {
		snprintf(err, errlen, "config space of %llu bytes", (unsigned long long)r->size);
		return -EINVAL;
	}
	v->cfg_size = r->size >= PCI_CFG_SIZE ? PCI_CFG_SIZE : PCI_CFG_SPACE_SIZE;
	memset(hw, 0, sizeof(hw));
	ret = vfio_region_read(&v->vd, VFIO_PCI_CONFIG_REGION_INDEX, 0, hw, v->cfg_size);
	if (ret) {
		snprintf(err, errlen, "reading config space: %s", strerror(-ret));
		return ret;
	}
	if ((hw[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		snprintf(err, errlen, "header type %#x: only endpoints can be assigned",
			 hw[PCI_HEADER_TYPE]);
		return -EINVAL;
	}
	/* Everything the device says is there to read; what isle decides is
	 * rewritten below. */
	memcpy(v->pci.cfg, hw, sizeof(hw));
	memset(v->emu, 0, sizeof(v->emu));
	memset(v->pwmask, 0, sizeof(v->pwmask));
	cfg_emulate(v, 0, PCI_STD_HEADER_SIZEOF);
	v->emu[PCI_STATUS] = v->emu[PCI_STATUS + 1] = 0;   /* live */
	put_le16(v->pci.cfg + PCI_COMMAND, 0);
	/* Emulated (reads come from cfg), but the device must decode and
	 * master when the guest says so. */
	v->pwmask[PCI_COMMAND] = (uint8_t)CMD_PASSED;
	v->pwmask[PCI_COMMAND + 1] = (uint8_t)(CMD_PASSED >> 8);
	v->pci.cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;   /* the bus adds MF */
	v->pci.cfg[PCI_BIST] = 0;
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		v->hw_bar[b] = get_le32(hw + PCI_BASE_ADDRESS_0 + 4 * b);
		put_le32(v->pci.cfg + PCI_BASE_ADDRESS_0 + 4 * b, 0);
	}
	put_le32(v->pci.cfg + PCI_ROM_ADDRESS, 0);
	v->pci.cfg[PCI_INTERRUPT_LINE] = 0;
	if (v->pci.cfg[PCI_INTERRUPT_PIN] > 4)
		v->pci.cfg[PCI_INTERRUPT_PIN] = 0;
	/* Capability headers are rebuilt; bodies (kept or hidden) read live. */
	cfg_caps(v, hw);
	cfg_ext_caps(v, hw);
	return 0;
}

void vfio_cfg_read(struct pci_dev *dev, unsigned int offset, unsigned int len, void *data)
{
	struct vfio_pci *v = dev->opaque;
	uint8_t live[4], *out = data;
	bool any = false;

	if (offset >= v->cfg_size)
		return;   /* past the device's space: emulated zeros */
	for (unsigned int i = 0; i < len; i++)
		any |= !v->emu[offset + i];
	if (any && !vfio_region_read(&v->vd, VFIO_PCI_CONFIG_REGION_INDEX, offset, live, len)) {
		for (unsigned int i = 0; i < len; i++)
			if (!v->emu[offset + i])
				out[i] = live[i];
	}
	/* Status says whether there is a list; the device may have had one. */
	if (v->no_caps && offset <= PCI_STATUS && offset + len > PCI_STATUS)
		out[PCI_STATUS - offset] &= (uint8_t)~PCI_STATUS_CAP_LIST;
}

/* A Function Level Reset the guest asked for, through VFIO: only one the
 * device has (DEVCAP.FLR) and VFIO can do for this function alone; a bus
 * reset would take sibling functions with it, so it is never done here. */
static void cfg_flr(struct vfio_pci *v)
{
	char err[256];
	int r;

	if (!v->flr || !(v->vd.flags & VFIO_DEVICE_FLAGS_RESET)) {
		if (!v->flr_warned)
			log_warn("%s: the guest asked for an FLR the device cannot do alone: ignored",
				 v->id);
		v->flr_warned = true;
		return;
	}
	vfio_irq_reset(v);
	r = vfio_device_reset(&v->vd, err, sizeof(err));
	if (r)
		log_warn("%s: function level reset: %s", v->id, err);
	else
		log_info("%s: function level reset", v->id);
	put_le16(v->pci.cfg + PCI_COMMAND, 0);
}

void vfio_cfg_write(struct pci_dev *dev, unsigned int offset, unsigned int len, uint32_t old)
{
	struct vfio_pci *v = dev->opaque;
	unsigned int end = offset + len;

	vfio_irq_config_write(v, offset, len, old);
	if (v->pcie_cap && offset <= v->pcie_cap + PCI_EXP_DEVCTL + 1 &&
	    end > v->pcie_cap + PCI_EXP_DEVCTL + 1 &&
	    (get_le16(v->pci.cfg + v->pcie_cap + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR)) {
		put_le16(v->pci.cfg + v->pcie_cap + PCI_EXP_DEVCTL,
			 get_le16(v->pci.cfg + v->pcie_cap + PCI_EXP_DEVCTL) &
			 ~PCI_EXP_DEVCTL_BCR_FLR);
		cfg_flr(v);
		return;
	}
	/* What reaches the device: only the bits the guest may change (the
	 * command register's enables too, emulated or not), a byte at a time
	 * so neighbouring write-1-to-clear bits are left alone. */
	for (unsigned int o = offset; o < end && o < v->cfg_size; o++) {
		uint8_t b;

		if (!v->pwmask[o])
			continue;
		if (vfio_region_read(&v->vd, VFIO_PCI_CONFIG_REGION_INDEX, o, &b, 1))
			continue;
		b = (uint8_t)((b & ~v->pwmask[o]) | (v->pci.cfg[o] & v->pwmask[o]));
		vfio_region_write(&v->vd, VFIO_PCI_CONFIG_REGION_INDEX, o, &b, 1);
	}
}

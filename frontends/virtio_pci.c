/* Modern virtio-pci transport, driver side (contract in virtio_pci.h).
 *
 * Owns: finding the virtio structures through the vendor capabilities and
 * checking them against the BARs, the device status protocol (reset,
 * ACKNOWLEDGE/DRIVER, FEATURES_OK, DRIVER_OK, FAILED, NEEDS_RESET),
 * 64-bit feature negotiation, queue programming and notification
 * addresses, and bounded access to the device-specific configuration
 * (reads, and 32-bit writes of driver-owned fields). */
#include "virtio_pci.h"

#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_CAP_PTR        0x34
#define PCI_CMD_MEM        0x0002
#define PCI_CMD_MASTER     0x0004
#define PCI_STATUS_CAPS    0x0010
#define PCI_CAP_ID_VNDR    0x09
#define VPCI_NUM_BARS      6

/* Fields up to and including queue_used_hi: what a 1.0 device must have. */
#define VPCI_COMMON_MIN    (VIRTIO_PCI_COMMON_Q_USEDHI + 4)

static uint32_t cc_read(struct vpci_dev *d, uint32_t off, unsigned int size)
{
	return d->env->mmio_read(d->env->ctx, d->common.addr + off, size);
}

static void cc_write(struct vpci_dev *d, uint32_t off, unsigned int size, uint32_t v)
{
	d->env->mmio_write(d->env->ctx, d->common.addr + off, size, v);
}

struct vpci_bar_cache {
	bool probed;
	uint64_t addr, size;
};

/* Checks one virtio structure capability and, if usable, records it in r. */
static void vpci_cap_take(struct vpci_dev *d, struct vpci_bar_cache *bars,
			  struct vpci_region *r, uint8_t bar, uint32_t off,
			  uint32_t len, uint32_t min_len)
{
	struct vpci_bar_cache *b;

	if (r->present)
		return;         /* the first usable one of each type wins */
	if (bar >= VPCI_NUM_BARS)
		return;         /* reserved BAR values: to be ignored */
	b = &bars[bar];
	if (!b->probed) {
		b->addr = d->env->bar_map(d->env->ctx, bar, &b->size);
		b->probed = true;
	}
	if (!b->addr) {
		d->error = "capability names an unusable BAR";
		return;
	}
	if (len < min_len) {
		d->error = "capability region too short";
		return;
	}
	if ((uint64_t)off > b->size || len > b->size - off) {
		d->error = "capability region beyond its BAR";
		return;
	}
	r->addr = b->addr + off;
	r->len = len;
	r->bar = bar;
	r->present = true;
}

int vpci_probe(struct vpci_dev *d, const struct vpci_env *env)
{
	struct vpci_bar_cache bars[VPCI_NUM_BARS];
	uint8_t ptr;

	memset(d, 0, sizeof(*d));
	memset(bars, 0, sizeof(bars));
	d->env = env;
	d->timeout_us = VPCI_RESET_US;
	d->vendor = env->cfg_read16(env->ctx, PCI_VENDOR_ID);
	d->device = env->cfg_read16(env->ctx, PCI_DEVICE_ID);
	if (d->vendor != VPCI_VENDOR) {
		d->error = "not a virtio vendor id";
		return -ENODEV;
	}
	if (d->device < VPCI_MODERN_BASE || d->device > VPCI_MODERN_LAST) {
		d->error = "transitional or legacy device id";
		return -ENODEV;
	}
	if (!(env->cfg_read16(env->ctx, PCI_STATUS) & PCI_STATUS_CAPS)) {
		d->error = "no capability list";
		return -ENODEV;
	}

	ptr = env->cfg_read8(env->ctx, PCI_CAP_PTR) & 0xfc;
	/* 48 capabilities fill the 192 bytes after the header: a longer
	 * walk is a loop. */
	for (int i = 0; i < 48 && ptr >= 0x40; i++) {
		uint8_t id = env->cfg_read8(env->ctx, ptr);
		uint8_t next = env->cfg_read8(env->ctx, (uint16_t)(ptr + 1)) & 0xfc;
		uint8_t cap_len, type, bar;
		uint32_t off, len;

		if (id != PCI_CAP_ID_VNDR || ptr > 0x100 - sizeof(struct virtio_pci_cap))
			goto next;
		cap_len = env->cfg_read8(env->ctx, (uint16_t)(ptr + VIRTIO_PCI_CAP_LEN));
		type = env->cfg_read8(env->ctx, (uint16_t)(ptr + VIRTIO_PCI_CAP_CFG_TYPE));
		bar = env->cfg_read8(env->ctx, (uint16_t)(ptr + VIRTIO_PCI_CAP_BAR));
		off = env->cfg_read32(env->ctx, (uint16_t)(ptr + VIRTIO_PCI_CAP_OFFSET));
		len = env->cfg_read32(env->ctx, (uint16_t)(ptr + VIRTIO_PCI_CAP_LENGTH));
		if (cap_len < sizeof(struct virtio_pci_cap)) {
			d->error = "vendor capability shorter than virtio_pci_cap";
			goto next;
		}
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			vpci_cap_take(d, bars, &d->common, bar, off, len, VPCI_COMMON_MIN);
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			if (d->notify.present)
				break;
			if (cap_len < sizeof(struct virtio_pci_notify_cap) ||
			    ptr > 0x100 - sizeof(struct virtio_pci_notify_cap)) {
				d->error = "notify capability too short";
				break;
			}
			vpci_cap_take(d, bars, &d->notify, bar, off, len, 2);
			if (d->notify.present)
				d->notify_mult = env->cfg_read32(env->ctx,
					(uint16_t)(ptr + VIRTIO_PCI_NOTIFY_CAP_MULT));
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			vpci_cap_take(d, bars, &d->isr, bar, off, len, 1);
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			vpci_cap_take(d, bars, &d->devcfg, bar, off, len, 1);
			break;
		default:
			break;  /* PCI_CFG window, shared memory, vendor-defined */
		}
next:
		ptr = next;
	}
	if (!d->common.present || !d->notify.present || !d->isr.present) {
		if (!d->error)
			d->error = "a required virtio capability is missing";
		return -ENODEV;
	}
	/* Bus mastering: the device reaches our rings by DMA, and QEMU (like
	 * real hardware) drops its accesses while the bit is clear. */
	env->cfg_write16(env->ctx, PCI_COMMAND,
			 env->cfg_read16(env->ctx, PCI_COMMAND) | PCI_CMD_MEM | PCI_CMD_MASTER);
	d->num_queues = (uint16_t)cc_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
	d->error = NULL;
	return 0;
}

uint8_t vpci_status(struct vpci_dev *d)
{
	return (uint8_t)cc_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

void vpci_status_set(struct vpci_dev *d, uint8_t bits)
{
	cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1, vpci_status(d) | bits);
}

void vpci_driver_ok(struct vpci_dev *d)
{
	vpci_status_set(d, VIRTIO_CONFIG_S_DRIVER_OK);
}

void vpci_fail(struct vpci_dev *d)
{
	vpci_status_set(d, VIRTIO_CONFIG_S_FAILED);
}

bool vpci_needs_reset(struct vpci_dev *d)
{
	return vpci_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

uint8_t vpci_isr(struct vpci_dev *d)
{
	return (uint8_t)d->env->mmio_read(d->env->ctx, d->isr.addr, 1);
}

int vpci_reset(struct vpci_dev *d)
{
	uint64_t deadline;

	cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	/* The reset is over when status reads 0 again (virtio 1.1+); a
	 * device that still shows old bits is still tearing down queues
	 * that may write to our memory. */
	deadline = fe_deadline_us(d->timeout_us);
	while (vpci_status(d) != 0) {
		if (fe_expired(deadline)) {
			d->error = "device did not finish its reset";
			return -ETIMEDOUT;
		}
		fe_relax();
	}
	return 0;
}

int vpci_begin(struct vpci_dev *d)
{
	int r = vpci_reset(d);

	if (r)
		return r;
	vpci_status_set(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vpci_status_set(d, VIRTIO_CONFIG_S_DRIVER);
	return 0;
}

int vpci_negotiate(struct vpci_dev *d, uint64_t wanted)
{
	uint64_t feat;

	cc_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	d->offered = cc_read(d, VIRTIO_PCI_COMMON_DF, 4);
	cc_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	d->offered |= (uint64_t)cc_read(d, VIRTIO_PCI_COMMON_DF, 4) << 32;
	if (!(d->offered & (1ull << VIRTIO_F_VERSION_1))) {
		d->error = "device does not offer VERSION_1";
		vpci_fail(d);
		return -ENODEV;
	}
	feat = d->offered & (wanted | 1ull << VIRTIO_F_VERSION_1);
	cc_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cc_write(d, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)feat);
	cc_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cc_write(d, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(feat >> 32));
	vpci_status_set(d, VIRTIO_CONFIG_S_FEATURES_OK);
	/* The device clears FEATURES_OK if it cannot live with the subset. */
	if (!(vpci_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		d->error = "device did not accept the negotiated features";
		vpci_fail(d);
		return -EIO;
	}
	d->features = feat;
	return 0;
}

unsigned int vpci_queue_max(struct vpci_dev *d, unsigned int idx)
{
	if (idx >= d->num_queues)
		return 0;
	cc_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, idx);
	return cc_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
}

static void cc_write64(struct vpci_dev *d, uint32_t off, uint64_t v)
{
	/* The spec lets the driver write 64-bit fields as two 32-bit halves. */
	cc_write(d, off, 4, (uint32_t)v);
	cc_write(d, off + 4, 4, (uint32_t)(v >> 32));
}

int vpci_queue_enable(struct vpci_dev *d, unsigned int idx, unsigned int num,
		      uint64_t desc_pa, uint64_t avail_pa, uint64_t used_pa,
		      uint64_t *notify_addr)
{
	unsigned int max = vpci_queue_max(d, idx);
	uint64_t noff;

	if (!max || !num || (num & (num - 1)) || num > max)
		return -EINVAL;
	/* vpci_queue_max() left idx selected. */
	if (cc_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2)) {
		d->error = "queue already enabled";
		return -EBUSY;
	}
	noff = (uint64_t)cc_read(d, VIRTIO_PCI_COMMON_Q_NOFF, 2) * d->notify_mult;
	/* 2 bytes: the queue index (no NOTIFICATION_DATA). */
	if (noff > d->notify.len || d->notify.len - noff < 2) {
		d->error = "queue notify offset beyond the notify region";
		return -EIO;
	}
	cc_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, num);
	cc_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	cc_write64(d, VIRTIO_PCI_COMMON_Q_DESCLO, desc_pa);
	cc_write64(d, VIRTIO_PCI_COMMON_Q_AVAILLO, avail_pa);
	cc_write64(d, VIRTIO_PCI_COMMON_Q_USEDLO, used_pa);
	cc_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	*notify_addr = d->notify.addr + noff;
	return 0;
}

void vpci_notify(struct vpci_dev *d, uint64_t notify_addr, unsigned int idx)
{
	/* The ring stores precede the doorbell (uncached MMIO on x86 is
	 * ordered after them; the fence keeps the compiler from sinking
	 * them past the call). */
	fe_wmb();
	d->env->mmio_write(d->env->ctx, notify_addr, 2, idx);
}

uint8_t vpci_cfg_generation(struct vpci_dev *d)
{
	return (uint8_t)cc_read(d, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
}

static int vpci_cfg_read(struct vpci_dev *d, uint32_t off, unsigned int size, uint32_t *v)
{
	if (!d->devcfg.present || off > d->devcfg.len || d->devcfg.len - off < size) {
		d->error = "device config read beyond the device config region";
		return -EIO;
	}
	if (off & (size - 1))
		return -EINVAL;
	*v = d->env->mmio_read(d->env->ctx, d->devcfg.addr + off, size);
	return 0;
}

int vpci_cfg_read8(struct vpci_dev *d, uint32_t off, uint8_t *v)
{
	uint32_t x = 0;
	int r = vpci_cfg_read(d, off, 1, &x);

	*v = (uint8_t)x;
	return r;
}

int vpci_cfg_read16(struct vpci_dev *d, uint32_t off, uint16_t *v)
{
	uint32_t x = 0;
	int r = vpci_cfg_read(d, off, 2, &x);

	*v = (uint16_t)x;
	return r;
}

int vpci_cfg_read32(struct vpci_dev *d, uint32_t off, uint32_t *v)
{
	return vpci_cfg_read(d, off, 4, v);
}

int vpci_cfg_read64(struct vpci_dev *d, uint32_t off, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	int r = vpci_cfg_read(d, off, 4, &lo);

	if (!r)
		r = vpci_cfg_read(d, off + 4, 4, &hi);
	*v = (uint64_t)hi << 32 | lo;
	return r;
}

int vpci_cfg_write32(struct vpci_dev *d, uint32_t off, uint32_t v)
{
	if (!d->devcfg.present || off > d->devcfg.len || d->devcfg.len - off < 4) {
		d->error = "device config write beyond the device config region";
		return -EIO;
	}
	if (off & 3)
		return -EINVAL;
	d->env->mmio_write(d->env->ctx, d->devcfg.addr + off, 4, v);
	return 0;
}

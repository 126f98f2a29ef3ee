/* Fake guest RAM and the simulated modern virtio-pci transport the device
 * fakes share (see fake_vpci.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit.h"
#include "fake_vpci.h"

uint8_t *fake_ram;
void *fake_priv;
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */
static struct fake_vpci *vp;   /* the device fake_env reaches */

uint64_t fe_virt_to_phys(const void *p)
{
	const uint8_t *b = p;

	if (!fake_ram || b < fake_ram || b >= fake_ram + RAM_SIZE)
		return 0xdead000000000000ULL;
	return RAM_GPA + (uint64_t)(b - fake_ram);
}

uint64_t fe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void fake_put_cap(uint8_t at, uint8_t next, uint8_t type, uint8_t bar,
		  uint32_t off, uint32_t len, uint8_t cap_len)
{
	vp->cfg[at] = 0x09;
	vp->cfg[at + 1] = next;
	vp->cfg[at + 2] = cap_len;
	vp->cfg[at + 3] = type;
	vp->cfg[at + 4] = bar;
	put_le32(&vp->cfg[at + 8], off);
	put_le32(&vp->cfg[at + 12], len);
}

void fake_vpci_setup(struct fake_vpci *dev, const struct fake_vpci_ops *ops,
		     uint16_t device_id, unsigned int nq, uint16_t qmax,
		     void *devcfg, uint32_t devcfg_len, size_t priv_bytes)
{
	/* Page-aligned, so page-split segment counts are exact. */
	fake_ram = aligned_alloc(4096, RAM_SIZE);
	fake_priv = calloc(1, priv_bytes);
	if (fake_ram)
		memset(fake_ram, 0, RAM_SIZE);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_FATAL(fake_ram && fake_priv);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, fake_ram, -1, 0), 0);
	dma_as_identity_init(&as, &gm);

	vp = dev;
	vp->ops = ops;
	put_le16(&vp->cfg[0], VPCI_VENDOR);
	put_le16(&vp->cfg[2], device_id);
	put_le16(&vp->cfg[6], 0x0010);         /* capability list */
	vp->cfg[0x34] = 0x40;
	fake_put_cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 4, COMMON_OFF, 0x38, 16);
	fake_put_cap(0x50, 0x60, VIRTIO_PCI_CAP_ISR_CFG, 4, ISR_OFF, 4, 16);
	fake_put_cap(0x60, 0x70, VIRTIO_PCI_CAP_DEVICE_CFG, 4, DEVCFG_OFF, devcfg_len, 16);
	fake_put_cap(0x70, 0x00, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, NOTIFY_OFF, 0x1000, 20);
	put_le32(&vp->cfg[0x70 + 16], NOTIFY_MULT);
	vp->devcfg = devcfg;
	vp->devcfg_len = devcfg_len;
	vp->nq = nq;
	for (unsigned int i = 0; i < nq; i++) {
		vp->q[i].max = qmax;
		vp->q[i].noff = (uint16_t)(i + 1);
	}
}

void fake_teardown(void)
{
	free(fake_ram);
	free(fake_priv);
	fake_ram = NULL;
	fake_priv = NULL;
}

static uint8_t cfg_read8(void *ctx, uint16_t off)
{
	return off < 256 ? vp->cfg[off] : 0xff;
}

static uint16_t cfg_read16(void *ctx, uint16_t off)
{
	return off < 255 ? get_le16(&vp->cfg[off]) : 0xffff;
}

static uint32_t cfg_read32(void *ctx, uint16_t off)
{
	return off < 253 ? get_le32(&vp->cfg[off]) : 0xffffffffu;
}

static void cfg_write16(void *ctx, uint16_t off, uint16_t v)
{
	if (off == 4)
		put_le16(&vp->cfg[4], v);
}

static uint64_t bar_map(void *ctx, unsigned int idx, uint64_t *size)
{
	*size = idx == 4 ? BAR_SIZE : 0;
	return idx == 4 ? BAR_BASE : 0;
}

static unsigned int num_queues(void)
{
	return vp->ops->num_queues ? vp->ops->num_queues() : vp->nq;
}

static uint16_t queue_max(unsigned int idx)
{
	return vp->ops->queue_max ? vp->ops->queue_max(idx) : vp->q[idx].max;
}

static void device_reset(void)
{
	vp->resets++;
	if (vp->stuck_reset)
		return;
	vp->status = 0;
	vp->driver = 0;
	for (unsigned int i = 0; i < vp->nq; i++) {
		struct fake_vpci_q *q = &vp->q[i];

		q->size = q->enable = 0;
		q->desc = q->avail = q->used = 0;
		q->running = false;
	}
	if (vp->ops->reset)
		vp->ops->reset();
}

static void status_write(uint8_t v)
{
	if (!v) {
		device_reset();
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (vp->refuse_features_ok || (vp->driver & ~vp->offered)))
		v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(vp->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		for (unsigned int i = 0; i < vp->nq; i++) {
			struct fake_vpci_q *q = &vp->q[i];
			struct vq_config c = {
				.num = q->size, .max_num = queue_max(i), .desc_gpa = q->desc,
				.avail_gpa = q->avail, .used_gpa = q->used,
				.flags = vq_flags_from_features(vp->driver),
			};

			if (!q->enable)
				continue;
			q->running = vq_init(&q->vq, &as, &c) == 0;
			if (!q->running)
				v |= VIRTIO_CONFIG_S_NEEDS_RESET;
		}
		if (vp->ops->driver_ok)
			vp->ops->driver_ok(&v);
	}
	vp->status = v;
}

static uint32_t common_read(uint32_t off)
{
	struct fake_vpci_q *q = vp->qsel < vp->nq ? &vp->q[vp->qsel] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vp->dfsel;
	case VIRTIO_PCI_COMMON_DF:
		return vp->dfsel == 0 ? (uint32_t)vp->offered :
		       vp->dfsel == 1 ? (uint32_t)(vp->offered >> 32) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return vp->gfsel;
	case VIRTIO_PCI_COMMON_GF:
		return vp->gfsel < 2 ? (uint32_t)(vp->driver >> (32 * vp->gfsel)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_NUMQ: return num_queues();
	case VIRTIO_PCI_COMMON_STATUS: return vp->stuck_reset ? 0x03 : vp->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		if (vp->unstable_generation) {
			vp->unstable_generation--;
			vp->generation++;
		}
		return vp->generation;
	case VIRTIO_PCI_COMMON_Q_SELECT: return vp->qsel;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return !q ? 0 : q->size ? q->size : queue_max(vp->qsel);
	case VIRTIO_PCI_COMMON_Q_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->enable : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF: return q ? q->noff : 0;
	default: return 0;
	}
}

static void set_half(uint64_t *field, bool hi, uint32_t v)
{
	*field = hi ? (*field & 0xffffffffu) | (uint64_t)v << 32
		    : (*field & ~0xffffffffull) | v;
}

static void common_write(uint32_t off, uint32_t v)
{
	struct fake_vpci_q *q = vp->qsel < vp->nq ? &vp->q[vp->qsel] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: vp->dfsel = v; return;
	case VIRTIO_PCI_COMMON_GFSELECT: vp->gfsel = v; return;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->gfsel < 2)
			set_half(&vp->driver, vp->gfsel, v);
		return;
	case VIRTIO_PCI_COMMON_STATUS: status_write((uint8_t)v); return;
	case VIRTIO_PCI_COMMON_Q_SELECT: vp->qsel = (uint16_t)v; return;
	default: break;
	}
	if (!q)
		return;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE: q->size = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_ENABLE: q->enable = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_DESCLO: set_half(&q->desc, false, v); break;
	case VIRTIO_PCI_COMMON_Q_DESCHI: set_half(&q->desc, true, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: set_half(&q->avail, false, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: set_half(&q->avail, true, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDLO: set_half(&q->used, false, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDHI: set_half(&q->used, true, v); break;
	default: break;
	}
}

static uint32_t mmio_read(void *ctx, uint64_t addr, unsigned int size)
{
	uint64_t off = addr - BAR_BASE;
	uint32_t v = 0;

	if (off < COMMON_OFF + 0x38)
		return common_read((uint32_t)(off - COMMON_OFF));
	if (off >= DEVCFG_OFF && off + size <= DEVCFG_OFF + vp->devcfg_len) {
		memcpy(&v, (uint8_t *)vp->devcfg + (off - DEVCFG_OFF), size);
		return v;
	}
	if (off == ISR_OFF)
		return 0;
	CU_FAIL("read outside the device's regions");
	return 0xffffffffu;
}

static void mmio_write(void *ctx, uint64_t addr, unsigned int size, uint32_t v)
{
	uint64_t off = addr - BAR_BASE;

	if (off < COMMON_OFF + 0x38) {
		common_write((uint32_t)(off - COMMON_OFF), v);
		return;
	}
	if (vp->ops->devcfg_write && off >= DEVCFG_OFF && off < DEVCFG_OFF + vp->devcfg_len) {
		vp->ops->devcfg_write((uint32_t)(off - DEVCFG_OFF), size, v);
		return;
	}
	for (unsigned int i = 0; i < vp->nq && size == 2; i++) {
		if (off != NOTIFY_OFF + (uint64_t)vp->q[i].noff * NOTIFY_MULT)
			continue;
		if (vp->ops->notify && vp->ops->notify(i, v))
			return;
		break;
	}
	CU_FAIL("write outside the device's registers");
}

const struct vpci_env fake_env = {
	.cfg_read8 = cfg_read8, .cfg_read16 = cfg_read16, .cfg_read32 = cfg_read32,
	.cfg_write16 = cfg_write16, .bar_map = bar_map,
	.mmio_read = mmio_read, .mmio_write = mmio_write,
};

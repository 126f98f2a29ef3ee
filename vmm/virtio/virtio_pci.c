/* virtio 1.x modern PCI transport (owner: virtio_pci.c; API and layout in
 * vmm/virtio/virtio_pci.h).
 *
 * The common-config register file is described as data: vp_regs[] says for
 * each field its width and the rules a guest write must pass (read-only,
 * per-queue and so needing a valid queue_select, frozen once the queue is
 * enabled, frozen once FEATURES_OK is set); only what a write means is code.
 * Everything else a guest can get wrong reads back as the device's answer:
 * a queue_size that is not a power of two ≤ the maximum is not taken, an
 * MSI-X vector the function does not have reads back VIRTIO_MSI_NO_VECTOR,
 * FEATURES_OK stays clear for features we did not offer or without
 * VERSION_1, status bits cannot be cleared except by writing 0 (reset).
 *
 * Notifications and interrupts (ioeventfds, call-fd relays) are in
 * virtio_pci_notify.c.
 *
 * Locking: vp->lock guards the register file and is held across the
 * device's activate/reset/call_changed; order vp->lock -> device locks ->
 * msix. status, isr, config_generation and msix_config are atomics so a
 * device can flag NEEDS_RESET from any thread without vp->lock. bar_moved
 * runs under the PCI bus lock and takes only ioev_lock. The PCI_CFG window
 * runs BAR accesses from config_write, i.e. under the bus lock (allowed:
 * bus lock -> device locks); only firmware uses it. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

#define VP_TRANSPORT_FEATURES (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM) | \
			       BIT(VIRTIO_RING_F_EVENT_IDX) | \
			       BIT(VIRTIO_RING_F_INDIRECT_DESC))
#define VP_DEVICE_FEATURES    (BIT(24) - 1)     /* bits 0-23: device type specific */
/* Status bits a driver sets; NEEDS_RESET is the device's. */
#define VP_DRIVER_STATUS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
			  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK | \
			  VIRTIO_CONFIG_S_FAILED)
#define VP_CFGCAP_LEN    sizeof(struct virtio_pci_cfg_cap)

enum {
	VPR_RO    = 1 << 0,   /* writes dropped */
	VPR_QUEUE = 1 << 1,   /* the selected queue's: needs queue_select < num_queues */
	VPR_QLOCK = 1 << 2,   /* writes dropped once that queue is enabled */
	VPR_FLOCK = 1 << 3,   /* writes dropped once FEATURES_OK is set */
	VPR_ADDR  = 1 << 4,   /* low half of a 64-bit ring address (8-byte access ok) */
};

static const struct vp_reg {
	uint8_t off, width, flags;
} vp_regs[] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4, 0 },
	{ VIRTIO_PCI_COMMON_DF, 4, VPR_RO },
	{ VIRTIO_PCI_COMMON_GFSELECT, 4, 0 },
	{ VIRTIO_PCI_COMMON_GF, 4, VPR_FLOCK },
	{ VIRTIO_PCI_COMMON_MSIX, 2, 0 },
	{ VIRTIO_PCI_COMMON_NUMQ, 2, VPR_RO },
	{ VIRTIO_PCI_COMMON_STATUS, 1, 0 },
	{ VIRTIO_PCI_COMMON_CFGGENERATION, 1, VPR_RO },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2, 0 },
	{ VIRTIO_PCI_COMMON_Q_SIZE, 2, VPR_QUEUE | VPR_QLOCK },
	{ VIRTIO_PCI_COMMON_Q_MSIX, 2, VPR_QUEUE | VPR_QLOCK },
	{ VIRTIO_PCI_COMMON_Q_ENABLE, 2, VPR_QUEUE },
	{ VIRTIO_PCI_COMMON_Q_NOFF, 2, VPR_QUEUE | VPR_RO },
	{ VIRTIO_PCI_COMMON_Q_DESCLO, 4, VPR_QUEUE | VPR_QLOCK | VPR_ADDR },
	{ VIRTIO_PCI_COMMON_Q_DESCHI, 4, VPR_QUEUE | VPR_QLOCK },
	{ VIRTIO_PCI_COMMON_Q_AVAILLO, 4, VPR_QUEUE | VPR_QLOCK | VPR_ADDR },
	{ VIRTIO_PCI_COMMON_Q_AVAILHI, 4, VPR_QUEUE | VPR_QLOCK },
	{ VIRTIO_PCI_COMMON_Q_USEDLO, 4, VPR_QUEUE | VPR_QLOCK | VPR_ADDR },
	{ VIRTIO_PCI_COMMON_Q_USEDHI, 4, VPR_QUEUE | VPR_QLOCK },
};

static const struct vp_reg *vp_reg_find(unsigned int off)
{
	for (size_t i = 0; i < ARRAY_SIZE(vp_regs); i++)
		if (vp_regs[i].off == off)
			return &vp_regs[i];
	return NULL;   /* gaps and queue_notify_data/queue_reset (not offered) */
}

static uint8_t vp_status(struct virtio_pci *vp)
{
	return __atomic_load_n(&vp->status, __ATOMIC_ACQUIRE);
}

static void vp_config_irq(struct virtio_pci *vp)
{
	uint16_t v = __atomic_load_n(&vp->msix_config, __ATOMIC_ACQUIRE);

	__atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_ACQ_REL);
	if (v != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vp->msix, v);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	__atomic_fetch_add(&vp->config_generation, 1, __ATOMIC_ACQ_REL);
	vp_config_irq(vp);
}

void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why)
{
	uint8_t old = __atomic_fetch_or(&vp->status, VIRTIO_CONFIG_S_NEEDS_RESET,
					__ATOMIC_ACQ_REL);

	if (!(old & VIRTIO_CONFIG_S_NEEDS_RESET))
		log_warn("%s %02x: %s: device needs reset", vp->ops->name, vp->pci.slot, why);
	vp_config_irq(vp);
}

static bool vp_part_ok(struct dma_as *as, uint64_t iova, uint64_t len, uint64_t align,
		       unsigned int access)
{
	int err;

	return !(iova & (align - 1)) && dma_map_whole(as, iova, len, access, &err);
}

bool virtio_pci_ring_ok(struct dma_as *as, uint16_t num, uint64_t desc, uint64_t avail,
			uint64_t used)
{
	/* Split ring parts with their event-index fields (virtio 1.x, 2.7),
	 * with the access vq_init() will ask for. */
	return as && num && !(num & (num - 1)) &&
	       vp_part_ok(as, desc, 16ULL * num, 16, DMA_READ) &&
	       vp_part_ok(as, avail, 6 + 2ULL * num, 2, DMA_READ) &&
	       vp_part_ok(as, used, 6 + 8ULL * num, 4, DMA_RW);
}

static struct virtio_pci_queue *vp_cur_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->p.num_queues ? &vp->q[vp->queue_select] : NULL;
}

/* A vector the guest writes: one the function has, or NO_VECTOR. */
static uint16_t vp_vector(struct virtio_pci *vp, uint32_t v)
{
	return v < vp->msix.nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void vp_drain(int fd)
{
	uint64_t n;

	if (fd >= 0 && read(fd, &n, sizeof(n)) < 0)
		return;   /* EAGAIN: nothing pending */
}

/* The register file's reset values. Called with vp->lock held (or before
 * the device is visible). */
static void vp_reset_state(struct virtio_pci *vp)
{
	vp->activated = false;
	vp->dfselect = vp->gfselect = 0;
	vp->guest_features = 0;
	vp->queue_select = 0;
	vp->pci.dma = &vp->vm->dma;   /* bypass until ACCESS_PLATFORM is accepted */
	__atomic_store_n(&vp->msix_config, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < vp->p.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];

		q->size = vp->p.queue_max;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->enable = 0;
		q->desc = q->avail = q->used = 0;
		q->call_fd = -1;
		__atomic_store_n(&q->irq_vector, -1, __ATOMIC_RELEASE);
		vp_drain(q->kick_fd);
		vp_drain(q->relay_fd);
	}
	__atomic_store_n(&vp->isr, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vp->status, 0, __ATOMIC_RELEASE);
}

/* DRIVER_OK was just set. Called with vp->lock held. */
static void vp_activate(struct virtio_pci *vp)
{
	struct virtio_queue qs[VIRTIO_PCI_MAX_QUEUES];
	unsigned int nr = 0;
	int r;

	if (vp_status(vp) & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;   /* a bad ring was reported already */
	for (unsigned int i = 0; i < vp->p.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];

		if (!q->enable)
			continue;
		/* Checked at enable and frozen since; checked again because
		 * this is the last stop before a backend dereferences them. */
		if (!virtio_pci_ring_ok(vp->pci.dma, q->size, q->desc, q->avail, q->used)) {
			virtio_pci_needs_reset(vp, "ring outside guest RAM");
			return;
		}
		q->call_fd = virtio_pci_call_fd(vp, q);
		qs[nr++] = (struct virtio_queue){
			.index = i, .size = q->size,
			.desc_gpa = q->desc, .avail_gpa = q->avail, .used_gpa = q->used,
			.dma = vp->pci.dma,
			.kick_fd = q->kick_fd, .call_fd = q->call_fd,
		};
	}
	vp->activated = true;
	r = vp->ops->activate ? vp->ops->activate(vp, vp->guest_features, qs, nr) : 0;
	if (r)
		virtio_pci_needs_reset(vp, "activation failed");
}

static void vp_reset(struct virtio_pci *vp)
{
	if (vp->ops->reset)
		vp->ops->reset(vp);
	vp_reset_state(vp);
}

static void vp_set_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp_status(vp), add;

	if (!v) {
		vp_reset(vp);
		return;
	}
	add = v & ~old & VP_DRIVER_STATUS;
	if (add & VIRTIO_CONFIG_S_FEATURES_OK &&
	    (!(vp->guest_features & BIT(VIRTIO_F_VERSION_1)) ||
	     (vp->guest_features & ~vp->host_features))) {
		log_debug("%s: features %#llx refused", vp->ops->name,
			  (unsigned long long)vp->guest_features);
		add &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if (add & VIRTIO_CONFIG_S_DRIVER_OK && !((old | add) & VIRTIO_CONFIG_S_FEATURES_OK))
		add &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK;
	/* The features are frozen now: with ACCESS_PLATFORM the rings and
	 * buffers are IOVAs of the function's VT-d address space; without it
	 * the device bypasses the IOMMU, as the virtio spec lets it. */
	if (add & VIRTIO_CONFIG_S_FEATURES_OK)
		vp->pci.dma = (vp->guest_features & BIT(VIRTIO_F_ACCESS_PLATFORM)) ?
			      vp->dma_platform : &vp->vm->dma;
	__atomic_fetch_or(&vp->status, add, __ATOMIC_ACQ_REL);
	if (add & VIRTIO_CONFIG_S_DRIVER_OK)
		vp_activate(vp);
}

static void vp_queue_enable(struct virtio_pci *vp, struct virtio_pci_queue *q, uint32_t v)
{
	/* 1 is the only value a driver writes; queues join before DRIVER_OK. */
	if (v != 1 || q->enable || (vp_status(vp) & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	q->enable = 1;
	if (!virtio_pci_ring_ok(vp->pci.dma, q->size, q->desc, q->avail, q->used))
		virtio_pci_needs_reset(vp, "queue enabled with a ring outside guest RAM");
}

static uint32_t vp_half(uint64_t v, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(v >> (32 * sel)) : 0;
}

static void vp_set_half(uint64_t *v, unsigned int hi, uint32_t val)
{
	*v = hi ? (*v & 0xffffffffULL) | (uint64_t)val << 32
		: (*v & ~0xffffffffULL) | val;
}

static uint32_t vp_reg_read(struct virtio_pci *vp, const struct vp_reg *r,
			    struct virtio_pci_queue *q)
{
	switch (r->off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vp->dfselect;
	case VIRTIO_PCI_COMMON_DF: return vp_half(vp->host_features, vp->dfselect);
	case VIRTIO_PCI_COMMON_GFSELECT: return vp->gfselect;
	case VIRTIO_PCI_COMMON_GF: return vp_half(vp->guest_features, vp->gfselect);
	case VIRTIO_PCI_COMMON_MSIX: return __atomic_load_n(&vp->msix_config, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_NUMQ: return vp->p.num_queues;
	case VIRTIO_PCI_COMMON_STATUS: return vp_status(vp);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return __atomic_load_n(&vp->config_generation, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_Q_SELECT: return vp->queue_select;
	case VIRTIO_PCI_COMMON_Q_SIZE: return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX: return q->msix_vector;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q->enable;
	case VIRTIO_PCI_COMMON_Q_NOFF: return (uint32_t)(q - vp->q);
	default: {
		const uint64_t a[] = { q->desc, q->avail, q->used };
		unsigned int rel = r->off - VIRTIO_PCI_COMMON_Q_DESCLO;

		return vp_half(a[rel / 8], rel % 8 != 0);
	}
	}
}

/* A write that passed vp_regs[]'s rules. Called with vp->lock held. */
static void vp_reg_write(struct virtio_pci *vp, const struct vp_reg *r,
			 struct virtio_pci_queue *q, uint32_t v)
{
	switch (r->off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->gfselect < 2)
			vp_set_half(&vp->guest_features, vp->gfselect, v);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		__atomic_store_n(&vp->msix_config, vp_vector(vp, v), __ATOMIC_RELEASE);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		vp_set_status(vp, (uint8_t)v);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (v && !(v & (v - 1)) && v <= vp->p.queue_max)
			q->size = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		q->msix_vector = vp_vector(vp, v);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		vp_queue_enable(vp, q, v);
		break;
	default: {
		/* desc, avail, used: lo/hi pairs 8 bytes apart from 32 on. */
		uint64_t *a[] = { &q->desc, &q->avail, &q->used };
		unsigned int rel = r->off - VIRTIO_PCI_COMMON_Q_DESCLO;

		vp_set_half(a[rel / 8], rel % 8 != 0, v);
		break;
	}
	}
}

/* One field access; reads come in zeroed. */
static void vp_common_field(struct virtio_pci *vp, const struct vp_reg *r, uint8_t *data,
			    bool is_write)
{
	struct virtio_pci_queue *q = vp_cur_queue(vp);
	uint32_t v;

	if ((r->flags & VPR_QUEUE) && !q)
		return;
	if (!is_write) {
		v = vp_reg_read(vp, r, q);
		for (unsigned int i = 0; i < r->width; i++)
			data[i] = (uint8_t)(v >> (8 * i));
		return;
	}
	if ((r->flags & VPR_RO) || ((r->flags & VPR_QLOCK) && q->enable) ||
	    ((r->flags & VPR_FLOCK) && (vp_status(vp) & VIRTIO_CONFIG_S_FEATURES_OK)))
		return;
	v = r->width == 4 ? get_le32(data) : r->width == 2 ? get_le16(data) : data[0];
	vp_reg_write(vp, r, q, v);
}

static void vp_common_access(struct virtio_pci *vp, unsigned int off, uint8_t *data,
			     unsigned int len, bool is_write)
{
	const struct vp_reg *r = vp_reg_find(off);

	if (!r)
		return;
	pthread_mutex_lock(&vp->lock);
	if (r->width == len) {
		vp_common_field(vp, r, data, is_write);
	} else if (len == 8 && (r->flags & VPR_ADDR)) {
		/* A 64-bit access to a ring address: low half, then high. */
		vp_common_field(vp, r, data, is_write);
		vp_common_field(vp, r + 1, data + 4, is_write);
	}
	pthread_mutex_unlock(&vp->lock);
}

/* An access to the virtio BAR; reads come in zeroed. */
static void vp_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned int len,
		      bool is_write)
{
	if (off < VIRTIO_PCI_COMMON_LEN) {
		vp_common_access(vp, (unsigned int)off, data, len, is_write);
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		/* Reading ISR acknowledges it (INTx semantics; MSI-X guests
		 * never need to). */
		if (!is_write)
			data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
	} else if (off >= VIRTIO_PCI_DEVCFG_OFF && off < VIRTIO_PCI_DEVCFG_OFF + VIRTIO_PCI_DEVCFG_MAX) {
		uint32_t rel = (uint32_t)(off - VIRTIO_PCI_DEVCFG_OFF);

		if (!range_ok(rel, len, vp->p.config_size))
			return;
		if (is_write && vp->ops->config_write)
			vp->ops->config_write(vp, rel, data, len);
		else if (!is_write && vp->ops->config_read)
			vp->ops->config_read(vp, rel, data, len);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF && is_write) {
		uint64_t rel = off - VIRTIO_PCI_NOTIFY_OFF;
		uint64_t one = 1;

		if (rel % VIRTIO_PCI_NOTIFY_MULT || rel / VIRTIO_PCI_NOTIFY_MULT >= vp->p.num_queues)
			return;
		if (write(vp->q[rel / VIRTIO_PCI_NOTIFY_MULT].kick_fd, &one, sizeof(one)) < 0)
			return;   /* EAGAIN: a kick is pending already */
	}
}

static void vp_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			  unsigned int len, bool is_write)
{
	struct virtio_pci *vp = dev->opaque;

	if (bar == VIRTIO_PCI_MSIX_BAR && msix_bar_access(&vp->msix, bar, offset, data, len,
							  is_write))
		return;
	if (!is_write)
		memset(data, 0, len);
	if (bar == VIRTIO_PCI_BAR && len && len <= 8)
		vp_access(vp, offset, data, len, is_write);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window: pci_cfg_data is a BAR access of
 * cap.length bytes at cap.offset. Config reads are plain memory to pci.c,
 * so the data field is refreshed by a BAR read whenever the window is
 * re-aimed (ISR excepted: reading it has a side effect). Called from
 * config_write, under the bus lock. */
static void vp_cfg_window(struct virtio_pci *vp, unsigned int offset, unsigned int len)
{
	uint8_t *cap = vp->pci.cfg + vp->cfgcap;
	uint32_t off = get_le32(cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t clen = get_le32(cap + VIRTIO_PCI_CAP_LENGTH);
	uint8_t buf[4] = { 0 };
	bool data_write = offset >= vp->cfgcap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);

	if (cap[VIRTIO_PCI_CAP_BAR] != VIRTIO_PCI_BAR || (clen != 1 && clen != 2 && clen != 4) ||
	    off % clen || !range_ok(off, clen, VIRTIO_PCI_BAR_SIZE))
		return;
	if (data_write) {
		memcpy(buf, cap + 16, clen);
		vp_access(vp, off, buf, clen, true);
		return;
	}
	if (off != VIRTIO_PCI_ISR_OFF)
		vp_access(vp, off, buf, clen, false);
	memcpy(cap + 16, buf, sizeof(buf));
}

static void vp_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			    uint32_t old)
{
	struct virtio_pci *vp = dev->opaque;

	msix_config_write(&vp->msix, offset, len, old);
	if (offset + len > vp->cfgcap + 4 && offset < vp->cfgcap + VP_CFGCAP_LEN)
		vp_cfg_window(vp, offset, len);
}

static void vp_bar_moved(struct pci_dev *dev, unsigned int bar, uint64_t addr)
{
	if (bar == VIRTIO_PCI_BAR)
		virtio_pci_notify_move(dev->opaque, addr);
}

static const struct pci_dev_ops vp_pci_ops = {
	.name = "virtio-pci",
	.bar_access = vp_bar_access,
	.config_write = vp_config_write,
	.bar_moved = vp_bar_moved,
};

static int vp_add_cap(struct virtio_pci *vp, uint8_t type, unsigned int len, uint32_t off,
		      uint32_t length)
{
	int c = pci_dev_add_cap(&vp->pci, PCI_CAP_ID_VNDR, len);
	uint8_t *cap;

	if (c < 0)
		return c;
	cap = vp->pci.cfg + c;
	cap[VIRTIO_PCI_CAP_LEN] = (uint8_t)len;
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	cap[VIRTIO_PCI_CAP_BAR] = type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR;
	put_le32(cap + VIRTIO_PCI_CAP_OFFSET, off);
	put_le32(cap + VIRTIO_PCI_CAP_LENGTH, length);
	return c;
}

static int vp_build(struct virtio_pci *vp)
{
	struct pci_dev *d = &vp->pci;
	int c, r;

	pci_dev_init(d, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + vp->p.device_id,
		     vp->p.class_code, 1, &vp_pci_ops, vp);
	put_le16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	put_le16(d->cfg + PCI_SUBSYSTEM_ID, vp->p.device_id);
	if ((r = pci_dev_set_bar(d, VIRTIO_PCI_MSIX_BAR, PCI_BAR_MEM32, VIRTIO_PCI_MSIX_BAR_SIZE,
				 false)) ||
	    (r = pci_dev_set_bar(d, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, false)))
		return r;
	if ((c = vp_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap),
			    VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN)) < 0 ||
	    (c = vp_add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, sizeof(struct virtio_pci_notify_cap),
			    VIRTIO_PCI_NOTIFY_OFF,
			    vp->p.num_queues * VIRTIO_PCI_NOTIFY_MULT)) < 0)
		return c;
	put_le32(d->cfg + c + VIRTIO_PCI_NOTIFY_CAP_MULT, VIRTIO_PCI_NOTIFY_MULT);
	if ((c = vp_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap),
			    VIRTIO_PCI_ISR_OFF, 1)) < 0 ||
	    (vp->p.config_size &&
	     (c = vp_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap),
			     VIRTIO_PCI_DEVCFG_OFF, vp->p.config_size)) < 0) ||
	    (c = vp_add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, VP_CFGCAP_LEN, 0, 0)) < 0)
		return c;
	/* The window's bar, offset, length and data are the driver's. */
	vp->cfgcap = (unsigned int)c;
	d->wmask[c + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(d->wmask + c + VIRTIO_PCI_CAP_OFFSET, 0xff, 12);
	return msix_init(&vp->msix, d, &vp->vm->gsi, vp->p.num_queues + 1, VIRTIO_PCI_MSIX_BAR,
			 VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_PBA);
}

int virtio_pci_init(struct virtio_pci *vp, struct vm *vm, const struct virtio_dev_ops *ops,
		    const struct virtio_pci_params *p, void *priv)
{
	int r;

	memset(vp, 0, sizeof(*vp));
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		vp->q[i] = (struct virtio_pci_queue){ .vp = vp, .kick_fd = -1, .relay_fd = -1,
						      .call_fd = -1, .irq_vector = -1 };
	if (!p->num_queues || p->num_queues > VIRTIO_PCI_MAX_QUEUES || p->queue_max < 2 ||
	    p->queue_max > 32768 || (p->queue_max & (p->queue_max - 1)) ||
	    p->config_size > VIRTIO_PCI_DEVCFG_MAX)
		return -EINVAL;
	vp->vm = vm;
	vp->ops = ops;
	vp->priv = priv;
	vp->p = *p;
	pthread_mutex_init(&vp->lock, NULL);
	pthread_mutex_init(&vp->ioev_lock, NULL);
	vp->host_features = BIT(VIRTIO_F_VERSION_1);
	if (ops->get_features)
		vp->host_features |= ops->get_features(vp) &
				     (VP_DEVICE_FEATURES | VP_TRANSPORT_FEATURES);
	r = virtio_pci_notify_init(vp);
	if (r)
		return r;
	r = vp_build(vp);
	if (r)
		return r;
	vp_reset_state(vp);
	/* Bus mastering starts in the VM's identity address space; behind
	 * --iommu the function's own (vm_dma_as, known once it has a slot)
	 * takes over when the driver accepts VIRTIO_F_ACCESS_PLATFORM. */
	vp->pci.dma = &vm->dma;
	r = pci_register(&vm->pci, &vp->pci);
	if (r)
		return r;
	vp->dma_platform = vm->vtd ? vm_dma_as(vm, pci_dev_rid(&vp->pci)) : NULL;
	if (!vp->dma_platform)
		vp->host_features &= ~BIT(VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp->vm)
		return;
	virtio_pci_notify_destroy(vp);
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	pthread_mutex_destroy(&vp->ioev_lock);
	vp->vm = NULL;
}

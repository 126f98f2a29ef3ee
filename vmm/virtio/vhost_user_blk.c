/* vhost-user-blk: one virtio-blk PCI function (vmm/virtio/virtio_pci.h) per --disk,
 * whose queues a backend process serves straight from guest memory over
 * vhost-user (include/isle/vhost_user.h): an isle-tapdisk that isle starts
 * (vmm/control/backend.h), or any vhost-user-blk server given as socket=PATH.
 *
 * isle only brokers: at init it learns the backend's features and config
 * space (capacity etc., cached here and served to the guest); at DRIVER_OK
 * it hands over the memory table, an inflight buffer and each ring with
 * the transport's kick (ioeventfd) and call (irqfd or relay) eventfds; on
 * the driver's reset it stops the rings. Requests never pass through isle.
 *
 * What is device-specific lives here: the features offered (and that a
 * new backend keeps them), the config space (capacity, queue count),
 * writeback mode and the inflight buffer. The connection, the rings and
 * reconnecting are vmm/virtio/vhost_user_dev.c's: when the backend goes away the
 * guest keeps running and its requests simply wait; a new backend gets
 * the whole session again, with the same inflight buffer (so it resubmits
 * what was in flight) and the rings based at the used rings in guest
 * memory. The guest sees no error; a capacity changed meanwhile is
 * announced with a config interrupt.
 *
 * Locking: b->d.lock serializes all vhost-user traffic and the session
 * state, inflight included (order vp->lock -> d.lock -> msix, see
 * vhost_user_dev.h). The config cache has its own lock so guest config
 * reads never wait on a backend. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "control/backend.h"
#include "virtio/vhost_user_dev.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

#define VUBLK_CONFIG_SIZE  60        /* virtio_blk_config through write_zeroes */
_Static_assert(VUBLK_CONFIG_SIZE <= VUD_CONFIG_MAX, "the config fits the cache");
#define VUBLK_QUEUE_MAX    256
#define VUBLK_CLASS        0x010000  /* mass storage (what guests expect of virtio-blk) */
#define VUBLK_PROTOCOL (BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
			BIT(VHOST_USER_PROTOCOL_F_CONFIG) | \
			BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
/* What isle can offer of a backend's features: the blk bits whose config
 * fields it passes through, and the ring features the transport handles. */
#define VUBLK_FEATURES (BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |         \
			BIT(VIRTIO_BLK_F_GEOMETRY) | BIT(VIRTIO_BLK_F_RO) |                \
			BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |             \
			BIT(VIRTIO_BLK_F_TOPOLOGY) | BIT(VIRTIO_BLK_F_CONFIG_WCE) |        \
			BIT(VIRTIO_BLK_F_MQ) | BIT(VIRTIO_BLK_F_DISCARD) |                 \
			BIT(VIRTIO_BLK_F_WRITE_ZEROES) | BIT(VIRTIO_F_VERSION_1) |         \
			BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC))

struct vublk {
	struct vud d;                    /* d.priv = this; the session, d.lock */
	const struct vm_disk *disk;
	struct virtio_pci vp;

	/* Under d.lock: */
	unsigned int num_queues;
	bool inflight_refused;           /* the backend nacked GET_INFLIGHT_FD */
	struct vhu_inflight inflight;    /* fd < 0: none yet */
};

static int vublk_read_config(struct vublk *b, uint8_t *cfg)
{
	/* Older or smaller back-ends refuse the full size: capacity is what
	 * matters. */
	int r = vhu_front_get_config(&b->d.f, 0, cfg, VUBLK_CONFIG_SIZE);

	if (r == -EIO) {
		memset(cfg, 0, VUBLK_CONFIG_SIZE);
		r = vhu_front_get_config(&b->d.f, 0, cfg, sizeof(uint64_t));
	}
	return r;
}

/* What every connection starts with; the first one also learns what the
 * guest will be offered. Called with d->lock held. */
static int vublk_handshake(struct vud *d, bool first)
{
	struct vublk *b = d->priv;
	uint8_t cfg[VUBLK_CONFIG_SIZE] = { 0 };
	uint64_t feat, pf, nq;
	bool changed = false;
	int r;

	if ((r = vud_hello(d, &feat, &pf, &nq)) || (r = vublk_read_config(b, cfg)))
		return r;
	if (first) {
		d->backend_features = feat;
		d->offered = (feat & VUBLK_FEATURES) | vud_platform_offer(d, feat, pf);
		b->num_queues = 1;
		if (d->offered & BIT(VIRTIO_BLK_F_MQ)) {
			uint16_t n = get_le16(cfg + offsetof(struct virtio_blk_config, num_queues));

			b->num_queues = MAX(1u, MIN(MIN(n, (unsigned int)nq),
						    (unsigned int)VIRTIO_PCI_MAX_QUEUES));
			put_le16(cfg + offsetof(struct virtio_blk_config, num_queues),
				 (uint16_t)b->num_queues);
		}
	} else {
		/* The guest was offered d->offered: a new backend must keep it. */
		if (d->offered & ~feat || nq < b->num_queues) {
			log_error("%s: the new backend lacks features %#llx or queues", d->name,
				  (unsigned long long)(d->offered & ~feat));
			return -ENOTSUP;
		}
		d->backend_features = feat;
	}
	d->protocol = pf;
	pthread_mutex_lock(&b->d.cfg_lock);
	if (first) {
		memcpy(b->d.config, cfg, sizeof(cfg));
	} else if (memcmp(b->d.config, cfg, sizeof(uint64_t))) {
		/* Resized while it was away: the capacity is the news. */
		memcpy(b->d.config, cfg, sizeof(uint64_t));
		changed = true;
	}
	pthread_mutex_unlock(&b->d.cfg_lock);
	if (changed)
		virtio_pci_config_changed(&b->vp);
	return 0;
}

/* One inflight buffer for all queues needs one queue size. */
static uint16_t vublk_inflight_size(const struct vud *d)
{
	for (unsigned int i = 1; i < d->nr_q; i++)
		if (d->q[i].size != d->q[0].size)
			return 0;
	return d->nr_q ? d->q[0].size : 0;
}

/* The inflight buffer, between the memory table and the rings: the same
 * one for every backend of a driver session. Called with d->lock held. */
static int vublk_start(struct vud *d)
{
	struct vublk *b = d->priv;
	uint16_t qsize = vublk_inflight_size(d);
	int r;

	if (!(d->protocol & BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) || !qsize ||
	    b->inflight_refused)
		return 0;
	if (b->inflight.fd < 0 &&
	    (r = vhu_front_get_inflight_fd(&d->f, (uint16_t)b->num_queues, qsize, &b->inflight))) {
		b->inflight.fd = -1;
		if (r != -EIO)
			return r;
		/* Not again this session: the backend may also have dropped
		 * the connection over it. */
		b->inflight_refused = true;
		log_warn("%s: no inflight buffer: a backend restart may lose requests", d->name);
		return -ECONNRESET;
	}
	if (b->inflight.fd >= 0 && (r = vhu_front_set_inflight_fd(&d->f, &b->inflight)))
		return r;
	return 0;
}

static const struct vud_ops vublk_vud_ops = {
	.protocol = VUBLK_PROTOCOL,
	.protocol_need = BIT(VHOST_USER_PROTOCOL_F_CONFIG),
	.protocol_need_what = "its config space (CONFIG)",
	.handshake = vublk_handshake,
	.start = vublk_start,
	.while_away = "guest I/O waits",
	.on_return = "",
};

static void vublk_config_write(struct virtio_pci *vp, uint32_t offset, const void *data,
			       unsigned int len)
{
	const uint32_t wce = offsetof(struct virtio_blk_config, wce);
	struct vublk *b = vud_priv(vp);
	uint8_t v = *(const uint8_t *)data;
	int r;

	/* writeback is the only field a driver writes. */
	if (offset != wce || len != 1 || !(b->d.offered & BIT(VIRTIO_BLK_F_CONFIG_WCE)) || v > 1)
		return;
	pthread_mutex_lock(&b->d.cfg_lock);
	b->d.config[wce] = v;
	pthread_mutex_unlock(&b->d.cfg_lock);
	pthread_mutex_lock(&b->d.lock);
	if (b->d.f.sock >= 0 && (r = vhu_front_set_config(&b->d.f, wce, &v, 1)))
		vud_failed(&b->d, "writeback mode", r);
	pthread_mutex_unlock(&b->d.lock);
}

static int vublk_activate(struct virtio_pci *vp, uint64_t features, const struct virtio_queue *q,
			  unsigned int nr)
{
	struct vublk *b = vud_priv(vp);
	int r;

	pthread_mutex_lock(&b->d.lock);
	vud_set_session(&b->d, features, q, nr);
	r = vud_activate(&b->d);
	pthread_mutex_unlock(&b->d.lock);
	return r;
}

static void vublk_reset(struct virtio_pci *vp)
{
	struct vublk *b = vud_priv(vp);

	pthread_mutex_lock(&b->d.lock);
	vud_stop(&b->d);
	b->inflight_refused = false;
	/* A new driver session starts with nothing in flight. */
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	b->inflight.fd = -1;
	pthread_mutex_unlock(&b->d.lock);
}

static const struct virtio_dev_ops vublk_ops = {
	.name = "vhost-user-blk",
	.get_features = vud_get_features,
	.config_read = vud_config_read,
	.config_write = vublk_config_write,
	.activate = vublk_activate,
	.reset = vublk_reset,
	.call_changed = vud_call_changed,
};

/* Starts (or finds) the backend and connects. Returns the socket. */
static int vublk_backend(struct vublk *b)
{
	const struct vm_disk *d = b->disk;
	char exe[PATH_MAX], sockname[VM_DISK_VDEV_MAX + 8];
	int r;

	if (d->socket)
		return vud_connect_socket(&b->d, d->spec);
	r = backend_tapdisk_path(exe, sizeof(exe));
	if (r) {
		log_error("%s: isle-tapdisk not found at %s (set ISLE_TAPDISK)", b->d.name, exe);
		return r;
	}
	snprintf(sockname, sizeof(sockname), "%s.sock", d->vdev);
	return vud_start_backend(&b->d,
				 (const char *const[]){ exe, "--socket", "%s", "--disk", d->spec,
							NULL },
				 sockname, NULL, 0);
}

static int vublk_init_one(struct vm *vm, struct vublk *b, const struct vm_disk *d)
{
	struct virtio_pci_params p;
	int s, r;

	vud_init(&b->d, vm, &vublk_vud_ops, b);
	b->disk = d;
	b->inflight.fd = -1;
	snprintf(b->d.name, sizeof(b->d.name), "disk %s", d->vdev);
	s = vublk_backend(b);
	if (s < 0)
		return s;
	if ((r = vud_connect(&b->d, s)))
		return r;
	p = (struct virtio_pci_params){
		.device_id = VIRTIO_ID_BLOCK, .class_code = VUBLK_CLASS,
		.num_queues = b->num_queues, .queue_max = VUBLK_QUEUE_MAX,
		.config_size = VUBLK_CONFIG_SIZE,
	};
	r = virtio_pci_init(&b->vp, vm, &vublk_ops, &p, &b->d);
	if (r)
		return r;
	vud_iotlb_attach(&b->d, b->vp.dma_platform);
	log_info("%s: %llu sectors via %s, %u queue(s), features %#llx, PCI slot %u", b->d.name,
		 (unsigned long long)get_le64(b->d.config), b->d.path, b->num_queues,
		 (unsigned long long)b->vp.host_features, b->vp.pci.slot);
	return 0;
}

static void vublk_exit_one(struct vublk *b)
{
	/* Off the bus first: no guest access reaches it from here on, and
	 * its BARs are free for a later device. */
	pci_unregister(&b->d.vm->pci, &b->vp.pci);
	vud_close(&b->d);
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	virtio_pci_destroy(&b->vp);
	vud_destroy(&b->d);
	free(b);
}

static void vublk_unrealize(struct device *dev)
{
	if (dev->priv)
		vublk_exit_one(dev->priv);
	dev->priv = NULL;
}

static int vublk_realize(struct device *dev)
{
	struct vublk *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	dev->priv = b;
	r = vublk_init_one(dev->vm, b, &dev->spec.disk);
	if (r)
		vublk_unrealize(dev);
	else
		dev->pci = &b->vp.pci;
	return r;
}

const struct device_type vhost_user_blk_type = {
	.name = "vhost-user-blk",
	.id_prefix = "disk",
	.kind = DEVICE_DISK,
	.realize = vublk_realize,
	.unrealize = vublk_unrealize,
};

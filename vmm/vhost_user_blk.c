/* vhost-user-blk: one virtio-blk PCI function (vmm/virtio_pci.h) per --disk,
 * whose queues a backend process serves straight from guest memory over
 * vhost-user (include/isle/vhost_user.h): an isle-tapdisk that isle starts
 * (vmm/backend.h), or any vhost-user-blk server given as socket=PATH.
 *
 * isle only brokers: at init it learns the backend's features and config
 * space (capacity etc., cached here and served to the guest); at DRIVER_OK
 * it hands over the memory table, an inflight buffer and each ring with
 * the transport's kick (ioeventfd) and call (irqfd or relay) eventfds; on
 * the driver's reset it stops the rings. Requests never pass through isle.
 *
 * Reconnect: the backend socket sits in vm->loop. When it closes (backend
 * killed, or a request to it failed and we shut the socket), the guest
 * keeps running and its requests simply wait; a timerfd retries the
 * connection every 100 ms, and a new backend gets the whole session again:
 * memory table, the same inflight buffer (so it resubmits what was in
 * flight), and the rings with their base taken from the used rings in guest
 * memory. The guest sees no error.
 *
 * Locking: b->lock serializes all vhost-user traffic and the session
 * state; it is taken by vCPU threads (activate/reset from the transport,
 * under vp->lock) and the main thread (socket and timer events, relay
 * upgrades under vp->lock), so the order is vp->lock -> b->lock -> msix.
 * The config cache has its own lock so guest config reads never wait on a
 * backend. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "vmm/backend.h"
#include "vmm/virtio_pci.h"
#include "vmm/vm.h"

#define BIT(n) (1ULL << (n))
#define VUBLK_CONFIG_SIZE  60        /* virtio_blk_config through write_zeroes */
#define VUBLK_QUEUE_MAX    256
#define VUBLK_CLASS        0x010000  /* mass storage (what guests expect of virtio-blk) */
#define VUBLK_TIMEOUT_S    5         /* a backend reply; then we reconnect */
#define VUBLK_RETRY_MS     100
#define VUBLK_START_MS     10000     /* an isle-tapdisk we started */
#define VUBLK_EXTERNAL_MS  3000      /* a socket= backend (started alongside us) */
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
	struct vm *vm;
	const struct vm_disk *disk;
	char name[32];                   /* "disk xvda" */
	char path[BACKEND_SOCK_MAX];     /* the backend's socket */
	struct backend proc;             /* the isle-tapdisk we started, if any */
	struct virtio_pci vp;

	pthread_mutex_t cfg_lock;
	uint8_t config[VUBLK_CONFIG_SIZE];

	pthread_mutex_t lock;
	struct vhu_front f;              /* f.sock < 0 while disconnected */
	uint64_t backend_features, offered, protocol;
	unsigned int num_queues;
	int timer_fd;
	unsigned int attempts;           /* reconnect attempts so far */
	/* The driver session (from activate), replayed on reconnect. */
	bool active, resume;
	bool inflight_refused;           /* the backend nacked GET_INFLIGHT_FD */
	uint64_t features;
	unsigned int nr_q;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	struct vhu_inflight inflight;    /* fd < 0: none yet */
};

static void vublk_timeouts(int sock)
{
	struct timeval tv = { .tv_sec = VUBLK_TIMEOUT_S };

	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int vublk_read_config(struct vublk *b, uint8_t *cfg)
{
	/* Older or smaller back-ends refuse the full size: capacity is what
	 * matters. */
	int r = vhu_front_get_config(&b->f, 0, cfg, VUBLK_CONFIG_SIZE);

	if (r == -EIO) {
		memset(cfg, 0, VUBLK_CONFIG_SIZE);
		r = vhu_front_get_config(&b->f, 0, cfg, sizeof(uint64_t));
	}
	return r;
}

/* What every connection starts with; the first one also learns what the
 * guest will be offered. Called with b->lock held. */
static int vublk_handshake(struct vublk *b, bool first)
{
	uint8_t cfg[VUBLK_CONFIG_SIZE] = { 0 };
	uint64_t feat, pf = 0, nq = 1;
	bool changed = false;
	int r;

	vublk_timeouts(b->f.sock);
	if ((r = vhu_front_get_features(&b->f, &feat)))
		return r;
	if (feat & BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		if ((r = vhu_front_get_protocol_features(&b->f, &pf)))
			return r;
		pf &= VUBLK_PROTOCOL;
		if ((r = vhu_front_set_protocol_features(&b->f, pf)))
			return r;
	}
	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG))) {
		log_error("%s: the backend does not offer its config space (CONFIG)", b->name);
		return -ENOTSUP;
	}
	if ((r = vhu_front_set_owner(&b->f)) ||
	    ((pf & BIT(VHOST_USER_PROTOCOL_F_MQ)) && (r = vhu_front_get_queue_num(&b->f, &nq))) ||
	    (r = vublk_read_config(b, cfg)))
		return r;
	if (first) {
		b->backend_features = feat;
		b->offered = feat & VUBLK_FEATURES;
		b->num_queues = 1;
		if (b->offered & BIT(VIRTIO_BLK_F_MQ)) {
			uint16_t n = get_le16(cfg + offsetof(struct virtio_blk_config, num_queues));

			b->num_queues = MAX(1u, MIN(MIN(n, (unsigned int)nq),
						    (unsigned int)VIRTIO_PCI_MAX_QUEUES));
			put_le16(cfg + offsetof(struct virtio_blk_config, num_queues),
				 (uint16_t)b->num_queues);
		}
	} else {
		/* The guest was offered b->offered: a new backend must keep it. */
		if (b->offered & ~feat || nq < b->num_queues) {
			log_error("%s: the new backend lacks features %#llx or queues", b->name,
				  (unsigned long long)(b->offered & ~feat));
			return -ENOTSUP;
		}
		b->backend_features = feat;
	}
	b->protocol = pf;
	pthread_mutex_lock(&b->cfg_lock);
	if (first) {
		memcpy(b->config, cfg, sizeof(cfg));
	} else if (memcmp(b->config, cfg, sizeof(uint64_t))) {
		/* Resized while it was away: the capacity is the news. */
		memcpy(b->config, cfg, sizeof(uint64_t));
		changed = true;
	}
	pthread_mutex_unlock(&b->cfg_lock);
	if (changed)
		virtio_pci_config_changed(&b->vp);
	return 0;
}

/* One inflight buffer for all queues needs one queue size. */
static uint16_t vublk_inflight_size(const struct vublk *b)
{
	for (unsigned int i = 1; i < b->nr_q; i++)
		if (b->q[i].size != b->q[0].size)
			return 0;
	return b->nr_q ? b->q[0].size : 0;
}

static int vublk_start_ring(struct vublk *b, const struct virtio_queue *q)
{
	uint8_t idx[2] = { 0 };
	uint16_t base = 0;
	int r;

	/* A restarted backend continues where the used ring is; with the
	 * inflight buffer it also resubmits what it had popped. */
	if (b->resume && gmem_read(&b->vm->gmem, q->used_gpa + 2, idx, sizeof(idx)) == 0)
		base = get_le16(idx);
	if ((r = vhu_front_set_vring_num(&b->f, q->index, q->size)) ||
	    (r = vhu_front_set_vring_base(&b->f, q->index, base)) ||
	    (r = vhu_front_set_vring_addr(&b->f, &b->vm->gmem, q->index, q->desc_gpa,
					  q->avail_gpa, q->used_gpa)) ||
	    (r = vhu_front_set_vring_call(&b->f, q->index, q->call_fd)) ||
	    (r = vhu_front_set_vring_kick(&b->f, q->index, q->kick_fd)))
		return r;
	if (b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		r = vhu_front_set_vring_enable(&b->f, q->index, true);
	return r;
}

/* Hands the session to a connected backend. Called with b->lock held. */
static int vublk_start(struct vublk *b)
{
	uint64_t feat = b->features | (b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	uint16_t qsize = vublk_inflight_size(b);
	bool resumed;
	int r;

	if ((r = vhu_front_set_features(&b->f, feat)) ||
	    (r = vhu_front_set_mem_table(&b->f, &b->vm->gmem)))
		return r;
	if ((b->protocol & BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) && qsize &&
	    !b->inflight_refused) {
		if (b->inflight.fd < 0 &&
		    (r = vhu_front_get_inflight_fd(&b->f, (uint16_t)b->num_queues, qsize,
						   &b->inflight))) {
			b->inflight.fd = -1;
			if (r != -EIO)
				return r;
			/* Not again this session: the backend may also have
			 * dropped the connection over it. */
			b->inflight_refused = true;
			log_warn("%s: no inflight buffer: a backend restart may lose requests",
				 b->name);
			return -ECONNRESET;
		}
		if (b->inflight.fd >= 0 && (r = vhu_front_set_inflight_fd(&b->f, &b->inflight)))
			return r;
	}
	resumed = b->resume;
	b->resume = true;   /* from here on a backend may have used the rings */
	for (unsigned int i = 0; i < b->nr_q; i++)
		if ((r = vublk_start_ring(b, &b->q[i])))
			return r;
	/* The old backend may have taken a kick and died before popping what
	 * it announced: kick again (a spare kick only costs a look). */
	for (unsigned int i = 0; resumed && i < b->nr_q; i++)
		if (eventfd_write(b->q[i].kick_fd, 1) < 0)
			log_debug("%s: queue %u: kick: %s", b->name, b->q[i].index, strerror(errno));
	return 0;
}

static void vublk_arm(struct vublk *b, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = VUBLK_RETRY_MS * 1000000L;
	timerfd_settime(b->timer_fd, 0, &its, NULL);
}

/* The connection is gone or out of step: drop it; the timer reconnects.
 * Called with b->lock held, on the main thread. */
static void vublk_disconnect(struct vublk *b, const char *why)
{
	evloop_del(&b->vm->loop, b->f.sock);
	vhu_front_close(&b->f);
	b->attempts = 0;
	log_warn("%s: backend %s (%s); guest I/O waits, reconnecting every %d ms", b->name,
		 b->path, why, VUBLK_RETRY_MS);
	vublk_arm(b, true);
}

/* A request failed. The connection goes either way: shut it, so the main
 * loop sees it close and reconnects, and the new connection starts the
 * backend from a clean state (a vhost-user backend drops a connection on a
 * request it rejects anyway). A nack (-EIO) is the backend refusing what
 * the guest set up: the device then needs a reset. Anything else is the
 * connection: the session is replayed and the guest only waits. Called
 * with b->lock held. */
static int vublk_failed(struct vublk *b, const char *what, int r)
{
	log_warn("%s: %s: %s", b->name, what, strerror(-r));
	if (b->f.sock >= 0)
		shutdown(b->f.sock, SHUT_RDWR);
	return r == -EIO ? r : 0;
}

static void vublk_sock_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vublk *b = opaque;
	char c;
	ssize_t n;

	pthread_mutex_lock(&b->lock);
	if (fd == b->f.sock) {
		/* Replies are read by whoever sent the request, under b->lock;
		 * what is left for us is EOF, an error, or a message nobody
		 * asked for (the stream is then out of step). */
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN) ||
		    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
			vublk_disconnect(b, "closed");
		else if (n > 0)
			vublk_disconnect(b, "sent an unexpected message");
	}
	pthread_mutex_unlock(&b->lock);
}

static void vublk_retry(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vublk *b = opaque;
	uint64_t ticks;
	int s, r;

	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	pthread_mutex_lock(&b->lock);
	if (b->f.sock >= 0)
		goto disarm;
	b->attempts++;
	s = backend_connect(b->path, NULL, 0);
	if (s < 0)
		goto out;
	vhu_front_init(&b->f, s);
	r = vublk_handshake(b, false);
	if (!r && b->active)
		r = vublk_start(b);
	if (!r)
		r = evloop_add(loop, s, EPOLLIN | EPOLLRDHUP, vublk_sock_event, b);
	if (r) {
		if (b->attempts <= 3 || !(b->attempts % 100))   /* every 10 s at most */
			log_warn("%s: reconnect attempt %u failed: %s", b->name, b->attempts,
				 strerror(-r));
		vhu_front_close(&b->f);
		goto out;
	}
	log_info("%s: backend reconnected after %u attempt(s)%s", b->name, b->attempts,
		 b->active ? ", rings resumed" : "");
disarm:
	vublk_arm(b, false);
out:
	pthread_mutex_unlock(&b->lock);
}

static uint64_t vublk_get_features(struct virtio_pci *vp)
{
	struct vublk *b = vp->priv;

	return b->offered;
}

static void vublk_config_read(struct virtio_pci *vp, uint32_t offset, void *data,
			      unsigned int len)
{
	struct vublk *b = vp->priv;

	pthread_mutex_lock(&b->cfg_lock);
	memcpy(data, b->config + offset, len);
	pthread_mutex_unlock(&b->cfg_lock);
}

static void vublk_config_write(struct virtio_pci *vp, uint32_t offset, const void *data,
			       unsigned int len)
{
	const uint32_t wce = offsetof(struct virtio_blk_config, wce);
	struct vublk *b = vp->priv;
	uint8_t v = *(const uint8_t *)data;
	int r;

	/* writeback is the only field a driver writes. */
	if (offset != wce || len != 1 || !(b->offered & BIT(VIRTIO_BLK_F_CONFIG_WCE)) || v > 1)
		return;
	pthread_mutex_lock(&b->cfg_lock);
	b->config[wce] = v;
	pthread_mutex_unlock(&b->cfg_lock);
	pthread_mutex_lock(&b->lock);
	if (b->f.sock >= 0 && (r = vhu_front_set_config(&b->f, wce, &v, 1)))
		vublk_failed(b, "writeback mode", r);
	pthread_mutex_unlock(&b->lock);
}

static int vublk_activate(struct virtio_pci *vp, uint64_t features, const struct virtio_queue *q,
			  unsigned int nr)
{
	struct vublk *b = vp->priv;
	int r = 0;

	pthread_mutex_lock(&b->lock);
	b->features = features;
	b->nr_q = nr;
	memcpy(b->q, q, nr * sizeof(*q));
	b->active = true;
	b->resume = false;
	if (b->f.sock >= 0 && (r = vublk_start(b)))
		r = vublk_failed(b, "starting the rings", r);
	if (r)
		b->active = false;   /* nothing to replay: the guest must reset */
	pthread_mutex_unlock(&b->lock);
	return r;
}

static void vublk_reset(struct virtio_pci *vp)
{
	struct vublk *b = vp->priv;
	uint16_t base;
	int r = 0;

	pthread_mutex_lock(&b->lock);
	/* GET_VRING_BASE stops a ring and waits for its requests. */
	for (unsigned int i = 0; b->active && b->f.sock >= 0 && !r && i < b->nr_q; i++) {
		if (b->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
			r = vhu_front_set_vring_enable(&b->f, b->q[i].index, false);
		if (!r)
			r = vhu_front_get_vring_base(&b->f, b->q[i].index, &base);
		if (r)
			vublk_failed(b, "stopping the rings", r);
	}
	b->active = b->resume = b->inflight_refused = false;
	b->nr_q = 0;
	/* A new driver session starts with nothing in flight. */
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	b->inflight.fd = -1;
	pthread_mutex_unlock(&b->lock);
}

static void vublk_call_changed(struct virtio_pci *vp, unsigned int index, int call_fd)
{
	struct vublk *b = vp->priv;
	int r;

	pthread_mutex_lock(&b->lock);
	for (unsigned int i = 0; i < b->nr_q; i++) {
		if (b->q[i].index != index)
			continue;
		b->q[i].call_fd = call_fd;
		if (b->active && b->f.sock >= 0 &&
		    (r = vhu_front_set_vring_call(&b->f, index, call_fd)))
			vublk_failed(b, "new call fd", r);
	}
	pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops vublk_ops = {
	.name = "vhost-user-blk",
	.get_features = vublk_get_features,
	.config_read = vublk_config_read,
	.config_write = vublk_config_write,
	.activate = vublk_activate,
	.reset = vublk_reset,
	.call_changed = vublk_call_changed,
};

/* Starts (or finds) the backend and connects. Returns the socket. */
static int vublk_backend(struct vublk *b)
{
	const struct vm_disk *d = b->disk;
	char exe[PATH_MAX], sockname[VM_DISK_VDEV_MAX + 8];
	int r;

	if (d->socket) {
		snprintf(b->path, sizeof(b->path), "%s", d->socket);
		r = backend_connect(b->path, NULL, VUBLK_EXTERNAL_MS);
		if (r < 0)
			log_error("%s: cannot connect to %s: %s", b->name, b->path, strerror(-r));
		return r;
	}
	r = backend_tapdisk_path(exe, sizeof(exe));
	if (r) {
		log_error("%s: isle-tapdisk not found at %s (set ISLE_TAPDISK)", b->name, exe);
		return r;
	}
	snprintf(sockname, sizeof(sockname), "%s.sock", d->vdev);
	r = backend_start(&b->proc, b->vm, b->name,
			  (const char *const[]){ exe, "--socket", "%s", "--disk", d->spec, NULL },
			  sockname, VUBLK_START_MS);
	if (r >= 0)
		snprintf(b->path, sizeof(b->path), "%s", b->proc.sock);
	return r;
}

static int vublk_init_one(struct vm *vm, struct vublk *b, const struct vm_disk *d)
{
	struct virtio_pci_params p;
	int s, r;

	b->vm = vm;
	b->disk = d;
	b->f.sock = b->timer_fd = b->inflight.fd = b->proc.pidfd = b->proc.timer_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->cfg_lock, NULL);
	snprintf(b->name, sizeof(b->name), "disk %s", d->vdev);
	s = vublk_backend(b);
	if (s < 0)
		return s;
	vhu_front_init(&b->f, s);
	pthread_mutex_lock(&b->lock);
	r = vublk_handshake(b, true);
	pthread_mutex_unlock(&b->lock);
	if (r) {
		log_error("%s: vhost-user handshake with %s: %s", b->name, b->path, strerror(-r));
		return r;
	}
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		return -errno;
	if ((r = evloop_add(&vm->loop, b->timer_fd, EPOLLIN, vublk_retry, b)) ||
	    (r = evloop_add(&vm->loop, s, EPOLLIN | EPOLLRDHUP, vublk_sock_event, b)) ||
	    (b->proc.pid && (r = backend_watch(&b->proc))))
		return r;
	p = (struct virtio_pci_params){
		.device_id = VIRTIO_ID_BLOCK, .class_code = VUBLK_CLASS,
		.num_queues = b->num_queues, .queue_max = VUBLK_QUEUE_MAX,
		.config_size = VUBLK_CONFIG_SIZE,
	};
	r = virtio_pci_init(&b->vp, vm, &vublk_ops, &p, b);
	if (r)
		return r;
	log_info("%s: %llu sectors via %s, %u queue(s), features %#llx, PCI slot %u", b->name,
		 (unsigned long long)get_le64(b->config), b->path, b->num_queues,
		 (unsigned long long)b->vp.host_features, b->vp.pci.slot);
	return 0;
}

static void vublk_exit_one(struct vublk *b)
{
	if (b->f.sock >= 0) {
		evloop_del(&b->vm->loop, b->f.sock);
		vhu_front_close(&b->f);
	}
	if (b->timer_fd >= 0) {
		evloop_del(&b->vm->loop, b->timer_fd);
		close(b->timer_fd);
	}
	backend_stop(&b->proc);
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	virtio_pci_destroy(&b->vp);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->cfg_lock);
	free(b);
}

static void vublk_exit(struct vm *vm)
{
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++) {
		if (vm->disks[i])
			vublk_exit_one(vm->disks[i]);
		vm->disks[i] = NULL;
	}
}

static int vublk_init(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg->nr_disks && i < VM_MAX_DISKS; i++) {
		int r;

		vm->disks[i] = calloc(1, sizeof(*vm->disks[i]));
		if (!vm->disks[i])
			return -ENOMEM;
		r = vublk_init_one(vm, vm->disks[i], &vm->cfg->disks[i]);
		if (r)
			return r;
	}
	return 0;
}

const struct vm_device_ops vhost_user_blk_device = {
	.name = "vhost-user-blk",
	.init = vublk_init,
	.exit = vublk_exit,
};

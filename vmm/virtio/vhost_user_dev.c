/* The vhost-user frontend plumbing shared by vhost_user_blk.c and
 * vhost_user_net.c: see vhost_user_dev.h for what it owns and its
 * contract (locking: vp->lock -> d->lock -> msix).
 *
 * Reconnect: the backend socket sits in vm->loop. When it closes (backend
 * killed, or a request to it failed and we shut the socket), the guest
 * keeps running; a timerfd retries the connection every VUD_RETRY_MS, and
 * a new backend gets the whole session again: the device's handshake, the
 * memory table, what ops->start adds (blk: the same inflight buffer), and
 * the rings with their base taken from the used rings in guest memory,
 * then one kick per ring. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "virtio/vhost_user_dev.h"
#include "core/vm.h"


void vud_init(struct vud *d, struct vm *vm, const struct vud_ops *ops, void *priv)
{
	d->vm = vm;
	d->ops = ops;
	d->priv = priv;
	d->f.sock = d->timer_fd = d->proc.pidfd = d->proc.timer_fd = d->req_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->cfg_lock, NULL);
}

int vud_connect_socket(struct vud *d, const char *path)
{
	int r;

	snprintf(d->path, sizeof(d->path), "%s", path);
	r = backend_connect(d->path, NULL, VUD_EXTERNAL_MS);
	if (r < 0)
		log_error("%s: cannot connect to %s: %s", d->name, d->path, strerror(-r));
	return r;
}

int vud_start_backend(struct vud *d, const char *const argv[], const char *sockname,
		      const int *fds, unsigned int nr_fds)
{
	int r = backend_start_fds(&d->proc, d->vm, d->name, argv, sockname, VUD_START_MS, fds,
				  nr_fds);

	if (r >= 0)
		snprintf(d->path, sizeof(d->path), "%s", d->proc.sock);
	return r;
}

int vud_hello(struct vud *d, uint64_t *feat, uint64_t *pf, uint64_t *nq)
{
	struct timeval tv = { .tv_sec = VUD_TIMEOUT_S };
	int r;

	*pf = 0;
	*nq = 1;
	setsockopt(d->f.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(d->f.sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((r = vhu_front_get_features(&d->f, feat)))
		return r;
	if (*feat & BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		if ((r = vhu_front_get_protocol_features(&d->f, pf)))
			return r;
		*pf &= d->ops->protocol |
		       (d->vm->vtd ? BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ) : 0);
		if ((r = vhu_front_set_protocol_features(&d->f, *pf)))
			return r;
	}
	if ((*pf & d->ops->protocol_need) != d->ops->protocol_need) {
		log_error("%s: the backend does not offer %s", d->name, d->ops->protocol_need_what);
		return -ENOTSUP;
	}
	if ((r = vhu_front_set_owner(&d->f)) ||
	    ((*pf & BIT(VHOST_USER_PROTOCOL_F_MQ)) && (r = vhu_front_get_queue_num(&d->f, nq))))
		return r;
	vud_iotlb_disconnect(d);   /* a handshake that failed after it */
	return vud_iotlb_connect(d, *pf);
}

static bool vud_backend_ring(const struct vud *d, unsigned int i)
{
	return !d->ops->backend_ring || d->ops->backend_ring(d, i);
}

static bool vud_ring_enabled(const struct vud *d, const struct virtio_queue *q)
{
	return !d->ops->ring_enabled || d->ops->ring_enabled(d, q);
}

/* A ring part's address in the memory table's user address space: the
 * device's IOVA translated through its DMA address space gives isle's host
 * address, which is what the table describes (userspace_addr = gmem hva).
 * 0 if the part is not one mapping with that access (the transport checked
 * it at enable; an IOMMU may have unmapped it since). */
static uint64_t vud_ring_uva(struct dma_as *as, uint64_t iova, uint64_t len,
			     unsigned int access)
{
	int err;

	return (uintptr_t)dma_map_whole(as, iova, len, access, &err);
}

static int vud_start_ring(struct vud *d, const struct virtio_queue *q)
{
	uint8_t idx[2] = { 0 };
	uint16_t base = 0;
	uint64_t num = q->size;
	int r;

	/* A restarted backend continues where the used ring is (in-order
	 * backends: everything after it is unprocessed; blk's inflight
	 * buffer also has it resubmit what it had popped). */
	if (d->resume && dma_read(q->dma, q->used_gpa + 2, idx, sizeof(idx)) == 0)
		base = get_le16(idx);
	if ((r = vhu_front_set_vring_num(&d->f, q->index, q->size)) ||
	    (r = vhu_front_set_vring_base(&d->f, q->index, base)))
		return r;
	if (vud_platform(d)) {
		r = vud_iotlb_map_ring(d, q);
		if (!r)
			r = vhu_front_set_vring_iova(&d->f, q->index, q->desc_gpa, q->avail_gpa,
						     q->used_gpa);
	} else {
		r = vhu_front_set_vring_uva(&d->f, q->index,
					    vud_ring_uva(q->dma, q->desc_gpa, 16 * num, DMA_READ),
					    vud_ring_uva(q->dma, q->avail_gpa, 6 + 2 * num, DMA_READ),
					    vud_ring_uva(q->dma, q->used_gpa, 6 + 8 * num, DMA_RW),
					    q->used_gpa);
	}
	if (r ||
	    (r = vhu_front_set_vring_call(&d->f, q->index, q->call_fd)) ||
	    (r = vhu_front_set_vring_kick(&d->f, q->index, q->kick_fd)))
		return r;
	if (d->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		r = vhu_front_set_vring_enable(&d->f, q->index, vud_ring_enabled(d, q));
	return r;
}

/* Hands the session to a connected backend. d->lock held. */
static int vud_start(struct vud *d)
{
	uint64_t feat = (d->ops->features ? d->ops->features(d) : d->features) |
			(d->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	bool resumed = d->resume;
	int r;

	/* A backend that came back without the device IOTLB cannot serve a
	 * guest whose rings are IOVAs. */
	if (vud_platform(d) && (!(d->backend_features & BIT(VIRTIO_F_ACCESS_PLATFORM)) ||
				d->req_fd < 0)) {
		log_error("%s: the backend has no device IOTLB (ACCESS_PLATFORM, BACKEND_REQ)",
			  d->name);
		return -ENOTSUP;
	}
	/* The table is the VM's RAM as isle maps it (not DMA): ring
	 * addresses are sent as host addresses inside it (vud_ring_uva). */
	if ((r = vhu_front_set_features(&d->f, feat)) ||
	    (r = vhu_front_set_mem_table(&d->f, &d->vm->gmem)) ||
	    (d->ops->start && (r = d->ops->start(d))))
		return r;
	d->resume = true;   /* from here on a backend may have used the rings */
	for (unsigned int i = 0; i < d->nr_q; i++)
		if (vud_backend_ring(d, i) && (r = vud_start_ring(d, &d->q[i])))
			return r;
	/* The old backend may have taken a kick and died before popping what
	 * it announced, and what the guest queued while no backend was there
	 * waits for one: kick again (a spare kick only costs a look). */
	for (unsigned int i = 0; resumed && i < d->nr_q; i++)
		if (vud_backend_ring(d, i) && eventfd_write(d->q[i].kick_fd, 1) < 0)
			log_debug("%s: ring %u: kick: %s", d->name, d->q[i].index, strerror(errno));
	return 0;
}

static void vud_arm(struct vud *d, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = VUD_RETRY_MS * 1000000L;
	timerfd_settime(d->timer_fd, 0, &its, NULL);
}

/* The connection is gone or out of step: drop it; the timer reconnects.
 * d->lock held, on the main thread. */
static void vud_disconnect(struct vud *d, const char *why)
{
	evloop_del(&d->vm->loop, d->f.sock);
	vhu_front_close(&d->f);
	vud_iotlb_disconnect(d);
	d->attempts = 0;
	log_warn("%s: backend %s (%s); %s, reconnecting every %d ms", d->name, d->path, why,
		 d->ops->while_away, VUD_RETRY_MS);
	if (d->ops->link)
		d->ops->link(d, false);
	vud_arm(d, true);
}

/* A request failed. The connection goes either way: shut it, so the main
 * loop sees it close and reconnects, and the new connection starts the
 * backend from a clean state (a vhost-user backend drops a connection on a
 * request it rejects anyway). A nack (-EIO) is the backend refusing what
 * the guest set up: the device then needs a reset. Anything else is the
 * connection: the session is replayed and the guest only waits. */
int vud_failed(struct vud *d, const char *what, int r)
{
	log_warn("%s: %s: %s", d->name, what, strerror(-r));
	if (d->f.sock >= 0)
		shutdown(d->f.sock, SHUT_RDWR);
	return r == -EIO ? r : 0;
}

static void vud_sock_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vud *d = opaque;
	char c;
	ssize_t n;

	pthread_mutex_lock(&d->lock);
	if (fd == d->f.sock) {
		/* Replies are read by whoever sent the request, under d->lock;
		 * what is left for us is EOF, an error, or a message nobody
		 * asked for (the stream is then out of step). */
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN) ||
		    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
			vud_disconnect(d, "closed");
		else if (n > 0)
			vud_disconnect(d, "sent an unexpected message");
	}
	pthread_mutex_unlock(&d->lock);
}

static void vud_retry(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vud *d = opaque;
	uint64_t ticks;
	int s, r;

	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	pthread_mutex_lock(&d->lock);
	if (d->f.sock >= 0)
		goto disarm;
	d->attempts++;
	s = backend_connect(d->path, NULL, 0);
	if (s < 0)
		goto out;
	vhu_front_init(&d->f, s);
	r = d->ops->handshake(d, false);
	if (!r && d->active)
		r = vud_start(d);
	if (!r)
		r = evloop_add(loop, s, EPOLLIN | EPOLLRDHUP, vud_sock_event, d);
	if (r) {
		if (d->attempts <= 3 || !(d->attempts % 100))   /* every 10 s at most */
			log_warn("%s: reconnect attempt %u failed: %s", d->name, d->attempts,
				 strerror(-r));
		vhu_front_close(&d->f);
		vud_iotlb_disconnect(d);
		if (d->ops->link)
			d->ops->link(d, false);
		goto out;
	}
	log_info("%s: backend reconnected after %u attempt(s)%s%s", d->name, d->attempts,
		 d->active ? ", rings resumed" : "", d->ops->on_return);
disarm:
	vud_arm(d, false);
out:
	pthread_mutex_unlock(&d->lock);
}

int vud_connect(struct vud *d, int s)
{
	int r;

	vhu_front_init(&d->f, s);
	pthread_mutex_lock(&d->lock);
	r = d->ops->handshake(d, true);
	pthread_mutex_unlock(&d->lock);
	if (r) {
		log_error("%s: vhost-user handshake with %s: %s", d->name, d->path, strerror(-r));
		return r;
	}
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->timer_fd < 0)
		return -errno;
	if ((r = evloop_add(&d->vm->loop, d->timer_fd, EPOLLIN, vud_retry, d)) ||
	    (r = evloop_add(&d->vm->loop, s, EPOLLIN | EPOLLRDHUP, vud_sock_event, d)) ||
	    (d->proc.pid && (r = backend_watch(&d->proc))))
		return r;
	return 0;
}

void vud_set_session(struct vud *d, uint64_t features, const struct virtio_queue *q,
		     unsigned int nr)
{
	d->features = features;
	d->nr_q = nr;
	memcpy(d->q, q, nr * sizeof(*q));
	d->active = true;
	d->resume = false;
}

int vud_activate(struct vud *d)
{
	int r = 0;

	if (d->f.sock >= 0 && (r = vud_start(d)))
		r = vud_failed(d, "starting the rings", r);
	if (r)
		d->active = false;   /* nothing to replay: the guest must reset */
	return r;
}

void vud_stop(struct vud *d)
{
	uint16_t base;
	int r = 0;

	/* GET_VRING_BASE stops a ring and waits for its requests. */
	for (unsigned int i = 0; d->active && d->f.sock >= 0 && !r && i < d->nr_q; i++) {
		if (!vud_backend_ring(d, i))
			continue;
		if (d->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
			r = vhu_front_set_vring_enable(&d->f, d->q[i].index, false);
		if (!r)
			r = vhu_front_get_vring_base(&d->f, d->q[i].index, &base);
		if (r)
			vud_failed(d, "stopping the rings", r);
	}
	d->active = d->resume = false;
	d->nr_q = 0;
}

int vud_enable_rings(struct vud *d)
{
	int r;

	if (d->f.sock < 0 || !(d->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		return 0;
	for (unsigned int i = 0; i < d->nr_q; i++)
		if (vud_backend_ring(d, i) &&
		    (r = vhu_front_set_vring_enable(&d->f, d->q[i].index,
						    vud_ring_enabled(d, &d->q[i]))))
			return r;
	return 0;
}

uint64_t vud_get_features(struct virtio_pci *vp)
{
	return ((struct vud *)vp->priv)->offered;
}

void vud_config_read(struct virtio_pci *vp, uint32_t offset, void *data, unsigned int len)
{
	struct vud *d = vp->priv;

	pthread_mutex_lock(&d->cfg_lock);
	memcpy(data, d->config + offset, len);
	pthread_mutex_unlock(&d->cfg_lock);
}

void vud_call_changed(struct virtio_pci *vp, unsigned int index, int call_fd)
{
	struct vud *d = vp->priv;
	int r;

	pthread_mutex_lock(&d->lock);
	for (unsigned int i = 0; i < d->nr_q; i++) {
		if (d->q[i].index != index)
			continue;
		d->q[i].call_fd = call_fd;
		if (vud_backend_ring(d, i) && d->active && d->f.sock >= 0 &&
		    (r = vhu_front_set_vring_call(&d->f, index, call_fd)))
			vud_failed(d, "new call fd", r);
	}
	pthread_mutex_unlock(&d->lock);
}

void vud_close(struct vud *d)
{
	vud_iotlb_detach(d);
	vud_iotlb_disconnect(d);
	if (d->f.sock >= 0) {
		evloop_del(&d->vm->loop, d->f.sock);
		vhu_front_close(&d->f);
	}
	if (d->timer_fd >= 0) {
		evloop_del(&d->vm->loop, d->timer_fd);
		close(d->timer_fd);
	}
	backend_stop(&d->proc);
}

void vud_destroy(struct vud *d)
{
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->cfg_lock);
}

/* virtio-balloon (virtio 1.2 §5.5): the first device whose queues isle
 * serves itself, on a thread of its own. Inflate and deflate queues, the
 * statistics queue (stats=S), free page reporting; DEFLATE_ON_OOM is only
 * a promise the guest's driver keeps. Queue indices follow the negotiated
 * features: an absent queue takes no index (inflate 0, deflate 1, then
 * stats, hint (never offered), reporting).
 *
 * What the queues bring is balloon_queue.c's; the control side and the
 * policy (balloon.h) that decides whether a page may go are
 * balloon_ctl.c's; here: the register file (num_pages is ours, actual the
 * driver's), the thread, the statistics timer, and the discard that asks
 * the policy.
 *
 * Locking: b->lock covers the queues, the config fields and the policy
 * state; the thread holds it while it serves a batch, so a reset, a
 * new target or an assigned device arriving waits for a discard under way
 * and never sees half of one. Order: the transport's vp->lock -> b->lock
 * -> vm->vfio_lock -> the VFIO containers' locks (policy vfio-iommu); the
 * thread takes no transport lock (config_changed is any-thread). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"
#include "virtio/balloon.h"
#include "virtio/virtio_pci.h"
#include "virtio/balloon_priv.h"

static void balloon_wake(struct balloon *b)
{
	uint64_t one = 1;

	if (write(b->wake_fd, &one, sizeof(one)) < 0)
		log_debug("balloon: wake: %s", strerror(errno));
}

static int balloon_punch(void *opaque, uint64_t gpa, uint64_t len)
{
	return gmem_discard(opaque, gpa, len);
}

/* bq's discard: what goes back to the host is the policy's call. */
static int64_t balloon_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	struct balloon *b = opaque;
	int r;

	switch (balloon_policy(b)) {
	case BP_VFIO_REFUSE:
		return (int64_t)len;
	case BP_VFIO_IOMMU:
		return vfio_vm_discard_unmapped(b->vm, gpa, len, balloon_punch, &b->vm->gmem);
	default:
		r = gmem_discard(&b->vm->gmem, gpa, len);
		return r < 0 ? r : 0;
	}
}

static uint64_t balloon_get_features(struct virtio_pci *vp)
{
	struct balloon *b = vp->priv;

	return (b->opt.stats_s ? BIT(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
	       (b->opt.deflate_on_oom ? BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) : 0) |
	       (b->opt.free_page_reporting ? BIT(VIRTIO_BALLOON_F_REPORTING) : 0) |
	       BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	       BIT(VIRTIO_F_ACCESS_PLATFORM);
}

static void balloon_config_read(struct virtio_pci *vp, uint32_t offset, void *data,
				unsigned int len)
{
	struct balloon *b = vp->priv;
	uint8_t cfg[BALLOON_CONFIG_SIZE] = { 0 };

	pthread_mutex_lock(&b->lock);
	put_le32(cfg + 0, b->num_pages);
	put_le32(cfg + 4, b->actual);
	pthread_mutex_unlock(&b->lock);
	memcpy(data, cfg + offset, len);   /* the transport checked the range */
}

static void balloon_config_write(struct virtio_pci *vp, uint32_t offset, const void *data,
				 unsigned int len)
{
	struct balloon *b = vp->priv;
	uint32_t v;

	/* actual is the only field a driver writes; Linux writes it whole. */
	if (offset != offsetof(struct virtio_balloon_config, actual) || len != 4)
		return;
	memcpy(&v, data, 4);
	pthread_mutex_lock(&b->lock);
	b->actual = MIN(le32toh(v), (uint32_t)MIN(b->ram_pages, (uint64_t)UINT32_MAX));
	pthread_mutex_unlock(&b->lock);
}

/* Index -> role for these features. */
static int balloon_role(uint64_t features, unsigned int index)
{
	unsigned int next = 2;

	if (index < 2)
		return (int)index;
	if (features & BIT(VIRTIO_BALLOON_F_STATS_VQ) && index == next++)
		return BQ_STATS;
	if (features & BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		next++;   /* never offered; counted so the rule reads whole */
	if (features & BIT(VIRTIO_BALLOON_F_REPORTING) && index == next)
		return BQ_REPORT;
	return -1;
}

static void balloon_stop_queues(struct balloon *b)
{
	for (unsigned int i = 0; i < BQ_NR_ROLES; i++)
		b->q[i] = (struct balloon_q){ .kick_fd = -1, .call_fd = -1 };
	b->active = false;
	b->stats_held = false;
}

static int balloon_activate(struct virtio_pci *vp, uint64_t features,
			    const struct virtio_queue *q, unsigned int nr)
{
	struct balloon *b = vp->priv;
	int r = 0;

	pthread_mutex_lock(&b->lock);
	balloon_stop_queues(b);
	b->features = features;
	for (unsigned int i = 0; i < nr && !r; i++) {
		int role = balloon_role(features, q[i].index);
		struct vq_config cfg = {
			.num = q[i].size, .max_num = BALLOON_QUEUE_MAX, .desc_gpa = q[i].desc_gpa,
			.avail_gpa = q[i].avail_gpa, .used_gpa = q[i].used_gpa,
			.flags = vq_flags_from_features(features),
		};

		if (role < 0)
			continue;   /* a queue this feature set has no use for */
		r = vq_init(&b->q[role].vq, q[i].dma, &cfg);
		b->q[role].kick_fd = q[i].kick_fd;
		b->q[role].call_fd = q[i].call_fd;
		b->q[role].on = !r;
	}
	if (r)
		balloon_stop_queues(b);
	else
		b->active = true;
	pthread_mutex_unlock(&b->lock);
	if (!r)
		balloon_wake(b);
	return r;
}

static void balloon_reset(struct virtio_pci *vp)
{
	struct balloon *b = vp->priv;

	pthread_mutex_lock(&b->lock);
	balloon_stop_queues(b);
	b->features = 0;
	b->actual = 0;      /* a new driver starts with an empty balloon */
	b->bq.st = (struct bq_stats){ 0 };   /* and has sent no statistics */
	pthread_mutex_unlock(&b->lock);
	balloon_wake(b);
}

static void balloon_call_changed(struct virtio_pci *vp, unsigned int index, int call_fd)
{
	struct balloon *b = vp->priv;
	int role;

	pthread_mutex_lock(&b->lock);
	role = balloon_role(b->features, index);
	if (role >= 0)
		b->q[role].call_fd = call_fd;
	pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "virtio-balloon",
	.get_features = balloon_get_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.call_changed = balloon_call_changed,
};

/* Serves one queue under b->lock until it is empty or, once a buffer is
 * done, the round's deadline has passed: true if it has more. The deadline
 * bounds how long a guest keeps the lock from vm.info, a new target, a
 * hot-add or the VM's teardown, however fast it refills the ring. */
static bool balloon_serve(struct balloon *b, enum bq_role role, uint64_t deadline)
{
	struct balloon_q *q = &b->q[role];
	struct vq_elem e;
	bool pushed = false, more = false;
	int r;

	if (!q->on)
		return false;
	for (unsigned int n = 0;; n++) {
		vq_elem_init(&e, b->iov, ARRAY_SIZE(b->iov));
		r = vq_pop(&q->vq, &e);
		if (r < 0) {
			virtio_pci_needs_reset(&b->vp, vq_broken_reason(&q->vq));
			q->on = false;
			break;
		}
		if (r == 0) {
			if (vq_enable_notify(&q->vq))
				continue;
			break;
		}
		if (n && balloon_now_ns() >= deadline) {
			vq_unpop(&q->vq, &e);   /* the next round's */
			more = true;
			break;
		}
		switch (role) {
		case BQ_INFLATE:
			bq_inflate(&b->bq, &e);
			break;
		case BQ_DEFLATE:
			bq_deflate(&b->bq, &e);
			break;
		case BQ_REPORT:
			bq_report(&b->bq, &e);
			break;
		case BQ_STATS:
			bq_stats_update(&b->bq, &e, balloon_now_ns());
			/* Kept until the next poll; a second buffer sends the
			 * first back at once. */
			if (b->stats_held) {
				vq_push(&q->vq, b->stats_head, 0);
				pushed = true;
			}
			b->stats_held = true;
			b->stats_head = e.head;
			continue;
		default:
			break;
		}
		vq_push(&q->vq, e.head, 0);
		pushed = true;
	}
	if (pushed)
		vq_notify_eventfd(&q->vq, q->call_fd);
	return more;
}

/* The statistics timer: give the buffer back, which asks for new figures. */
static void balloon_stats_poll(struct balloon *b)
{
	struct balloon_q *q = &b->q[BQ_STATS];

	if (!b->active || !q->on || !b->stats_held)
		return;
	b->stats_held = false;
	vq_push(&q->vq, b->stats_head, 0);
	vq_notify_eventfd(&q->vq, q->call_fd);
}

static void balloon_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("balloon: read: %s", strerror(errno));
}

static void *balloon_thread(void *opaque)
{
	struct balloon *b = opaque;
	/* After a round cut short, a pause with the lock free: whoever waits
	 * for it gets it (a mutex is not fair). */
	const struct timespec pause = { .tv_nsec = BALLOON_PAUSE_NS };
	bool more = false;

	for (;;) {
		struct pollfd pfd[2 + BQ_NR_ROLES];
		unsigned int n = 0;
		uint64_t deadline;

		pfd[n++] = (struct pollfd){ .fd = b->wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = b->timer_fd, .events = POLLIN };
		pthread_mutex_lock(&b->lock);
		if (b->stop) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		for (unsigned int i = 0; i < BQ_NR_ROLES; i++) {
			if (!b->active || !b->q[i].on || b->q[i].kick_fd < 0)
				continue;
			pfd[n++] = (struct pollfd){ .fd = b->q[i].kick_fd, .events = POLLIN };
		}
		pthread_mutex_unlock(&b->lock);
		if (ppoll(pfd, n, more ? &pause : NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			log_error("balloon: poll: %s", strerror(errno));
			break;
		}
		for (unsigned int i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				balloon_drain(pfd[i].fd);
		pthread_mutex_lock(&b->lock);
		/* Every queue after any wake-up: an empty ring costs one load,
		 * and activation may have brought buffers the driver queued
		 * before DRIVER_OK, with no kick to come for them. */
		more = false;
		deadline = balloon_now_ns() + b->serve_ns;
		if (b->active)
			for (unsigned int i = 0; i < BQ_NR_ROLES; i++)
				more |= balloon_serve(b, (enum bq_role)i, deadline);
		if (pfd[1].revents & POLLIN)
			balloon_stats_poll(b);
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

int balloon_timer_set(struct balloon *b, unsigned int s)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = s }, .it_value = { .tv_sec = s },
	};

	return timerfd_settime(b->timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void balloon_unrealize(struct device *dev)
{
	struct balloon *b = dev->priv;

	if (!b)
		return;
	pci_unregister(&b->vm->pci, &b->vp.pci);
	if (b->thread_started) {
		pthread_mutex_lock(&b->lock);
		b->stop = true;
		pthread_mutex_unlock(&b->lock);
		balloon_wake(b);
		pthread_join(b->thread, NULL);
	}
	virtio_pci_destroy(&b->vp);
	if (b->wake_fd >= 0)
		close(b->wake_fd);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
	dev->priv = NULL;
}

static unsigned int balloon_count_vfio(struct vm *vm)
{
	unsigned int n = 0;

	for (struct device *d = vm->devices.first; d; d = d->next)
		n += d->type == &vfio_pci_type;
	return n;
}

static int balloon_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	struct balloon *b = calloc(1, sizeof(*b));
	struct virtio_pci_params p;
	int r;

	if (!b)
		return -ENOMEM;
	dev->priv = b;
	b->vm = vm;
	b->opt = dev->spec.balloon;
	b->stats_s = b->opt.stats_s;
	b->ram_pages = vm->layout.ram_size >> BQ_PAGE_SHIFT;
	b->serve_ns = BALLOON_SERVE_NS;
	b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	pthread_mutex_init(&b->lock, NULL);
	balloon_stop_queues(b);
	b->bq = (struct bq){ .gm = &vm->gmem, .discard = balloon_discard, .opaque = b };
	b->vfio_pins = balloon_count_vfio(vm);
	b->num_pages = (uint32_t)(b->opt.size >> BQ_PAGE_SHIFT);
	if (b->wake_fd < 0 || b->timer_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (b->opt.size && (b->opt.size >= vm->layout.ram_size ||
			    vm->layout.ram_size - b->opt.size < BALLOON_MIN_KEEP)) {
		log_error("balloon: a balloon of %lluM leaves the guest less than %lluM",
			  (unsigned long long)(b->opt.size >> 20), BALLOON_MIN_KEEP >> 20);
		r = -EINVAL;
		goto fail;
	}
	if (b->num_pages && !balloon_may_discard(b)) {
		log_error("balloon: an inflated balloon at boot with an assigned device "
			  "(assigned devices pin all guest RAM; vfio=allow for mediated ones)");
		r = -EPERM;
		goto fail;
	}
	p = (struct virtio_pci_params){
		.device_id = VIRTIO_ID_BALLOON, .class_code = BALLOON_CLASS,
		.num_queues = 2 + !!b->opt.stats_s + b->opt.free_page_reporting,
		.queue_max = BALLOON_QUEUE_MAX, .config_size = BALLOON_CONFIG_SIZE,
	};
	if ((r = virtio_pci_init(&b->vp, vm, &balloon_ops, &p, b)))
		goto fail;
	if (b->stats_s && (r = balloon_timer_set(b, b->stats_s)))
		goto fail;
	if ((r = -pthread_create(&b->thread, NULL, balloon_thread, b)))
		goto fail;
	b->thread_started = true;
	dev->pci = &b->vp.pci;
	log_info("balloon: PCI slot %u, features %#llx, %lluM at boot, policy %s", b->vp.pci.slot,
		 (unsigned long long)b->vp.host_features, (unsigned long long)(b->opt.size >> 20),
		 balloon_policy_name(b));
	return 0;
fail:
	balloon_unrealize(dev);
	return r;
}

const struct device_type balloon_type = {
	.name = "virtio-balloon",
	.id_prefix = "balloon",
	.kind = DEVICE_BALLOON,
	.platform = true,   /* not ejected: its pages are the guest's to give back */
	.realize = balloon_realize,
	.unrealize = balloon_unrealize,
};

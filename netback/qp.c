/* A queue pair's thread (contract in netback/qp.h): the event loop that
 * moves packets between the pair's two rings and its tap fd.
 *
 * The loop watches the rings' kick eventfds, the tap fd (readable while RX
 * runs and the guest has buffers; writable only while TX waits for room),
 * a control eventfd through which the main thread runs functions here
 * (qp_call), and a "resched" eventfd TX writes to itself when it stops at
 * its budget, so RX and the control calls get a turn. Nothing spins: an
 * idle pair sleeps in epoll_wait, and RX without guest buffers takes the
 * tap out of the loop until the guest kicks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "isle/log.h"
#include "qp.h"
#include "tap.h"

static const char *const qp_dir[] = { "rx", "tx" };

/* Runs fn on the pair's thread and waits until it did. */
static void qp_call(struct nb_qp *qp, void (*fn)(struct nb_qp *, void *), void *arg)
{
	pthread_mutex_lock(&qp->lock);
	qp->call_fn = fn;
	qp->call_arg = arg;
	qp->call_done = false;
	eventfd_write(qp->ctl_fd, 1);
	while (!qp->call_done)
		pthread_cond_wait(&qp->cond, &qp->lock);
	pthread_mutex_unlock(&qp->lock);
}

static void qp_on_ctl(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct nb_qp *qp = opaque;
	eventfd_t v;

	eventfd_read(fd, &v);
	pthread_mutex_lock(&qp->lock);
	if (qp->call_fn && !qp->call_done) {
		qp->call_fn(qp, qp->call_arg);
		qp->call_fn = NULL;
		qp->call_done = true;
		pthread_cond_broadcast(&qp->cond);
	}
	pthread_mutex_unlock(&qp->lock);
}

static void qp_on_tap(struct evloop *loop, int fd, uint32_t events, void *opaque);

/* Brings the tap queue attachment and the loop's watch on the tap in line
 * with the rings' state. */
static void qp_tap_sync(struct nb_qp *qp)
{
	bool attach = (qp->running[QP_RX] || qp->running[QP_TX]) && qp->active;
	uint32_t ev = 0;
	int r;

	if (qp->own_queue && attach != qp->attached) {
		r = tap_set_queue(qp->tap_fd, attach);
		if (r)
			log_warn("%s: queue %u: cannot %s the tap queue: %s", qp->ifname,
				 qp->index, attach ? "attach" : "detach", strerror(-r));
		else
			qp->attached = attach;
	}
	if (qp->running[QP_RX] && !qp->broken[QP_RX] && !qp->rx_stalled)
		ev |= EPOLLIN;
	if (qp->tx_blocked)
		ev |= EPOLLOUT;
	if (ev == qp->tap_events)
		return;
	if (!qp->tap_events)
		r = evloop_add(&qp->loop, qp->tap_fd, ev, qp_on_tap, qp);
	else if (!ev)
		r = evloop_del(&qp->loop, qp->tap_fd);
	else
		r = evloop_mod(&qp->loop, qp->tap_fd, ev);
	if (r)
		log_error("%s: queue %u: cannot watch the tap: %s", qp->ifname, qp->index,
			  strerror(-r));
	else
		qp->tap_events = ev;
}

static struct vq *qp_vq(struct nb_qp *qp, int dir)
{
	return dir == QP_RX ? &qp->q->rxvq : &qp->q->txvq;
}

static int *qp_call_fd(struct nb_qp *qp, int dir)
{
	return dir == QP_RX ? &qp->q->rx_call : &qp->q->tx_call;
}

/* The guest corrupted a ring: stop serving it and tell the frontend. */
static void qp_broken(struct nb_qp *qp, int dir)
{
	const char *why = vq_broken_reason(qp_vq(qp, dir));

	log_warn("%s: queue %u %s: ring broken (%s); stopped until the driver resets it",
		 qp->ifname, qp->index, qp_dir[dir], why ? why : "?");
	qp->broken[dir] = true;
	if (qp->kick[dir] >= 0)
		evloop_del(&qp->loop, qp->kick[dir]);
	if (qp->err[dir] >= 0)
		eventfd_write(qp->err[dir], 1);
	if (dir == QP_TX)
		qp->tx_blocked = false;
	qp_tap_sync(qp);
}

static void qp_tx(struct nb_qp *qp)
{
	int r;

	if (!qp->running[QP_TX] || qp->broken[QP_TX] || qp->tx_blocked)
		return;
	r = net_tx_run(qp->q, NET_TX_BUDGET);
	if (r == NET_MORE) {
		eventfd_write(qp->resched_fd, 1);
	} else if (r == NET_BLOCKED) {
		qp->tx_blocked = true;
		qp_tap_sync(qp);
	} else if (r < 0) {
		qp_broken(qp, QP_TX);
	}
}

static void qp_rx(struct nb_qp *qp)
{
	int r;

	if (!qp->running[QP_RX] || qp->broken[QP_RX] || qp->rx_stalled)
		return;
	r = net_rx_run(qp->q, NET_RX_BUDGET);
	if (r >= 0 && r != NET_BLOCKED)
		return;   /* idle: EPOLLIN brings us back; more: so does it */
	if (vq_is_broken(&qp->q->rxvq)) {
		qp_broken(qp, QP_RX);
		return;
	}
	if (r < 0)   /* the tap failed: wait for the guest's next kick */
		log_warn("%s: queue %u: reading the tap: %s", qp->ifname, qp->index,
			 strerror(-r));
	/* Backpressure: stop reading until the guest adds buffers. */
	qp->rx_stalled = true;
	qp_tap_sync(qp);
}

static void qp_on_tap(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct nb_qp *qp = opaque;

	if (qp->tx_blocked && (events & (EPOLLOUT | EPOLLERR))) {
		qp->tx_blocked = false;
		qp_tap_sync(qp);
		qp_tx(qp);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		qp_rx(qp);
}

static void qp_on_kick(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct nb_qp *qp = opaque;
	eventfd_t v;

	eventfd_read(fd, &v);
	if (fd == qp->kick[QP_TX]) {
		qp_tx(qp);
	} else if (qp->rx_stalled) {
		/* New RX buffers: read the tap again. */
		qp->rx_stalled = false;
		qp_tap_sync(qp);
		qp_rx(qp);
	}
}

static void qp_on_resched(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	eventfd_t v;

	eventfd_read(fd, &v);
	qp_tx(opaque);
}

static void *qp_thread(void *opaque)
{
	struct nb_qp *qp = opaque;
	int r = evloop_run(&qp->loop);

	if (r)
		log_error("%s: queue %u: event loop failed: %s", qp->ifname, qp->index,
			  strerror(-r));
	return NULL;
}

/* ---- what the main thread asks for, run on the pair's thread ---- */

struct qp_arg {
	int dir;
	const struct vu_vring *vr;
	const struct gmem *gm;
	struct vu_iotlb *tlb;
	int r;
	uint16_t base;
	uint64_t features;
	unsigned int mtu;
	bool active;
};

static void qp_do_start(struct nb_qp *qp, void *opaque)
{
	struct qp_arg *a = opaque;
	const struct vu_vring *vr = a->vr;
	struct vq *vq = qp_vq(qp, a->dir);
	struct vq_config cfg = {
		.num = vr->num, .max_num = VU_MAX_QUEUE_SIZE, .desc_gpa = vr->desc_gpa,
		.avail_gpa = vr->avail_gpa, .used_gpa = vr->used_gpa,
		.flags = vq_flags_from_features(qp->q->features),
	};

	/* The same table a running sibling ring uses: qp_remap keeps every
	 * copy current, so overwriting it changes nothing for that ring. */
	qp->gm = *a->gm;
	if (a->tlb) {
		if (!qp->iotlb_as_ok || qp->iotlb_as.t != a->tlb) {
			if (qp->iotlb_as_ok)
				vu_iotlb_as_destroy(&qp->iotlb_as);
			vu_iotlb_as_init(&qp->iotlb_as, a->tlb, &qp->gm);
			qp->iotlb_as_ok = true;
		}
		qp->ring_as = &qp->iotlb_as.as;
	} else {
		qp->ring_as = &qp->dma;
	}
	a->r = vq_init(vq, qp->ring_as, &cfg);
	if (a->r)
		return;
	vq_set_last_avail(vq, vr->base);
	vq_sync_used_idx(vq);
	a->r = evloop_add(&qp->loop, vr->kick_fd, EPOLLIN, qp_on_kick, qp);
	if (a->r) {
		memset(vq, 0, sizeof(*vq));
		return;
	}
	qp->cfg[a->dir] = cfg;
	qp->kick[a->dir] = vr->kick_fd;
	qp->err[a->dir] = vr->err_fd;
	*qp_call_fd(qp, a->dir) = vr->call_fd;
	qp->running[a->dir] = true;
	qp->broken[a->dir] = false;
	if (a->dir == QP_RX)
		qp->rx_stalled = false;
	qp_tap_sync(qp);
	if (a->dir == QP_TX)
		qp_tx(qp);   /* what the guest queued while nobody looked */
}

static void qp_do_stop(struct nb_qp *qp, void *opaque)
{
	struct qp_arg *a = opaque;
	struct vq *vq = qp_vq(qp, a->dir);

	if (!qp->running[a->dir]) {
		a->base = 0;
		return;
	}
	if (a->dir == QP_RX) {
		net_rx_release(qp->q);
		qp->rx_stalled = false;
	} else {
		qp->tx_blocked = false;
	}
	if (!qp->broken[a->dir])
		evloop_del(&qp->loop, qp->kick[a->dir]);
	a->base = vq_get_last_avail(vq);
	memset(vq, 0, sizeof(*vq));
	*qp_call_fd(qp, a->dir) = -1;
	qp->kick[a->dir] = qp->err[a->dir] = -1;
	qp->running[a->dir] = qp->broken[a->dir] = false;
	qp_tap_sync(qp);
}

static void qp_do_notifiers(struct nb_qp *qp, void *opaque)
{
	struct qp_arg *a = opaque;

	*qp_call_fd(qp, a->dir) = a->vr->call_fd;
	qp->err[a->dir] = a->vr->err_fd;
}

static void qp_do_remap(struct nb_qp *qp, void *opaque)
{
	struct qp_arg *a = opaque;

	qp->gm = *a->gm;
	for (int dir = QP_RX; dir <= QP_TX; dir++) {
		struct vq *vq = qp_vq(qp, dir);
		uint16_t last;

		if (!qp->running[dir])
			continue;
		if (dir == QP_RX)
			net_rx_release(qp->q);
		last = vq_get_last_avail(vq);
		if (qp->broken[dir] || vq_init(vq, qp->ring_as, &qp->cfg[dir])) {
			/* No pointer into the old mappings may survive. */
			memset(vq, 0, sizeof(*vq));
			vq_set_broken(vq, "ring outside the new memory table");
			if (!qp->broken[dir])
				qp_broken(qp, dir);
			continue;
		}
		vq_set_last_avail(vq, last);
		vq_sync_used_idx(vq);
	}
}

static void qp_do_configure(struct nb_qp *qp, void *opaque)
{
	struct qp_arg *a = opaque;

	net_rx_release(qp->q);
	net_queue_configure(qp->q, a->features, a->mtu);
	qp->active = a->active;
	qp_tap_sync(qp);
}

int qp_start(struct nb_qp *qp, int dir, const struct vu_vring *vr, const struct gmem *gm,
	     struct vu_iotlb *tlb)
{
	struct qp_arg a = { .dir = dir, .vr = vr, .gm = gm, .tlb = tlb };

	qp_call(qp, qp_do_start, &a);
	return a.r;
}

uint16_t qp_stop(struct nb_qp *qp, int dir)
{
	struct qp_arg a = { .dir = dir };

	qp_call(qp, qp_do_stop, &a);
	return a.base;
}

void qp_notifiers(struct nb_qp *qp, int dir, const struct vu_vring *vr)
{
	struct qp_arg a = { .dir = dir, .vr = vr };

	qp_call(qp, qp_do_notifiers, &a);
}

void qp_remap(struct nb_qp *qp, const struct gmem *gm)
{
	struct qp_arg a = { .gm = gm };

	qp_call(qp, qp_do_remap, &a);
}

void qp_configure(struct nb_qp *qp, uint64_t features, unsigned int mtu, bool active)
{
	struct qp_arg a = { .features = features, .mtu = mtu, .active = active };

	qp_call(qp, qp_do_configure, &a);
}

/* ---- life cycle ---- */

int qp_init(struct nb_qp *qp, const char *ifname, unsigned int index, int tap_fd,
	    bool own_queue, unsigned int mtu)
{
	int r;

	memset(qp, 0, sizeof(*qp));
	qp->ifname = ifname;
	qp->index = index;
	qp->own_queue = own_queue;
	qp->tap_fd = tap_fd;
	qp->ctl_fd = qp->resched_fd = -1;
	qp->loop.epfd = qp->loop.wakefd = -1;
	qp->kick[0] = qp->kick[1] = qp->err[0] = qp->err[1] = -1;
	/* The pair's rings translate through its own copy of the table. */
	dma_as_identity_init(&qp->dma, &qp->gm);
	qp->ring_as = &qp->dma;
	qp->active = true;
	qp->attached = true;   /* tap_open leaves every queue attached */
	pthread_mutex_init(&qp->lock, NULL);
	pthread_cond_init(&qp->cond, NULL);
	qp->q = calloc(1, sizeof(*qp->q));
	if (!qp->q)
		return -ENOMEM;
	r = net_queue_init(qp->q);
	if (r) {
		free(qp->q);
		qp->q = NULL;
		return r;
	}
	qp->q->tap_fd = tap_fd;
	net_queue_configure(qp->q, 0, mtu);
	r = evloop_init(&qp->loop);
	if (r)
		return r;
	qp->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	qp->resched_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qp->ctl_fd < 0 || qp->resched_fd < 0)
		return -errno;
	r = evloop_add(&qp->loop, qp->ctl_fd, EPOLLIN, qp_on_ctl, qp);
	if (!r)
		r = evloop_add(&qp->loop, qp->resched_fd, EPOLLIN, qp_on_resched, qp);
	if (r)
		return r;
	/* Until a ring starts, the kernel should not steer packets here. */
	qp_tap_sync(qp);
	r = -pthread_create(&qp->thread, NULL, qp_thread, qp);
	if (!r)
		qp->thread_ok = true;
	return r;
}

void qp_fini(struct nb_qp *qp)
{
	if (qp->thread_ok) {
		evloop_stop(&qp->loop);
		pthread_join(qp->thread, NULL);
		qp->thread_ok = false;
	}
	if (qp->loop.epfd >= 0)
		evloop_fini(&qp->loop);
	if (qp->ctl_fd >= 0)
		close(qp->ctl_fd);
	if (qp->resched_fd >= 0)
		close(qp->resched_fd);
	qp->ctl_fd = qp->resched_fd = -1;
	if (qp->q) {
		net_queue_fini(qp->q);
		free(qp->q);
		qp->q = NULL;
	}
	pthread_cond_destroy(&qp->cond);
	pthread_mutex_destroy(&qp->lock);
	dma_as_destroy(&qp->dma);
	if (qp->iotlb_as_ok)
		vu_iotlb_as_destroy(&qp->iotlb_as);
}

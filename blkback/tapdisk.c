/* isle-tapdisk's vhost-user-blk device (contract in tapdisk.h): the
 * vhost-user callbacks, one thread per started virtqueue, and the listening
 * socket with its one connection at a time.
 *
 * Threads: the main thread runs vu_dispatch() and is the only one that
 * starts, stops or reconfigures a queue; it always stops a queue thread
 * (evloop_stop + join, after the thread drained its requests) before it
 * touches that queue's state. The only things shared with a running queue
 * thread are the call/err eventfds (swapped under the queue's lock) and the
 * guest memory map, which we keep a private copy of (td->gm) and only change
 * with every queue stopped, because the library rewrites dev->gm in place.
 *
 * Each queue gets its own engine instance on a dup of the image fd (the
 * engines are single-threaded; a dup shares the open file description, so
 * the OFD image lock and O_DIRECT stay as they are). Request slots, iovecs
 * and free lists are allocated when a queue starts, sized to the ring: the
 * data path does not allocate. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blkback/blk.h"
#include "blkback/tapdisk.h"
#include "isle/evloop.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

struct td_queue {
	struct tapdisk *td;
	unsigned int index;
	bool running;                  /* thread alive */
	bool broken;                   /* ring corrupt: no more pops until reset */
	pthread_t thread;
	struct evloop loop;
	struct vq vq;
	struct disk disk;              /* this queue's engine instance */
	int kick_fd;                   /* the library's; read only here */
	pthread_mutex_t lock;          /* call_fd, err_fd */
	int call_fd, err_fd;
	unsigned int num;
	struct blk_req *slots;         /* num of them */
	struct iovec *iovs;            /* BLK_REQ_MAX_IOV per slot */
	uint16_t *free_slots, *pending, *recover;
	unsigned int nfree, pend_head, npend, nrecover, inflight;
	bool starved;                  /* stopped popping: no free slot */
	bool pushed;                   /* used entries since the last notify check */
	uint16_t base;                 /* next avail index while stopped */
};

struct tapdisk {
	struct disk disk;              /* holds the image lock */
	struct blk_dev blk;
	unsigned int queues;
	struct td_queue q[VU_MAX_QUEUES];
	struct gmem gm;                /* queue threads' copy of dev->gm */
	struct vu_dev vu;
	struct evloop loop;
	bool loop_ok;
	int listen_fd, conn_fd, sig_fd;
	struct sockaddr_un addr;
	struct stat sock_st;           /* the socket file we made */
};

/* ---- queue threads ---- */

static void tapdisk_queue_notify(struct td_queue *q)
{
	if (!q->pushed)
		return;
	q->pushed = false;
	if (!vq_should_notify(&q->vq))
		return;
	pthread_mutex_lock(&q->lock);
	if (q->call_fd >= 0 && eventfd_write(q->call_fd, 1) < 0)
		log_warn("queue %u: call eventfd: %s", q->index, strerror(errno));
	pthread_mutex_unlock(&q->lock);
}

/* The guest broke the ring: stop popping, tell the frontend, keep finishing
 * what is in flight (vq_push still works on a broken queue). */
static void tapdisk_queue_broken(struct td_queue *q)
{
	if (q->broken)
		return;
	q->broken = true;
	log_error("queue %u: guest corrupted the ring (%s): queue stopped until reset",
		  q->index, vq_broken_reason(&q->vq) ? vq_broken_reason(&q->vq) : "?");
	evloop_del(&q->loop, q->kick_fd);
	pthread_mutex_lock(&q->lock);
	if (q->err_fd >= 0 && eventfd_write(q->err_fd, 1) < 0)
		log_warn("queue %u: err eventfd: %s", q->index, strerror(errno));
	pthread_mutex_unlock(&q->lock);
}

/* blk completion: the used entry, and the slot back on the free list. */
static void tapdisk_queue_complete(struct blk_req *req)
{
	struct td_queue *q = req->opaque;

	if (vq_push(&q->vq, req->elem.head, req->written))
		log_warn("queue %u: push of head %u failed", q->index, req->elem.head);
	q->pushed = true;
	q->free_slots[q->nfree++] = (uint16_t)(req - q->slots);
	q->inflight--;
}

static void tapdisk_queue_submit(struct td_queue *q, struct blk_req *req)
{
	int r = blk_handle(&q->td->blk, &q->disk, req);

	if (r == -EAGAIN) {
		q->pending[(q->pend_head + q->npend++) % q->num] = (uint16_t)(req - q->slots);
	} else if (r) {
		/* No status byte to answer with: the chain is dropped. */
		vq_set_broken(&q->vq, "virtio-blk request without header or status byte");
		q->free_slots[q->nfree++] = (uint16_t)(req - q->slots);
		q->inflight--;
		tapdisk_queue_broken(q);
	}
}

static void tapdisk_queue_retry(struct td_queue *q)
{
	while (q->npend) {
		struct blk_req *req = &q->slots[q->pending[q->pend_head]];

		if (blk_retry(req) == -EAGAIN)
			return;
		q->pend_head = (q->pend_head + 1) % q->num;
		q->npend--;
	}
}

static struct blk_req *tapdisk_queue_slot(struct td_queue *q)
{
	return q->nfree ? &q->slots[q->free_slots[q->nfree - 1]] : NULL;
}

/* Pops until the ring is empty (kicks off meanwhile), submitting each
 * request; the batch ends with one notification check. */
static void tapdisk_queue_process(struct td_queue *q)
{
	struct blk_req *req;
	int r;

	q->starved = false;
	while (!q->broken) {
		vq_disable_notify(&q->vq);
		while ((req = tapdisk_queue_slot(q))) {
			r = vq_pop(&q->vq, &req->elem);
			if (r == 0)
				break;
			if (r < 0) {
				tapdisk_queue_broken(q);
				goto out;
			}
			q->nfree--;
			q->inflight++;
			tapdisk_queue_submit(q, req);
		}
		if (!req) {
			/* Every slot busy (only a guest reusing heads gets
			 * here): a completion brings us back. */
			q->starved = true;
			break;
		}
		if (!vq_enable_notify(&q->vq))
			break;
	}
out:
	tapdisk_queue_notify(q);
}

/* Chains a killed predecessor left in flight, oldest first. */
static void tapdisk_queue_resubmit(struct td_queue *q)
{
	for (unsigned int i = 0; i < q->nrecover && !q->broken; i++) {
		struct blk_req *req = tapdisk_queue_slot(q);

		if (!req || vq_resubmit(&q->vq, q->recover[i], &req->elem) < 0) {
			tapdisk_queue_broken(q);
			break;
		}
		q->nfree--;
		q->inflight++;
		tapdisk_queue_submit(q, req);
	}
	q->nrecover = 0;
}

static void tapdisk_queue_on_kick(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct td_queue *q = opaque;
	eventfd_t v;

	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_warn("queue %u: kick eventfd: %s", q->index, strerror(errno));
	tapdisk_queue_process(q);
}

static void tapdisk_queue_on_disk(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct td_queue *q = opaque;
	int r = disk_reap(&q->disk);

	if (r < 0)
		log_warn("queue %u: reap: %s", q->index, strerror(-r));
	tapdisk_queue_retry(q);
	if (q->starved && q->nfree)
		tapdisk_queue_process(q);
	tapdisk_queue_notify(q);
}

/* Waits for everything popped to complete and be pushed. */
static void tapdisk_queue_drain(struct td_queue *q)
{
	struct pollfd p = { .fd = disk_event_fd(&q->disk), .events = POLLIN };
	int waited = 0;

	while (q->inflight) {
		if (poll(&p, 1, 1000) == 0 && ++waited % 10 == 0)
			log_warn("queue %u: still waiting for %u requests", q->index, q->inflight);
		disk_reap(&q->disk);
		tapdisk_queue_retry(q);
	}
	tapdisk_queue_notify(q);
}

static void *tapdisk_queue_thread(void *opaque)
{
	struct td_queue *q = opaque;
	int r;

	tapdisk_queue_resubmit(q);
	/* Chains may already wait (their kick went to a predecessor). */
	tapdisk_queue_process(q);
	r = evloop_run(&q->loop);
	if (r)
		log_error("queue %u: event loop: %s", q->index, strerror(-r));
	tapdisk_queue_drain(q);
	return NULL;
}

/* ---- queue start / stop (main thread) ---- */

static void tapdisk_queue_free(struct td_queue *q)
{
	free(q->slots);
	free(q->iovs);
	free(q->free_slots);
	free(q->pending);
	free(q->recover);
	q->slots = NULL;
	q->iovs = NULL;
	q->free_slots = q->pending = q->recover = NULL;
}

static int tapdisk_queue_alloc(struct td_queue *q, unsigned int num)
{
	q->num = num;
	q->slots = calloc(num, sizeof(*q->slots));
	q->iovs = calloc((size_t)num * BLK_REQ_MAX_IOV, sizeof(*q->iovs));
	q->free_slots = calloc(num, sizeof(uint16_t));
	q->pending = calloc(num, sizeof(uint16_t));
	q->recover = calloc(num, sizeof(uint16_t));
	if (!q->slots || !q->iovs || !q->free_slots || !q->pending || !q->recover) {
		tapdisk_queue_free(q);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < num; i++) {
		blk_req_init(&q->slots[i], q->iovs + (size_t)i * BLK_REQ_MAX_IOV,
			     BLK_REQ_MAX_IOV, tapdisk_queue_complete, q);
		q->free_slots[i] = (uint16_t)(num - 1 - i);
	}
	q->nfree = num;
	q->pend_head = q->npend = q->nrecover = q->inflight = 0;
	q->starved = q->pushed = false;
	return 0;
}

/* A second engine instance on the image, for one queue thread. */
static int tapdisk_queue_disk(struct tapdisk *td, struct td_queue *q)
{
	const struct disk_engine_ops *engine = td->disk.engine;
	struct disk *d = &q->disk;
	int r;

	*d = td->disk;
	d->engine = NULL;   /* until its init succeeded: disk_close skips fini */
	d->engine_priv = NULL;
	d->done_head = NULL;
	d->done_tail = &d->done_head;
	d->inflight = 0;
	d->queue_depth = MIN(q->num, DISK_MAX_DEPTH);
	d->efd = -1;
	d->fd = fcntl(td->disk.fd, F_DUPFD_CLOEXEC, 0);
	if (d->fd < 0)
		return -errno;
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = engine->init(d);
	if (!r) {
		d->engine = engine;
		return 0;
	}
fail:
	disk_close(d);
	return r;
}

/* Starts queue index on ring vr from avail index base; with recover, first
 * takes back what the inflight region says was in flight. */
static int tapdisk_queue_start(struct tapdisk *td, unsigned int index,
			       const struct vu_vring *vr, uint16_t base, bool recover)
{
	struct td_queue *q = &td->q[index];
	struct vq_config cfg = {
		.num = vr->num, .max_num = TAPDISK_MAX_QUEUE_SIZE,
		.desc_gpa = vr->desc_gpa, .avail_gpa = vr->avail_gpa, .used_gpa = vr->used_gpa,
		.flags = vq_flags_from_features(td->vu.features),
	};
	int r, n;

	if (vr->kick_fd < 0) {
		log_error("queue %u: polled rings (no kick eventfd) are not supported", index);
		return -EOPNOTSUPP;
	}
	r = vq_init(&q->vq, &td->gm, &cfg);
	if (r) {
		log_error("queue %u: ring not usable: %s", index, strerror(-r));
		return r;
	}
	vq_set_last_avail(&q->vq, base);
	vq_sync_used_idx(&q->vq);
	r = tapdisk_queue_alloc(q, vr->num);
	if (r)
		return r;
	if (vr->inflight) {
		r = vq_inflight_attach(&q->vq, vr->inflight, vr->inflight_size);
		if (r)
			log_warn("queue %u: inflight region does not match the ring: "
				 "no crash recovery for this queue", index);
		n = r || !recover ? 0 : vq_inflight_recover(&q->vq, q->recover, q->num);
		if (n < 0) {
			log_error("queue %u: inflight region inconsistent: %s", index,
				  strerror(-n));
			r = n;
			goto fail_free;
		}
		if (n)
			log_info("queue %u: resubmitting %d requests left in flight", index, n);
		q->nrecover = (unsigned int)n;
	}
	r = tapdisk_queue_disk(td, q);
	if (r) {
		log_error("queue %u: engine %s: %s", index, disk_engine_name(&td->disk),
			  strerror(-r));
		goto fail_free;
	}
	q->kick_fd = vr->kick_fd;
	q->call_fd = vr->call_fd;
	q->err_fd = vr->err_fd;
	r = evloop_init(&q->loop);
	if (r)
		goto fail_disk;
	if (!q->broken)
		r = evloop_add(&q->loop, q->kick_fd, EPOLLIN, tapdisk_queue_on_kick, q);
	if (!r)
		r = evloop_add(&q->loop, disk_event_fd(&q->disk), EPOLLIN,
			       tapdisk_queue_on_disk, q);
	if (!r)
		r = -pthread_create(&q->thread, NULL, tapdisk_queue_thread, q);
	if (r)
		goto fail_loop;
	q->running = true;
	log_debug("queue %u: started, size %u, base %u", index, vr->num, base);
	return 0;
fail_loop:
	evloop_fini(&q->loop);
fail_disk:
	disk_close(&q->disk);
fail_free:
	tapdisk_queue_free(q);
	return r;
}

static uint16_t tapdisk_queue_halt(struct td_queue *q)
{
	if (!q->running)
		return q->base;
	evloop_stop(&q->loop);
	pthread_join(q->thread, NULL);
	q->running = false;
	q->base = vq_get_last_avail(&q->vq);
	evloop_fini(&q->loop);
	disk_close(&q->disk);
	tapdisk_queue_free(q);
	log_debug("queue %u: stopped at %u", q->index, q->base);
	return q->base;
}

/* ---- vhost-user device ops ---- */

static uint64_t tapdisk_get_features(struct vu_dev *dev)
{
	struct tapdisk *td = dev->priv;

	return blk_features(&td->blk) | 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
}

static uint64_t tapdisk_get_protocol_features(struct vu_dev *dev)
{
	return 1ULL << VHOST_USER_PROTOCOL_F_MQ | 1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK |
	       1ULL << VHOST_USER_PROTOCOL_F_CONFIG |
	       1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
}

static int tapdisk_get_config(struct vu_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct tapdisk *td = dev->priv;
	struct virtio_blk_config cfg;

	blk_config(&td->blk, &cfg);
	memcpy(buf, (uint8_t *)&cfg + offset, len);   /* range checked by the library */
	return 0;
}

static int tapdisk_queue_start_op(struct vu_dev *dev, unsigned int index,
				  const struct vu_vring *vr)
{
	struct tapdisk *td = dev->priv;

	td->q[index].broken = false;
	return tapdisk_queue_start(td, index, vr, vr->base, true);
}

static uint16_t tapdisk_queue_stop_op(struct vu_dev *dev, unsigned int index)
{
	struct tapdisk *td = dev->priv;

	return tapdisk_queue_halt(&td->q[index]);
}

static void tapdisk_notifiers_changed(struct vu_dev *dev, unsigned int index,
				      const struct vu_vring *vr)
{
	struct td_queue *q = &((struct tapdisk *)dev->priv)->q[index];

	pthread_mutex_lock(&q->lock);
	q->call_fd = vr->call_fd;
	q->err_fd = vr->err_fd;
	pthread_mutex_unlock(&q->lock);
}

/* Running queues hold host pointers into the old mappings (rings, and data
 * buffers in the engine): stop and drain them, adopt the new map, restart
 * them where they were. */
static void tapdisk_mem_table_changed(struct vu_dev *dev, const struct gmem *gm)
{
	struct tapdisk *td = dev->priv;
	bool was_running[VU_MAX_QUEUES];

	for (unsigned int i = 0; i < td->queues; i++) {
		was_running[i] = td->q[i].running;
		tapdisk_queue_halt(&td->q[i]);
	}
	td->gm = *gm;
	for (unsigned int i = 0; i < td->queues; i++) {
		if (was_running[i] &&
		    tapdisk_queue_start(td, i, &dev->vrings[i], td->q[i].base, false))
			log_error("queue %u: stopped: cannot restart after a memory table change",
				  i);
	}
}

static int tapdisk_inflight_changed(struct vu_dev *dev, const struct vu_inflight_info *inf)
{
	log_debug("inflight buffer: %u queues of %u (%s)", inf->num_queues, inf->queue_size,
		  inf->fresh ? "new" : "restored");
	return 0;
}

static const struct vu_dev_ops tapdisk_vu_ops = {
	.get_features = tapdisk_get_features,
	.get_protocol_features = tapdisk_get_protocol_features,
	.get_config = tapdisk_get_config,
	.queue_start = tapdisk_queue_start_op,
	.queue_stop = tapdisk_queue_stop_op,
	.queue_notifiers_changed = tapdisk_notifiers_changed,
	.mem_table_changed = tapdisk_mem_table_changed,
	.inflight_changed = tapdisk_inflight_changed,
};

/* ---- socket and main loop ---- */

static void tapdisk_on_conn(struct evloop *loop, int fd, uint32_t events, void *opaque);

static void tapdisk_on_listen(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct tapdisk *td = opaque;
	struct vu_dev_params p = {
		.num_queues = td->queues, .max_queue_size = TAPDISK_MAX_QUEUE_SIZE,
		.config_size = sizeof(struct virtio_blk_config),
	};
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0) {
		log_warn("accept: %s", strerror(errno));
		return;
	}
	if (vu_dev_init(&td->vu, c, &tapdisk_vu_ops, &p, td) ||
	    evloop_add(loop, c, EPOLLIN, tapdisk_on_conn, td)) {
		log_error("cannot serve a new connection");
		close(c);
		return;
	}
	/* One frontend at a time: the next one waits in the backlog. */
	evloop_del(loop, fd);
	td->conn_fd = c;
	log_info("frontend connected");
}

static void tapdisk_disconnect(struct tapdisk *td)
{
	if (td->conn_fd < 0)
		return;
	evloop_del(&td->loop, td->conn_fd);
	vu_dev_cleanup(&td->vu);    /* stops and drains the queues */
	close(td->conn_fd);
	td->conn_fd = -1;
	if (evloop_add(&td->loop, td->listen_fd, EPOLLIN, tapdisk_on_listen, td))
		log_error("cannot listen again");
}

static void tapdisk_on_conn(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct tapdisk *td = opaque;
	int r = vu_dispatch(&td->vu);

	if (!r)
		return;
	if (r == -ECONNRESET)
		log_info("frontend disconnected; waiting for the next one");
	else
		log_warn("closing the frontend connection: %s", strerror(-r));
	tapdisk_disconnect(td);
}

static void tapdisk_on_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: exiting", si.ssi_signo);
	evloop_stop(loop);
}

/* Binds the socket, replacing a stale socket file nobody listens on. */
static int tapdisk_listen(struct tapdisk *td, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un *a = &td->addr;
	struct stat st;
	int fd, probe, r;

	if (strlen(path) >= sizeof(a->sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
		if (errno != EADDRINUSE || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			goto fail;
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = probe < 0 ? -1 : connect(probe, (struct sockaddr *)a, sizeof(*a));
		if (probe >= 0)
			close(probe);
		if (r == 0) {
			snprintf(err, errlen, "%s: another server is listening on it", path);
			close(fd);
			return -EADDRINUSE;
		}
		log_info("%s: replacing a stale socket", path);
		if (unlink(path) < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0)
			goto fail;
	}
	if (listen(fd, 1) < 0 || stat(path, &td->sock_st) < 0)
		goto fail;
	td->listen_fd = fd;
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

int tapdisk_open(struct tapdisk **tdp, const struct tapdisk_opts *o, char *err, size_t errlen)
{
	struct disk_flags flags = { .direct = o->direct, .readonly = o->readonly };
	struct tapdisk *td = calloc(1, sizeof(*td));
	int r;

	if (!td)
		return -ENOMEM;
	td->listen_fd = td->conn_fd = td->sig_fd = -1;
	td->queues = o->queues ? o->queues : 1;
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		td->q[i].td = td;
		td->q[i].index = i;
		pthread_mutex_init(&td->q[i].lock, NULL);
	}
	r = disk_open(&td->disk, o->spec, o->engine, &flags, err, errlen);
	if (r) {
		free(td);
		return r;
	}
	blk_dev_init(&td->blk, &td->disk, td->queues, o->spec->vdev);
	r = tapdisk_listen(td, o->socket_path, err, errlen);
	if (r) {
		disk_close(&td->disk);
		free(td);
		return r;
	}
	log_info("serving %s (%llu sectors, %s%s, engine %s, %u queue%s) on %s", td->disk.path,
		 (unsigned long long)td->blk.capacity, td->blk.readonly ? "ro" : "rw",
		 td->disk.direct ? ", direct" : "", disk_engine_name(&td->disk), td->queues,
		 td->queues > 1 ? "s" : "", o->socket_path);
	*tdp = td;
	return 0;
}

int tapdisk_run(struct tapdisk *td)
{
	sigset_t set;
	int r;

	/* Before any queue thread exists, so they all inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	td->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (td->sig_fd < 0)
		return -errno;
	r = evloop_init(&td->loop);
	if (r)
		return r;
	td->loop_ok = true;
	r = evloop_add(&td->loop, td->sig_fd, EPOLLIN, tapdisk_on_signal, td);
	if (!r)
		r = evloop_add(&td->loop, td->listen_fd, EPOLLIN, tapdisk_on_listen, td);
	if (!r)
		r = evloop_run(&td->loop);
	tapdisk_disconnect(td);
	return r;
}

void tapdisk_close(struct tapdisk *td)
{
	struct stat st;

	if (!td)
		return;
	tapdisk_disconnect(td);
	if (td->loop_ok)
		evloop_fini(&td->loop);
	if (td->sig_fd >= 0)
		close(td->sig_fd);
	if (td->listen_fd >= 0) {
		close(td->listen_fd);
		/* Only our own socket file: a successor may have replaced it. */
		if (!stat(td->addr.sun_path, &st) && st.st_ino == td->sock_st.st_ino &&
		    st.st_dev == td->sock_st.st_dev)
			unlink(td->addr.sun_path);
	}
	disk_close(&td->disk);
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		pthread_mutex_destroy(&td->q[i].lock);
	free(td);
}

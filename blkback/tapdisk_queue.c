/* The per-queue data path of isle-tapdisk (contract in tapdisk_queue.h):
 * pop, hand to blk.c, reap the engine, push, notify.
 *
 * Batching: a kick pops the ring dry with guest kicks off, submits each
 * request as it is popped, and checks once at the end whether the guest
 * wants an interrupt (EVENT_IDX or the NO_INTERRUPT flag); completions
 * reaped together are pushed together and notified once. Nothing here
 * allocates or spins: the thread sleeps in epoll when there is no work.
 *
 * Each queue gets its own engine instance on a dup of the image fd (the
 * engines are single-threaded; a dup shares the open file description, so
 * the OFD image lock and O_DIRECT stay as they are). Slots, iovecs and free
 * lists are allocated when the queue starts, sized to the ring. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tapdisk.h"
#include "tapdisk_queue.h"
#include "isle/log.h"
#include "isle/util.h"

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
	int r = blk_handle(q->blk, &q->disk, req);

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

/* ---- start / stop, from the main thread ---- */

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
static int tapdisk_queue_disk(struct td_queue *q)
{
	const struct disk_engine_ops *engine = q->image->engine;
	struct disk *d = &q->disk;
	int r;

	*d = *q->image;
	d->engine = NULL;   /* until its init succeeded: disk_close skips fini */
	d->engine_priv = NULL;
	d->done_head = NULL;
	d->done_tail = &d->done_head;
	d->inflight = 0;
	d->format_owner = false;   /* the format's shared state stays the image's */
	d->queue_depth = MIN(q->num, DISK_MAX_DEPTH);
	d->efd = -1;
	d->fd = fcntl(q->image->fd, F_DUPFD_CLOEXEC, 0);
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

int tapdisk_queue_start(struct td_queue *q, const struct vu_vring *vr, uint16_t base,
			unsigned int vq_flags, bool recover)
{
	unsigned int index = q->index;
	struct vq_config cfg = {
		.num = vr->num, .max_num = TAPDISK_MAX_QUEUE_SIZE,
		.desc_gpa = vr->desc_gpa, .avail_gpa = vr->avail_gpa, .used_gpa = vr->used_gpa,
		.flags = vq_flags,
	};
	int r, n;

	if (vr->kick_fd < 0) {
		log_error("queue %u: polled rings (no kick eventfd) are not supported", index);
		return -EOPNOTSUPP;
	}
	r = vq_init(&q->vq, q->dma, &cfg);
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
	r = tapdisk_queue_disk(q);
	if (r) {
		log_error("queue %u: engine %s: %s", index, disk_engine_name(q->image),
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

uint16_t tapdisk_queue_halt(struct td_queue *q)
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

void tapdisk_queue_set_notifiers(struct td_queue *q, int call_fd, int err_fd)
{
	pthread_mutex_lock(&q->lock);
	q->call_fd = call_fd;
	q->err_fd = err_fd;
	pthread_mutex_unlock(&q->lock);
}

void tapdisk_queue_init(struct td_queue *q, unsigned int index, const struct blk_dev *blk,
			const struct disk *image, struct dma_as *dma)
{
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->blk = blk;
	q->image = image;
	q->dma = dma;
	q->kick_fd = q->call_fd = q->err_fd = -1;
	pthread_mutex_init(&q->lock, NULL);
}

void tapdisk_queue_fini(struct td_queue *q)
{
	tapdisk_queue_halt(q);
	pthread_mutex_destroy(&q->lock);
}

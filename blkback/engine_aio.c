/* The libaio engine: Linux native AIO (io_submit/io_getevents), the classic
 * tapdisk "tap:aio:" path. Every iocb carries the disk's eventfd
 * (io_set_eventfd), so the event loop wakes on completions without a
 * thread. READ/WRITE become preadv/pwritev iocbs and FLUSH an fdsync iocb
 * (kernel 4.18+; before that the fdatasync is done synchronously). libaio has
 * no fallocate, so DISCARD and WRITE_ZEROES run synchronously and complete
 * through the shared list.
 *
 * Native AIO is only truly asynchronous with O_DIRECT; buffered requests may
 * block in io_submit, which is correct, merely slower.
 *
 * The kernel context is sized to the queue depth and one iocb slot exists per
 * queue entry, so an accepted request always has a slot; io_submit's own
 * -EAGAIN (kernel short of resources) is passed back for the caller to
 * retry after reaping. */
#include <errno.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disk.h"
#include "isle/log.h"

struct aio_slot {
	struct iocb iocb;
	struct disk_req *req;
};

struct aio_engine {
	io_context_t ctx;
	struct aio_slot *slots;
	unsigned int *free;             /* stack of free slot indexes */
	unsigned int nfree;
	unsigned int depth;
	unsigned int busy;              /* iocbs the kernel holds */
	bool fdsync_broken;             /* kernel rejected IOCB_CMD_FDSYNC */
	struct io_event *events;
};

static struct aio_engine *aio_of(struct disk *disk)
{
	return disk->engine_priv;
}

static void aio_free(struct aio_engine *a)
{
	free(a->slots);
	free(a->free);
	free(a->events);
	free(a);
}

static int aio_init(struct disk *disk)
{
	struct aio_engine *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->depth = disk->queue_depth;
	a->slots = calloc(a->depth, sizeof(*a->slots));
	a->free = calloc(a->depth, sizeof(*a->free));
	a->events = calloc(a->depth, sizeof(*a->events));
	if (!a->slots || !a->free || !a->events) {
		aio_free(a);
		return -ENOMEM;
	}
	r = io_setup((int)a->depth, &a->ctx);   /* libaio returns -errno */
	if (r < 0) {
		aio_free(a);
		return r;
	}
	for (unsigned int i = 0; i < a->depth; i++)
		a->free[i] = a->depth - 1 - i;
	a->nfree = a->depth;
	disk->engine_priv = a;
	return 0;
}

static void aio_fini(struct disk *disk)
{
	struct aio_engine *a = aio_of(disk);

	if (!a)
		return;
	/* io_destroy waits for the iocbs still in flight, so no buffer is
	 * written after we return; their callbacks are dropped. */
	io_destroy(a->ctx);
	aio_free(a);
	disk->engine_priv = NULL;
}

/* Submits one prepared slot; returns 0 or -errno and frees it on failure. */
static int aio_issue(struct disk *disk, struct aio_engine *a, unsigned int idx)
{
	struct iocb *cb = &a->slots[idx].iocb;
	int r;

	io_set_eventfd(cb, disk->efd);
	cb->data = &a->slots[idx];
	do {
		r = io_submit(a->ctx, 1, &cb);
	} while (r == -EINTR);
	if (r == 1) {
		a->busy++;
		return 0;
	}
	a->free[a->nfree++] = idx;
	return r < 0 ? r : -EAGAIN;
}

static int aio_submit(struct disk *disk, struct disk_req *req)
{
	struct aio_engine *a = aio_of(disk);
	struct iovec *iov = (struct iovec *)req->iov;   /* libaio is not const-clean */
	unsigned int idx;
	int r;

	if (req->op == DISK_OP_DISCARD || req->op == DISK_OP_WRITE_ZEROES ||
	    (req->op == DISK_OP_FLUSH && a->fdsync_broken)) {
		disk_complete_later(disk, req, disk_sync_do(disk, req));
		return 0;
	}
	if (!a->nfree)
		return -EAGAIN;         /* cannot happen while inflight <= depth */
	idx = a->free[--a->nfree];
	a->slots[idx].req = req;
	switch (req->op) {
	case DISK_OP_READ:
		io_prep_preadv(&a->slots[idx].iocb, disk->fd, iov, (int)req->iovcnt,
			       (long long)req->offset);
		break;
	case DISK_OP_WRITE:
		io_prep_pwritev(&a->slots[idx].iocb, disk->fd, iov, (int)req->iovcnt,
				(long long)req->offset);
		break;
	default:
		io_prep_fdsync(&a->slots[idx].iocb, disk->fd);
		break;
	}
	r = aio_issue(disk, a, idx);
	if (r == -EINVAL && req->op == DISK_OP_FLUSH) {
		log_debug("%s: no IOCB_CMD_FDSYNC in this kernel; flushing synchronously",
			  disk->path);
		a->fdsync_broken = true;
		disk_complete_later(disk, req, disk_sync_flush(disk));
		return 0;
	}
	return r;
}

static int aio_get_event_fd(struct disk *disk)
{
	return disk->efd;
}

/* Turns a kernel result into the contract's: full length or -errno. */
static int64_t aio_result(struct disk *disk, struct disk_req *req, long res)
{
	if (res < 0)
		return res;
	if (req->op == DISK_OP_FLUSH)
		return 0;
	if ((uint64_t)res < req->len)
		return disk_sync_rw(disk, req, (uint64_t)res);
	return (int64_t)req->len;
}

static int aio_reap(struct disk *disk)
{
	struct aio_engine *a = aio_of(disk);
	struct timespec zero = { 0, 0 };
	int n, total = 0;

	disk_eventfd_drain(disk);
	do {
		n = io_getevents(a->ctx, 0, (long)a->depth, a->events, &zero);
		if (n < 0) {
			if (n == -EINTR)
				continue;
			disk_run_completions(disk);   /* the eventfd was drained */
			return n;
		}
		for (int i = 0; i < n; i++) {
			struct aio_slot *slot = a->events[i].data;
			struct disk_req *req = slot->req;
			long res = (long)a->events[i].res;

			/* Free the slot first: the callback may submit. */
			a->free[a->nfree++] = (unsigned int)(slot - a->slots);
			a->busy--;
			disk_req_complete(disk, req, aio_result(disk, req, res));
		}
		total += n;
	} while (n == (int)a->depth);
	return total + disk_run_completions(disk);
}

const struct disk_engine_ops disk_engine_aio = {
	.name = "aio",
	.kind = DISK_ENGINE_AIO,
	.init = aio_init,
	.fini = aio_fini,
	.submit = aio_submit,
	.get_event_fd = aio_get_event_fd,
	.reap = aio_reap,
};

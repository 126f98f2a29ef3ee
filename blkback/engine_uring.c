/* The io_uring engine (liburing). The disk's eventfd is registered with the
 * ring, so the event loop sees one fd per disk whatever the engine.
 * READ/WRITE are IORING_OP_READV/WRITEV, FLUSH is FSYNC with DATASYNC, and
 * DISCARD/WRITE_ZEROES are FALLOCATE when the kernel's probe lists it
 * (5.6+). A block device has no fallocate-shaped discard (fallocate's
 * PUNCH_HOLE there writes zeros), so its DISCARD is the BLKDISCARD ioctl,
 * done synchronously; so is anything the kernel's io_uring lacks.
 *
 * The ring has queue_depth entries and accepted requests never exceed that,
 * so an SQE is always free. A failed io_uring_enter leaves the SQE queued in
 * the ring (it cannot be taken back), so the request stays accepted and the
 * submission is retried from reap, which the eventfd is poked to run. */
#include <errno.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "isle/log.h"

struct uring_engine {
	struct io_uring ring;
	bool has_fallocate;
	bool resubmit;                  /* SQEs left queued by a failed enter */
	unsigned int busy;              /* SQEs the kernel holds or will */
};

static struct uring_engine *uring_of(struct disk *disk)
{
	return disk->engine_priv;
}

static int uring_init(struct disk *disk)
{
	struct uring_engine *u = calloc(1, sizeof(*u));
	struct io_uring_probe *probe;
	int r;

	if (!u)
		return -ENOMEM;
	r = io_uring_queue_init(disk->queue_depth, &u->ring, 0);
	if (r < 0) {                    /* -ENOSYS, or -EPERM when disabled */
		free(u);
		return r;
	}
	r = io_uring_register_eventfd(&u->ring, disk->efd);
	if (r < 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	probe = io_uring_get_probe_ring(&u->ring);
	if (probe) {
		u->has_fallocate = io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
		io_uring_free_probe(probe);
	}
	disk->engine_priv = u;
	return 0;
}

static void uring_fini(struct disk *disk)
{
	struct uring_engine *u = uring_of(disk);
	struct io_uring_cqe *cqe;

	if (!u)
		return;
	/* Wait for what the kernel holds (submitting what a failed enter
	 * left queued) so no buffer is touched after we return; the
	 * callbacks are dropped. */
	while (u->busy) {
		int r;

		if (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
			io_uring_cqe_seen(&u->ring, cqe);
			u->busy--;
			continue;
		}
		r = io_uring_submit_and_wait(&u->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			log_warn("%s: io_uring teardown: %s", disk->path, strerror(-r));
			break;
		}
	}
	io_uring_queue_exit(&u->ring);
	free(u);
	disk->engine_priv = NULL;
}

static void uring_kick(struct disk *disk, struct uring_engine *u)
{
	int r = io_uring_submit(&u->ring);
	uint64_t one = 1;

	u->resubmit = r < 0 || io_uring_sq_ready(&u->ring) > 0;
	if (!u->resubmit)
		return;
	if (r < 0)
		log_debug("%s: io_uring_enter: %s; retrying", disk->path, strerror(-r));
	/* Nothing else may wake the loop: poke it so reap retries. */
	if (write(disk->efd, &one, sizeof(one)) < 0)
		log_warn("%s: eventfd write: %s", disk->path, strerror(errno));
}

/* True when this request can go to the ring as FALLOCATE. */
static bool uring_fallocate_mode(struct disk *disk, struct uring_engine *u,
				 const struct disk_req *req, int *mode)
{
	if (!u->has_fallocate)
		return false;
	if (req->op == DISK_OP_DISCARD) {
		*mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return !disk->is_blockdev;
	}
	/* On a block device fallocate insists on KEEP_SIZE. */
	*mode = FALLOC_FL_ZERO_RANGE | (disk->is_blockdev ? FALLOC_FL_KEEP_SIZE : 0);
	return disk->zero_range_ok;
}

static int uring_submit(struct disk *disk, struct disk_req *req)
{
	struct uring_engine *u = uring_of(disk);
	struct io_uring_sqe *sqe;
	int mode = 0;

	if ((req->op == DISK_OP_DISCARD || req->op == DISK_OP_WRITE_ZEROES) &&
	    !uring_fallocate_mode(disk, u, req, &mode)) {
		disk_complete_later(disk, req, disk_sync_do(disk, req));
		return 0;
	}
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return -EAGAIN;
	switch (req->op) {
	case DISK_OP_READ:
		io_uring_prep_readv(sqe, disk->fd, req->iov, req->iovcnt, req->offset);
		break;
	case DISK_OP_WRITE:
		io_uring_prep_writev(sqe, disk->fd, req->iov, req->iovcnt, req->offset);
		break;
	case DISK_OP_FLUSH:
		io_uring_prep_fsync(sqe, disk->fd, IORING_FSYNC_DATASYNC);
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, disk->fd, mode, (off_t)req->offset,
					(off_t)req->len);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
	u->busy++;
	uring_kick(disk, u);
	return 0;
}

static int uring_get_event_fd(struct disk *disk)
{
	return disk->efd;
}

/* Turns a CQE result into the contract's, finishing what the ring could
 * not: short transfers and a ZERO_RANGE the filesystem refuses. */
static int64_t uring_result(struct disk *disk, struct disk_req *req, int res)
{
	switch (req->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		if (res >= 0 && (uint64_t)res < req->len)
			return disk_sync_rw(disk, req, (uint64_t)res);
		return res < 0 ? res : (int64_t)req->len;
	case DISK_OP_WRITE_ZEROES:
		if (res == -EOPNOTSUPP && !disk->is_blockdev) {
			disk->zero_range_ok = false;
			return disk_sync_write_zeroes(disk, req->offset, req->len);
		}
		return res < 0 ? res : 0;
	default:
		return res < 0 ? res : 0;
	}
}

static int uring_reap(struct disk *disk)
{
	struct uring_engine *u = uring_of(disk);
	struct io_uring_cqe *cqe;
	int n = 0;

	disk_eventfd_drain(disk);
	if (u->resubmit)
		uring_kick(disk, u);
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct disk_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		/* Release the CQE first: the callback may submit. */
		io_uring_cqe_seen(&u->ring, cqe);
		u->busy--;
		disk_req_complete(disk, req, uring_result(disk, req, res));
		n++;
	}
	return n + disk_run_completions(disk);
}

const struct disk_engine_ops disk_engine_uring = {
	.name = "uring",
	.kind = DISK_ENGINE_URING,
	.init = uring_init,
	.fini = uring_fini,
	.submit = uring_submit,
	.get_event_fd = uring_get_event_fd,
	.reap = uring_reap,
};

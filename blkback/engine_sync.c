/* The synchronous engine, and the synchronous system calls every engine falls
 * back on (short transfers, ops libaio lacks, ops an old kernel's io_uring
 * lacks).
 *
 * The engine does the whole request inside submit but still completes it
 * through the eventfd-signalled list in disk.c, so a caller sees the same
 * asynchronous contract whichever engine runs. It is the reference the
 * others are tested against and the last resort where neither libaio nor
 * io_uring is usable. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "disk.h"
#include "isle/util.h"

#define SYNC_ZERO_CHUNK (256 * KiB)

/* Builds in out[] the part of iov that starts done bytes in; returns the
 * count of entries. The caller guarantees done < the vector's length. */
static unsigned int sync_iov_advance(const struct iovec *iov, unsigned int cnt,
				     uint64_t done, struct iovec *out)
{
	unsigned int i = 0, n = 0;

	while (i < cnt && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		i++;
	}
	for (; i < cnt; i++, n++) {
		out[n] = iov[i];
		if (n == 0) {
			out[0].iov_base = (char *)out[0].iov_base + done;
			out[0].iov_len -= done;
		}
	}
	return n;
}

/* Finishes a READ/WRITE of which done bytes have already moved. A transfer
 * that stops short of the end of the disk means the image shrank under us
 * or the device failed: -EIO, never a partial success. */
int64_t disk_sync_rw(struct disk *disk, struct disk_req *req, uint64_t done)
{
	struct iovec rest[DISK_MAX_IOV];
	const struct iovec *v = req->iov;
	unsigned int cnt = req->iovcnt;
	ssize_t n;

	while (done < req->len) {
		if (done) {
			cnt = sync_iov_advance(req->iov, req->iovcnt, done, rest);
			v = rest;
		}
		if (req->op == DISK_OP_READ)
			n = preadv(disk->fd, v, (int)cnt, (off_t)(req->offset + done));
		else
			n = pwritev(disk->fd, v, (int)cnt, (off_t)(req->offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
	}
	return (int64_t)req->len;
}

int64_t disk_sync_flush(struct disk *disk)
{
	return fdatasync(disk->fd) < 0 ? -errno : 0;
}

int64_t disk_sync_discard(struct disk *disk, uint64_t off, uint64_t len)
{
	if (disk->is_blockdev) {
		uint64_t range[2] = { off, len };

		return ioctl(disk->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	}
	if (fallocate(disk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

/* Last resort for files whose filesystem has neither ZERO_RANGE nor
 * PUNCH_HOLE: write zeros. The buffer is block aligned for O_DIRECT. */
static int64_t sync_write_zero_buffers(struct disk *disk, uint64_t off, uint64_t len)
{
	void *zero;
	int64_t r = 0;

	if (posix_memalign(&zero, 4096, SYNC_ZERO_CHUNK))
		return -ENOMEM;
	memset(zero, 0, SYNC_ZERO_CHUNK);
	while (len) {
		size_t chunk = (size_t)MIN(len, (uint64_t)SYNC_ZERO_CHUNK);
		ssize_t n = pwrite(disk->fd, zero, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(zero);
	return r;
}

int64_t disk_sync_write_zeroes(struct disk *disk, uint64_t off, uint64_t len)
{
	if (disk->is_blockdev) {
		uint64_t range[2] = { off, len };

		/* The kernel uses WRITE ZEROES or writes zeros itself. */
		return ioctl(disk->fd, BLKZEROOUT, range) < 0 ? -errno : 0;
	}
	if (disk->zero_range_ok) {
		/* Keeps the blocks allocated, so later writes cannot hit ENOSPC. */
		if (!fallocate(disk->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len))
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		disk->zero_range_ok = false;
	}
	if (!fallocate(disk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	return sync_write_zero_buffers(disk, off, len);
}

int64_t disk_sync_do(struct disk *disk, struct disk_req *req)
{
	switch (req->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		return disk_sync_rw(disk, req, 0);
	case DISK_OP_FLUSH:
		return disk_sync_flush(disk);
	case DISK_OP_DISCARD:
		return disk_sync_discard(disk, req->offset, req->len);
	case DISK_OP_WRITE_ZEROES:
		return disk_sync_write_zeroes(disk, req->offset, req->len);
	}
	return -EINVAL;
}

static int sync_init(struct disk *disk)
{
	return 0;
}

static void sync_fini(struct disk *disk)
{
}

static int sync_submit(struct disk *disk, struct disk_req *req)
{
	disk_complete_later(disk, req, disk_sync_do(disk, req));
	return 0;
}

static int sync_get_event_fd(struct disk *disk)
{
	return disk->efd;
}

static int sync_reap(struct disk *disk)
{
	disk_eventfd_drain(disk);
	return disk_run_completions(disk);
}

const struct disk_engine_ops disk_engine_sync = {
	.name = "sync",
	.kind = DISK_ENGINE_SYNC,
	.init = sync_init,
	.fini = sync_fini,
	.submit = sync_submit,
	.get_event_fd = sync_get_event_fd,
	.reap = sync_reap,
};

/* Disk images: opening, geometry, locking, format and engine choice, and the
 * checks and completion plumbing every engine shares (see disk.h for the
 * contract); the raw format, the identity, is here too.
 *
 * disk_submit() validates a request once, here, so an engine only ever sees
 * requests that lie inside [0, size), respect read-only, and fit the queue;
 * the engines then differ only in how the I/O is issued and reaped. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk.h"
#include "lock.h"
#include "isle/log.h"
#include "isle/util.h"


static bool disk_pow2_in(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

/* Reads a decimal number from a sysfs file; false when absent. */
static bool disk_sysfs_u64(const char *path, uint64_t *out)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	*out = strtoull(buf, NULL, 10);
	return true;
}

/* Whether a block device discards: its queue's discard_max_bytes (a
 * partition's queue is its parent's). Probing with BLKDISCARD itself is
 * unsafe: older kernels drop the page cache of the range it names. */
static bool disk_bdev_discards(dev_t rdev)
{
	char path[96];
	uint64_t max;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		 major(rdev), minor(rdev));
	if (disk_sysfs_u64(path, &max))
		return max != 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/discard_max_bytes",
		 major(rdev), minor(rdev));
	if (disk_sysfs_u64(path, &max))
		return max != 0;
	return true;    /* no sysfs: try, and let the request report it */
}

static int disk_probe_bdev(struct disk *disk, const struct stat *st, char *err, size_t errlen)
{
	unsigned int pbs = 0;
	int lbs = 0;

	if (ioctl(disk->fd, BLKGETSIZE64, &disk->size) < 0)
		return err_msg(err, errlen, -errno, "%s: BLKGETSIZE64: %s",
				 disk->path, strerror(errno));
	if (ioctl(disk->fd, BLKSSZGET, &lbs) < 0 || !disk_pow2_in((uint64_t)lbs, 512, 64 * KiB))
		lbs = 512;
	if (ioctl(disk->fd, BLKPBSZGET, &pbs) < 0 || !disk_pow2_in(pbs, (uint64_t)lbs, 64 * KiB))
		pbs = (unsigned int)lbs;
	disk->logical_block_size = (uint32_t)lbs;
	disk->physical_block_size = pbs;
	disk->can_discard = !disk->readonly && disk_bdev_discards(st->st_rdev);
	return 0;
}

/* O_DIRECT on a file needs the alignment of the filesystem's device, which
 * may be 4096 rather than 512: a 512-byte aligned read tells which. */
static uint32_t disk_file_dio_align(struct disk *disk)
{
	void *buf;
	uint32_t align = 512;

	if (disk->size < 4096 || posix_memalign(&buf, 4096, 4096))
		return align;
	if (pread(disk->fd, buf, 512, 0) < 0 && errno == EINVAL)
		align = 4096;
	free(buf);
	return align;
}

static void disk_probe_file(struct disk *disk, const struct stat *st)
{
	disk->size = (uint64_t)st->st_size;
	disk->logical_block_size = disk->direct ? disk_file_dio_align(disk) : 512;
	disk->physical_block_size = disk_pow2_in((uint64_t)st->st_blksize,
						 disk->logical_block_size, 64 * KiB)
		? (uint32_t)st->st_blksize : MAX(4096u, disk->logical_block_size);
	/* A hole punched past EOF changes nothing a reader can see and tells
	 * whether the filesystem supports PUNCH_HOLE at all. */
	disk->can_discard = !disk->readonly &&
		!fallocate(disk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   (off_t)ALIGN_UP(disk->size, 4096), 4096);
	disk->zero_range_ok = true;
}

/* An image in memory (tmpfs, ramfs) without O_DIRECT: every request is a
 * page-cache copy that never blocks, so doing it inline (sync) beats
 * handing it to io_uring's workers or libaio, which only add overhead. */
static bool disk_in_memory(const struct disk *disk)
{
	struct statfs sfs;

	return !disk->direct && fstatfs(disk->fd, &sfs) == 0 &&
	       (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
}

static int raw_open(struct disk *disk, const struct stat *st, char *err, size_t errlen)
{
	if (disk->is_blockdev)
		return disk_probe_bdev(disk, st, err, errlen);
	disk_probe_file(disk, st);
	return 0;
}

static int raw_submit(struct disk *disk, struct disk_req *req)
{
	return disk->engine->submit(disk, req);
}

/* Raw: the identity format. */
const struct disk_format_ops disk_format_raw = {
	.name = "raw",
	.kind = DISK_FORMAT_RAW,
	.open = raw_open,
	.submit = raw_submit,
};

/* The owner closes the format's shared state; a clone only forgets it. */
static void disk_format_close(struct disk *disk)
{
	if (disk->format_owner && disk->format && disk->format->close)
		disk->format->close(disk);
	disk->format_priv = NULL;
	disk->format_owner = false;
}

static int disk_attach(struct disk *disk, enum disk_engine_hint engine, char *err, size_t errlen)
{
	static const struct disk_engine_ops *const order[] = {
		&disk_engine_uring, &disk_engine_aio, &disk_engine_sync,
	};
	int r = -ENOSYS;

	if (engine == DISK_ENGINE_DEFAULT && disk_in_memory(disk)) {
		engine = DISK_ENGINE_SYNC;
		log_info("%s: in memory (tmpfs): using the sync engine", disk->path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (engine != DISK_ENGINE_DEFAULT && order[i]->kind != engine)
			continue;
		disk->engine = order[i];
		r = order[i]->init(disk);
		if (!r)
			return 0;
		log_debug("%s: engine %s unavailable: %s", disk->path, order[i]->name,
			  strerror(-r));
	}
	disk->engine = NULL;
	return err_msg(err, errlen, r, "%s: cannot start the %s engine: %s", disk->path,
			 diskspec_engine_name(engine), strerror(-r));
}

int disk_open(struct disk *disk, const struct disk_spec *spec,
	      enum disk_engine_hint engine, const struct disk_flags *flags,
	      char *err, size_t errlen)
{
	struct disk_flags none = { 0 };
	struct stat st;
	int oflags, r;

	if (!flags)
		flags = &none;
	memset(disk, 0, sizeof(*disk));
	disk->fd = -1;
	disk->efd = -1;
	disk->done_tail = &disk->done_head;
	if (err && errlen)
		err[0] = '\0';
	switch (spec->format) {
	case DISK_FORMAT_RAW:
		disk->format = &disk_format_raw;
		break;
	case DISK_FORMAT_QCOW2:
		disk->format = &disk_format_qcow2;
		break;
	default:
		return err_msg(err, errlen, -ENOTSUP, "format %s not supported yet",
				 diskspec_format_name(spec->format));
	}
	if (disk->format->kind != DISK_FORMAT_RAW && flags->direct)
		return err_msg(err, errlen, -ENOTSUP, "--direct is not supported for %s images",
			       disk->format->name);
	snprintf(disk->path, sizeof(disk->path), "%s", spec->path);
	disk->readonly = spec->readonly || flags->readonly;
	disk->direct = flags->direct;
	disk->queue_depth = flags->queue_depth ? MIN(flags->queue_depth, DISK_MAX_DEPTH)
					       : DISK_DEFAULT_DEPTH;
	if (engine == DISK_ENGINE_DEFAULT)
		engine = spec->engine;

	oflags = (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY |
		 (disk->direct ? O_DIRECT : 0);
	disk->fd = open(disk->path, oflags);
	if (disk->fd < 0) {
		r = -errno;
		if (r == -EINVAL && disk->direct)
			return err_msg(err, errlen, r, "%s: the filesystem refuses O_DIRECT",
					 disk->path);
		return err_msg(err, errlen, r, "cannot open %s: %s", disk->path, strerror(-r));
	}
	if (fstat(disk->fd, &st) < 0) {
		r = err_msg(err, errlen, -errno, "%s: %s", disk->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = err_msg(err, errlen, -EINVAL, "%s is neither a regular file nor a block device",
			      disk->path);
		goto fail;
	}
	/* Lock before probing: the probes may punch a hole past EOF. */
	r = lock_acquire(disk->fd, !disk->readonly, disk->path, err, errlen);
	if (r)
		goto fail;
	disk->is_blockdev = S_ISBLK(st.st_mode);
	r = disk->format->open(disk, &st, err, errlen);
	if (r)
		goto fail;
	disk->format_owner = true;
	if (disk->format->kind != DISK_FORMAT_RAW && engine != DISK_ENGINE_DEFAULT &&
	    engine != DISK_ENGINE_SYNC)
		log_info("%s: %s images are served by the sync engine", disk->path,
			 disk->format->name);
	if (disk->format->kind != DISK_FORMAT_RAW)
		engine = DISK_ENGINE_SYNC;   /* the format does its I/O itself */
	disk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (disk->efd < 0) {
		r = err_msg(err, errlen, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	r = disk_attach(disk, engine, err, errlen);
	if (r)
		goto fail;
	log_debug("%s: %s, %llu bytes, blocks %u/%u, %s%s%s, engine %s", disk->path,
		  disk->format->name, (unsigned long long)disk->size, disk->logical_block_size,
		  disk->physical_block_size, disk->readonly ? "ro" : "rw",
		  disk->direct ? ", direct" : "", disk->can_discard ? ", discard" : "",
		  disk->engine->name);
	return 0;
fail:
	disk_format_close(disk);
	if (disk->efd >= 0)
		close(disk->efd);
	close(disk->fd);
	disk->fd = disk->efd = -1;
	return r;
}

void disk_close(struct disk *disk)
{
	if (disk->engine)
		disk->engine->fini(disk);
	disk->engine = NULL;
	disk->done_head = NULL;
	disk->done_tail = &disk->done_head;
	disk->inflight = 0;
	disk_format_close(disk);
	if (disk->efd >= 0)
		close(disk->efd);
	if (disk->fd >= 0)
		close(disk->fd);        /* drops the OFD lock */
	disk->fd = disk->efd = -1;
}

/* Sums a READ/WRITE vector; -EINVAL when empty, too long or overflowing. */
static int disk_iov_len(const struct disk_req *req, uint64_t *len)
{
	uint64_t sum = 0;

	if (!req->iov || !req->iovcnt || req->iovcnt > DISK_MAX_IOV)
		return -EINVAL;
	for (unsigned int i = 0; i < req->iovcnt; i++) {
		if (req->iov[i].iov_len > DISK_MAX_RW_BYTES - sum)
			return -EINVAL;
		sum += req->iov[i].iov_len;
	}
	*len = sum;
	return 0;
}

int disk_submit(struct disk *disk, struct disk_req *req)
{
	int r;

	if (!disk->engine || !req->done)
		return -EINVAL;
	switch (req->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		r = disk_iov_len(req, &req->len);
		if (r)
			return r;
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		if (!req->len)
			return -EINVAL;
		break;
	case DISK_OP_FLUSH:
		break;
	default:
		return -EINVAL;
	}
	if (req->op != DISK_OP_READ && req->op != DISK_OP_FLUSH && disk->readonly)
		return -EROFS;
	if (req->op != DISK_OP_FLUSH && !range_ok(req->offset, req->len, disk->size))
		return -EIO;
	if (req->op == DISK_OP_DISCARD && !disk->can_discard)
		return -EOPNOTSUPP;
	if (disk->inflight >= disk->queue_depth)
		return -EAGAIN;
	req->next = NULL;
	req->result = 0;
	disk->inflight++;
	r = (disk->format ? disk->format : &disk_format_raw)->submit(disk, req);
	if (r)
		disk->inflight--;
	return r;
}

int disk_event_fd(struct disk *disk)
{
	return disk->engine ? disk->engine->get_event_fd(disk) : -1;
}

int disk_reap(struct disk *disk)
{
	return disk->engine ? disk->engine->reap(disk) : -EINVAL;
}

const char *disk_engine_name(const struct disk *disk)
{
	return disk->engine ? disk->engine->name : "none";
}

void disk_eventfd_drain(struct disk *disk)
{
	uint64_t v;

	/* Non-semaphore eventfd: one read clears the counter; EAGAIN when 0. */
	if (read(disk->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("%s: eventfd read: %s", disk->path, strerror(errno));
}

void disk_complete_later(struct disk *disk, struct disk_req *req, int64_t result)
{
	uint64_t one = 1;
	bool first = !disk->done_head;

	req->result = result;
	req->next = NULL;
	*disk->done_tail = req;
	disk->done_tail = &req->next;
	/* One signal per batch: a non-empty list always has one pending, since
	 * every reap drains the eventfd and then takes the whole list (one
	 * syscall less per request at queue depth). Cannot fail short of a
	 * counter near 2^64; the list is the truth. */
	if (first && write(disk->efd, &one, sizeof(one)) < 0)
		log_warn("%s: eventfd write: %s", disk->path, strerror(errno));
}

void disk_req_complete(struct disk *disk, struct disk_req *req, int64_t result)
{
	disk->inflight--;
	req->done(req, result);
}

int disk_run_completions(struct disk *disk)
{
	struct disk_req *req = disk->done_head, *next;
	int n = 0;

	/* Detach first: callbacks may submit, which appends to a fresh list
	 * and signals the eventfd for the next reap. */
	disk->done_head = NULL;
	disk->done_tail = &disk->done_head;
	for (; req; req = next, n++) {
		next = req->next;
		disk_req_complete(disk, req, req->result);
	}
	return n;
}

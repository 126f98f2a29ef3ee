/* Disk images for isle-tapdisk: one struct disk per open image (a file or a
 * block device), its format (raw or qcow2) and one I/O engine behind it
 * (sync, libaio or io_uring), each chosen per disk through a const ops table.
 *
 * Asynchronous contract, the same for every engine:
 *  - disk_submit() either refuses the request at once (returns -errno; the
 *    callback is never called) or accepts it (returns 0; req->done is then
 *    called exactly once, from disk_reap(), never from inside disk_submit()).
 *    Refusals: -EAGAIN when queue_depth requests are in flight (retry after a
 *    reap), -EIO for a range outside [0, size), -EROFS for a change to a
 *    read-only disk, -EINVAL for a malformed request.
 *  - The result passed to done is the byte count for READ/WRITE (always the
 *    full length: a partial transfer is retried or becomes -EIO), 0 for the
 *    other ops, or -errno.
 *  - The caller keeps req, its iovec array and the buffers alive and
 *    untouched until done runs. With direct I/O, offsets, lengths and buffer
 *    addresses must be multiples of logical_block_size.
 *  - FLUSH completes only once every write completed before it was submitted
 *    is durable (fdatasync semantics). Requests in flight together are not
 *    ordered: the caller waits for completions it depends on.
 *  - disk_event_fd() is an eventfd that becomes readable when completions
 *    are waiting; the event loop then calls disk_reap(). Callbacks may
 *    submit new requests but must not call disk_reap() themselves.
 *  - One thread per disk: nothing here locks.
 * Requests beyond the disk end are the caller's to reject (virtio-blk answers
 * IOERR), but disk_submit() checks again so the engines never touch bytes
 * outside [0, size). */
#ifndef ISLE_BLKBACK_DISK_H
#define ISLE_BLKBACK_DISK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "diskspec.h"

enum disk_op {
	DISK_OP_READ,
	DISK_OP_WRITE,
	DISK_OP_FLUSH,
	DISK_OP_DISCARD,        /* contents become unspecified (zeros on files) */
	DISK_OP_WRITE_ZEROES,   /* contents read back as zeros */
};

struct disk;
struct disk_req;

typedef void (*disk_done_fn)(struct disk_req *req, int64_t result);

struct disk_req {
	enum disk_op op;
	uint64_t offset;                /* bytes; READ..WRITE_ZEROES */
	uint64_t len;                   /* DISCARD/WRITE_ZEROES; READ/WRITE: set by submit */
	const struct iovec *iov;        /* READ/WRITE */
	unsigned int iovcnt;            /* 1..DISK_MAX_IOV */
	disk_done_fn done;
	void *opaque;                   /* the caller's */
	/* Engine bookkeeping, not for the caller. */
	struct disk_req *next;
	int64_t result;
};

#define DISK_MAX_IOV        1024          /* IOV_MAX */
#define DISK_MAX_RW_BYTES   (1U << 30)   /* fits every engine's result field */
#define DISK_DEFAULT_DEPTH  128
#define DISK_MAX_DEPTH      4096

struct disk_flags {
	bool direct;                    /* O_DIRECT: bypass the host page cache */
	bool readonly;                  /* also implied by spec->readonly */
	unsigned int queue_depth;       /* 0: DISK_DEFAULT_DEPTH */
};

struct disk_engine_ops;
struct disk_format_ops;

struct disk {
	int fd;
	int efd;                        /* completion eventfd, all engines */
	char path[PATH_MAX];
	uint64_t size;                  /* bytes */
	uint32_t logical_block_size;
	uint32_t physical_block_size;
	bool is_blockdev;
	bool readonly;
	bool direct;
	bool can_discard;
	bool zero_range_ok;             /* cleared once ZERO_RANGE proves unsupported */
	unsigned int queue_depth;
	unsigned int inflight;
	const struct disk_engine_ops *engine;
	void *engine_priv;
	const struct disk_format_ops *format;
	void *format_priv;              /* shared by the image's clones */
	bool format_owner;              /* the image's disk (not a queue's clone) closes it */
	struct disk_req *done_head;     /* completions waiting for reap */
	struct disk_req **done_tail;
};

/* One per engine file, const with designated initializers. */
struct disk_engine_ops {
	const char *name;
	enum disk_engine_hint kind;
	int (*init)(struct disk *disk);                         /* 0 or -errno */
	void (*fini)(struct disk *disk);
	int (*submit)(struct disk *disk, struct disk_req *req); /* checked req */
	int (*get_event_fd)(struct disk *disk);
	int (*reap)(struct disk *disk);                         /* completions run */
};

/* The image format, between the requests and the engine; one per format
 * file, const with designated initializers. Raw is the identity: the engine
 * does the request as it is. A format with shared state (qcow2's metadata)
 * keeps it in format_priv, which a queue's clone of the disk shares (its
 * format_owner false) and only the image's own disk frees. */
struct disk_format_ops {
	const char *name;
	enum disk_format kind;
	/* The image is open and locked: probes it (size, geometry, discard)
	 * and sets up format_priv. 0 or -errno with a message in err. */
	int (*open)(struct disk *disk, const struct stat *st, char *err, size_t errlen);
	void (*close)(struct disk *disk);                       /* the owner's */
	int (*submit)(struct disk *disk, struct disk_req *req); /* checked req */
};

extern const struct disk_format_ops disk_format_raw;
extern const struct disk_format_ops disk_format_qcow2;

extern const struct disk_engine_ops disk_engine_sync;
extern const struct disk_engine_ops disk_engine_aio;
extern const struct disk_engine_ops disk_engine_uring;

/* Opens spec->path, locks it (shared when read-only, exclusive otherwise;
 * -EBUSY naming the holder when someone else has it), probes its geometry
 * and attaches engine (DISK_ENGINE_DEFAULT: spec->engine, else the best the
 * kernel offers: uring, then aio, then sync). Returns 0 or -errno with a
 * one-line message in err. flags may be NULL. */
int disk_open(struct disk *disk, const struct disk_spec *spec,
	      enum disk_engine_hint engine, const struct disk_flags *flags,
	      char *err, size_t errlen);

/* Detaches the engine and closes the image (dropping the lock). Requests
 * still in flight are waited for and their callbacks are not called. Safe
 * after a failed disk_open() and when called twice. */
void disk_close(struct disk *disk);

int disk_submit(struct disk *disk, struct disk_req *req);
int disk_event_fd(struct disk *disk);
/* Runs the callbacks of completed requests; returns how many, or -errno. */
int disk_reap(struct disk *disk);

const char *disk_engine_name(const struct disk *disk);

/* For the engines. */

/* Queues req's completion for the next reap and signals the eventfd: the
 * path for work an engine does synchronously. */
void disk_complete_later(struct disk *disk, struct disk_req *req, int64_t result);
/* Runs queued completions; engines call this from their reap. */
int disk_run_completions(struct disk *disk);
/* Drops one in-flight count and calls done. */
void disk_req_complete(struct disk *disk, struct disk_req *req, int64_t result);
/* Clears the eventfd counter (before harvesting, so no wakeup is lost). */
void disk_eventfd_drain(struct disk *disk);

/* Synchronous implementations shared by the engines (engine_sync.c). Each
 * returns the request's final result (bytes, 0, or -errno). disk_sync_rw
 * finishes a READ/WRITE of which done bytes have already moved. */
int64_t disk_sync_do(struct disk *disk, struct disk_req *req);
int64_t disk_sync_rw(struct disk *disk, struct disk_req *req, uint64_t done);
int64_t disk_sync_flush(struct disk *disk);
int64_t disk_sync_discard(struct disk *disk, uint64_t off, uint64_t len);
int64_t disk_sync_write_zeroes(struct disk *disk, uint64_t off, uint64_t len);

#endif

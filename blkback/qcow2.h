/* qcow2 images for isle-tapdisk (docs/interop/qcow2.txt, versions 2 and 3).
 *
 * One struct qcow2 per open image, shared by every queue thread: the header,
 * the L1 table, a bounded LRU cache of L2 tables and refcount blocks, and the
 * backing chain. Requests run synchronously on the calling thread under the
 * image's lock; they are the disk format layer's (disk_format_qcow2 in
 * format_qcow2.c), which completes them through the engine's eventfd.
 *
 * Contract:
 *  - The image is untrusted. Every offset read from it is checked (cluster
 *    aligned, inside the file, not on the header, the L1 table or the
 *    refcount table) before it is used; an image that fails a check at open
 *    is refused with one line in err, a table that fails one later gives that
 *    request -EIO and marks the image corrupt (header bit, no more writes).
 *  - Crash safety (QEMU's rule, made durable before the acknowledgement):
 *    data and copy-on-write are written first, then the refcount blocks,
 *    then fdatasync, then the L2 (or L1) entry that points at the new
 *    cluster, with pwrite before the request completes. A crash at any point
 *    can leak clusters but never corrupts the image, and every metadata
 *    update an acknowledged write depends on has reached the kernel.
 *    Clusters freed by discard are not reused until the image is reopened.
 *  - Compressed clusters (zlib, zstd), zero clusters, and backing files (raw
 *    or qcow2, depth QCOW2_MAX_CHAIN, loops refused) are read; a write into
 *    a compressed, zero, unallocated or backed cluster allocates a new one
 *    with copy-on-write of the rest of the cluster.
 *  - Refused at open: unknown incompatible feature bits (by name when the
 *    image names them), external data files, extended L2 entries,
 *    encryption; for writing also the dirty bit (lazy refcounts left
 *    unrepaired), the corrupt bit and internal snapshots.
 *  - Thread-safe: every call takes the image's lock. */
#ifndef ISLE_BLKBACK_QCOW2_H
#define ISLE_BLKBACK_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "disk.h"

#define QCOW2_MAGIC        0x514649fbu   /* "QFI\xfb" */
#define QCOW2_MAX_CHAIN    16            /* images in a backing chain, this one included */
#define QCOW2_CACHE_BYTES  (4u << 20)    /* default metadata cache */

struct qcow2;

struct qcow2_opts {
	bool readonly;
	bool no_backing;          /* fuzzing: a backing file reads as zeros */
	size_t cache_bytes;       /* 0: QCOW2_CACHE_BYTES */
};

/* What the image is, for logs and tests. */
struct qcow2_info {
	uint32_t version;
	uint32_t cluster_bits;
	uint32_t refcount_order;
	uint64_t size;            /* virtual, bytes */
	uint64_t incompatible, compatible, autoclear;
	bool zstd;                /* compression type */
	unsigned int chain;       /* backing images below this one */
	char backing[4096];       /* the backing file as resolved, "" when none */
	char backing_format[16];  /* "raw", "qcow2" */
	/* Counters since open. */
	uint64_t allocated;       /* clusters allocated (data, L2, refcount) */
	uint64_t freed;           /* clusters whose refcount dropped to 0 */
	uint64_t cache_hits, cache_misses;
};

/* Opens the qcow2 image on fd (kept open by the caller until qcow2_close;
 * path names it in messages and is where a relative backing file is
 * resolved from). Backing files are opened read-only under a shared lock.
 * 0 or -errno with one line in err (-ENOTSUP for a feature isle does not
 * serve, -EINVAL for a malformed image, -EROFS for an image that may only
 * be read when writing was asked). */
int qcow2_open(struct qcow2 **qp, int fd, const char *path, const struct qcow2_opts *o,
	       char *err, size_t errlen);
void qcow2_close(struct qcow2 *q);

uint64_t qcow2_size(const struct qcow2 *q);
void qcow2_get_info(struct qcow2 *q, struct qcow2_info *out);

/* One request (disk.h's ops; offset/len inside [0, size), checked by the
 * caller and again here). Returns the byte count for READ/WRITE, 0 for the
 * others, or -errno (-EIO for a metadata problem, which the log names). */
int64_t qcow2_rw(struct qcow2 *q, enum disk_op op, uint64_t offset, const struct iovec *iov,
		 unsigned int iovcnt, uint64_t len);
int qcow2_flush(struct qcow2 *q);
/* DISCARD: whole clusters become unallocated (zero clusters when a backing
 * file would show through on version 3), the rest is left alone.
 * WRITE_ZEROES: whole clusters become zero clusters (unallocated on version 2
 * without a backing file), partial ones are written with zeros. */
int qcow2_discard(struct qcow2 *q, uint64_t offset, uint64_t len, bool zeroes);

#endif

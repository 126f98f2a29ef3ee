/* Internals of the qcow2 driver, shared by its files: qcow2.c (open, header,
 * backing chain), qcow2_cache.c (the metadata cache), qcow2_refcount.c
 * (refcounts, allocation, freeing) and qcow2_io.c (the request paths).
 * Everything here runs under q->lock unless it says otherwise. */
#ifndef ISLE_BLKBACK_QCOW2_PRIV_H
#define ISLE_BLKBACK_QCOW2_PRIV_H

#include <endian.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "qcow2.h"
#include "isle/util.h"

/* Header fields (big-endian offsets) that are written after open. */
#define QH_INCOMPATIBLE     72
#define QH_AUTOCLEAR        88
#define QH_RT_OFFSET        48    /* refcount_table_offset u64, then clusters u32 */
#define QH_V2_LENGTH        72
#define QH_V3_MIN_LENGTH    104

#define QCOW2_INCOMPAT_DIRTY       BIT(0)
#define QCOW2_INCOMPAT_CORRUPT     BIT(1)
#define QCOW2_INCOMPAT_DATA_FILE   BIT(2)
#define QCOW2_INCOMPAT_COMPRESSION BIT(3)
#define QCOW2_INCOMPAT_EXTL2       BIT(4)
#define QCOW2_INCOMPAT_KNOWN       (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | \
				    QCOW2_INCOMPAT_COMPRESSION)

/* L1/L2 entries. */
#define QCOW_OFLAG_COPIED      BIT(63)
#define QCOW_OFLAG_COMPRESSED  BIT(62)
#define QCOW_OFLAG_ZERO        BIT(0)
#define L1E_OFFSET_MASK        0x00fffffffffffe00ULL
#define L2E_OFFSET_MASK        0x00fffffffffffe00ULL
#define RTE_OFFSET_MASK        0xfffffffffffffe00ULL

/* Limits on what an image may ask of us. */
#define QCOW2_MAX_L1_BYTES     (32u << 20)
#define QCOW2_MAX_RT_BYTES     (32u << 20)
#define QCOW2_MAX_SIZE         (1ULL << 60)
#define QCOW2_BACKING_NAME_MAX 1023
#define QCOW2_PENDING_FREES    256

/* A bounded LRU cache of cluster-sized metadata tables (L2 tables or
 * refcount blocks), write-through: an entry is never dirty, so evicting
 * one costs nothing. */
struct qcow2_cache_entry {
	uint64_t off;            /* host offset, 0: empty */
	uint64_t used;           /* LRU tick */
	uint8_t *buf;            /* cluster_size bytes */
};

struct qcow2_cache {
	unsigned int n;
	struct qcow2_cache_entry *e;
	uint64_t tick;
};

enum qcow2_ctype {
	QC_UNALLOCATED,          /* reads from the backing file, else zeros */
	QC_ZERO,                 /* reads zeros; host offset kept when preallocated */
	QC_NORMAL,
	QC_COMPRESSED,
};

struct qcow2 {
	pthread_mutex_t lock;
	int fd;                  /* the caller's */
	char path[PATH_MAX];
	bool readonly;
	bool corrupt;            /* found inconsistent: no more writes */
	bool no_backing;

	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t refcount_order;
	uint32_t l2_bits;        /* log2 entries per L2 table */
	uint32_t rb_bits;        /* log2 refcounts per refcount block */
	uint64_t size;
	uint64_t incompat, compat, autoclear;
	bool zstd;
	uint32_t csize_shift;    /* compressed descriptor */
	uint64_t csize_mask, coffset_mask;

	uint64_t l1_offset;
	uint32_t l1_size;
	uint64_t *l1;            /* host byte order */
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint64_t rt_entries;
	uint64_t *rt;            /* host byte order */

	uint64_t file_size;      /* what the image file holds, grown as we write */
	uint64_t next_free;      /* allocation cursor: only grows while open */

	struct qcow2_cache l2c, rbc;
	uint8_t *cow;            /* one cluster: copy-on-write assembly */
	uint8_t *zbuf;           /* one cluster: decompressed, for dkey */
	uint64_t dkey;           /* descriptor of what zbuf holds, 0: none */
	uint8_t *cin;            /* compressed input: 2 clusters */
	void *zds;               /* zstd decompression context, made on first use */

	/* The backing file: a qcow2 image (bq) or raw (bfd, bsize). */
	struct qcow2 *bq;
	int bfd;
	uint64_t bsize;
	unsigned int chain;
	unsigned int level;        /* images above this one in the chain (0: the disk) */
	char backing[PATH_MAX];
	char backing_fmt[16];

	/* Clusters an entry stopped pointing at, freed only once that entry
	 * is durable (at a flush, or when the list fills): a refcount must
	 * never reach disk as 0 while an L2 entry there still names it. */
	struct { uint64_t off, len; } pending[QCOW2_PENDING_FREES];
	unsigned int npending;

	uint64_t allocated, freed, hits, misses;
};

static inline uint64_t be64_at(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline uint32_t be32_at(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static inline void be64_put(void *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

/* qcow2.c */
/* Logs why, marks the image corrupt (the header bit on version 3 when
 * writable) and returns -EIO. */
int qcow2_corrupt(struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether a cluster-sized table at off may be read: aligned, past the
 * header, inside the file, clear of the L1 and refcount tables. */
bool qcow2_meta_ok(const struct qcow2 *q, uint64_t off);
/* Whether a data cluster at off may be used: as above, but its end may lie
 * past the end of the file (reads there are zeros). */
bool qcow2_data_ok(const struct qcow2 *q, uint64_t off);
int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off);   /* short: -EIO */
int qcow2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off);
int qcow2_sync(struct qcow2 *q);

/* qcow2_cache.c */
int qcow2_cache_init(struct qcow2_cache *c, unsigned int n, uint64_t cluster_size);
void qcow2_cache_fini(struct qcow2_cache *c);
/* The table at off, read from the file on a miss (after qcow2_meta_ok);
 * with fresh, a zeroed buffer for a table being created instead. */
int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, bool fresh,
		    uint8_t **buf);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off);

/* qcow2_refcount.c */
int qcow2_rc_get(struct qcow2 *q, uint64_t cluster, uint64_t *val);
/* Allocates one cluster at the cursor with refcount 1 (written through,
 * growing refcount blocks and the table as needed); *off its host offset. */
int qcow2_alloc(struct qcow2 *q, uint64_t *off);
/* Drops one reference of each cluster in [off, off + len); a cluster left
 * without any is punched out of the file. */
int qcow2_free(struct qcow2 *q, uint64_t off, uint64_t len);
/* Queues a free for after the next flush (flushing now when the queue is
 * full); qcow2_sync_frees flushes and runs the queue. */
int qcow2_free_later(struct qcow2 *q, uint64_t off, uint64_t len);
int qcow2_sync_frees(struct qcow2 *q);

/* qcow2_io.c */
int64_t qcow2_read_locked(struct qcow2 *q, uint64_t offset, const struct iovec *iov,
			  unsigned int iovcnt, uint64_t len);

#endif

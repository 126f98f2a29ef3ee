/* qcow2 refcounts (qcow2_priv.h): reading and writing entries of any width
 * (refcount_order 0 to 6), allocating clusters, growing refcount blocks and
 * the refcount table, and freeing.
 *
 * Allocation is append-only while the image is open: the cursor starts at
 * the end of the file and only moves forward, so a cluster freed by a
 * discard is never handed out again before the L2 update that dropped it
 * is certainly older than any new use. Every change is written through;
 * new refcount blocks and tables are written and flushed before anything
 * points at them, so a crash leaves at worst leaked clusters. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>

#include "qcow2_priv.h"
#include "isle/log.h"
#include "isle/util.h"

/* Entry idx of a refcount block, width 2^order bits. Sub-byte widths are
 * packed from the least significant bit, wider ones big-endian. */
static uint64_t rc_entry_get(const uint8_t *b, uint32_t order, uint64_t idx)
{
	uint64_t v = 0;

	if (order < 3) {
		uint32_t bits = 1u << order;

		return (b[idx * bits / 8] >> (idx * bits % 8)) & ((1u << bits) - 1);
	}
	for (uint32_t i = 0; i < 1u << (order - 3); i++)
		v = v << 8 | b[idx * (1u << (order - 3)) + i];
	return v;
}

/* Sets the entry; returns the byte range that changed. */
static void rc_entry_set(uint8_t *b, uint32_t order, uint64_t idx, uint64_t v,
			 uint64_t *at, uint32_t *len)
{
	if (order < 3) {
		uint32_t bits = 1u << order, sh = (uint32_t)(idx * bits % 8);
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << sh);

		*at = idx * bits / 8;
		*len = 1;
		b[*at] = (uint8_t)((b[*at] & ~mask) | ((v << sh) & mask));
		return;
	}
	*len = 1u << (order - 3);
	*at = idx * *len;
	for (uint32_t i = 0; i < *len; i++)
		b[*at + i] = (uint8_t)(v >> (8 * (*len - 1 - i)));
}

/* The refcount block covering cluster, or NULL with *block_off 0 when the
 * table has none. */
static int rc_block(struct qcow2 *q, uint64_t cluster, uint64_t *block_off, uint8_t **b)
{
	uint64_t ti = cluster >> q->rb_bits;

	*block_off = 0;
	*b = NULL;
	if (ti >= q->rt_entries || !(q->rt[ti] & RTE_OFFSET_MASK))
		return 0;
	if (q->rt[ti] & ~RTE_OFFSET_MASK)
		return qcow2_corrupt(q, "refcount table entry %llu has reserved bits set",
				     (unsigned long long)ti);
	*block_off = q->rt[ti];
	return qcow2_cache_get(q, &q->rbc, *block_off, false, b);
}

int qcow2_rc_get(struct qcow2 *q, uint64_t cluster, uint64_t *val)
{
	uint64_t off;
	uint8_t *b;
	int r = rc_block(q, cluster, &off, &b);

	*val = 0;
	if (r || !b)
		return r;
	*val = rc_entry_get(b, q->refcount_order, cluster & ((1ULL << q->rb_bits) - 1));
	return 0;
}

/* Sets an existing block's entry and writes the bytes that changed. */
static int rc_set(struct qcow2 *q, uint64_t cluster, uint64_t v)
{
	uint64_t off, at;
	uint32_t len;
	uint8_t *b;
	int r = rc_block(q, cluster, &off, &b);

	if (r)
		return r;
	if (!b)
		return qcow2_corrupt(q, "cluster %llu has no refcount block",
				     (unsigned long long)cluster);
	rc_entry_set(b, q->refcount_order, cluster & ((1ULL << q->rb_bits) - 1), v, &at, &len);
	r = qcow2_pwrite(q, b + at, len, off + at);
	if (r)
		qcow2_cache_drop(&q->rbc, off);   /* the file is the truth */
	return r;
}

static int rt_entry_write(struct qcow2 *q, uint64_t ti)
{
	uint8_t v[8];

	be64_put(v, q->rt[ti]);
	return qcow2_pwrite(q, v, 8, q->rt_offset + ti * 8);
}

/* Grows the refcount table to cover index need: a new table and the new
 * refcount blocks that describe its own clusters go at the cursor, are
 * written and flushed, and only then does the header point at them. The
 * old table's clusters are freed last (a crash before leaks them). */
static int rt_grow(struct qcow2 *q, uint64_t need)
{
	uint64_t cs = q->cluster_size, per_cl = cs / 8, start = q->next_free;
	uint64_t entries = MAX(need + 1, q->rt_entries * 2), tcl, nb = 0, end, first, last;
	uint64_t old_off = q->rt_offset, old_cl = q->rt_clusters;
	uint64_t *nrt = NULL;
	uint8_t *blocks = NULL, hdr[12];
	int r;

	for (;;) {
		entries = ALIGN_UP(entries, per_cl);
		tcl = entries / per_cl;
		end = start + (tcl + nb) * cs;
		first = start >> q->cluster_bits >> q->rb_bits;
		last = ((end - 1) >> q->cluster_bits) >> q->rb_bits;
		if (last >= entries) {
			entries = last + 1;
			continue;
		}
		uint64_t missing = 0;

		for (uint64_t i = first; i <= last; i++)
			missing += i >= q->rt_entries || !q->rt[i];
		if (missing == nb)
			break;
		nb = missing;
	}
	if (tcl * cs > QCOW2_MAX_RT_BYTES)
		return qcow2_corrupt(q, "the refcount table would exceed %u bytes",
				     QCOW2_MAX_RT_BYTES);
	nrt = calloc(entries, 8);
	blocks = calloc(MAX(nb, 1ULL), cs);
	r = -ENOMEM;
	if (!nrt || !blocks)
		goto out;
	memcpy(nrt, q->rt, q->rt_entries * 8);
	/* The new blocks, after the table, in index order. */
	for (uint64_t i = first, j = 0; i <= last; i++)
		if (i >= q->rt_entries || !q->rt[i])
			nrt[i] = start + (tcl + j++) * cs;
	/* Every new cluster gets refcount 1, in a new block or an existing one. */
	for (uint64_t c = start >> q->cluster_bits; c < end >> q->cluster_bits; c++) {
		uint64_t ti = c >> q->rb_bits, at, cur;
		uint32_t len;

		if (ti < q->rt_entries && q->rt[ti]) {
			r = qcow2_rc_get(q, c, &cur);
			if (!r && cur)
				r = qcow2_corrupt(q, "cluster %llu past the end is in use",
						  (unsigned long long)c);
			if (!r)
				r = rc_set(q, c, 1);
			if (r)
				goto out;
			continue;
		}
		rc_entry_set(blocks + (nrt[ti] - start - tcl * cs), q->refcount_order,
			     c & ((1ULL << q->rb_bits) - 1), 1, &at, &len);
	}
	r = nb ? qcow2_pwrite(q, blocks, nb * cs, start + tcl * cs) : 0;
	for (uint64_t i = 0; !r && i < entries; i++)
		nrt[i] = htobe64(nrt[i]);
	if (!r)
		r = qcow2_pwrite(q, nrt, tcl * cs, start);
	for (uint64_t i = 0; i < entries; i++)
		nrt[i] = be64toh(nrt[i]);
	if (!r)
		r = qcow2_sync(q);
	if (r)
		goto out;
	be64_put(hdr, start);
	hdr[8] = (uint8_t)(tcl >> 24);
	hdr[9] = (uint8_t)(tcl >> 16);
	hdr[10] = (uint8_t)(tcl >> 8);
	hdr[11] = (uint8_t)tcl;
	r = qcow2_pwrite(q, hdr, sizeof(hdr), QH_RT_OFFSET);
	if (!r)
		r = qcow2_sync(q);
	if (r)
		goto out;
	free(q->rt);
	q->rt = nrt;
	nrt = NULL;
	q->rt_entries = entries;
	q->rt_offset = start;
	q->rt_clusters = (uint32_t)tcl;
	q->next_free = end;
	q->allocated += tcl + nb;
	log_debug("%s: refcount table grown to %llu entries at 0x%llx", q->path,
		  (unsigned long long)entries, (unsigned long long)start);
	r = qcow2_free(q, old_off, old_cl * cs);
out:
	free(nrt);
	free(blocks);
	return r;
}

/* A new refcount block for table index ti, placed at the cursor: it lies
 * in its own range, so it describes itself. Flushed before the table entry
 * points at it. */
static int rb_create(struct qcow2 *q, uint64_t ti)
{
	uint64_t off = q->next_free, at;
	uint32_t len;
	uint8_t *b;
	int r = qcow2_cache_get(q, &q->rbc, off, true, &b);

	if (r)
		return r;
	rc_entry_set(b, q->refcount_order, (off >> q->cluster_bits) & ((1ULL << q->rb_bits) - 1),
		     1, &at, &len);
	r = qcow2_pwrite(q, b, q->cluster_size, off);
	if (!r)
		r = qcow2_sync(q);
	if (r) {
		qcow2_cache_drop(&q->rbc, off);
		return r;
	}
	q->rt[ti] = off;
	r = rt_entry_write(q, ti);
	if (r) {
		q->rt[ti] = 0;
		return r;
	}
	q->next_free += q->cluster_size;
	q->allocated++;
	return 0;
}

int qcow2_alloc(struct qcow2 *q, uint64_t *off)
{
	/* Bounded: each turn either allocates, or moves the cursor, or adds
	 * a block or a table; used clusters past the end are corruption. */
	for (unsigned int turns = 0; turns < 1024; turns++) {
		uint64_t c = q->next_free >> q->cluster_bits, ti = c >> q->rb_bits, cur;
		int r;

		if (q->next_free >= QCOW2_MAX_SIZE)
			return qcow2_corrupt(q, "the image file would exceed %llu bytes",
					     (unsigned long long)QCOW2_MAX_SIZE);
		if (ti >= q->rt_entries) {
			r = rt_grow(q, ti);
		} else if (!q->rt[ti]) {
			r = rb_create(q, ti);
		} else {
			r = qcow2_rc_get(q, c, &cur);
			if (!r && cur) {
				/* In use past the end of the file: skip it. */
				q->next_free += q->cluster_size;
				continue;
			}
			if (!r)
				r = rc_set(q, c, 1);
			if (!r) {
				*off = q->next_free;
				q->next_free += q->cluster_size;
				q->allocated++;
				return 0;
			}
		}
		if (r)
			return r;
	}
	return qcow2_corrupt(q, "no free cluster found past 0x%llx",
			     (unsigned long long)q->next_free);
}

int qcow2_free(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t first = off >> q->cluster_bits, last;

	if (!len)
		return 0;
	last = (off + len - 1) >> q->cluster_bits;
	for (uint64_t c = first; c <= last; c++) {
		uint64_t v;
		int r = qcow2_rc_get(q, c, &v);

		if (!r && !v)
			r = qcow2_corrupt(q, "freeing cluster %llu, whose refcount is already 0",
					  (unsigned long long)c);
		if (!r)
			r = rc_set(q, c, v - 1);
		if (r)
			return r;
		if (v == 1) {
			q->freed++;
			/* Give the space back; the cursor never comes back to it. */
			if (c << q->cluster_bits < q->next_free &&
			    fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)(c << q->cluster_bits), (off_t)q->cluster_size) < 0)
				log_debug("%s: punch: %s", q->path, strerror(errno));
		}
	}
	return 0;
}

int qcow2_sync_frees(struct qcow2 *q)
{
	int r = qcow2_sync(q);

	/* A free lost to a crash is a leak; the entries are durable now. */
	for (unsigned int i = 0; !r && i < q->npending; i++)
		r = qcow2_free(q, q->pending[i].off, q->pending[i].len);
	q->npending = 0;
	return r;
}

int qcow2_free_later(struct qcow2 *q, uint64_t off, uint64_t len)
{
	int r = 0;

	if (q->npending == QCOW2_PENDING_FREES)
		r = qcow2_sync_frees(q);
	if (!r) {
		q->pending[q->npending].off = off;
		q->pending[q->npending++].len = len;
	}
	return r;
}

/* qcow2 requests (contract in qcow2.h): the L1/L2 walk, reads of every
 * cluster type (normal, zero, compressed, unallocated through the backing
 * chain), allocating writes with copy-on-write, discard and write-zeroes.
 *
 * A request is cut at cluster boundaries; each piece is looked up and
 * served on its own, under the image's lock. The one ordering that matters
 * for a crash is in qcow2_write_piece: the new cluster's data and refcount
 * are written and flushed before the L2 entry that points at it. */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "qcow2_priv.h"
#include "isle/iov.h"
#include "isle/log.h"

struct qcow2_map {
	uint64_t l1i, l2i;
	uint64_t l2_off;         /* 0: no L2 table */
	uint8_t *l2;             /* the cached table, valid until the next L2 lookup */
	uint64_t entry;
	uint64_t host;           /* NORMAL, ZERO: the cluster (0 for a plain zero) */
	enum qcow2_ctype type;
};

/* The part [skip, skip + len) of iov, in out[]; returns the count. */
static unsigned int qio_sub(const struct iovec *iov, unsigned int cnt, uint64_t skip,
			    uint64_t len, struct iovec *out)
{
	unsigned int i = 0, n = 0;

	while (i < cnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	for (; i < cnt && len; i++, n++) {
		size_t take = (size_t)MIN((uint64_t)iov[i].iov_len - skip, len);

		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = take;
		len -= take;
		skip = 0;
	}
	return n;
}

static void qio_zero(struct iovec *v, unsigned int cnt)
{
	for (unsigned int i = 0; i < cnt; i++)
		memset(v[i].iov_base, 0, v[i].iov_len);
}

/* preadv/pwritev of all len bytes of v (which it consumes); a read past the
 * end of the file gives zeros, a short write is an error. */
static int qio_pv(int fd, bool write, struct iovec *v, unsigned int cnt, uint64_t off)
{
	while (cnt) {
		ssize_t n = write ? pwritev(fd, v, (int)MIN(cnt, (unsigned int)IOV_MAX), (off_t)off)
				  : preadv(fd, v, (int)MIN(cnt, (unsigned int)IOV_MAX), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (write)
				return -EIO;
			qio_zero(v, cnt);
			return 0;
		}
		off += (uint64_t)n;
		while (cnt && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int qcow2_lookup(struct qcow2 *q, uint64_t vpos, struct qcow2_map *m)
{
	uint64_t c = vpos >> q->cluster_bits, l1e;
	int r;

	memset(m, 0, sizeof(*m));
	m->l1i = c >> q->l2_bits;
	m->l2i = c & ((1ULL << q->l2_bits) - 1);
	m->type = QC_UNALLOCATED;
	if (m->l1i >= q->l1_size)
		return qcow2_corrupt(q, "offset %llu beyond the L1 table", (unsigned long long)vpos);
	l1e = q->l1[m->l1i];
	if (l1e & ~(L1E_OFFSET_MASK | QCOW_OFLAG_COPIED))
		return qcow2_corrupt(q, "L1 entry %llu has reserved bits set",
				     (unsigned long long)m->l1i);
	m->l2_off = l1e & L1E_OFFSET_MASK;
	if (!m->l2_off)
		return 0;
	r = qcow2_cache_get(q, &q->l2c, m->l2_off, false, &m->l2);
	if (r)
		return r;
	m->entry = be64_at(m->l2 + m->l2i * 8);
	if (m->entry & QCOW_OFLAG_COMPRESSED) {
		m->type = QC_COMPRESSED;
		return 0;
	}
	if (m->entry & ~(L2E_OFFSET_MASK | QCOW_OFLAG_COPIED | QCOW_OFLAG_ZERO))
		return qcow2_corrupt(q, "L2 entry for offset %llu has reserved bits set",
				     (unsigned long long)vpos);
	m->host = m->entry & L2E_OFFSET_MASK;
	if (m->entry & QCOW_OFLAG_ZERO) {
		if (q->version < 3)
			return qcow2_corrupt(q, "zero cluster in a version 2 image");
		m->type = QC_ZERO;
	} else if (m->host) {
		m->type = QC_NORMAL;
	}
	if (m->host && !qcow2_data_ok(q, m->host))
		return qcow2_corrupt(q, "data cluster for offset %llu at 0x%llx is misplaced",
				     (unsigned long long)vpos, (unsigned long long)m->host);
	return 0;
}

static int qcow2_zlib(struct qcow2 *q, size_t in_len)
{
	z_stream s = { .next_in = q->cin, .avail_in = (uInt)in_len, .next_out = q->zbuf,
		       .avail_out = (uInt)q->cluster_size };
	int r;

	/* QEMU writes raw deflate with a 4 KiB window. */
	if (inflateInit2(&s, -12) != Z_OK)
		return -ENOMEM;
	r = inflate(&s, Z_FINISH);
	inflateEnd(&s);
	return (r == Z_STREAM_END || r == Z_BUF_ERROR) && !s.avail_out ? 0 : -EIO;
}

static int qcow2_zstd(struct qcow2 *q, size_t in_len)
{
	ZSTD_inBuffer in = { q->cin, in_len, 0 };
	ZSTD_outBuffer out = { q->zbuf, q->cluster_size, 0 };

	if (!q->zds && !(q->zds = ZSTD_createDCtx()))
		return -ENOMEM;
	ZSTD_DCtx_reset(q->zds, ZSTD_reset_session_only);
	/* Each call consumes input or fills output; a stall is an error. */
	for (unsigned int turns = 0; out.pos < out.size; turns++) {
		size_t r = ZSTD_decompressStream(q->zds, &out, &in);

		if (turns > 2 * q->cluster_size)
			return -EIO;

		if (ZSTD_isError(r) || (in.pos == in.size && out.pos < out.size && r != 0) ||
		    (r == 0 && out.pos < out.size))
			return -EIO;
	}
	return 0;
}

/* The compressed cluster of entry, into q->zbuf (kept for the next read). */
static int qcow2_decompress(struct qcow2 *q, uint64_t entry, uint64_t *coff, uint64_t *span)
{
	uint64_t nb = ((entry >> q->csize_shift) & q->csize_mask) + 1;
	uint64_t c = entry & q->coffset_mask, csize = nb * 512 - (c & 511);
	int r;

	*coff = c & ~511ULL;
	*span = nb * 512;
	if (q->dkey == entry)
		return 0;
	if (c < q->cluster_size || c >= q->file_size)
		return qcow2_corrupt(q, "compressed cluster at 0x%llx outside the file",
				     (unsigned long long)c);
	csize = MIN(csize, q->file_size - c);
	q->dkey = 0;
	r = qcow2_pread(q, q->cin, (size_t)csize, c);
	if (!r)
		r = q->zstd ? qcow2_zstd(q, (size_t)csize) : qcow2_zlib(q, (size_t)csize);
	if (r) {
		log_error("%s: compressed cluster at 0x%llx does not decompress", q->path,
			  (unsigned long long)c);
		return -EIO;
	}
	q->dkey = entry;
	return 0;
}

/* Unallocated clusters: the backing image's bytes, zeros past its end. */
static int qcow2_backing_read(struct qcow2 *q, uint64_t vpos, struct iovec *v, unsigned int cnt,
			      uint64_t len)
{
	uint64_t bsize = q->bq ? q->bq->size : q->bsize, within;
	struct iovec rest[DISK_MAX_IOV];
	unsigned int n;
	int r = 0;

	if (!q->bq && q->bfd < 0) {
		qio_zero(v, cnt);
		return 0;
	}
	within = vpos < bsize ? MIN(len, bsize - vpos) : 0;
	if (within < len) {
		n = qio_sub(v, cnt, within, len - within, rest);
		qio_zero(rest, n);
	}
	if (!within)
		return 0;
	if (q->bq) {
		int64_t got = qcow2_read_locked(q->bq, vpos, v, cnt, within);

		return got < 0 ? (int)got : 0;
	}
	n = qio_sub(v, cnt, 0, within, rest);
	r = qio_pv(q->bfd, false, rest, n, vpos);
	return r;
}

/* Reads one piece [vpos, vpos + len) inside one cluster into v. */
static int qcow2_read_piece(struct qcow2 *q, uint64_t vpos, struct iovec *v, unsigned int cnt,
			    uint64_t len)
{
	uint64_t in = vpos & (q->cluster_size - 1), coff, span;
	struct qcow2_map m;
	int r = qcow2_lookup(q, vpos, &m);

	if (r)
		return r;
	switch (m.type) {
	case QC_NORMAL:
		return qio_pv(q->fd, false, v, cnt, m.host + in);
	case QC_ZERO:
		qio_zero(v, cnt);
		return 0;
	case QC_COMPRESSED:
		r = qcow2_decompress(q, m.entry, &coff, &span);
		if (!r)
			for (unsigned int i = 0; i < cnt; in += v[i].iov_len, i++)
				memcpy(v[i].iov_base, q->zbuf + in, v[i].iov_len);
		return r;
	case QC_UNALLOCATED:
		return qcow2_backing_read(q, vpos, v, cnt, len);
	}
	return -EIO;
}

typedef int (*qcow2_piece_fn)(struct qcow2 *q, uint64_t vpos, struct iovec *v,
			      unsigned int cnt, uint64_t len);

/* Cuts [offset, offset + len) of iov at cluster boundaries, one call each. */
static int qcow2_each_piece(struct qcow2 *q, uint64_t offset, const struct iovec *iov,
			    unsigned int iovcnt, uint64_t len, qcow2_piece_fn fn)
{
	struct iovec v[DISK_MAX_IOV];
	uint64_t pos = 0;

	while (pos < len) {
		uint64_t cur = offset + pos;
		uint64_t n = MIN(len - pos, q->cluster_size - (cur & (q->cluster_size - 1)));
		int r = fn(q, cur, v, qio_sub(iov, iovcnt, pos, n, v), n);

		if (r)
			return r;
		pos += n;
	}
	return 0;
}

int64_t qcow2_read_locked(struct qcow2 *q, uint64_t offset, const struct iovec *iov,
			  unsigned int iovcnt, uint64_t len)
{
	int r = qcow2_each_piece(q, offset, iov, iovcnt, len, qcow2_read_piece);

	return r ? r : (int64_t)len;
}

/* Points the L2 entry of m at new (creating the L2 table when there is
 * none: written and flushed before the L1 entry names it). */
static int qcow2_link(struct qcow2 *q, struct qcow2_map *m, uint64_t new)
{
	uint64_t l2, l1e;
	uint8_t v[8];
	int r;

	if (m->l2) {
		if (!(q->l1[m->l1i] & QCOW_OFLAG_COPIED))
			return qcow2_corrupt(q, "L2 table 0x%llx is shared (no COPIED flag)",
					     (unsigned long long)m->l2_off);
		be64_put(m->l2 + m->l2i * 8, new);
		r = qcow2_pwrite(q, m->l2 + m->l2i * 8, 8, m->l2_off + m->l2i * 8);
		if (r)
			qcow2_cache_drop(&q->l2c, m->l2_off);
		return r;
	}
	r = qcow2_alloc(q, &l2);
	if (r)
		return r;
	r = qcow2_cache_get(q, &q->l2c, l2, true, &m->l2);
	if (r)
		return r;
	be64_put(m->l2 + m->l2i * 8, new);
	r = qcow2_pwrite(q, m->l2, q->cluster_size, l2);
	if (!r)
		r = qcow2_sync(q);
	if (r) {
		qcow2_cache_drop(&q->l2c, l2);
		return r;
	}
	l1e = l2 | QCOW_OFLAG_COPIED;
	be64_put(v, l1e);
	r = qcow2_pwrite(q, v, 8, q->l1_offset + m->l1i * 8);
	if (r)
		return r;
	q->l1[m->l1i] = l1e;
	m->l2_off = l2;
	return 0;
}

/* Drops what the old entry of m held, after the new entry is written. */
static int qcow2_release(struct qcow2 *q, const struct qcow2_map *m, uint64_t kept)
{
	uint64_t coff, span, nb;

	switch (m->type) {
	case QC_NORMAL:
	case QC_ZERO:
		return m->host && m->host != kept ? qcow2_free_later(q, m->host, q->cluster_size)
						  : 0;
	case QC_COMPRESSED:
		nb = ((m->entry >> q->csize_shift) & q->csize_mask) + 1;
		coff = (m->entry & q->coffset_mask) & ~511ULL;
		span = nb * 512;
		if (q->dkey == m->entry)
			q->dkey = 0;
		return qcow2_free_later(q, coff, span);
	case QC_UNALLOCATED:
		break;
	}
	return 0;
}

/* The whole cluster of m as it reads now, into q->cow. */
static int qcow2_old_content(struct qcow2 *q, uint64_t cstart, const struct qcow2_map *m)
{
	struct iovec v = { q->cow, q->cluster_size };
	uint64_t coff, span;
	int r;

	switch (m->type) {
	case QC_NORMAL:
		return qio_pv(q->fd, false, &v, 1, m->host);
	case QC_ZERO:
		memset(q->cow, 0, q->cluster_size);
		return 0;
	case QC_COMPRESSED:
		r = qcow2_decompress(q, m->entry, &coff, &span);
		if (!r)
			memcpy(q->cow, q->zbuf, q->cluster_size);
		return r;
	case QC_UNALLOCATED:
		return qcow2_backing_read(q, cstart, &v, 1, q->cluster_size);
	}
	return -EIO;
}

/* Writes one piece inside one cluster: v (or zeros when !v). */
static int qcow2_write_piece(struct qcow2 *q, uint64_t vpos, struct iovec *v, unsigned int cnt,
			     uint64_t len)
{
	uint64_t cs = q->cluster_size, in = vpos & (cs - 1), target;
	struct iovec whole = { q->cow, cs };
	struct qcow2_map m;
	bool reuse;
	int r = qcow2_lookup(q, vpos, &m);

	if (r)
		return r;
	if (m.type == QC_NORMAL && m.entry & QCOW_OFLAG_COPIED) {
		if (v)
			return qio_pv(q->fd, true, v, cnt, m.host + in);
		memset(q->cow, 0, (size_t)len);
		whole.iov_len = (size_t)len;
		return qio_pv(q->fd, true, &whole, 1, m.host + in);
	}
	/* A new cluster (or a preallocated zero one) gets the whole content:
	 * what the cluster reads now, with this piece over it. */
	if (len < cs) {
		r = qcow2_old_content(q, vpos - in, &m);
		if (r)
			return r;
	}
	if (v)
		for (unsigned int i = 0, at = (unsigned int)in; i < cnt; at += v[i].iov_len, i++)
			memcpy(q->cow + at, v[i].iov_base, v[i].iov_len);
	else
		memset(q->cow + in, 0, (size_t)len);
	reuse = m.type == QC_ZERO && m.host && m.entry & QCOW_OFLAG_COPIED;
	if (reuse) {
		target = m.host;
	} else {
		r = qcow2_alloc(q, &target);
		if (r)
			return r;
	}
	r = qio_pv(q->fd, true, &whole, 1, target);
	if (r)
		return r;
	q->file_size = MAX(q->file_size, target + cs);
	/* Data and refcount on disk before anything points at them. */
	if (!reuse && (r = qcow2_sync(q)))
		return r;
	r = qcow2_link(q, &m, target | QCOW_OFLAG_COPIED);
	if (r)
		return r;
	return qcow2_release(q, &m, target);
}

static bool qcow2_has_backing(const struct qcow2 *q)
{
	return q->bq || q->bfd >= 0;
}

/* Whole cluster at vpos: unallocated or a zero cluster. */
static int qcow2_zero_whole(struct qcow2 *q, uint64_t vpos, bool discard)
{
	struct qcow2_map m;
	uint64_t new;
	int r = qcow2_lookup(q, vpos, &m);

	if (r)
		return r;
	if (q->version >= 3) {
		new = discard && !qcow2_has_backing(q) ? 0 : QCOW_OFLAG_ZERO;
		if (m.type == QC_UNALLOCATED && !qcow2_has_backing(q))
			return 0;
		if (m.type == QC_ZERO && !m.host)
			return 0;
	} else {
		if (qcow2_has_backing(q))
			return discard ? 0 : qcow2_write_piece(q, vpos, NULL, 0, q->cluster_size);
		new = 0;
		if (m.type == QC_UNALLOCATED)
			return 0;
	}
	r = qcow2_link(q, &m, new);
	return r ? r : qcow2_release(q, &m, 0);
}

static int qcow2_discard_locked(struct qcow2 *q, uint64_t offset, uint64_t len, bool zeroes)
{
	uint64_t pos = 0, cs = q->cluster_size;

	while (pos < len) {
		uint64_t cur = offset + pos, n = MIN(len - pos, cs - (cur & (cs - 1)));
		int r = 0;

		if (n == cs)
			r = qcow2_zero_whole(q, cur, !zeroes);
		else if (zeroes)
			r = qcow2_write_piece(q, cur, NULL, 0, n);
		if (r)
			return r;
		pos += n;
	}
	return 0;
}

int64_t qcow2_rw(struct qcow2 *q, enum disk_op op, uint64_t offset, const struct iovec *iov,
		 unsigned int iovcnt, uint64_t len)
{
	int64_t r;

	if (op == DISK_OP_FLUSH)
		return qcow2_flush(q);
	if (op == DISK_OP_DISCARD || op == DISK_OP_WRITE_ZEROES)
		return qcow2_discard(q, offset, len, op == DISK_OP_WRITE_ZEROES);
	if ((op != DISK_OP_READ && op != DISK_OP_WRITE) || iovcnt > DISK_MAX_IOV ||
	    iov_size(iov, iovcnt) != len)
		return -EINVAL;
	if (!range_ok(offset, len, q->size))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	if (op == DISK_OP_READ)
		r = qcow2_read_locked(q, offset, iov, iovcnt, len);
	else if (q->readonly)
		r = -EROFS;
	else if (q->corrupt)
		r = -EIO;
	else
		r = qcow2_each_piece(q, offset, iov, iovcnt, len, qcow2_write_piece) ?: (int64_t)len;
	pthread_mutex_unlock(&q->lock);
	return r;
}

int qcow2_flush(struct qcow2 *q)
{
	int r;

	pthread_mutex_lock(&q->lock);
	r = q->readonly ? 0 : qcow2_sync_frees(q);
	pthread_mutex_unlock(&q->lock);
	return r;
}

int qcow2_discard(struct qcow2 *q, uint64_t offset, uint64_t len, bool zeroes)
{
	int r;

	if (!range_ok(offset, len, q->size))
		return -EIO;
	pthread_mutex_lock(&q->lock);
	if (q->readonly)
		r = -EROFS;
	else if (q->corrupt)
		r = -EIO;
	else
		r = qcow2_discard_locked(q, offset, len, zeroes);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* qcow2 images (contract in qcow2.h): opening one — the header, its
 * extensions and feature bits, the L1 and refcount tables, the backing
 * chain — and the checks every later table access goes through.
 *
 * Everything read here is untrusted and checked before it sizes an
 * allocation or becomes an offset: a malformed header is refused with one
 * line naming the field. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lock.h"
#include "qcow2_priv.h"
#include "isle/log.h"
#include "isle/util.h"

#define EXT_END           0x00000000u
#define EXT_BACKING_FMT   0xe2792acau
#define EXT_FEATURE_NAMES 0x6803f857u

struct qcow2_seen {            /* the chain so far, for loop detection */
	dev_t dev[QCOW2_MAX_CHAIN];
	ino_t ino[QCOW2_MAX_CHAIN];
	unsigned int n;
};

static int qcow2_open_chain(struct qcow2 **qp, int fd, const char *path,
			    const struct qcow2_opts *o, struct qcow2_seen *seen,
			    char *err, size_t errlen);

int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(q->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int qcow2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(q->fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	q->file_size = MAX(q->file_size, off + len);
	return 0;
}

int qcow2_sync(struct qcow2 *q)
{
	return fdatasync(q->fd) < 0 ? -errno : 0;
}

int qcow2_corrupt(struct qcow2 *q, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: qcow2 image is corrupt: %s%s", q->path, msg,
		  q->readonly ? "" : "; no more writes (qemu-img check -r all repairs it)");
	if (!q->corrupt && !q->readonly && q->version >= 3) {
		uint8_t v[8];

		q->incompat |= QCOW2_INCOMPAT_CORRUPT;
		be64_put(v, q->incompat);
		if (qcow2_pwrite(q, v, 8, QH_INCOMPATIBLE) || qcow2_sync(q))
			log_warn("%s: could not set the corrupt bit", q->path);
	}
	q->corrupt = true;
	return -EIO;
}

static bool qcow2_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool qcow2_clear_of_tables(const struct qcow2 *q, uint64_t off)
{
	uint64_t cs = q->cluster_size;

	return off >= cs && !(off & (cs - 1)) &&
	       !qcow2_overlaps(off, cs, q->l1_offset, (uint64_t)q->l1_size * 8) &&
	       !qcow2_overlaps(off, cs, q->rt_offset, (uint64_t)q->rt_clusters * cs);
}

bool qcow2_meta_ok(const struct qcow2 *q, uint64_t off)
{
	return qcow2_clear_of_tables(q, off) && off <= q->file_size &&
	       q->cluster_size <= q->file_size - off;
}

bool qcow2_data_ok(const struct qcow2 *q, uint64_t off)
{
	return qcow2_clear_of_tables(q, off) && off < q->file_size;
}

/* The name the image's feature table gives an incompatible bit, or "". */
static void qcow2_feature_name(const uint8_t *ext, uint32_t len, unsigned int bit,
			       char *out, size_t outlen)
{
	out[0] = '\0';
	for (uint32_t i = 0; i + 48 <= len; i += 48)
		if (ext[i] == 0 && ext[i + 1] == bit) {
			snprintf(out, outlen, " (%.46s)", (const char *)ext + i + 2);
			return;
		}
}

/* Header extensions: [start, cluster end) of the first cluster in hdr. */
static int qcow2_parse_exts(struct qcow2 *q, const uint8_t *hdr, size_t hlen, size_t start,
			    const uint8_t **names, uint32_t *names_len, char *err, size_t errlen)
{
	size_t pos = start;

	*names = NULL;
	*names_len = 0;
	while (pos + 8 <= hlen) {
		uint32_t type = be32_at(hdr + pos), len = be32_at(hdr + pos + 4);

		pos += 8;
		if (type == EXT_END)
			return 0;
		if (len > hlen - pos)
			return err_msg(err, errlen, -EINVAL, "%s: header extension 0x%08x of %u "
				       "bytes runs past the first cluster", q->path, type, len);
		if (type == EXT_BACKING_FMT) {
			if (len >= sizeof(q->backing_fmt))
				return err_msg(err, errlen, -EINVAL, "%s: backing format name too long",
					       q->path);
			memcpy(q->backing_fmt, hdr + pos, len);
			q->backing_fmt[len] = '\0';
		} else if (type == EXT_FEATURE_NAMES) {
			*names = hdr + pos;
			*names_len = len;
		}
		pos += ALIGN_UP((size_t)len, 8);
	}
	return 0;   /* no end marker inside the first cluster: what there was */
}

static int qcow2_check_features(struct qcow2 *q, const uint8_t *names, uint32_t names_len,
				char *err, size_t errlen)
{
	uint64_t unknown = q->incompat & ~QCOW2_INCOMPAT_KNOWN;
	char name[64];

	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return err_msg(err, errlen, -ENOTSUP, "%s: external data files (incompatible "
			       "feature bit 2) are not supported", q->path);
	if (q->incompat & QCOW2_INCOMPAT_EXTL2)
		return err_msg(err, errlen, -ENOTSUP, "%s: extended L2 entries (incompatible "
			       "feature bit 4) are not supported", q->path);
	if (unknown) {
		unsigned int bit = (unsigned int)__builtin_ctzll(unknown);

		qcow2_feature_name(names, names_len, bit, name, sizeof(name));
		return err_msg(err, errlen, -ENOTSUP, "%s: unknown incompatible feature bit %u%s",
			       q->path, bit, name);
	}
	if (q->readonly)
		return 0;
	if (q->incompat & QCOW2_INCOMPAT_CORRUPT)
		return err_msg(err, errlen, -EROFS, "%s: the image is marked corrupt: it may only "
			       "be opened read-only (qemu-img check -r all repairs it)", q->path);
	if (q->incompat & QCOW2_INCOMPAT_DIRTY)
		return err_msg(err, errlen, -EROFS, "%s: the image is dirty (lazy refcounts not "
			       "written back): it may only be opened read-only until "
			       "qemu-img check -r all repairs it", q->path);
	return 0;
}

/* Reads the header fields and checks every one of them. */
static int qcow2_parse_header(struct qcow2 *q, const uint8_t *h, size_t hlen, uint32_t *hdr_len,
			      uint64_t *backing_off, uint32_t *backing_len, char *err, size_t errlen)
{
	uint64_t l2_cover, need_l1;

	if (hlen < QH_V2_LENGTH || be32_at(h) != QCOW2_MAGIC)
		return err_msg(err, errlen, -EINVAL, "%s is not a qcow2 image (no QFI\\xfb magic)",
			       q->path);
	q->version = be32_at(h + 4);
	if (q->version != 2 && q->version != 3)
		return err_msg(err, errlen, -ENOTSUP, "%s: qcow2 version %u (2 and 3 are supported)",
			       q->path, q->version);
	*backing_off = be64_at(h + 8);
	*backing_len = be32_at(h + 16);
	q->cluster_bits = be32_at(h + 20);
	q->size = be64_at(h + 24);
	if (be32_at(h + 32))
		return err_msg(err, errlen, -ENOTSUP, "%s: encrypted images are not supported",
			       q->path);
	q->l1_size = be32_at(h + 36);
	q->l1_offset = be64_at(h + 40);
	q->rt_offset = be64_at(h + 48);
	q->rt_clusters = be32_at(h + 56);
	if (q->cluster_bits < 9 || q->cluster_bits > 21)
		return err_msg(err, errlen, -EINVAL, "%s: cluster_bits %u (9 to 21)", q->path,
			       q->cluster_bits);
	q->cluster_size = 1ULL << q->cluster_bits;
	q->refcount_order = 4;
	*hdr_len = QH_V2_LENGTH;
	if (q->version == 3) {
		if (hlen < QH_V3_MIN_LENGTH)
			return err_msg(err, errlen, -EINVAL, "%s: truncated header", q->path);
		q->incompat = be64_at(h + 72);
		q->compat = be64_at(h + 80);
		q->autoclear = be64_at(h + 88);
		q->refcount_order = be32_at(h + 96);
		*hdr_len = be32_at(h + 100);
		if (*hdr_len < QH_V3_MIN_LENGTH || *hdr_len > hlen || *hdr_len % 8)
			return err_msg(err, errlen, -EINVAL, "%s: header_length %u", q->path,
				       *hdr_len);
		if (q->incompat & QCOW2_INCOMPAT_COMPRESSION) {
			uint8_t t = *hdr_len > 104 ? h[104] : 0;

			if (t > 1)
				return err_msg(err, errlen, -ENOTSUP, "%s: compression type %u "
					       "(zlib and zstd are supported)", q->path, t);
			q->zstd = t == 1;
		}
	}
	if (q->refcount_order > 6)
		return err_msg(err, errlen, -EINVAL, "%s: refcount_order %u (0 to 6)", q->path,
			       q->refcount_order);
	if (q->size > QCOW2_MAX_SIZE)
		return err_msg(err, errlen, -EINVAL, "%s: virtual size %llu is too large", q->path,
			       (unsigned long long)q->size);
	if (be32_at(h + 60) && !q->readonly)
		return err_msg(err, errlen, -EROFS, "%s: the image has %u internal snapshots: "
			       "isle-tapdisk serves it read-only only", q->path, be32_at(h + 60));
	q->l2_bits = q->cluster_bits - 3;
	q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->csize_mask = (1ULL << (q->cluster_bits - 8)) - 1;
	q->coffset_mask = (1ULL << q->csize_shift) - 1;
	l2_cover = q->cluster_size << q->l2_bits;
	need_l1 = (q->size + l2_cover - 1) / l2_cover;
	if (q->l1_size < need_l1 || (uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return err_msg(err, errlen, -EINVAL, "%s: l1_size %u for a %llu-byte disk",
			       q->path, q->l1_size, (unsigned long long)q->size);
	if (q->l1_size && (q->l1_offset & (q->cluster_size - 1) || q->l1_offset < q->cluster_size ||
			   !range_ok(q->l1_offset, (uint64_t)q->l1_size * 8, q->file_size)))
		return err_msg(err, errlen, -EINVAL, "%s: the L1 table at 0x%llx is not inside "
			       "the file", q->path, (unsigned long long)q->l1_offset);
	if (!q->rt_clusters || (uint64_t)q->rt_clusters * q->cluster_size > QCOW2_MAX_RT_BYTES ||
	    q->rt_offset & (q->cluster_size - 1) || q->rt_offset < q->cluster_size ||
	    !range_ok(q->rt_offset, (uint64_t)q->rt_clusters * q->cluster_size, q->file_size))
		return err_msg(err, errlen, -EINVAL, "%s: the refcount table (%u clusters at 0x%llx) "
			       "is not inside the file", q->path, q->rt_clusters,
			       (unsigned long long)q->rt_offset);
	return 0;
}

/* The L1 and refcount tables, in host byte order. */
static int qcow2_load_tables(struct qcow2 *q, char *err, size_t errlen)
{
	int r;

	q->rt_entries = (uint64_t)q->rt_clusters * q->cluster_size / 8;
	q->l1 = calloc(MAX(q->l1_size, 1u), 8);
	q->rt = calloc(q->rt_entries, 8);
	if (!q->l1 || !q->rt)
		return -ENOMEM;
	r = qcow2_pread(q, q->l1, (size_t)q->l1_size * 8, q->l1_offset);
	if (!r)
		r = qcow2_pread(q, q->rt, (size_t)q->rt_entries * 8, q->rt_offset);
	if (r)
		return err_msg(err, errlen, r, "%s: cannot read the L1 or refcount table: %s",
			       q->path, strerror(-r));
	for (uint32_t i = 0; i < q->l1_size; i++)
		q->l1[i] = be64toh(q->l1[i]);
	for (uint64_t i = 0; i < q->rt_entries; i++)
		q->rt[i] = be64toh(q->rt[i]);
	return 0;
}

/* The backing file's path as QEMU resolves it: relative to the directory of
 * the image that names it. */
static void qcow2_backing_path(const struct qcow2 *q, const char *name, char *out, size_t n)
{
	char dir[PATH_MAX];

	if (name[0] == '/') {
		snprintf(out, n, "%s", name);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", q->path);
	snprintf(out, n, "%s/%s", dirname(dir), name);
}

static int qcow2_open_backing(struct qcow2 *q, uint64_t off, uint32_t len,
			      const struct qcow2_opts *o, struct qcow2_seen *seen,
			      char *err, size_t errlen)
{
	char name[QCOW2_BACKING_NAME_MAX + 1], sub[512];
	struct qcow2_opts bo = *o;
	struct stat st;
	uint8_t magic[4] = { 0 };
	int r;

	if (!len || o->no_backing)
		return 0;
	if (len > QCOW2_BACKING_NAME_MAX || off < QH_V2_LENGTH || off > q->cluster_size ||
	    len > q->cluster_size - off)
		return err_msg(err, errlen, -EINVAL, "%s: backing file name (%u bytes at %llu) "
			       "out of the first cluster", q->path, len, (unsigned long long)off);
	r = qcow2_pread(q, name, len, off);
	if (r)
		return err_msg(err, errlen, r, "%s: cannot read the backing file name", q->path);
	name[len] = '\0';
	if (strlen(name) != len)
		return err_msg(err, errlen, -EINVAL, "%s: backing file name holds a NUL byte",
			       q->path);
	qcow2_backing_path(q, name, q->backing, sizeof(q->backing));
	if (seen->n >= QCOW2_MAX_CHAIN)
		return err_msg(err, errlen, -ELOOP, "%s: backing chain deeper than %d images",
			       q->path, QCOW2_MAX_CHAIN);
	q->bfd = open(q->backing, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (q->bfd < 0)
		return err_msg(err, errlen, -errno, "%s: backing file %s: %s", q->path, q->backing,
			       strerror(errno));
	if (fstat(q->bfd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		return err_msg(err, errlen, -EINVAL, "%s: backing file %s is neither a file nor "
			       "a block device", q->path, q->backing);
	for (unsigned int i = 0; i < seen->n; i++)
		if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino)
			return err_msg(err, errlen, -ELOOP, "%s: backing chain loop at %s", q->path,
				       q->backing);
	r = lock_acquire(q->bfd, false, q->backing, err, errlen);
	if (r)
		return r;
	if (!q->backing_fmt[0]) {
		/* No backing format recorded: QEMU 7.2 probes; so do we, for backing
		 * files only (a disk given as raw is never probed). */
		if (pread(q->bfd, magic, 4, 0) == 4 && be32_at(magic) == QCOW2_MAGIC)
			snprintf(q->backing_fmt, sizeof(q->backing_fmt), "qcow2");
		else
			snprintf(q->backing_fmt, sizeof(q->backing_fmt), "raw");
	}
	if (!strcmp(q->backing_fmt, "raw")) {
		q->bsize = S_ISBLK(st.st_mode) ? (uint64_t)lseek(q->bfd, 0, SEEK_END)
					       : (uint64_t)st.st_size;
		q->chain = 1;
		return 0;
	}
	if (strcmp(q->backing_fmt, "qcow2"))
		return err_msg(err, errlen, -ENOTSUP, "%s: backing format %s (raw and qcow2 are "
			       "supported)", q->path, q->backing_fmt);
	bo.readonly = true;
	r = qcow2_open_chain(&q->bq, q->bfd, q->backing, &bo, seen, sub, sizeof(sub));
	/* The failing image names itself; only the disk adds its own name,
	 * so a deep chain's message is not buried under every level's. */
	if (r)
		return q->level ? err_msg(err, errlen, r, "%s", sub)
				: err_msg(err, errlen, r, "%s: backing file: %s", q->path, sub);
	q->chain = 1 + q->bq->chain;
	return 0;
}

static int qcow2_open_chain(struct qcow2 **qp, int fd, const char *path,
			    const struct qcow2_opts *o, struct qcow2_seen *seen,
			    char *err, size_t errlen)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	const uint8_t *names;
	uint8_t *hdr = NULL;
	uint32_t names_len, hdr_len = 0, blen = 0;
	uint64_t boff = 0, cache = o->cache_bytes ? o->cache_bytes : QCOW2_CACHE_BYTES;
	struct stat st;
	size_t hlen;
	ssize_t n;
	int r;

	*qp = NULL;
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->fd = fd;
	q->bfd = -1;
	q->readonly = o->readonly;
	q->no_backing = o->no_backing;
	snprintf(q->path, sizeof(q->path), "%s", path);
	if (fstat(fd, &st) < 0) {
		r = err_msg(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	q->file_size = S_ISBLK(st.st_mode) ? (uint64_t)lseek(fd, 0, SEEK_END) : (uint64_t)st.st_size;
	q->level = seen->n;
	if (seen->n < QCOW2_MAX_CHAIN) {
		seen->dev[seen->n] = st.st_dev;
		seen->ino[seen->n++] = st.st_ino;
	}
	/* The header and its extensions live in the first cluster; read what
	 * the largest cluster allows, bounded by the file. */
	hlen = (size_t)MIN(q->file_size, 2ULL << 20);
	hdr = malloc(MAX(hlen, (size_t)1));
	r = -ENOMEM;
	if (!hdr)
		goto fail;
	n = pread(fd, hdr, hlen, 0);
	r = n < 0 ? -errno : 0;
	if (r)
		goto fail;
	hlen = (size_t)n;
	r = qcow2_parse_header(q, hdr, hlen, &hdr_len, &boff, &blen, err, errlen);
	if (r)
		goto fail;
	hlen = (size_t)MIN((uint64_t)hlen, q->cluster_size);
	r = qcow2_parse_exts(q, hdr, hlen, hdr_len, &names, &names_len, err, errlen);
	if (!r)
		r = qcow2_check_features(q, names, names_len, err, errlen);
	if (!r)
		r = qcow2_load_tables(q, err, errlen);
	if (r)
		goto fail;
	r = -ENOMEM;
	q->cow = malloc(q->cluster_size);
	q->zbuf = malloc(q->cluster_size);
	q->cin = malloc(2 * q->cluster_size);
	if (!q->cow || !q->zbuf || !q->cin ||
	    qcow2_cache_init(&q->l2c, (unsigned int)MAX(cache / 2 / q->cluster_size, 4ULL),
			     q->cluster_size) ||
	    qcow2_cache_init(&q->rbc, (unsigned int)MAX(cache / 4 / q->cluster_size, 4ULL),
			     q->cluster_size))
		goto fail;
	q->next_free = ALIGN_UP(q->file_size, q->cluster_size);
	if (!q->readonly && q->autoclear) {
		/* We keep no bitmaps consistent: whoever set these must know. */
		uint8_t z[8] = { 0 };

		q->autoclear = 0;
		r = qcow2_pwrite(q, z, 8, QH_AUTOCLEAR);
		if (!r)
			r = qcow2_sync(q);
		if (r) {
			err_msg(err, errlen, r, "%s: cannot clear the autoclear features: %s",
				path, strerror(-r));
			goto fail;
		}
	}
	r = qcow2_open_backing(q, boff, blen, o, seen, err, errlen);
	if (r)
		goto fail;
	free(hdr);
	*qp = q;
	return 0;
fail:
	if (r == -ENOMEM && err && errlen && !err[0])
		err_msg(err, errlen, r, "%s: out of memory", path);
	free(hdr);
	qcow2_close(q);
	return r;
}

int qcow2_open(struct qcow2 **qp, int fd, const char *path, const struct qcow2_opts *o,
	       char *err, size_t errlen)
{
	struct qcow2_seen seen = { .n = 0 };
	struct qcow2_opts none = { 0 };

	if (err && errlen)
		err[0] = '\0';
	return qcow2_open_chain(qp, fd, path, o ? o : &none, &seen, err, errlen);
}

void qcow2_close(struct qcow2 *q)
{
	if (!q)
		return;
	if (q->npending && qcow2_sync_frees(q))
		log_warn("%s: clusters left to free at close are leaked", q->path);
	qcow2_close(q->bq);
	if (q->bfd >= 0)
		close(q->bfd);
	qcow2_cache_fini(&q->l2c);
	qcow2_cache_fini(&q->rbc);
	free(q->l1);
	free(q->rt);
	free(q->cow);
	free(q->zbuf);
	free(q->cin);
	ZSTD_freeDCtx(q->zds);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

uint64_t qcow2_size(const struct qcow2 *q)
{
	return q->size;
}

void qcow2_get_info(struct qcow2 *q, struct qcow2_info *out)
{
	pthread_mutex_lock(&q->lock);
	memset(out, 0, sizeof(*out));
	out->version = q->version;
	out->cluster_bits = q->cluster_bits;
	out->refcount_order = q->refcount_order;
	out->size = q->size;
	out->incompatible = q->incompat;
	out->compatible = q->compat;
	out->autoclear = q->autoclear;
	out->zstd = q->zstd;
	out->chain = q->chain;
	snprintf(out->backing, sizeof(out->backing), "%s", q->backing);
	snprintf(out->backing_format, sizeof(out->backing_format), "%s", q->backing_fmt);
	out->allocated = q->allocated;
	out->freed = q->freed;
	out->cache_hits = q->hits;
	out->cache_misses = q->misses;
	pthread_mutex_unlock(&q->lock);
}

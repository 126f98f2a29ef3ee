/* libFuzzer target for blkback/qcow2*.c: the input is a qcow2 image file
 * (the untrusted part: header, extensions, L1/L2 tables, refcount table and
 * blocks, compressed clusters) preceded by a 4-byte header that drives what
 * a guest then asks of it.
 *   0 u8  flags: 0x01 open read-only, 0x02 a minimal metadata cache (4 L2
 *         tables, 4 refcount blocks: every lookup evicts)
 *   1 u8  number of requests (b % 16)
 *   2 u16 seed of the requests' kinds, offsets and lengths (xorshift)
 * The image goes into a memfd (it may grow as clusters are allocated) and is
 * opened with no_backing (a backing file reads as zeros; no path is opened).
 * Requests: reads and writes of 512 B to 16 KiB at sector offsets (some at
 * the disk's end), discards, write-zeroes and flushes; then the whole
 * image's first 64 KiB and a sample across its size are read.
 * Seeds: corpus/qcow2 (gen_qcow2_seeds.sh, qemu-img's images).
 *
 * Checks beyond ASan/UBSan (abort on violation): open fails with one line
 * and -EINVAL, -ENOTSUP, -EROFS, -ENOMEM or -EIO; a read or write returns
 * its length or -EIO/-EROFS/-ENOMEM (-EROFS only when opened read-only);
 * discard, write-zeroes and flush return 0 or -errno of those; the image
 * file grows by no more than what the requests can allocate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isle/log.h"
#include "qcow2.h"

#define HDR_SIZE 4
#define MAX_REQ  (16u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static bool io_errno_ok(int64_t r, bool ro)
{
	return r == -EIO || r == -ENOMEM || (ro && r == -EROFS);
}

static void request(struct qcow2 *q, uint64_t dsize, uint8_t *buf, bool ro)
{
	enum disk_op ops[] = { DISK_OP_READ, DISK_OP_WRITE, DISK_OP_WRITE, DISK_OP_DISCARD,
			       DISK_OP_WRITE_ZEROES, DISK_OP_FLUSH };
	enum disk_op op = ops[rnd() % 6];
	uint64_t sectors = dsize >> 9, off, len;
	struct iovec v[2];
	int64_t r;

	if (!sectors)
		return;
	len = ((uint64_t)(rnd() % (MAX_REQ >> 9)) + 1) << 9;
	off = rnd() & 1 ? (uint64_t)rnd() % sectors << 9 : (sectors - 1) << 9;
	if (len > dsize - off)
		len = dsize - off;
	if (op == DISK_OP_DISCARD || op == DISK_OP_WRITE_ZEROES || op == DISK_OP_FLUSH) {
		r = op == DISK_OP_FLUSH ? qcow2_flush(q) : qcow2_discard(q, off, len,
									 op == DISK_OP_WRITE_ZEROES);
		if (r && !io_errno_ok(r, ro))
			abort();
		return;
	}
	memset(buf, (int)(off >> 9), len);
	v[0] = (struct iovec){ buf, len / 2 };
	v[1] = (struct iovec){ buf + len / 2, len - len / 2 };
	r = qcow2_rw(q, op, off, v, 2, len);
	if (r != (int64_t)len && !io_errno_ok(r, ro && op == DISK_OP_WRITE))
		abort();
}

/* A read must return its length or an I/O error, never anything else. */
static void read_at(struct qcow2 *q, uint64_t off, uint64_t len, uint8_t *buf)
{
	struct iovec v = { buf, len };
	int64_t r = qcow2_rw(q, DISK_OP_READ, off, &v, 1, len);

	if (r != (int64_t)len && !io_errno_ok(r, false))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[MAX_REQ];
	struct qcow2_opts o = { .no_backing = true };
	struct qcow2_info info;
	struct qcow2 *q = NULL;
	uint64_t dsize, before;
	struct stat st;
	char err[256];
	unsigned int n;
	int fd, r;

	if (size < HDR_SIZE || size > (8u << 20))
		return 0;
	log_set_level(LOG_ERROR);   /* every broken table logs */
	o.readonly = data[0] & 1;
	o.cache_bytes = data[0] & 2 ? 1 : 0;
	n = data[1] % 16;
	rnd_state = 0x9e3779b9u ^ ((uint32_t)data[2] | (uint32_t)data[3] << 8);
	fd = memfd_create("fuzz_qcow2", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data + HDR_SIZE, size - HDR_SIZE) != (ssize_t)(size - HDR_SIZE)) {
		close(fd);
		return 0;
	}
	before = size - HDR_SIZE;
	err[0] = '\0';
	r = qcow2_open(&q, fd, "fuzz.qcow2", &o, err, sizeof(err));
	if (r) {
		if ((r != -EINVAL && r != -ENOTSUP && r != -EROFS && r != -ENOMEM && r != -EIO) ||
		    !err[0] || strchr(err, '\n') || q)
			abort();
		close(fd);
		return 0;
	}
	dsize = qcow2_size(q);
	for (unsigned int i = 0; i < n; i++)
		request(q, dsize, buf, o.readonly);
	/* The start (tables usually follow the header) and a sample across. */
	for (uint64_t off = 0; off < dsize && off < (64u << 10); off += 4096)
		read_at(q, off, dsize - off < 4096 ? dsize - off : 4096, buf);
	for (unsigned int i = 1; i < 8; i++) {
		uint64_t off = (dsize / 8 * i) & ~4095ULL;

		if (off + 4096 <= dsize)
			read_at(q, off, 4096, buf);
	}
	qcow2_get_info(q, &info);
	qcow2_close(q);
	/* Each request allocates at most its clusters, their L2 tables, refcount
	 * blocks for all of them and a grown refcount table: bounded by the
	 * requests' count, whatever the image says. */
	if (fstat(fd, &st) == 0 && !o.readonly && info.cluster_bits < 32) {
		uint64_t csize = 1ULL << info.cluster_bits;
		uint64_t per = (MAX_REQ / csize + 2) * 3 + 8;

		if ((uint64_t)st.st_size > before + csize + (uint64_t)n * per * csize +
						    (64u << 20))
			abort();
	}
	close(fd);
	return 0;
}

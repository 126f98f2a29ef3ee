/* virtio-blk requests for isle-tapdisk (contract in blk.h): parsing and
 * validating a chain, mapping it to one disk request (or a sequence of them
 * for multi-range discard / write-zeroes), and the status byte.
 *
 * The guest can rewrite its buffers at any time, so everything we decide on
 * (header, ranges) is copied out of guest memory once and only the copy is
 * looked at. Data buffers go to the engine in place: what the guest does to
 * them meanwhile only changes what it reads or writes, never our state. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blk.h"
#include "isle/iov.h"
#include "isle/util.h"

/* Narrows iov[0..cnt) in place to the bytes [skip, skip + len), which the
 * caller knows lie inside it; returns the first entry, *n the count. The
 * element's iovecs are ours to reshape: the chain is not mapped again. */
static struct iovec *blk_iov_slice(struct iovec *iov, unsigned int cnt, uint64_t skip,
				   uint64_t len, unsigned int *n)
{
	unsigned int i = 0, j;

	*n = 0;
	if (!len)
		return iov;
	while (i < cnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	iov[i].iov_base = (uint8_t *)iov[i].iov_base + skip;
	iov[i].iov_len -= skip;
	for (j = i; j < cnt && len > iov[j].iov_len; j++)
		len -= iov[j].iov_len;
	iov[j].iov_len = len;   /* j < cnt: the range lies inside */
	*n = j - i + 1;
	return &iov[i];
}

static void blk_finish(struct blk_req *req, uint8_t status, uint32_t written)
{
	req->status = status;
	req->written = written;
	*req->status_ptr = status;
	req->complete(req);
}

static uint8_t blk_errno_status(int64_t err)
{
	return err == -EOPNOTSUPP || err == -ENOTSUP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

static int blk_submit(struct blk_req *req)
{
	int r = disk_submit(req->disk, &req->dreq);

	if (r == -EAGAIN)
		return r;
	if (r)
		blk_finish(req, blk_errno_status(r), 1);
	return 0;
}

/* Points dreq at the next discard / write-zeroes range. Zero-length ranges
 * are no-ops. Returns false when none is left. */
static bool blk_next_range(struct blk_req *req)
{
	while (req->next_range < req->nranges) {
		const struct blk_range *rg = &req->ranges[req->next_range++];

		if (!rg->num_sectors)
			continue;
		req->dreq.offset = rg->sector * BLK_SECTOR_SIZE;
		req->dreq.len = (uint64_t)rg->num_sectors * BLK_SECTOR_SIZE;
		return true;
	}
	return false;
}

static void blk_disk_done(struct disk_req *dreq, int64_t result)
{
	struct blk_req *req = dreq->opaque;
	int r;

	if (result < 0) {
		blk_finish(req, blk_errno_status(result), 1);
		return;
	}
	if ((req->type == VIRTIO_BLK_T_DISCARD || req->type == VIRTIO_BLK_T_WRITE_ZEROES) &&
	    blk_next_range(req)) {
		/* Our own request just left the queue, so a slot is free. */
		r = disk_submit(req->disk, &req->dreq);
		if (r)
			blk_finish(req, blk_errno_status(r), 1);
		return;
	}
	blk_finish(req, VIRTIO_BLK_S_OK, req->ok_written);
}

/* True when [sector, sector + bytes/512) lies inside the disk. */
static bool blk_range_ok(const struct blk_dev *bd, uint64_t sector, uint64_t bytes)
{
	return range_ok(sector, bytes / BLK_SECTOR_SIZE, bd->capacity);
}

static uint8_t blk_prepare_rw(const struct blk_dev *bd, struct blk_req *req, uint64_t sector)
{
	struct vq_elem *e = &req->elem;
	bool in = req->type == VIRTIO_BLK_T_IN;
	uint64_t len = in ? e->in_len - 1 : e->out_len - BLK_HDR_SIZE;
	unsigned int n;

	if (!in && bd->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SECTOR_SIZE || len > DISK_MAX_RW_BYTES || !blk_range_ok(bd, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (in)
		req->dreq.iov = blk_iov_slice(e->iov + e->out_num, e->in_num, 0, len, &n);
	else
		req->dreq.iov = blk_iov_slice(e->iov, e->out_num, BLK_HDR_SIZE, len, &n);
	req->dreq.op = in ? DISK_OP_READ : DISK_OP_WRITE;
	req->dreq.offset = sector * BLK_SECTOR_SIZE;
	req->dreq.iovcnt = n;
	req->ok_written = in ? (uint32_t)len + 1 : 1;
	return VIRTIO_BLK_S_OK;
}

/* Copies and checks the range array of a discard or write-zeroes. */
static uint8_t blk_prepare_dwz(const struct blk_dev *bd, struct blk_req *req)
{
	const struct vq_elem *e = &req->elem;
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint64_t len = e->out_len - BLK_HDR_SIZE;
	struct virtio_blk_discard_write_zeroes seg[BLK_DWZ_SEG_MAX];
	unsigned int count = (unsigned int)MIN(len / sizeof(seg[0]), (uint64_t)UINT32_MAX);

	if (bd->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (discard && !bd->discard)
		return VIRTIO_BLK_S_UNSUPP;
	if (!count || len % sizeof(seg[0]))
		return VIRTIO_BLK_S_IOERR;
	if (count > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_UNSUPP;
	iov_to_buf(e->iov, e->out_num, BLK_HDR_SIZE, seg, len);
	for (unsigned int i = 0; i < count; i++) {
		uint64_t sector = get_le64(&seg[i].sector);
		uint32_t num = get_le32(&seg[i].num_sectors);
		uint32_t flags = get_le32(&seg[i].flags);

		/* Unknown flags, and unmap on a discard, are the spec's UNSUPP. */
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (discard && flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > BLK_DWZ_SECTORS_MAX ||
		    !blk_range_ok(bd, sector, (uint64_t)num * BLK_SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
		req->ranges[i] = (struct blk_range){ .sector = sector, .num_sectors = num };
	}
	req->nranges = count;
	req->next_range = 0;
	req->dreq.op = discard ? DISK_OP_DISCARD : DISK_OP_WRITE_ZEROES;
	req->ok_written = 1;
	return VIRTIO_BLK_S_OK;
}

/* GET_ID: the serial, NUL-padded, into the writable bytes before status. */
static void blk_get_id(const struct blk_dev *bd, struct blk_req *req)
{
	const struct vq_elem *e = &req->elem;
	size_t n = (size_t)MIN(e->in_len - 1, (uint64_t)BLK_ID_BYTES);

	iov_from_buf(e->iov + e->out_num, e->in_num, 0, (void *)bd->serial, n);
	blk_finish(req, VIRTIO_BLK_S_OK, (uint32_t)n + 1);
}

int blk_handle(const struct blk_dev *bd, struct disk *disk, struct blk_req *req)
{
	struct vq_elem *e = &req->elem;
	const struct iovec *last;
	uint8_t hdr[BLK_HDR_SIZE];
	uint64_t sector;
	uint8_t st;

	if (!e->out_len || !e->in_len)
		return -EIO;
	last = &e->iov[e->out_num + e->in_num - 1];
	req->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;
	req->dev = bd;
	req->disk = disk;
	req->written = 0;
	req->nranges = 0;
	memset(&req->dreq, 0, sizeof(req->dreq));
	req->dreq.done = blk_disk_done;
	req->dreq.opaque = req;
	if (e->out_len < BLK_HDR_SIZE) {
		req->type = UINT32_MAX;
		blk_finish(req, VIRTIO_BLK_S_IOERR, 1);
		return 0;
	}
	iov_to_buf(e->iov, e->out_num, 0, hdr, sizeof(hdr));
	req->type = get_le32(hdr);
	sector = get_le64(hdr + 8);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		st = blk_prepare_rw(bd, req, sector);
		if (st == VIRTIO_BLK_S_OK && !req->dreq.iovcnt) {
			/* Nothing to move: answered at once, like a no-op. */
			blk_finish(req, VIRTIO_BLK_S_OK, req->ok_written);
			return 0;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		req->dreq.op = DISK_OP_FLUSH;
		req->ok_written = 1;
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		blk_get_id(bd, req);
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = blk_prepare_dwz(bd, req);
		if (st == VIRTIO_BLK_S_OK && !blk_next_range(req)) {
			blk_finish(req, VIRTIO_BLK_S_OK, 1);   /* only empty ranges */
			return 0;
		}
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (st != VIRTIO_BLK_S_OK) {
		blk_finish(req, st, 1);
		return 0;
	}
	return blk_submit(req);
}

int blk_retry(struct blk_req *req)
{
	return blk_submit(req);
}

void blk_req_init(struct blk_req *req, struct iovec *iov, unsigned int cap,
		  blk_complete_fn complete, void *opaque)
{
	memset(req, 0, sizeof(*req));
	vq_elem_init(&req->elem, iov, cap);
	req->complete = complete;
	req->opaque = opaque;
}

/* FNV-1a: a stable serial for a path when xl gave no vdev. */
static uint64_t blk_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

void blk_dev_init(struct blk_dev *bd, const struct disk *disk, unsigned int num_queues,
		  const char *vdev)
{
	char id[BLK_ID_BYTES + 1];

	memset(bd, 0, sizeof(*bd));
	bd->capacity = disk->size / BLK_SECTOR_SIZE;
	bd->blk_size = MAX(disk->logical_block_size, BLK_SECTOR_SIZE);
	bd->phys_block_size = MAX(disk->physical_block_size, bd->blk_size);
	bd->readonly = disk->readonly;
	bd->discard = disk->can_discard && !disk->readonly;
	bd->num_queues = num_queues ? num_queues : 1;
	if (vdev && vdev[0])
		snprintf(id, sizeof(id), "%s", vdev);
	else
		snprintf(id, sizeof(id), "isle%016llx", (unsigned long long)blk_hash(disk->path));
	/* NUL-padded; unterminated when exactly 20 long, as the spec allows. */
	memcpy(bd->serial, id, strlen(id));
}

uint64_t blk_features(const struct blk_dev *bd)
{
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH |
		     1ULL << VIRTIO_BLK_F_TOPOLOGY;

	if (bd->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	if (bd->discard)
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (bd->num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	return f;
}

void blk_config(const struct blk_dev *bd, struct virtio_blk_config *cfg)
{
	uint32_t align = bd->phys_block_size / BLK_SECTOR_SIZE;
	unsigned int exp = 0;

	memset(cfg, 0, sizeof(*cfg));
	while ((bd->blk_size << (exp + 1)) <= bd->phys_block_size && exp < 15)
		exp++;
	put_le64(&cfg->capacity, bd->capacity);
	put_le32(&cfg->size_max, BLK_SIZE_MAX);
	put_le32(&cfg->seg_max, BLK_SEG_MAX);
	put_le32(&cfg->blk_size, bd->blk_size);
	cfg->physical_block_exp = (uint8_t)exp;
	put_le16(&cfg->min_io_size, 1);
	put_le16(&cfg->num_queues, (uint16_t)bd->num_queues);
	if (bd->discard) {
		put_le32(&cfg->max_discard_sectors, BLK_DWZ_SECTORS_MAX);
		put_le32(&cfg->max_discard_seg, BLK_DWZ_SEG_MAX);
		put_le32(&cfg->discard_sector_alignment, align);
	}
	if (!bd->readonly) {
		put_le32(&cfg->max_write_zeroes_sectors, BLK_DWZ_SECTORS_MAX);
		put_le32(&cfg->max_write_zeroes_seg, BLK_DWZ_SEG_MAX);
		/* Our write-zeroes may punch holes (files) or unmap (BLKZEROOUT). */
		cfg->write_zeroes_may_unmap = bd->discard;
	}
}

const char *blk_status_name(uint8_t status)
{
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	}
	return "?";
}

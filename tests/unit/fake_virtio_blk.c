/* The simulated virtio-blk PCI function (see fake_virtio_blk.h). */
#include <string.h>

#include "cunit.h"
#include "fake_virtio_blk.h"

struct fake fk;

/* Copies between a range of the element's iovecs (from byte off) and buf. */
static void iov_xfer(struct iovec *iov, unsigned int n, size_t off, void *buf,
		     size_t len, bool to_iov)
{
	uint8_t *b = buf;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = MIN(len, iov[i].iov_len - off);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, take);
		else
			memcpy(b, (uint8_t *)iov[i].iov_base + off, take);
		b += take;
		len -= take;
		off = 0;
	}
}

static bool range_in_disk(uint64_t sector, uint64_t nsect)
{
	return sector <= DISK_SECTORS && nsect <= DISK_SECTORS - sector;
}

static void fake_handle(struct vq_elem *e)
{
	struct iovec *out = e->iov, *in = e->iov + e->out_num;
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes rng;
	uint64_t in_data = e->in_len - 1, out_data = e->out_len - sizeof(hdr);
	uint32_t written = 1;
	uint8_t st = VIRTIO_BLK_S_OK;

	fk.requests++;
	fk.max_data_segs = MAX(fk.max_data_segs, e->out_num + e->in_num - 2);
	iov_xfer(out, e->out_num, 0, &hdr, sizeof(hdr), false);
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		if (!range_in_disk(hdr.sector, in_data / 512)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_xfer(in, e->in_num, 0, fk.disk + hdr.sector * 512, in_data, true);
		written = (uint32_t)in_data + 1;
		break;
	case VIRTIO_BLK_T_OUT:
		if ((fk.vp.offered & 1ull << VIRTIO_BLK_F_RO) ||
		    !range_in_disk(hdr.sector, out_data / 512)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_xfer(out, e->out_num, sizeof(hdr), fk.disk + hdr.sector * 512,
			 out_data, false);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_GET_ID:
		iov_xfer(in, e->in_num, 0, (void *)ID_STRING, MIN(in_data, 20u), true);
		written = (uint32_t)MIN(in_data, 20u) + 1;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		iov_xfer(out, e->out_num, sizeof(hdr), &rng, sizeof(rng), false);
		if (!range_in_disk(rng.sector, rng.num_sectors)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		/* Discard leaves garbage: nothing promises zeroes. */
		memset(fk.disk + rng.sector * 512,
		       hdr.type == VIRTIO_BLK_T_DISCARD ? 0xdd : 0, rng.num_sectors * 512ull);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (fk.never_complete)
		return;
	if (!fk.no_status)
		iov_xfer(in, e->in_num, in_data, &st, 1, true);
	vq_push(&fk.vp.q[0].vq, e->head, written + fk.len_extra);
}

static bool fake_notify(unsigned int idx, uint32_t v)
{
	struct fake_vpci_q *q = &fk.vp.q[0];
	int r;

	fk.notifies++;
	if (v != 0 || !q->running)
		return true;
	vq_elem_init(&fk.elem, fk.iov, ARRAY_SIZE(fk.iov));
	while ((r = vq_pop(&q->vq, &fk.elem)) == 1)
		fake_handle(&fk.elem);
	if (r < 0)
		fk.vp.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	return true;
}

static const struct fake_vpci_ops ops = { .notify = fake_notify };

void fake_setup(void)
{
	memset(&fk, 0, sizeof(fk));
	fake_vpci_setup(&fk.vp, &ops, BLKFRONT_DEVICE_ID, 1, 128, &fk.blk,
			sizeof(fk.blk), BLKFRONT_PRIV_BYTES);
	fk.vp.offered = 1ull << VIRTIO_F_VERSION_1 | BLKFRONT_FEATURES;
	fk.vp.offered &= ~(1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_F_ACCESS_PLATFORM);
	fk.blk.capacity = DISK_SECTORS;
	fk.blk.seg_max = 126;
	fk.blk.size_max = 65536;
	fk.blk.blk_size = 512;
	fk.blk.max_discard_sectors = 256;
	fk.blk.max_discard_seg = 1;
	fk.blk.discard_sector_alignment = 1;
	fk.blk.max_write_zeroes_sectors = 256;
	fk.blk.max_write_zeroes_seg = 1;
	fk.blk.write_zeroes_may_unmap = 1;
}

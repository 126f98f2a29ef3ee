/* virtio-blk driver (contract in blkfront.h).
 *
 * Owns: feature negotiation and the device configuration for a block
 * device, queue 0 set-up on top of virtio_pci and virtq_driver, building
 * request chains (header, data, status; discard/write-zeroes ranges;
 * GET_ID) and waiting for them by polling the used ring: the test guest
 * cannot take interrupts in ring 3, and a synchronous driver does not need
 * them. One request is in flight at a time. */
#include <stddef.h>

#include "isle/util.h"

#include "blkfront.h"

#define BLKFRONT_MIN_QUEUE   4u       /* header + data + status, plus one */
#define BLKFRONT_CFG_TRIES   8

static int blkfront_fail(struct blkfront *bf, const char *why, int err)
{
	bf->error = why;
	return err;
}

/* Reads the fields the negotiated features make valid, until two looks at
 * config_generation agree (the device may change its config meanwhile). */
static int blkfront_read_config(struct blkfront *bf)
{
	struct vpci_dev *d = &bf->pci;

	for (int tries = 0; tries < BLKFRONT_CFG_TRIES; tries++) {
		uint8_t gen = vpci_cfg_generation(d);
		int r;

		r = vpci_cfg_read64(d, offsetof(struct virtio_blk_config, capacity),
				    &bf->capacity);
		if (!r && blkfront_has(bf, VIRTIO_BLK_F_SIZE_MAX))
			r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config, size_max),
					    &bf->size_max);
		if (!r && blkfront_has(bf, VIRTIO_BLK_F_SEG_MAX))
			r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config, seg_max),
					    &bf->seg_max);
		if (!r && blkfront_has(bf, VIRTIO_BLK_F_BLK_SIZE))
			r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config, blk_size),
					    &bf->blk_size);
		if (!r && blkfront_has(bf, VIRTIO_BLK_F_DISCARD)) {
			r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config,
							max_discard_sectors),
					    &bf->max_discard_sectors);
			if (!r)
				r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config,
								max_discard_seg),
						    &bf->max_discard_seg);
			if (!r)
				r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config,
								discard_sector_alignment),
						    &bf->discard_align);
		}
		if (!r && blkfront_has(bf, VIRTIO_BLK_F_WRITE_ZEROES)) {
			uint8_t unmap = 0;

			r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config,
							max_write_zeroes_sectors),
					    &bf->max_wz_sectors);
			if (!r)
				r = vpci_cfg_read32(d, offsetof(struct virtio_blk_config,
								max_write_zeroes_seg),
						    &bf->max_wz_seg);
			if (!r)
				r = vpci_cfg_read8(d, offsetof(struct virtio_blk_config,
							       write_zeroes_may_unmap),
						   &unmap);
			bf->wz_may_unmap = unmap;
		}
		if (r)
			return blkfront_fail(bf, d->error, r);
		if (gen == vpci_cfg_generation(d))
			return 0;
	}
	return blkfront_fail(bf, "config generation never settled", -EIO);
}

/* Turns what the device reported into the limits we send by. */
static int blkfront_limits(struct blkfront *bf, unsigned int qmax, unsigned int cap)
{
	unsigned int num = MIN(qmax, cap);

	while (num & (num - 1))
		num &= num - 1;         /* round down to a power of two */
	if (num < BLKFRONT_MIN_QUEUE)
		return blkfront_fail(bf, "queue too small for a request", -EIO);
	bf->queue_size = num;
	bf->seg_limit = num - 2;        /* the chain also holds header and status */
	if (blkfront_has(bf, VIRTIO_BLK_F_SEG_MAX)) {
		if (!bf->seg_max)
			return blkfront_fail(bf, "device reports seg_max 0", -EIO);
		bf->seg_limit = MIN(bf->seg_limit, bf->seg_max);
	}
	if (!blkfront_has(bf, VIRTIO_BLK_F_SIZE_MAX))
		bf->size_max = UINT32_MAX;
	else if (bf->size_max == 0)
		/* qemu-storage-daemon offers SIZE_MAX and leaves it 0; Linux
		 * reads that as "no limit", and so do we. */
		bf->size_max = UINT32_MAX;
	else if (bf->size_max < BLKFRONT_SECTOR)
		return blkfront_fail(bf, "device reports size_max below a sector", -EIO);
	if (!blkfront_has(bf, VIRTIO_BLK_F_BLK_SIZE))
		bf->blk_size = BLKFRONT_SECTOR;
	else if (bf->blk_size < BLKFRONT_SECTOR || (bf->blk_size & (bf->blk_size - 1)))
		return blkfront_fail(bf, "device reports a bad blk_size", -EIO);
	bf->ro = blkfront_has(bf, VIRTIO_BLK_F_RO);
	return 0;
}

int blkfront_init(struct blkfront *bf, const struct vpci_env *env,
		  const struct blkfront_opts *opts, void *dma, size_t dma_len,
		  void *priv, size_t priv_len)
{
	struct blkfront_opts o = {
		.features = BLKFRONT_FEATURES,
		.queue_max = BLKFRONT_QUEUE_MAX,
		.timeout_us = BLKFRONT_TIMEOUT_US,
	};
	struct vqd_config vc = { 0 };
	size_t ring_bytes, req_off;
	unsigned int qmax;
	int r;

	if (opts)
		o = *opts;
	memset(bf, 0, sizeof(*bf));
	bf->timeout_us = o.timeout_us ? o.timeout_us : BLKFRONT_TIMEOUT_US;
	bf->broken = true;              /* until the end of this function */
	r = vpci_probe(&bf->pci, env);
	if (r)
		return blkfront_fail(bf, bf->pci.error, r);
	if (bf->pci.device != BLKFRONT_DEVICE_ID)
		return blkfront_fail(bf, "not a virtio-blk device", -ENODEV);
	if (!bf->pci.devcfg.present)
		return blkfront_fail(bf, "no device config region", -ENODEV);
	r = vpci_begin(&bf->pci);
	if (!r)
		r = vpci_negotiate(&bf->pci, o.features & BLKFRONT_FEATURES);
	if (r)
		return blkfront_fail(bf, bf->pci.error, r);
	bf->features = bf->pci.features;

	r = blkfront_read_config(bf);
	qmax = vpci_queue_max(&bf->pci, 0);
	if (!r && !qmax)
		r = blkfront_fail(bf, "device has no queue 0", -ENODEV);
	if (!r)
		r = blkfront_limits(bf, qmax, MIN(o.queue_max ? o.queue_max : BLKFRONT_QUEUE_MAX,
						  BLKFRONT_QUEUE_MAX));
	if (r)
		goto fail;

	vc.num = bf->queue_size;
	if (blkfront_has(bf, VIRTIO_RING_F_EVENT_IDX))
		vc.flags |= VQD_F_EVENT_IDX;
	if (blkfront_has(bf, VIRTIO_RING_F_INDIRECT_DESC)) {
		vc.flags |= VQD_F_INDIRECT;
		vc.indirect_tables = 1;         /* one request in flight */
		vc.indirect_max = bf->seg_limit + 2;
	}
	ring_bytes = vqd_dma_bytes(&vc);
	req_off = ALIGN_UP(ring_bytes, (size_t)16);
	if (!ring_bytes || req_off + sizeof(struct blkfront_req) > dma_len ||
	    vqd_priv_bytes(&vc) > priv_len) {
		r = blkfront_fail(bf, "memory areas too small", -EINVAL);
		goto fail;
	}
	r = vqd_init(&bf->vq, &vc, dma, dma_len, priv, priv_len);
	if (r) {
		blkfront_fail(bf, "queue layout rejected", r);
		goto fail;
	}
	bf->req = (struct blkfront_req *)((uint8_t *)dma + req_off);
	/* We poll; interrupts would only cost the device work. */
	vqd_disable_cb(&bf->vq);
	r = vpci_queue_enable(&bf->pci, 0, vc.num, bf->vq.desc_pa, bf->vq.avail_pa,
			      bf->vq.used_pa, &bf->notify_addr);
	if (r) {
		blkfront_fail(bf, bf->pci.error, r);
		goto fail;
	}
	vpci_driver_ok(&bf->pci);
	if (vpci_status(&bf->pci) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		r = blkfront_fail(bf, "device rejected DRIVER_OK", -EIO);
		goto fail;
	}
	bf->broken = false;
	bf->error = NULL;
	return 0;
fail:
	vpci_fail(&bf->pci);
	return r;
}

int blkfront_reset(struct blkfront *bf)
{
	bf->broken = true;
	bf->error = "device reset";
	return vpci_reset(&bf->pci);
}

/* Sends one request and waits for it. out[0, n_out) and in[0, n_in) are
 * the data (or payload) buffers; header and status are added here. */
static int blkfront_submit(struct blkfront *bf, uint32_t type, uint64_t sector,
			   const struct vqd_sg *out, unsigned int n_out,
			   const struct vqd_sg *in, unsigned int n_in)
{
	struct vqd_sg *chain = bf->chain;
	struct blkfront_req *rq = bf->req;
	uint64_t deadline, bytes = 0;
	unsigned int n = 0;
	void *token;
	uint32_t len;
	uint8_t st;
	int r;

	if (bf->broken)
		return -EIO;
	if (n_out + n_in + 2 > bf->queue_size)
		return -EINVAL;
	rq->hdr.type = type;
	rq->hdr.ioprio = 0;
	rq->hdr.sector = sector;
	/* Anything but 0-2 afterwards means the device never wrote it. */
	rq->status = 0xff;
	chain[n++] = (struct vqd_sg){ &rq->hdr, sizeof(rq->hdr) };
	for (unsigned int i = 0; i < n_out; i++, n++) {
		chain[n] = out[i];
		bytes += out[i].len;
	}
	for (unsigned int i = 0; i < n_in; i++, n++) {
		chain[n] = in[i];
		bytes += in[i].len;
	}
	chain[n++] = (struct vqd_sg){ &rq->status, 1 };

	r = vqd_add(&bf->vq, chain, 1 + n_out, chain + 1 + n_out, n_in + 1, rq);
	if (r == -EIO) {
		bf->broken = true;
		return blkfront_fail(bf, vqd_broken_reason(&bf->vq), -EIO);
	}
	if (r)
		return blkfront_fail(bf, "could not queue the request", r);
	if (vqd_kick_prepare(&bf->vq))
		vpci_notify(&bf->pci, bf->notify_addr, 0);

	deadline = fe_deadline_us(bf->timeout_us);
	for (;;) {
		r = vqd_get_used(&bf->vq, &token, &len);
		if (r < 0) {
			bf->broken = true;
			return blkfront_fail(bf, vqd_broken_reason(&bf->vq), -EIO);
		}
		if (r)
			break;
		if (fe_expired(deadline)) {
			/* The device still owns the buffers: no reuse. */
			bf->broken = true;
			return blkfront_fail(bf, vpci_needs_reset(&bf->pci) ?
					     "device needs a reset" : "request timed out",
					     -ETIMEDOUT);
		}
		fe_relax();
	}
	bf->last_len = len;
	bf->requests++;
	st = FE_READ_ONCE(rq->status);
	if (st > VIRTIO_BLK_S_UNSUPP)
		return blkfront_fail(bf, "device returned no valid status", -EPROTO);
	if (st == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN)
		bf->bytes_read += bytes;
	if (st == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_OUT)
		bf->bytes_written += bytes;
	return st;
}

int blkfront_rw_sg(struct blkfront *bf, uint64_t sector, const struct vqd_sg *sg,
		   unsigned int n, bool write)
{
	uint64_t total = 0;

	if (bf->broken)
		return -EIO;
	if (!n || n > bf->seg_limit)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (!sg[i].len || sg[i].len > bf->size_max)
			return -EINVAL;
		total += sg[i].len;
	}
	if (total % BLKFRONT_SECTOR)
		return -EINVAL;
	if (write)
		return blkfront_submit(bf, VIRTIO_BLK_T_OUT, sector, sg, n, NULL, 0);
	return blkfront_submit(bf, VIRTIO_BLK_T_IN, sector, NULL, 0, sg, n);
}

int blkfront_rw(struct blkfront *bf, uint64_t sector, void *buf, size_t len, bool write)
{
	uint8_t *p = buf;

	if (bf->broken)
		return -EIO;
	if (!len || len % BLKFRONT_SECTOR || !buf)
		return -EINVAL;
	while (len) {
		unsigned int n = 0;
		size_t total = 0, excess;
		int r;

		while (total < len && n < bf->seg_limit) {
			uintptr_t a = (uintptr_t)(p + total);
			size_t chunk = BLKFRONT_SEG_BYTES - (a & (BLKFRONT_SEG_BYTES - 1));

			chunk = MIN(chunk, len - total);
			chunk = MIN(chunk, (size_t)bf->size_max);
			bf->sg[n++] = (struct vqd_sg){ p + total, (uint32_t)chunk };
			total += chunk;
		}
		/* Each request carries whole sectors; a misaligned buffer
		 * leaves the odd bytes for the next one. */
		excess = total % BLKFRONT_SECTOR;
		while (excess) {
			struct vqd_sg *last = &bf->sg[n - 1];
			size_t cut = MIN(excess, (size_t)last->len);

			last->len -= (uint32_t)cut;
			total -= cut;
			excess -= cut;
			if (!last->len)
				n--;
		}
		if (!n) {
			/* seg_limit 1 and less than a sector before the page
			 * end: the buffer is contiguous, cross the page. */
			bf->sg[0] = (struct vqd_sg){ p, BLKFRONT_SECTOR };
			n = 1;
			total = BLKFRONT_SECTOR;
		}
		r = blkfront_rw_sg(bf, sector, bf->sg, n, write);
		if (r)
			return r;
		p += total;
		sector += total / BLKFRONT_SECTOR;
		len -= total;
	}
	return VIRTIO_BLK_S_OK;
}

int blkfront_flush(struct blkfront *bf)
{
	if (bf->broken)
		return -EIO;
	if (!blkfront_has(bf, VIRTIO_BLK_F_FLUSH))
		return -EOPNOTSUPP;
	return blkfront_submit(bf, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0);
}

static int blkfront_range(struct blkfront *bf, uint32_t type, uint64_t sector,
			  uint32_t nsect, uint32_t flags)
{
	struct vqd_sg sg = { &bf->req->range, sizeof(bf->req->range) };

	bf->req->range.sector = sector;
	bf->req->range.num_sectors = nsect;
	bf->req->range.flags = flags;
	return blkfront_submit(bf, type, 0, &sg, 1, NULL, 0);
}

int blkfront_discard(struct blkfront *bf, uint64_t sector, uint32_t nsect)
{
	if (bf->broken)
		return -EIO;
	if (!blkfront_has(bf, VIRTIO_BLK_F_DISCARD))
		return -EOPNOTSUPP;
	/* 0 would be a device bug; treat it as "no limit beyond the field". */
	if (!nsect || (bf->max_discard_sectors && nsect > bf->max_discard_sectors))
		return -EINVAL;
	return blkfront_range(bf, VIRTIO_BLK_T_DISCARD, sector, nsect, 0);
}

int blkfront_write_zeroes(struct blkfront *bf, uint64_t sector, uint32_t nsect, bool unmap)
{
	if (bf->broken)
		return -EIO;
	if (!blkfront_has(bf, VIRTIO_BLK_F_WRITE_ZEROES))
		return -EOPNOTSUPP;
	if (!nsect || (bf->max_wz_sectors && nsect > bf->max_wz_sectors))
		return -EINVAL;
	return blkfront_range(bf, VIRTIO_BLK_T_WRITE_ZEROES, sector, nsect,
			      unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
}

int blkfront_get_id(struct blkfront *bf, char id[VIRTIO_BLK_ID_BYTES + 1])
{
	struct vqd_sg sg = { bf->req->id, VIRTIO_BLK_ID_BYTES };
	int r;

	if (bf->broken)
		return -EIO;
	memset(bf->req->id, 0, sizeof(bf->req->id));
	r = blkfront_submit(bf, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, &sg, 1);
	memcpy(id, bf->req->id, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	return r;
}

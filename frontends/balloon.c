/* virtio-balloon driver (contract in balloon.h).
 *
 * Owns: feature negotiation for a balloon, the compacted queue layout and
 * the set-up of every queue on top of virtio_pci and virtq_driver, sending
 * PFN arrays on the inflate/deflate queues and keeping `actual` in step,
 * the one stats buffer that shuttles between driver and device, and free
 * page reporting chains. Everything is polled: the test guest takes no
 * interrupts in ring 3, and the host's requests (a new target, a stats
 * request) are things the caller looks for on its own schedule. The stats
 * and reporting queues have one buffer in flight at most; the inflate and
 * deflate queues up to `depth`, each buffer's token its slot of PFNs, so a
 * used buffer says which pages the host has. */
#include <stddef.h>

#include "isle/util.h"

#include "balloon.h"

#define BALLOONFE_CFG_TRIES  8
#define BALLOONFE_RING_ALIGN 64u      /* each queue on its own cache lines */
#define BALLOONFE_NO_BIT     64u      /* queues every balloon has */

/* The feature that makes each queue exist, in device index order. */
static const unsigned int balloonfe_vq_bit[BALLOONFE_VQ_NR] = {
	[BALLOONFE_VQ_INFLATE] = BALLOONFE_NO_BIT,
	[BALLOONFE_VQ_DEFLATE] = BALLOONFE_NO_BIT,
	[BALLOONFE_VQ_STATS] = VIRTIO_BALLOON_F_STATS_VQ,
	[BALLOONFE_VQ_HINT] = VIRTIO_BALLOON_F_FREE_PAGE_HINT,
	[BALLOONFE_VQ_REPORT] = VIRTIO_BALLOON_F_REPORTING,
};

static int balloonfe_fail(struct balloonfe *b, const char *why, int err)
{
	b->error = why;
	return err;
}

/* The device owns our buffers from now on as far as we know: refuse
 * everything until balloonfe_init(). */
static int balloonfe_break(struct balloonfe *b, const char *why, int err)
{
	b->broken = true;
	return balloonfe_fail(b, why, err);
}

static bool balloonfe_vq_present(uint64_t features, unsigned int role)
{
	unsigned int bit = balloonfe_vq_bit[role];

	return bit == BALLOONFE_NO_BIT || (features & (1ull << bit));
}

int balloonfe_queue_index(uint64_t features, enum balloonfe_vq role)
{
	int idx = 0;

	if ((unsigned int)role >= BALLOONFE_VQ_NR || !balloonfe_vq_present(features, role))
		return -1;
	/* An absent queue takes no index (virtio 1.3, 5.5.2). */
	for (unsigned int r = 0; r < (unsigned int)role; r++)
		idx += balloonfe_vq_present(features, r);
	return idx;
}

static void balloonfe_kick(struct balloonfe *b, unsigned int role)
{
	if (vqd_kick_prepare(&b->vq[role]))
		vpci_notify(&b->pci, b->notify[role], (unsigned int)b->qidx[role]);
}

static int balloonfe_write_actual(struct balloonfe *b)
{
	int r = vpci_cfg_write32(&b->pci, offsetof(struct virtio_balloon_config, actual),
				 b->actual);

	if (r)
		return balloonfe_break(b, b->pci.error, r);
	b->actual_writes++;
	return 0;
}

/* Refills the stats buffer from the caller and gives it to the device. A
 * callback that fails is reported (-EINVAL) after the buffer went back
 * with the values sent last: the device keeps asking, so statistics
 * resume once the callback recovers. */
static int balloonfe_stats_give(struct balloonfe *b)
{
	struct balloonfe_stat fresh[BALLOONFE_STATS_MAX];
	struct vqd_sg sg;
	unsigned int n;
	int r, cb = 0;

	n = b->stats_fn(b->stats_ctx, fresh, BALLOONFE_STATS_MAX);
	if (!n || n > BALLOONFE_STATS_MAX) {
		cb = balloonfe_fail(b, "stats callback gave no (or too many) entries", -EINVAL);
		if (!b->stats_n)
			return cb;      /* nothing sent yet to send again */
		n = b->stats_n;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			/* Packed, little-endian (fe_env.h): plain stores suffice. */
			b->stats[i].tag = fresh[i].tag;
			b->stats[i].val = fresh[i].val;
		}
		b->stats_n = n;
	}
	sg = (struct vqd_sg){ b->stats, n * BALLOONFE_STAT_BYTES };
	r = vqd_add(&b->vq[BALLOONFE_VQ_STATS], &sg, 1, NULL, 0, &b->vq[BALLOONFE_VQ_STATS]);
	if (r == -EIO)
		return balloonfe_break(b, vqd_broken_reason(&b->vq[BALLOONFE_VQ_STATS]), -EIO);
	if (r)
		return balloonfe_fail(b, "could not queue the stats buffer", r);
	b->stats_out = true;
	balloonfe_kick(b, BALLOONFE_VQ_STATS);
	return cb;
}

/* The device returning the stats buffer is its request for fresh values. */
static int balloonfe_stats_service(struct balloonfe *b)
{
	void *token;
	uint32_t len;
	int r;

	if (!b->stats_out)
		return 0;
	r = vqd_get_used(&b->vq[BALLOONFE_VQ_STATS], &token, &len);
	if (r < 0)
		return balloonfe_break(b, vqd_broken_reason(&b->vq[BALLOONFE_VQ_STATS]), -EIO);
	if (!r)
		return 0;
	b->stats_out = false;
	b->stats_requests++;
	r = balloonfe_stats_give(b);
	return r ? r : 1;
}

/* Waits for the next used buffer of queue role (*token: its token),
 * answering stats requests meanwhile. */
static int balloonfe_wait(struct balloonfe *b, unsigned int role, void **token)
{
	uint64_t deadline = fe_deadline_us(b->timeout_us);
	uint32_t len;
	int r;

	for (;;) {
		/* First, so a request already pending is answered even when
		 * our buffer comes back at once. A stats callback's mistake
		 * must not abandon the buffer we wait for; a broken stats
		 * ring breaks the device. */
		if (balloonfe_stats_service(b) < 0 && b->broken)
			return -EIO;
		r = vqd_get_used(&b->vq[role], token, &len);
		if (r < 0)
			return balloonfe_break(b, vqd_broken_reason(&b->vq[role]), -EIO);
		if (r)
			break;
		if (fe_expired(deadline))
			return balloonfe_break(b, vpci_needs_reset(&b->pci) ?
					       "device needs a reset" : "buffer not used in time",
					       -ETIMEDOUT);
		fe_relax();
	}
	b->buffers++;
	return 0;
}

/* Chooses the size of queue role and lays it out at *off / *poff. */
static int balloonfe_setup_vq(struct balloonfe *b, unsigned int role, unsigned int cap,
			      uint8_t *dma, size_t dma_len, size_t *off,
			      uint8_t *priv, size_t priv_len, size_t *poff)
{
	unsigned int idx = (unsigned int)b->qidx[role];
	unsigned int num = MIN(vpci_queue_max(&b->pci, idx), cap);
	struct vqd_config vc = { 0 };
	size_t need, pneed;
	int r;

	while (num & (num - 1))
		num &= num - 1;         /* round down to a power of two */
	if (!num)
		return balloonfe_fail(b, "device lacks a queue its features promise", -ENODEV);
	vc.num = num;
	if (balloonfe_has(b, VIRTIO_RING_F_EVENT_IDX))
		vc.flags |= VQD_F_EVENT_IDX;
	need = vqd_dma_bytes(&vc);
	pneed = vqd_priv_bytes(&vc);
	*off = ALIGN_UP(*off, (size_t)BALLOONFE_RING_ALIGN);
	*poff = ALIGN_UP(*poff, (size_t)16);
	if (!need || *off + need > dma_len || *poff + pneed > priv_len)
		return balloonfe_fail(b, "memory areas too small", -EINVAL);
	r = vqd_init(&b->vq[role], &vc, dma + *off, need, priv + *poff, pneed);
	if (r)
		return balloonfe_fail(b, "queue layout rejected", r);
	*off += need;
	*poff += pneed;
	/* We poll; interrupts would only cost the device work. */
	vqd_disable_cb(&b->vq[role]);
	r = vpci_queue_enable(&b->pci, idx, num, b->vq[role].desc_pa, b->vq[role].avail_pa,
			      b->vq[role].used_pa, &b->notify[role]);
	if (r)
		return balloonfe_fail(b, b->pci.error ? b->pci.error : "queue rejected", r);
	return 0;
}

static int balloonfe_setup(struct balloonfe *b, const struct balloonfe_opts *o,
			   uint8_t *dma, size_t dma_len, uint8_t *priv, size_t priv_len)
{
	unsigned int cap = o->queue_max ? MIN(o->queue_max, BALLOONFE_QUEUE_MAX)
					: BALLOONFE_QUEUE_MAX;
	uint64_t want = o->features & BALLOONFE_FEATURES;
	size_t off = 0, poff = 0;
	int r;

	/* Without a callback a stats queue would only hold the device up. */
	if (!o->stats_fn)
		want &= ~(1ull << VIRTIO_BALLOON_F_STATS_VQ);
	r = vpci_begin(&b->pci);
	if (!r)
		r = vpci_negotiate(&b->pci, want);
	if (r)
		return balloonfe_fail(b, b->pci.error, r);
	b->features = b->pci.features;
	for (unsigned int role = 0; role < BALLOONFE_VQ_NR; role++) {
		b->qidx[role] = balloonfe_queue_index(b->features, role);
		if (b->qidx[role] < 0)
			continue;
		r = balloonfe_setup_vq(b, role, cap, dma, dma_len, &off, priv, priv_len, &poff);
		if (r)
			return r;
	}
	off = ALIGN_UP(off, (size_t)16);
	b->pfns = (uint32_t *)(dma + off);
	off += (size_t)b->depth * b->batch * sizeof(uint32_t);
	/* A slot per ring entry at most: the ring never refuses a buffer. */
	b->depth = MIN(b->depth, b->vq[BALLOONFE_VQ_INFLATE].num);
	b->depth = MIN(b->depth, b->vq[BALLOONFE_VQ_DEFLATE].num);
	b->stats = (struct virtio_balloon_stat *)(dma + off);
	off += BALLOONFE_STATS_MAX * BALLOONFE_STAT_BYTES;
	if (off > dma_len)
		return balloonfe_fail(b, "memory areas too small", -EINVAL);
	return 0;
}

int balloonfe_init(struct balloonfe *b, const struct vpci_env *env,
		   const struct balloonfe_opts *opts, void *dma, size_t dma_len,
		   void *priv, size_t priv_len)
{
	struct balloonfe_opts o = {
		.features = BALLOONFE_FEATURES,
		.timeout_us = BALLOONFE_TIMEOUT_US,
	};
	int r;

	if (opts)
		o = *opts;
	memset(b, 0, sizeof(*b));
	for (unsigned int role = 0; role < BALLOONFE_VQ_NR; role++)
		b->qidx[role] = -1;
	b->broken = true;               /* until the end of this function */
	b->timeout_us = o.timeout_us ? o.timeout_us : BALLOONFE_TIMEOUT_US;
	b->batch = o.batch ? o.batch : BALLOONFE_BATCH;
	b->depth = o.depth ? o.depth : 1;
	b->stats_fn = o.stats_fn;
	b->stats_ctx = o.stats_ctx;
	if (b->batch > BALLOONFE_BATCH_MAX)
		return balloonfe_fail(b, "batch above BALLOONFE_BATCH_MAX", -EINVAL);
	if (b->depth > BALLOONFE_DEPTH_MAX)
		return balloonfe_fail(b, "depth above BALLOONFE_DEPTH_MAX", -EINVAL);
	if (!dma || !priv || ((uintptr_t)dma & (VQD_ALIGN - 1)))
		return balloonfe_fail(b, "memory areas missing or misaligned", -EINVAL);
	r = vpci_probe(&b->pci, env);
	if (r)
		return balloonfe_fail(b, b->pci.error, r);
	if (b->pci.device != BALLOONFE_DEVICE_ID)
		return balloonfe_fail(b, "not a virtio-balloon device", -ENODEV);
	/* num_pages and actual: the two fields every balloon has. */
	if (!b->pci.devcfg.present ||
	    b->pci.devcfg.len < offsetof(struct virtio_balloon_config, actual) + 4)
		return balloonfe_fail(b, "device config too short for num_pages and actual",
				      -ENODEV);
	r = balloonfe_setup(b, &o, dma, dma_len, priv, priv_len);
	if (r)
		goto fail;
	vpci_driver_ok(&b->pci);
	if (vpci_status(&b->pci) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		r = balloonfe_fail(b, "device rejected DRIVER_OK", -EIO);
		goto fail;
	}
	b->broken = false;
	/* A fresh driver holds no pages, whatever an earlier one said. */
	r = balloonfe_write_actual(b);
	/* Buffers only after DRIVER_OK: the device may not look before. */
	if (!r && b->qidx[BALLOONFE_VQ_STATS] >= 0)
		r = balloonfe_stats_give(b);
	if (r) {
		b->broken = true;
		goto fail;
	}
	b->error = NULL;
	return 0;
fail:
	vpci_fail(&b->pci);
	return r;
}

int balloonfe_reset(struct balloonfe *b)
{
	b->broken = true;
	b->error = "device reset";
	b->stats_out = false;
	return vpci_reset(&b->pci);
}

int balloonfe_target(struct balloonfe *b, uint32_t *pages)
{
	if (b->broken)
		return -EIO;
	for (int tries = 0; tries < BALLOONFE_CFG_TRIES; tries++) {
		uint8_t gen = vpci_cfg_generation(&b->pci);
		int r = vpci_cfg_read32(&b->pci, offsetof(struct virtio_balloon_config, num_pages),
					pages);

		if (r)
			return balloonfe_fail(b, b->pci.error, r);
		if (gen == vpci_cfg_generation(&b->pci))
			return 0;
	}
	return balloonfe_fail(b, "config generation never settled", -EIO);
}

/* One PFN buffer of slot `slot` on queue role: pfns[0, k). */
static int balloonfe_pfns_add(struct balloonfe *b, unsigned int role, unsigned int slot,
			      const uint32_t *pfns, unsigned int k)
{
	uint32_t *buf = b->pfns + (size_t)slot * b->batch;
	struct vqd_sg sg = { buf, k * (uint32_t)sizeof(uint32_t) };
	int r;

	/* le32 PFNs: our native layout (fe_env.h). */
	memcpy(buf, pfns, k * sizeof(uint32_t));
	r = vqd_add(&b->vq[role], &sg, 1, NULL, 0, buf);
	if (r == -EIO)
		return balloonfe_break(b, vqd_broken_reason(&b->vq[role]), -EIO);
	/* depth <= the ring's size: a refusal is our bug, and buffers may
	 * be in flight, so nothing can be trusted after it. */
	if (r)
		return balloonfe_break(b, "could not queue the PFN buffer", r);
	balloonfe_kick(b, role);
	return 0;
}

/* Sends pfns[0, n) on the inflate or deflate queue in buffers of batch
 * PFNs, up to depth of them in flight; actual follows each used one. */
static int balloonfe_pfns(struct balloonfe *b, unsigned int role, const uint32_t *pfns,
			  unsigned int n)
{
	bool inflate = role == BALLOONFE_VQ_INFLATE;
	unsigned int held[BALLOONFE_DEPTH_MAX] = { 0 };   /* pages per slot in flight */
	unsigned int inflight = 0;

	if (b->broken)
		return -EIO;
	if (!pfns || !n)
		return -EINVAL;
	if (inflate ? n > UINT32_MAX - b->actual : n > b->actual)
		return balloonfe_fail(b, inflate ? "balloon would exceed 2^32 pages" :
				      "deflating more pages than the balloon holds", -EINVAL);
	while (n || inflight) {
		unsigned int slot = 0, k;
		void *token;
		int r;

		if (n && inflight < b->depth) {
			while (held[slot])
				slot++;
			k = MIN(n, b->batch);
			r = balloonfe_pfns_add(b, role, slot, pfns, k);
			if (r)
				return r;
			held[slot] = k;
			inflight++;
			pfns += k;
			n -= k;
			continue;
		}
		r = balloonfe_wait(b, role, &token);
		if (r)
			return r;
		/* virtq_driver checked the id; the token is one of our slots. */
		slot = (unsigned int)(((uint32_t *)token - b->pfns) / b->batch);
		if (slot >= b->depth || !held[slot])
			return balloonfe_break(b, "used buffer of no slot in flight", -EIO);
		/* Used: the host has the pages (or has let go of them). */
		k = held[slot];
		held[slot] = 0;
		inflight--;
		if (inflate) {
			b->actual += k;
			b->inflated += k;
		} else {
			b->actual -= k;
			b->deflated += k;
		}
		r = balloonfe_write_actual(b);
		if (r)
			return r;
	}
	return 0;
}

int balloonfe_inflate(struct balloonfe *b, const uint32_t *pfns, unsigned int n)
{
	return balloonfe_pfns(b, BALLOONFE_VQ_INFLATE, pfns, n);
}

int balloonfe_deflate(struct balloonfe *b, const uint32_t *pfns, unsigned int n)
{
	return balloonfe_pfns(b, BALLOONFE_VQ_DEFLATE, pfns, n);
}

int balloonfe_poll(struct balloonfe *b)
{
	if (b->broken)
		return -EIO;
	return balloonfe_stats_service(b);
}

int balloonfe_report(struct balloonfe *b, const struct vqd_sg *ranges, unsigned int n)
{
	struct vqd *vq = &b->vq[BALLOONFE_VQ_REPORT];
	void *token;
	int r;

	if (b->broken)
		return -EIO;
	if (!balloonfe_has(b, VIRTIO_BALLOON_F_REPORTING))
		return -EOPNOTSUPP;
	if (!ranges || !n || n > vq->num)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (!ranges[i].len || !ranges[i].buf)
			return -EINVAL;
	}
	/* Writable, as Linux's virtqueue_add_inbuf: the host may zero them. */
	r = vqd_add(vq, NULL, 0, ranges, n, vq);
	if (r == -EIO)
		return balloonfe_break(b, vqd_broken_reason(vq), -EIO);
	if (r)
		return balloonfe_fail(b, "could not queue the report", r);
	balloonfe_kick(b, BALLOONFE_VQ_REPORT);
	r = balloonfe_wait(b, BALLOONFE_VQ_REPORT, &token);
	if (!r)
		b->reports++;
	return r;
}

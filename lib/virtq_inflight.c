/* vhost-user inflight I/O tracking for split virtqueues: sizing, attaching
 * and recovering a queue's region of the INFLIGHT_SHMFD memfd (see
 * include/isle/virtq.h; pop/push keep the marks, in lib/virtq.c).
 *
 * The region is shared with the frontend and survives our restarts, so its
 * contents are untrusted: every index read from it is checked before use. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "isle/virtq.h"

size_t vq_inflight_region_size(unsigned int num)
{
	return ALIGN_UP(sizeof(struct vq_inflight_split) +
			(size_t)num * sizeof(struct vq_inflight_desc),
			(size_t)VQ_INFLIGHT_ALIGN);
}

/* Next pop counter: past every counter already in the region, so chains
 * popped after a restart sort after the ones still inflight. */
static uint64_t vq_inflight_next_counter(const struct vq_inflight_split *r,
					 unsigned int num)
{
	uint64_t max = 0;

	for (unsigned int i = 0; i < num; i++)
		if (r->desc[i].inflight && r->desc[i].counter > max)
			max = r->desc[i].counter;
	return max == UINT64_MAX ? max : max + 1;
}

int vq_inflight_attach(struct vq *vq, struct vq_inflight_split *region, size_t size)
{
	unsigned int num = vq->num;

	if (!num || !region || ((uintptr_t)region & 7) ||
	    size < sizeof(*region) + (size_t)num * sizeof(region->desc[0]))
		return -EINVAL;
	if (region->version == 0) {
		/* Fresh from GET_INFLIGHT_FD: nothing inflight. */
		memset(region->desc, 0, (size_t)num * sizeof(region->desc[0]));
		region->desc_num = (uint16_t)num;   /* 32768 fits */
		region->last_batch_head = 0;
		region->used_idx = vq->used_idx;
		region->version = VQ_INFLIGHT_VERSION;
	} else if (region->version != VQ_INFLIGHT_VERSION || region->desc_num < num) {
		/* A frontend sizes the region for its largest queue; a driver
		 * may pick a smaller ring. Only desc[0..num) is ever used. */
		return -EINVAL;
	}
	vq->inflight = region;
	vq->inflight_counter = vq_inflight_next_counter(region, num);
	return 0;
}

static int vq_inflight_cmp(const void *a, const void *b, void *opaque)
{
	const uint64_t *keys = opaque;
	uint16_t ha = *(const uint16_t *)a, hb = *(const uint16_t *)b;

	if (keys[ha] != keys[hb])
		return keys[ha] < keys[hb] ? -1 : 1;
	return ha < hb ? -1 : ha > hb;
}

int vq_inflight_recover(struct vq *vq, uint16_t *heads, unsigned int cap)
{
	struct vq_inflight_split *r = vq->inflight;
	unsigned int num = vq->num, n = 0;
	uint16_t used, batch, h;
	uint64_t *keys;

	if (!num || !r)
		return -EINVAL;
	used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	batch = (uint16_t)(used - r->used_idx);
	if (batch) {
		/* We died after publishing used->idx for the last batch but
		 * before clearing its flags: clear them along the batch list. */
		if (batch > num)
			return vq_set_broken(vq, "inflight: used index moved too far");
		h = r->last_batch_head;
		for (unsigned int i = 0; i < batch; i++) {
			if (h >= num)
				return vq_set_broken(vq, "inflight: bad batch list");
			r->desc[h].inflight = 0;
			h = r->desc[h].next;
		}
		r->used_idx = used;
	}

	/* Counters are copied once: the frontend could change them while we
	 * sort, and qsort must see a consistent order. */
	keys = calloc(num, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (unsigned int i = 0; i < num; i++) {
		if (!r->desc[i].inflight)
			continue;
		if (n == cap) {
			free(keys);
			return -ENOSPC;
		}
		r->desc[i].inflight = 1;
		keys[i] = r->desc[i].counter;
		heads[n++] = (uint16_t)i;
	}
	qsort_r(heads, n, sizeof(*heads), vq_inflight_cmp, keys);
	free(keys);

	vq->inflight_counter = vq_inflight_next_counter(r, num);
	vq->used_idx = used;
	vq->signalled_used_valid = false;
	vq_set_last_avail(vq, (uint16_t)(used + n));
	return (int)n;
}

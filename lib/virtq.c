/* Split virtqueue, device side (see include/isle/virtq.h for the contract).
 *
 * Owns: ring validation at enable time, popping and mapping descriptor chains
 * (direct and indirect) into iovecs, the used ring, notification suppression
 * in both directions, and the inflight marks pop/push leave in a vhost-user
 * inflight region (attach/recover live in virtq_inflight.c).
 *
 * Everything in guest memory may change under us at any time. Ring indices
 * and entries are read with single atomic loads, descriptors are copied to a
 * local before they are looked at, and nothing read from the guest is used as
 * an index or length before it is checked. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "isle/dma.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"

/* Compiler barrier: a value copied out of guest memory before it is not
 * fetched again after it. */
#define vq_barrier() __asm__ __volatile__("" ::: "memory")

static inline uint16_t vq_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void vq_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* avail->idx with acquire: the ring entries and descriptors the driver wrote
 * before publishing the index are read after it. */
static inline uint16_t vq_avail_idx(const struct vq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

int vq_set_broken(struct vq *vq, const char *reason)
{
	if (!vq->broken)
		log_warn("virtq: broken ring: %s", reason);
	vq->broken = true;
	vq->broken_reason = reason;
	return -EIO;
}

const char *vq_broken_reason(const struct vq *vq)
{
	return vq->broken ? vq->broken_reason : NULL;
}

/* Host address of a whole ring part, or NULL if it is misaligned (in guest
 * or host address: ring fields are accessed atomically) or not inside one
 * contiguous mapping with this access. */
static void *vq_map_ring(struct dma_as *as, uint64_t iova, uint64_t size, uint64_t align,
			 unsigned int access)
{
	void *hva;
	int err;

	if (iova & (align - 1))
		return NULL;
	hva = dma_map_whole(as, iova, size, access, &err);
	if (!hva || ((uintptr_t)hva & (align - 1)))
		return NULL;
	return hva;
}

int vq_init(struct vq *vq, struct dma_as *as, const struct vq_config *cfg)
{
	unsigned int num = cfg->num;
	unsigned int max = cfg->max_num ? MIN(cfg->max_num, VQ_MAX_SIZE) : VQ_MAX_SIZE;
	void *desc, *avail, *used;

	if (!as || !num || (num & (num - 1)) || num > max)
		return -EINVAL;
	if (cfg->flags & ~(VQ_F_EVENT_IDX | VQ_F_INDIRECT_DESC))
		return -EINVAL;
	/* The sizes include used_event and avail_event whether or not EVENT_IDX
	 * was negotiated: that is the layout the spec gives the driver. We
	 * write avail_event (in the used ring) and used->flags, and read our
	 * own used->idx back when resuming, hence read-write there. */
	desc = vq_map_ring(as, cfg->desc_gpa, 16ULL * num, VRING_DESC_ALIGN_SIZE, DMA_READ);
	avail = vq_map_ring(as, cfg->avail_gpa, 6 + 2ULL * num, VRING_AVAIL_ALIGN_SIZE,
			    DMA_READ);
	used = vq_map_ring(as, cfg->used_gpa, 6 + 8ULL * num, VRING_USED_ALIGN_SIZE, DMA_RW);
	if (!desc || !avail || !used)
		return -EINVAL;

	memset(vq, 0, sizeof(*vq));
	vq->as = as;
	vq->desc_iova = cfg->desc_gpa;
	vq->avail_iova = cfg->avail_gpa;
	vq->used_iova = cfg->used_gpa;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (uint16_t *)&vq->used->ring[num];
	vq->num = num;
	vq->flags = cfg->flags;
	vq->notify = true;
	return 0;
}

bool vq_split_rings_overlap(uint64_t desc, uint64_t avail, uint64_t used, uint64_t num,
			    uint64_t iova, uint64_t len)
{
	return num && (dma_range_overlaps(iova, len, desc, 16 * num) ||
		       dma_range_overlaps(iova, len, avail, 6 + 2 * num) ||
		       dma_range_overlaps(iova, len, used, 6 + 8 * num));
}

bool vq_rings_overlap(const struct vq *vq, uint64_t iova, uint64_t len)
{
	return vq_split_rings_overlap(vq->desc_iova, vq->avail_iova, vq->used_iova, vq->num,
				      iova, len);
}

void vq_set_last_avail(struct vq *vq, uint16_t idx)
{
	vq->last_avail_idx = vq->shadow_avail_idx = idx;
}

uint16_t vq_get_last_avail(const struct vq *vq)
{
	return vq->last_avail_idx;
}

void vq_sync_used_idx(struct vq *vq)
{
	if (!vq->num)
		return;
	vq->used_idx = vq_load16(&vq->used->idx);
	vq->signalled_used_valid = false;
}

uint16_t vq_get_used_idx(const struct vq *vq)
{
	return vq->used_idx;
}

/* Reads avail->idx again. Returns 1 if chains are waiting, 0 if not, -EIO if
 * the index is impossible. */
static int vq_avail_refresh(struct vq *vq)
{
	uint16_t idx = vq_avail_idx(vq);

	if (idx == vq->last_avail_idx && vq->notify && (vq->flags & VQ_F_EVENT_IDX) &&
	    vq_load16(vq->avail_event) != idx) {
		/* Going idle: ask for a kick at the next chain, then look
		 * again. Without the full barrier our store could sit in the
		 * store buffer while the driver adds a chain and reads the old
		 * avail_event, and neither side would wake the other. */
		vq_store16(vq->avail_event, idx);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idx = vq_avail_idx(vq);
	}
	/* The driver can only have made num chains available beyond what we
	 * consumed; anything else is a corrupt index, not a full ring. */
	if ((uint16_t)(idx - vq->last_avail_idx) > vq->num)
		return vq_set_broken(vq, "avail index jumped");
	vq->shadow_avail_idx = idx;
	return idx != vq->last_avail_idx;
}

struct vq_walk {
	struct vq *vq;
	struct vq_elem *elem;
	bool seen_write;
};

/* Appends one buffer to the element, split where the address space's
 * mappings end. A device-writable buffer needs write access, a readable one
 * read access. */
static int vq_add_buf(struct vq_walk *w, uint64_t addr, uint32_t len, bool write)
{
	struct vq_elem *elem = w->elem;
	unsigned int access = write ? DMA_WRITE : DMA_READ;

	/* The spec puts all device-readable buffers first; a device that
	 * accepted otherwise would have to guess the request layout. */
	if (!write && w->seen_write)
		return vq_set_broken(w->vq, "device-readable buffer after a writable one");
	w->seen_write |= write;
	if (len && addr > UINT64_MAX - (len - 1))
		return vq_set_broken(w->vq, "buffer wraps around the address space");
	while (len) {
		uint64_t n = len;
		void *hva;
		unsigned int i = elem->out_num + elem->in_num;
		int r = dma_translate(w->vq->as, addr, &n, access, &hva);

		if (r == -EPERM)
			return vq_set_broken(w->vq, write ? "buffer not writable by the device"
							  : "buffer not readable by the device");
		if (r)
			return vq_set_broken(w->vq, "buffer outside guest RAM");
		if (i >= elem->iov_cap)
			return vq_set_broken(w->vq, "too many segments");
		elem->iov[i].iov_base = hva;
		elem->iov[i].iov_len = n;
		/* ≤ 2^16 + 2^15 buffers of < 2^32 bytes: the sums fit. */
		if (write) {
			elem->in_num++;
			elem->in_len += n;
		} else {
			elem->out_num++;
			elem->out_len += n;
		}
		addr += n;
		len -= (uint32_t)n;
	}
	return 0;
}

/* Copies a descriptor out of guest memory once. */
static inline void vq_read_desc(const struct vring_desc *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	vq_barrier();
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Walks the chain at head (< num) into elem. An indirect descriptor switches
 * to its table for the rest of the chain: it cannot have NEXT, so it is the
 * last descriptor of the main chain wherever it appears. */
static int vq_map_chain(struct vq *vq, uint16_t head, struct vq_elem *elem)
{
	struct vq_walk w = { .vq = vq, .elem = elem };
	const struct vring_desc *table = vq->desc;
	unsigned int size = vq->num, idx = head, count = 0;
	bool indirect = false;
	struct vring_desc d;
	int r;

	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	for (;;) {
		vq_read_desc(&table[idx], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			uint64_t n = d.len;

			if (!(vq->flags & VQ_F_INDIRECT_DESC))
				return vq_set_broken(vq, "indirect descriptor without the feature");
			if (indirect)
				return vq_set_broken(vq, "nested indirect descriptor");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_set_broken(vq, "indirect descriptor with NEXT");
			if (!d.len || d.len % sizeof(d) ||
			    d.len > VQ_INDIRECT_MAX * sizeof(d))
				return vq_set_broken(vq, "bad indirect table length");
			table = dma_map_whole(vq->as, d.addr, n, DMA_READ, &r);
			if (!table)
				return vq_set_broken(vq, r == -EPERM ?
						     "indirect table not readable by the device" :
						     "indirect table not in one RAM mapping");
			size = d.len / sizeof(d);
			idx = count = 0;
			indirect = true;
			continue;
		}
		/* A chain visits each descriptor of its table at most once,
		 * so one longer than the table is a loop. */
		if (++count > size)
			return vq_set_broken(vq, "descriptor loop");
		r = vq_add_buf(&w, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (r)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= size)
			return vq_set_broken(vq, "next descriptor out of range");
	}
}

/* Inflight marks (vhost-user spec, split rings): counter first, then the
 * flag, each store ordered so a crash at any point leaves a state
 * vq_inflight_recover() understands. */
static void vq_inflight_mark(struct vq *vq, uint16_t head)
{
	struct vq_inflight_desc *d = &vq->inflight->desc[head];

	__atomic_store_n(&d->counter, vq->inflight_counter++, __ATOMIC_RELAXED);
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

int vq_pop(struct vq *vq, struct vq_elem *elem)
{
	uint16_t head;
	int r;

	if (!vq->num)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	if (vq->last_avail_idx == vq->shadow_avail_idx) {
		r = vq_avail_refresh(vq);
		if (r <= 0)
			return r;
	}
	/* Ordered after the acquire load that showed this slot filled. */
	head = vq_load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num)
		return vq_set_broken(vq, "head out of range");
	r = vq_map_chain(vq, head, elem);
	if (r)
		return r;
	vq->last_avail_idx++;
	if (vq->inflight)
		vq_inflight_mark(vq, head);
	return 1;
}

void vq_unpop(struct vq *vq, const struct vq_elem *elem)
{
	if (!vq->num)
		return;
	vq->last_avail_idx--;
	if (vq->inflight && elem->head < vq->num)
		__atomic_store_n(&vq->inflight->desc[elem->head].inflight, 0,
				 __ATOMIC_RELEASE);
}

int vq_resubmit(struct vq *vq, uint16_t head, struct vq_elem *elem)
{
	if (!vq->num || head >= vq->num)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	return vq_map_chain(vq, head, elem) ? -EIO : 1;
}

int vq_push(struct vq *vq, uint16_t head, uint32_t written)
{
	struct vq_inflight_split *inf = vq->inflight;
	struct vring_used_elem *ue;

	if (!vq->num || head >= vq->num)
		return -EINVAL;
	/* Inflight, spec order: link head into the batch list, publish
	 * used->idx, clear the flag, then record the index we published.
	 * Recovery repairs a crash between the publish and the last step. */
	if (inf) {
		__atomic_store_n(&inf->desc[head].next, inf->last_batch_head,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&inf->last_batch_head, head, __ATOMIC_RELEASE);
	}
	ue = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	__atomic_store_n(&ue->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&ue->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the index that covers it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	if (inf) {
		__atomic_store_n(&inf->desc[head].inflight, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&inf->used_idx, vq->used_idx, __ATOMIC_RELEASE);
	}
	return 0;
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, cur = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	if (!vq->num)
		return false;
	if (valid && old == cur)
		return false;   /* nothing used since the last decision */
	vq->signalled_used = cur;
	vq->signalled_used_valid = true;
	/* Our used->idx store must be globally visible before we read the
	 * driver's suppression state; the driver does the mirror image
	 * (update used_event or flags, barrier, re-read used->idx). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(vq->flags & VQ_F_EVENT_IDX))
		return !(vq_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* Interrupt only if used_event lies in the window (old, cur] we just
	 * published. */
	return vring_need_event(vq_load16(vq->used_event), cur, old);
}

void vq_notify_eventfd(struct vq *vq, int call_fd)
{
	if (vq_should_notify(vq) && call_fd >= 0)
		eventfd_write(call_fd, 1);
}

void vq_disable_notify(struct vq *vq)
{
	if (!vq->num)
		return;
	vq->notify = false;
	/* With EVENT_IDX, not moving avail_event forward is enough: the driver
	 * kicks once when it passes the old value and then stops. */
	if (!(vq->flags & VQ_F_EVENT_IDX))
		vq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool vq_enable_notify(struct vq *vq)
{
	if (!vq->num)
		return false;
	vq->notify = true;
	if (vq->flags & VQ_F_EVENT_IDX)
		vq_store16(vq->avail_event, vq->last_avail_idx);
	else
		vq_store16(&vq->used->flags, 0);
	/* As in vq_avail_refresh(): the request must be visible before we
	 * look for chains added while it was not. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_idx(vq) != vq->last_avail_idx;
}

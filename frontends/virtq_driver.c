/* Driver side of a split virtqueue (contract in virtq_driver.h).
 *
 * Owns: the ring layout in the caller's DMA memory, the free-descriptor list
 * and the pool of indirect tables, making chains available (direct or
 * indirect), the kick decision, and taking used chains back after checking
 * them against what we know is in flight.
 *
 * The free list and every chain's links live in private memory (struct
 * vqd_slot): we write desc[].next for the device but never read it back, so
 * a device scribbling over the descriptor table cannot make us free the
 * wrong descriptors or walk off the table. */
#include "virtq_driver.h"

#define VQD_NO_TABLE   0xffffu
#define VQD_USED_ALIGN 64u      /* used ring on its own cache line */

struct vqd_slot {
	void *token;          /* non-NULL: head of a chain the device owns */
	uint64_t in_len;      /* device-writable bytes the chain offers */
	uint16_t next;        /* free-list link, or the chain's next descriptor */
	uint16_t ndesc;       /* ring descriptors the chain holds (heads only) */
	uint16_t table;       /* indirect table number, or VQD_NO_TABLE */
};

struct vqd_layout {
	size_t avail, used, tables, dma;     /* offsets / total in the DMA part */
	size_t table_free, priv;             /* offset / total in the private part */
};

static bool vqd_layout(const struct vqd_config *cfg, struct vqd_layout *l)
{
	size_t num = cfg->num;

	if (!num || (num & (num - 1)) || num > VQD_MAX_NUM)
		return false;
	if (cfg->flags & ~(VQD_F_EVENT_IDX | VQD_F_INDIRECT))
		return false;
	/* Table numbers are 16-bit; a table longer than the queue could
	 * never be filled (a chain may not exceed the queue size). */
	if (cfg->indirect_tables > 0xfffe || cfg->indirect_max > num)
		return false;
	if (cfg->indirect_tables && !cfg->indirect_max)
		return false;
	/* used_event and avail_event are part of the layout whether or not
	 * EVENT_IDX is negotiated: the device may map them regardless. */
	l->avail = 16 * num;
	l->used = (l->avail + 6 + 2 * num + VQD_USED_ALIGN - 1) & ~(size_t)(VQD_USED_ALIGN - 1);
	l->tables = (l->used + 6 + 8 * num + 15) & ~(size_t)15;
	l->dma = l->tables + (size_t)cfg->indirect_tables * cfg->indirect_max * 16;
	l->table_free = num * sizeof(struct vqd_slot);
	l->priv = l->table_free + (size_t)cfg->indirect_tables * sizeof(uint16_t);
	return true;
}

size_t vqd_dma_bytes(const struct vqd_config *cfg)
{
	struct vqd_layout l;

	return vqd_layout(cfg, &l) ? l.dma : 0;
}

size_t vqd_priv_bytes(const struct vqd_config *cfg)
{
	struct vqd_layout l;

	return vqd_layout(cfg, &l) ? l.priv : 0;
}

int vqd_init(struct vqd *vq, const struct vqd_config *cfg,
	     void *dma, size_t dma_len, void *priv, size_t priv_len)
{
	struct vqd_layout l;
	uint8_t *base = dma;

	if (!vqd_layout(cfg, &l) || !dma || !priv)
		return -EINVAL;
	if (((uintptr_t)dma & (VQD_ALIGN - 1)) || dma_len < l.dma || priv_len < l.priv ||
	    ((uintptr_t)priv & (_Alignof(struct vqd_slot) - 1)))
		return -EINVAL;

	memset(vq, 0, sizeof(*vq));
	memset(dma, 0, l.dma);
	memset(priv, 0, l.priv);
	vq->num = cfg->num;
	vq->flags = cfg->flags;
	if (cfg->flags & VQD_F_INDIRECT) {
		vq->indirect_tables = cfg->indirect_tables;
		vq->indirect_max = cfg->indirect_max;
	}
	vq->desc = (struct vring_desc *)base;
	vq->avail = (struct vring_avail *)(base + l.avail);
	vq->used = (struct vring_used *)(base + l.used);
	vq->used_event = &vq->avail->ring[vq->num];
	vq->avail_event = (uint16_t *)&vq->used->ring[vq->num];
	vq->tables = (struct vring_desc *)(base + l.tables);
	vq->desc_pa = fe_virt_to_phys(vq->desc);
	vq->avail_pa = fe_virt_to_phys(vq->avail);
	vq->used_pa = fe_virt_to_phys(vq->used);

	vq->slot = priv;
	vq->table_free = (uint16_t *)((uint8_t *)priv + l.table_free);
	for (unsigned int i = 0; i < vq->num; i++) {
		vq->slot[i].next = (uint16_t)(i + 1);   /* the last one is never followed */
		vq->slot[i].table = VQD_NO_TABLE;
	}
	vq->num_free = vq->num;
	for (unsigned int i = 0; i < vq->indirect_tables; i++)
		vq->table_free[i] = (uint16_t)i;
	vq->tables_free = vq->indirect_tables;
	vq->cb_enabled = true;
	return 0;
}

static void vqd_desc_fill(struct vring_desc *d, const struct vqd_sg *sg, bool write)
{
	d->addr = fe_virt_to_phys(sg->buf);
	d->len = sg->len;
	d->flags = write ? VRING_DESC_F_WRITE : 0;
	d->next = 0;
}

/* The i-th buffer of the request, outs first. */
static const struct vqd_sg *vqd_sg_at(const struct vqd_sg *out, unsigned int n_out,
				      const struct vqd_sg *in, unsigned int i, bool *write)
{
	*write = i >= n_out;
	return *write ? &in[i - n_out] : &out[i];
}

int vqd_add(struct vqd *vq, const struct vqd_sg *out, unsigned int n_out,
	    const struct vqd_sg *in, unsigned int n_in, void *token)
{
	struct vqd_slot *hs;
	unsigned int n, need;
	uint64_t in_len = 0;
	uint16_t head, idx;
	bool indirect, write;

	if (vq->broken)
		return -EIO;
	if (!vq->num || !token || n_out > vq->num || n_in > vq->num)
		return -EINVAL;
	n = n_out + n_in;
	/* The spec bounds a chain, indirect tables included, by the queue
	 * size; the device would reject a longer one. */
	if (!n || n > vq->num || (n_out && !out) || (n_in && !in))
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		const struct vqd_sg *sg = vqd_sg_at(out, n_out, in, i, &write);

		if (!sg->buf || !sg->len)
			return -EINVAL;
		if (write)
			in_len += sg->len;
	}

	indirect = n > 1 && vq->tables_free && n <= vq->indirect_max;
	need = indirect ? 1 : n;
	if (vq->num_free < need)
		return -ENOSPC;

	head = vq->free_head;
	hs = &vq->slot[head];
	if (indirect) {
		uint16_t t = vq->table_free[--vq->tables_free];
		struct vring_desc *table = &vq->tables[(size_t)t * vq->indirect_max];

		for (unsigned int i = 0; i < n; i++) {
			const struct vqd_sg *sg = vqd_sg_at(out, n_out, in, i, &write);

			vqd_desc_fill(&table[i], sg, write);
			if (i + 1 < n) {
				table[i].flags |= VRING_DESC_F_NEXT;
				table[i].next = (uint16_t)(i + 1);
			}
		}
		vq->desc[head].addr = fe_virt_to_phys(table);
		vq->desc[head].len = n * (uint32_t)sizeof(*table);
		vq->desc[head].flags = VRING_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
		hs->table = t;
		vq->free_head = hs->next;
		vq->added_indirect++;
	} else {
		idx = head;
		for (unsigned int i = 0; i < n; i++) {
			const struct vqd_sg *sg = vqd_sg_at(out, n_out, in, i, &write);

			vqd_desc_fill(&vq->desc[idx], sg, write);
			if (i + 1 < n) {
				vq->desc[idx].flags |= VRING_DESC_F_NEXT;
				vq->desc[idx].next = vq->slot[idx].next;
			}
			idx = vq->slot[idx].next;
		}
		/* idx is now the first descriptor after the chain on the
		 * free list (meaningless if the list is empty). */
		vq->free_head = idx;
		hs->table = VQD_NO_TABLE;
	}
	vq->num_free -= need;
	hs->ndesc = (uint16_t)need;
	hs->in_len = in_len;
	hs->token = token;

	FE_WRITE_ONCE(vq->avail->ring[vq->avail_idx & (vq->num - 1)], head);
	vq->avail_idx++;
	/* Release: the descriptors and the ring slot are visible before the
	 * index that hands them over. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	vq->inflight++;
	vq->added++;
	return 0;
}

bool vqd_kick_prepare(struct vqd *vq)
{
	uint16_t old = vq->kicked_avail, cur = vq->avail_idx;

	if (vq->broken || old == cur)
		return false;
	vq->kicked_avail = cur;
	/* Our avail->idx store must be visible before we read the device's
	 * suppression state; otherwise the device could go idle on the old
	 * index while we read a stale "no kick needed". */
	fe_mb();
	if (vq->flags & VQD_F_EVENT_IDX)
		return vring_need_event(FE_READ_ONCE(*vq->avail_event), cur, old);
	return !(FE_READ_ONCE(vq->used->flags) & VRING_USED_F_NO_NOTIFY);
}

static int vqd_set_broken(struct vqd *vq, const char *reason)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->broken_reason = reason;
	}
	return -EIO;
}

/* Returns the chain at head (a checked, in-flight head) to the free lists,
 * following our private links only. */
static void vqd_free_chain(struct vqd *vq, uint16_t head)
{
	struct vqd_slot *hs = &vq->slot[head];
	uint16_t last = head;

	for (unsigned int i = 1; i < hs->ndesc; i++)
		last = vq->slot[last].next;
	vq->slot[last].next = vq->free_head;
	vq->free_head = head;
	vq->num_free += hs->ndesc;
	if (hs->table != VQD_NO_TABLE) {
		vq->table_free[vq->tables_free++] = hs->table;
		hs->table = VQD_NO_TABLE;
	}
	hs->token = NULL;
	hs->ndesc = 0;
}

int vqd_get_used(struct vqd *vq, void **token, uint32_t *len)
{
	struct vring_used_elem *e;
	uint16_t used_idx, pending;
	uint32_t id, elen;
	struct vqd_slot *s;

	if (vq->broken)
		return -EIO;
	if (!vq->num)
		return -EINVAL;
	/* Acquire: the element is read after the index that covers it. */
	used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(used_idx - vq->last_used);
	if (!pending)
		return 0;
	/* The device can only have used what we made available. A larger
	 * step is a corrupt (or rewound) index, not a burst. */
	if (pending > vq->inflight)
		return vqd_set_broken(vq, "used index moved past the chains in flight");

	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	id = FE_READ_ONCE(e->id);
	elen = FE_READ_ONCE(e->len);
	if (id >= vq->num)
		return vqd_set_broken(vq, "used id out of range");
	s = &vq->slot[id];
	if (!s->token)
		return vqd_set_broken(vq, "used id is not a chain in flight");
	if (elen > s->in_len)
		return vqd_set_broken(vq, "used length beyond the chain's writable buffers");

	*token = s->token;
	*len = elen;
	vqd_free_chain(vq, (uint16_t)id);
	vq->last_used++;
	vq->inflight--;
	vq->completed++;
	if (vq->flags & VQD_F_EVENT_IDX) {
		/* Enabled: interrupt at the next completion. Disabled: an
		 * index the device has already passed, i.e. not before the
		 * ring wraps. */
		FE_WRITE_ONCE(*vq->used_event,
			      (uint16_t)(vq->cb_enabled ? vq->last_used : vq->last_used - 1));
	}
	return 1;
}

void vqd_disable_cb(struct vqd *vq)
{
	if (!vq->num)
		return;
	vq->cb_enabled = false;
	/* With EVENT_IDX the spec wants avail->flags left at 0. */
	if (vq->flags & VQD_F_EVENT_IDX)
		FE_WRITE_ONCE(*vq->used_event, (uint16_t)(vq->last_used - 1));
	else
		FE_WRITE_ONCE(vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

bool vqd_enable_cb(struct vqd *vq)
{
	if (!vq->num)
		return false;
	vq->cb_enabled = true;
	if (vq->flags & VQD_F_EVENT_IDX)
		FE_WRITE_ONCE(*vq->used_event, vq->last_used);
	else
		FE_WRITE_ONCE(vq->avail->flags, 0);
	/* The request must be visible before we look for completions that
	 * arrived while notifications were off. */
	fe_mb();
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used;
}

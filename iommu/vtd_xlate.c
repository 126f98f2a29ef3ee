/* VT-d DMA remapping: root and context tables (legacy mode), the
 * second-level page walk, and the two caches in front of them.
 *
 * Owns: vtd_translate(); the context cache (keyed by requester id, valid
 * context entries only) and the IOTLB (keyed by domain id and page, any of
 * 4K/2M/1G), both fixed arrays of the configured size with LRU
 * replacement; the context-cache and IOTLB invalidations that vtd_regs.c
 * issues, each announced to the notifier.
 *
 * Contract: root, context and paging entries come from guest memory and
 * are untrusted. Every entry is read through host.mem_read (a failure is
 * the spec's access fault), checked for presence and reserved bits, and
 * every index is derived from masked address bits, so no table read
 * leaves the 4K table it belongs to. Nothing not present or invalid is
 * cached, so CAP.CM=0 and CM=1 guests both see correct behaviour.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "vtd_internal.h"

struct vtd_ctx_entry {
	bool valid;
	uint16_t sid;
	uint64_t lo, hi;
	uint64_t stamp;
};

struct vtd_iotlb_entry {
	bool valid;
	uint16_t did;
	unsigned int perm;
	uint64_t iova;    /* page base */
	uint64_t gpa;     /* page base */
	uint64_t mask;    /* offset bits in the page */
	uint64_t stamp;
};

int vtd_caches_init(struct vtd *v)
{
	v->ctx = calloc(v->cfg.ctx_entries, sizeof(*v->ctx));
	v->iotlb = calloc(v->cfg.iotlb_entries, sizeof(*v->iotlb));
	if (!v->ctx || !v->iotlb) {
		vtd_caches_free(v);
		return -ENOMEM;
	}
	return 0;
}

void vtd_caches_free(struct vtd *v)
{
	free(v->ctx);
	free(v->iotlb);
	v->ctx = NULL;
	v->iotlb = NULL;
}

void vtd_caches_reset(struct vtd *v)
{
	memset(v->ctx, 0, v->cfg.ctx_entries * sizeof(*v->ctx));
	memset(v->iotlb, 0, v->cfg.iotlb_entries * sizeof(*v->iotlb));
}

/* ---- context cache ---- */

static struct vtd_ctx_entry *ctx_lookup(struct vtd *v, uint16_t sid)
{
	unsigned int i;

	for (i = 0; i < v->cfg.ctx_entries; i++) {
		if (v->ctx[i].valid && v->ctx[i].sid == sid) {
			v->ctx[i].stamp = ++v->clock;
			return &v->ctx[i];
		}
	}
	return NULL;
}

/* The slot to fill: a free one, else the least recently used. */
#define LRU_VICTIM(arr, n, out)                                               \
	do {                                                                  \
		unsigned int i_;                                              \
		(out) = &(arr)[0];                                            \
		for (i_ = 0; i_ < (n); i_++) {                                \
			if (!(arr)[i_].valid) {                               \
				(out) = &(arr)[i_];                           \
				break;                                        \
			}                                                     \
			if ((arr)[i_].stamp < (out)->stamp)                   \
				(out) = &(arr)[i_];                           \
		}                                                             \
	} while (0)

static void ctx_insert(struct vtd *v, uint16_t sid, uint64_t lo, uint64_t hi)
{
	struct vtd_ctx_entry *e;

	LRU_VICTIM(v->ctx, v->cfg.ctx_entries, e);
	*e = (struct vtd_ctx_entry){ .valid = true, .sid = sid, .lo = lo, .hi = hi,
				     .stamp = ++v->clock };
}

static int read128(struct vtd *v, uint64_t gpa, uint64_t *lo, uint64_t *hi)
{
	uint8_t b[16];
	int ret = v->host.mem_read(v->host.opaque, gpa, b, sizeof(b));

	if (ret)
		return ret;
	*lo = get_le64(b);
	*hi = get_le64(b + 8);
	return 0;
}

/* Reads and validates sid's context entry. *fpd is set once the context
 * entry was read: the spec evaluates FPD whatever P says, so a guest can
 * silence a device it gave no context. */
static uint8_t ctx_fetch(struct vtd *v, uint16_t sid, uint64_t *lo, uint64_t *hi, bool *fpd)
{
	uint64_t rlo, rhi, above = ~vtd_haw_mask(v);
	unsigned int tt;

	if (read128(v, v->root + 16 * (sid >> 8), &rlo, &rhi))
		return VTD_FR_ROOT_ACCESS;
	if (!(rlo & VTD_PRESENT))
		return VTD_FR_ROOT_P;
	if ((rlo & (VTD_ROOT_RSVD_LO | above)) || rhi)
		return VTD_FR_ROOT_RSVD;   /* legacy: the high quad is reserved */
	if (read128(v, (rlo & ~0xfffULL) + 16 * (sid & 0xff), lo, hi))
		return VTD_FR_CTX_ACCESS;
	*fpd = *lo & VTD_CTX_FPD;
	if (!(*lo & VTD_PRESENT))
		return VTD_FR_CTX_P;
	if ((*lo & (VTD_CTX_RSVD_LO | above)) || (*hi & VTD_CTX_RSVD_HI))
		return VTD_FR_CTX_RSVD;
	tt = VTD_CTX_TT(*lo);
	if (tt == VTD_TT_PASSTHROUGH ? !(v->ecap & VTD_ECAP_PT) : tt != VTD_TT_UNTRANSLATED)
		return VTD_FR_CTX_TT;      /* TT=1 needs ECAP.DT; 3 is reserved */
	if (VTD_CTX_AW(*hi) > 4 || !(v->cap & (1ULL << (8 + VTD_CTX_AW(*hi)))))
		return VTD_FR_CTX_INV;     /* AGAW not in SAGAW */
	return 0;
}

/* ---- IOTLB ---- */

static struct vtd_iotlb_entry *iotlb_lookup(struct vtd *v, uint16_t did, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < v->cfg.iotlb_entries; i++) {
		struct vtd_iotlb_entry *e = &v->iotlb[i];

		if (e->valid && e->did == did && (iova & ~e->mask) == e->iova) {
			e->stamp = ++v->clock;
			return e;
		}
	}
	return NULL;
}

static void iotlb_insert(struct vtd *v, uint16_t did, const struct vtd_xlate *x, uint64_t iova)
{
	struct vtd_iotlb_entry *e;

	LRU_VICTIM(v->iotlb, v->cfg.iotlb_entries, e);
	*e = (struct vtd_iotlb_entry){ .valid = true, .did = did, .perm = x->perm,
				       .iova = iova & ~x->page_mask,
				       .gpa = x->gpa & ~x->page_mask,
				       .mask = x->page_mask, .stamp = ++v->clock };
}

/* Reserved bits of a second-level entry at level (1 = 4K table). */
static uint64_t sl_rsvd(const struct vtd *v, unsigned int level, bool large)
{
	/* bits 51:HAW, TM (no device-TLB) and SNP (no snoop control) */
	uint64_t r = (~vtd_haw_mask(v) & 0x000fffffffffffffULL) | VTD_SL_TM | VTD_SL_SNP;

	if (level == 4)
		r |= VTD_SL_PS;
	else if (large && level == 3)
		r |= 0x3ffff000ULL;
	else if (large && level == 2)
		r |= 0x1ff000ULL;
	return r;
}

/* Walks the second-level tables from table with levels levels. Returns 0
 * with x->gpa/page_mask/perm set (perm may lack what access needs: the
 * caller checks), or a fault reason; *present says whether the walk
 * failed on an entry that is not present. */
static uint8_t sl_walk(struct vtd *v, uint64_t table, unsigned int levels, uint64_t iova,
		       unsigned int access, struct vtd_xlate *x)
{
	unsigned int level, perm = DMA_READ | DMA_WRITE;
	uint8_t b[8];

	for (level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		uint64_t pte, mask = (1ULL << shift) - 1;
		bool large;

		if (v->host.mem_read(v->host.opaque, table + 8 * ((iova >> shift) & 0x1ff),
				     b, sizeof(b)))
			return VTD_FR_PAGING_ACCESS;
		pte = get_le64(b);
		if (!(pte & (VTD_SL_R | VTD_SL_W)))
			return access & DMA_WRITE ? VTD_FR_WRITE : VTD_FR_READ;
		large = level > 1 && (pte & VTD_SL_PS);
		if (pte & sl_rsvd(v, level, large))
			return VTD_FR_PAGING_RSVD;
		if (!(pte & VTD_SL_R))
			perm &= ~DMA_READ;
		if (!(pte & VTD_SL_W))
			perm &= ~DMA_WRITE;
		if (level == 1 || large) {
			x->gpa = (pte & VTD_PAGE_ADDR & ~mask) | (iova & mask);
			x->page_mask = mask;
			x->perm = perm;
			return 0;
		}
		table = pte & VTD_PAGE_ADDR;
	}
	return VTD_FR_PAGING_ACCESS;   /* not reached: level 1 is a leaf */
}

int vtd_translate(struct vtd *v, uint16_t sid, uint64_t iova, unsigned int access,
		  struct vtd_xlate *out)
{
	struct vtd_ctx_entry *ce;
	struct vtd_iotlb_entry *te;
	uint64_t lo = 0, hi = 0;
	bool fpd = false, mapped = false;
	unsigned int aw;
	uint8_t fr;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&v->lock);
	if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_TE)) {
		out->gpa = iova;   /* translation off: the identity */
		out->page_mask = UINT64_MAX;
		out->perm = DMA_READ | DMA_WRITE;
		goto unlock;
	}
	ce = ctx_lookup(v, sid);
	if (ce) {
		v->ctx_hits++;
		lo = ce->lo;
		hi = ce->hi;
		fpd = lo & VTD_CTX_FPD;
	} else {
		v->ctx_misses++;
		fr = ctx_fetch(v, sid, &lo, &hi, &fpd);
		if (fr)
			goto fault;
		ctx_insert(v, sid, lo, hi);
	}
	out->did = VTD_CTX_DID(hi);
	if (VTD_CTX_TT(lo) == VTD_TT_PASSTHROUGH) {
		out->gpa = iova;
		out->page_mask = UINT64_MAX;
		out->perm = DMA_READ | DMA_WRITE;
		goto unlock;
	}
	aw = 30 + 9 * VTD_CTX_AW(hi);   /* 39 or 48: ctx_fetch checked SAGAW */
	if (iova >> aw) {
		fr = VTD_FR_ADDR_BEYOND_AW;
		goto fault;
	}
	te = iotlb_lookup(v, out->did, iova);
	if (te) {
		v->iotlb_hits++;
		out->gpa = te->gpa | (iova & te->mask);
		out->page_mask = te->mask;
		out->perm = te->perm;
	} else {
		v->iotlb_misses++;
		fr = sl_walk(v, lo & ~0xfffULL, 2 + VTD_CTX_AW(hi), iova, access, out);
		if (fr)
			goto fault;
		iotlb_insert(v, out->did, out, iova);
	}
	mapped = true;
	if ((access & DMA_WRITE) && !(out->perm & DMA_WRITE)) {
		fr = VTD_FR_WRITE;
		goto fault;
	}
	if ((access & DMA_READ) && !(out->perm & DMA_READ)) {
		fr = VTD_FR_READ;
		goto fault;
	}
	goto unlock;
fault:
	out->gpa = 0;
	out->fault = fr;
	out->recorded = vtd_fault(v, sid, iova, fr, access & DMA_WRITE, fpd);
	ret = mapped ? -EPERM : -EFAULT;
unlock:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

bool vtd_identity(struct vtd *v, uint16_t sid)
{
	struct vtd_ctx_entry *ce;
	uint64_t lo = 0, hi = 0;
	bool fpd, id;

	pthread_mutex_lock(&v->lock);
	id = !(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_TE);
	if (!id) {
		ce = ctx_lookup(v, sid);
		if (ce)
			lo = ce->lo;
		else if (ctx_fetch(v, sid, &lo, &hi, &fpd))
			lo = 0;   /* no usable context: not the identity, and no fault */
		id = (lo & VTD_PRESENT) && VTD_CTX_TT(lo) == VTD_TT_PASSTHROUGH;
	}
	pthread_mutex_unlock(&v->lock);
	return id;
}

/* ---- walking (for shadowing into a host IOMMU) ---- */

/* Entries one walk may read: a guest whose tables alias (every entry of a
 * level pointing at the same table) would otherwise make it read 2^36. */
#define VTD_WALK_MAX_READS (1u << 21)

struct vtd_walk {
	struct vtd *v;
	uint64_t first, last;
	unsigned int reads;
	vtd_walk_fn fn;
	void *opaque;
};

/* Visits the present leaves under table (level: 4 = 512 GiB entries ...
 * 1 = 4 KiB) that cover base.. within [first, last]. Entries that cannot
 * be read or have reserved bits set are skipped as not present: a walk
 * never records a fault. */
static int sl_visit(struct vtd_walk *w, uint64_t table, unsigned int level, uint64_t base,
		    unsigned int perm)
{
	unsigned int shift = 12 + 9 * (level - 1);
	uint64_t span = 1ULL << shift;
	unsigned int i = base < w->first ? (unsigned int)((w->first - base) >> shift) : 0;

	for (; i < 512; i++) {
		uint64_t at = base + (uint64_t)i * span, pte, lo, hi;
		unsigned int p = perm;
		uint8_t b[8];
		bool large;
		int r;

		if (at > w->last)
			break;
		if (++w->reads > VTD_WALK_MAX_READS)
			return -E2BIG;
		if (w->v->host.mem_read(w->v->host.opaque, table + 8 * i, b, sizeof(b)))
			continue;
		pte = get_le64(b);
		if (!(pte & (VTD_SL_R | VTD_SL_W)))
			continue;
		large = level > 1 && (pte & VTD_SL_PS);
		if (pte & sl_rsvd(w->v, level, large))
			continue;
		if (!(pte & VTD_SL_R))
			p &= ~DMA_READ;
		if (!(pte & VTD_SL_W))
			p &= ~DMA_WRITE;
		if (level > 1 && !large) {
			r = sl_visit(w, pte & VTD_PAGE_ADDR, level - 1, at, p);
			if (r)
				return r;
			continue;
		}
		lo = at < w->first ? w->first : at;
		hi = at + (span - 1) > w->last ? w->last : at + (span - 1);
		r = w->fn(w->opaque, lo, (pte & VTD_PAGE_ADDR & ~(span - 1)) + (lo - at),
			  hi - lo + 1, p);
		if (r)
			return r;
		if (at + (span - 1) >= w->last)
			break;
	}
	return 0;
}

int vtd_walk(struct vtd *v, uint16_t sid, uint64_t iova, uint64_t len, vtd_walk_fn fn,
	     void *opaque)
{
	struct vtd_walk w = { .v = v, .first = iova, .fn = fn, .opaque = opaque };
	uint64_t lo = 0, hi = 0;
	unsigned int aw;
	bool fpd;
	int ret = 0;

	if (!len)
		return 0;
	w.last = len - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + len - 1;
	pthread_mutex_lock(&v->lock);
	if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_TE)) {
		ret = 1;
		goto out;
	}
	if (ctx_fetch(v, sid, &lo, &hi, &fpd)) {
		ret = -ENOENT;
		goto out;
	}
	if (VTD_CTX_TT(lo) == VTD_TT_PASSTHROUGH) {
		ret = 1;
		goto out;
	}
	aw = 30 + 9 * VTD_CTX_AW(hi);
	if (iova >> aw)
		goto out;
	if (w.last >> aw)
		w.last = (1ULL << aw) - 1;
	ret = sl_visit(&w, lo & ~0xfffULL, 2 + VTD_CTX_AW(hi), 0, DMA_READ | DMA_WRITE);
out:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* ---- invalidation ---- */

unsigned int vtd_ctx_invalidate(struct vtd *v, unsigned int gran, uint16_t did,
				uint16_t sid, unsigned int fm)
{
	/* FM masks function bits: none, bit 2, bits 2:1, bits 2:0. */
	static const uint16_t fmask[4] = { 0, 4, 6, 7 };
	uint16_t m = fmask[fm & 3];
	unsigned int i, f;

	if (gran != VTD_INV_GLOBAL && gran != VTD_INV_DOMAIN && gran != VTD_INV_DEVICE)
		return 0;
	for (i = 0; i < v->cfg.ctx_entries; i++) {
		struct vtd_ctx_entry *e = &v->ctx[i];

		if (gran == VTD_INV_GLOBAL ||
		    (gran == VTD_INV_DOMAIN && VTD_CTX_DID(e->hi) == did) ||
		    (gran == VTD_INV_DEVICE && (e->sid & ~m) == (sid & ~m)))
			e->valid = false;
	}
	if (gran == VTD_INV_GLOBAL) {
		vtd_notify(v, VTD_ALL, VTD_ALL, 0, UINT64_MAX);
	} else if (gran == VTD_INV_DOMAIN) {
		vtd_notify(v, VTD_ALL, did, 0, UINT64_MAX);
	} else {
		for (f = 0; f <= m; f++)
			if (!(f & ~m))
				vtd_notify(v, (sid & ~m) | f, VTD_ALL, 0, UINT64_MAX);
	}
	return gran;
}

unsigned int vtd_iotlb_invalidate(struct vtd *v, unsigned int gran, uint16_t did,
				  uint64_t addr, unsigned int am)
{
	uint64_t size = 0, last = 0;
	unsigned int i;

	if (gran != VTD_INV_GLOBAL && gran != VTD_INV_DOMAIN && gran != VTD_INV_DEVICE)
		return 0;
	if (gran == VTD_INV_DEVICE) {
		if (am > VTD_MAMV)
			return 0;
		size = 0x1000ULL << am;
		addr &= ~(size - 1);
		last = addr + size - 1;
	}
	for (i = 0; i < v->cfg.iotlb_entries; i++) {
		struct vtd_iotlb_entry *e = &v->iotlb[i];

		if (!e->valid)
			continue;
		if (gran == VTD_INV_GLOBAL ||
		    (gran == VTD_INV_DOMAIN && e->did == did) ||
		    (e->did == did && e->iova <= last && addr <= e->iova + e->mask))
			e->valid = false;
	}
	if (gran == VTD_INV_GLOBAL)
		vtd_notify(v, VTD_ALL, VTD_ALL, 0, UINT64_MAX);
	else if (gran == VTD_INV_DOMAIN)
		vtd_notify(v, VTD_ALL, did, 0, UINT64_MAX);
	else
		vtd_notify(v, VTD_ALL, did, addr, size);
	return gran;
}

/* The DMA side of device assignment (owner: vfio_pci_dma.c; API in
 * devices/vfio_pci.h): one VFIO container per DMA address space, and the
 * mappings in it kept equal to what that address space allows.
 *
 *  - Without a vIOMMU every assigned function shares vm->dma, the identity:
 *    one container with all guest RAM mapped at IOVA = GPA, once.
 *  - Behind isle's VT-d each function has its own address space and so its
 *    own container (host IOMMU domains cannot hold two IOVA spaces). The
 *    VT-d runs in caching mode, so the guest invalidates after it maps as
 *    well as after it unmaps: every invalidation of [iova, len) re-reads the
 *    guest's tables over that range (dma_as walk: no faults recorded) and
 *    makes the container's mappings there equal to them: mappings that no
 *    longer match are unmapped, new runs are mapped. While translation is
 *    off or the context is pass-through the space is the identity again.
 *
 * VFIO's type1 unmaps only whole mappings, so the range re-read is widened
 * to the mappings it cuts. The shadow (struct vfio_map array, sorted) is
 * what the container holds; it is only changed under s->lock. The notifier
 * runs on the thread that announced the invalidation (a vCPU finishing a
 * queued-invalidation wait, or a register write): the guest sees its
 * invalidation complete only once the container agrees, which is what its
 * device's next DMA needs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"

struct vfio_map {
	uint64_t iova, size;
	void *hva;
	unsigned int perm;
};

struct vfio_maps {
	struct vfio_map *m;
	size_t nr, cap;
};

struct vfio_space {
	struct vm *vm;
	const struct vfio_dma_ops *ops;
	struct dma_as *as;            /* NULL until started (private spaces) */
	struct vfio_container c;
	unsigned int refs;
	bool started, identity;
	pthread_mutex_t lock;
	struct dma_notifier n;
	struct vfio_maps maps;        /* what the container holds, by IOVA */
	uint64_t syncs, maps_made;
	struct vfio_space *next;
};

struct vfio_vm {
	struct vfio_space *spaces;
	const struct vfio_dma_ops *ops;
};

const struct vfio_dma_ops vfio_dma_host_ops = {
	.open = vfio_container_open,
	.map = vfio_dma_map,
	.unmap = vfio_dma_unmap,
	.close = vfio_container_close,
};

static struct vfio_vm *vfio_vm_get(struct vm *vm)
{
	if (!vm->vfio && (vm->vfio = calloc(1, sizeof(*vm->vfio))))
		vm->vfio->ops = &vfio_dma_host_ops;
	return vm->vfio;
}

int vfio_vm_set_dma_ops(struct vm *vm, const struct vfio_dma_ops *ops)
{
	if (!vfio_vm_get(vm))
		return -ENOMEM;
	vm->vfio->ops = ops;
	return 0;
}

static int maps_push(struct vfio_maps *ms, uint64_t iova, void *hva, uint64_t size,
		     unsigned int perm)
{
	if (ms->nr == ms->cap) {
		size_t cap = ms->cap ? ms->cap * 2 : 16;
		struct vfio_map *m = realloc(ms->m, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		ms->m = m;
		ms->cap = cap;
	}
	ms->m[ms->nr++] = (struct vfio_map){ .iova = iova, .size = size, .hva = hva, .perm = perm };
	return 0;
}

/* One mapping per leaf of the guest's tables (as QEMU maps one per IOTLB
 * entry): merging neighbours would make an invalidation of one of them cut
 * a container mapping, and unmapping that whole mapping would take the
 * still-valid neighbours away from DMA in flight. Bounded: a guest cannot
 * ask for more than type1 holds. */
static int maps_collect(void *opaque, uint64_t iova, void *hva, uint64_t len, unsigned int perm)
{
	struct vfio_maps *ms = opaque;

	/* A device may only be given what the guest allows: read-only
	 * mappings stay read-only, write-only ones cannot be expressed. */
	if (!(perm & DMA_READ))
		return 0;
	if (ms->nr >= VFIO_TYPE1_DMA_LIMIT)
		return -E2BIG;
	return maps_push(ms, iova, hva, len, perm);
}

static bool map_same(const struct vfio_map *a, const struct vfio_map *b)
{
	return a->iova == b->iova && a->size == b->size && a->hva == b->hva && a->perm == b->perm;
}

static int space_map(struct vfio_space *s, const struct vfio_map *m)
{
	char err[256];
	int r = s->ops->map(&s->c, m->iova, m->size, m->hva, m->perm & DMA_WRITE, err,
			    sizeof(err));

	if (r)
		log_error("vfio: DMA map %#llx+%#llx: %s", (unsigned long long)m->iova,
			  (unsigned long long)m->size, err);
	return r;
}

static void space_unmap(struct vfio_space *s, const struct vfio_map *m)
{
	int r = s->ops->unmap(&s->c, m->iova, m->size, NULL);

	if (r)
		log_warn("vfio: DMA unmap %#llx+%#llx: %s", (unsigned long long)m->iova,
			 (unsigned long long)m->size, strerror(-r));
}

/* Fails closed: every mapping inside [first, last] leaves the container
 * (in place, no allocation). Called with s->lock held. */
static void space_drop_range(struct vfio_space *s, uint64_t first, uint64_t last)
{
	size_t n = 0;

	for (size_t i = 0; i < s->maps.nr; i++) {
		const struct vfio_map *m = &s->maps.m[i];

		if (m->iova >= first && m->iova + m->size - 1 <= last)
			space_unmap(s, m);
		else
			s->maps.m[n++] = *m;
	}
	s->maps.nr = n;
}

/* All guest RAM at IOVA = GPA. Called with s->lock held. */
static int space_map_identity(struct vfio_space *s)
{
	const struct gmem *gm = &s->vm->gmem;
	int r = 0;

	space_drop_range(s, 0, UINT64_MAX);
	for (unsigned int i = 0; i < gm->nr && !r; i++) {
		const struct gmem_region *g = &gm->regions[i];

		r = maps_push(&s->maps, g->gpa, g->hva, g->size, DMA_RW);
		if (!r)
			r = space_map(s, &s->maps.m[s->maps.nr - 1]);
		if (r)
			s->maps.nr--;
	}
	s->identity = !r;
	return r;
}

/* Makes the container agree with the address space over [iova, len).
 * Called with s->lock held. On any error what the range held is unmapped:
 * a mapping the guest may have revoked never outlives a failed sync. */
static int space_sync(struct vfio_space *s, uint64_t iova, uint64_t len)
{
	uint64_t first = iova, last = dma_range_last(iova, len);
	struct vfio_maps want = { 0 };
	struct vfio_map *out;
	size_t w = 0, nkeep = 0, nadd = 0, a, k, o;
	int r;

	if (s->identity) {
		/* Leaving the identity: everything is in question. */
		if (!s->as->ops->identity || !s->as->ops->identity(s->as)) {
			first = 0;
			last = UINT64_MAX;
		} else {
			return 0;
		}
	}
	/* Widen to the mappings the range cuts (a large page's leaf): type1
	 * unmaps whole ones. */
	for (size_t i = 0; i < s->maps.nr; i++) {
		const struct vfio_map *m = &s->maps.m[i];

		if (!dma_range_overlaps(m->iova, m->size, first, last - first + 1 ?: UINT64_MAX))
			continue;
		first = MIN(first, m->iova);
		last = MAX(last, m->iova + m->size - 1);
	}
	r = s->as->ops->walk ? s->as->ops->walk(s->as, first, last - first + 1 ?: UINT64_MAX,
						maps_collect, &want) : 1;
	if (r == 1) {
		free(want.m);
		return s->identity ? 0 : space_map_identity(s);
	}
	/* Room for the result before the container changes, so nothing
	 * below can fail half way. */
	out = r < 0 && r != -ENOENT ? NULL : malloc((s->maps.nr + want.nr + 1) * sizeof(*out));
	if (!out) {
		space_drop_range(s, first, last);
		free(want.m);
		return r < 0 && r != -ENOENT ? r : -ENOMEM;
	}
	/* Old mappings in the range: keep those the walk found again
	 * unchanged (marked by size 0 in want), unmap the rest. Both lists
	 * are in IOVA order. */
	for (size_t i = 0; i < s->maps.nr; i++) {
		const struct vfio_map *m = &s->maps.m[i];

		if (m->iova >= first && m->iova + m->size - 1 <= last) {
			while (w < want.nr && want.m[w].iova < m->iova)
				w++;
			if (w < want.nr && map_same(&want.m[w], m)) {
				want.m[w].size = 0;
			} else {
				space_unmap(s, m);
				continue;
			}
		}
		s->maps.m[nkeep++] = *m;
	}
	/* Map what is new, compacting the successes at the front of want. */
	for (size_t i = 0; i < want.nr; i++) {
		if (!want.m[i].size || space_map(s, &want.m[i]))
			continue;   /* kept, or failed (logged: the device faults there) */
		want.m[nadd++] = want.m[i];
	}
	s->maps_made += nadd;
	/* Merge the two sorted lists. */
	for (k = a = o = 0; k < nkeep || a < nadd;)
		out[o++] = a == nadd || (k < nkeep && s->maps.m[k].iova < want.m[a].iova) ?
			   s->maps.m[k++] : want.m[a++];
	free(want.m);
	free(s->maps.m);
	s->maps = (struct vfio_maps){ .m = out, .nr = o, .cap = nkeep + want.nr + 1 };
	if (s->identity)
		log_info("vfio: the guest's VT-d translates: the container follows its mappings "
			 "(%zu now)", s->maps.nr);
	s->identity = false;
	return 0;
}

static void space_notify(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	struct vfio_space *s = opaque;
	int r;

	pthread_mutex_lock(&s->lock);
	s->syncs++;
	r = space_sync(s, iova, len);
	pthread_mutex_unlock(&s->lock);
	if (r)
		log_warn("vfio: following the guest's DMA mappings: %s", strerror(-r));
}

static int space_get_locked(struct vm *vm, struct dma_as *as, struct vfio_space **out,
			    char *err, size_t errlen)
{
	struct vfio_space *s;
	int r;

	if (!vfio_vm_get(vm)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (s = as ? vm->vfio->spaces : NULL; s; s = s->next) {
		if (s->as == as) {
			s->refs++;
			*out = s;
			return 0;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->ops = vm->vfio->ops;
	r = s->ops->open(&s->c, err, errlen);
	if (r) {
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->as = as;
	s->refs = 1;
	s->next = vm->vfio->spaces;
	vm->vfio->spaces = s;
	*out = s;
	return 0;
}

int vfio_space_get(struct vm *vm, struct dma_as *as, struct vfio_space **out, char *err,
		   size_t errlen)
{
	int r;

	pthread_mutex_lock(&vm->vfio_lock);
	r = space_get_locked(vm, as, out, err, errlen);
	pthread_mutex_unlock(&vm->vfio_lock);
	return r;
}

struct vfio_container *vfio_space_container(struct vfio_space *s)
{
	return &s->c;
}

int vfio_space_start(struct vfio_space *s, struct dma_as *as, char *err, size_t errlen)
{
	struct timespec t0, t1;
	int r;

	if (s->started)
		return 0;
	s->as = as;
	/* Listen first: an invalidation during the first sync waits for the
	 * lock and is applied after it, never lost. */
	s->n = (struct dma_notifier){ .events = DMA_EV_UNMAP | DMA_EV_MAP,
				      .notify = space_notify, .opaque = s };
	dma_notifier_register(as, &s->n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&s->lock);
	if (as->ops->walk || !dma_as_is_identity(as))
		r = space_sync(s, 0, UINT64_MAX);
	else
		r = space_map_identity(s);
	if (!r && as->ops->walk && !s->identity)
		log_info("vfio: container follows the guest's VT-d mappings (%zu now)",
			 s->maps.nr);
	pthread_mutex_unlock(&s->lock);
	if (r) {
		dma_notifier_unregister(as, &s->n);
		snprintf(err, errlen, "mapping guest memory for DMA: %s", strerror(-r));
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("vfio: %llu MiB of guest memory mapped for DMA in %llu mapping(s) "
		 "(type1 allows %u) in %.1f ms", (unsigned long long)(s->c.mapped_bytes >> 20),
		 (unsigned long long)s->c.nr_maps, vfio_dma_limit(&s->c),
		 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	s->started = true;
	return 0;
}

static void space_put_locked(struct vm *vm, struct vfio_space *s)
{
	struct vfio_space **pp;

	if (!s || --s->refs)
		return;
	if (s->started)
		dma_notifier_unregister(s->as, &s->n);
	/* With its last group gone the container has no IOMMU any more and
	 * the kernel dropped (and unpinned) every mapping itself. */
	pthread_mutex_lock(&s->lock);
	if (s->c.nr_groups)
		space_drop_range(s, 0, UINT64_MAX);
	s->maps.nr = 0;
	pthread_mutex_unlock(&s->lock);
	log_msg(s->syncs ? LOG_INFO : LOG_DEBUG,
		"vfio: container released after following %llu invalidation(s), %llu run(s) mapped",
		(unsigned long long)s->syncs, (unsigned long long)s->maps_made);
	s->ops->close(&s->c);
	for (pp = &vm->vfio->spaces; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	free(s->maps.m);
	pthread_mutex_destroy(&s->lock);
	free(s);
	if (!vm->vfio->spaces) {
		free(vm->vfio);
		vm->vfio = NULL;
	}
}

void vfio_space_put(struct vm *vm, struct vfio_space *s)
{
	pthread_mutex_lock(&vm->vfio_lock);
	space_put_locked(vm, s);
	pthread_mutex_unlock(&vm->vfio_lock);
}

/* The first container mapping that meets [cur, end) of host memory, by
 * where the overlap starts; NULL if none does. Spaces locked. */
static const struct vfio_map *maps_first_overlap(struct vfio_vm *vv, const uint8_t *cur,
						 const uint8_t *end)
{
	const struct vfio_map *best = NULL;
	const uint8_t *best_at = end;

	for (struct vfio_space *s = vv->spaces; s; s = s->next)
		for (size_t i = 0; i < s->maps.nr; i++) {
			const struct vfio_map *m = &s->maps.m[i];
			const uint8_t *lo = m->hva, *hi = lo + m->size;
			const uint8_t *at = lo > cur ? lo : cur;

			if (lo < end && hi > cur && at < best_at) {
				best = m;
				best_at = at;
			}
		}
	return best;
}

int64_t vfio_vm_discard_unmapped(struct vm *vm, uint64_t gpa, uint64_t len,
				 int (*discard)(void *opaque, uint64_t gpa, uint64_t len),
				 void *opaque)
{
	uint64_t n = len, kept = 0;
	uint8_t *hva = gmem_gpa_to_hva(&vm->gmem, gpa, &n), *cur, *end;
	struct vfio_space *s;
	int r = 0;

	if (!hva || n < len)
		return -EFAULT;
	pthread_mutex_lock(&vm->vfio_lock);
	/* Every container held still from the question to the discard: the
	 * guest cannot map a page for DMA between the two. */
	for (s = vm->vfio ? vm->vfio->spaces : NULL; s; s = s->next)
		pthread_mutex_lock(&s->lock);
	for (cur = hva, end = hva + len; cur < end && r >= 0; ) {
		const struct vfio_map *m = vm->vfio ? maps_first_overlap(vm->vfio, cur, end) : NULL;
		uint8_t *at = m ? ((uint8_t *)m->hva > cur ? (uint8_t *)m->hva : cur) : end;
		uint8_t *past = m ? MIN((uint8_t *)m->hva + m->size, end) : end;

		if (at > cur)
			r = discard(opaque, gpa + (uint64_t)(cur - hva), (uint64_t)(at - cur));
		kept += (uint64_t)(past - at);
		cur = past;
	}
	for (s = vm->vfio ? vm->vfio->spaces : NULL; s; s = s->next)
		pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&vm->vfio_lock);
	return r < 0 ? r : (int64_t)kept;
}

/* A vhost-user back-end's device IOTLB and the address space over it
 * (contract in include/isle/vu_iotlb.h).
 *
 * The table is an array sorted by iova with no overlaps, so a lookup is a
 * binary search and an update removes what it overlaps with one memmove.
 * Misses are asked for outside the lock, then the translating thread waits
 * on the condition variable for the next update (or the deadline) and
 * looks again; the thread serving the front-end never waits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/vhost_types.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vu_iotlb.h"

#define MISS_REPEAT_NS 50000000ull   /* the same miss is asked again after 50 ms */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned int perm_of(unsigned int access)
{
	return (access & DMA_READ ? VHOST_ACCESS_RO : 0) | (access & DMA_WRITE ? VHOST_ACCESS_WO : 0);
}

int vu_iotlb_init(struct vu_iotlb *t, unsigned int max, unsigned int wait_ms,
		  vu_iotlb_send_fn send, void *opaque)
{
	pthread_condattr_t ca;

	memset(t, 0, sizeof(*t));
	t->max = max ? max : VU_IOTLB_DEFAULT_MAX;
	t->wait_ms = wait_ms;
	t->send = send;
	t->send_opaque = opaque;
	t->e = calloc(t->max, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void vu_iotlb_destroy(struct vu_iotlb *t)
{
	if (!t->e)
		return;
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	t->e = NULL;
}

void vu_iotlb_set_dispatcher(struct vu_iotlb *t, pthread_t thread)
{
	pthread_mutex_lock(&t->lock);
	t->dispatcher = thread;
	t->has_dispatcher = true;
	pthread_mutex_unlock(&t->lock);
}

static uint64_t last_of(uint64_t iova, uint64_t size)
{
	return size - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + size - 1;
}

/* The first entry whose end is at or after iova. Lock held. */
static unsigned int find(const struct vu_iotlb *t, uint64_t iova)
{
	unsigned int lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (last_of(t->e[mid].iova, t->e[mid].size) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Removes entries [i, j). Lock held. */
static void remove_range(struct vu_iotlb *t, unsigned int i, unsigned int j)
{
	memmove(&t->e[i], &t->e[j], (t->n - j) * sizeof(t->e[0]));
	t->n -= j - i;
}

int vu_iotlb_update(struct vu_iotlb *t, uint64_t iova, uint64_t size, uint64_t gpa,
		    uint8_t perm)
{
	uint64_t last;
	unsigned int i, j;

	if (!size || size - 1 > UINT64_MAX - iova || size - 1 > UINT64_MAX - gpa ||
	    (perm != VHOST_ACCESS_RO && perm != VHOST_ACCESS_WO && perm != VHOST_ACCESS_RW))
		return -EINVAL;
	last = iova + size - 1;
	pthread_mutex_lock(&t->lock);
	i = find(t, iova);
	/* The same mapping again (a miss for another access): add the perm.
	 * Inside a bigger entry that already says so: nothing new. */
	if (i < t->n && t->e[i].iova == iova && t->e[i].size == size && t->e[i].gpa == gpa) {
		t->e[i].perm |= perm;
		t->e[i].stamp = ++t->clock;
		goto out;
	}
	if (i < t->n && t->e[i].iova <= iova && last <= last_of(t->e[i].iova, t->e[i].size) &&
	    t->e[i].gpa + (iova - t->e[i].iova) == gpa && (t->e[i].perm & perm) == perm) {
		t->e[i].stamp = ++t->clock;
		goto out;
	}
	for (j = i; j < t->n && t->e[j].iova <= last; j++)
		;
	remove_range(t, i, j);
	if (t->n == t->max) {
		unsigned int lru = 0;

		for (unsigned int k = 1; k < t->n; k++)
			if (t->e[k].stamp < t->e[lru].stamp)
				lru = k;
		remove_range(t, lru, lru + 1);
		if (lru < i)
			i--;
	}
	memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
	t->e[i] = (struct vu_iotlb_entry){ .iova = iova, .size = size, .gpa = gpa,
					   .perm = perm, .stamp = ++t->clock };
	t->n++;
out:
	t->st.updates++;
	t->gen++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void vu_iotlb_invalidate(struct vu_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t last = size ? last_of(iova, size) : iova;
	unsigned int i, j;

	if (!size)
		return;
	pthread_mutex_lock(&t->lock);
	i = find(t, iova);
	for (j = i; j < t->n && t->e[j].iova <= last; j++)
		;
	remove_range(t, i, j);
	t->st.invalidations++;
	pthread_mutex_unlock(&t->lock);
}

void vu_iotlb_flush(struct vu_iotlb *t)
{
	pthread_mutex_lock(&t->lock);
	t->n = 0;
	pthread_mutex_unlock(&t->lock);
}

/* Lock held. */
static int lookup_locked(struct vu_iotlb *t, uint64_t iova, uint64_t *len, unsigned int access,
			 uint64_t *gpa)
{
	unsigned int i = find(t, iova), need = perm_of(access);
	struct vu_iotlb_entry *e;
	uint64_t room;

	if (i == t->n || t->e[i].iova > iova)
		return -ENOENT;
	e = &t->e[i];
	if ((e->perm & need) != need)
		return -EPERM;
	room = last_of(e->iova, e->size) - iova;   /* bytes after iova, minus one */
	if (*len - 1 > room)
		*len = room + 1;
	*gpa = e->gpa + (iova - e->iova);
	e->stamp = ++t->clock;
	return 0;
}

int vu_iotlb_lookup(struct vu_iotlb *t, uint64_t iova, uint64_t *len, unsigned int access,
		    uint64_t *gpa)
{
	int r;

	if (!*len)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	r = lookup_locked(t, iova, len, access, gpa);
	pthread_mutex_unlock(&t->lock);
	return r;
}

void vu_iotlb_get_stats(struct vu_iotlb *t, struct vu_iotlb_stats *st)
{
	pthread_mutex_lock(&t->lock);
	*st = t->st;
	pthread_mutex_unlock(&t->lock);
}

/* Asks the front-end for iova's page, unless the same question went out
 * just now. Lock held; dropped around the send. */
static void ask(struct vu_iotlb *t, uint64_t iova, uint8_t perm)
{
	uint64_t page = iova & ~0xfffull, now = now_ns();

	if (page == t->last_miss_page && perm == t->last_miss_perm &&
	    now - t->last_miss_at < MISS_REPEAT_NS)
		return;
	t->last_miss_page = page;
	t->last_miss_perm = perm;
	t->last_miss_at = now;
	t->st.miss_msgs++;
	pthread_mutex_unlock(&t->lock);
	if (t->send && t->send(t->send_opaque, iova, perm, VHOST_IOTLB_MISS))
		log_debug("iotlb: miss for %#llx could not be sent", (unsigned long long)iova);
	pthread_mutex_lock(&t->lock);
}

/* iova -> gpa for [iova, iova + *len), asking and waiting as the header
 * says. 0, or -EFAULT / -EPERM after reporting ACCESS_FAIL. */
static int resolve(struct vu_iotlb *t, uint64_t iova, uint64_t *len, unsigned int access,
		   uint64_t *gpa)
{
	uint8_t perm = (uint8_t)perm_of(access);
	bool may_wait;
	uint64_t deadline, t0;
	int r;

	pthread_mutex_lock(&t->lock);
	r = lookup_locked(t, iova, len, access, gpa);
	if (!r) {
		t->st.hits++;
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	t->st.misses++;
	may_wait = t->wait_ms && !(t->has_dispatcher && pthread_equal(t->dispatcher, pthread_self()));
	t0 = now_ns();
	deadline = t0 + (uint64_t)t->wait_ms * 1000000ull;
	for (;;) {
		uint64_t gen, slice = MIN(deadline, now_ns() + MISS_REPEAT_NS);
		struct timespec sl = { .tv_sec = (time_t)(slice / 1000000000ull),
				       .tv_nsec = (long)(slice % 1000000000ull) };

		ask(t, iova, perm);
		r = lookup_locked(t, iova, len, access, gpa);
		if (!r || !may_wait)
			break;
		/* Wait for an update, asking again each MISS_REPEAT_NS: the
		 * front-end answers a miss only with a mapping, so an answer
		 * of "not mapped" given just before the guest's mapping was
		 * visible (or a miss lost on the way) would otherwise leave
		 * this thread waiting out the whole deadline. */
		gen = t->gen;
		while (gen == t->gen && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&t->cond, &t->lock, &sl);
		if (r == ETIMEDOUT && now_ns() >= deadline) {
			t->st.timeouts++;
			r = lookup_locked(t, iova, len, access, gpa);
			break;
		}
		r = lookup_locked(t, iova, len, access, gpa);
		if (!r)
			break;
		t->last_miss_at = 0;   /* no update covered us: ask again */
	}
	if (may_wait) {
		t->st.waits++;
		t->st.wait_ns += now_ns() - t0;
	}
	if (!r) {
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	t->st.access_fails += may_wait;
	pthread_mutex_unlock(&t->lock);
	/* Only after waiting: the dispatcher's misses are retried later. */
	if (may_wait && t->send)
		t->send(t->send_opaque, iova, perm, VHOST_IOTLB_ACCESS_FAIL);
	*len = 0;
	return r == -EPERM ? -EPERM : -EFAULT;
}

static int vu_iotlb_as_translate(struct dma_as *as, uint64_t iova, uint64_t *len,
				 unsigned int access, void **hva)
{
	struct vu_iotlb_as *a = as->priv;
	uint64_t gpa, n = *len;
	void *p;
	int r;

	r = resolve(a->t, iova, &n, access, &gpa);
	if (r) {
		*len = 0;
		return r;
	}
	p = gmem_gpa_to_hva(a->gm, gpa, &n);
	if (!p || !n) {
		*len = 0;
		return -EFAULT;   /* mapped to something outside guest memory */
	}
	*len = n;
	*hva = p;
	return 0;
}

static const struct dma_as_ops vu_iotlb_as_ops = {
	.name = "vhost-user-iotlb",
	.translate = vu_iotlb_as_translate,
};

void vu_iotlb_as_init(struct vu_iotlb_as *a, struct vu_iotlb *t, const struct gmem *gm)
{
	a->t = t;
	a->gm = gm;
	dma_as_init(&a->as, &vu_iotlb_as_ops, a);
}

void vu_iotlb_as_destroy(struct vu_iotlb_as *a)
{
	dma_as_destroy(&a->as);
}

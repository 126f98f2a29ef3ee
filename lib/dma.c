/* DMA address spaces (contract in include/isle/dma.h): the generic
 * translate entry point with its argument checks, the copy helpers that
 * loop over it, the notifier list, and the identity address space over a
 * gmem that every device uses until an IOMMU gives it another. */
#include <errno.h>
#include <string.h>

#include "isle/dma.h"

void dma_as_init(struct dma_as *as, const struct dma_as_ops *ops, void *priv)
{
	as->ops = ops;
	as->priv = priv;
	as->notifiers = NULL;
	pthread_mutex_init(&as->lock, NULL);
}

void dma_as_destroy(struct dma_as *as)
{
	pthread_mutex_destroy(&as->lock);
	as->ops = NULL;
}

int dma_translate_granted(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
			  void **hva, unsigned int *granted)
{
	int r;

	*hva = NULL;
	*granted = 0;
	if (!*len || !access || (access & ~DMA_RW)) {
		*len = 0;
		return -EINVAL;
	}
	/* The implementations may assume iova + *len - 1 does not wrap: the
	 * part up to 2^64 - 1 is what can be valid, the caller sees a short
	 * length and faults on its next step. */
	if (*len - 1 > UINT64_MAX - iova)
		*len = UINT64_MAX - iova + 1;
	if (as->ops->translate_perm) {
		r = as->ops->translate_perm(as, iova, len, access, hva, granted);
	} else {
		r = as->ops->translate(as, iova, len, access, hva);
		*granted = access;   /* all it says is that access is allowed */
	}
	if (r || !*hva || !*len) {
		*len = 0;
		*hva = NULL;
		*granted = 0;
		return r ? r : -EFAULT;
	}
	*granted |= access;
	return 0;
}

int dma_translate(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
		  void **hva)
{
	unsigned int granted;

	return dma_translate_granted(as, iova, len, access, hva, &granted);
}

void *dma_map_whole(struct dma_as *as, uint64_t iova, uint64_t len, unsigned int access,
		    int *err)
{
	uint64_t n = len;
	void *hva;
	int r;

	if (len && len - 1 > UINT64_MAX - iova) {
		*err = -EFAULT;   /* wraps: no mapping covers it */
		return NULL;
	}
	r = dma_translate(as, iova, &n, access, &hva);
	if (r) {
		*err = r;
		return NULL;
	}
	if (n != len) {
		*err = -ERANGE;
		return NULL;
	}
	*err = 0;
	return hva;
}

static int dma_copy(struct dma_as *as, uint64_t iova, uint8_t *buf, size_t len,
		    unsigned int access)
{
	if (len && len - 1 > UINT64_MAX - iova)
		return -EFAULT;
	while (len) {
		uint64_t n = len;
		void *hva;
		int r = dma_translate(as, iova, &n, access, &hva);

		if (r)
			return r;
		if (access == DMA_WRITE)
			memcpy(hva, buf, n);
		else
			memcpy(buf, hva, n);
		buf += n;
		len -= n;
		iova += n;   /* cannot wrap: checked above, n ≤ len */
	}
	return 0;
}

int dma_read(struct dma_as *as, uint64_t iova, void *buf, size_t len)
{
	return dma_copy(as, iova, buf, len, DMA_READ);
}

int dma_write(struct dma_as *as, uint64_t iova, const void *buf, size_t len)
{
	return dma_copy(as, iova, (uint8_t *)buf, len, DMA_WRITE);
}

void dma_notifier_register(struct dma_as *as, struct dma_notifier *n)
{
	pthread_mutex_lock(&as->lock);
	n->next = as->notifiers;
	as->notifiers = n;
	pthread_mutex_unlock(&as->lock);
}

void dma_notifier_unregister(struct dma_as *as, struct dma_notifier *n)
{
	pthread_mutex_lock(&as->lock);
	for (struct dma_notifier **p = &as->notifiers; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			break;
		}
	}
	n->next = NULL;
	pthread_mutex_unlock(&as->lock);
}

void dma_as_notify(struct dma_as *as, unsigned int event, uint64_t iova, uint64_t len)
{
	/* Under the lock, so a notifier that unregisters on another thread
	 * is not called after dma_notifier_unregister() returned. */
	pthread_mutex_lock(&as->lock);
	for (struct dma_notifier *n = as->notifiers; n; n = n->next)
		if (n->events & event)
			n->notify(n->opaque, event, iova, len);
	pthread_mutex_unlock(&as->lock);
}

/* ---- identity: IOVA = guest-physical ---- */

static int dma_identity_translate(struct dma_as *as, uint64_t iova, uint64_t *len,
				  unsigned int access, void **hva)
{
	(void)access;   /* guest RAM is all readable and writable */
	*hva = gmem_gpa_to_hva(as->priv, iova, len);
	return *hva ? 0 : -EFAULT;
}

static int dma_identity_translate_perm(struct dma_as *as, uint64_t iova, uint64_t *len,
				       unsigned int access, void **hva, unsigned int *granted)
{
	*granted = DMA_RW;
	return dma_identity_translate(as, iova, len, access, hva);
}

static bool dma_identity_is(struct dma_as *as)
{
	return true;
}

static int dma_identity_walk(struct dma_as *as, uint64_t iova, uint64_t len, dma_walk_fn fn,
			     void *opaque)
{
	return 1;
}

static const struct dma_as_ops dma_identity_ops = {
	.name = "identity",
	.translate = dma_identity_translate,
	.translate_perm = dma_identity_translate_perm,
	.identity = dma_identity_is,
	.walk = dma_identity_walk,
};

void dma_as_identity_init(struct dma_as *as, const struct gmem *gm)
{
	/* priv is not const in general (an IOMMU keeps state there); the
	 * identity translate only reads the gmem. */
	dma_as_init(as, &dma_identity_ops, (void *)gm);
}

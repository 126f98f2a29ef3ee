/* The qcow2 metadata cache (qcow2_priv.h): L2 tables and refcount blocks,
 * a fixed number of cluster-sized slots shared by every queue, least
 * recently used out first. Write-through: the request paths change a table
 * here and pwrite the changed bytes at once, so a slot is never dirty and
 * a SIGKILL loses nothing that was acknowledged. */
#include <errno.h>
#include <stdlib.h>

#include "qcow2_priv.h"

int qcow2_cache_init(struct qcow2_cache *c, unsigned int n, uint64_t cluster_size)
{
	c->n = n;
	c->tick = 0;
	c->e = calloc(n, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		c->e[i].buf = malloc(cluster_size);
		if (!c->e[i].buf)
			return -ENOMEM;   /* qcow2_cache_fini frees what there is */
	}
	return 0;
}

void qcow2_cache_fini(struct qcow2_cache *c)
{
	if (!c->e)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		free(c->e[i].buf);
	free(c->e);
	c->e = NULL;
	c->n = 0;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (c->e[i].off == off)
			c->e[i].off = 0;
}

int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, bool fresh,
		    uint8_t **buf)
{
	struct qcow2_cache_entry *victim = &c->e[0];
	int r;

	for (unsigned int i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];

		if (e->off == off) {
			e->used = ++c->tick;
			if (fresh)
				memset(e->buf, 0, q->cluster_size);
			q->hits++;
			*buf = e->buf;
			return 0;
		}
		if (e->used < victim->used)
			victim = e;
	}
	q->misses++;
	victim->off = 0;
	if (fresh) {
		memset(victim->buf, 0, q->cluster_size);
	} else {
		if (!qcow2_meta_ok(q, off))
			return qcow2_corrupt(q, "a table at 0x%llx is misplaced (unaligned, on the "
					     "header or another table, or past the end of the file)",
					     (unsigned long long)off);
		r = qcow2_pread(q, victim->buf, q->cluster_size, off);
		if (r)
			return r;
	}
	victim->off = off;
	victim->used = ++c->tick;
	*buf = victim->buf;
	return 0;
}

/* Port-I/O and MMIO dispatch by address range (contract in vmm/core/bus.h).
 * Ranges are kept sorted so a lookup is a binary search; the table is frozen
 * before vCPUs start, so lookups are lock-free. */
#include <errno.h>
#include <string.h>

#include "isle/log.h"
#include "core/bus.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

int bus_register(struct bus *b, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
		 const char *name)
{
	unsigned int i;

	if (!size || base + size - 1 < base || !fn)
		return -EINVAL;
	if (b->nr >= BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->ranges[i];

		if (base <= r->base + (r->size - 1) && r->base <= base + (size - 1))
			return -EEXIST;
	}
	for (i = b->nr; i > 0 && b->ranges[i - 1].base > base; i--)
		b->ranges[i] = b->ranges[i - 1];
	b->ranges[i] = (struct bus_range){
		.base = base, .size = size, .fn = fn, .opaque = opaque, .name = name,
	};
	b->nr++;
	return 0;
}

static const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned int lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int bus_dispatch(const struct bus *b, uint64_t addr, void *data, unsigned int len,
		 bool is_write)
{
	const struct bus_range *r = bus_find(b, addr);

	/* The access must fit in one range: a guest straddling two devices
	 * gets nothing rather than half of each. */
	if (!r || !len || len > 8 || len - 1 > r->size - 1 - (addr - r->base)) {
		if (!is_write)
			memset(data, 0xff, len);
		log_debug("%s: unhandled %s of %u bytes at 0x%llx", b->name,
			  is_write ? "write" : "read", len, (unsigned long long)addr);
		return -ENOENT;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return 0;
}

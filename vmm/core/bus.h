/* Address-range dispatch for port I/O and MMIO exits.
 *
 * Contract: ranges are registered before any vCPU runs and never change
 * afterwards, so dispatch takes no lock. Things that move at run time (PCI
 * BARs) are decoded by their owner behind one static range (the PCI windows).
 * A handler gets the offset inside its range; reads must fill all len bytes. */
#ifndef ISLE_VMM_BUS_H
#define ISLE_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*bus_fn)(void *opaque, uint64_t offset, void *data, unsigned int len,
		       bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t size;
	bus_fn fn;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 32

struct bus {
	const char *name;  /* "pio" or "mmio", for messages */
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned int nr;   /* sorted by base */
};

void bus_init(struct bus *b, const char *name);
/* -EINVAL for an empty or wrapping range, -EEXIST on overlap, -ENOSPC when full. */
int bus_register(struct bus *b, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
		 const char *name);
/* Returns 0, or -ENOENT when no range covers [addr, addr+len) (reads then
 * see all-ones, writes are dropped). */
int bus_dispatch(const struct bus *b, uint64_t addr, void *data, unsigned int len,
		 bool is_write);

#endif

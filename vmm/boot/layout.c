/* Computes the guest memory layout and its e820 map (see vmm/boot/layout.h).
 * The map says exactly what the memory slots hold: RAM where there is RAM,
 * reserved where RAM holds firmware-ish data (EBDA, ACPI area) or where the
 * ECAM window sits, and nothing at all for holes. */
#include <errno.h>
#include <string.h>

#include "isle/util.h"
#include "boot/layout.h"

static void layout_add(struct layout *l, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size && l->e820_nr < E820_MAX)
		l->e820[l->e820_nr++] = (struct e820_entry){ addr, size, type };
}

int layout_init(struct layout *l, uint64_t ram_size)
{
	memset(l, 0, sizeof(*l));
	if (ram_size < LAYOUT_MIN_RAM || ram_size % (4 * KiB))
		return -EINVAL;
	l->ram_size = ram_size;
	l->low_size = MIN(ram_size, LAYOUT_LOWMEM_MAX);
	l->high_size = ram_size - l->low_size;
	l->mmio64_base = ALIGN_UP(LAYOUT_4G + l->high_size, GiB);
	l->mmio64_size = LAYOUT_MMIO64_SIZE;

	layout_add(l, 0, LAYOUT_EBDA, E820_RAM);
	layout_add(l, LAYOUT_EBDA, LAYOUT_VGA_HOLE - LAYOUT_EBDA, E820_RESERVED);
	layout_add(l, LAYOUT_ACPI, LAYOUT_HIGH_MEM - LAYOUT_ACPI, E820_RESERVED);
	layout_add(l, LAYOUT_HIGH_MEM, l->low_size - LAYOUT_HIGH_MEM, E820_RAM);
	layout_add(l, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, E820_RESERVED);
	layout_add(l, LAYOUT_4G, l->high_size, E820_RAM);
	return 0;
}

int layout_slots(const struct layout *l, struct layout_slot *slots, unsigned int max)
{
	struct layout_slot all[] = {
		{ 0, LAYOUT_VGA_HOLE, 0 },
		{ LAYOUT_ACPI, l->low_size - LAYOUT_ACPI, LAYOUT_ACPI },
		{ LAYOUT_4G, l->high_size, l->low_size },
	};
	unsigned int n = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(all); i++) {
		if (!all[i].size)
			continue;
		if (n >= max)
			return -ENOSPC;
		slots[n++] = all[i];
	}
	return (int)n;
}

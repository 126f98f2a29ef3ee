/* Shared by the loader unit tests: a hand-built layout of low RAM only, with
 * the legacy holes below 1 MiB. Hand-built so those tests do not move when
 * layout.c does; each test file also has one case over layout_init's map. */
#ifndef ISLE_TESTS_LOADER_ENV_H
#define ISLE_TESTS_LOADER_ENV_H

#include "boot/layout.h"

static inline void loader_env_layout(struct layout *l, uint64_t ram_size)
{
	*l = (struct layout){ .ram_size = ram_size, .low_size = ram_size };
	l->e820[0] = (struct e820_entry){ 0, LAYOUT_EBDA, E820_RAM };
	l->e820[1] = (struct e820_entry){ LAYOUT_EBDA, LAYOUT_VGA_HOLE - LAYOUT_EBDA,
					  E820_RESERVED };
	l->e820[2] = (struct e820_entry){ LAYOUT_ACPI, LAYOUT_ACPI_SIZE, E820_RESERVED };
	l->e820[3] = (struct e820_entry){ LAYOUT_HIGH_MEM, ram_size - LAYOUT_HIGH_MEM,
					  E820_RAM };
	l->e820_nr = 4;
}

#endif

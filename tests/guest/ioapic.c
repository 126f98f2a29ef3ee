/* The test guest's IOAPIC access (guest.h): the MADT's first IOAPIC and its
 * indirect registers, for the scenarios that route interrupts through it. */
#include "guest.h"

#define MADT_IOAPIC 1
#define IOREGSEL    0x00
#define IOWIN       0x10

bool ioapic_find(uint64_t *base, uint32_t *gsi_base, uint8_t *id)
{
	const struct acpi_header *h = acpi_find("APIC");
	const uint8_t *p, *end;

	if (!h || h->length < sizeof(*h) + 8)
		return false;
	p = (const uint8_t *)h + sizeof(*h) + 8;
	end = (const uint8_t *)h + h->length;
	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		if (p[0] == MADT_IOAPIC && p[1] >= 12) {
			*base = get_le32(p + 4);
			*gsi_base = get_le32(p + 8);
			if (id)
				*id = p[2];
			return true;
		}
	}
	return false;
}

uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
	mmio_write32(base + IOREGSEL, reg);
	return mmio_read32(base + IOWIN);
}

void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
	mmio_write32(base + IOREGSEL, reg);
	mmio_write32(base + IOWIN, v);
}

void ioapic_rte_write(uint64_t base, unsigned int pin, uint32_t hi, uint32_t lo)
{
	ioapic_write(base, IOAPIC_REG_RTE(pin) + 1, hi);
	ioapic_write(base, IOAPIC_REG_RTE(pin), lo);
}

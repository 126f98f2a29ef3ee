/* ACPI table set: RSDP, XSDT, FADT (hardware-reduced), MADT, MCFG and the
 * DSDT compiled from vmm/dsdt.asl by iasl at build time. One module builds the
 * whole set so later features (DMAR for VT-d) add a table in one place.
 *
 * Contract: acpi_build() lays the tables out at cfg->base inside buf (which is
 * the guest-visible image of [base, base + size)), fixes every checksum and
 * pointer, and returns the RSDP's guest-physical address through *rsdp. */
#ifndef ISLE_VMM_ACPI_H
#define ISLE_VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Fixed hardware-reduced ACPI registers (I/O ports). */
#define ACPI_SLEEP_CONTROL_PORT 0x3c0
#define ACPI_SLEEP_STATUS_PORT  0x3c1
#define ACPI_RESET_PORT         0xcf9
#define ACPI_RESET_VALUE        0x06
#define ACPI_S5_SLP_TYP         5       /* matches _S5 in dsdt.asl */

struct acpi_config {
	uint64_t base;          /* guest-physical address of buf[0] */
	unsigned int nr_cpus;   /* one LAPIC entry each, APIC ids 0..n-1 */
	uint64_t ecam_base;
	unsigned int ecam_buses; /* buses 0 .. ecam_buses-1 */
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
	uint16_t pio_base, pio_size;
	uint64_t ioapic_base;
	uint64_t lapic_base;
};

/* Returns total bytes used, or -ENOSPC if size is too small. */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t *rsdp);

/* Sum of bytes mod 256 (0 for a valid table). */
uint8_t acpi_checksum(const void *p, size_t len);

#endif

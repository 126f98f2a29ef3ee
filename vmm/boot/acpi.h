/* ACPI table set: RSDP, XSDT, FADT (hardware-reduced), MADT, MCFG and the
 * DSDT compiled from vmm/boot/dsdt.asl by iasl at build time, and a DMAR for
 * VT-d when asked. One module builds the whole set so a table is added in one place.
 *
 * Contract: acpi_build() lays the tables out at cfg->base inside buf (which is
 * the guest-visible image of [base, base + size)), fixes every checksum and
 * pointer, and returns the RSDP's guest-physical address through *rsdp. */
#ifndef ISLE_VMM_ACPI_H
#define ISLE_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed hardware-reduced ACPI registers (I/O ports). */
#define ACPI_SLEEP_CONTROL_PORT 0x3c0
#define ACPI_SLEEP_STATUS_PORT  0x3c1
#define ACPI_RESET_PORT         0xcf9
#define ACPI_RESET_VALUE        0x06
#define ACPI_S5_SLP_TYP         5       /* matches _S5 in dsdt.asl */

/* The MADT lists xAPIC entries only (8-bit APIC ids, 0xff is broadcast), so
 * APIC ids 0..254; the IOAPIC takes id nr_cpus. */
#define ACPI_MAX_CPUS           255

/* The DMAR table (Intel VT-d spec 8.1) describing one remapping unit that
 * covers every PCI device (INCLUDE_PCI_ALL) plus the IOAPIC, whose interrupt
 * requests carry source id ioapic_sid. Left zeroed (enabled false), no DMAR
 * table is built and the other tables are unchanged. */
#define ACPI_DMAR_INTR_REMAP    (1u << 0)       /* DMAR flags */
#define ACPI_DMAR_X2APIC_OPT_OUT (1u << 1)      /* never set: x2APIC is allowed */

struct acpi_dmar {
	bool enabled;
	unsigned int host_width; /* address width in bits: 39 or 48 */
	bool intr_remap;        /* sets ACPI_DMAR_INTR_REMAP */
	uint64_t drhd_base;     /* register page: 4 KiB aligned, below 2^host_width */
	uint8_t ioapic_id;      /* must be the MADT's IOAPIC id (nr_cpus) */
	uint16_t ioapic_sid;    /* bus << 8 | device << 3 | function */
};

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
	struct acpi_dmar dmar;  /* optional: VT-d */
};

/* \_SB.PCI0._CRS advertises buses 0..ecam_buses-1, ports 0-0xcf7, the
 * config ports 0xcf8-0xcff, [pio_base, +pio_size) (must lie in 0xd00-0xffff),
 * and both MMIO windows (the 64-bit one left out when its size is 0).
 *
 * Returns total bytes used, -ENOSPC if size is too small, or -EINVAL for a
 * configuration the tables cannot describe (nr_cpus 0 or > ACPI_MAX_CPUS,
 * ecam_buses 0 or > 256, empty or overflowing windows, LAPIC/IOAPIC/32-bit
 * window above 4 GiB; with dmar.enabled, a width other than 39 or 48, a
 * register page that is unaligned or beyond the width, or an ioapic_id
 * other than nr_cpus) or a DSDT template whose placeholders are broken. */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t *rsdp);

/* Sum of bytes mod 256 (0 for a valid table). */
uint8_t acpi_checksum(const void *p, size_t len);

/* Exposed for the unit tests: the offset in aml[0, len) of the 8 value bytes
 * of the one QWordConst (0x0e + 8 LE bytes) equal to magic, or -EINVAL if
 * it occurs zero times or more than once. */
int acpi_aml_find_qword(const uint8_t *aml, size_t len, uint64_t magic);

#endif

/* Constants shared by vmm/boot/dsdt.asl (through the iasl preprocessor) and
 * vmm/boot/acpi.c (owner: acpi.c).
 *
 * The DSDT is compiled at build time, but the PCI windows and the ECAM size
 * are only known at run time. dsdt.asl therefore names each run-time value
 * with one of the placeholders below; iasl encodes each as a QWordConst
 * (0x0e + 8 little-endian bytes), and acpi_build() finds each exactly once in
 * the AML and overwrites its 8 bytes. The high 48 bits are a fixed tag no
 * sane address or size has, the low 16 bits tell the placeholders apart.
 *
 * Contract: this file holds nothing but #define lines and comments, so the
 * iasl preprocessor can read it too (no C suffixes such as ULL). */
#ifndef ISLE_VMM_ACPI_DSDT_H
#define ISLE_VMM_ACPI_DSDT_H

#define DSDT_MAGIC_TAG          0x15EEACD1D5D70000  /* "isle ACPI DSDT" */
#define DSDT_MAGIC_MASK         0xFFFFFFFFFFFF0000

#define DSDT_MAGIC_BUSES        0x15EEACD1D5D70001  /* ECAM bus count */
#define DSDT_MAGIC_PIO_BASE     0x15EEACD1D5D70002  /* PCI I/O window */
#define DSDT_MAGIC_PIO_SIZE     0x15EEACD1D5D70003
#define DSDT_MAGIC_MMIO32_BASE  0x15EEACD1D5D70004  /* 32-bit MMIO window */
#define DSDT_MAGIC_MMIO32_SIZE  0x15EEACD1D5D70005
#define DSDT_MAGIC_MMIO64_BASE  0x15EEACD1D5D70006  /* 64-bit MMIO window */
#define DSDT_MAGIC_MMIO64_SIZE  0x15EEACD1D5D70007
#define DSDT_MAGIC_ECAM_BASE    0x15EEACD1D5D70008  /* ECAM reservation */
#define DSDT_MAGIC_ECAM_SIZE    0x15EEACD1D5D70009

/* ACPI PCI hotplug and the power button (vmm/devices/hotplug.c): four
 * dword registers at this port, and the Generic Event Device's interrupt
 * (an edge on this IOAPIC input). */
#define DSDT_HOTPLUG_PORT       0x0AE0
#define DSDT_HOTPLUG_LEN        0x10
#define DSDT_GED_IRQ            9

/* \_S5 SLP_TYP; acpi.c checks it equals ACPI_S5_SLP_TYP (vmm/boot/acpi.h). */
#define DSDT_S5_SLP_TYP         5

#endif

/* The isle test device, shared by the VMM (vmm/devices/testdev.c) and the test guest.
 * Freestanding: only fixed-width types.
 *
 * ISA part (also present in QEMU as isa-debug-exit at 0xf4):
 *   port 0xf4, write: the guest is done; isle exits with (value & 0xff).
 *   port 0xf8, write (32-bit): guest-physical address (< 4 GiB) of a
 *     struct testdev_report; isle records it (isle-only; QEMU ignores it).
 *   ports 0x2000-0x2017, byte writes: ISA IRQ line n (port 0x2000 + n) is
 *     set to (value != 0), as QEMU's pc-testdev ("-device pc-testdev")
 *     does; reads return 0. QEMU only has ISA lines 0-15 there (and aborts
 *     on 16-23), isle drives IOAPIC pins 16-23 too; IRQ 0 is pin 2.
 * PCI part (isle only), vendor:device 1234:1510, class ff0000:
 *   BAR0  32-bit MMIO, 4 KiB: registers below
 *   BAR1  I/O, 32 bytes: reads 0 (exists to exercise I/O BAR sizing)
 *   BAR2  64-bit prefetchable MMIO, 1 MiB: RAM-like scratch is not provided; reads 0
 *   BAR4  32-bit MMIO, 4 KiB: MSI-X table at 0, PBA at 0x800, 4 vectors */
#ifndef ISLE_TESTDEV_H
#define ISLE_TESTDEV_H

#include <stdint.h>

#define TESTDEV_EXIT_PORT    0xf4
#define TESTDEV_REPORT_PORT  0xf8
#define TESTDEV_IRQ_PORT     0x2000
#define TESTDEV_IRQ_LINES    24

#define TESTDEV_VENDOR       0x1234
#define TESTDEV_DEVICE       0x1510
#define TESTDEV_CLASS        0xff0000

#define TESTDEV_BAR0_SIZE    0x1000
#define TESTDEV_BAR1_SIZE    0x20
#define TESTDEV_BAR2_SIZE    0x100000
#define TESTDEV_BAR4_SIZE    0x1000
#define TESTDEV_MSIX_VECTORS 4
#define TESTDEV_MSIX_TABLE   0x0
#define TESTDEV_MSIX_PBA     0x800

/* BAR0 registers (32-bit). */
#define TESTDEV_REG_MAGIC    0x00  /* RO: TESTDEV_MAGIC */
#define TESTDEV_REG_DOORBELL 0x04  /* WO: raise MSI-X vector (value) */
#define TESTDEV_REG_COUNT    0x08  /* RO: doorbells accepted */
#define TESTDEV_REG_SCRATCH  0x0c  /* RW */
#define TESTDEV_MAGIC        0x454c5349u  /* "ISLE" */

/* Report kinds. */
#define TESTDEV_REPORT_PASS    1
#define TESTDEV_REPORT_FAIL    2
#define TESTDEV_REPORT_SKIP    3
#define TESTDEV_REPORT_SUMMARY 4   /* pass/fail/skip hold the guest's totals */
#define TESTDEV_REPORT_MAGIC   0x54504552u /* "REPT" */

struct testdev_report {
	uint32_t magic;
	uint32_t kind;
	uint32_t pass, fail, skip;  /* totals so far */
	uint32_t text_len;          /* bytes used in text, ≤ sizeof(text) */
	char text[200];
};

#endif

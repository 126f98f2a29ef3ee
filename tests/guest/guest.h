/* Interfaces between the test guest's modules: boot information and command
 * line (main.c), COM1 (serial.c), TSC timing (timer.c), interrupts and the
 * LAPIC (irq.c), ACPI tables (acpi.c), PCI configuration space (pci.c), and
 * the scenario table entries (test_*.c). */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/pvh.h"
#include "isle/util.h"

#include "arch.h"
#include "libc.h"
#include "report.h"

/* ---- boot information (main.c) ------------------------------------ */

#define BOOT_MEMMAP_MAX  64
#define BOOT_CMDLINE_MAX 1024

/* Copies of what the loader handed us, taken before anything (the SMP
 * trampoline, for one) can overwrite low memory. */
struct boot_info {
	struct hvm_start_info start;        /* as found at boot_start_info */
	uint64_t start_paddr;
	struct hvm_memmap_table_entry memmap[BOOT_MEMMAP_MAX];
	uint32_t memmap_nr;                 /* entries copied */
	char cmdline[BOOT_CMDLINE_MAX];
	bool cmdline_truncated;
};

extern struct boot_info boot;
/* Physical address of hvm_start_info, stored by crt0.S from %ebx. */
extern uint64_t boot_start_info;
/* Image bounds from the linker script. */
extern char __image_start[], __image_end[];

/* Value of key=value on the command line (in a static buffer, valid until
 * the next call), or NULL. A bare word `key` yields "". */
const char *cmdline_get(const char *key);
uint64_t cmdline_get_u64(const char *key, uint64_t dflt);

/* Writes the exit code to the test device (QEMU: isa-debug-exit) and never
 * returns. 0 pass, 1 fail, 77 skipped. */
__attribute__((noreturn)) void guest_exit(int code);

#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_SKIP 77

/* True if CPUID leaf 0x40000000 carries isle's signature. */
bool cpu_on_isle(void);

/* ---- serial console (serial.c) ------------------------------------ */

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);

/* ---- timing (timer.c) --------------------------------------------- */

/* Finds the TSC frequency: hypervisor timing leaf, else PIT channel 2,
 * else CPUID 0x15/0x16, else a guess. */
void timer_calibrate(void);
/* The individual sources (0 if unavailable), for cross-checks. */
uint64_t timer_hv_tsc_khz(void);
uint64_t timer_pit_tsc_khz(void);
const char *timer_pit_problem(void);
uint64_t timer_tsc_khz(void);
const char *timer_source(void);      /* how the frequency was found */
uint64_t timer_deadline_us(uint64_t us);
bool timer_expired(uint64_t deadline);
void timer_delay_us(uint64_t us);
uint64_t timer_elapsed_us(uint64_t tsc_start);

/* ---- interrupts and LAPIC (irq.c) --------------------------------- */

/* CPUID executed in ring 0 (via r0call), the vCPU's view everywhere. */
struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t sub);
struct cpuid_regs cpuid(uint32_t leaf);

/* Moves the legacy PICs off the exception vectors and masks them. */
void irq_init(void);

/* Interrupts are taken only inside these: ring 0 arms a LAPIC timer
 * one-shot as a bound, executes sti; hlt; cli, and returns to ring 3 after
 * the first interrupt (or the timer); if the LAPIC timer does not count,
 * a short sti/pause/cli window replaces the hlt. irq_wait_count() repeats that until
 * irq_counts[vector] moves past `before` or us elapse; it returns the final
 * count. Works the same natively, under TCG and under PVM (which injects
 * interrupts only into ring 0). */
void irq_wait_us(uint64_t us);
uint32_t irq_wait_count(unsigned int vector, uint32_t before, uint64_t us);
/* Waits us, taking any interrupt that arrives meanwhile. */
void irq_idle_us(uint64_t us);

#define IRQ_WAKEUP_VECTOR 0xee

/* Interrupts taken per vector (>= 32); bumped by the ring-0 handler on
 * whichever CPU took them (APs idle with interrupts on once started). */
extern volatile uint32_t irq_counts[256];
/* Per-vector handler options, and the APIC id of the CPU that last took a
 * vector flagged IRQ_TRACK_CPU. */
#define IRQ_NO_EOI     0x01   /* the test writes APIC_EOI itself */
#define IRQ_TRACK_CPU  0x02
extern volatile uint8_t irq_flags[256];
extern volatile uint32_t irq_last_apic[256];
/* Vector and error code of the last exception recovered via .extable
 * (-1 when none). */
extern volatile int exc_vector;
extern volatile uint64_t exc_error;

/* Executes ud2 / a ring-0-only instruction (rdmsr) in ring 3 and returns
 * the vector that was caught and fixed up (-1 if nothing trapped). */
int exc_probe_ud(void);
int exc_probe_gp(uint64_t *error);

#define APIC_BASE      0xfee00000u
#define APIC_ID        0x20
#define APIC_VERSION   0x30
#define APIC_TPR       0x80
#define APIC_EOI       0xb0
#define APIC_SVR       0xf0
#define APIC_ISR       0x100   /* 8 registers, 0x10 apart */
#define APIC_ESR       0x280
#define APIC_ICR_LO    0x300
#define APIC_ICR_HI    0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_ICR 0x380
#define APIC_TIMER_CCR 0x390
#define APIC_TIMER_DCR 0x3e0
#define APIC_LVT_MASKED 0x10000
#define APIC_SPURIOUS_VECTOR 0xff

#define APIC_ICR_INIT      0x00000500
#define APIC_ICR_STARTUP   0x00000600
#define APIC_ICR_PENDING   0x00001000
#define APIC_ICR_ASSERT    0x00004000
#define APIC_ICR_LEVEL     0x00008000
#define APIC_ICR_SELF      0x00040000   /* destination shorthand */

uint32_t apic_read(uint32_t reg);
void apic_write(uint32_t reg, uint32_t v);
void apic_enable(void);
uint32_t apic_id(void);
/* Sends an IPI and waits (bounded) for the ICR to go idle. */
bool apic_send_ipi(uint32_t dest, uint32_t icr_lo);

/* ---- IOAPIC (ioapic.c) -------------------------------------------- */

#define IOAPIC_REG_VER       0x01
#define IOAPIC_REG_RTE(pin)  (0x10 + 2 * (pin))
#define IOAPIC_RTE_DELIVS    (1u << 12)
#define IOAPIC_RTE_REMOTE_IRR (1u << 14)
#define IOAPIC_RTE_LEVEL     (1u << 15)
#define IOAPIC_RTE_MASKED    (1u << 16)

/* The MADT's first IOAPIC: its base, GSI base and id (id may be NULL). */
bool ioapic_find(uint64_t *base, uint32_t *gsi_base, uint8_t *id);
uint32_t ioapic_read(uint64_t base, uint32_t reg);
void ioapic_write(uint64_t base, uint32_t reg, uint32_t v);
/* Writes pin's entry, the high dword (destination) first. */
void ioapic_rte_write(uint64_t base, unsigned int pin, uint32_t hi, uint32_t lo);

/* ---- ACPI (acpi.c) ------------------------------------------------- */

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;          /* revision >= 2 from here on */
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

bool acpi_checksum_ok(const void *p, size_t len);
/* Locates the RSDP (start_info first, then the BIOS area). NULL if none. */
const struct acpi_rsdp *acpi_rsdp(void);
/* The root table in use (XSDT if the RSDP offers one, else RSDT). */
const struct acpi_header *acpi_root(void);
unsigned int acpi_table_count(void);
const struct acpi_header *acpi_table(unsigned int i);
const struct acpi_header *acpi_find(const char *sig);

struct acpi_ecam {
	uint64_t base;
	uint16_t segment;
	uint8_t bus_start, bus_end;
};
bool acpi_mcfg_ecam(struct acpi_ecam *out);

struct acpi_cpu {
	uint32_t apic_id;
	uint32_t uid;
	bool enabled;
	bool x2apic;              /* from a type-9 entry */
};
/* Fills up to max CPUs from the MADT; returns how many exist (-1 if no
 * MADT). *lapic_addr gets the MADT's local APIC address. */
int acpi_madt_cpus(struct acpi_cpu *out, int max, uint32_t *lapic_addr);

/* How to enter S5: SLP_TYP | SLP_EN written to the hardware-reduced
 * sleep control register (8-bit), or SLP_TYP << 10 | SLP_EN << 13 to
 * PM1a_CNT (16-bit) on a full-ACPI machine. I/O-space registers only. */
struct acpi_s5 {
	bool hw_reduced;
	uint16_t port;
	uint8_t slp_typ;
};
bool acpi_sleep_s5(struct acpi_s5 *out);
/* The FADT's RESET_REG (I/O space) and RESET_VALUE, if it has one. */
bool acpi_reset_reg(uint16_t *port, uint8_t *value);

/* ---- PCI (pci.c) -------------------------------------------------- */

#define PCI_BDF(b, d, f)  ((uint16_t)((b) << 8 | (d) << 3 | (f)))
#define PCI_BUS(bdf)      ((bdf) >> 8)
#define PCI_DEV(bdf)      (((bdf) >> 3) & 0x1f)
#define PCI_FN(bdf)       ((bdf) & 7)

#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_CLASS_REV     0x08
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYSTEM     0x2c
#define PCI_CAP_PTR       0x34

#define PCI_CMD_IO        0x0001
#define PCI_CMD_MEM       0x0002
#define PCI_CMD_MASTER    0x0004
#define PCI_CMD_INTX_OFF  0x0400
#define PCI_STATUS_CAPS   0x0010

#define PCI_CAP_MSIX      0x11

/* Uses the MCFG table; false when there is none. */
bool pci_init(void);
const struct acpi_ecam *pci_ecam(void);

uint32_t pci_read32(uint16_t bdf, uint16_t off);
uint16_t pci_read16(uint16_t bdf, uint16_t off);
uint8_t pci_read8(uint16_t bdf, uint16_t off);
void pci_write32(uint16_t bdf, uint16_t off, uint32_t v);
void pci_write16(uint16_t bdf, uint16_t off, uint16_t v);
/* The legacy 0xcf8/0xcfc mechanism, to cross-check ECAM. */
uint32_t pci_cf8_read32(uint16_t bdf, uint16_t off);
void pci_cf8_write32(uint16_t bdf, uint16_t off, uint32_t v);

struct pci_dev {
	uint16_t bdf;
	uint16_t vendor, device;
	uint32_t class_rev;       /* class << 8 | revision */
	uint8_t header_type;      /* without the multifunction bit */
};
/* Enumerates bus 0 (functions of multifunction devices included). */
int pci_scan_bus0(struct pci_dev *out, int max);
/* Finds vendor:device on bus 0; -1 if absent. */
int pci_find(uint16_t vendor, uint16_t device);
/* The end of the highest memory BAR below 4 GiB on bus 0 (a free place
 * above every device's). */
uint64_t pci_mmio32_used_end(void);
/* The nth (0: first) function with these ids, in bus order, or -1. */
int pci_find_nth(uint16_t vendor, uint16_t device, unsigned int nth);

struct pci_bar {
	bool present;
	bool io;
	bool is64;
	bool prefetch;
	uint64_t addr;            /* as programmed */
	uint64_t size;
	uint64_t readback;        /* raw all-ones readback (both halves) */
};
#define PCI_BAR_MAX 6
unsigned int pci_bar_count(uint16_t bdf);
/* Sizes BAR idx with decode disabled and restores it; returns how many
 * BAR slots it used (2 for a 64-bit BAR, else 1). */
int pci_bar_probe(uint16_t bdf, unsigned int idx, struct pci_bar *bar);
/* Returns the address of memory BAR idx, giving it one from the 32-bit
 * window first if it has none, and enables memory decode. 0 on failure. */
uint64_t pci_bar_map(uint16_t bdf, unsigned int idx);
/* Offset of capability id in the list, 0 if absent. */
uint8_t pci_cap_find(uint16_t bdf, uint8_t id);

/* ---- identity map above 4 GiB (paging.c) --------------------------- */

/* Maps 4-512 GiB with 1 GiB pages if the CPU has them (CPUID
 * 0x80000001 EDX bit 26); called once before the scenario runs. */
void paging_init(void);
bool paging_gib_pages(void);
/* Makes [addr, addr + len) reachable (uncached unless the boot map calls
 * it RAM): already true below 4 GiB and with 1 GiB pages, else 2 MiB
 * pages from a pool. false beyond 512 GiB or when the pool runs out. */
bool paging_map(uint64_t addr, uint64_t len);

/* ---- scenarios (test_*.c, registered in main.c) -------------------- */

void test_selftest_run(void);
void test_pci_run(void);
void test_msix_run(void);
void test_smp_run(void);
void test_ioapic_run(void);
void test_edu_run(void);
void test_vtd_run(void);
void test_nvme_run(void);
void test_ivshmem_run(void);
/* test_smp.c: the trampoline, and INIT/SIPI/SIPI for one AP (true once
 * more than `before` APs have checked in). */
bool smp_tramp_install(void);
bool smp_ap_start(uint32_t id, uint32_t before);
void test_console_run(void);
void test_idle_run(void);
void test_vfiobench_run(void);
void test_poweroff_run(void);
void test_reset_run(void);
void test_triplefault_run(void);

/* crt0.S: AP bookkeeping and the real-mode trampoline. */
extern volatile uint32_t smp_ap_next, smp_ap_count;
extern volatile uint32_t smp_ap_apic_ids[SMP_MAX_APS];
extern const char smp_tramp_start[], smp_tramp_end[];

#endif

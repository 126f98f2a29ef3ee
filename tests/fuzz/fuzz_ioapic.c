/* libFuzzer target for vmm/irq/ioapic.c (gsi.c underneath, vm_fd = -1): the
 * guest's MMIO accesses to the IOAPIC window interleaved with device line
 * changes and EOIs, as vCPU threads would make them.
 *
 * Input: 8-byte records <op u8, width u8, offset u16, value u32>
 * (little-endian). op % 4: 0 MMIO read, 1 MMIO write (offset & 0xfff, width
 * as given, so bad sizes and offsets are exercised), 2 ioapic_set_irq(offset
 * % 26, value & 1) (pins 24-25 must be refused), 3 ioapic_eoi(value & 0xff).
 * Seeds: corpus/ioapic (gen_ioapic_seeds.py).
 *
 * Checks beyond ASan/UBSan (abort on violation): the version and
 * arbitration registers hold their values; no bit outside an RTE's write
 * mask (plus remote IRR) is ever set, nor outside the id field of ID; an
 * edge entry never has remote IRR; a masked level pin is never delivered;
 * only pins 0-23 have line state; the 24 routes stay in the table at GSI =
 * pin with the IOAPIC's requester id; destroy empties the table. */
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "irq/ioapic.h"

#define REC_SIZE 8
#define MAX_RECS 2048

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gsi_table gt;
static struct ioapic io;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	return 0;
}

static void check(const uint64_t *before)
{
	if (io.regs[IOAPIC_REG_VER] != 0x00170011u || io.regs[IOAPIC_REG_ARB] != io.regs[IOAPIC_REG_ID] ||
	    io.regs[IOAPIC_REG_ID] & ~0x0f000000u || io.lines >> IOAPIC_PINS || gt.nr != IOAPIC_PINS)
		abort();
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint32_t lo = io.regs[IOAPIC_REG_RTE + 2 * pin], hi = io.regs[IOAPIC_REG_RTE + 2 * pin + 1];

		if (lo & ~(0x0001afffu | (uint32_t)IOAPIC_RTE_REMOTE_IRR) || hi & 0xffffu)
			abort();
		if (!(lo & IOAPIC_RTE_LEVEL) && (lo & IOAPIC_RTE_REMOTE_IRR))
			abort();
		if ((lo & IOAPIC_RTE_MASKED) && (lo & IOAPIC_RTE_LEVEL) &&
		    io.pins[pin].delivered != before[pin])
			abort();
		if (io.pins[pin].route.gsi != (int)pin || io.pins[pin].route.rid != IOAPIC_RID ||
		    gt.routes[pin] != &io.pins[pin].route)
			abort();
	}
}

static void do_record(const uint8_t *r)
{
	uint8_t op = r[0] % 4, width = r[1];
	uint16_t off = get_le16(r + 2);
	uint32_t val = get_le32(r + 4);
	uint8_t buf[16];
	uint64_t before[IOAPIC_PINS];
	unsigned int len = width % 17;

	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		before[pin] = io.pins[pin].delivered;
	switch (op) {
	case 0:
		ioapic_mmio(&io, off & 0xfff, buf, len ? len : 1, false);
		break;
	case 1:
		memset(buf, 0, sizeof(buf));
		put_le32(buf, val);
		ioapic_mmio(&io, off & 0xfff, buf, len ? len : 1, true);
		break;
	case 2:
		if (ioapic_set_irq(&io, off % 26u, (int)(val & 1)) != (off % 26u < 24 ? 0 : -22))
			abort();
		break;
	default:
		ioapic_eoi(&io, (uint8_t)val);
		break;
	}
	check(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = MIN(size / REC_SIZE, (size_t)MAX_RECS);

	if (gsi_init(&gt, -1) || ioapic_init(&io, &gt, NULL, 2))
		abort();
	for (size_t i = 0; i < n; i++)
		do_record(data + i * REC_SIZE);
	ioapic_destroy(&io);
	if (gt.nr != 0)
		abort();
	gsi_destroy(&gt);
	return 0;
}

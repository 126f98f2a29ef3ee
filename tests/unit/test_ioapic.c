/* Unit tests for vmm/irq/ioapic.c: register access through IOREGSEL/IOWIN
 * (version, id/arbitration, RTE write masks, read-only remote IRR and
 * delivery status, hostile offsets and sizes), the per-pin MSI routes at
 * GSI = pin built from the RTEs, edge and level delivery, masking, remote
 * IRR and EOI, the 82093AA edge-flip that clears a stuck remote IRR,
 * resample irqfds through an event loop, and a translate hook that makes a
 * pin undeliverable. KVM is stubbed as gsi.c allows (vm_fd < 0): deliveries
 * are counted in pins[n].delivered. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "irq/ioapic.h"

static struct gsi_table gt;
static struct evloop loop;
static struct ioapic io;

static void setup(void)
{
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL_FATAL(ioapic_init(&io, &gt, &loop, 3), 0);
}

static void teardown(void)
{
	ioapic_destroy(&io);
	CU_ASSERT_EQUAL(gt.nr, 0);
	evloop_fini(&loop);
	gsi_destroy(&gt);
}

static uint32_t mmio_rd(uint64_t off, unsigned int len)
{
	uint8_t b[8];

	memset(b, 0xcc, sizeof(b));
	ioapic_mmio(&io, off, b, len, false);
	return len >= 4 ? get_le32(b) : b[0];
}

static void mmio_wr(uint64_t off, uint32_t v, unsigned int len)
{
	uint8_t b[8] = { 0 };

	put_le32(b, v);
	ioapic_mmio(&io, off, b, len, true);
}

static uint32_t reg_rd(uint32_t idx)
{
	mmio_wr(IOAPIC_IOREGSEL, idx, 4);
	return mmio_rd(IOAPIC_IOWIN, 4);
}

static void reg_wr(uint32_t idx, uint32_t v)
{
	mmio_wr(IOAPIC_IOREGSEL, idx, 4);
	mmio_wr(IOAPIC_IOWIN, v, 4);
}

static uint64_t rte_rd(unsigned int pin)
{
	return (uint64_t)reg_rd(IOAPIC_REG_RTE + 2 * pin + 1) << 32 |
	       reg_rd(IOAPIC_REG_RTE + 2 * pin);
}

/* As Linux does: the high dword (destination) first, then the low one. */
static void rte_wr(unsigned int pin, uint64_t v)
{
	reg_wr(IOAPIC_REG_RTE + 2 * pin + 1, (uint32_t)(v >> 32));
	reg_wr(IOAPIC_REG_RTE + 2 * pin, (uint32_t)v);
}

static const struct kvm_irq_routing_entry *route(int gsi)
{
	for (unsigned int i = 0; i < gt.nr; i++)
		if (gt.entries[i].type == KVM_IRQ_ROUTING_MSI && gt.entries[i].gsi == (uint32_t)gsi)
			return &gt.entries[i];
	return NULL;
}

#define DEST(id) ((uint64_t)(id) << 56)

static void test_ioapic_registers(void)
{
	setup();
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_VER), 0x00170011u);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_ID), 3u << 24);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_ARB), 3u << 24);
	reg_wr(IOAPIC_REG_ID, 0xffffffffu);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_ID), 0x0f000000u);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_ARB), 0x0f000000u);
	reg_wr(IOAPIC_REG_VER, 0);
	reg_wr(IOAPIC_REG_ARB, 0);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_VER), 0x00170011u);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_REG_ARB), 0x0f000000u);
	/* IOREGSEL keeps 8 bits and reads back. */
	mmio_wr(IOAPIC_IOREGSEL, 0x1234, 4);
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_IOREGSEL, 4), 0x34u);

	/* Reset: every entry masked, edge, vector 0. */
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		CU_ASSERT_EQUAL(rte_rd(pin), IOAPIC_RTE_MASKED);
	/* Writable: vector, delivery and destination mode, polarity, trigger,
	 * mask, bits 63-48. Not: delivery status, remote IRR, reserved. */
	rte_wr(7, ~0ULL);
	CU_ASSERT_EQUAL(rte_rd(7), 0xffff00000001afffULL);
	rte_wr(7, IOAPIC_RTE_MASKED);
	CU_ASSERT_EQUAL(rte_rd(7), IOAPIC_RTE_MASKED);

	/* Unimplemented registers read 0 and ignore writes. */
	reg_wr(0x03, 0xffffffffu);
	CU_ASSERT_EQUAL(reg_rd(0x03), 0);
	reg_wr(IOAPIC_NR_REGS, 0xffffffffu);
	CU_ASSERT_EQUAL(reg_rd(IOAPIC_NR_REGS), 0);
	CU_ASSERT_EQUAL(reg_rd(0xff), 0);
	teardown();
}

static void test_ioapic_bad_access(void)
{
	uint8_t b[8];

	setup();
	mmio_wr(IOAPIC_IOREGSEL, IOAPIC_REG_VER, 4);
	/* Wrong sizes and offsets: read 0, writes dropped. */
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_IOWIN, 1), 0);
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_IOWIN + 1, 4), 0);
	CU_ASSERT_EQUAL(mmio_rd(0x20, 4), 0);
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_MMIO_SIZE - 4, 4), 0);
	memset(b, 0xcc, sizeof(b));
	ioapic_mmio(&io, IOAPIC_IOWIN, b, 8, false);
	CU_ASSERT_EQUAL(get_le64(b), 0);
	mmio_wr(IOAPIC_IOREGSEL, IOAPIC_REG_RTE, 2);
	mmio_wr(IOAPIC_IOREGSEL + 4, IOAPIC_REG_RTE, 4);
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_IOREGSEL, 4), IOAPIC_REG_VER);
	mmio_wr(IOAPIC_IOWIN, 0, 2);            /* would unmask nothing anyway */
	CU_ASSERT_EQUAL(mmio_rd(IOAPIC_IOWIN, 4), 0x00170011u);
	CU_ASSERT_EQUAL(ioapic_set_irq(&io, IOAPIC_PINS, 1), -EINVAL);
	CU_ASSERT_EQUAL(ioapic_set_irq(&io, ~0u, 1), -EINVAL);
	ioapic_eoi(&io, 0);
	teardown();
}

static void test_ioapic_routes(void)
{
	const struct kvm_irq_routing_entry *e;

	setup();
	/* GSIs 0-23 are the pins' routes, requester id IOAPIC_RID. */
	CU_ASSERT_EQUAL(gt.nr, IOAPIC_PINS);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		CU_ASSERT_EQUAL(io.pins[pin].route.gsi, (int)pin);
		CU_ASSERT_EQUAL(io.pins[pin].route.rid, IOAPIC_RID);
		CU_ASSERT_PTR_NOT_NULL(route((int)pin));
	}
	/* Level, vector 0x41, fixed, physical destination 2. */
	rte_wr(9, DEST(2) | IOAPIC_RTE_LEVEL | 0x41);
	e = route(9);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee02000u);
	CU_ASSERT_EQUAL(e->u.msi.address_hi, 0);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x8041u);
	/* Edge, lowest priority, logical destination 0x0f. */
	rte_wr(9, DEST(0x0f) | IOAPIC_RTE_DESTMODE | 1ULL << 8 | 0x52);
	CU_ASSERT_EQUAL(route(9)->u.msi.address_lo, 0xfee0f004u);
	CU_ASSERT_EQUAL(route(9)->u.msi.data, 0x0152u);
	/* Masked changes leave the route alone (refreshed on unmask). */
	rte_wr(9, IOAPIC_RTE_MASKED | DEST(1) | 0x60);
	CU_ASSERT_EQUAL(route(9)->u.msi.data, 0x0152u);
	rte_wr(9, DEST(1) | 0x60);
	CU_ASSERT_EQUAL(route(9)->u.msi.address_lo, 0xfee01000u);
	CU_ASSERT_EQUAL(route(9)->u.msi.data, 0x60u);
	/* Remappable format: bits 63-48 come through as the handle. */
	CU_ASSERT_EQUAL(ioapic_rte_msg(0xabcdULL << 48 | IOAPIC_RTE_DESTMODE | 0x33).addr,
			0xfee00000ULL | 0xabcd0 | 4);
	teardown();
}

static void test_ioapic_edge(void)
{
	setup();
	rte_wr(5, 0x30);
	CU_ASSERT_EQUAL(ioapic_set_irq(&io, 5, 1), 0);
	CU_ASSERT_EQUAL(io.pins[5].delivered, 1);
	ioapic_set_irq(&io, 5, 1);              /* no new edge */
	CU_ASSERT_EQUAL(io.pins[5].delivered, 1);
	ioapic_set_irq(&io, 5, 0);
	ioapic_set_irq(&io, 5, 1);
	CU_ASSERT_EQUAL(io.pins[5].delivered, 2);
	ioapic_set_irq(&io, 5, 0);
	CU_ASSERT_EQUAL(rte_rd(5) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* A masked edge is lost, also after the unmask (82093AA). */
	rte_wr(5, IOAPIC_RTE_MASKED | 0x30);
	ioapic_set_irq(&io, 5, 1);
	ioapic_set_irq(&io, 5, 0);
	rte_wr(5, 0x30);
	CU_ASSERT_EQUAL(io.pins[5].delivered, 2);
	/* An EOI of an edge vector changes nothing. */
	ioapic_eoi(&io, 0x30);
	CU_ASSERT_EQUAL(io.pins[5].delivered, 2);
	/* ExtINT has no PIC behind it: not delivered. */
	rte_wr(5, 7ULL << 8);
	ioapic_set_irq(&io, 5, 1);
	CU_ASSERT_EQUAL(io.pins[5].delivered, 2);
	teardown();
}

static void test_ioapic_level_eoi(void)
{
	setup();
	rte_wr(10, IOAPIC_RTE_LEVEL | 0x41);
	ioapic_set_irq(&io, 10, 1);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 1);
	CU_ASSERT(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR);
	/* Remote IRR holds further delivery; the guest cannot clear it. */
	ioapic_set_irq(&io, 10, 1);
	reg_wr(IOAPIC_REG_RTE + 20, IOAPIC_RTE_LEVEL | 0x41);
	CU_ASSERT(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 1);
	ioapic_eoi(&io, 0x42);                  /* another vector */
	CU_ASSERT_EQUAL(io.pins[10].delivered, 1);
	/* EOI with the line still high: delivered again. */
	ioapic_eoi(&io, 0x41);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 2);
	CU_ASSERT(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR);
	/* Line low, then EOI: remote IRR clears, nothing more. */
	ioapic_set_irq(&io, 10, 0);
	ioapic_eoi(&io, 0x41);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 2);
	CU_ASSERT_EQUAL(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR, 0);

	/* A masked level line delivers once unmasked. */
	rte_wr(10, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x41);
	ioapic_set_irq(&io, 10, 1);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 2);
	rte_wr(10, IOAPIC_RTE_LEVEL | 0x41);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 3);
	CU_ASSERT(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR);
	/* Masked while remote IRR is set: the EOI still clears it, and the
	 * high line waits for the unmask. */
	rte_wr(10, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x41);
	ioapic_eoi(&io, 0x41);
	CU_ASSERT_EQUAL(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR, 0);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 3);
	rte_wr(10, IOAPIC_RTE_LEVEL | 0x41);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 4);
	/* The 82093AA trick for a stuck remote IRR: switch to edge and back. */
	ioapic_set_irq(&io, 10, 0);
	rte_wr(10, 0x41);
	CU_ASSERT_EQUAL(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR, 0);
	rte_wr(10, IOAPIC_RTE_LEVEL | 0x41);
	CU_ASSERT_EQUAL(io.pins[10].delivered, 4);
	/* Two level pins sharing a vector both see the EOI. */
	rte_wr(11, IOAPIC_RTE_LEVEL | 0x41);
	ioapic_set_irq(&io, 10, 1);
	ioapic_set_irq(&io, 11, 1);
	ioapic_set_irq(&io, 10, 0);
	ioapic_set_irq(&io, 11, 0);
	ioapic_eoi(&io, 0x41);
	CU_ASSERT_EQUAL(rte_rd(10) & IOAPIC_RTE_REMOTE_IRR, 0);
	CU_ASSERT_EQUAL(rte_rd(11) & IOAPIC_RTE_REMOTE_IRR, 0);
	teardown();
}

static uint64_t efd_take(int fd)
{
	uint64_t c = 0;

	if (read(fd, &c, sizeof(c)) != sizeof(c))
		return 0;
	return c;
}

static void test_ioapic_resample(void)
{
	uint64_t one = 1;
	int trig, res;

	setup();
	trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	res = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(trig >= 0 && res >= 0);
	rte_wr(16, IOAPIC_RTE_LEVEL | 0x61);
	CU_ASSERT_EQUAL(ioapic_resample_add(&io, 16, trig, res), 0);
	CU_ASSERT_EQUAL(ioapic_resample_add(&io, 16, trig, res), -EBUSY);
	CU_ASSERT_EQUAL(ioapic_resample_add(&io, 24, trig, res), -EINVAL);
	CU_ASSERT_EQUAL(ioapic_resample_add(&io, 17, -1, res), -EINVAL);

	/* The device triggers: the loop asserts the pin. */
	CU_ASSERT_EQUAL(write(trig, &one, sizeof(one)), sizeof(one));
	CU_ASSERT(evloop_run_once(&loop, 1000) >= 1);
	CU_ASSERT_EQUAL(io.pins[16].delivered, 1);
	CU_ASSERT(io.lines & 1u << 16);
	CU_ASSERT_EQUAL(efd_take(res), 0);
	/* EOI: deasserted, resample written, nothing re-delivered. */
	ioapic_eoi(&io, 0x61);
	CU_ASSERT_EQUAL(efd_take(res), 1);
	CU_ASSERT_EQUAL(io.lines & 1u << 16, 0);
	CU_ASSERT_EQUAL(rte_rd(16) & IOAPIC_RTE_REMOTE_IRR, 0);
	CU_ASSERT_EQUAL(io.pins[16].delivered, 1);
	/* Still pending at the device: it triggers again. */
	CU_ASSERT_EQUAL(write(trig, &one, sizeof(one)), sizeof(one));
	CU_ASSERT(evloop_run_once(&loop, 1000) >= 1);
	CU_ASSERT_EQUAL(io.pins[16].delivered, 2);

	ioapic_resample_del(&io, 16);
	CU_ASSERT_EQUAL(io.pins[16].trigger_fd, -1);
	ioapic_eoi(&io, 0x61);
	CU_ASSERT_EQUAL(efd_take(res), 0);       /* no longer a resample line */
	close(trig);
	close(res);
	teardown();
}

static int deny_all(void *opaque, uint16_t rid, const struct msi_msg *in, struct msi_msg *out)
{
	return rid == IOAPIC_RID ? -EPERM : 0;
}

static void test_ioapic_undeliverable(void)
{
	setup();
	log_set_level(LOG_ERROR);       /* 24 expected "not deliverable" warnings */
	rte_wr(3, IOAPIC_RTE_LEVEL | 0x71);
	CU_ASSERT_EQUAL(gsi_set_translate(&gt, deny_all, NULL), 0);
	CU_ASSERT(!io.pins[3].route.routed);
	CU_ASSERT_EQUAL(gt.nr, 0);
	/* Not deliverable: no interrupt and no remote IRR that no EOI would
	 * ever clear. */
	ioapic_set_irq(&io, 3, 1);
	CU_ASSERT_EQUAL(io.pins[3].delivered, 0);
	CU_ASSERT_EQUAL(rte_rd(3) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* The remapping table is fixed: the next change of the entry (or a
	 * retranslation) brings it back, and the high line delivers. */
	CU_ASSERT_EQUAL(gsi_set_translate(&gt, NULL, NULL), 0);
	rte_wr(3, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x71);
	rte_wr(3, IOAPIC_RTE_LEVEL | 0x71);
	CU_ASSERT_EQUAL(io.pins[3].delivered, 1);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("ioapic",
		   UNIT_TEST(test_ioapic_registers),
		   UNIT_TEST(test_ioapic_bad_access),
		   UNIT_TEST(test_ioapic_routes),
		   UNIT_TEST(test_ioapic_edge),
		   UNIT_TEST(test_ioapic_level_eoi),
		   UNIT_TEST(test_ioapic_resample),
		   UNIT_TEST(test_ioapic_undeliverable));
}

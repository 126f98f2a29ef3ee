/* Unit tests for vmm/devices/serial.c: output, divisor latch, interrupt identification. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "devices/serial.h"

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v;

	serial_access(s, reg, &v, 1, false);
	return v;
}

static void wr(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_access(s, reg, &v, 1, true);
}

static void test_output_and_flush(void)
{
	int fds[2];
	char buf[64] = { 0 };
	struct serial *s;

	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	s = serial_new(NULL, fds[1]);
	for (const char *p = "hi\nab"; *p; p++)
		wr(s, 0, (uint8_t)*p);
	/* Only the complete line has gone out. */
	CU_ASSERT_EQUAL(read(fds[0], buf, sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(buf, "hi\n");
	serial_flush(s);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT_EQUAL(read(fds[0], buf, sizeof(buf)), 2);
	CU_ASSERT_STRING_EQUAL(buf, "ab");
	CU_ASSERT_EQUAL(rd(s, 5) & 0x60, 0x60);   /* THRE | TEMT */
	serial_free(s);
	close(fds[0]);
	close(fds[1]);
}

static void test_divisor_latch(void)
{
	struct serial *s = serial_new(NULL, -1);

	wr(s, 3, 0x80);          /* DLAB */
	wr(s, 0, 0x01);
	wr(s, 1, 0x00);
	CU_ASSERT_EQUAL(rd(s, 0), 1);
	CU_ASSERT_EQUAL(rd(s, 1), 0);
	wr(s, 3, 0x03);
	CU_ASSERT_EQUAL(s->divisor, 1);
	CU_ASSERT_EQUAL(s->out_len, 0);   /* divisor writes are not output */
	wr(s, 7, 0x42);
	CU_ASSERT_EQUAL(rd(s, 7), 0x42);
	serial_free(s);
}

static void test_interrupts(void)
{
	struct serial *s = serial_new(NULL, -1);
	uint8_t in[100];

	CU_ASSERT_EQUAL(rd(s, 2) & 0x0f, 0x01);    /* nothing pending */
	wr(s, 4, 0x08);                            /* OUT2 */
	wr(s, 1, 0x02);                            /* ETBEI: THRE at once */
	CU_ASSERT_EQUAL(s->irq_level, 1);
	CU_ASSERT_EQUAL(rd(s, 2) & 0x0f, 0x02);
	CU_ASSERT_EQUAL(rd(s, 2) & 0x0f, 0x01);    /* reading IIR cleared it */
	CU_ASSERT_EQUAL(s->irq_level, 0);
	wr(s, 1, 0x03);
	memset(in, 'x', sizeof(in));
	CU_ASSERT_EQUAL(serial_input(s, in, sizeof(in)), sizeof(s->rx));
	CU_ASSERT_EQUAL(rd(s, 2) & 0x0f, 0x04);    /* data available wins */
	CU_ASSERT(rd(s, 5) & 0x01);
	for (size_t i = 0; i < sizeof(s->rx); i++)
		CU_ASSERT_EQUAL(rd(s, 0), 'x');
	CU_ASSERT_FALSE(rd(s, 5) & 0x01);
	wr(s, 4, 0x00);                            /* OUT2 off gates the line */
	wr(s, 0, 'z');
	CU_ASSERT_EQUAL(s->irq_level, 0);
	serial_free(s);
}

static void test_loopback(void)
{
	struct serial *s = serial_new(NULL, -1);

	wr(s, 4, 0x10);
	wr(s, 0, 0x55);
	CU_ASSERT(rd(s, 5) & 0x01);
	CU_ASSERT_EQUAL(rd(s, 0), 0x55);
	CU_ASSERT_EQUAL(s->out_len, 0);
	serial_free(s);
}

void unit_register(void)
{
	UNIT_SUITE("serial", UNIT_TEST(test_output_and_flush), UNIT_TEST(test_divisor_latch),
		   UNIT_TEST(test_interrupts), UNIT_TEST(test_loopback));
}

/* Unit tests for vmm/devices/console.c: the Ctrl-A escape parser, and stdin
 * (a pipe here) into the UART's FIFO with back-pressure, EOF, a hangup
 * while the FIFO is full, and the owner's ended() hook. */
#include <string.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/evloop.h"
#include "devices/console.h"
#include "devices/serial.h"

static void test_console_filter_plain(void)
{
	uint8_t b[] = "hello";
	bool esc = false;
	size_t used, out;

	CU_ASSERT_EQUAL(console_filter(&esc, b, 5, &used, &out), CONSOLE_NONE);
	CU_ASSERT_EQUAL(used, 5);
	CU_ASSERT_EQUAL(out, 5);
	CU_ASSERT_EQUAL(memcmp(b, "hello", 5), 0);
}

static void test_console_filter_escapes(void)
{
	uint8_t b[] = { 'a', 1, 1, 'b', 1, 'z', 'c', 1, 'x', 'd' };
	bool esc = false;
	size_t used, out;

	/* C-a C-a is one C-a; C-a z is dropped; C-a x stops after 9 bytes. */
	CU_ASSERT_EQUAL(console_filter(&esc, b, sizeof(b), &used, &out), CONSOLE_QUIT);
	CU_ASSERT_EQUAL(used, 9);
	CU_ASSERT_EQUAL(out, 4);
	CU_ASSERT_EQUAL(memcmp(b, "a\001bc", 4), 0);
	CU_ASSERT_FALSE(esc);
}

static void test_console_filter_split_escape(void)
{
	uint8_t b1[] = { 'q', 1 }, b2[] = { 'h', 'r' };
	bool esc = false;
	size_t used, out;

	CU_ASSERT_EQUAL(console_filter(&esc, b1, 2, &used, &out), CONSOLE_NONE);
	CU_ASSERT_EQUAL(out, 1);
	CU_ASSERT_TRUE(esc);   /* the escape waits for the next read */
	CU_ASSERT_EQUAL(console_filter(&esc, b2, 2, &used, &out), CONSOLE_HELP);
	CU_ASSERT_EQUAL(used, 1);
	CU_ASSERT_EQUAL(out, 0);
	CU_ASSERT_EQUAL(console_filter(&esc, b2 + 1, 1, &used, &out), CONSOLE_NONE);
	CU_ASSERT_EQUAL(out, 1);
	CU_ASSERT_EQUAL(b2[1], 'r');
}

static uint8_t rbr(struct serial *s)
{
	uint8_t v = 0;

	serial_access(s, 0, &v, 1, false);
	return v;
}

static uint8_t lsr(struct serial *s)
{
	uint8_t v = 0;

	serial_access(s, 5, &v, 1, false);
	return v;
}

/* A console on a pipe's read end, for the tests that feed it a pipe. */
struct pipe_console {
	struct evloop loop;
	struct console c;
	struct serial *s;
	int rd;
};

/* Opens the console on a pipe that holds in[0, n) and whose writer has
 * closed: EOF follows those bytes. */
static void pipe_console_open(struct pipe_console *f, const uint8_t *in, size_t n)
{
	int p[2];

	f->s = serial_new(NULL, -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->s);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&f->loop), 0);
	f->rd = p[0];
	CU_ASSERT_EQUAL_FATAL(console_open(&f->c, NULL, &f->loop, f->s, p[0]), 0);
	CU_ASSERT_EQUAL(write(p[1], in, n), (ssize_t)n);
	close(p[1]);
}

/* Runs the loop (ms per round) while the guest reads the FIFO into got,
 * until n bytes came or 200 rounds passed; returns how many came. */
static size_t pipe_console_drain(struct pipe_console *f, uint8_t *got, size_t n, int ms)
{
	size_t done = 0;

	for (int round = 0; round < 200 && done < n; round++) {
		evloop_run_once(&f->loop, ms);
		while (done < n && (lsr(f->s) & 1))
			got[done++] = rbr(f->s);
	}
	return done;
}

/* Gives the input up to 10 rounds to see its EOF, then closes everything. */
static void pipe_console_end(struct pipe_console *f, int ms)
{
	for (int round = 0; round < 10 && f->c.watching; round++)
		evloop_run_once(&f->loop, ms);
	CU_ASSERT_FALSE(f->c.watching);   /* EOF */
	console_close(&f->c);
	evloop_fini(&f->loop);
	close(f->rd);
	serial_free(f->s);
}

/* 100 bytes into a 64-byte FIFO: the rest waits, nothing is lost or
 * reordered, and EOF ends the input. A pipe passes C-a unchanged. */
static void test_console_pipe_backpressure(void)
{
	struct pipe_console f;
	uint8_t in[100], got[100];

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i % 7 == 0 ? CONSOLE_ESCAPE : 'A' + i % 26);
	pipe_console_open(&f, in, sizeof(in));
	CU_ASSERT_TRUE(f.c.watching);
	CU_ASSERT_EQUAL(pipe_console_drain(&f, got, sizeof(got), 20), sizeof(in));
	CU_ASSERT_EQUAL(memcmp(in, got, sizeof(in)), 0);
	pipe_console_end(&f, 20);
}

/* The writer closes while the FIFO is full and the guest reads nothing:
 * the hangup is reported although isle asked for no events. The input
 * waits out of the loop, then the rest is read in order and EOF ends it. */
static void test_console_pipe_hangup_while_full(void)
{
	struct pipe_console f;
	uint8_t in[200], got[200];

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('a' + i % 26);
	pipe_console_open(&f, in, sizeof(in));
	for (int round = 0; round < 20; round++)   /* FIFO 64 + pending 64 */
		evloop_run_once(&f.loop, 5);
	CU_ASSERT_TRUE(f.c.watching);
	CU_ASSERT_TRUE(f.c.parked);
	CU_ASSERT_EQUAL(f.c.pending_len, 64);
	CU_ASSERT_EQUAL(pipe_console_drain(&f, got, sizeof(got), 10), sizeof(in));
	CU_ASSERT_EQUAL(memcmp(in, got, sizeof(in)), 0);
	pipe_console_end(&f, 10);
}

static void ended(struct console *c, void *opaque)
{
	(void)c;
	++*(int *)opaque;
}

/* The owner's hook: once at EOF; once at a hangup with the FIFO full,
 * without waiting for the guest. */
static void test_console_ended_hook(void)
{
	struct evloop loop;
	struct console c;
	struct serial *s = serial_new(NULL, -1);
	uint8_t in[200] = { 0 };
	int p[2], calls = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(console_open(&c, NULL, &loop, s, p[0]), 0);
	c.ended = ended;
	c.ended_opaque = &calls;
	CU_ASSERT_EQUAL(write(p[1], "ab", 2), 2);
	close(p[1]);
	for (int round = 0; round < 10; round++)
		evloop_run_once(&loop, 5);
	CU_ASSERT_EQUAL(calls, 1);
	CU_ASSERT_FALSE(c.watching);
	console_close(&c);
	close(p[0]);
	CU_ASSERT_EQUAL(serial_input(s, in, 62), 62);   /* FIFO: 2 + 62, full */

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(console_open(&c, NULL, &loop, s, p[0]), 0);
	c.ended = ended;
	c.ended_opaque = &calls;
	CU_ASSERT_EQUAL(write(p[1], in, sizeof(in)), (ssize_t)sizeof(in));
	evloop_run_once(&loop, 5);
	CU_ASSERT_EQUAL(c.pending_len, 64);
	close(p[1]);
	for (int round = 0; round < 10; round++)
		evloop_run_once(&loop, 5);
	CU_ASSERT_EQUAL(calls, 2);
	CU_ASSERT_FALSE(c.watching);
	console_close(&c);
	evloop_fini(&loop);
	close(p[0]);
	serial_free(s);
}

void unit_register(void)
{
	UNIT_SUITE("console",
		   UNIT_TEST(test_console_filter_plain),
		   UNIT_TEST(test_console_filter_escapes),
		   UNIT_TEST(test_console_filter_split_escape),
		   UNIT_TEST(test_console_pipe_backpressure),
		   UNIT_TEST(test_console_pipe_hangup_while_full),
		   UNIT_TEST(test_console_ended_hook));
}

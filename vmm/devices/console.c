/* Console input: stdin into the UART (contract in vmm/devices/console.h).
 *
 * Why a timer and not a "FIFO has room" callback from the UART: the FIFO
 * drains on vCPU threads under the UART's lock, and a callback from there
 * into the event loop would need its own wakeup. A person types far slower
 * than a 5 ms retry, and a paste only waits for the guest to read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "isle/evloop.h"
#include "isle/log.h"
#include "core/vm.h"
#include "devices/console.h"
#include "devices/serial.h"

#define CONSOLE_RETRY_NS (5 * 1000 * 1000)

/* The terminal to restore if isle exits without console_close(). */
static struct termios console_saved;
static int console_saved_fd = -1;

static void console_restore_atexit(void)
{
	if (console_saved_fd >= 0)
		tcsetattr(console_saved_fd, TCSANOW, &console_saved);
}

enum console_action console_filter(bool *escaped, uint8_t *buf, size_t n, size_t *used,
				   size_t *out_n)
{
	size_t out = 0, i;

	for (i = 0; i < n; i++) {
		uint8_t c = buf[i];

		if (!*escaped) {
			if (c == CONSOLE_ESCAPE)
				*escaped = true;
			else
				buf[out++] = c;
			continue;
		}
		*escaped = false;
		if (c == CONSOLE_ESCAPE) {
			buf[out++] = c;
		} else if (c == 'x' || c == 'X') {
			*used = i + 1;
			*out_n = out;
			return CONSOLE_QUIT;
		} else if (c == 'h' || c == 'H' || c == '?') {
			*used = i + 1;
			*out_n = out;
			return CONSOLE_HELP;
		}
		/* any other escape is dropped, as QEMU does */
	}
	*used = n;
	*out_n = out;
	return CONSOLE_NONE;
}

static void console_retry_arm(struct console *c, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_nsec = CONSOLE_RETRY_NS;
		its.it_interval.tv_nsec = CONSOLE_RETRY_NS;
	}
	timerfd_settime(c->retry_fd, 0, &its, NULL);
}

/* Hands pending bytes to the FIFO; true when none are left. */
static bool console_push(struct console *c)
{
	size_t n = serial_input(c->serial, c->pending + c->pending_off, c->pending_len);

	c->pending_off += n;
	c->pending_len -= n;
	return c->pending_len == 0;
}

static void console_on_input(struct evloop *loop, int fd, uint32_t events, void *opaque);

static void console_stop_input(struct console *c, const char *why)
{
	if (!c->watching)
		return;
	evloop_del(c->loop, c->in_fd);
	c->watching = false;
	log_debug("console input closed: %s", why);
}

/* The input is over: stop, then tell the owner (last: it may free c). */
static void console_end(struct console *c, const char *why)
{
	console_stop_input(c, why);
	if (c->ended)
		c->ended(c, c->ended_opaque);
}

static void console_on_retry(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *c = opaque;
	uint64_t ticks;
	int r;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (!console_push(c))
		return;
	console_retry_arm(c, false);
	if (!c->watching)
		return;
	r = c->parked ? evloop_add(loop, c->in_fd, EPOLLIN, console_on_input, c) :
			evloop_mod(loop, c->in_fd, EPOLLIN);
	c->parked = false;
	if (r)
		console_end(c, "cannot watch the input again");
}

static void console_help(void)
{
	static const char help[] =
		"\r\nC-a h    print this help\r\n"
		"C-a x    exit isle (the guest stops)\r\n"
		"C-a C-a  send C-a to the guest\r\n";

	if (write(STDERR_FILENO, help, sizeof(help) - 1) < 0)
		return;   /* nowhere to say it */
}

static void console_on_input(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *c = opaque;
	uint8_t buf[sizeof(c->pending)];
	size_t used, out, off = 0;
	ssize_t n;

	if (c->pending_len) {
		/* Paused (no events asked for), yet called: epoll reports a
		 * hangup regardless. pending must drain before more is read. */
		if (c->ended) {
			console_end(c, "hangup");
		} else {
			evloop_del(loop, fd);
			c->parked = true;
		}
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		console_end(c, n ? strerror(errno) : "end of file");
		return;
	}
	while (off < (size_t)n) {
		enum console_action a = CONSOLE_NONE;

		if (c->tty) {
			a = console_filter(&c->escaped, buf + off, (size_t)n - off, &used, &out);
		} else {
			used = out = (size_t)n - off;
		}
		memmove(c->pending + c->pending_len, buf + off, out);
		c->pending_len += out;
		off += used;
		if (a == CONSOLE_QUIT) {
			console_stop_input(c, "Ctrl-A x");
			if (c->vm)
				vm_stop(c->vm, ISLE_EXIT_OK, "console: Ctrl-A x");
			return;
		}
		if (a == CONSOLE_HELP)
			console_help();
	}
	c->pending_off = 0;
	if (console_push(c))
		return;
	/* The FIFO is full: stop reading until the guest takes the rest. */
	console_retry_arm(c, true);
	if (evloop_mod(loop, fd, 0))
		console_end(c, "cannot pause the input");
}

static void console_raw(struct console *c)
{
	struct termios t;

	if (tcgetpgrp(c->in_fd) != getpgrp() || tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	t.c_iflag &= (tcflag_t)~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= (tcflag_t)~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= (tcflag_t)~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	/* OPOST stays: the host's "\n" handling of isle's own messages. */
	if (tcsetattr(c->in_fd, TCSANOW, &t) < 0)
		return;
	c->raw = true;
	if (console_saved_fd < 0) {
		console_saved = c->saved;
		console_saved_fd = c->in_fd;
		atexit(console_restore_atexit);
	}
}

int console_open(struct console *c, struct vm *vm, struct evloop *loop, struct serial *s,
		 int in_fd)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->loop = loop;
	c->serial = s;
	c->in_fd = in_fd;
	c->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->retry_fd < 0)
		return -errno;
	c->tty = isatty(in_fd);
	/* A background isle reading its terminal would be stopped (SIGTTIN). */
	if (c->tty && tcgetpgrp(in_fd) != getpgrp()) {
		log_debug("console: not the terminal's foreground: output only");
		return 0;
	}
	r = evloop_add(loop, c->retry_fd, EPOLLIN, console_on_retry, c);
	if (r)
		return r;
	r = evloop_add(loop, in_fd, EPOLLIN, console_on_input, c);
	if (r) {
		/* A regular file or /dev/null cannot be polled: no input. */
		log_debug("console: stdin cannot be watched (%s): output only", strerror(-r));
		return 0;
	}
	c->watching = true;
	if (c->tty)
		console_raw(c);
	return 0;
}

void console_close(struct console *c)
{
	if (c->retry_fd < 0 && !c->watching)
		return;
	console_stop_input(c, "closing");
	if (c->raw) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
		console_saved_fd = -1;
	}
	if (c->retry_fd >= 0) {
		evloop_del(c->loop, c->retry_fd);
		close(c->retry_fd);
		c->retry_fd = -1;
	}
}

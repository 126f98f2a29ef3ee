/* COM1 on a unix socket (contract in vmm/devices/console_sock.h).
 *
 * The output side lives in serial.c (serial_set_tee), under the UART's lock,
 * because vCPU threads produce it; everything else is the event loop's.
 * A failed send on a vCPU thread shuts the client's socket down, which the
 * loop sees as a hangup: only the loop's thread detaches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "isle/evloop.h"
#include "isle/log.h"
#include "isle/usock.h"
#include "devices/console.h"
#include "devices/console_sock.h"
#include "devices/serial.h"

static void console_sock_flush_arm(struct console_sock *cs, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_nsec = CONSOLE_SOCK_FLUSH_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	timerfd_settime(cs->flush_fd, 0, &its, NULL);
}

static void console_sock_detach(struct console_sock *cs, const char *why)
{
	if (cs->client_fd < 0)
		return;
	serial_set_tee(cs->serial, -1);
	console_sock_flush_arm(cs, false);
	console_close(cs->in);
	free(cs->in);
	cs->in = NULL;
	close(cs->client_fd);
	cs->client_fd = -1;
	log_info("console: detached (%s)", why);
}

/* console.c's ended() hook: the client's input is over, and so is it. */
static void console_sock_ended(struct console *c, void *opaque)
{
	(void)c;
	console_sock_detach(opaque, "the client left");
}

/* A partial line (a prompt, an echoed key) reaches the client too. */
static void console_sock_on_flush(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console_sock *cs = opaque;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	serial_flush(cs->serial);
}

static void console_sock_refuse(int fd)
{
	static const char busy[] = CONSOLE_SOCK_BUSY;

	if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("console: refusing a second client: %s", strerror(errno));
	close(fd);
}

static void console_sock_on_accept(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console_sock *cs = opaque;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int r;

	if (c < 0)
		return;   /* EAGAIN, or a client that left already */
	if (cs->client_fd >= 0) {
		console_sock_refuse(c);
		return;
	}
	cs->in = calloc(1, sizeof(*cs->in));
	if (!cs->in) {
		close(c);
		return;
	}
	r = console_open(cs->in, cs->vm, loop, cs->serial, c);
	if (r || !cs->in->watching) {
		/* Output only would leave a hangup unnoticed: refuse instead. */
		log_error("console: cannot watch a client: %s", strerror(r ? -r : EBADF));
		console_close(cs->in);
		free(cs->in);
		cs->in = NULL;
		close(c);
		return;
	}
	cs->in->ended = console_sock_ended;
	cs->in->ended_opaque = cs;
	cs->client_fd = c;
	serial_set_tee(cs->serial, c);
	console_sock_flush_arm(cs, true);
	log_info("console: attached");
}

int console_sock_open(struct console_sock *cs, struct vm *vm, struct evloop *loop,
		      struct serial *s, const char *path)
{
	mode_t old;
	int r;

	memset(cs, 0, sizeof(*cs));
	cs->vm = vm;
	cs->loop = loop;
	cs->serial = s;
	cs->listen_fd = cs->client_fd = cs->flush_fd = -1;
	cs->path = strdup(path);
	if (!cs->path)
		return -ENOMEM;
	cs->flush_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (cs->flush_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* 0600 from the start: no window in which others could connect. The
	 * mask only ever narrows what another thread creates meanwhile. */
	old = umask(0177);
	r = usock_listen(path, 4, &cs->made, NULL);
	umask(old);
	if (r < 0)
		goto fail;
	cs->listen_fd = r;
	if ((r = evloop_add(loop, cs->listen_fd, EPOLLIN, console_sock_on_accept, cs)))
		goto fail;
	if ((r = evloop_add(loop, cs->flush_fd, EPOLLIN, console_sock_on_flush, cs))) {
		evloop_del(loop, cs->listen_fd);
		goto fail;
	}
	return 0;
fail:
	if (cs->listen_fd >= 0) {
		usock_unlink_own(path, &cs->made);
		close(cs->listen_fd);
	}
	if (cs->flush_fd >= 0)
		close(cs->flush_fd);
	free(cs->path);
	memset(cs, 0, sizeof(*cs));
	cs->listen_fd = cs->client_fd = cs->flush_fd = -1;
	return r;
}

void console_sock_close(struct console_sock *cs)
{
	/* The file goes first: a client that sees its end finds no socket. */
	if (cs->listen_fd >= 0) {
		evloop_del(cs->loop, cs->listen_fd);
		usock_unlink_own(cs->path, &cs->made);
		close(cs->listen_fd);
		cs->listen_fd = -1;
	}
	console_sock_detach(cs, "closing");
	if (cs->flush_fd >= 0) {
		evloop_del(cs->loop, cs->flush_fd);
		close(cs->flush_fd);
		cs->flush_fd = -1;
	}
	free(cs->path);
	cs->path = NULL;
}

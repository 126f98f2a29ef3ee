/* `isle console NAME` (xl's console): what NAME.console.log holds (the
 * history), then a client of the VM's console socket NAME.console
 * (vmm/devices/console_sock.h): its output to stdout, stdin to it, a
 * terminal in raw mode until Ctrl-] (which is not sent); without that
 * socket (serial= elsewhere, an older VM), following NAME.console.log.
 * When stdin ends, output goes on until the VM's end closes the socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "control/rundir.h"
#include "control/xl_priv.h"
#include "devices/console_sock.h"

/* ---- console ---- */

#define XL_CONSOLE_QUIT 0x1d   /* Ctrl-] */

static volatile sig_atomic_t xl_console_stop;

static void xl_console_signal(int sig)
{
	(void)sig;
	xl_console_stop = 1;
}

/* The terminal and the signals while a console is shown. */
struct xl_term {
	bool tty;                    /* stdin is a terminal, now raw */
	struct termios saved;
	struct sigaction old_sa[3];
};

static const int xl_console_sigs[3] = { SIGINT, SIGTERM, SIGHUP };

/* SIGINT and friends end the console (with a raw terminal, Ctrl-C is a
 * byte for the guest instead); stdin as a terminal goes raw: no echo, no
 * line editing, bytes as typed (output processing stays). */
static void xl_term_enter(struct xl_term *t, const char *name, const char *what)
{
	struct sigaction sa = { .sa_handler = xl_console_signal };
	struct termios raw;

	xl_console_stop = 0;
	for (int i = 0; i < 3; i++)
		sigaction(xl_console_sigs[i], &sa, &t->old_sa[i]);
	signal(SIGPIPE, SIG_IGN);
	t->tty = isatty(0) && !tcgetattr(0, &t->saved);
	if (!t->tty)
		return;
	raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
	raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(0, TCSANOW, &raw);
	fprintf(stderr, "isle: console %s: Ctrl-] quits%s\r\n", name, what);
}

static void xl_term_leave(struct xl_term *t)
{
	if (t->tty)
		tcsetattr(0, TCSANOW, &t->saved);
	for (int i = 0; i < 3; i++)
		sigaction(xl_console_sigs[i], &t->old_sa[i], NULL);
}

static bool xl_write_all(int fd, const char *buf, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/* Copies what fd has from its offset on to stdout: false on a write error. */
static bool xl_console_copy(int fd)
{
	char buf[4096];
	struct stat st;
	ssize_t n;

	/* The serial file is truncated when the VM boots again. */
	if (!fstat(fd, &st) && st.st_size < lseek(fd, 0, SEEK_CUR))
		lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (!xl_write_all(1, buf, (size_t)n))
			return false;
	return true;
}

/* Without a console socket: follows NAME.console.log (output only). */
static int xl_console_follow(const char *verb, const char *name)
{
	struct xl_term t;
	bool in_open = true;
	char path[4096];
	int fd;

	fd = rundir_path(path, sizeof(path), name, "console.log");   /* 0 or -ENAMETOOLONG */
	if (!fd && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fd = -errno;
	if (fd < 0) {
		fprintf(stderr, "isle: %s: %s: %s: %s (the VM's config sets serial= elsewhere?)\n",
			verb, name, path, strerror(-fd));
		return 1;
	}
	xl_term_enter(&t, name, " (output only: the VM has no console socket)");
	while (!xl_console_stop && xl_console_copy(fd)) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char in[64];
		ssize_t n;

		if (rundir_probe(name) <= 0) {
			xl_console_copy(fd);
			break;
		}
		if (poll(&p, t.tty && in_open ? 1 : 0, 200) > 0) {
			n = read(0, in, sizeof(in));
			if (n <= 0)
				in_open = false;
			else if (memchr(in, XL_CONSOLE_QUIT, (size_t)n))
				break;
		}
	}
	xl_term_leave(&t);
	close(fd);
	return 0;
}

/* A connected, non-blocking client of the socket at path, or -errno. */
static int xl_console_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Relays until the socket closes (the VM ended), Ctrl-] on a terminal, or
 * a signal: 0, or 1 when another console holds the VM's. Input waits in
 * `in` while the socket is full (the guest reads slowly), and stdin is not
 * read meanwhile; stdin's end only stops the input. */
static int xl_console_relay(const char *verb, const char *name, int sock, bool tty)
{
	static const char busy[] = CONSOLE_SOCK_BUSY;
	char out[4096], in[256];
	size_t in_off = 0, in_len = 0;
	bool in_open = true, first = true, quit = false;

	while (!xl_console_stop) {
		struct pollfd p[2] = {
			{ .fd = sock, .events = POLLIN | (in_len ? POLLOUT : 0) },
			{ .fd = in_open && !in_len && !quit ? 0 : -1, .events = POLLIN },
		};
		ssize_t n;

		if (quit && !in_len)
			break;
		if (poll(p, 2, 200) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(sock, out, sizeof(out));
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				n = 0;
			else if (n <= 0)
				break;   /* the VM ended (or restarts): its console is gone */
			if (first && n >= (ssize_t)sizeof(busy) - 1 &&
			    !memcmp(out, busy, sizeof(busy) - 1)) {
				fprintf(stderr, "isle: %s: %s: another console is attached\n", verb,
					name);
				return 1;
			}
			first &= n == 0;
			if (n && !xl_write_all(1, out, (size_t)n))
				break;
		}
		if (p[1].revents) {
			char *q;

			n = read(0, in, sizeof(in));
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				in_open = false;   /* output goes on until the VM ends */
				continue;
			}
			in_off = 0;
			in_len = (size_t)n;
			if (tty && (q = memchr(in, XL_CONSOLE_QUIT, in_len))) {
				in_len = (size_t)(q - in);   /* what came before it still goes */
				quit = true;
			}
		}
		if (in_len) {
			n = send(sock, in + in_off, in_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				break;
			if (n > 0) {
				in_off += (size_t)n;
				in_len -= (size_t)n;
			}
		}
	}
	return 0;
}

/* xl's console: the history from NAME.console.log, then NAME.console's
 * output as it comes, with stdin sent to the guest. */
int xl_console_attach(const char *verb, const char *name)
{
	struct xl_term t;
	char path[4096];
	int sock = -ENAMETOOLONG, log, r;

	if (!rundir_path(path, sizeof(path), name, "console"))
		sock = xl_console_connect(path);
	if (sock < 0)
		return xl_console_follow(verb, name);   /* no socket: serial= elsewhere? */
	/* Connected first, so nothing the guest says meanwhile is lost (a line
	 * may show twice). */
	xl_term_enter(&t, name, "");
	if (!rundir_path(path, sizeof(path), name, "console.log") &&
	    (log = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		xl_console_copy(log);
		close(log);
	}
	r = xl_console_relay(verb, name, sock, t.tty);
	xl_term_leave(&t);
	if (t.tty)
		fputs("\r\n", stderr);
	close(sock);
	return r;
}

int xl_console(int argc, char **argv)
{
	int r = xl_operands(argc, argv, 1, 1);

	if (r)
		return r;
	if (xl_find("console", argv[optind]) < 0)
		return 1;
	return xl_console_attach("console", argv[optind]);
}

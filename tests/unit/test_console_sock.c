/* Unit tests for vmm/devices/console_sock.c over a real unix socket in a
 * temporary directory, with a UART (vm == NULL) whose serial file is a
 * regular file there: the socket's mode, output to the client and the file
 * (whole lines, and a partial line through the flush timer), client input
 * into the receive FIFO, a second client refused, detach on hangup and
 * re-attach, a client that stops reading (output never blocks, the file
 * gets everything) or shuts its receiving side (the failed send detaches),
 * a hangup with the FIFO full, a stale socket file replaced and a live one
 * refused, the file removed on close, and no fd left open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/evloop.h"
#include "devices/console_sock.h"
#include "devices/serial.h"

struct fixture {
	char dir[64], path[96], log[96];
	struct evloop loop;
	struct console_sock cs;
	struct serial *s;
	int log_fd;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the DIR's own */
}

static void wr(struct serial *s, const char *text)
{
	for (; *text; text++) {
		uint8_t c = (uint8_t)*text;

		serial_access(s, 0, &c, 1, true);
	}
}

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	serial_access(s, reg, &v, 1, false);
	return v;
}

/* Whatever the FIFO holds, as a string. */
static size_t fifo_take(struct serial *s, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len && (rd(s, 5) & 1))
		buf[n++] = (char)rd(s, 0);
	buf[n] = '\0';
	return n;
}

static void spin(struct fixture *f, int rounds)
{
	for (int i = 0; i < rounds; i++)
		evloop_run_once(&f->loop, 5);
}

/* Runs the loop until the client is detached (500 ms at most). */
static void until_detached(struct fixture *f)
{
	for (int i = 0; i < 50 && f->cs.client_fd >= 0; i++)
		evloop_run_once(&f->loop, 10);
}

static bool fixture_up(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/isle-csock.XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(f->path, sizeof(f->path), "%s/vm.console", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/vm.console.log", f->dir);
	f->log_fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f->s = serial_new(NULL, f->log_fd);
	if (f->log_fd < 0 || !f->s || evloop_init(&f->loop))
		return false;
	return console_sock_open(&f->cs, NULL, &f->loop, f->s, f->path) == 0;
}

static void fixture_down(struct fixture *f)
{
	console_sock_close(&f->cs);
	CU_ASSERT_EQUAL(access(f->path, F_OK), -1);   /* the socket file is gone */
	evloop_fini(&f->loop);
	serial_free(f->s);
	close(f->log_fd);
	unlink(f->log);
	rmdir(f->dir);
}

static int client(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connects and runs the loop until the server took the client. */
static int attach(struct fixture *f)
{
	int fd = client(f->path);

	for (int i = 0; i < 100 && fd >= 0 && f->cs.client_fd < 0; i++)
		evloop_run_once(&f->loop, 10);
	return fd;
}

/* Reads what fd has within ms (the loop running meanwhile): bytes, or -1
 * when it ended (EOF) with nothing read. */
static ssize_t drain(struct fixture *f, int fd, char *buf, size_t len, int ms)
{
	size_t n = 0;

	for (int t = 0; t < ms && n + 1 < len; t += 5) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		evloop_run_once(&f->loop, 0);
		if (poll(&p, 1, 5) <= 0)
			continue;
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0) {
			if (!n)
				return -1;
			break;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static size_t file_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void test_attach_output_input(void)
{
	int fds = count_fds();
	struct fixture f;
	char buf[256];
	struct stat st;
	int c;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	CU_ASSERT_EQUAL(stat(f.path, &st), 0);
	CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	wr(f.s, "before\n");   /* nobody attached: only the file */
	c = attach(&f);
	CU_ASSERT_TRUE_FATAL(c >= 0);
	CU_ASSERT_EQUAL(f.cs.client_fd >= 0, true);
	wr(f.s, "hello\n");
	CU_ASSERT_EQUAL(drain(&f, c, buf, sizeof(buf), 50), 6);
	CU_ASSERT_STRING_EQUAL(buf, "hello\n");
	/* A prompt without its newline arrives through the flush timer. */
	wr(f.s, "login: ");
	CU_ASSERT_EQUAL(drain(&f, c, buf, sizeof(buf), 200), 7);
	CU_ASSERT_STRING_EQUAL(buf, "login: ");
	file_text(f.log, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "before\nhello\nlogin: ");
	/* Typed bytes reach the FIFO unchanged (C-a is no escape here). */
	CU_ASSERT_EQUAL(write(c, "ro\001ot\r", 6), 6);
	spin(&f, 10);
	CU_ASSERT_EQUAL(fifo_take(f.s, buf, sizeof(buf)), 6);
	CU_ASSERT_STRING_EQUAL(buf, "ro\001ot\r");
	close(c);
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);
}

static void test_second_client_refused(void)
{
	int fds = count_fds();
	struct fixture f;
	char buf[256];
	int c1, c2;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	c1 = attach(&f);
	CU_ASSERT_TRUE_FATAL(c1 >= 0);
	c2 = client(f.path);
	CU_ASSERT_TRUE_FATAL(c2 >= 0);
	CU_ASSERT_EQUAL(drain(&f, c2, buf, sizeof(buf), 200), (ssize_t)strlen(CONSOLE_SOCK_BUSY));
	CU_ASSERT_STRING_EQUAL(buf, CONSOLE_SOCK_BUSY);
	CU_ASSERT_EQUAL(drain(&f, c2, buf, sizeof(buf), 200), -1);   /* then closed */
	close(c2);
	/* The first is still the one attached: it sees output, its input counts. */
	wr(f.s, "still\n");
	CU_ASSERT_EQUAL(drain(&f, c1, buf, sizeof(buf), 50), 6);
	CU_ASSERT_EQUAL(write(c1, "k", 1), 1);
	spin(&f, 10);
	CU_ASSERT_EQUAL(fifo_take(f.s, buf, sizeof(buf)), 1);
	close(c1);
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);
}

static void test_detach_reattach(void)
{
	int fds = count_fds();
	struct fixture f;
	char buf[256];
	int c;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	c = attach(&f);
	CU_ASSERT_TRUE_FATAL(c >= 0);
	close(c);
	until_detached(&f);
	CU_ASSERT_EQUAL(f.cs.client_fd, -1);
	CU_ASSERT_PTR_NULL(f.cs.in);
	CU_ASSERT_EQUAL(f.s->tee_fd, -1);
	wr(f.s, "alone\n");   /* the VM keeps its console */
	c = attach(&f);
	CU_ASSERT_TRUE_FATAL(c >= 0);
	CU_ASSERT_TRUE(f.cs.client_fd >= 0);
	wr(f.s, "again\n");
	CU_ASSERT_EQUAL(drain(&f, c, buf, sizeof(buf), 50), 6);
	CU_ASSERT_STRING_EQUAL(buf, "again\n");
	CU_ASSERT_EQUAL(write(c, "in", 2), 2);
	spin(&f, 10);
	CU_ASSERT_EQUAL(fifo_take(f.s, buf, sizeof(buf)), 2);
	/* A client that only closes its sending side has left too. */
	shutdown(c, SHUT_WR);
	until_detached(&f);
	CU_ASSERT_EQUAL(f.cs.client_fd, -1);
	close(c);
	file_text(f.log, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "alone\nagain\n");
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);
}

/* A client that reads nothing: the UART never blocks and the file gets it
 * all; then it shuts its receiving side and the next send detaches it. */
static void test_slow_client(void)
{
	static char line[101], big[65536];
	int fds = count_fds();
	size_t got = 0;
	ssize_t n;
	struct fixture f;
	struct stat st;
	int c;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	c = attach(&f);
	CU_ASSERT_TRUE_FATAL(c >= 0);
	memset(line, 'x', 99);
	line[99] = '\n';
	for (int i = 0; i < 20000; i++)   /* 2 MB, more than any socket buffer */
		wr(f.s, line);
	CU_ASSERT_EQUAL(fstat(f.log_fd, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 20000 * 100);
	CU_ASSERT_TRUE(f.cs.client_fd >= 0);   /* dropped, still attached */
	/* What did fit is whole lines' worth of the start, and no more. */
	CU_ASSERT_EQUAL(fcntl(c, F_SETFL, O_NONBLOCK), 0);
	while ((n = read(c, big, sizeof(big))) > 0)
		got += (size_t)n;
	CU_ASSERT_TRUE(got > 0 && got < 20000 * 100);
	CU_ASSERT_EQUAL(got % 100, 0);
	/* With room again but nobody to read it, the send fails. */
	shutdown(c, SHUT_RD);
	wr(f.s, "gone?\n");
	CU_ASSERT_EQUAL(f.s->tee_fd, -1);   /* the send failed: no more tries */
	until_detached(&f);
	CU_ASSERT_EQUAL(f.cs.client_fd, -1);
	close(c);
	c = attach(&f);   /* and the next one is welcome */
	CU_ASSERT_TRUE(f.cs.client_fd >= 0);
	close(c);
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);
}

/* More than the FIFO holds, then a hangup while the guest reads nothing:
 * the client is detached (not kept until the guest reads). */
static void test_hangup_with_full_fifo(void)
{
	int fds = count_fds();
	struct fixture f;
	char buf[128];
	int c;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	c = attach(&f);
	CU_ASSERT_TRUE_FATAL(c >= 0);
	memset(buf, 'a', 100);
	CU_ASSERT_EQUAL(write(c, buf, 100), 100);
	spin(&f, 10);
	CU_ASSERT_TRUE(f.cs.client_fd >= 0);
	close(c);
	until_detached(&f);
	CU_ASSERT_EQUAL(f.cs.client_fd, -1);
	CU_ASSERT_EQUAL(fifo_take(f.s, buf, sizeof(buf)), 64);
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);
}

static void test_stale_and_live_socket(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fds = count_fds();
	struct console_sock other;
	struct fixture f;
	int stale, c;

	CU_ASSERT_TRUE_FATAL(fixture_up(&f));
	/* A live socket: a second server at the same path is refused. */
	CU_ASSERT_EQUAL(console_sock_open(&other, NULL, &f.loop, f.s, f.path), -EADDRINUSE);
	fixture_down(&f);
	CU_ASSERT_EQUAL(count_fds(), fds);

	/* A stale one (bound, nobody listening) is replaced. */
	CU_ASSERT_NOT_EQUAL_FATAL(mkdtemp(strcpy(f.dir, "/tmp/isle-csock.XXXXXX")), NULL);
	snprintf(f.path, sizeof(f.path), "%s/vm.console", f.dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f.path);
	stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_EQUAL_FATAL(bind(stale, (struct sockaddr *)&a, sizeof(a)), 0);
	close(stale);
	snprintf(f.log, sizeof(f.log), "%s/vm.console.log", f.dir);
	f.log_fd = open(f.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f.s = serial_new(NULL, f.log_fd);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&f.loop), 0);
	CU_ASSERT_EQUAL_FATAL(console_sock_open(&f.cs, NULL, &f.loop, f.s, f.path), 0);
	c = attach(&f);
	CU_ASSERT_TRUE(c >= 0 && f.cs.client_fd >= 0);
	/* Closing with a client attached closes it too. */
	fixture_down(&f);
	if (c >= 0) {
		char b;

		CU_ASSERT_EQUAL(read(c, &b, 1), 0);
		close(c);
	}
	CU_ASSERT_EQUAL(count_fds(), fds);
}

void unit_register(void)
{
	UNIT_SUITE("console_sock",
		   UNIT_TEST(test_attach_output_input),
		   UNIT_TEST(test_second_client_refused),
		   UNIT_TEST(test_detach_reattach),
		   UNIT_TEST(test_slow_client),
		   UNIT_TEST(test_hangup_with_full_fifo),
		   UNIT_TEST(test_stale_and_live_socket));
}

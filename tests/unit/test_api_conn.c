/* Unit tests for vmm/control/api_conn.c, the connections before
 * libmicrohttpd has them, driven on an event loop of the test's own with no
 * daemon behind it (test_api.c runs the whole server): an accepted
 * connection waits; api_unwait forgets it (closing it when asked); the
 * helpers close fds and measure time. The fd hand-over itself (a MSG_PEEK
 * recvmsg, fds claimed by the request, closed when not) is test_api.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cunit.h"
#include "control/api_priv.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_close_fds(void)
{
	int fds[4], p[2];

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	fds[0] = p[0];
	fds[1] = -1;
	fds[2] = p[1];
	fds[3] = -1;
	api_close_fds(fds, 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(fds[i], -1);
	CU_ASSERT_FALSE(fd_open(p[0]));
	CU_ASSERT_FALSE(fd_open(p[1]));
	api_close_fds(fds, 4);   /* twice: nothing to close */
}

static void test_ms_since(void)
{
	struct timespec t, back;

	clock_gettime(CLOCK_MONOTONIC, &t);
	CU_ASSERT(api_ms_since(&t) >= 0 && api_ms_since(&t) < 100);
	back = t;
	back.tv_sec -= 3;
	CU_ASSERT(api_ms_since(&back) >= 3000 && api_ms_since(&back) < 3100);
}

/* A listening socket on the server's loop: connections are accepted and
 * wait for their first bytes; api_unwait drops them, closed or not. */
static void test_accept_and_unwait(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct api_server s;
	char dir[] = "/tmp/api_conn.XXXXXX";
	int lfd, c1, c2, waiting = 0;

	memset(&s, 0, sizeof(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&s.loop), 0);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_EQUAL_FATAL(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	CU_ASSERT_EQUAL_FATAL(listen(lfd, 4), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_add(&s.loop, lfd, EPOLLIN, api_accept, &s), 0);

	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL_FATAL(connect(c1, (struct sockaddr *)&sun, sizeof(sun)), 0);
	CU_ASSERT_EQUAL_FATAL(connect(c2, (struct sockaddr *)&sun, sizeof(sun)), 0);
	CU_ASSERT(evloop_run_once(&s.loop, 1000) >= 1);
	for (struct api_waiting *w = s.waiting; w; w = w->next)
		waiting++;
	CU_ASSERT_EQUAL(waiting, 2);
	CU_ASSERT_PTR_NULL(s.fdsets);

	/* Dropped and closed: the client sees EOF. */
	int first = s.waiting->fd, second = s.waiting->next->fd;
	char b;

	api_unwait(&s, first, true);
	CU_ASSERT_FALSE(fd_open(first));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.waiting);
	CU_ASSERT_EQUAL(s.waiting->fd, second);
	CU_ASSERT_PTR_NULL(s.waiting->next);
	/* Dropped but kept open (the daemon's now), out of the loop. */
	api_unwait(&s, second, false);
	CU_ASSERT_PTR_NULL(s.waiting);
	CU_ASSERT_TRUE(fd_open(second));
	CU_ASSERT_EQUAL(evloop_del(&s.loop, second), -ENOENT);
	/* The newest connection waits first (c2's): its client sees EOF; c1's
	 * server side is still open, so c1 just has nothing to read. */
	CU_ASSERT_EQUAL(recv(c2, &b, 1, MSG_DONTWAIT), 0);
	CU_ASSERT_EQUAL(recv(c1, &b, 1, MSG_DONTWAIT), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	close(second);
	close(c1);
	close(c2);
	evloop_del(&s.loop, lfd);
	close(lfd);
	evloop_fini(&s.loop);
	unlink(sun.sun_path);
	rmdir(dir);
}

void unit_register(void)
{
	UNIT_SUITE("api_conn", UNIT_TEST(test_close_fds), UNIT_TEST(test_ms_since),
		   UNIT_TEST(test_accept_and_unwait));
}

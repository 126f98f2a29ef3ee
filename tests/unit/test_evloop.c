/* Unit tests for lib/evloop.c: dispatch, deleting sources from inside
 * callbacks (own fd, another fd in the same batch, delete and re-add),
 * modify, stop (from a callback and from another thread), error returns. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/evloop.h"

struct src {
	int fd;
	int calls;
	uint32_t events;
	struct src *victim;     /* deleted by this source's callback */
	bool del_self;
	bool stop;
};

static int efd(uint64_t initial)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CU_ASSERT_FATAL(fd >= 0);
	if (initial)
		CU_ASSERT_EQUAL(write(fd, &initial, sizeof(initial)), (ssize_t)sizeof(initial));
	return fd;
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

static void src_cb(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct src *s = opaque;

	CU_ASSERT_EQUAL(fd, s->fd);
	s->calls++;
	s->events = events;
	drain(fd);
	if (s->del_self)
		CU_ASSERT_EQUAL(evloop_del(loop, fd), 0);
	if (s->victim)
		CU_ASSERT_EQUAL(evloop_del(loop, s->victim->fd), 0);
	if (s->stop)
		evloop_stop(loop);
}

static void test_dispatch(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(1) }, b = { .fd = efd(0) };

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, b.fd, EPOLLIN, src_cb, &b), 0);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(a.calls, 1);
	CU_ASSERT_EQUAL(b.calls, 0);
	CU_ASSERT_TRUE(a.events & EPOLLIN);
	/* Nothing ready: the timeout expires, nothing runs. */
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 10), 0);
	CU_ASSERT_EQUAL(a.calls, 1);
	/* Both ready. */
	CU_ASSERT_EQUAL(write(a.fd, &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_EQUAL(write(b.fd, &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 2);
	CU_ASSERT_EQUAL(a.calls, 2);
	CU_ASSERT_EQUAL(b.calls, 1);
	/* Modify: an eventfd is always writable. */
	CU_ASSERT_EQUAL(evloop_mod(&loop, b.fd, EPOLLOUT), 0);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(b.calls, 2);
	CU_ASSERT_TRUE(b.events & EPOLLOUT);
	CU_ASSERT_EQUAL(evloop_del(&loop, a.fd), 0);
	CU_ASSERT_EQUAL(evloop_del(&loop, b.fd), 0);
	evloop_fini(&loop);
	close(a.fd);
	close(b.fd);
}

static void test_errors(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(0) };
	int fds[2];

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, -1, EPOLLIN, src_cb, &a), -EBADF);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, NULL, &a), -EINVAL);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), -EEXIST);
	CU_ASSERT_EQUAL(evloop_mod(&loop, 999, EPOLLIN), -ENOENT);
	CU_ASSERT_EQUAL(evloop_del(&loop, 999), -ENOENT);
	CU_ASSERT_EQUAL(evloop_del(&loop, -5), -ENOENT);
	CU_ASSERT_EQUAL(evloop_del(&loop, a.fd), 0);
	CU_ASSERT_EQUAL(evloop_del(&loop, a.fd), -ENOENT);
	/* Not open. */
	CU_ASSERT_EQUAL(evloop_add(&loop, 1000, EPOLLIN, src_cb, &a), -EBADF);
	/* A large fd number grows the table. */
	CU_ASSERT_EQUAL(pipe(fds), 0);
	CU_ASSERT_EQUAL(dup2(fds[0], 700), 700);
	CU_ASSERT_EQUAL(evloop_add(&loop, 700, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_del(&loop, 700), 0);
	/* Closed before it was deleted: the source still goes. */
	CU_ASSERT_EQUAL(evloop_add(&loop, 700, EPOLLIN, src_cb, &a), 0);
	close(700);
	CU_ASSERT_EQUAL(evloop_del(&loop, 700), 0);
	close(fds[0]);
	close(fds[1]);
	evloop_fini(&loop);
	close(a.fd);
}

static void test_del_self(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(1), .del_self = true };

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(a.calls, 1);
	CU_ASSERT_EQUAL(write(a.fd, &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 10), 0);
	CU_ASSERT_EQUAL(a.calls, 1);
	CU_ASSERT_EQUAL(evloop_del(&loop, a.fd), -ENOENT);
	evloop_fini(&loop);
	close(a.fd);
}

/* Two sources ready in the same batch; whichever runs first deletes the
 * other, whose already-collected event must be dropped. */
static void test_del_other_in_batch(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(1) }, b = { .fd = efd(1) };

	a.victim = &b;
	b.victim = &a;
	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, b.fd, EPOLLIN, src_cb, &b), 0);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(a.calls + b.calls, 1);
	evloop_fini(&loop);
	close(a.fd);
	close(b.fd);
}

/* The first callback deletes and closes the other source, then a new
 * eventfd takes the same fd number and is added: the stale event from the
 * old registration must not reach the new source. */
struct reuse {
	struct evloop *loop;
	int *victim_fd;
	struct src *fresh;
	int calls;
};

static void reuse_cb(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct reuse *r = opaque;
	int nfd;

	r->calls++;
	drain(fd);
	if (*r->victim_fd < 0)
		return;
	CU_ASSERT_EQUAL(evloop_del(loop, *r->victim_fd), 0);
	close(*r->victim_fd);
	nfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);   /* not readable */
	CU_ASSERT_EQUAL(nfd, *r->victim_fd);            /* lowest free number */
	r->fresh->fd = nfd;
	CU_ASSERT_EQUAL(evloop_add(loop, nfd, EPOLLIN, src_cb, r->fresh), 0);
	*r->victim_fd = -1;
}

static void test_del_readd_in_batch(void)
{
	struct evloop loop;
	struct src fresh = { .fd = -1 };
	int a = efd(1), b = efd(1);
	int va = b, vb = a;
	struct reuse ra = { .victim_fd = &va, .fresh = &fresh };
	struct reuse rb = { .victim_fd = &vb, .fresh = &fresh };

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a, EPOLLIN, reuse_cb, &ra), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, b, EPOLLIN, reuse_cb, &rb), 0);
	/* Each callback, if it runs first, replaces the other; make sure the
	 * second one does nothing if it is (wrongly) called. */
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(ra.calls + rb.calls, 1);
	CU_ASSERT_EQUAL(fresh.calls, 0);
	/* The new registration works. */
	CU_ASSERT_EQUAL(write(fresh.fd, &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_EQUAL(evloop_run_once(&loop, 1000), 1);
	CU_ASSERT_EQUAL(fresh.calls, 1);
	evloop_fini(&loop);
	close(a);
	close(b);   /* one of them is fresh.fd */
}

static void test_stop_from_callback(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(1), .stop = true };

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL(evloop_run(&loop), 0);
	CU_ASSERT_EQUAL(a.calls, 1);
	/* The loop can run again after a stop. */
	CU_ASSERT_EQUAL(write(a.fd, &(uint64_t){ 1 }, 8), 8);
	CU_ASSERT_EQUAL(evloop_run(&loop), 0);
	CU_ASSERT_EQUAL(a.calls, 2);
	evloop_fini(&loop);
	close(a.fd);
}

static void *stopper(void *arg)
{
	usleep(20000);
	evloop_stop(arg);
	return NULL;
}

static void test_stop_from_thread(void)
{
	struct evloop loop;
	struct src a = { .fd = efd(0) };
	pthread_t t;

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL(evloop_add(&loop, a.fd, EPOLLIN, src_cb, &a), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, stopper, &loop), 0);
	/* Blocks (no busy loop: nothing is ready) until the other thread
	 * stops it. */
	CU_ASSERT_EQUAL(evloop_run(&loop), 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(a.calls, 0);
	evloop_fini(&loop);
	close(a.fd);
}

void unit_register(void)
{
	UNIT_SUITE("evloop",
		UNIT_TEST(test_dispatch),
		UNIT_TEST(test_errors),
		UNIT_TEST(test_del_self),
		UNIT_TEST(test_del_other_in_batch),
		UNIT_TEST(test_del_readd_in_batch),
		UNIT_TEST(test_stop_from_callback),
		UNIT_TEST(test_stop_from_thread));
}

/* epoll event loop (see include/isle/evloop.h for the contract).
 *
 * Sources live in an array indexed by fd. Each epoll registration carries
 * the fd and the source's generation in its 64-bit data; deleting or adding
 * an fd bumps the generation, so an event collected in a batch for a
 * registration that has since gone (or been replaced) no longer matches and
 * is dropped. That makes deleting anything from inside a callback safe with
 * no deferred frees. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "isle/evloop.h"

#define EVLOOP_BATCH 64
#define EVLOOP_WAKE_FD -1   /* data tag of the internal wake eventfd */

static uint64_t evloop_tag(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

int evloop_init(struct evloop *loop)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = evloop_tag(EVLOOP_WAKE_FD, 0) };

	memset(loop, 0, sizeof(*loop));
	loop->wakefd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wakefd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev)) {
		int err = -errno;

		if (loop->wakefd >= 0)
			close(loop->wakefd);
		close(loop->epfd);
		loop->epfd = loop->wakefd = -1;
		return err;
	}
	return 0;
}

void evloop_fini(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	free(loop->srcs);
	memset(loop, 0, sizeof(*loop));
	loop->epfd = loop->wakefd = -1;
}

static struct evloop_src *evloop_find(struct evloop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nr_srcs || !loop->srcs[fd].cb)
		return NULL;
	return &loop->srcs[fd];
}

static int evloop_grow(struct evloop *loop, int fd)
{
	int nr = loop->nr_srcs ? loop->nr_srcs : 16;
	struct evloop_src *s;

	while (nr <= fd)
		nr *= 2;
	s = realloc(loop->srcs, (size_t)nr * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + loop->nr_srcs, 0, (size_t)(nr - loop->nr_srcs) * sizeof(*s));
	loop->srcs = s;
	loop->nr_srcs = nr;
	return 0;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct evloop_src *s;
	int r;

	if (fd < 0)
		return -EBADF;
	if (!cb)
		return -EINVAL;
	if (evloop_find(loop, fd))
		return -EEXIST;
	if (fd >= loop->nr_srcs) {
		r = evloop_grow(loop, fd);
		if (r)
			return r;
	}
	s = &loop->srcs[fd];
	ev.data.u64 = evloop_tag(fd, s->gen + 1);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	s->gen++;
	s->cb = cb;
	s->opaque = opaque;
	s->events = events;
	return 0;
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events)
{
	struct evloop_src *s = evloop_find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOENT;
	ev.data.u64 = evloop_tag(fd, s->gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	s->events = events;
	return 0;
}

int evloop_del(struct evloop *loop, int fd)
{
	struct evloop_src *s = evloop_find(loop, fd);
	int r = 0;

	if (!s)
		return -ENOENT;
	/* EBADF/ENOENT: the fd was closed (and so left the epoll set) before
	 * it was deleted; the source still has to go. */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) && errno != EBADF &&
	    errno != ENOENT)
		r = -errno;
	s->cb = NULL;
	s->opaque = NULL;
	s->gen++;
	return r;
}

static void evloop_drain_wake(struct evloop *loop)
{
	uint64_t v;

	/* Non-blocking; an error only means there was nothing to read. */
	if (read(loop->wakefd, &v, sizeof(v)) < 0)
		return;
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[EVLOOP_BATCH];
	int n, done = 0;

	n = epoll_wait(loop->epfd, evs, EVLOOP_BATCH, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		struct evloop_src *s;

		if (fd == EVLOOP_WAKE_FD) {
			evloop_drain_wake(loop);
			continue;
		}
		/* Looked up afresh for every event: an earlier callback may
		 * have deleted, replaced or moved (realloc) the source. */
		s = evloop_find(loop, fd);
		if (!s || s->gen != gen)
			continue;
		s->cb(loop, fd, evs[i].events, s->opaque);
		done++;
	}
	return done;
}

int evloop_run(struct evloop *loop)
{
	int r = 0;

	while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE)) {
		r = evloop_run_once(loop, -1);
		if (r == -EINTR)
			r = 0;
		else if (r < 0)
			break;
		r = 0;
	}
	__atomic_store_n(&loop->stop, 0, __ATOMIC_RELAXED);
	return r;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	__atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
	/* Wakes a loop blocked in epoll_wait (another thread, or a signal
	 * handler that ran outside the loop's own wait). A full counter means
	 * a wakeup is already pending. */
	if (write(loop->wakefd, &one, sizeof(one)) < 0)
		return;
}

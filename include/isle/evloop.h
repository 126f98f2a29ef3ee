/* The epoll event loop the VMM and the backends share.
 *
 * Contract: one loop per thread; all calls but evloop_stop() come from that
 * thread (callbacks included). A callback may add, modify or delete any
 * source, including its own fd and fds whose events are in the same ready
 * batch: a deleted source is never called again, even for an event already
 * collected, and an fd deleted and re-added (possibly a new file with the
 * same number) only sees events that arrived for the new registration.
 * Delete a source before closing its fd. Nothing spins: the loop only wakes
 * for events, its timeout, or evloop_stop(). */
#ifndef ISLE_EVLOOP_H
#define ISLE_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;

/* events: the EPOLL* bits that fired (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR). */
typedef void (*evloop_cb)(struct evloop *loop, int fd, uint32_t events, void *opaque);

struct evloop_src {
	evloop_cb cb;       /* NULL: slot free */
	void *opaque;
	uint32_t events;
	uint32_t gen;       /* bumped on every add and delete of this fd */
};

struct evloop {
	int epfd;
	int wakefd;                 /* eventfd evloop_stop() writes */
	struct evloop_src *srcs;    /* indexed by fd */
	int nr_srcs;
	int stop;                   /* set by evloop_stop(), atomically */
};

/* 0 or -errno. */
int evloop_init(struct evloop *loop);
/* Closes the loop's own fds; the sources' fds stay the caller's. */
void evloop_fini(struct evloop *loop);

/* events: EPOLLIN/EPOLLOUT/EPOLLET/... as for epoll_ctl(). Returns 0,
 * -EEXIST if fd is already in the loop, -EBADF for a bad fd, or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque);
/* Changes the events of a source; -ENOENT if fd is not in the loop. */
int evloop_mod(struct evloop *loop, int fd, uint32_t events);
/* Removes a source; -ENOENT if fd is not in the loop. */
int evloop_del(struct evloop *loop, int fd);

/* Waits up to timeout_ms (-1: forever) for one batch of events and
 * dispatches it. Returns how many callbacks ran, 0 on timeout, -EINTR if a
 * signal interrupted the wait, or -errno. */
int evloop_run_once(struct evloop *loop, int timeout_ms);
/* Dispatches until evloop_stop(); returns 0, or -errno if waiting failed. */
int evloop_run(struct evloop *loop);
/* Makes evloop_run() return after the current batch (the rest of the batch
 * is still dispatched: edge-triggered events would be lost otherwise). Safe
 * from callbacks, other threads and signal handlers. Called while no
 * evloop_run() is active, it makes the next one return at once. */
void evloop_stop(struct evloop *loop);

#endif

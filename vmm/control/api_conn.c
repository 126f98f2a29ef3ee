/* The control socket's connections before libmicrohttpd has them (see
 * api.c's top comment): accepted here, held until their first bytes come,
 * the SCM_RIGHTS fds with those bytes taken by a MSG_PEEK recvmsg and kept
 * by connection until the request claims them or the connection closes;
 * and, for the connections libmicrohttpd has, the fds that come with a
 * later request on them (api_harvest, before each libmicrohttpd run). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/api_priv.h"

long api_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

void api_close_fds(int *fds, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

static struct api_fdset *api_fdset_of(struct api_server *s, int fd)
{
	for (struct api_fdset *f = s->fdsets; f; f = f->next)
		if (f->conn_fd == fd)
			return f;
	return NULL;
}

/* The fds kept for connection fd, taken off the list (NULL: none). */
static struct api_fdset *api_fdset_take(struct api_server *s, int fd)
{
	for (struct api_fdset **pp = &s->fdsets; *pp; pp = &(*pp)->next)
		if ((*pp)->conn_fd == fd) {
			struct api_fdset *f = *pp;

			*pp = f->next;
			return f;
		}
	return NULL;
}

/* The connection is gone: the fds it brought that no request took too. */
static void api_fdset_drop(struct api_server *s, int fd)
{
	struct api_fdset *f = api_fdset_take(s, fd);

	if (f) {
		api_close_fds(f->fds, f->nr);
		free(f);
	}
}

static void api_live_drop(struct api_server *s, int fd)
{
	for (struct api_live **pp = &s->live; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd) {
			struct api_live *l = *pp;

			*pp = l->next;
			free(l);
			return;
		}
}

void api_claim_fds(struct api_server *s, struct MHD_Connection *conn,
			  struct api_req *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct api_fdset *f = ci ? api_fdset_take(s, ci->connect_fd) : NULL;

	if (!f)
		return;
	for (unsigned int i = 0; i < API_MAX_FDS; i++)
		req->fds[i] = i < f->nr ? f->fds[i] : -1;
	req->nr_fds = f->nr;
	free(f);
}

void api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			    enum MHD_ConnectionNotificationCode code)
{
	struct api_server *s = cls;
	const union MHD_ConnectionInfo *ci;

	(void)socket_ctx;
	if (code != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	api_live_drop(s, ci->connect_fd);
	api_fdset_drop(s, ci->connect_fd);
}

void api_unwait(struct api_server *s, int fd, bool close_it)
{
	for (struct api_waiting **pp = &s->waiting; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd) {
			struct api_waiting *w = *pp;

			*pp = w->next;
			free(w);
			break;
		}
	evloop_del(&s->loop, fd);
	if (close_it)
		close(fd);
}

/* The fds attached to the data at the head of fd's queue, if any, kept for
 * the request that data starts (a MSG_PEEK: libmicrohttpd still reads the
 * bytes; its recv() then drops the originals, the duplicates are ours).
 * Returns the recvmsg result: > 0 data, 0 EOF, < 0 with errno. */
static ssize_t api_peek_fds(struct api_server *s, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * API_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	char peek[1];
	struct iovec iov = { .iov_base = peek, .iov_len = sizeof(peek) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct api_fdset *set = NULL;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned int nr;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nr = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned int i = 0; i < nr; i++) {
			int rfd;

			/* Already ours: what is not kept is closed. */
			memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (!set)
				set = calloc(1, sizeof(*set));
			if (set && set->nr < API_MAX_FDS)
				set->fds[set->nr++] = rfd;
			else
				close(rfd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		log_warn("api: a client sent more than %d fds; the rest were dropped", API_MAX_FDS);
	if (set) {
		set->conn_fd = fd;
		set->next = s->fdsets;
		s->fdsets = set;
	}
	return n;
}

/* The fds that came with the next request on those of pfd[0, n) that have
 * something to read. */
static void api_peek_readable(struct api_server *s, struct pollfd *pfd, nfds_t n)
{
	if (poll(pfd, n, 0) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents & POLLIN)
			api_peek_fds(s, pfd[i].fd);
}

void api_harvest(struct api_server *s)
{
	/* A keep-alive client (Kata sends one vm.add-net after another on one
	 * connection) attaches fds to a later request: take them before
	 * libmicrohttpd reads it. Only connections with bytes waiting are
	 * peeked (one poll for all of them), and not one whose fds no request
	 * has claimed yet: peeking again would duplicate them. */
	struct pollfd pfd[API_MAX_CONNS];
	nfds_t n = 0;

	for (struct api_live *l = s->live; l; l = l->next) {
		if (api_fdset_of(s, l->fd))
			continue;
		pfd[n++] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
		if (n == ARRAY_SIZE(pfd)) {
			api_peek_readable(s, pfd, n);
			n = 0;
		}
	}
	if (n)
		api_peek_readable(s, pfd, n);
}

/* The connection's first bytes are there: take the fds that came with
 * them, then give the connection to libmicrohttpd. */
static void api_first_bytes(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct api_server *s = opaque;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct api_live *l;
	ssize_t n;

	(void)loop, (void)events;
	n = api_peek_fds(s, fd);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	api_unwait(s, fd, n <= 0);
	if (n <= 0)
		return;
	if ((l = calloc(1, sizeof(*l)))) {
		l->fd = fd;
		l->next = s->live;
		s->live = l;
	}
	if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sun, sizeof(sun)) !=
	    MHD_YES) {
		/* libmicrohttpd closed fd; what we kept for it goes too. */
		api_live_drop(s, fd);
		api_fdset_drop(s, fd);
	}
}

void api_accept(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct api_server *s = opaque;
	struct api_waiting *w;
	int c;

	(void)events;
	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (!(w = calloc(1, sizeof(*w))) ||
		    evloop_add(loop, c, EPOLLIN | EPOLLRDHUP, api_first_bytes, s)) {
			free(w);
			close(c);
			continue;
		}
		w->fd = c;
		clock_gettime(CLOCK_MONOTONIC, &w->since);
		w->next = s->waiting;
		s->waiting = w;
	}
}


/* vhost-user server socket: listen, one connection at a time, reconnect
 * (contract in include/isle/vu_server.h).
 *
 * The connection is a blocking socket (vu_dispatch reads whole messages);
 * only readiness comes from the loop. While a front-end is connected the
 * listening socket is out of the loop, so the next front-end waits in the
 * backlog instead of being accepted and dropped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/usock.h"
#include "isle/vu_server.h"

static void vu_server_on_conn(struct evloop *loop, int fd, uint32_t events, void *opaque);

static void vu_server_on_listen(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_server *s = opaque;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("vhost-user: accept: %s", strerror(errno));
		return;
	}
	if (vu_dev_init(&s->dev, c, s->ops, &s->params, s->priv) ||
	    evloop_add(loop, c, EPOLLIN, vu_server_on_conn, s)) {
		log_error("vhost-user: cannot serve a new connection");
		close(c);
		return;
	}
	evloop_del(loop, fd);
	s->conn_fd = c;
	s->connections++;
	log_info("vhost-user: front-end connected on %s", s->addr.sun_path);
	if (s->hooks && s->hooks->connected)
		s->hooks->connected(s);
}

void vu_server_disconnect(struct vu_server *s)
{
	if (s->conn_fd < 0)
		return;
	evloop_del(s->loop, s->conn_fd);
	vu_dev_cleanup(&s->dev);   /* stops every started ring */
	close(s->conn_fd);
	s->conn_fd = -1;
	if (s->hooks && s->hooks->disconnected)
		s->hooks->disconnected(s);
	if (s->listen_fd >= 0 &&
	    evloop_add(s->loop, s->listen_fd, EPOLLIN, vu_server_on_listen, s))
		log_error("vhost-user: cannot listen again on %s", s->addr.sun_path);
}

static void vu_server_on_conn(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_server *s = opaque;
	int r = vu_dispatch(&s->dev);

	if (!r)
		return;
	if (r == -ECONNRESET)
		log_info("vhost-user: front-end disconnected; waiting for the next one");
	else
		log_warn("vhost-user: closing the connection: %s", strerror(-r));
	vu_server_disconnect(s);
}

int vu_server_open(struct vu_server *s, struct evloop *loop, const char *path,
		   const struct vu_dev_ops *ops, const struct vu_dev_params *p, void *priv,
		   const struct vu_server_hooks *hooks)
{
	bool replaced;
	int fd, r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->conn_fd = -1;
	if (strlen(path) >= sizeof(s->addr.sun_path))
		return -ENAMETOOLONG;
	s->loop = loop;
	s->ops = ops;
	s->params = *p;
	s->priv = priv;
	s->hooks = hooks;
	s->addr.sun_family = AF_UNIX;
	snprintf(s->addr.sun_path, sizeof(s->addr.sun_path), "%s", path);
	fd = usock_listen(path, 1, &s->sock_st, &replaced);
	if (fd < 0)
		return fd;
	if (replaced)
		log_info("vhost-user: %s: replacing a stale socket", path);
	r = evloop_add(loop, fd, EPOLLIN, vu_server_on_listen, s);
	if (r) {
		close(fd);
		usock_unlink_own(path, &s->sock_st);
		return r;
	}
	s->listen_fd = fd;
	return 0;
}

void vu_server_close(struct vu_server *s)
{
	int fd = s->listen_fd;

	s->listen_fd = -1;   /* vu_server_disconnect must not re-arm it */
	vu_server_disconnect(s);
	if (fd < 0)
		return;
	evloop_del(s->loop, fd);
	close(fd);
	usock_unlink_own(s->addr.sun_path, &s->sock_st);
}

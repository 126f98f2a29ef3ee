/* A vhost-user back-end's listening socket: binds a path, serves one
 * front-end at a time on the caller's event loop, and goes back to
 * listening when that front-end leaves (EOF or a protocol error), so a VMM
 * can reconnect. isle-tapdisk and isle-netback serve through it; any
 * back-end with a struct vu_dev_ops can.
 *
 * Contract:
 *  - vu_server_open() binds and listens (isle/usock.h: a stale socket
 *    file is replaced, and that is logged; a live one is -EADDRINUSE; a
 *    path that exists and is not a socket is -EEXIST). Nothing is logged
 *    on errors.
 *  - Everything else runs on the loop's thread: accept, vu_dev_init,
 *    vu_dispatch per readable event, and on the way out vu_dev_cleanup
 *    (every started ring is stopped through the device ops) before the
 *    hooks' disconnected() runs and the listening socket is watched again.
 *    Further front-ends wait in the backlog meanwhile.
 *  - vu_server_close() drops the connection the same way, closes the
 *    socket and unlinks the path if it is still the file we made. */
#ifndef ISLE_VU_SERVER_H
#define ISLE_VU_SERVER_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "isle/evloop.h"
#include "isle/vhost_user.h"

struct vu_server;

struct vu_server_hooks {
	/* A front-end connected; s->dev is initialized (optional). */
	void (*connected)(struct vu_server *s);
	/* It is gone and s->dev cleaned up (optional). */
	void (*disconnected)(struct vu_server *s);
};

struct vu_server {
	struct evloop *loop;
	int listen_fd, conn_fd;
	struct sockaddr_un addr;
	struct stat sock_st;             /* the socket file we made */
	struct vu_dev dev;
	const struct vu_dev_ops *ops;
	struct vu_dev_params params;
	void *priv;                      /* becomes dev.priv */
	const struct vu_server_hooks *hooks;
	unsigned long connections;       /* accepted so far */
};

int vu_server_open(struct vu_server *s, struct evloop *loop, const char *path,
		   const struct vu_dev_ops *ops, const struct vu_dev_params *p, void *priv,
		   const struct vu_server_hooks *hooks);
void vu_server_close(struct vu_server *s);

static inline bool vu_server_connected(const struct vu_server *s)
{
	return s->conn_fd >= 0;
}

/* Drops the current front-end (if any) and listens again. */
void vu_server_disconnect(struct vu_server *s);

#endif

/* What api.c and api_conn.c share (api.h is the interface): the accepted
 * connections that wait for their first bytes, and the fds they brought. */
#ifndef ISLE_VMM_API_PRIV_H
#define ISLE_VMM_API_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "control/api.h"

#define API_FIRST_BYTES_MS 5000
#define API_MAX_CONNS      64     /* libmicrohttpd's connection limit */

struct api_waiting {
	int fd;
	struct timespec since;
	struct api_waiting *next;
};

struct api_fdset {
	int conn_fd;
	int fds[API_MAX_FDS];
	unsigned int nr;
	struct api_fdset *next;
};

/* A connection libmicrohttpd has. */
struct api_live {
	int fd;
	struct api_live *next;
};

long api_ms_since(const struct timespec *t);
/* Before each MHD_run: the fds that came with a keep-alive connection's
 * next request (see api_conn.c). */
void api_harvest(struct api_server *s);
void api_close_fds(int *fds, unsigned int nr);
/* The fds that came with this connection's first bytes, handed to req
 * (the slots after them are -1). */
void api_claim_fds(struct api_server *s, struct MHD_Connection *conn, struct api_req *req);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION: a closed connection's
 * unclaimed fds are closed. */
void api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
		     enum MHD_ConnectionNotificationCode code);
/* Stops waiting for fd's first bytes (closing it if asked). */
void api_unwait(struct api_server *s, int fd, bool close_it);
/* The listening socket's callback (the API thread's loop). */
void api_accept(struct evloop *loop, int fd, uint32_t events, void *opaque);

#endif

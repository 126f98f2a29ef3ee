/* The control socket: cloud-hypervisor's HTTP/1.1 API (`/api/v1/...`) on a
 * unix socket, served by libmicrohttpd on a thread of its own.
 *
 * Contract: HTTP (parsing, limits, slow or stuck clients, routing, method
 * checks, bodies over API_BODY_MAX) is handled here, on the API thread;
 * a request that names a known endpoint with the right method becomes a
 * struct api_req that the MAIN thread executes (api_dispatch() from its
 * event loop, when api_req_fd() is readable), because the VM and its
 * device list belong to that thread. The connection is suspended
 * meanwhile, so other clients go on being served; the reply is queued
 * when the main thread is done. File descriptors that come with a request
 * (SCM_RIGHTS, as Kata sends tap fds with vm.add-net) must arrive with the
 * request's first bytes, in the same sendmsg() as the whole request (as
 * Kata and ch-remote send them: libmicrohttpd reads a connection edge-
 * triggered, and a read stops where the fds were attached), on a new
 * connection or a kept-alive one; the handler
 * takes the ones it keeps (sets them to -1), the rest are closed with the
 * request. */
#ifndef ISLE_VMM_API_H
#define ISLE_VMM_API_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "isle/evloop.h"

#define API_BODY_MAX   (64 * 1024)
#define API_MAX_FDS    16
#define API_PREFIX     "/api/v1/"

enum api_op {
	API_VMM_PING, API_VMM_SHUTDOWN,
	API_VM_CREATE, API_VM_BOOT, API_VM_DELETE, API_VM_INFO, API_VM_COUNTERS,
	API_VM_PAUSE, API_VM_RESUME, API_VM_SHUTDOWN, API_VM_REBOOT, API_VM_POWER_BUTTON,
	API_VM_RESIZE, API_VM_ADD_DISK, API_VM_ADD_NET, API_VM_ADD_DEVICE,
	API_VM_REMOVE_DEVICE, API_VM_BALLOON, API_VM_BALLOON_SET, API_VM_BALLOON_STATS,
	API_VM_BALLOON_STATS_SET,
	API_NR_OPS,
};

struct api_req {
	enum api_op op;
	const char *endpoint;      /* "vm.info" */
	char *body;                /* NUL-terminated; "" without a body */
	size_t len;
	int fds[API_MAX_FDS];      /* received with the request; -1 once taken */
	unsigned int nr_fds;
	/* Set by the handler: the HTTP status and a JSON body (malloc'ed, or
	 * NULL for none). */
	unsigned int status;
	char *reply;

	/* Set by the handler when it answers later, with api_complete(). */
	bool deferred;

	/* The server's. */
	void *conn;
	bool submitted, too_large;
	struct api_req *next;
};

/* Runs on the main thread for every routed request. */
typedef void (*api_handler)(void *opaque, struct api_req *req);

struct api_server {
	int listen_fd;
	char path[108];
	struct stat made;          /* the socket file (usock_unlink_own) */
	void *mhd;                 /* struct MHD_Daemon */
	pthread_t thread;
	bool thread_started;
	struct evloop loop;        /* the API thread's */
	int req_efd;               /* API thread -> main: requests pending */
	int done_efd;              /* main -> API thread: replies ready */
	pthread_mutex_t lock;
	struct api_req *pending, *pending_tail, *done;
	struct api_req *deferred;  /* handled, answer not yet given */
	api_handler handler;
	void *opaque;
	/* Accepted connections whose first bytes have not come yet. */
	struct api_waiting *waiting;
	/* Received fds by connection fd, until the request claims them. */
	struct api_fdset *fdsets;
	struct api_live *live;     /* connections libmicrohttpd has */
	unsigned long served;      /* requests answered (vm.counters); atomic */
	bool stopping;             /* api_stop: new requests get 503 */
};

/* Binds path with usock_listen (isle/usock.h: a stale socket file is
 * replaced, a live one is -EADDRINUSE, anything else there -EEXIST), mode
 * 0600, and starts the API thread.
 * Called before the process starts other threads (it sets the umask for
 * the bind). After a failure, api_stop() releases what was made. */
int api_start(struct api_server *s, const char *path, api_handler handler, void *opaque);
/* The eventfd the main thread polls; then it calls api_dispatch(). */
int api_req_fd(const struct api_server *s);
void api_dispatch(struct api_server *s);
/* A deferred request's reply (api_reply_*) is set: send it. Main thread. */
void api_complete(struct api_server *s, struct api_req *req);
/* Lets queued replies go out (up to a second), stops the thread, removes
 * the socket file (if it is still the one api_start made). */
void api_stop(struct api_server *s);

/* Replies: a JSON error {"error": msg} with status, or a JSON body. */
void api_reply_error(struct api_req *req, unsigned int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_reply_json(struct api_req *req, unsigned int status, char *json);

#endif

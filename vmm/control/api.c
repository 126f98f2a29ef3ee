/* The control socket's HTTP side (see api.h): a unix socket, libmicrohttpd
 * in external-epoll mode on the API thread's event loop, cloud-hypervisor's
 * endpoint table, and the hand-over of routed requests to the main thread.
 *
 * Why the accept is ours: libmicrohttpd reads with recv(), which drops
 * SCM_RIGHTS, and Kata sends vm.add-net's tap fds with the request. So the
 * API thread accepts, waits (in its loop, never blocking) for the first
 * bytes, takes the fds with a MSG_PEEK recvmsg, and only then hands the
 * connection to libmicrohttpd. A client that sends nothing for
 * API_FIRST_BYTES_MS is dropped; libmicrohttpd's own timeout covers the
 * rest of a slow request. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "isle/log.h"
#include "isle/usock.h"
#include "isle/util.h"
#include "control/api_priv.h"

#define API_CONN_TIMEOUT_S 10

static const struct { const char *name; const char *method; enum api_op op; } api_routes[] = {
	{ "vmm.ping", "GET", API_VMM_PING },
	{ "vmm.shutdown", "PUT", API_VMM_SHUTDOWN },
	{ "vm.create", "PUT", API_VM_CREATE },
	{ "vm.boot", "PUT", API_VM_BOOT },
	{ "vm.delete", "PUT", API_VM_DELETE },
	{ "vm.info", "GET", API_VM_INFO },
	{ "vm.counters", "GET", API_VM_COUNTERS },
	{ "vm.pause", "PUT", API_VM_PAUSE },
	{ "vm.resume", "PUT", API_VM_RESUME },
	{ "vm.shutdown", "PUT", API_VM_SHUTDOWN },
	{ "vm.reboot", "PUT", API_VM_REBOOT },
	{ "vm.power-button", "PUT", API_VM_POWER_BUTTON },
	{ "vm.resize", "PUT", API_VM_RESIZE },
	{ "vm.add-disk", "PUT", API_VM_ADD_DISK },
	{ "vm.add-net", "PUT", API_VM_ADD_NET },
	{ "vm.add-device", "PUT", API_VM_ADD_DEVICE },
	{ "vm.remove-device", "PUT", API_VM_REMOVE_DEVICE },
	{ "vm.balloon", "GET", API_VM_BALLOON },
	{ "vm.balloon", "PUT", API_VM_BALLOON_SET },
	{ "vm.balloon-statistics", "GET", API_VM_BALLOON_STATS },
	{ "vm.balloon-statistics", "PUT", API_VM_BALLOON_STATS_SET },
};

void api_reply_json(struct api_req *req, unsigned int status, char *json)
{
	free(req->reply);
	req->status = status;
	req->reply = json;
}

/* {"error": msg}, malloc'ed (NULL when out of memory). */
static char *api_error_body(const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

void api_reply_error(struct api_req *req, unsigned int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_reply_json(req, status, api_error_body(msg));
}

/* libmicrohttpd's own messages, at debug level: on a unix socket it tries
 * TCP options (TCP_NODELAY, TCP_CORK) and says each time that they fail,
 * which is harmless there (no Nagle on AF_UNIX). */
static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("api: libmicrohttpd: %s", msg);
}

static enum MHD_Result api_send(struct MHD_Connection *conn, unsigned int status,
				const char *json)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	size_t len = json ? strlen(json) : 0;

	resp = MHD_create_response_from_buffer(len, (void *)(json ? json : ""),
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (len)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result api_send_error(struct MHD_Connection *conn, unsigned int status,
				      const char *msg)
{
	char *s = api_error_body(msg);
	enum MHD_Result r = api_send(conn, status, s);

	free(s);
	return r;
}

static void api_submit(struct api_server *s, struct api_req *req)
{
	uint64_t one = 1;

	req->submitted = true;
	pthread_mutex_lock(&s->lock);
	if (s->pending_tail)
		s->pending_tail->next = req;
	else
		s->pending = req;
	s->pending_tail = req;
	pthread_mutex_unlock(&s->lock);
	if (write(s->req_efd, &one, sizeof(one)) < 0)
		log_warn("api: waking the main thread: %s", strerror(errno));
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *req = *con_cls;
	size_t k;

	(void)version;
	if (!req) {
		const char *name;

		if (strncmp(url, API_PREFIX, strlen(API_PREFIX)))
			return api_send_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
		name = url + strlen(API_PREFIX);
		/* An endpoint may take GET and PUT (vm.balloon): a route per pair. */
		for (k = 0; k < ARRAY_SIZE(api_routes); k++)
			if (!strcmp(api_routes[k].name, name) &&
			    !strcmp(api_routes[k].method, method))
				break;
		if (k == ARRAY_SIZE(api_routes)) {
			char how[16] = "", msg[64];

			for (size_t j = 0; j < ARRAY_SIZE(api_routes); j++)
				if (!strcmp(api_routes[j].name, name))
					snprintf(how + strlen(how), sizeof(how) - strlen(how), "%s%s",
						 how[0] ? " or " : "", api_routes[j].method);
			if (!how[0])
				return api_send_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
			snprintf(msg, sizeof(msg), "%s takes %s", name, how);
			return api_send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
		}
		req = calloc(1, sizeof(*req));
		if (!req || !(req->body = calloc(1, 1))) {
			free(req);
			return MHD_NO;
		}
		for (unsigned int i = 0; i < API_MAX_FDS; i++)
			req->fds[i] = -1;
		req->op = api_routes[k].op;
		req->endpoint = api_routes[k].name;
		req->conn = conn;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!req->too_large && req->len + *upload_size <= API_BODY_MAX) {
			char *grown = realloc(req->body, req->len + *upload_size + 1);

			if (!grown)
				return MHD_NO;
			memcpy(grown + req->len, upload_data, *upload_size);
			req->len += *upload_size;
			grown[req->len] = '\0';
			req->body = grown;
		} else {
			req->too_large = true;   /* read and dropped, then refused */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_large)
		return api_send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 64 KiB");
	if (req->submitted) {   /* resumed (api_done_ready): the main thread is done */
		__atomic_add_fetch(&s->served, 1, __ATOMIC_RELAXED);
		return api_send(conn, req->status ? req->status : 500, req->reply);
	}
	if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
		return api_send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "isle is shutting down");
	api_claim_fds(s, conn, req);
	MHD_suspend_connection(conn);
	api_submit(s, req);
	return MHD_YES;
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_req *req = *con_cls;

	(void)cls, (void)conn, (void)toe;
	if (!req)
		return;
	api_close_fds(req->fds, API_MAX_FDS);
	free(req->body);
	free(req->reply);
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd has work: waking the loop is all it takes, api_thread runs
 * it (after api_harvest) once per wake-up, whatever woke it. */
static void api_mhd_ready(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	(void)loop, (void)fd, (void)events, (void)opaque;
}

/* Replies the main thread finished: resume their connections (sent by the
 * MHD_run that follows the batch). */
static void api_done_ready(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct api_server *s = opaque;
	struct api_req *list;
	uint64_t v;

	(void)loop, (void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while (list) {
		struct api_req *next = list->next;

		list->next = NULL;
		MHD_resume_connection(list->conn);
		list = next;
	}
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;

	while (!__atomic_load_n(&s->loop.stop, __ATOMIC_ACQUIRE)) {
		MHD_UNSIGNED_LONG_LONG mhd_ms = 0;
		int timeout = 1000;

		if (MHD_get_timeout(s->mhd, &mhd_ms) == MHD_YES && mhd_ms < 1000)
			timeout = (int)mhd_ms;
		if (s->waiting && timeout > 250)
			timeout = 250;
		int r = evloop_run_once(&s->loop, timeout);

		if (r < 0 && r != -EINTR)
			break;
		api_harvest(s);
		MHD_run(s->mhd);
		for (struct api_waiting *w = s->waiting, *next; w; w = next) {
			next = w->next;
			if (api_ms_since(&w->since) > API_FIRST_BYTES_MS)
				api_unwait(s, w->fd, true);   /* connected, said nothing */
		}
	}
	return NULL;
}

int api_req_fd(const struct api_server *s)
{
	return s->req_efd;
}

void api_dispatch(struct api_server *s)
{
	struct api_req *list, *done = NULL, **tail = &done;
	uint64_t v, one = 1;

	if (read(s->req_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->lock);
	list = s->pending;
	s->pending = s->pending_tail = NULL;
	pthread_mutex_unlock(&s->lock);
	for (struct api_req *r = list, *next; r; r = next) {
		next = r->next;
		r->next = NULL;
		s->handler(s->opaque, r);
		if (r->deferred) {   /* answered by api_complete() */
			pthread_mutex_lock(&s->lock);
			r->next = s->deferred;
			s->deferred = r;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		*tail = r;
		tail = &r->next;
	}
	if (!done)
		return;
	pthread_mutex_lock(&s->lock);
	*tail = s->done;
	s->done = done;
	pthread_mutex_unlock(&s->lock);
	if (write(s->done_efd, &one, sizeof(one)) < 0)
		log_warn("api: waking the API thread: %s", strerror(errno));
}

void api_complete(struct api_server *s, struct api_req *req)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (struct api_req **pp = &s->deferred; *pp; pp = &(*pp)->next)
		if (*pp == req) {
			*pp = req->next;
			req->deferred = false;
			req->next = s->done;
			s->done = req;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (write(s->done_efd, &one, sizeof(one)) < 0)
		log_warn("api: waking the API thread: %s", strerror(errno));
}

/* usock_listen's socket, 0600 from the start (no window in which others
 * could connect), non-blocking for api_accept's accept loop. */
static int api_listen(const char *path, struct stat *made)
{
	mode_t old = umask(0177);
	int fd = usock_listen(path, 64, made, NULL);

	umask(old);
	if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		usock_unlink_own(path, made);
		return r;
	}
	return fd;
}

int api_start(struct api_server *s, const char *path, api_handler handler, void *opaque)
{
	const union MHD_DaemonInfo *di;
	int r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->req_efd = s->done_efd = -1;
	s->loop.epfd = s->loop.wakefd = -1;
	s->handler = handler;
	s->opaque = opaque;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->path, sizeof(s->path), "%s", path);
	if ((r = api_listen(path, &s->made)) < 0) {
		log_error("api socket %s: %s", path, strerror(-r));
		s->path[0] = '\0';
		return r;
	}
	s->listen_fd = r;
	s->req_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->req_efd < 0 || s->done_efd < 0)
		return -errno;
	s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
				  MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				  api_access, s,
				  MHD_OPTION_NOTIFY_COMPLETED, api_completed, s,
				  MHD_OPTION_NOTIFY_CONNECTION, api_conn_notify, s,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_MAX_CONNS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
				  MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
				  MHD_OPTION_END);
	if (!s->mhd || !(di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD))) {
		log_error("api: libmicrohttpd would not start");
		return -EIO;
	}
	if ((r = evloop_init(&s->loop)) ||
	    (r = evloop_add(&s->loop, s->listen_fd, EPOLLIN, api_accept, s)) ||
	    (r = evloop_add(&s->loop, di->epoll_fd, EPOLLIN, api_mhd_ready, s)) ||
	    (r = evloop_add(&s->loop, s->done_efd, EPOLLIN, api_done_ready, s)))
		return r;
	if ((r = pthread_create(&s->thread, NULL, api_thread, s)))
		return -r;
	s->thread_started = true;
	log_info("control socket on %s", path);
	return 0;
}

/* api_stop: requests the main thread will not answer get 503 (a deferred
 * one that has its reply keeps it) and go to the done list. Under s->lock. */
static void api_refuse_all(struct api_server *s, struct api_req *list)
{
	for (struct api_req *r = list, *next; r; r = next) {
		next = r->next;
		if (!r->deferred || !r->status)
			api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "isle is shutting down");
		r->deferred = false;
		r->next = s->done;
		s->done = r;
	}
}

void api_stop(struct api_server *s)
{
	if (s->thread_started) {
		uint64_t one = 1;
		bool more;

		/* No new request reaches the main thread from now on, and the
		 * ones waiting for it are answered here: libmicrohttpd cannot
		 * stop while connections are suspended. */
		__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
		pthread_mutex_lock(&s->lock);
		more = s->pending || s->deferred;
		api_refuse_all(s, s->pending);
		api_refuse_all(s, s->deferred);
		s->pending = s->pending_tail = s->deferred = NULL;
		pthread_mutex_unlock(&s->lock);
		if (more && write(s->done_efd, &one, sizeof(one)) < 0)
			log_warn("api: waking the API thread: %s", strerror(errno));
		/* Replies already queued (vmm.shutdown's own) go out first. */
		for (int i = 0; i < 100 && MHD_get_daemon_info(s->mhd,
				MHD_DAEMON_INFO_CURRENT_CONNECTIONS)->num_connections; i++)
			usleep(10000);
		evloop_stop(&s->loop);
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	while (s->waiting)
		api_unwait(s, s->waiting->fd, true);
	while (s->fdsets) {
		struct api_fdset *f = s->fdsets;

		s->fdsets = f->next;
		api_close_fds(f->fds, f->nr);
		free(f);
	}
	while (s->live) {   /* libmicrohttpd closed them */
		struct api_live *l = s->live;

		s->live = l->next;
		free(l);
	}
	if (s->loop.epfd >= 0) {
		if (s->listen_fd >= 0)
			evloop_del(&s->loop, s->listen_fd);
		evloop_fini(&s->loop);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->path[0])
		usock_unlink_own(s->path, &s->made);
	if (s->req_efd >= 0)
		close(s->req_efd);
	if (s->done_efd >= 0)
		close(s->done_efd);
	s->listen_fd = s->req_efd = s->done_efd = -1;
	pthread_mutex_destroy(&s->lock);
}

/* Unit tests for vmm/control/api.c: a server on a unix socket in a fresh
 * temporary directory, its routed requests run by a dispatcher thread that
 * polls api_req_fd() and calls api_dispatch() (the main thread's part), and
 * a client written with plain sockets that sends raw HTTP/1.1 and reads
 * the reply. No KVM.
 *
 * Checked: every endpoint reaches the handler, on the dispatching thread,
 * with its api_op; unknown endpoints and paths outside /api/v1/ are 404
 * and wrong methods 405, with a JSON {"error": ...} and no handler call;
 * the handler's reply (JSON, error, none, replaced) is what the client
 * gets; bodies arrive whole, also when written in pieces with pauses, up
 * to 64 KiB, and a larger one is 413 without a handler call; two requests
 * on one connection; fds sent with the first bytes (the whole request in
 * one sendmsg, as ch-remote sends it) reach req->fds (the same files:
 * st_ino), only 16 of them, fds sent after the first bytes do not, and
 * every fd the handler does not take is closed once the reply is out, also
 * for a refused request (seen as EOF on a pipe whose write end was sent;
 * fd numbers may be reused, so closing is never checked by number); a
 * connected client that sends nothing, or half a request, does not hold
 * up another; the socket file is 0600 whatever the umask; a live path is
 * -EADDRINUSE, a stale socket file is replaced, a path too long is
 * -ENAMETOOLONG; api_stop removes the file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/api.h"

static char dir[32], path[64];
static struct api_server srv;
static pthread_t disp_thread;
static int disp_stop = -1;

/* --- the handler: records what it saw, replies as told --- */

enum reply_mode { REPLY_JSON, REPLY_ERROR, REPLY_NONE, REPLY_REPLACED };

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned int calls;
	void *opaque;
	bool on_dispatch_thread;
	enum api_op op;
	char endpoint[32];
	char *body;
	size_t len;
	bool body_nul;              /* body[len] == '\0' */
	unsigned int nr_fds;
	bool fd_open[API_MAX_FDS];
	struct stat fd_st[API_MAX_FDS];
	bool rest_unset;            /* fds[nr_fds..] are all -1 */
	/* Set by the test. */
	enum reply_mode mode;
	bool take_first;            /* the handler keeps fds[0] */
	int taken;                  /* what it kept, or -1 */
} seen;

static void handler(void *opaque, struct api_req *req)
{
	char *json;

	pthread_mutex_lock(&seen_lock);
	seen.calls++;
	seen.opaque = opaque;
	seen.on_dispatch_thread = pthread_equal(pthread_self(), disp_thread);
	seen.op = req->op;
	snprintf(seen.endpoint, sizeof(seen.endpoint), "%s", req->endpoint);
	free(seen.body);
	seen.body = malloc(req->len + 1);
	if (seen.body)
		memcpy(seen.body, req->body, req->len + 1);
	seen.len = req->len;
	seen.body_nul = req->body[req->len] == '\0';
	seen.nr_fds = req->nr_fds;
	seen.rest_unset = true;
	for (unsigned int i = 0; i < API_MAX_FDS; i++) {
		seen.fd_open[i] = i < req->nr_fds && fstat(req->fds[i], &seen.fd_st[i]) == 0;
		if (i >= req->nr_fds && req->fds[i] != -1)
			seen.rest_unset = false;
	}
	if (seen.take_first && req->nr_fds) {
		seen.taken = req->fds[0];
		req->fds[0] = -1;
	}
	switch (seen.mode) {
	case REPLY_JSON:
		if (asprintf(&json, "{\"op\":%d,\"len\":%zu}", (int)req->op, req->len) < 0)
			json = NULL;
		api_reply_json(req, 200, json);
		break;
	case REPLY_ERROR:
		api_reply_error(req, 409, "busy: %s", req->endpoint);
		break;
	case REPLY_NONE:
		break;
	case REPLY_REPLACED:
		api_reply_json(req, 201, strdup("{\"first\":true}"));
		api_reply_error(req, 400, "second");
		break;
	}
	pthread_mutex_unlock(&seen_lock);
}

static void set_reply(enum reply_mode mode, bool take_first)
{
	pthread_mutex_lock(&seen_lock);
	seen.mode = mode;
	seen.take_first = take_first;
	pthread_mutex_unlock(&seen_lock);
}

static unsigned int calls(void)
{
	unsigned int n;

	pthread_mutex_lock(&seen_lock);
	n = seen.calls;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

/* The main thread's part: api_dispatch() whenever api_req_fd() is readable. */
static void *dispatcher(void *arg)
{
	struct pollfd p[2] = {
		{ .fd = api_req_fd(&srv), .events = POLLIN },
		{ .fd = disp_stop, .events = POLLIN },
	};

	(void)arg;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN)
			api_dispatch(&srv);
	}
	return NULL;
}

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/api.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
}

static void start(void)
{
	/* fd 0 stays taken (by /dev/null), so no fd of the test gets number 0. */
	if (fcntl(0, F_GETFD) < 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	pthread_mutex_lock(&seen_lock);
	free(seen.body);
	memset(&seen, 0, sizeof(seen));
	seen.taken = -1;
	pthread_mutex_unlock(&seen_lock);
	CU_ASSERT_EQUAL_FATAL(api_start(&srv, path, handler, &srv), 0);
	disp_stop = eventfd(0, EFD_CLOEXEC);
	CU_ASSERT_FATAL(disp_stop >= 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&disp_thread, NULL, dispatcher, NULL), 0);
}

static void stop(void)
{
	uint64_t one = 1;

	CU_ASSERT_EQUAL(write(disp_stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(disp_thread, NULL);
	close(disp_stop);
	disp_stop = -1;
	api_stop(&srv);
	pthread_mutex_lock(&seen_lock);
	free(seen.body);
	seen.body = NULL;
	if (seen.taken >= 0)
		close(seen.taken);
	seen.taken = -1;
	pthread_mutex_unlock(&seen_lock);
}

static void remove_dir(void)
{
	CU_ASSERT_EQUAL(rmdir(dir), 0);   /* fails if the socket file is left */
}

/* --- the client --- */

static int conn(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* len bytes with nr fds attached (SCM_RIGHTS). */
static int send_fds(int fd, const void *buf, size_t len, const int *fds, unsigned int nr)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nr > 32)
		return -1;
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nr);
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

struct reply {
	int status;
	char *body;      /* NUL-terminated */
	size_t len;
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The value of a header in buf[0, hlen), -1 when absent. */
static long header_num(const char *buf, size_t hlen, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = buf; p && p < buf + hlen; p = memchr(p, '\n', (size_t)(buf + hlen - p))) {
		if (*p == '\n')
			p++;
		if ((size_t)(buf + hlen - p) > nl + 1 && !strncasecmp(p, name, nl) && p[nl] == ':')
			return strtol(p + nl + 1, NULL, 10);
	}
	return -1;
}

/* One response: the status line, the headers, Content-Length bytes of body
 * (or up to EOF without one). 0, or -1 on a timeout, EOF before the end or
 * a reply that is no HTTP. */
static int read_reply(int fd, struct reply *r, int timeout_ms)
{
	struct timespec t0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char *buf = NULL, *end;
	size_t n = 0, cap = 0, hlen = 0;
	long clen = -1, left;
	ssize_t got;
	bool eof = false;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!hlen && buf && n && (end = memmem(buf, n, "\r\n\r\n", 4))) {
			hlen = (size_t)(end - buf) + 4;
			clen = header_num(buf, hlen, "Content-Length");
		}
		if (hlen && ((clen >= 0 && n >= hlen + (size_t)clen) || (clen < 0 && eof)))
			break;
		if (eof)
			goto fail;
		left = timeout_ms - ms_since(&t0);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			goto fail;
		if (cap - n < 4096) {
			char *g = realloc(buf, cap + 65536);

			if (!g)
				goto fail;
			buf = g;
			cap += 65536;
		}
		got = read(fd, buf + n, cap - n - 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail;
		eof = got == 0;
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		goto fail;
	r->len = clen >= 0 ? (size_t)clen : n - hlen;
	r->body = malloc(r->len + 1);
	if (!r->body)
		goto fail;
	memcpy(r->body, buf + hlen, r->len);
	r->body[r->len] = '\0';
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static void reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

static char *request_text(const char *method, const char *url, size_t body_len, size_t *len)
{
	char *s = NULL;
	int n = asprintf(&s, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 method, url, body_len);

	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? s : NULL;
}

/* One request on a new connection: the reply's status, or -1. */
static int request(const char *method, const char *url, const char *body, size_t len,
		   struct reply *r)
{
	size_t hlen;
	char *head = request_text(method, url, len, &hlen), *all;
	int fd = conn(), st = -1;

	memset(r, 0, sizeof(*r));
	all = head ? malloc(hlen + len) : NULL;
	if (fd >= 0 && all) {
		memcpy(all, head, hlen);
		if (len)
			memcpy(all + hlen, body, len);
		/* A refused request may be answered (and closed) before the body
		 * is all out: a failed send is then fine, the reply says. */
		send_all(fd, all, hlen + len);
		if (!read_reply(fd, r, 5000))
			st = r->status;
	}
	free(all);
	free(head);
	if (fd >= 0)
		close(fd);
	return st;
}

/* The reply's {"error": msg}, compared with want. */
static bool is_error(const struct reply *r, const char *want)
{
	json_error_t e;
	json_t *o = r->body ? json_loadb(r->body, r->len, 0, &e) : NULL;
	const char *msg = o ? json_string_value(json_object_get(o, "error")) : NULL;
	bool ok = msg && json_object_size(o) == 1 &&
		  (want ? !strcmp(msg, want) : true);

	if (!ok)
		fprintf(stderr, "reply %d '%s', wanted error '%s'\n", r->status,
			r->body ? r->body : "(none)", want ? want : "*");
	json_decref(o);
	return ok;
}

/* The handler's JSON reply: its op and body length. */
static bool is_echo(const struct reply *r, enum api_op op, size_t len)
{
	json_error_t e;
	json_t *o = r->body ? json_loadb(r->body, r->len, 0, &e) : NULL;
	bool ok = o && json_integer_value(json_object_get(o, "op")) == (json_int_t)op &&
		  json_integer_value(json_object_get(o, "len")) == (json_int_t)len;

	json_decref(o);
	return ok;
}

/* --- routing --- */

static const struct { const char *name, *method; enum api_op op; } routes[] = {
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

static void test_routes(void)
{
	struct reply r;
	char url[64];

	CU_ASSERT_EQUAL(ARRAY_SIZE(routes), API_NR_OPS);
	make_dir();
	start();
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		snprintf(url, sizeof(url), "/api/v1/%s", routes[i].name);
		CU_ASSERT_EQUAL(request(routes[i].method, url, NULL, 0, &r), 200);
		CU_ASSERT_TRUE(is_echo(&r, routes[i].op, 0));
		reply_free(&r);
		pthread_mutex_lock(&seen_lock);
		CU_ASSERT_EQUAL(seen.calls, i + 1);
		CU_ASSERT_EQUAL(seen.op, routes[i].op);
		CU_ASSERT_STRING_EQUAL(seen.endpoint, routes[i].name);
		CU_ASSERT_PTR_EQUAL(seen.opaque, &srv);
		CU_ASSERT_TRUE(seen.on_dispatch_thread);
		CU_ASSERT_EQUAL(seen.len, 0);
		CU_ASSERT_TRUE(seen.body_nul);
		CU_ASSERT_EQUAL(seen.nr_fds, 0);
		CU_ASSERT_TRUE(seen.rest_unset);
		pthread_mutex_unlock(&seen_lock);
	}
	CU_ASSERT_EQUAL(srv.served, ARRAY_SIZE(routes));
	stop();
	remove_dir();
}

static void test_not_found(void)
{
	static const struct { const char *method, *url; } cases[] = {
		{ "GET", "/api/v1/vm.nope" },
		{ "PUT", "/api/v1/vm.nope" },
		{ "GET", "/api/v1/" },
		{ "GET", "/api/v1/VM.INFO" },
		{ "GET", "/api/v1/vm.info/x" },
		{ "GET", "/api/v1/vm.info." },
		{ "GET", "/api/v2/vm.info" },
		{ "GET", "/api/v1vm.info" },
		{ "GET", "/vm.info" },
		{ "GET", "/" },
		{ "PUT", "/api/vm.boot" },
	};
	struct reply r;

	make_dir();
	start();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL(request(cases[i].method, cases[i].url, NULL, 0, &r), 404);
		CU_ASSERT_TRUE(is_error(&r, "no such endpoint"));
		if (r.status != 404)
			fprintf(stderr, "%s %s: %d\n", cases[i].method, cases[i].url, r.status);
		reply_free(&r);
	}
	CU_ASSERT_EQUAL(calls(), 0);
	CU_ASSERT_EQUAL(srv.served, 0);
	stop();
	remove_dir();
}

static void test_wrong_method(void)
{
	static const struct { const char *method, *url, *msg; } cases[] = {
		{ "PUT", "/api/v1/vmm.ping", "vmm.ping takes GET" },
		{ "POST", "/api/v1/vm.info", "vm.info takes GET" },
		{ "GET", "/api/v1/vm.boot", "vm.boot takes PUT" },
		{ "POST", "/api/v1/vm.create", "vm.create takes PUT" },
		{ "DELETE", "/api/v1/vm.delete", "vm.delete takes PUT" },
		{ "GET", "/api/v1/vm.remove-device", "vm.remove-device takes PUT" },
		{ "POST", "/api/v1/vm.balloon", "vm.balloon takes GET or PUT" },
		{ "DELETE", "/api/v1/vm.balloon-statistics", "vm.balloon-statistics takes GET or PUT" },
	};
	struct reply r;

	make_dir();
	start();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL(request(cases[i].method, cases[i].url, "{}", 2, &r), 405);
		CU_ASSERT_TRUE(is_error(&r, cases[i].msg));
		reply_free(&r);
	}
	CU_ASSERT_EQUAL(calls(), 0);
	stop();
	remove_dir();
}

static void test_replies(void)
{
	struct reply r;

	make_dir();
	start();
	set_reply(REPLY_ERROR, false);
	CU_ASSERT_EQUAL(request("GET", "/api/v1/vm.info", NULL, 0, &r), 409);
	CU_ASSERT_TRUE(is_error(&r, "busy: vm.info"));
	reply_free(&r);
	/* A handler that sets nothing: 500, no body. */
	set_reply(REPLY_NONE, false);
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.boot", NULL, 0, &r), 500);
	CU_ASSERT_EQUAL(r.len, 0);
	reply_free(&r);
	/* The last reply set wins (the first is freed: ASan). */
	set_reply(REPLY_REPLACED, false);
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.pause", NULL, 0, &r), 400);
	CU_ASSERT_TRUE(is_error(&r, "second"));
	reply_free(&r);
	CU_ASSERT_EQUAL(calls(), 3);
	stop();
	remove_dir();
}

/* --- bodies --- */

static char *pattern(size_t len)
{
	char *b = malloc(len + 1);

	for (size_t i = 0; b && i < len; i++)
		b[i] = (char)('a' + i % 23);
	if (b)
		b[len] = '\0';
	return b;
}

static bool seen_body_is(const char *want, size_t len)
{
	bool ok;

	pthread_mutex_lock(&seen_lock);
	ok = seen.len == len && seen.body && seen.body_nul && !memcmp(seen.body, want, len);
	pthread_mutex_unlock(&seen_lock);
	return ok;
}

static void test_body_whole(void)
{
	char *body = pattern(API_BODY_MAX);
	struct reply r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	make_dir();
	start();
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.create", body, 5000, &r), 200);
	CU_ASSERT_TRUE(is_echo(&r, API_VM_CREATE, 5000));
	reply_free(&r);
	CU_ASSERT_TRUE(seen_body_is(body, 5000));
	/* Exactly the limit. */
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.create", body, API_BODY_MAX, &r), 200);
	CU_ASSERT_TRUE(is_echo(&r, API_VM_CREATE, API_BODY_MAX));
	reply_free(&r);
	CU_ASSERT_TRUE(seen_body_is(body, API_BODY_MAX));
	CU_ASSERT_EQUAL(calls(), 2);
	stop();
	remove_dir();
	free(body);
}

/* Written in pieces with pauses: the request line cut, the headers, the
 * body in three parts. */
static void test_body_in_pieces(void)
{
	char *body = pattern(3000), *head;
	struct reply r;
	size_t hlen;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	make_dir();
	start();
	head = request_text("PUT", "/api/v1/vm.add-disk", 3000, &hlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(head);
	fd = conn();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_all(fd, head, 10), 0);
	usleep(100000);
	CU_ASSERT_EQUAL(send_all(fd, head + 10, hlen - 10), 0);
	usleep(100000);
	CU_ASSERT_EQUAL(send_all(fd, body, 1), 0);
	usleep(100000);
	CU_ASSERT_EQUAL(send_all(fd, body + 1, 1500), 0);
	usleep(100000);
	CU_ASSERT_EQUAL(calls(), 0);   /* not before the whole body is there */
	CU_ASSERT_EQUAL(send_all(fd, body + 1501, 1499), 0);
	CU_ASSERT_EQUAL(read_reply(fd, &r, 5000), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(is_echo(&r, API_VM_ADD_DISK, 3000));
	reply_free(&r);
	close(fd);
	CU_ASSERT_EQUAL(calls(), 1);
	CU_ASSERT_TRUE(seen_body_is(body, 3000));
	stop();
	remove_dir();
	free(head);
	free(body);
}

static void test_body_too_large(void)
{
	char *body = pattern(100 * 1024);
	struct reply r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	make_dir();
	start();
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.create", body, 100 * 1024, &r), 413);
	CU_ASSERT_TRUE(is_error(&r, "request body over 64 KiB"));
	reply_free(&r);
	CU_ASSERT_EQUAL(request("PUT", "/api/v1/vm.add-net", body, API_BODY_MAX + 1, &r), 413);
	CU_ASSERT_TRUE(is_error(&r, NULL));
	reply_free(&r);
	CU_ASSERT_EQUAL(calls(), 0);
	/* The server goes on. */
	CU_ASSERT_EQUAL(request("GET", "/api/v1/vmm.ping", NULL, 0, &r), 200);
	reply_free(&r);
	CU_ASSERT_EQUAL(calls(), 1);
	stop();
	remove_dir();
	free(body);
}

/* Two requests on one connection (HTTP/1.1 keep-alive). */
static void test_keep_alive(void)
{
	struct reply r;
	char *head;
	size_t hlen;
	int fd;

	make_dir();
	start();
	fd = conn();
	CU_ASSERT_FATAL(fd >= 0);
	head = request_text("PUT", "/api/v1/vm.pause", 2, &hlen);
	CU_ASSERT_EQUAL(send_all(fd, head, hlen), 0);
	CU_ASSERT_EQUAL(send_all(fd, "{}", 2), 0);
	CU_ASSERT_EQUAL(read_reply(fd, &r, 5000), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(is_echo(&r, API_VM_PAUSE, 2));
	reply_free(&r);
	free(head);
	head = request_text("GET", "/api/v1/vm.info", 0, &hlen);
	CU_ASSERT_EQUAL(send_all(fd, head, hlen), 0);
	CU_ASSERT_EQUAL(read_reply(fd, &r, 5000), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(is_echo(&r, API_VM_INFO, 0));
	reply_free(&r);
	free(head);
	close(fd);
	CU_ASSERT_EQUAL(calls(), 2);
	stop();
	remove_dir();
}

/* --- file descriptors --- */

/* Whether the pipe's read end sees EOF (every write end closed) within ms. */
static bool pipe_eof(int rfd, int ms)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(rfd, &c, 1) == 0;
}

/* A PUT with fds; the reply's status. With the fds, the whole request goes
 * in one sendmsg, as cloud-hypervisor's ch-remote sends it (the contract:
 * fds come with the first bytes). fds_later: the first bytes alone, then,
 * after a pause, the rest of the request with the fds. */
static int request_with_fds(const char *url, const char *body, const int *fds,
			    unsigned int nr, bool fds_later)
{
	size_t hlen, blen = strlen(body);
	char *head = request_text("PUT", url, blen, &hlen), *all = NULL;
	struct reply r;
	int fd = conn(), st = -1;

	if (fd < 0 || !head || !(all = malloc(hlen + blen)))
		goto out;
	memcpy(all, head, hlen);
	memcpy(all + hlen, body, blen);
	if (fds_later) {
		if (send_all(fd, all, 5))
			goto out;
		usleep(100000);
		if (send_fds(fd, all + 5, hlen + blen - 5, fds, nr))
			goto out;
	} else if (send_fds(fd, all, hlen + blen, fds, nr)) {
		goto out;
	}
	if (read_reply(fd, &r, 5000))
		goto out;
	st = r.status;
	reply_free(&r);
out:
	free(all);
	free(head);
	if (fd >= 0)
		close(fd);
	return st;
}

static void test_fds_received_and_closed(void)
{
	struct stat mst, pst;
	int mfd, p[2], fds[2];

	make_dir();
	start();
	mfd = memfd_create("api-test", MFD_CLOEXEC);
	CU_ASSERT_FATAL(mfd >= 0);
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(fstat(mfd, &mst), 0);
	CU_ASSERT_EQUAL(fstat(p[1], &pst), 0);
	fds[0] = mfd;
	fds[1] = p[1];
	CU_ASSERT_EQUAL(request_with_fds("/api/v1/vm.add-net", "{\"tap\":1}", fds, 2, false), 200);
	pthread_mutex_lock(&seen_lock);
	CU_ASSERT_EQUAL(seen.calls, 1);
	CU_ASSERT_EQUAL(seen.op, API_VM_ADD_NET);
	CU_ASSERT_EQUAL(seen.nr_fds, 2);
	CU_ASSERT_TRUE(seen.fd_open[0]);
	CU_ASSERT_TRUE(seen.fd_open[1]);
	CU_ASSERT_EQUAL(seen.fd_st[0].st_ino, mst.st_ino);
	CU_ASSERT_EQUAL(seen.fd_st[0].st_dev, mst.st_dev);
	CU_ASSERT_TRUE(S_ISFIFO(seen.fd_st[1].st_mode));
	CU_ASSERT_EQUAL(seen.fd_st[1].st_ino, pst.st_ino);
	pthread_mutex_unlock(&seen_lock);
	CU_ASSERT_TRUE(seen_body_is("{\"tap\":1}", 9));
	/* The handler took none: the server's copies are closed with the
	 * request, so once ours is closed the pipe is at EOF. */
	close(p[1]);
	CU_ASSERT_TRUE(pipe_eof(p[0], 2000));
	close(p[0]);
	close(mfd);
	stop();
	remove_dir();
}

static void test_fds_taken_stay_open(void)
{
	int p[2];

	make_dir();
	start();
	set_reply(REPLY_JSON, true);
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(request_with_fds("/api/v1/vm.add-net", "{}", &p[1], 1, false), 200);
	close(p[1]);
	/* The handler's copy keeps the pipe open... */
	CU_ASSERT_FALSE(pipe_eof(p[0], 300));
	pthread_mutex_lock(&seen_lock);
	CU_ASSERT_EQUAL(seen.nr_fds, 1);
	CU_ASSERT_FATAL(seen.taken >= 0);
	/* ...until it closes it. */
	close(seen.taken);
	seen.taken = -1;
	pthread_mutex_unlock(&seen_lock);
	CU_ASSERT_TRUE(pipe_eof(p[0], 2000));
	close(p[0]);
	stop();
	remove_dir();
}

/* fds that come with a later part of the request (before libmicrohttpd
 * has read it) are the request's too (api_harvest: Kata sends one request
 * after another on one connection); not taken, they do not stay open. */
static void test_fds_later_dropped(void)
{
	int p[2];

	make_dir();
	start();
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(request_with_fds("/api/v1/vm.add-net", "{}", &p[1], 1, true), 200);
	pthread_mutex_lock(&seen_lock);
	CU_ASSERT_EQUAL(seen.calls, 1);
	CU_ASSERT(seen.nr_fds <= 1);
	CU_ASSERT_TRUE(seen.rest_unset);
	pthread_mutex_unlock(&seen_lock);
	close(p[1]);
	CU_ASSERT_TRUE(pipe_eof(p[0], 2000));
	close(p[0]);
	stop();
	remove_dir();
}

/* Kata's vm.add-net: one request after another on one kept-alive
 * connection, each sendmsg with its own tap fd: each request gets its own
 * (a memfd each, told apart by inode), none is dropped or doubled. */
static void test_fds_keepalive(void)
{
	struct stat st[2];
	int m[2], fd = -1;

	make_dir();
	start();
	fd = conn();
	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 2; i++) {
		size_t hlen;
		char *head = request_text("PUT", "/api/v1/vm.add-net", 2, &hlen), *all;
		struct reply r;

		m[i] = memfd_create("api-keepalive", MFD_CLOEXEC);
		CU_ASSERT_FATAL(m[i] >= 0 && head);
		CU_ASSERT_EQUAL(fstat(m[i], &st[i]), 0);
		all = malloc(hlen + 2);
		CU_ASSERT_FATAL(all != NULL);
		memcpy(all, head, hlen);
		memcpy(all + hlen, "{}", 2);
		CU_ASSERT_EQUAL(send_fds(fd, all, hlen + 2, &m[i], 1), 0);
		CU_ASSERT_EQUAL_FATAL(read_reply(fd, &r, 5000), 0);
		CU_ASSERT_EQUAL(r.status, 200);
		reply_free(&r);
		free(all);
		free(head);
		pthread_mutex_lock(&seen_lock);
		CU_ASSERT_EQUAL(seen.calls, (unsigned int)i + 1);
		CU_ASSERT_EQUAL(seen.nr_fds, 1);
		CU_ASSERT_TRUE(seen.fd_open[0]);
		CU_ASSERT_EQUAL(seen.fd_st[0].st_ino, st[i].st_ino);
		pthread_mutex_unlock(&seen_lock);
	}
	close(fd);
	close(m[0]);
	close(m[1]);
	stop();
	remove_dir();
}

/* More than API_MAX_FDS: the first 16 come, every copy is closed after. */
static void test_fds_too_many(void)
{
	int p[2], fds[20];

	make_dir();
	start();
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	for (int i = 0; i < 20; i++)
		fds[i] = p[1];
	CU_ASSERT_EQUAL(request_with_fds("/api/v1/vm.add-net", "{}", fds, 20, false), 200);
	pthread_mutex_lock(&seen_lock);
	CU_ASSERT_EQUAL(seen.nr_fds, API_MAX_FDS);
	for (unsigned int i = 0; i < API_MAX_FDS; i++) {
		CU_ASSERT_TRUE(seen.fd_open[i]);
		CU_ASSERT_EQUAL(seen.fd_st[i].st_ino, seen.fd_st[0].st_ino);
	}
	pthread_mutex_unlock(&seen_lock);
	close(p[1]);
	CU_ASSERT_TRUE(pipe_eof(p[0], 2000));
	close(p[0]);
	stop();
	remove_dir();
}

/* fds sent with a request that is refused before the handler (404) are
 * closed too. */
static void test_fds_refused_request(void)
{
	int p[2];

	make_dir();
	start();
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(request_with_fds("/api/v1/vm.nope", "{}", &p[1], 1, false), 404);
	CU_ASSERT_EQUAL(calls(), 0);
	close(p[1]);
	CU_ASSERT_TRUE(pipe_eof(p[0], 2000));
	close(p[0]);
	stop();
	remove_dir();
}

/* --- clients that say nothing --- */

static void test_idle_client(void)
{
	struct timespec t0;
	struct reply r;
	int idle, half;

	make_dir();
	start();
	idle = conn();
	CU_ASSERT_FATAL(idle >= 0);
	half = conn();
	CU_ASSERT_FATAL(half >= 0);
	CU_ASSERT_EQUAL(send_all(half, "GET /api/v1/vm", 14), 0);
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		size_t hlen;
		char *head = request_text("GET", "/api/v1/vmm.ping", 0, &hlen);
		int fd = conn();

		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_EQUAL(send_all(fd, head, hlen), 0);
		CU_ASSERT_EQUAL(read_reply(fd, &r, 1000), 0);
		CU_ASSERT_EQUAL(r.status, 200);
		reply_free(&r);
		close(fd);
		free(head);
	}
	CU_ASSERT(ms_since(&t0) < 1000);
	CU_ASSERT_EQUAL(calls(), 1);
	close(idle);
	close(half);
	stop();
	remove_dir();
}

/* --- the socket file --- */

static void test_socket_file(void)
{
	struct stat st;
	mode_t old;

	make_dir();
	old = umask(0);   /* 0600 whatever the umask */
	start();
	CU_ASSERT_EQUAL(umask(old), 0);   /* api_start put it back */
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	stop();
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(conn(), -1);
	remove_dir();
}

static void test_live_path_in_use(void)
{
	struct api_server s2;
	struct reply r;

	make_dir();
	start();
	CU_ASSERT_EQUAL(api_start(&s2, path, handler, NULL), -EADDRINUSE);
	api_stop(&s2);   /* harmless after a failed start; leaves the file alone */
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	CU_ASSERT_EQUAL(request("GET", "/api/v1/vmm.ping", NULL, 0, &r), 200);
	reply_free(&r);
	CU_ASSERT_EQUAL(calls(), 1);
	stop();
	remove_dir();
}

static void test_stale_socket_replaced(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct reply r;
	int fd;

	make_dir();
	/* A socket file whose socket is gone: a dead VMM's. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	start();
	CU_ASSERT_EQUAL(request("GET", "/api/v1/vmm.ping", NULL, 0, &r), 200);
	reply_free(&r);
	CU_ASSERT_EQUAL(calls(), 1);
	stop();
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	remove_dir();
}

static void test_path_too_long(void)
{
	struct api_server s2;
	char longpath[200];

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	CU_ASSERT_EQUAL(api_start(&s2, longpath, handler, NULL), -ENAMETOOLONG);
	api_stop(&s2);
}

void unit_register(void)
{
	UNIT_SUITE("api", UNIT_TEST(test_routes), UNIT_TEST(test_not_found),
		   UNIT_TEST(test_wrong_method), UNIT_TEST(test_replies),
		   UNIT_TEST(test_body_whole), UNIT_TEST(test_body_in_pieces),
		   UNIT_TEST(test_body_too_large), UNIT_TEST(test_keep_alive),
		   UNIT_TEST(test_fds_received_and_closed), UNIT_TEST(test_fds_taken_stay_open),
		   UNIT_TEST(test_fds_later_dropped), UNIT_TEST(test_fds_keepalive), UNIT_TEST(test_fds_too_many),
		   UNIT_TEST(test_fds_refused_request), UNIT_TEST(test_idle_client),
		   UNIT_TEST(test_socket_file), UNIT_TEST(test_live_path_in_use),
		   UNIT_TEST(test_stale_socket_replaced), UNIT_TEST(test_path_too_long));
}

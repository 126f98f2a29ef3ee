/* Backend processes isle starts and supervises (API and contract in
 * vmm/control/backend.h).
 *
 * fork() rather than posix_spawn, because the child has to set its parent-
 * death signal and process group before exec; between fork and exec it only
 * makes async-signal-safe calls, as a multi-threaded parent requires (a
 * restart happens while vCPU threads run). Everything it needs (argv, the
 * path, the fds to pass) is prepared before the fork; a passed fd is made
 * inheritable with fcntl in the child, so the parent's copy keeps its
 * close-on-exec and no other child (a vif script, another backend) gets it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/backend.h"
#include "core/vm.h"

#define BACKEND_POLL_MS    10
#define BACKEND_RESTART_MS 100   /* first restart; doubles per death in a minute */

#ifndef ISLE_LIBEXEC_SCRIPT_DIR
#define ISLE_LIBEXEC_SCRIPT_DIR "/usr/local/libexec/isle"
#endif
#ifndef ISLE_SOURCE_SCRIPT_DIR
#define ISLE_SOURCE_SCRIPT_DIR ""
#endif

/* The directory of the isle binary. */
static int backend_self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

int backend_exe_path(const char *env, const char *subdir, const char *name, char *buf,
		     size_t len)
{
	const char *val = getenv(env);
	char exe[PATH_MAX];
	int r;

	if (val && *val) {
		if ((size_t)snprintf(buf, len, "%s", val) >= len)
			return -ENAMETOOLONG;
		return access(buf, X_OK) ? -ENOENT : 0;
	}
	if ((r = backend_self_dir(exe, sizeof(exe))))
		return r;
	if ((size_t)snprintf(buf, len, "%s/../%s/%s", exe, subdir, name) >= len)
		return -ENAMETOOLONG;
	if (!access(buf, X_OK))
		return 0;
	if ((size_t)snprintf(buf, len, "%s/%s", exe, name) >= len)
		return -ENAMETOOLONG;
	if (!access(buf, X_OK))
		return 0;
	snprintf(buf, len, "%s/../%s/%s", exe, subdir, name);   /* the one to report */
	return -ENOENT;
}

int backend_tapdisk_path(char *buf, size_t len)
{
	return backend_exe_path("ISLE_TAPDISK", "blkback", "isle-tapdisk", buf, len);
}

int backend_script_path(const char *script, char *buf, size_t len)
{
	char self[PATH_MAX], cwd[PATH_MAX], alt[PATH_MAX];
	const char *env = getenv("ISLE_SCRIPT_DIR");
	const char *dirs[4] = { env && *env ? env : NULL, alt, ISLE_LIBEXEC_SCRIPT_DIR,
				ISLE_SOURCE_SCRIPT_DIR };

	if (strchr(script, '/')) {
		if (script[0] == '/')
			cwd[0] = '\0';
		else if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(buf, len, "%s%s%s", cwd, cwd[0] ? "/" : "", script) >= len)
			return -ENAMETOOLONG;
		return access(buf, X_OK) ? -ENOENT : 0;
	}
	if (backend_self_dir(self, sizeof(self)) ||
	    (size_t)snprintf(alt, sizeof(alt), "%s/../libexec/isle", self) >= sizeof(alt))
		alt[0] = '\0';
	for (unsigned int i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i] || !dirs[i][0])
			continue;
		if ((size_t)snprintf(buf, len, "%s/%s", dirs[i], script) >= len)
			return -ENAMETOOLONG;
		if (!access(buf, X_OK))
			return 0;
	}
	return -ENOENT;
}

static void backend_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reaps the backend if it has exited; returns its wait status or -1. */
static int backend_reap(struct backend *b, bool block)
{
	int st;

	if (!b->pid || waitpid(b->pid, &st, block ? 0 : WNOHANG) != b->pid)
		return -1;
	b->pid = 0;
	return st;
}

static int backend_spawn(struct backend *b)
{
	sigset_t none;
	pid_t parent = getpid(), pid;

	sigemptyset(&none);
	/* Stale socket of a dead instance: the new one must be able to bind. */
	unlink(b->sock);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* isle blocks SIGTERM & co. for its signalfd; the backend must
		 * not inherit that. exec resets handlers, not the mask. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		for (unsigned int i = 0; i < b->nr_fds; i++)
			if (fcntl(b->fds[i], F_SETFD, 0) < 0)
				_exit(127);
		execv(b->argv[0], b->argv);
		_exit(127);
	}
	b->pid = pid;
	return 0;
}

int backend_connect(const char *path, struct backend *b, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int waited = 0, s, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -errno;
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			return s;
		err = errno;
		close(s);
		if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN)
			return -err;
		if (b) {
			int st = backend_reap(b, false);

			if (st >= 0) {
				log_error("%s exited (%s %d) before it served %s", b->name,
					  WIFEXITED(st) ? "status" : "signal",
					  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), path);
				return WIFEXITED(st) && WEXITSTATUS(st) == 2 ? -ENOEXEC : -ECHILD;
			}
		}
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		backend_sleep_ms(BACKEND_POLL_MS);
		waited += BACKEND_POLL_MS;
	}
}

static int backend_mkdir(struct backend *b)
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if (!base || !*base || access(base, W_OK))
		base = "/tmp";
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/isle-%d-XXXXXX", base,
			     (int)getpid()) >= sizeof(b->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(b->dir)) {
		b->dir[0] = '\0';
		return -errno;
	}
	return 0;
}

int backend_start(struct backend *b, struct vm *vm, const char *name,
		  const char *const argv[], const char *sockname, int timeout_ms)
{
	return backend_start_fds(b, vm, name, argv, sockname, timeout_ms, NULL, 0);
}

int backend_start_fds(struct backend *b, struct vm *vm, const char *name,
		      const char *const argv[], const char *sockname, int timeout_ms,
		      const int *fds, unsigned int nr_fds)
{
	unsigned int n = 0;
	int r = 0;

	memset(b, 0, sizeof(*b));
	b->vm = vm;
	b->pidfd = b->timer_fd = -1;
	snprintf(b->name, sizeof(b->name), "%s", name);
	if (nr_fds > BACKEND_MAX_FDS)
		r = -EINVAL;
	for (unsigned int i = 0; !r && i < nr_fds; i++) {
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0)
			r = -EBADF;
		b->fds[i] = fds[i];
	}
	if (r) {
		log_error("%s: cannot start: %s", b->name, strerror(-r));
		return r;
	}
	b->nr_fds = nr_fds;
	r = backend_mkdir(b);
	if (!r && (size_t)snprintf(b->sock, sizeof(b->sock), "%s/%s", b->dir, sockname) >=
		  sizeof(b->sock))
		r = -ENAMETOOLONG;
	for (; !r && argv[n] && n < BACKEND_MAX_ARGS; n++) {
		b->argv[n] = strdup(strcmp(argv[n], "%s") ? argv[n] : b->sock);
		if (!b->argv[n])
			r = -ENOMEM;
	}
	if (!r && argv[n])
		r = -E2BIG;
	if (!r)
		r = backend_spawn(b);
	if (r) {
		log_error("%s: cannot start: %s", b->name, strerror(-r));
		backend_stop(b);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &b->window);
	log_info("%s: started (pid %d, socket %s)", b->name, (int)b->pid, b->sock);
	r = backend_connect(b->sock, b, timeout_ms);
	if (r == -ETIMEDOUT)
		log_error("%s: no socket at %s after %d ms", b->name, b->sock, timeout_ms);
	if (r < 0)
		backend_stop(b);
	return r;
}

/* vm->loop: time to start the backend again. */
static void backend_restart(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct backend *b = opaque;
	uint64_t n;
	int r;

	if (read(fd, &n, sizeof(n)) != sizeof(n) || b->pid)
		return;
	if ((r = backend_spawn(b)) || (r = backend_watch(b))) {
		log_error("%s: cannot restart: %s", b->name, strerror(-r));
		return;
	}
	log_info("%s: restarted (pid %d)", b->name, (int)b->pid);
}

/* vm->loop: the backend died. Reap it and start it again after a pause
 * that doubles with each death in the minute: a killed process may hold
 * its image lock for a moment after it is gone, and a backend that dies at
 * once should not spin. */
static void backend_died(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct backend *b = opaque;
	struct itimerspec its = { 0 };
	struct timespec now;
	long ms;
	int st = backend_reap(b, false);

	if (st < 0)
		return;
	evloop_del(loop, fd);
	close(fd);
	b->pidfd = -1;
	log_warn("%s: exited (%s %d)", b->name, WIFEXITED(st) ? "status" : "signal",
		 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - b->window.tv_sec >= 60) {
		b->window = now;
		b->restarts = 0;
	}
	if (++b->restarts > BACKEND_MAX_RESTARTS) {
		log_error("%s: died %u times within a minute; not restarting it (its I/O waits)",
			  b->name, b->restarts);
		return;
	}
	ms = BACKEND_RESTART_MS << (b->restarts - 1);
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
		log_error("%s: cannot schedule a restart: %s", b->name, strerror(errno));
}

int backend_watch(struct backend *b)
{
	int fd, r;

	if (!b->pid)
		return -ESRCH;
	if (b->timer_fd < 0) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->timer_fd < 0)
			return -errno;
		r = evloop_add(&b->vm->loop, b->timer_fd, EPOLLIN, backend_restart, b);
		if (r) {
			close(b->timer_fd);
			b->timer_fd = -1;
			return r;
		}
	}
	fd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	if (fd < 0)
		return -errno;
	r = evloop_add(&b->vm->loop, fd, EPOLLIN, backend_died, b);
	if (r) {
		close(fd);
		return r;
	}
	b->pidfd = fd;
	return 0;
}

void backend_stop(struct backend *b)
{
	if (b->timer_fd >= 0) {
		evloop_del(&b->vm->loop, b->timer_fd);
		close(b->timer_fd);
		b->timer_fd = -1;
	}
	if (b->pidfd >= 0) {
		evloop_del(&b->vm->loop, b->pidfd);
		close(b->pidfd);
		b->pidfd = -1;
	}
	if (b->pid) {
		kill(b->pid, SIGTERM);
		for (int i = 0; i < 100 && backend_reap(b, false) < 0; i++)
			backend_sleep_ms(BACKEND_POLL_MS);
		if (b->pid) {
			log_warn("%s: did not stop on SIGTERM; killing it", b->name);
			kill(b->pid, SIGKILL);
			backend_reap(b, true);
		}
	}
	if (b->sock[0] && b->dir[0])
		unlink(b->sock);
	if (b->dir[0])
		rmdir(b->dir);
	for (unsigned int i = 0; i < BACKEND_MAX_ARGS; i++) {
		free(b->argv[i]);
		b->argv[i] = NULL;
	}
	b->nr_fds = 0;   /* the caller's: it closes them */
	b->sock[0] = b->dir[0] = '\0';
}

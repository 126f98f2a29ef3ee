/* Backend processes isle starts itself (isle-tapdisk per --disk,
 * isle-netback per --net): finding them, spawning, waiting for the vhost-user socket,
 * restarting after a crash, and killing and reaping them at exit.
 *
 * Contract: all calls on the main thread (spawning forks). A backend runs
 * in its own process group (a terminal's ^C reaches isle only, which then
 * stops it) with PR_SET_PDEATHSIG, so it does not outlive a crashed isle.
 * While the VM runs, the process's pidfd sits in vm->loop: when the backend
 * dies it is reaped and started again on the same socket path after
 * 100 ms, doubling with each death (at most BACKEND_MAX_RESTARTS a
 * minute); the device using it notices the socket close and reconnects on
 * its own. A never-started struct backend must have pidfd = timer_fd = -1
 * for backend_stop.
 *
 * Passed fds (backend_start_fds): every start, the first and each restart,
 * the child inherits them under the same numbers (close-on-exec cleared
 * in the child only), so argv can name them. They stay the caller's: open
 * until after backend_stop, closed by the caller. */
#ifndef ISLE_VMM_BACKEND_H
#define ISLE_VMM_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#define BACKEND_MAX_ARGS      48    /* isle-netback: 13 + --tap-fd N per queue */
#define BACKEND_MAX_FDS       16
#define BACKEND_MAX_RESTARTS  5
#define BACKEND_SOCK_MAX      sizeof(((struct sockaddr_un *)0)->sun_path)

struct vm;

struct backend {
	struct vm *vm;
	char name[48];                        /* for log lines */
	char *argv[BACKEND_MAX_ARGS + 1];     /* owned copies */
	int fds[BACKEND_MAX_FDS];             /* inherited by it; the caller's */
	unsigned int nr_fds;
	char dir[BACKEND_SOCK_MAX];           /* private runtime dir, "" if none */
	char sock[BACKEND_SOCK_MAX];          /* where it listens */
	pid_t pid;                            /* 0: not running */
	int pidfd;                            /* in vm->loop while running */
	int timer_fd;                         /* restart delay, in vm->loop */
	unsigned int restarts;                /* in the current minute */
	struct timespec window;               /* start of that minute */
};

/* A backend binary: $ENV if set, else ../SUBDIR/NAME from the isle binary
 * (the build tree), else NAME next to it (an install). Returns 0 or -errno
 * (-ENOENT when not executable; buf then holds the build-tree path, or
 * $ENV's). */
int backend_exe_path(const char *env, const char *subdir, const char *name, char *buf,
		     size_t len);
/* backend_exe_path("ISLE_TAPDISK", "blkback", "isle-tapdisk", ...). */
int backend_tapdisk_path(char *buf, size_t len);
/* A vif script for isle-netback --script, as an absolute path: a script
 * with a '/' is a path (relative to the working directory); a bare name is
 * looked for in $ISLE_SCRIPT_DIR, ../libexec/isle from the isle binary, the
 * installed libexecdir/isle, then the source tree's bridge-scripts/ (so a
 * build tree finds vif-bridge). Returns 0 or -ENOENT (not found or not
 * executable) / -ENAMETOOLONG. */
int backend_script_path(const char *script, char *buf, size_t len);

/* Creates a private runtime dir (0700, under $XDG_RUNTIME_DIR or /tmp),
 * sets b->sock to <dir>/<sockname>, starts argv (whose entries may name
 * b->sock: pass "%s" and it is replaced) and waits up to timeout_ms for the
 * socket to accept a connection, which it returns (a blocking fd). Errors:
 * -ENOEXEC if the backend exited with status 2 (it rejected its arguments:
 * the user's input), -ETIMEDOUT, or another -errno; everything is then
 * cleaned up (process, socket, dir). */
int backend_start(struct backend *b, struct vm *vm, const char *name,
		  const char *const argv[], const char *sockname, int timeout_ms);
/* The same, the child inheriting fds[0, nr_fds) (at most BACKEND_MAX_FDS,
 * each open; -EINVAL otherwise) at every start. */
int backend_start_fds(struct backend *b, struct vm *vm, const char *name,
		      const char *const argv[], const char *sockname, int timeout_ms,
		      const int *fds, unsigned int nr_fds);
/* Starts watching for the backend's death (after vm->loop exists). */
int backend_watch(struct backend *b);
/* SIGTERM, then SIGKILL after a second; reaps it, removes the socket and
 * the runtime dir. Safe on a backend that never started. */
void backend_stop(struct backend *b);

/* Connects to a vhost-user socket, retrying for up to timeout_ms while it
 * does not exist or refuses (and, if b is given, while b's process lives).
 * Returns the socket or -errno. */
int backend_connect(const char *path, struct backend *b, int timeout_ms);

#endif

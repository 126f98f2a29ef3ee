/* COM1 on a unix socket (the config's console_socket): what `isle console
 * NAME` attaches to, as xl console attaches to xenconsoled's pty.
 *
 * Contract:
 *  - console_sock_open() listens at path (mode 0600 from the start; a stale
 *    socket file is replaced, a live one is -EADDRINUSE; see usock.h) on
 *    the VM's event loop. The VM keeps its console while nobody is
 *    attached: the output still goes to the serial file (or stdout).
 *  - One client at a time. While attached, every byte COM1 outputs also
 *    goes to the client (serial_set_tee: never blocking the vCPU thread,
 *    dropped when the client does not keep up; a partial line waits at
 *    most CONSOLE_SOCK_FLUSH_MS), and what the client sends goes into
 *    COM1's receive FIFO through console.c (console_open on the client's
 *    fd: back-pressure, bytes unchanged). A second client is sent
 *    CONSOLE_SOCK_BUSY and closed.
 *  - The client detaches when it hangs up, closes its sending side, or a
 *    send to it fails; a new one may attach after.
 *  - console_sock_close() detaches the client, stops listening and
 *    removes the socket file (if it is still the one it made).
 * All calls and callbacks on the event loop's thread. */
#ifndef ISLE_VMM_CONSOLE_SOCK_H
#define ISLE_VMM_CONSOLE_SOCK_H

#include <sys/stat.h>

#define CONSOLE_SOCK_BUSY     "isle: console already attached\r\n"
#define CONSOLE_SOCK_FLUSH_MS 20

struct console;
struct evloop;
struct serial;
struct vm;

struct console_sock {
	struct vm *vm;               /* may be NULL (unit tests) */
	struct evloop *loop;
	struct serial *serial;
	char *path;
	struct stat made;            /* the socket file, for usock_unlink_own */
	int listen_fd;               /* -1: not listening */
	int client_fd;               /* -1: nobody attached */
	int flush_fd;                /* timerfd: a partial line out, while attached */
	struct console *in;          /* the client's input, while attached */
};

/* 0 or -errno (nothing left open then). */
int console_sock_open(struct console_sock *cs, struct vm *vm, struct evloop *loop,
		      struct serial *s, const char *path);
void console_sock_close(struct console_sock *cs);

#endif

/* The console's input side: a person (or a pipe) typing into the guest's
 * UART through isle's stdin, as QEMU's `-serial stdio`, or through the
 * console socket's client (console_sock.c, `isle console NAME`).
 *
 * Contract:
 *  - console_open() watches in_fd on the VM's event loop and feeds what it
 *    reads into the UART's receive FIFO, never more than fits: the rest
 *    waits (in_fd is not read again) until the guest drains the FIFO, so a
 *    paste is not lost. EOF or a read error stops the input, not the VM,
 *    and then calls the owner's ended() hook if it set one. A hangup while
 *    the FIFO is full: with a hook, the input ends at once (the peer is
 *    gone: console_sock.c's client); without, what in_fd still holds is
 *    read once the guest has drained the FIFO.
 *  - On a terminal, and only when isle is in the terminal's foreground
 *    process group (a background isle must not be stopped by SIGTTOU or
 *    SIGTTIN), the terminal goes to raw input (no echo, no line editing, no
 *    signals from ^C: those go to the guest) with output processing kept,
 *    and console_close() restores it; so does exit() if isle never gets
 *    there. Input from a terminal has QEMU's escape: Ctrl-A x ends the VM
 *    (exit status 0), Ctrl-A h prints the escapes, Ctrl-A Ctrl-A sends one
 *    Ctrl-A; any other escape is dropped. A pipe's bytes pass unchanged.
 *  - console_filter() is the escape parser on its own (pure: unit-tested
 *    and fuzzed). */
#ifndef ISLE_VMM_CONSOLE_H
#define ISLE_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01   /* Ctrl-A */

struct evloop;
struct serial;
struct vm;

enum console_action {
	CONSOLE_NONE,
	CONSOLE_QUIT,   /* Ctrl-A x */
	CONSOLE_HELP,   /* Ctrl-A h */
};

struct console {
	struct vm *vm;
	struct evloop *loop;
	struct serial *serial;
	int in_fd;
	int retry_fd;            /* timerfd: retries a full FIFO */
	bool watching, tty, raw, escaped;
	struct termios saved;
	bool parked;             /* hung up while paused: out of the loop until drained */
	uint8_t pending[64];     /* read but not yet taken by the FIFO */
	size_t pending_off, pending_len;
	/* Optional, set after console_open(): called once, from the event
	 * loop, when the input ends (EOF, a read error, a hangup). It may
	 * console_close() and free c: console.c does not touch c after. */
	void (*ended)(struct console *c, void *opaque);
	void *ended_opaque;
};

/* Filters n bytes of terminal input in place: escapes are removed, the
 * bytes for the guest are compacted to the front, *out_n says how many.
 * Stops at the first action and returns it; *used says how many input
 * bytes were consumed (the caller calls again with the rest). */
enum console_action console_filter(bool *escaped, uint8_t *buf, size_t n, size_t *used,
				   size_t *out_n);

/* Returns 0 (also when in_fd cannot be watched: the console is then
 * output-only, which is logged) or -errno. */
int console_open(struct console *c, struct vm *vm, struct evloop *loop, struct serial *s,
		 int in_fd);
void console_close(struct console *c);

#endif

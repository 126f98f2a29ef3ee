/* 16550A UART model (vmm/devices/serial.c). Exposed for the main loop (input,
 * flush) and for unit tests, which drive serial_access() directly with
 * vm == NULL (no interrupt line). */
#ifndef ISLE_VMM_SERIAL_H
#define ISLE_VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_IRQ       4

struct console;
struct console_sock;
struct vm;

struct serial {
	pthread_mutex_t lock;
	struct vm *vm;
	int out_fd;
	uint8_t ier, iir, lcr, mcr, scr;
	uint16_t divisor;
	bool thri_pending;
	bool coalesce;      /* THR writes may be coalesced by KVM */
	int irq_level;
	uint8_t rx[64];
	unsigned int rx_head, rx_len;
	uint8_t out[4096];
	size_t out_len;
	struct console *console;   /* stdin, when the console is stdio */
	/* The console socket's client, fed a copy of the output (never
	 * blocking; what does not fit is dropped): set by its owner through
	 * serial_set_tee(); -1 when none. */
	int tee_fd;
	struct console_sock *sock; /* cfg->console_socket's server, or NULL */
};

struct serial *serial_new(struct vm *vm, int out_fd);
void serial_free(struct serial *s);
void serial_access(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write);
/* Queues guest input; returns how many bytes fit in the receive FIFO. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
void serial_flush(struct serial *s);
/* Copies the output from now on to fd too (-1: stops); the caller keeps
 * fd and may close it once this returned. A failed send other than a full
 * buffer shuts fd down (the owner's event loop then sees it hang up) and
 * stops the copy. */
void serial_set_tee(struct serial *s, int fd);
/* Lets KVM coalesce writes to the data port while the guest polls (no
 * THRE interrupt wanted): a console byte then costs no exit to isle. */
void serial_coalesce(struct serial *s);

#endif

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
};

struct serial *serial_new(struct vm *vm, int out_fd);
void serial_free(struct serial *s);
void serial_access(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write);
/* Queues guest input; returns how many bytes fit in the receive FIFO. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
void serial_flush(struct serial *s);
/* Lets KVM coalesce writes to the data port while the guest polls (no
 * THRE interrupt wanted): a console byte then costs no exit to isle. */
void serial_coalesce(struct serial *s);

#endif

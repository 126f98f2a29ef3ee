/* A 16550A UART on COM1 (0x3f8, IRQ 4): the guest console.
 *
 * Output goes to stdout or a file, buffered per line so a PIO exit per byte
 * does not also cost a write(2) per byte, and, with console_socket set, to
 * the client attached there (console_sock.c). Input (stdin, when the
 * console is stdio, or that client) comes through console.c into
 * serial_input(). Interrupts follow the 16550 rules that Linux's 8250
 * driver relies on: THRE is raised when the holding register empties or
 * ETBEI is enabled, and is cleared by reading IIR or writing THR; the IRQ
 * line is gated by MCR.OUT2 as on a PC.
 *
 * While the guest does not ask for THRE interrupts (a polling console, as
 * early printk and the test guest use), writes to the data port are
 * coalesced by KVM and replayed in order before the next exit is handled
 * (vm_coalesced_drain), so a console byte costs no trip to userspace. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "isle/log.h"
#include "devices/console.h"
#include "devices/console_sock.h"
#include "devices/serial.h"
#include "core/vm.h"

#define UART_RBR 0   /* DLAB=0 read */
#define UART_IER 1
#define UART_IIR 2   /* read */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI  0x04
#define UART_IIR_FIFO 0xc0
#define UART_LCR_DLAB 0x80
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_DCD_DSR_CTS 0xb0

static void serial_flush_locked(struct serial *s)
{
	size_t done = 0;

	while (done < s->out_len) {
		ssize_t n = write(s->out_fd, s->out + done, s->out_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* console gone: drop rather than stall the vCPU */
		done += (size_t)n;
	}
	/* The console client: never wait for it (this may be a vCPU thread);
	 * a slow one loses what does not fit. */
	if (s->tee_fd >= 0 && s->out_len &&
	    send(s->tee_fd, s->out, s->out_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		shutdown(s->tee_fd, SHUT_RDWR);   /* its owner sees the hangup */
		s->tee_fd = -1;
	}
	s->out_len = 0;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	serial_flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_set_tee(struct serial *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	s->tee_fd = fd;
	pthread_mutex_unlock(&s->lock);
}

static void serial_update_irq(struct serial *s)
{
	uint8_t iir = UART_IIR_NONE;
	int level;

	if ((s->ier & UART_IER_RDI) && s->rx_len)
		iir = UART_IIR_RDI;
	else if ((s->ier & UART_IER_THRI) && s->thri_pending)
		iir = UART_IIR_THRI;
	s->iir = iir;
	level = iir != UART_IIR_NONE && (s->mcr & UART_MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->vm)
			vm_irq_line(s->vm, SERIAL_IRQ, level);
	}
}

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & UART_MCR_LOOP) {
		if (s->rx_len < sizeof(s->rx))
			s->rx[(s->rx_head + s->rx_len++) % sizeof(s->rx)] = c;
	} else {
		s->out[s->out_len++] = c;
		if (c == '\n' || s->out_len == sizeof(s->out))
			serial_flush_locked(s);
	}
	s->thri_pending = true;
}

/* Coalesced writes produce no THRE interrupt until replayed, so they are
 * only allowed while the guest polls. */
static void serial_coalesce_update(struct serial *s, bool on)
{
	if (!s->vm || !s->coalesce)
		return;
	if (vm_coalesce_pio(s->vm, SERIAL_COM1_PORT, 1, on))
		s->coalesce = false;   /* keep working, uncoalesced */
}

void serial_coalesce(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	s->coalesce = true;
	if (!(s->ier & UART_IER_THRI))
		serial_coalesce_update(s, true);
	pthread_mutex_unlock(&s->lock);
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & UART_LCR_DLAB)
			return (uint8_t)s->divisor;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % sizeof(s->rx);
			s->rx_len--;
		}
		break;
	case UART_IER:
		return (s->lcr & UART_LCR_DLAB) ? (uint8_t)(s->divisor >> 8) : s->ier;
	case UART_IIR:
		v = s->iir | UART_IIR_FIFO;
		if (s->iir == UART_IIR_THRI)
			s->thri_pending = false;
		break;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT | (s->rx_len ? UART_LSR_DR : 0);
	case UART_MSR:
		return UART_MSR_DCD_DSR_CTS;
	case UART_SCR:
		return s->scr;
	}
	return v;
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR:
		if (s->lcr & UART_LCR_DLAB)
			s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
		else
			serial_tx(s, v);
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->divisor = (uint16_t)((s->divisor & 0xff) | v << 8);
		} else {
			/* Enabling ETBEI with an empty THR raises THRE at once. */
			if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
				s->thri_pending = true;
			if ((s->ier ^ v) & UART_IER_THRI)
				serial_coalesce_update(s, !(v & UART_IER_THRI));
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR:   /* FCR: FIFOs are always on; nothing to do */
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
}

void serial_access(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct serial *s = opaque;
	uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	/* A wider access covers consecutive registers, byte by byte. */
	for (unsigned int i = 0; i < len; i++) {
		unsigned int reg = (unsigned int)(offset + i) & 7;

		if (is_write)
			serial_write_reg(s, reg, p[i]);
		else
			p[i] = serial_read_reg(s, reg);
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < sizeof(s->rx)) {
		s->rx[(s->rx_head + s->rx_len++) % sizeof(s->rx)] = buf[n++];
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct serial *serial_new(struct vm *vm, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->out_fd = out_fd;
	s->tee_fd = -1;
	s->iir = UART_IIR_NONE;
	s->divisor = 12;   /* 9600 baud, as after a BIOS */
	return s;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void serial_unrealize(struct device *dev)
{
	struct serial *s = dev->priv;
	int fd;

	if (!s)
		return;
	if (s->sock) {
		console_sock_close(s->sock);
		free(s->sock);
	}
	if (s->console) {
		console_close(s->console);
		free(s->console);
	}
	fd = s->out_fd;
	serial_free(s);
	dev->priv = NULL;
	if (fd != STDOUT_FILENO)
		close(fd);
}

/* With the console on stdio, what is typed on stdin goes to the guest. */
static int serial_console_open(struct serial *s, struct vm *vm)
{
	int r;

	s->console = calloc(1, sizeof(*s->console));
	if (!s->console)
		return -ENOMEM;
	r = console_open(s->console, vm, &vm->loop, s, STDIN_FILENO);
	if (r) {
		free(s->console);
		s->console = NULL;
	}
	return r;
}

/* cfg->console_socket: one client at a time sees the output and types. */
static int serial_sock_open(struct serial *s, struct vm *vm)
{
	int r;

	s->sock = calloc(1, sizeof(*s->sock));
	if (!s->sock)
		return -ENOMEM;
	r = console_sock_open(s->sock, vm, &vm->loop, s, vm->cfg->console_socket);
	if (r) {
		log_error("console socket '%s': %s", vm->cfg->console_socket, strerror(-r));
		free(s->sock);
		s->sock = NULL;
	}
	return r;
}

/* COM1, writing to stdout or the config's serial file (and the console
 * socket's client). Its port range stays on the bus: the serial port
 * leaves only with the VM. */
static int serial_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	int fd = STDOUT_FILENO, r;

	if (vm->cfg->serial_file) {
		fd = open(vm->cfg->serial_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = -errno;
			log_error("serial file '%s': %s", vm->cfg->serial_file, strerror(-r));
			return r;
		}
	}
	dev->priv = serial_new(vm, fd);
	if (!dev->priv) {
		if (fd != STDOUT_FILENO)
			close(fd);
		return -ENOMEM;
	}
	r = bus_register(&vm->pio, SERIAL_COM1_PORT, 8, serial_access, dev->priv, "com1");
	if (!r && fd == STDOUT_FILENO)
		r = serial_console_open(dev->priv, vm);
	if (!r && vm->cfg->console_socket)
		r = serial_sock_open(dev->priv, vm);
	if (r)
		serial_unrealize(dev);
	return r;
}

const struct device_type serial_type = {
	.name = "serial",
	.id_prefix = "serial",
	.kind = DEVICE_SERIAL,
	.platform = true,
	.realize = serial_realize,
	.unrealize = serial_unrealize,
};

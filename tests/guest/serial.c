/* COM1 (16550 at 0x3f8), polled, transmit only: the test guest's console.
 * Ring 3 drives it directly (IOPL=3 or the TSS I/O bitmap); the ring-0 fatal-exception path uses
 * the same code. */
#include "guest.h"

#define COM1      0x3f8
#define UART_THR  0   /* transmit holding (DLAB=0) */
#define UART_DLL  0   /* divisor low (DLAB=1) */
#define UART_IER  1
#define UART_DLM  1
#define UART_FCR  2
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5
#define LSR_THRE  0x20
#define LCR_DLAB  0x80
#define LCR_8N1   0x03

#define UART_IIR  2   /* read */
#define IIR_FIFO  0xc0
#define FIFO_SIZE 16

/* Bounded so a UART that never reports an empty transmitter (absent or
 * half-emulated) slows output down instead of hanging the guest. */
#define THRE_SPINS 100000

static bool serial_dead;
/* Bytes the transmitter takes before LSR must be read again: with the
 * FIFO on, THRE means all 16 slots are free. Each port access traps to
 * the VMM (under PVM, as an emulated #GP), so this halves console cost. */
static unsigned int tx_depth = 1, tx_room;

void serial_init(void)
{
	outb(COM1 + UART_IER, 0);              /* polled: no interrupts */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);              /* 115200 baud */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, 0x07);           /* FIFOs on and cleared */
	outb(COM1 + UART_MCR, 0x03);           /* DTR, RTS */
	/* An absent UART floats the bus: LSR reads 0xff. Keep writing
	 * anyway (harmless) but do not wait for it. */
	serial_dead = inb(COM1 + UART_LSR) == 0xff;
	if (!serial_dead && (inb(COM1 + UART_IIR) & IIR_FIFO) == IIR_FIFO)
		tx_depth = FIFO_SIZE;
	tx_room = 0;
}

void serial_putc(char c)
{
	if (!serial_dead && !tx_room) {
		for (unsigned int i = 0; i < THRE_SPINS; i++) {
			if (inb(COM1 + UART_LSR) & LSR_THRE)
				break;
			cpu_relax();
		}
		tx_room = tx_depth;
	}
	outb(COM1 + UART_THR, (uint8_t)c);
	if (tx_room)
		tx_room--;
}

void serial_write(const char *s, size_t n)
{
	while (n--)
		serial_putc(*s++);
}

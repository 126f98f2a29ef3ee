/* tapdisk-dio: O_DIRECT I/O, BLKZEROOUT and punched holes on a block device,
 * for the busybox guests of the tapdisk-* tests (tdlib_dio in
 * tapdisk-lib.sh builds it static, without libc, and puts it in the guest).
 * busybox dd will not do: with oflag=direct it falls back to buffered I/O
 * when the kernel refuses its (unaligned) buffer, so dd returns before the
 * device has the data. Here the buffer is page aligned and an error is an
 * error.
 *   dio w DEV OFF LEN BYTE   LEN bytes of BYTE (decimal or 0x..) at OFF
 *   dio f DEV OFF FILE       FILE's contents (a multiple of 512 bytes) at OFF
 *   dio r DEV OFF LEN        LEN bytes at OFF to stdout
 *   dio z DEV OFF LEN        BLKZEROOUT (WRITE_ZEROES without unmap, or zeros)
 *   dio p DEV OFF LEN        fallocate(PUNCH_HOLE): WRITE_ZEROES with unmap
 * OFF and LEN multiples of 512. Exit: 0, the errno of what failed, or 255
 * for a usage error. x86_64 Linux only. */
#define O_RDONLY 0
#define O_RDWR 02
#define O_DIRECT 040000
#define BLKZEROOUT 0x127f
#define CHUNK (1ul << 20)

enum { SYS_read = 0, SYS_write = 1, SYS_open = 2, SYS_ioctl = 16, SYS_pread64 = 17,
       SYS_pwrite64 = 18, SYS_fallocate = 285 };

static unsigned char buf[CHUNK] __attribute__((aligned(4096)));

static long sys(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

/* Decimal or 0x hex; -1 for anything else. */
static long num(const char *s)
{
	long v = 0, base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		v = v * base + d;
	}
	return v;
}

static int err(long r)
{
	return r < 0 ? (int)-r : 5;     /* a short transfer: EIO */
}

int dio_main(long argc, char **argv)
{
	long fd, r, off, len, n, done;
	char op;

	if (argc < 5 || argv[1][0] == 0 || argv[1][1] != 0)
		return 255;
	op = argv[1][0];
	off = num(argv[3]);
	len = op == 'f' ? 0 : num(argv[4]);
	if (off < 0 || len < 0 || (op == 'w' && argc < 6))
		return 255;
	fd = sys(SYS_open, (long)argv[2], (op == 'r' ? O_RDONLY : O_RDWR) |
		 (op == 'z' || op == 'p' ? 0 : O_DIRECT), 0, 0);
	if (fd < 0)
		return (int)-fd;
	switch (op) {
	case 'z': {
		unsigned long range[2] = { (unsigned long)off, (unsigned long)len };

		r = sys(SYS_ioctl, fd, BLKZEROOUT, (long)range, 0);
		return r < 0 ? (int)-r : 0;
	}
	case 'p':   /* FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE */
		r = sys(SYS_fallocate, fd, 0x03, off, len);
		return r < 0 ? (int)-r : 0;
	case 'w': {
		long byte = num(argv[5]);

		if (byte < 0 || byte > 255)
			return 255;
		for (long i = 0; i < len && i < (long)CHUNK; i++)
			buf[i] = (unsigned char)byte;
		for (done = 0; done < len; done += n) {
			n = len - done < (long)CHUNK ? len - done : (long)CHUNK;
			r = sys(SYS_pwrite64, fd, (long)buf, n, off + done);
			if (r != n)
				return err(r);
		}
		return 0;
	}
	case 'f': {
		long in = sys(SYS_open, (long)argv[4], O_RDONLY, 0, 0);

		if (in < 0)
			return (int)-in;
		for (;;) {
			for (n = 0; n < (long)CHUNK; n += r) {
				r = sys(SYS_read, in, (long)buf + n, (long)CHUNK - n, 0);
				if (r < 0)
					return (int)-r;
				if (r == 0)
					break;
			}
			if (n == 0)
				return 0;
			r = sys(SYS_pwrite64, fd, (long)buf, n, off);
			if (r != n)
				return err(r);
			off += n;
		}
	}
	case 'r':
		for (done = 0; done < len; done += n) {
			n = len - done < (long)CHUNK ? len - done : (long)CHUNK;
			r = sys(SYS_pread64, fd, (long)buf, n, off + done);
			if (r != n)
				return err(r);
			for (long w = 0; w < n; w += r) {
				r = sys(SYS_write, 1, (long)buf + w, n - w, 0);
				if (r <= 0)
					return err(r);
			}
		}
		return 0;
	}
	return 255;
}

__asm__(".globl _start\n_start:\n\tmov (%rsp), %rdi\n\tlea 8(%rsp), %rsi\n"
	"\tand $-16, %rsp\n\tcall dio_main\n\tmov %eax, %edi\n\tmov $60, %eax\n\tsyscall\n");

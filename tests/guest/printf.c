/* printf for the test guest: one formatter (fmt_format) feeding a sink, used
 * by vsnprintf (into a buffer) and vprintf (to COM1). No floating point: the
 * guest is built with -mgeneral-regs-only. */
#include "guest.h"

struct spec {
	bool left;        /* '-' */
	bool zero;        /* '0' */
	bool alt;         /* '#' */
	int width;
	int precision;    /* -1: none */
	int length;       /* 0, 'H' (hh), 'h', 'l', 'L' (ll), 'z' */
};

struct out {
	fmt_sink sink;
	void *ctx;
	int count;
};

static void out_char(struct out *o, char c)
{
	o->sink(c, o->ctx);
	o->count++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

/* Emits prefix (sign or "0x") and digits padded to the field width. */
static void out_number(struct out *o, const struct spec *sp, const char *prefix,
		       const char *digits, int ndigits)
{
	int plen = (int)strlen(prefix);
	int pad = sp->width - plen - ndigits;

	if (!sp->left && !sp->zero)
		out_pad(o, ' ', pad);
	while (*prefix)
		out_char(o, *prefix++);
	if (!sp->left && sp->zero)
		out_pad(o, '0', pad);
	while (ndigits--)
		out_char(o, digits[ndigits]);
	if (sp->left)
		out_pad(o, ' ', pad);
}

/* Digits are produced least significant first into buf. */
static int to_digits(char *buf, uint64_t v, unsigned int base, bool upper)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;

	do {
		buf[n++] = set[v % base];
		v /= base;
	} while (v);
	return n;
}

static uint64_t arg_unsigned(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 'H':
		return (unsigned char)va_arg(*ap, unsigned int);
	case 'h':
		return (unsigned short)va_arg(*ap, unsigned int);
	case 'l':
		return va_arg(*ap, unsigned long);
	case 'L':
		return va_arg(*ap, unsigned long long);
	case 'z':
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static int64_t arg_signed(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 'H':
		return (signed char)va_arg(*ap, int);
	case 'h':
		return (short)va_arg(*ap, int);
	case 'l':
		return va_arg(*ap, long);
	case 'L':
		return va_arg(*ap, long long);
	case 'z':
		return (int64_t)va_arg(*ap, size_t);
	default:
		return va_arg(*ap, int);
	}
}

static void out_string(struct out *o, const struct spec *sp, const char *s)
{
	int len;

	if (!s)
		s = "(null)";
	len = (int)(sp->precision >= 0 ? strnlen(s, (size_t)sp->precision) : strlen(s));
	if (!sp->left)
		out_pad(o, ' ', sp->width - len);
	for (int i = 0; i < len; i++)
		out_char(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - len);
}

/* Parses flags, width, precision and length at *fmt; advances *fmt. */
static void parse_spec(struct spec *sp, const char **fmt, va_list *ap)
{
	const char *f = *fmt;

	*sp = (struct spec){ .precision = -1 };
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else if (*f == '#')
			sp->alt = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->precision = 0;
		if (*f == '*') {
			sp->precision = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->precision = sp->precision * 10 + (*f++ - '0');
	}
	if (*f == 'h') {
		sp->length = 'h';
		if (*++f == 'h') {
			sp->length = 'H';
			f++;
		}
	} else if (*f == 'l') {
		sp->length = 'l';
		if (*++f == 'l') {
			sp->length = 'L';
			f++;
		}
	} else if (*f == 'z') {
		sp->length = 'z';
		f++;
	}
	if (sp->left)
		sp->zero = false;
	*fmt = f;
}

int fmt_format(fmt_sink sink, void *ctx, const char *fmt, va_list ap_in)
{
	struct out o = { .sink = sink, .ctx = ctx };
	struct spec sp;
	char digits[24];
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		if (*fmt != '%') {
			out_char(&o, *fmt++);
			continue;
		}
		fmt++;
		parse_spec(&sp, &fmt, &ap);
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = arg_signed(&sp, &ap);
			uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
			int n = to_digits(digits, mag, 10, false);

			out_number(&o, &sp, v < 0 ? "-" : "", digits, n);
			break;
		}
		case 'u': {
			int n = to_digits(digits, arg_unsigned(&sp, &ap), 10, false);

			out_number(&o, &sp, "", digits, n);
			break;
		}
		case 'x':
		case 'X': {
			uint64_t v = arg_unsigned(&sp, &ap);
			int n = to_digits(digits, v, 16, *fmt == 'X');

			out_number(&o, &sp, sp.alt && v ? "0x" : "", digits, n);
			break;
		}
		case 'p': {
			uint64_t v = (uintptr_t)va_arg(ap, void *);
			int n = to_digits(digits, v, 16, false);

			out_number(&o, &sp, "0x", digits, n);
			break;
		}
		case 'c':
			out_pad(&o, ' ', sp.left ? 0 : sp.width - 1);
			out_char(&o, (char)va_arg(ap, int));
			out_pad(&o, ' ', sp.left ? sp.width - 1 : 0);
			break;
		case 's':
			out_string(&o, &sp, va_arg(ap, const char *));
			break;
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			/* A lone '%' at the end: print it, do not overrun. */
			out_char(&o, '%');
			va_end(ap);
			return o.count;
		default:
			/* Unknown conversion: show it verbatim so it is noticed. */
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
		fmt++;
	}
	va_end(ap);
	return o.count;
}

struct buf_ctx {
	char *buf;
	size_t size;
	size_t pos;
};

static void buf_sink(char c, void *ctx)
{
	struct buf_ctx *b = ctx;

	if (b->pos + 1 < b->size)
		b->buf[b->pos] = c;
	b->pos++;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_ctx b = { .buf = buf, .size = size };
	int n = fmt_format(buf_sink, &b, fmt, ap);

	if (size)
		buf[b.pos < size ? b.pos : size - 1] = '\0';
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void serial_sink(char c, void *ctx)
{
	(void)ctx;
	if (c == '\n')
		serial_putc('\r');
	serial_putc(c);
}

int vprintf(const char *fmt, va_list ap)
{
	return fmt_format(serial_sink, NULL, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

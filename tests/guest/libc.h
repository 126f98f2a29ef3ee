/* The test guest's tiny libc: the string functions the compiler may call
 * behind our back (memset/memcpy/memmove/memcmp), a few more for parsing,
 * and a printf family whose console output goes to COM1. */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* Copies at most size-1 bytes and always terminates (if size > 0);
 * returns strlen(src) so truncation can be detected. */
size_t strlcpy(char *dst, const char *src, size_t size);

/* Parses a whole string as an unsigned number: decimal, or hex with a
 * 0x prefix. False on empty input, stray characters or overflow. */
bool str_to_u64(const char *s, uint64_t *out);

/* printf-style formatting. Conversions: d i u x X c s p %, with flags
 * '-' '0', a field width (digits or '*'), a precision for s, and length
 * modifiers hh h l ll z. */
typedef void (*fmt_sink)(char c, void *ctx);
int fmt_format(fmt_sink sink, void *ctx, const char *fmt, va_list ap);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* To the serial console; "\n" becomes "\r\n". */
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

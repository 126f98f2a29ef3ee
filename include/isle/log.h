/* Logging shared by the VMM and the backends.
 * Messages go to stderr prefixed with the program name; the level threshold
 * is set once at start-up (ISLE_LOG=debug|info|warn|error or log_set_level). */
#ifndef ISLE_LOG_H
#define ISLE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *progname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For parsers of untrusted text that return -errno with one line of
 * explanation: formats into err (nothing when err is NULL or errlen 0),
 * shows control characters as '?' so a message quoting the input stays one
 * printable line, and returns r. */
int err_msg(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif

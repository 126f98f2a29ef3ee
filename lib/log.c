/* Logging to stderr with a program-name prefix and a level threshold.
 * One fprintf per message so lines from different threads do not interleave.
 * Also err_msg, the one-line error messages of the parsers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"

static const char *log_prog = "isle";
static enum log_level log_threshold = LOG_INFO;

void log_init(const char *progname)
{
	const char *env = getenv("ISLE_LOG");

	if (progname)
		log_prog = progname;
	if (!env)
		return;
	if (!strcmp(env, "debug"))
		log_threshold = LOG_DEBUG;
	else if (!strcmp(env, "info"))
		log_threshold = LOG_INFO;
	else if (!strcmp(env, "warn"))
		log_threshold = LOG_WARN;
	else if (!strcmp(env, "error"))
		log_threshold = LOG_ERROR;
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	char buf[1024];
	va_list ap;

	if (level < log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s: %s\n", log_prog, names[level], buf);
}

int err_msg(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return r;
}

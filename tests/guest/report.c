/* The report library: counts results, prints them as TAP on the serial
 * console and mirrors each one to the isle test device.
 *
 * The structured copy goes through port 0xf8: we fill a struct
 * testdev_report in guest memory and write its physical address (identity
 * mapped, below 4 GiB) there, so isle can collect results without parsing
 * the console. QEMU has nothing on that port and drops the write. */
#include "isle/testdev.h"

#include "guest.h"

#define PREFIX_DEPTH 8
#define TEXT_MAX     256

static unsigned int nr_tests, nr_pass, nr_fail, nr_skip;

static char prefix[TEXT_MAX];
static size_t prefix_len[PREFIX_DEPTH];
static unsigned int prefix_depth;

/* One buffer is enough: the VMM reads it synchronously on the port write. */
static struct testdev_report report_buf __attribute__((aligned(16)));

static void report_send(uint32_t kind, const char *text)
{
	size_t len = strnlen(text, sizeof(report_buf.text));

	report_buf.magic = TESTDEV_REPORT_MAGIC;
	report_buf.kind = kind;
	report_buf.pass = nr_pass;
	report_buf.fail = nr_fail;
	report_buf.skip = nr_skip;
	report_buf.text_len = (uint32_t)len;
	memset(report_buf.text, 0, sizeof(report_buf.text));
	memcpy(report_buf.text, text, len);
	barrier();
	outl(TESTDEV_REPORT_PORT, (uint32_t)(uintptr_t)&report_buf);
}

void report_prefix_push(const char *p)
{
	size_t len = strlen(prefix);

	if (prefix_depth < PREFIX_DEPTH)
		prefix_len[prefix_depth] = len;
	prefix_depth++;
	snprintf(prefix + len, sizeof(prefix) - len, "%s: ", p);
}

void report_prefix_pushf(const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report_prefix_push(buf);
}

void report_prefix_pop(void)
{
	if (!prefix_depth)
		return;
	prefix_depth--;
	if (prefix_depth < PREFIX_DEPTH)
		prefix[prefix_len[prefix_depth]] = '\0';
}

/* Builds "<prefixes><msg>" into text. */
static void report_text(char *text, const char *fmt, va_list ap)
{
	size_t len = strlcpy(text, prefix, TEXT_MAX);

	if (len >= TEXT_MAX)
		len = TEXT_MAX - 1;
	vsnprintf(text + len, TEXT_MAX - len, fmt, ap);
}

bool report(bool cond, const char *fmt, ...)
{
	char text[TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	report_text(text, fmt, ap);
	va_end(ap);

	nr_tests++;
	if (cond)
		nr_pass++;
	else
		nr_fail++;
	printf("%sok %u - %s\n", cond ? "" : "not ", nr_tests, text);
	report_send(cond ? TESTDEV_REPORT_PASS : TESTDEV_REPORT_FAIL, text);
	return cond;
}

void report_skip(const char *fmt, ...)
{
	char why[TEXT_MAX], text[TEXT_MAX];
	size_t plen = strlen(prefix);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);

	/* The prefixes name what was skipped; drop the trailing ": ". */
	if (plen >= 2)
		plen -= 2;
	if (plen)
		snprintf(text, sizeof(text), "%.*s # SKIP %s", (int)plen, prefix, why);
	else
		snprintf(text, sizeof(text), "%s # SKIP", why);

	nr_tests++;
	nr_skip++;
	printf("ok %u - %s\n", nr_tests, text);
	report_send(TESTDEV_REPORT_SKIP, text);
}

void report_info(const char *fmt, ...)
{
	va_list ap;

	printf("# %s", prefix);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

unsigned int report_failed(void)
{
	return nr_fail;
}

int report_summary(void)
{
	char text[TEXT_MAX];

	snprintf(text, sizeof(text), "%u passed, %u failed, %u skipped",
		 nr_pass, nr_fail, nr_skip);
	printf("1..%u\n", nr_tests);
	printf("SUMMARY: %s\n", text);
	report_send(TESTDEV_REPORT_SUMMARY, text);
	if (nr_fail)
		return EXIT_FAIL;
	if (!nr_pass && nr_skip)
		return EXIT_SKIP;
	if (!nr_tests) {
		/* A scenario that checked nothing has not passed. */
		printf("# no test points were reported\n");
		return EXIT_FAIL;
	}
	return EXIT_PASS;
}

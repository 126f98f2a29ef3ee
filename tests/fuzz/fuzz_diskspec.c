/* libFuzzer target for blkback/diskspec.c: the input is one disk spec as
 * bytes. Besides crashes and sanitizer reports, it checks what a caller
 * relies on: a success has a non-empty, terminated path and a valid or
 * empty vdev and is raw or qcow2; a failure has a one-line message; and
 * the counted and the NUL-terminated entry points agree. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diskspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct disk_spec a, b;
	char err_a[160], err_b[160];
	char *s;
	int ra, rb;

	ra = diskspec_parse_buf((const char *)data, size, &a, err_a, sizeof(err_a));
	if (ra == 0) {
		if (!a.path[0] || !memchr(a.path, '\0', sizeof(a.path)) ||
		    (a.format != DISK_FORMAT_RAW && a.format != DISK_FORMAT_QCOW2) ||
		    !memchr(a.vdev, '\0', sizeof(a.vdev)) ||
		    (a.vdev[0] && !diskspec_vdev_valid(a.vdev)) || (a.cdrom && !a.readonly))
			abort();
	} else {
		if ((ra != -EINVAL && ra != -ENOTSUP) || !err_a[0] || strchr(err_a, '\n'))
			abort();
	}

	if (memchr(data, '\0', size))
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rb = diskspec_parse(s, &b, err_b, sizeof(err_b));
	if (ra != rb || (ra == 0 && memcmp(&a, &b, sizeof(a))) ||
	    (ra != 0 && strcmp(err_a, err_b)))
		abort();
	free(s);
	return 0;
}

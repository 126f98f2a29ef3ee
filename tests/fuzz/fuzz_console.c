/* libFuzzer target for vmm/devices/console.c's escape parser: the input is
 * terminal input, fed in chunks whose sizes come from the first byte. It
 * checks what console_on_input relies on: the output never outgrows the
 * input consumed, consumption always advances (no endless loop), and an
 * input without Ctrl-A passes through unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096], orig[4096];
	size_t chunk, off = 1;
	bool esc = false;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t pos = 0;

		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, data + off, n);
		memcpy(orig, buf, n);
		while (pos < n) {
			size_t used = 0, out = 0;
			bool was_esc = esc;

			console_filter(&esc, buf + pos, n - pos, &used, &out);
			if (used == 0 || used > n - pos || out > used)
				abort();
			if (!memchr(orig + pos, CONSOLE_ESCAPE, used) && !was_esc &&
			    (out != used || memcmp(buf + pos, orig + pos, used)))
				abort();
			pos += used;
		}
		off += n;
	}
	return 0;
}

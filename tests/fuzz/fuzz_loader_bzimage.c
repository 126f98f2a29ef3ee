/* libFuzzer target for vmm/boot/loader_bzimage.c (and loader_load's dispatch).
 * Seeds: tests/fuzz/corpus/loader_bzimage (gen_loader_seeds.py). */
#define FUZZ_LOAD        loader_bzimage_load
#define FUZZ_OTHER_PROBE loader_pvh_probe
/* The 64-bit entry, 0x200 into a kernel loaded above the boot area. */
#define FUZZ_MODE        BOOT_LINUX64
#define FUZZ_ARG         LAYOUT_ZERO_PAGE
#define FUZZ_MIN_ENTRY   (LAYOUT_HIGH_MEM + 0x200)
#include "fuzz_loader.h"

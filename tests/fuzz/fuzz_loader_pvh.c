/* libFuzzer target for vmm/boot/loader_pvh.c (and loader_load's dispatch).
 * Seeds: tests/fuzz/corpus/loader_pvh (gen_loader_seeds.py). */
#define FUZZ_LOAD        loader_pvh_load
#define FUZZ_OTHER_PROBE loader_bzimage_probe
/* A 32-bit entry inside RAM above the boot area. */
#define FUZZ_MODE        BOOT_PVH32
#define FUZZ_ARG         LAYOUT_START_INFO
#define FUZZ_MIN_ENTRY   LAYOUT_HIGH_MEM
#include "fuzz_loader.h"

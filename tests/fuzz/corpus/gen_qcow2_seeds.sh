#!/bin/sh
# Writes the seed corpus for fuzz_qcow2: images made by qemu-img and written
# by qemu-io (the reference), each behind the 4-byte header documented at
# the top of tests/fuzz/fuzz_qcow2.c (flags, request count, 16-bit seed).
# Small clusters and sizes keep the seeds small. Needs qemu-utils:
#     sh tests/fuzz/corpus/gen_qcow2_seeds.sh
set -eu
out=$(cd "$(dirname "$0")" && pwd)/qcow2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$out"
rm -f "$out"/*

seed() { # name flags count seed image
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' "$2" "$3" $(($4 & 255)) $(($4 >> 8)))" >"$out/$1"
	cat "$5" >>"$out/$1"
}

# Data: a pattern, a zero range, a partial cluster, a second L2 table.
fill() {
	qemu-io -f qcow2 -c "write -P 0xa5 0 3k" -c "write -z 8k 8k" \
		-c "write -P 0x5a 70k 1k" -c "write -P 0x11 900k 4k" "$1" >/dev/null
}

qemu-img create -q -f qcow2 -o cluster_size=512 "$t/v3" 1M
seed v3-empty 0 8 1 "$t/v3"
fill "$t/v3"
seed v3-512 0 12 2 "$t/v3"
seed v3-512-ro 1 12 3 "$t/v3"
seed v3-512-tinycache 2 15 4 "$t/v3"

qemu-img create -q -f qcow2 -o cluster_size=512,compat=0.10 "$t/v2" 1M
fill "$t/v2"
seed v2-512 0 12 5 "$t/v2"

qemu-img create -q -f qcow2 -o cluster_size=4096,refcount_bits=1 "$t/r1" 256k
qemu-io -f qcow2 -c "write -P 0x33 0 12k" "$t/r1" >/dev/null
seed refcount1-4k 0 10 6 "$t/r1"

qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 "$t/r64" 64k
qemu-io -f qcow2 -c "write -P 0x44 1k 2k" "$t/r64" >/dev/null
seed refcount64-512 2 10 7 "$t/r64"

# Compressed clusters: text compresses, so convert -c keeps them compressed.
yes 'isle qcow2 fuzz seed' | head -c 65536 >"$t/raw"
for c in zlib zstd; do
	qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4096,compression_type=$c \
		"$t/raw" "$t/$c"
	seed compressed-$c 0 10 8 "$t/$c"
done

# An overlay naming a backing file (read as zeros under no_backing).
qemu-img create -q -f qcow2 -o cluster_size=512 -b "$t/raw" -F raw "$t/ov"
qemu-io -f qcow2 -c "write -P 0x77 1000 600" "$t/ov" >/dev/null
seed overlay 0 12 9 "$t/ov"

# Preallocated metadata, a header extension for a feature name table.
qemu-img create -q -f qcow2 -o cluster_size=512,preallocation=metadata "$t/pm" 32k
seed prealloc-metadata 0 8 10 "$t/pm"

ls "$out" | wc -l

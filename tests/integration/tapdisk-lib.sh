# Shared by the tapdisk-* integration tests (sourced, not run): skipping
# when a tool is missing, a scratch directory, starting and stopping
# isle-tapdisk, booting Debian's kernel under QEMU TCG as its vhost-user-blk
# frontend, and ok/not ok lines. Callers set `here` and use `fail`.

# Exits 77 with the reason unless QEMU, a static busybox and Debian's
# kernel (fetched into KDIR once) are at hand.
tdlib_need_linux_frontend() {
	local kdir=$1
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "SKIP: needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
		exit 77
	fi
	if ! command -v busybox >/dev/null || ! file -L "$(command -v busybox)" | grep -q 'statically linked'; then
		echo "SKIP: needs a static busybox (apt-get install busybox-static)"
		exit 77
	fi
	if ! "$here/../../scripts/fetch-kernel" "$kdir"; then
		echo "SKIP: Debian's kernel package could not be fetched"
		exit 77
	fi
}

# Exits 77 unless qemu-img and qemu-io are at hand (tests that make qcow2
# images with QEMU's tools and check them afterwards).
tdlib_need_qemu_img() {
	if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
		echo "SKIP: needs qemu-img and qemu-io (apt-get install qemu-utils)"
		exit 77
	fi
}

# A scratch directory on a disk filesystem (tmpfs refuses O_DIRECT) that
# goes away with everything started here.
tdlib_tmpdir() {
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/isle-tapdisk.XXXXXX")
	td_pid= td_pids= qemu_pid=
	trap tdlib_cleanup EXIT
}

# Tests that mount something define tdlib_extra_cleanup.
tdlib_extra_cleanup() { :; }

tdlib_cleanup() {
	[ -n "${qemu_pid:-}" ] && kill -9 "$qemu_pid" 2>/dev/null
	[ -n "${td_pid:-}" ] && kill -9 "$td_pid" 2>/dev/null
	for p in ${td_pids:-}; do kill -9 "$p" 2>/dev/null; done
	tdlib_extra_cleanup
	wait 2>/dev/null
	rm -rf "$dir"
}

# Builds tapdisk-dio.c (static, no libc: O_DIRECT reads and writes,
# BLKZEROOUT, punched holes; busybox dd silently drops O_DIRECT when the
# kernel refuses its buffer) as $dir/dio. Exits 77 without a C compiler.
tdlib_dio() {
	local cc=${CC:-cc}
	if ! command -v "$cc" >/dev/null || [ "$(uname -m)" != x86_64 ]; then
		echo "SKIP: needs a C compiler on x86_64 for the guest's O_DIRECT helper (apt-get install gcc)"
		exit 77
	fi
	"$cc" -static -nostdlib -Os -fno-stack-protector -fno-asynchronous-unwind-tables \
		-Wl,--build-id=none -s -o "$dir/dio" "$here/tapdisk-dio.c" ||
		{ echo "FAIL: could not build tapdisk-dio.c"; exit 1; }
}

# tdlib_embed FILE NAME: the lines of a guest script that recreate FILE as
# /bin/NAME (the initramfs holds busybox and the script only).
tdlib_embed() {
	echo "base64 -d >/bin/$2 <<'B64'"
	base64 "$1"
	echo "B64"
	echo "chmod +x /bin/$2"
}

tdlib_initramfs() {
	local script=$1 out=$2
	shift 2
	"$here/../../scripts/mk-initramfs" "$kdir" "$script" "$out" virtio_blk virtio_pci "$@" \
		>/dev/null || { echo "FAIL: mk-initramfs"; exit 1; }
}

# Starts isle-tapdisk in the background (log: $dir/tapdisk.log, appended;
# tests running several set tdlib_log to one of their own for each) and
# waits for its socket. An engine this host cannot run is a skip. Tests
# running several keep the other ones' pids in td_pids (cleaned up too).
tdlib_start() {
	local bin=$1 sock log=${tdlib_log:-$dir/tapdisk.log}
	shift
	sock=$(printf '%s\n' "$@" | sed -n '/^--socket$/{n;p;q}')
	"$bin" "$@" >>"$log" 2>&1 &
	td_pid=$!
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && grep -q "serving" "$log" && return 0
		if ! kill -0 "$td_pid" 2>/dev/null; then
			wait "$td_pid"
			td_pid=
			cat "$log"
			if grep -qE "cannot start the (uring|aio) engine" "$log"; then
				echo "SKIP: the engine cannot run on this host"
				exit 77
			fi
			echo "FAIL: isle-tapdisk did not start"
			exit 1
		fi
		sleep 0.1
	done
	echo "FAIL: isle-tapdisk's socket did not appear"
	exit 1
}

# SIGTERM, then isle-tapdisk's exit status.
tdlib_stop() {
	local st
	[ -n "$td_pid" ] || return 1
	kill -TERM "$td_pid"
	wait "$td_pid"
	st=$?
	td_pid=
	return $st
}

# Boots KDIR's kernel with INITRD and a vhost-user-blk-pci on SOCK with
# QUEUES queues (as many vCPUs); extra args go to the chardev. Foreground
# unless the caller backgrounds it; always under timeout (QEMU hangs
# silently if something is wrong with shared memory): tdlib_qemu_timeout
# seconds, 240 unless set. The array tdlib_qemu_args, when set, is appended
# (more devices); tdlib_qemu_stdin, when set, is the serial console's input
# (a FIFO the test writes to), else /dev/null.
tdlib_qemu() {
	local kdir=$1 initrd=$2 sock=$3 queues=$4 chardev_extra=${5:-}
	timeout -k 5 "${tdlib_qemu_timeout:-240}" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp "$queues" \
		-nographic -nodefaults -serial stdio -no-reboot \
		-kernel "$kdir/vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1" \
		-object memory-backend-memfd,id=mem,size=512M,share=on -machine memory-backend=mem \
		-chardev "socket,id=c0,path=$sock$chardev_extra" \
		-device "vhost-user-blk-pci,chardev=c0,num-queues=$queues" \
		${tdlib_qemu_args[@]+"${tdlib_qemu_args[@]}"} <"${tdlib_qemu_stdin:-/dev/null}"
}

# tdlib_check DESCRIPTION COMMAND...: one ok/not ok line; failure sets fail=1.
tdlib_check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		fail=1
	fi
}

# True when LEN_MB MiB of the image at OFF_MB MiB are the guest's pattern:
# the output of `seq 1 SEQMAX`, cut to the length.
tdlib_pattern_at() {
	local img=$1 off=$2 len=$3 max=$4
	cmp <(seq 1 "$max" | head -c $((len << 20))) \
	    <(dd if="$img" bs=1M skip="$off" count="$len" 2>/dev/null)
}

# Seconds since an $EPOCHREALTIME value, to 0.01 s.
tdlib_since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

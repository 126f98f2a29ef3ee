# Sourced by ./demo and ./check: installs the Debian packages the project
# needs when they are missing (as root), or prints the exact apt-get line.
ISLE_PACKAGES=(
	gcc make meson ninja-build pkg-config   # build
	libcunit1-dev                           # host unit tests
	libaio-dev liburing-dev                 # isle-tapdisk I/O engines
	zlib1g-dev libzstd-dev                  # isle-tapdisk qcow2: compressed clusters
	qemu-utils                              # qcow2 tests: qemu-img, qemu-io (the reference)
	acpica-tools                            # iasl compiles the DSDT
	clang libclang-rt-14-dev                # libFuzzer targets, sanitizers
	qemu-system-x86                         # the reference VMM in tests and benches
	python3 procps                          # bench helpers
	busybox-static cpio binutils file xz-utils   # Linux-frontend tests: initramfs, vmlinux
	kmod                                    # scripts/lab, fetch-kernel: depmod, modprobe in L1
	e2fsprogs                               # tapdisk tests: e2fsck on the host, mkfs.ext4
	fio                                     # bench/blk: the host limit
	libmnl-dev iproute2                     # isle-netback: rtnetlink; net tests: netns, bridges
	dpdk dpdk-dev librte-net-virtio23       # net tests: dpdk-testpmd (in dpdk-dev on Debian 12) + virtio-user PMD
	jq libudev-dev iputils-ping             # bridge-scripts (jq), isle-bridge-watch (libudev), bridge tests (ping)
	libpci-dev pciutils                     # vfio-glue: device names (isle pci-assignable-list)
	libmicrohttpd-dev libjansson-dev        # the control socket: HTTP/1.1 server, JSON
	libcurl4-openssl-dev curl               # the xl verbs' client; API tests (curl --unix-socket)
)

deps_missing() {
	local p
	for p in "${ISLE_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			printf '%s\n' "$p"
	done
}

deps_ensure() {
	local missing
	missing=$(deps_missing | tr '\n' ' ')
	[ -z "${missing// /}" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages; run as root:" >&2
		echo "  apt-get update && apt-get install -y $missing" >&2
		exit 1
	fi
	echo "installing: $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Configures DIR with the given options once, then builds it.
build_dir() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log"
			return 1
		}
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || {
		cat "$dir.ninja.log"
		return 1
	}
}

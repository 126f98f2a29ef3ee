# Shared by the netback-* integration tests (sourced, not run): skipping
# with a reason when something is missing, a scratch directory and network
# namespaces that go away with everything started here, starting and
# stopping isle-netback, reading its counters and a tap's, ok/not ok lines.
# Callers set `here` and use `fail`. Every namespace is named nb<pid>-*, and
# all traffic stays inside them.

# Exits 77 unless we are root with a tun device and network namespaces.
nblib_need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root (tap devices, bridges, network namespaces)"
		exit 77
	fi
	if [ ! -c /dev/net/tun ]; then
		echo "SKIP: needs /dev/net/tun"
		exit 77
	fi
	if ! command -v ip >/dev/null || ! ip netns add "nb$$-probe" 2>/dev/null; then
		echo "SKIP: needs iproute2 and network namespaces"
		exit 77
	fi
	ip netns del "nb$$-probe"
	if ! command -v python3 >/dev/null; then
		echo "SKIP: needs python3 (stats socket, raw frames)"
		exit 77
	fi
}

nblib_setup() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/isle-netback.XXXXXX")
	nb_pid= qemu_pid= nb_namespaces=()
	trap nblib_cleanup EXIT
}

nblib_cleanup() {
	[ -n "${qemu_pid:-}" ] && kill -9 "$qemu_pid" 2>/dev/null
	[ -n "${nb_pid:-}" ] && kill -9 "$nb_pid" 2>/dev/null
	[ -n "${httpd_pid:-}" ] && kill -9 "$httpd_pid" 2>/dev/null
	wait 2>/dev/null
	for ns in "${nb_namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$dir"
}

# nblib_netns NAME: a fresh namespace nb<pid>-NAME with lo up and IPv6 off
# (so the kernel sends nothing of its own on our links); prints its name.
nblib_netns() {
	local ns=nb$$-$1
	ip netns add "$ns" || { echo "FAIL: ip netns add $ns"; exit 1; }
	nb_namespaces+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
}

# nblib_start NS ARGS...: isle-netback in namespace NS (log: $dir/nb.log),
# waiting until it serves. A caller may set the array nb_wrap to a command
# that execs it (nblib_tapfd_py below).
nblib_start() {
	local ns=$1
	shift
	: >"$dir/nb.log"
	ip netns exec "$ns" ${nb_wrap+"${nb_wrap[@]}"} "$netback" "$@" >>"$dir/nb.log" 2>&1 &
	nb_pid=$!
	for _ in $(seq 1 100); do
		grep -q "serving" "$dir/nb.log" && return 0
		if ! kill -0 "$nb_pid" 2>/dev/null; then
			wait "$nb_pid"
			nb_pid=
			cat "$dir/nb.log"
			echo "FAIL: isle-netback did not start"
			exit 1
		fi
		sleep 0.1
	done
	echo "FAIL: isle-netback did not start serving"
	exit 1
}

# SIGTERM, then isle-netback's exit status.
nblib_stop() {
	local st
	[ -n "$nb_pid" ] || return 1
	kill -TERM "$nb_pid"
	wait "$nb_pid"
	st=$?
	nb_pid=
	return $st
}

# nblib_stat SOCK KEY: a counter from the stats socket's JSON ("total").
nblib_stat() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(json.loads(buf)["total"][sys.argv[2]])
PY
}

# nblib_settle SOCK KEY [SECONDS]: waits (at most SECONDS, default 20)
# until the counter stays put for half a second, so a slow backend on a
# busy host has finished what it had when the caller goes on.
nblib_settle() {
	local prev=-1 cur end=$((SECONDS + ${3:-20}))
	while [ $SECONDS -lt $end ]; do
		cur=$(nblib_stat "$1" "$2")
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.5
	done
}

# nblib_tapstat NS DEV COUNTER: /sys/class/net/DEV/statistics/COUNTER in NS.
nblib_tapstat() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# nblib_check DESCRIPTION COMMAND...: one ok/not ok line; failure sets fail=1.
nblib_check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		fail=1
	fi
}

# nblib_eq DESCRIPTION A B: ok when the numbers are equal (both shown).
nblib_eq() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1 ($2)"
	else
		echo "not ok - $1 ($2 != $3)"
		fail=1
	fi
}

# python3 -c "$nblib_tapfd_py" FLAGS N NAME CMD ARGS...: opens N fds of a
# new tap NAME in the current namespace, as Kata Containers does (FLAGS:
# tap, tun, no_pi, vnet_hdr, mq joined by '|'), and execs CMD ARGS with
# them inherited; in ARGS, FDi becomes the i-th fd's number and DUPi that
# of a dup of it.
nblib_tapfd_py='
import fcntl, os, struct, sys
bits = {"tap": 0x2, "tun": 0x1, "no_pi": 0x1000, "vnet_hdr": 0x4000, "mq": 0x100}
flags = sum(bits[w] for w in sys.argv[1].split("|"))
fds = []
for _ in range(int(sys.argv[2])):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH22x", sys.argv[3].encode(), flags))
    os.set_inheritable(fd, True)
    fds.append(fd)
args = []
for a in sys.argv[4:]:
    if a.startswith("FD"):
        a = str(fds[int(a[2:])])
    elif a.startswith("DUP"):
        d = os.dup(fds[int(a[3:])])
        os.set_inheritable(d, True)
        a = str(d)
    args.append(a)
os.execvp(args[0], args)
'

# Seconds since an $EPOCHREALTIME value, to 0.01 s.
nblib_since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

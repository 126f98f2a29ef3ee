# shellcheck shell=bash
# common.sh — helpers sourced by network-bridge and vif-bridge. Not executable
# on its own.
#
# Gives the scripts: strict mode plus an ERR trap that turns any unexpected
# failure into `fatal`; `log`/`fatal`; an undo journal (`step`, `rollback`)
# so a failure halfway through a change puts back what was already done; one
# lock shared by every hotplug script; and small iproute2 queries.
#
# Environment:
#   ISLE_LOCK_DIR       directory of hotplug.lock (default /run/isle)
#   ISLE_LOCK_TIMEOUT   seconds to wait for the lock (default 60)
#   ISLE_HOTPLUG_SYSLOG 0 = log to stderr only, not also to syslog via logger

set -Eeuo pipefail

ISLE_PROG=${0##*/}
# Command substitutions run in subshells that inherit the ERR trap; only the
# main shell may undo steps, or a failing $(...) would roll back a copy of
# the journal and then the main shell would roll back again.
ISLE_MAIN_PID=$BASHPID
ISLE_UNDO=()
ISLE_ROLLING_BACK=0

log() {  # log LEVEL MESSAGE... (LEVEL: debug info notice warning err)
	local level=$1
	shift
	printf '%s: %s\n' "$ISLE_PROG" "$*" >&2
	if [ "${ISLE_HOTPLUG_SYSLOG:-1}" != 0 ] && command -v logger >/dev/null 2>&1; then
		logger -t "isle-$ISLE_PROG" -p "daemon.$level" -- "$*" 2>/dev/null || true
	fi
}

fatal() {
	log err "$*"
	rollback
	exit 1
}

sigerr() {
	local rc=$?
	fatal "unexpected failure (status $rc) at line ${BASH_LINENO[0]}: $BASH_COMMAND"
}
trap sigerr ERR
trap 'fatal "interrupted"' INT TERM HUP

do_or_die() {
	"$@" || fatal "$* failed"
}

# step UNDO... -- DO...: runs DO (fatal if it fails, which rolls back) and,
# once it has succeeded, records UNDO, the command that reverses it. With no
# UNDO (`step -- DO...`) nothing is recorded. Arguments must not contain
# newlines or \x1f (interface names and addresses never do).
step() {
	local undo=()
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		undo+=("$1")
		shift
	done
	[ "$#" -gt 1 ] || fatal "internal error: step without a command"
	shift
	"$@" || fatal "'$*' failed"
	if [ "${#undo[@]}" -gt 0 ]; then
		local IFS=$'\x1f'
		ISLE_UNDO+=("${undo[*]}")
	fi
}

# Runs the recorded undo commands, newest first. Best effort: a failing undo
# is logged and the rest still run, since stopping would leave more behind.
rollback() {
	[ "$BASHPID" = "$ISLE_MAIN_PID" ] || return 0
	[ "$ISLE_ROLLING_BACK" = 0 ] || return 0
	local n=${#ISLE_UNDO[@]} i argv
	[ "$n" -gt 0 ] || return 0
	ISLE_ROLLING_BACK=1
	log warning "rolling back $n step(s)"
	for ((i = n - 1; i >= 0; i--)); do
		IFS=$'\x1f' read -r -a argv <<<"${ISLE_UNDO[i]}"
		"${argv[@]}" || log warning "rollback: '${argv[*]}' failed"
	done
	ISLE_UNDO=()
	ISLE_ROLLING_BACK=0
}

# Forgets the journal once a change is complete.
commit() {
	ISLE_UNDO=()
}

# Serialises all hotplug scripts (network-bridge, vif-bridge) so concurrent
# udev/toolstack events cannot interleave their ip commands. The lock is
# held until the script exits (the fd is closed by the kernel then).
hotplug_lock() {
	local dir=${ISLE_LOCK_DIR:-/run/isle}
	mkdir -p -- "$dir" 2>/dev/null || fatal "cannot create lock directory $dir"
	exec {ISLE_LOCK_FD}>>"$dir/hotplug.lock" || fatal "cannot open $dir/hotplug.lock"
	flock -w "${ISLE_LOCK_TIMEOUT:-60}" "$ISLE_LOCK_FD" ||
		fatal "timed out waiting for $dir/hotplug.lock"
}

# Interface names: what the kernel accepts minus everything a shell, a path
# or a log line could misread.
valid_ifname() {
	[[ $1 =~ ^[A-Za-z0-9_.-]{1,15}$ ]] && [ "$1" != . ] && [ "$1" != .. ]
}

check_ifname() {  # check_ifname WHAT NAME
	valid_ifname "$2" || fatal "invalid $1 name $(printf '%q' "$2") (1-15 of A-Z a-z 0-9 _ . -, not . or ..)"
}

# The queries below go through iproute2 rather than /sys/class/net where it
# matters, because netlink always answers for the caller's network
# namespace while a sysfs mounted elsewhere may not.
dev_exists() {
	ip link show dev "$1" >/dev/null 2>&1
}

link_json() {  # link_json DEV: the device's `ip -d -j link` object
	ip -d -j link show dev "$1" | jq -c '.[0]'
}

dev_master() {  # prints the master device of DEV (empty if none)
	ip -j link show dev "$1" | jq -r '.[0].master // empty'
}

dev_is_bridge() {
	[ "$(ip -d -j link show dev "$1" 2>/dev/null | jq -r '.[0].linkinfo.info_kind // empty')" = bridge ]
}

dev_is_loopback() {
	ip -j link show dev "$1" | jq -e '.[0] | .link_type == "loopback" or (.flags | index("LOOPBACK"))' >/dev/null
}

dev_mtu() {
	ip -j link show dev "$1" | jq -r '.[0].mtu'
}

dev_is_up() {  # administratively up
	ip -j link show dev "$1" | jq -e '.[0].flags | index("UP")' >/dev/null
}

bridge_ports() {  # prints the ports of bridge BR, one per line
	ip -j link show master "$1" | jq -r '.[].ifname'
}

# Attaches DEV to bridge BR. Idempotent: does nothing if it already is.
add_to_bridge() {
	local br=$1 dev=$2 master
	# sysfs answers without a netlink round trip; confirmed through ip,
	# as a /sys mounted for another namespace could show the wrong devices.
	if [ -e "/sys/class/net/$br/brif/$dev" ] && [ "$(dev_master "$dev")" = "$br" ]; then
		return 0
	fi
	master=$(dev_master "$dev")
	[ "$master" = "$br" ] && return 0
	[ -z "$master" ] || fatal "$dev is already attached to $master, not $br"
	ip link set dev "$dev" master "$br" || fatal "cannot attach $dev to $br"
	log info "attached $dev to $br"
}

# Detaches DEV from bridge BR. Idempotent: succeeds if DEV is gone or not
# attached to BR; leaves DEV alone if it belongs to another master.
remove_from_bridge() {
	local br=$1 dev=$2 master
	dev_exists "$dev" || return 0
	master=$(dev_master "$dev")
	if [ "$master" != "$br" ]; then
		[ -z "$master" ] || log warning "$dev is attached to $master, not $br; left alone"
		return 0
	fi
	if ! ip link set dev "$dev" nomaster; then
		# Gone meanwhile (a vif being destroyed) counts as detached.
		if dev_exists "$dev"; then fatal "cannot detach $dev from $br"; fi
		return 0
	fi
	log info "detached $dev from $br"
}

# The uplink network-bridge recorded in BR's ifalias ("isle: uplink=eth1"),
# or nothing if BR is not one of its bridges.
bridge_uplink() {
	local alias
	alias=$(ip -j link show dev "$1" | jq -r '.[0].ifalias // empty')
	[[ $alias =~ ^isle:\ uplink=([A-Za-z0-9_.-]{1,15})( |$) ]] || return 0
	printf '%s\n' "${BASH_REMATCH[1]}"
}

bridge_managed() {
	[ -n "$(bridge_uplink "$1")" ]
}

need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fatal "$t not found (install it: see scripts/deps.sh)"
	done
}

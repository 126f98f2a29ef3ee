# shellcheck shell=bash
# bridge-lib.sh — sourced by the bridge-* integration tests: a private
# network namespace per test standing in for a host, an "upstream" one
# standing in for its LAN, veth pairs standing in for NICs and vifs, TAP
# output, and normalised state snapshots for "nothing changed" checks.
#
# Topology (every address lives inside these namespaces only):
#   $UPNS: bridge upbr with 10.77.1.1/24 and fd77:1::1/64, plus 10.77.9.1/32
#          on lo (reachable from the host only through its default route)
#   $NS:   the host under test; mknic NAME adds a veth NAME whose peer is a
#          port of upbr, like a NIC cabled to the LAN's switch
#   guests: mkguest NS VIF ADDR adds a namespace whose eth0 is the peer of
#          VIF (in $NS), with ADDR/24 and a default route via 10.77.1.1
#
# Needs root, ip(8) with netns, jq, ping; exits 77 (skip) otherwise.

set -euo pipefail

skip() {
	echo "1..0 # SKIP $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for t in ip jq ping flock; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done

TAG=$$
NS=isle-br-$TAG
UPNS=isle-brup-$TAG
NAMESPACES=()
BG_PIDS=()
TMP=$(mktemp -d)
export ISLE_LOCK_DIR=$TMP/lock       # not the host's /run/isle
export ISLE_HOTPLUG_SYSLOG=0         # keep the host's syslog clean

cleanup() {
	local p ns
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

addns() {
	ip netns add "$1" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN or no netns support?)"
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

h() { ip netns exec "$NS" "$@"; }       # in the host under test
u() { ip netns exec "$UPNS" "$@"; }     # in the upstream LAN

setup_upstream() {
	addns "$NS"
	addns "$UPNS"
	u ip link add upbr type bridge stp_state 0 forward_delay 0
	# A fixed MAC, like a real router's: a bridge without one takes its
	# lowest port's and changes it when that port goes (eth1 dying would
	# then also "change the router", and guests' ARP caches go stale).
	u ip link set upbr address 02:77:00:00:00:01 up
	u ip addr add 10.77.1.1/24 dev upbr
	u ip addr add fd77:1::1/64 dev upbr nodad
	u ip addr add 10.77.9.1/32 dev lo
}

mknic() {  # mknic NAME: a "NIC" in $NS cabled to the upstream bridge
	local peer=u-$1
	ip -n "$NS" link add "$1" type veth peer name "$peer" netns "$UPNS"
	u ip link set "$peer" master upbr up
	h ip link set "$1" up
}

mkguest() {  # mkguest GUESTNS VIF ADDR: a guest behind VIF (unattached)
	addns "$1"
	ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" route add default via 10.77.1.1
}

# ---- TAP --------------------------------------------------------------------

T_N=0
T_FAILED=0
ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}
not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $*"
}
check() {  # check DESCRIPTION COMMAND...: passes if COMMAND succeeds
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
check_fails() {  # check_fails DESCRIPTION COMMAND...: passes if COMMAND fails
	local d=$1
	shift
	if "$@"; then not_ok "$d (unexpectedly succeeded)"; else ok "$d"; fi
}
finish() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ] || {
		echo "# $T_FAILED of $T_N failed"
		exit 1
	}
}

# ---- state ---------------------------------------------------------------------

# Waits (up to 5 s) for IPv6 duplicate address detection to finish and for
# the bridge ports' carrier to settle, so two snapshots of the same
# configuration compare equal.
settle() {
	local i
	for ((i = 0; i < 50; i++)); do
		if ! h ip -j addr show | jq -e '[.[].addr_info[]? | select(.tentative)] | length > 0' >/dev/null &&
			! h ip -j link show | jq -e '[.[] | select(.flags | index("UP")) | select(.operstate != "UP" and .operstate != "UNKNOWN" and .operstate != "LOWERLAYERDOWN" and (.flags | index("NO-CARRIER") | not))] | length > 0' >/dev/null; then
			return 0
		fi
		sleep 0.1
	done
}

# A normalised picture of $NS's links, addresses and routes (all tables):
# counters and remaining lifetimes vary with time, so only whether a
# lifetime is finite is kept; ifindexes are dropped, as a bridge made again
# gets a new one (devices are compared by name).
snapshot() {
	settle
	{
		h ip -j link show
		h ip -j addr show
		h ip -4 -j -d route show table all
		h ip -6 -j -d route show table all
	} | jq -S -s '
		def life: if . == 4294967295 then "forever" elif . == null then null else "finite" end;
		{ links: (.[0] | map(del(.stats64, .stats, .ifindex))),
		  addrs: (.[1] | map({ifname, addr_info: ((.addr_info // []) | map(
			.valid_life_time |= life | .preferred_life_time |= life))})),
		  routes4: (.[2] | map(if .expires then .expires = "finite" else . end) | sort_by(tostring)),
		  routes6: (.[3] | map(if .expires then .expires = "finite" else . end) | sort_by(tostring)) }'
}

# same_state DESCRIPTION BEFORE: compares a new snapshot with BEFORE.
same_state() {
	local now
	now=$(snapshot)
	if [ "$now" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$now") | sed 's/^/# /' | head -40 || true
	fi
}

master_of() {
	h ip -j link show dev "$1" 2>/dev/null | jq -r '.[0].master // empty'
}

is_port() {  # is_port DEV BR
	[ "$(master_of "$1")" = "$2" ]
}

wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.1 s
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

pings() {  # pings NS ADDR: one echo answered within the deadline
	local out
	out=$(ip netns exec "$1" ping -c 1 -W 2 -w 8 "$2" 2>&1) && return 0
	printf '%s\n' "$out" | sed 's/^/# /'
	ip netns exec "$1" ip neigh | sed 's/^/# neigh: /'
	return 1
}

# Sourced by every test that boots a guest on KVM. Where /dev/kvm works the
# test runs here; where it does not (or ISLE_LAB=1 forces it), the test
# re-runs itself whole inside the lab (scripts/lab: nested KVM under QEMU
# TCG), so no machine skips the VMM's tests. Inside the lab a missing
# /dev/kvm is the lab's fault: fail, never skip.
#   kvm_or_lab [LAB_OPTION...] -- "$0" "$@"
kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
kvm_or_lab() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	if [ -n "${ISLE_IN_LAB:-}" ]; then
		kvm_usable && return 0
		echo "FAIL: inside the lab without a usable /dev/kvm"
		exit 1
	fi
	[ "${ISLE_LAB:-0}" != 1 ] && kvm_usable && return 0
	local lab
	lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)/lab
	exec "$lab" "${opts[@]}" -- "$@"
}

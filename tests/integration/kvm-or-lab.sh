# Sourced by every test that boots a guest on KVM. Where /dev/kvm works the
# test runs here; where it does not (or ISLE_LAB=1 forces it), the test
# re-runs itself whole inside the lab (scripts/lab: nested KVM under QEMU
# TCG), so no machine skips the VMM's tests. Inside the lab a missing
# /dev/kvm is the lab's fault: fail, never skip.
#   kvm_or_lab [LAB_OPTION...] -- "$0" "$@"
#
# A PVM-style KVM (module kvm_pvm: no VMX/SVM, guest ring 0 emulated) runs
# the test guest, whose body is in ring 3, but not Debian's kernel (never
# reaches userspace there) nor the level-triggered interrupt checks (its
# remote-IRR/EOI behaviour differs: a second delivery before the EOI). Tests
# that need those pass --full-kvm and run in the lab on such a host; it says
# so on its first line.
kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
kvm_pvm() { [ -d /sys/module/kvm_pvm ]; }
kvm_or_lab() {
	local opts=() full=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		if [ "$1" = --full-kvm ]; then full=1; else opts+=("$1"); fi
		shift
	done
	shift
	if [ -z "${ISLE_IN_LAB:-}" ] && [ -n "$full" ] && kvm_usable && kvm_pvm; then
		echo "# host KVM is PVM-style (kvm_pvm): this test needs a full KVM, running it in the lab"
		ISLE_LAB=1
	fi
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

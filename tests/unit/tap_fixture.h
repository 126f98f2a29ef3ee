/* Tap devices for the unit tests, made in a network namespace of their own
 * (inside a new user namespace when we are not root), so no test needs
 * root or leaves an interface on the host, and the taps are in a namespace
 * the test is not in, as Kata Containers hands them to a VMM. The child
 * that makes them sends their fds back and exits; a tap (and its
 * namespace) lives until its last fd closes. */
#ifndef ISLE_TESTS_TAP_FIXTURE_H
#define ISLE_TESTS_TAP_FIXTURE_H

/* Opens n (1..16) fds of a new tap NAME with TUNSETIFF flags (IFF_TAP,
 * IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE...) into fds, close-on-exec.
 * Returns 0, or -errno when the kernel or the sandbox does not allow it
 * (callers skip). */
int tap_fixture_open(const char *name, unsigned int flags, unsigned int n, int *fds);

#endif

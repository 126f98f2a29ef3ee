/* Unit tests for vmm/control/vif.c: a golden table of vif specs, good and bad, with
 * the parsed result written back in canonical form (vif_format) or the
 * error code and a piece of the message; the MAC helpers; that canonical
 * forms parse back to the same struct; and the isle-netback command line,
 * with --tap-fd for tap fds (which a parsed spec never has). */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/vif.h"

struct vif_case {
	const char *spec;
	int r;               /* 0, -EINVAL or -ENOTSUP */
	const char *want;    /* r == 0: vif_format of the result; else in the message */
};

static const struct vif_case cases[] = {
	/* Good: every key, defaults, xl's spacing. */
	{ "", 0, "" },
	{ "bridge=xenbr0", 0, "bridge=xenbr0" },
	{ "mac=00:16:3e:01:02:03", 0, "mac=00:16:3e:01:02:03" },
	{ "mac=02:AB:cd:EF:00:01", 0, "mac=02:ab:cd:ef:00:01" },
	{ "mac=00:16:3e:00:00:01,bridge=xenbr0,vifname=vif1.0", 0,
	  "mac=00:16:3e:00:00:01,bridge=xenbr0,vifname=vif1.0" },
	{ "vifname=vif1.0,bridge=br-lan_2", 0, "bridge=br-lan_2,vifname=vif1.0" },
	{ "bridge=xenbr0, mac=00:16:3e:00:00:01 ,model=virtio", 0,
	  "mac=00:16:3e:00:00:01,bridge=xenbr0" },
	{ "mac = 00:16:3e:00:00:01", 0, "mac=00:16:3e:00:00:01" },
	{ "script=vif-bridge,bridge=xenbr0", 0, "bridge=xenbr0,script=vif-bridge" },
	{ "script=/etc/xen/scripts/vif-bridge", 0, "script=/etc/xen/scripts/vif-bridge" },
	{ "script=./my script", 0, "script=./my script" },
	{ "mtu=9000", 0, "mtu=9000" },
	{ "mtu=68", 0, "mtu=68" },
	{ "mtu=65535", 0, "mtu=65535" },
	{ "queues=4", 0, "queues=4" },
	{ "queues=1", 0, "" },
	{ "queues=16,bridge=b", 0, "bridge=b,queues=16" },
	{ "type=vif,model=virtio-net", 0, "" },
	{ "socket=/run/isle/nb.sock", 0, "socket=/run/isle/nb.sock" },
	{ "socket=/run/nb.sock,mac=00:16:3e:00:00:09,queues=2", 0,
	  "mac=00:16:3e:00:00:09,socket=/run/nb.sock,queues=2" },
	{ ",bridge=xenbr0,,", 0, "bridge=xenbr0" },
	{ "vifname=123456789012345", 0, "vifname=123456789012345" },
	/* Bad syntax and values. */
	{ "bridge", -EINVAL, "'bridge' is not key=value" },
	{ "xenbr0", -EINVAL, "is not key=value" },
	{ "colour=blue", -EINVAL, "unknown key 'colour'" },
	{ "Bridge=xenbr0", -EINVAL, "unknown key 'Bridge'" },
	{ "bridge=", -EINVAL, "bridge= needs a value" },
	{ "bridge=a,bridge=b", -EINVAL, "bridge= given twice" },
	{ "mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02", -EINVAL, "mac= given twice" },
	{ "mac=00:16:3e:00:00", -EINVAL, "is not xx:xx:xx:xx:xx:xx" },
	{ "mac=00-16-3e-00-00-01", -EINVAL, "is not xx:xx:xx:xx:xx:xx" },
	{ "mac=00:16:3e:00:00:0g", -EINVAL, "is not xx:xx:xx:xx:xx:xx" },
	{ "mac=00:16:3e:00:00:011", -EINVAL, "is not xx:xx:xx:xx:xx:xx" },
	{ "mac=01:00:5e:00:00:01", -EINVAL, "multicast" },
	{ "mac=ff:ff:ff:ff:ff:ff", -EINVAL, "multicast" },
	{ "mac=00:00:00:00:00:00", -EINVAL, "not a usable address" },
	{ "vifname=0123456789abcdef", -EINVAL, "is not an interface name" },
	{ "vifname=vif/1", -EINVAL, "is not an interface name" },
	{ "vifname=..", -EINVAL, "is not an interface name" },
	{ "bridge=br 0", -EINVAL, "is not an interface name" },
	{ "bridge=br:0", -EINVAL, "is not an interface name" },
	{ "script=vif bridge", -EINVAL, "neither a script name" },
	{ "script=..", -EINVAL, "neither a script name" },
	{ "script=/x/\x01y", -EINVAL, "control characters" },
	{ "mtu=67", -EINVAL, "from 68 to 65535" },
	{ "mtu=65536", -EINVAL, "from 68 to 65535" },
	{ "mtu=1500b", -EINVAL, "from 68 to 65535" },
	{ "mtu=-1", -EINVAL, "from 68 to 65535" },
	{ "mtu=99999999999999999999", -EINVAL, "from 68 to 65535" },
	{ "queues=0", -EINVAL, "from 1 to 16" },
	{ "queues=17", -EINVAL, "from 1 to 16" },
	{ "type=foo", -EINVAL, "not a NIC type" },
	{ "socket=/run/nb.sock,bridge=xenbr0", -EINVAL, "bridge= configures the isle-netback" },
	{ "vifname=v0,socket=/run/nb.sock", -EINVAL, "vifname= configures" },
	{ "socket=/run/nb.sock,script=vif-bridge", -EINVAL, "script= configures" },
	{ "socket=/run/nb.sock,mtu=9000", -EINVAL, "mtu= configures" },
	{ "socket=/a/very/long/path/that/does/not/fit/in/a/sockaddr_un/because/it/is/longer/"
	  "than/one/hundred/and/seven/bytes.sock", -EINVAL, "socket= is longer than 107 bytes" },
	/* Xen's keys and values isle refuses. */
	{ "model=e1000", -ENOTSUP, "model=e1000 is not supported" },
	{ "model=rtl8139,bridge=xenbr0", -ENOTSUP, "(model=virtio)" },
	{ "type=ioemu", -ENOTSUP, "no emulated NICs" },
	{ "rate=10Mb/s", -ENOTSUP, "rate= is not supported" },
	{ "ip=10.0.0.2", -ENOTSUP, "ip= is not supported" },
	{ "backend=driverdom", -ENOTSUP, "backend= is not supported" },
	{ "gatewaydev=eth0", -ENOTSUP, "gatewaydev= is not supported" },
	{ "devid=3", -ENOTSUP, "devid= is not supported" },
	/* Messages stay one printable line whatever the input. */
	{ "bridge=a\nb", -EINVAL, "bridge=a?b is not" },
	{ "mac=\x7f", -EINVAL, "mac=? is not" },
};

static void test_golden(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct vif_case *c = &cases[i];
		char err[200], out[VIF_SPEC_MAX + 64];
		struct vif v;
		int r = vif_parse(c->spec, &v, err, sizeof(err));
		bool ok;

		if (c->r == 0) {
			vif_format(&v, out, sizeof(out));
			ok = r == 0 && !strcmp(out, c->want);
			if (!ok)
				fprintf(stderr, "case %zu '%s': %d '%s' / '%s'\n", i, c->spec, r,
					err, r ? "" : out);
		} else {
			ok = r == c->r && strstr(err, c->want) && !strchr(err, '\n');
			if (!ok)
				fprintf(stderr, "case %zu '%s': %d '%s'\n", i, c->spec, r, err);
		}
		CU_ASSERT(ok);
	}
}

static void test_fields(void)
{
	char err[200];
	struct vif v;

	CU_ASSERT_EQUAL_FATAL(vif_parse("mac=00:16:3e:0a:0b:0c,bridge=xenbr1,vifname=vif7.1,"
					"script=vif-bridge,mtu=1280,queues=3,type=vif", &v, err,
					sizeof(err)), 0);
	CU_ASSERT(v.mac_set && !memcmp(v.mac, "\x00\x16\x3e\x0a\x0b\x0c", 6));
	CU_ASSERT_STRING_EQUAL(v.bridge, "xenbr1");
	CU_ASSERT_STRING_EQUAL(v.vifname, "vif7.1");
	CU_ASSERT_STRING_EQUAL(v.script, "vif-bridge");
	CU_ASSERT_EQUAL(v.mtu, 1280);
	CU_ASSERT_EQUAL(v.queues, 3);
	CU_ASSERT_STRING_EQUAL(v.socket, "");
	/* Defaults. */
	CU_ASSERT_EQUAL_FATAL(vif_parse("", &v, err, sizeof(err)), 0);
	CU_ASSERT(!v.mac_set && !v.bridge[0] && !v.vifname[0] && !v.script[0] && !v.socket[0]);
	CU_ASSERT(v.mtu == 0 && v.queues == 1);
	/* A failure says something even with a tiny buffer, and nothing with
	 * none. */
	CU_ASSERT_EQUAL(vif_parse("x", &v, err, 8), -EINVAL);
	CU_ASSERT_EQUAL(strlen(err), 7);
	CU_ASSERT_EQUAL(vif_parse("x", &v, NULL, 0), -EINVAL);
}

static void test_long_spec(void)
{
	static char spec[VIF_SPEC_MAX + 8], err[200];
	struct vif v;

	memset(spec, ',', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	CU_ASSERT_EQUAL(vif_parse(spec, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
	/* A script path up to the limit. */
	memset(spec, 'a', sizeof(spec));
	memcpy(spec, "script=/", 8);
	spec[8 + VIF_SCRIPT_MAX - 2] = '\0';
	CU_ASSERT_EQUAL(vif_parse(spec, &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(v.script), VIF_SCRIPT_MAX - 1);
	spec[8 + VIF_SCRIPT_MAX - 2] = 'a';
	spec[8 + VIF_SCRIPT_MAX - 1] = '\0';
	CU_ASSERT_EQUAL(vif_parse(spec, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "script= is longer than 1023 bytes"));
}

static void test_mac(void)
{
	uint8_t m[6], rnd[3] = { 0xff, 0x12, 0x34 };
	char s[VIF_MAC_STRLEN];

	CU_ASSERT_EQUAL(vif_parse_mac("01:00:5E:00:00:FB", m), 0);
	CU_ASSERT(!vif_mac_ok(m));
	vif_format_mac(m, s);
	CU_ASSERT_STRING_EQUAL(s, "01:00:5e:00:00:fb");
	CU_ASSERT_EQUAL(vif_parse_mac("01:00:5e:00:00:f", m), -EINVAL);
	CU_ASSERT_EQUAL(vif_parse_mac("01:00:5e:00:00:fbb", m), -EINVAL);
	CU_ASSERT_EQUAL(vif_parse_mac("01:00:5e:00:00;fb", m), -EINVAL);
	CU_ASSERT_EQUAL(vif_parse_mac("", m), -EINVAL);
	/* xl's default: Xen's OUI, top bit of the fourth byte clear. */
	vif_default_mac(m, rnd);
	vif_format_mac(m, s);
	CU_ASSERT_STRING_EQUAL(s, "00:16:3e:7f:12:34");
	CU_ASSERT(vif_mac_ok(m));
}

static void test_ifname(void)
{
	CU_ASSERT(vif_ifname_ok("eth0"));
	CU_ASSERT(vif_ifname_ok("vif1.0"));
	CU_ASSERT(vif_ifname_ok("a"));
	CU_ASSERT(vif_ifname_ok("123456789012345"));
	CU_ASSERT(!vif_ifname_ok("1234567890123456"));
	CU_ASSERT(!vif_ifname_ok(""));
	CU_ASSERT(!vif_ifname_ok("."));
	CU_ASSERT(!vif_ifname_ok("isle%d"));
	CU_ASSERT(!vif_ifname_ok("a b"));
}

/* Canonical forms parse back to what they came from. */
static void test_roundtrip(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[200], out[VIF_SPEC_MAX + 64];
		struct vif a, b;

		if (cases[i].r || vif_parse(cases[i].spec, &a, err, sizeof(err)))
			continue;
		CU_ASSERT((size_t)vif_format(&a, out, sizeof(out)) == strlen(out));
		CU_ASSERT_EQUAL(vif_parse(out, &b, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	}
}

static void test_format_truncates(void)
{
	char err[200], out[8];
	struct vif v;
	int n;

	CU_ASSERT_EQUAL_FATAL(vif_parse("bridge=xenbr0,mtu=1500", &v, err, sizeof(err)), 0);
	n = vif_format(&v, out, sizeof(out));
	CU_ASSERT_EQUAL(n, (int)strlen("bridge=xenbr0,mtu=1500"));
	CU_ASSERT_STRING_EQUAL(out, "bridge=");
}

static void test_netback_argv(void)
{
	static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
	char err[200], line[512] = "";
	struct vif_argv a;
	struct vif v;
	int n;

	CU_ASSERT_EQUAL_FATAL(vif_parse("bridge=xenbr0,script=vif-bridge,mtu=9000,queues=2",
					&v, err, sizeof(err)), 0);
	n = vif_netback_argv(&v, "/x/isle-netback", "%s", "vif1.0", NULL, 0, mac, "/s/vif-bridge",
			     &a);
	CU_ASSERT_EQUAL(n, 15);
	CU_ASSERT_PTR_NULL(a.argv[n]);
	for (int i = 0; i < n; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "",
			 a.argv[i]);
	CU_ASSERT_STRING_EQUAL(line, "/x/isle-netback --socket %s --tap vif1.0 "
				     "--mac 00:16:3e:01:02:03 --bridge xenbr0 "
				     "--script /s/vif-bridge --mtu 9000 --queues 2");
	/* Only what is set. */
	CU_ASSERT_EQUAL_FATAL(vif_parse("", &v, err, sizeof(err)), 0);
	n = vif_netback_argv(&v, "nb", "S", "t0", NULL, 0, mac, NULL, &a);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_STRING_EQUAL(a.argv[6], "00:16:3e:01:02:03");
	CU_ASSERT_PTR_NULL(a.argv[7]);
}

/* A text spec never carries tap fds. */
static void test_no_tap_fds(void)
{
	char err[200];
	struct vif v;

	memset(&v, 0x5a, sizeof(v));
	CU_ASSERT_EQUAL_FATAL(vif_parse("bridge=xenbr0,queues=4", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v.nr_tap_fds, 0);
	for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
		CU_ASSERT_EQUAL(v.tap_fds[i], -1);
	/* Even when the spec is refused. */
	memset(&v, 0x5a, sizeof(v));
	CU_ASSERT_EQUAL(vif_parse("colour=blue", &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(v.nr_tap_fds, 0);
	CU_ASSERT_EQUAL(v.tap_fds[VIF_MAX_QUEUES - 1], -1);
}

/* With tap fds: --tap-fd N per queue instead of --tap, in order. */
static void test_netback_argv_fds(void)
{
	static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
	int fds[VIF_MAX_QUEUES + 1];
	char err[200], line[512] = "";
	struct vif_argv a;
	struct vif v;
	int n;

	for (unsigned int i = 0; i <= VIF_MAX_QUEUES; i++)
		fds[i] = 100 + (int)i;
	CU_ASSERT_EQUAL_FATAL(vif_parse("mtu=1450,queues=2", &v, err, sizeof(err)), 0);
	n = vif_netback_argv(&v, "nb", "%s", "ignored", (int[]){ 7, 2147483647 }, 2, mac, NULL,
			     &a);
	CU_ASSERT_EQUAL(n, 13);
	CU_ASSERT_PTR_NULL(a.argv[n]);
	for (int i = 0; i < n; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "",
			 a.argv[i]);
	CU_ASSERT_STRING_EQUAL(line, "nb --socket %s --tap-fd 7 --tap-fd 2147483647 "
				     "--mac 00:16:3e:01:02:03 --mtu 1450 --queues 2");
	/* The longest line fits; the tap name may be NULL. */
	CU_ASSERT_EQUAL_FATAL(vif_parse("bridge=b,script=/s,mtu=9000,queues=16", &v, err,
					sizeof(err)), 0);
	n = vif_netback_argv(&v, "nb", "S", NULL, fds, VIF_MAX_QUEUES, mac, "/s", &a);
	CU_ASSERT_EQUAL(n, VIF_NETBACK_ARGS);
	CU_ASSERT_PTR_NULL(a.argv[n]);
	CU_ASSERT_STRING_EQUAL(a.argv[3], "--tap-fd");
	CU_ASSERT_STRING_EQUAL(a.argv[4], "100");
	CU_ASSERT_STRING_EQUAL(a.argv[2 * VIF_MAX_QUEUES + 2], "115");
	/* Bounds: too many fds, a negative one. */
	CU_ASSERT_EQUAL(vif_netback_argv(&v, "nb", "S", NULL, fds, VIF_MAX_QUEUES + 1, mac, NULL,
					 &a), -EINVAL);
	CU_ASSERT_EQUAL(vif_netback_argv(&v, "nb", "S", NULL, (int[]){ 5, -1 }, 2, mac, NULL, &a),
			-EINVAL);
}

void unit_register(void)
{
	UNIT_SUITE("vif", UNIT_TEST(test_golden), UNIT_TEST(test_fields),
		   UNIT_TEST(test_long_spec), UNIT_TEST(test_mac), UNIT_TEST(test_ifname),
		   UNIT_TEST(test_roundtrip), UNIT_TEST(test_format_truncates),
		   UNIT_TEST(test_netback_argv), UNIT_TEST(test_no_tap_fds),
		   UNIT_TEST(test_netback_argv_fds));
}

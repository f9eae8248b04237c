/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_linkinfo.c - the link type, path and note of `xdpnat status`: the
 * mapping from (ARPHRD, IFLA_INFO_KIND, attach mode) to what the user
 * reads, and linkinfo_get() against the real kernel in a private network
 * namespace (root needed for that part: unshare(CLONE_NEWNET); a veth
 * pair, a bridge, a tap and a tun device made with `ip`).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <cmocka.h>

#include "common/linkinfo.h"

static const char *name_of(uint16_t arphrd, const char *kind)
{
	static char buf[64];
	struct linkinfo li = { .arphrd = arphrd };

	snprintf(li.kind, sizeof(li.kind), "%s", kind);
	return linkinfo_type_name(&li, buf, sizeof(buf));
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(name_of(ARPHRD_ETHER, ""), "ether");
	assert_string_equal(name_of(ARPHRD_ETHER, "bridge"), "bridge");
	assert_string_equal(name_of(ARPHRD_ETHER, "veth"), "veth");
	assert_string_equal(name_of(ARPHRD_ETHER, "tun"), "tap");
	assert_string_equal(name_of(ARPHRD_ETHER, "vlan"), "vlan");
	assert_string_equal(name_of(ARPHRD_ETHER, "macvlan"), "macvlan");
	assert_string_equal(name_of(ARPHRD_ETHER, "bond"), "bond");
	assert_string_equal(name_of(ARPHRD_ETHER, "nlmon-like"), "nlmon-like");
	assert_string_equal(name_of(ARPHRD_NONE, "tun"), "tun");
	assert_string_equal(name_of(ARPHRD_NONE, "wireguard"), "wireguard");
	assert_string_equal(name_of(ARPHRD_NONE, ""), "none");
	assert_string_equal(name_of(ARPHRD_PPP, "ppp"), "ppp");
	assert_string_equal(name_of(ARPHRD_PPP, ""), "ppp");
	assert_string_equal(name_of(519, ""), "rawip");
	assert_string_equal(name_of(ARPHRD_LOOPBACK, ""), "loopback");
	assert_string_equal(name_of(ARPHRD_IPGRE, "gre"), "arphrd-778");
}

static void test_paths(void **state)
{
	(void)state;
	assert_string_equal(linkinfo_path("native", 1), "xdp native + tc");
	assert_string_equal(linkinfo_path("generic", 1), "xdp generic + tc");
	assert_string_equal(linkinfo_path("native", 0), "xdp native");
	assert_string_equal(linkinfo_path("generic", 0), "xdp generic");
	assert_string_equal(linkinfo_path("none", 1), "tc only");
	assert_string_equal(linkinfo_path(NULL, 1), "tc only");
	assert_string_equal(linkinfo_path("none", 0), "none");
}

static const char *note_of(uint16_t arphrd, const char *kind, const char *mode, int tc)
{
	struct linkinfo li = { .arphrd = arphrd };

	snprintf(li.kind, sizeof(li.kind), "%s", kind);
	return linkinfo_note(&li, mode, tc);
}

static void test_notes(void **state)
{
	const char *n;

	(void)state;
	/* native Ethernet and tap: nothing to say */
	assert_null(note_of(ARPHRD_ETHER, "", "native", 1));
	assert_null(note_of(ARPHRD_ETHER, "tun", "native", 1));
	assert_null(note_of(ARPHRD_ETHER, "bond", "native", 1));
	/* generic, whatever the link (a bridge always is) */
	n = note_of(ARPHRD_ETHER, "bridge", "generic", 1);
	assert_non_null(n);
	assert_non_null(strstr(n, "generic XDP"));
	assert_non_null(strstr(n, "kernel path"));
	assert_string_equal(note_of(ARPHRD_ETHER, "", "generic", 1), n);
	assert_string_equal(note_of(ARPHRD_ETHER, "vlan", "generic", 1), n);
	/* veth in native mode: the peer must take redirects */
	n = note_of(ARPHRD_ETHER, "veth", "native", 1);
	assert_non_null(n);
	assert_non_null(strstr(n, "peer"));
	assert_non_null(strstr(n, "GRO"));
	/* L3 links point to their section, in any mode */
	n = note_of(ARPHRD_PPP, "ppp", "generic", 1);
	assert_non_null(n);
	assert_non_null(strstr(n, "L3 links"));
	assert_string_equal(note_of(ARPHRD_NONE, "tun", "generic", 1), n);
	assert_string_equal(note_of(ARPHRD_NONE, "wireguard", "none", 1), n);
	assert_string_equal(note_of(519, "", "native", 1), n);
	/* tc only */
	n = note_of(ARPHRD_ETHER, "", "none", 1);
	assert_non_null(n);
	assert_non_null(strstr(n, "tc only"));
	assert_null(note_of(ARPHRD_ETHER, "", "none", 0));
}

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static const char *kernel_name(const char *ifname)
{
	static char buf[64];
	struct linkinfo li;
	int ifindex = (int)if_nametoindex(ifname);

	assert_true(ifindex > 0);
	assert_int_equal(linkinfo_get(ifindex, &li), 0);
	return linkinfo_type_name(&li, buf, sizeof(buf));
}

static void test_from_kernel(void **state)
{
	struct linkinfo li;

	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET)) {
		skip();	/* needs root: a private network namespace */
		return;
	}
	sh("ip link add v0 type veth peer name v0p");
	sh("ip link add br0 type bridge");
	sh("ip tuntap add dev tap0 mode tap");
	sh("ip tuntap add dev tun0 mode tun");
	assert_string_equal(kernel_name("lo"), "loopback");
	assert_string_equal(kernel_name("v0"), "veth");
	assert_string_equal(kernel_name("br0"), "bridge");
	assert_string_equal(kernel_name("tap0"), "tap");
	assert_string_equal(kernel_name("tun0"), "tun");
	assert_int_equal(linkinfo_get((int)if_nametoindex("tun0"), &li), 0);
	assert_int_equal(li.arphrd, ARPHRD_NONE);
	assert_string_equal(li.kind, "tun");
	assert_true(linkinfo_is_l3(&li));
	assert_int_equal(linkinfo_get((int)if_nametoindex("br0"), &li), 0);
	assert_false(linkinfo_is_l3(&li));
	/* an interface that is not there */
	assert_int_equal(linkinfo_get(999999, &li), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_from_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

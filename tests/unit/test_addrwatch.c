/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_addrwatch.c - addrwatch against the real kernel (root needed).
 *
 * Every test moves the process into a fresh network namespace
 * (unshare(CLONE_NEWNET)), so the host's interfaces are never seen or
 * touched; the previous test's namespace goes away with its last user.
 * Interfaces are veth pairs (no dummy driver on the test machines),
 * changed with `ip`, which runs in the test's namespace. Notifications
 * are queued before `ip` returns, so no waiting is needed.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "wan/addrwatch.h"

#define MAX_EVENTS 256

struct recorder {
	struct addrwatch_event ev[MAX_EVENTS];
	int n;
};

static void record(void *arg, const struct addrwatch_event *ev)
{
	struct recorder *r = arg;

	if (r->n < MAX_EVENTS)
		r->ev[r->n++] = *ev;
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

static int ifidx(const char *name)
{
	int i = if_nametoindex(name);

	assert_true(i > 0);
	return i;
}

/* Events of one type and interface in r; *last gets the last one's address. */
static int count(const struct recorder *r, int type, const char *ifname, const char **last)
{
	static char buf[INET_ADDRSTRLEN];
	int idx = ifidx(ifname), n = 0;

	for (int i = 0; i < r->n; i++) {
		if ((int)r->ev[i].type != type || r->ev[i].ifindex != idx)
			continue;
		n++;
		inet_ntop(AF_INET, &r->ev[i].addr, buf, sizeof(buf));
	}
	if (last)
		*last = n ? buf : "(none)";
	return n;
}

/* Exactly one event of this type for ifname, with address `want`. */
static void expect_one(const struct recorder *r, int type, const char *ifname, const char *want)
{
	const char *got;

	assert_int_equal(count(r, type, ifname, &got), 1);
	assert_string_equal(got, want);
}

static void expect_none(const struct recorder *r, int type, const char *ifname)
{
	assert_int_equal(count(r, type, ifname, NULL), 0);
}

static void pump(struct addrwatch *aw, struct recorder *r)
{
	r->n = 0;
	assert_int_equal(addrwatch_process(aw, record, r), 0);
}

static bool readable(const struct addrwatch *aw)
{
	struct pollfd p = { .fd = addrwatch_fd(aw), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (root needed)\n", strerror(errno));
		return -1;
	}
	sh("ip link add wan0 type veth peer name wan0p");
	sh("ip link add wan1 type veth peer name wan1p");
	sh("for i in wan0 wan0p wan1 wan1p; do ip link set $i up; done");
	return 0;
}

static struct addrwatch *start(struct recorder *r)
{
	struct addrwatch *aw = addrwatch_open();

	assert_non_null(aw);
	r->n = 0;
	assert_int_equal(addrwatch_dump(aw, record, r), 0);
	return aw;
}

static void test_dump_initial_state(void **state)
{
	struct recorder r;
	struct addrwatch *aw;

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0");
	sh("ip addr add 10.1.0.3/24 dev wan0");		/* secondary: not reported */
	sh("ip route add default via 10.1.0.1");
	aw = start(&r);
	expect_one(&r, AW_ADDR, "wan0", "10.1.0.2");
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.1");
	expect_one(&r, AW_ADDR, "wan1", "0.0.0.0");	/* every interface, once */
	expect_one(&r, AW_GATEWAY, "wan1", "0.0.0.0");
	pump(aw, &r);
	assert_int_equal(r.n, 0);
	addrwatch_close(aw);
}

static void test_add_readd_change_delete(void **state)
{
	struct recorder r;
	struct addrwatch *aw = start(&r);

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "10.1.0.2");
	assert_int_equal(r.n, 1);

	/* A DHCP renew with the same lease: announced, not a change. */
	sh("ip addr replace 10.1.0.2/24 dev wan0 valid_lft 300 preferred_lft 300");
	assert_true(readable(aw));
	pump(aw, &r);
	assert_int_equal(r.n, 0);

	/* A link flap keeps the address. */
	sh("ip link set wan0 down && ip link set wan0 up");
	assert_true(readable(aw));
	pump(aw, &r);
	assert_int_equal(r.n, 0);

	sh("ip addr add 10.1.0.3/24 dev wan0");		/* secondary */
	pump(aw, &r);
	assert_int_equal(r.n, 0);

	/* What dhclient-script does on a new lease: flush, then add. One
	 * change, never through "no address". */
	sh("ip addr flush dev wan0 && ip addr add 10.1.9.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "10.1.9.2");
	assert_int_equal(r.n, 1);

	sh("ip addr del 10.1.9.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "0.0.0.0");
	assert_int_equal(r.n, 1);
	addrwatch_close(aw);
}

/* With two primaries (two subnets), the older one is reported; when it
 * goes, the other one takes over. */
static void test_second_primary_takes_over(void **state)
{
	struct recorder r;
	struct addrwatch *aw = start(&r);

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0 && ip addr add 10.7.0.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "10.1.0.2");
	sh("ip addr del 10.1.0.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "10.7.0.2");
	addrwatch_close(aw);
}

static void test_gateway_changes(void **state)
{
	struct recorder r;
	struct addrwatch *aw = start(&r);

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0");
	sh("ip route add default via 10.1.0.1");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.1");

	sh("ip route replace default via 10.1.0.254");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.254");
	assert_int_equal(r.n, 1);

	sh("ip route add default via 10.1.0.99 metric 100");	/* a worse backup */
	pump(aw, &r);
	assert_int_equal(r.n, 0);

	sh("ip route del default metric 0");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.99");

	/* Interface down: the kernel flushes its routes without a word. */
	sh("ip link set wan0 down");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "0.0.0.0");
	expect_none(&r, AW_ADDR, "wan0");
	addrwatch_close(aw);
}

/* Removing the last address flushes the default route silently too. */
static void test_address_removal_drops_gateway(void **state)
{
	struct recorder r;
	struct addrwatch *aw;

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0 && ip route add default via 10.1.0.1");
	aw = start(&r);
	sh("ip addr del 10.1.0.2/24 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "0.0.0.0");
	expect_one(&r, AW_GATEWAY, "wan0", "0.0.0.0");
	addrwatch_close(aw);
}

static void test_ecmp_gateways(void **state)
{
	struct recorder r;
	struct addrwatch *aw = start(&r);
	struct addrwatch *aw2;

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0 && ip addr add 10.2.0.2/24 dev wan1");
	sh("ip route add default nexthop via 10.1.0.1 dev wan0 nexthop via 10.2.0.1 dev wan1");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.1");
	expect_one(&r, AW_GATEWAY, "wan1", "10.2.0.1");

	aw2 = start(&r);				/* and from a dump */
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.1");
	expect_one(&r, AW_GATEWAY, "wan1", "10.2.0.1");
	addrwatch_close(aw2);

	/* One uplink down: its nexthop is dead, the other one stays. */
	sh("ip link set wan1 down");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan1", "0.0.0.0");
	expect_none(&r, AW_GATEWAY, "wan0");
	sh("ip link set wan1 up");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan1", "10.2.0.1");	/* revived by the kernel */
	addrwatch_close(aw);
}

/* The main table wins over a policy-routing table; a default route
 * without a gateway (point-to-point style) gives none. */
static void test_policy_table_and_no_gateway(void **state)
{
	struct recorder r;
	struct addrwatch *aw = start(&r);

	(void)state;
	sh("ip addr add 10.1.0.2/24 dev wan0");
	sh("ip route add default via 10.1.0.100 dev wan0 table 100");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.100");
	sh("ip route add default via 10.1.0.1 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.1");
	sh("ip route del default via 10.1.0.1 dev wan0");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "10.1.0.100");
	sh("ip route del default table 100");
	pump(aw, &r);
	expect_one(&r, AW_GATEWAY, "wan0", "0.0.0.0");

	sh("ip route add default dev wan1");
	pump(aw, &r);
	assert_int_equal(r.n, 0);
	addrwatch_close(aw);
}

static void test_interface_deleted(void **state)
{
	struct recorder r;
	struct addrwatch *aw;
	int idx = ifidx("wan1");

	(void)state;
	sh("ip addr add 10.2.0.2/24 dev wan1 && ip route add default via 10.2.0.1");
	aw = start(&r);
	sh("ip link del wan1");
	pump(aw, &r);
	assert_int_equal(r.n, 2);
	for (int i = 0; i < r.n; i++) {
		assert_int_equal(r.ev[i].ifindex, idx);
		assert_int_equal(r.ev[i].addr.s_addr, 0);
	}
	addrwatch_close(aw);
}

/* Overrun the event socket; the re-dump must still give the end state,
 * as one change. */
static void test_overrun_resyncs(void **state)
{
	char path[] = "/tmp/test_addrwatch.XXXXXX";
	struct recorder r;
	struct addrwatch *aw = start(&r);
	int small = 1, fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(setsockopt(addrwatch_fd(aw), SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	fprintf(f, "addr add 10.1.0.2/24 dev wan0\n");
	for (int i = 0; i < 400; i++)
		fprintf(f, "addr add 10.4.%d.%d/32 dev wan0\n", i / 200, i % 200 + 1);
	fprintf(f, "addr flush dev wan0\naddr add 10.1.7.7/24 dev wan0\n");
	fclose(f);
	sh("ip -batch %s", path);
	unlink(path);
	pump(aw, &r);
	expect_one(&r, AW_ADDR, "wan0", "10.1.7.7");
	assert_int_equal(r.n, 1);
	addrwatch_close(aw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_dump_initial_state, setup),
		cmocka_unit_test_setup(test_add_readd_change_delete, setup),
		cmocka_unit_test_setup(test_second_primary_takes_over, setup),
		cmocka_unit_test_setup(test_gateway_changes, setup),
		cmocka_unit_test_setup(test_address_removal_drops_gateway, setup),
		cmocka_unit_test_setup(test_ecmp_gateways, setup),
		cmocka_unit_test_setup(test_policy_table_and_no_gateway, setup),
		cmocka_unit_test_setup(test_interface_deleted, setup),
		cmocka_unit_test_setup(test_overrun_resyncs, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

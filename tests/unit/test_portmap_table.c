/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_portmap_table.c - ctl/portmap/portmap_table.c (the PCP/NAT-PMP
 * mapping table: allocation around static forwards, refresh, nonces,
 * per-host and table limits, lifetimes, expiry, deletion, the saved form)
 * and ctl/portmap/portmap_rate.c (the request rate limits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "portmap/portmap_rate.h"
#include "portmap/portmap_table.h"

#define WAN	7
#define LAN	3

static struct portmap_table t;
static const struct portmap_limits lim = { .port_lo = 20000, .port_hi = 20009,
					   .max_per_host = 3, .max_lifetime = 3600 };

static uint32_t host(int n)
{
	return htonl(0xc0a80000u | (uint32_t)n);	/* 192.168.0.n */
}

static uint32_t host(int n);

/* Static forwards: udp 20000 and 20001 on WAN; and an RFC 4787 mapping of
 * 192.168.0.20:5000 on tcp 20003, taken for every other inside endpoint
 * (as portmap.c's port_taken() reads nat_eim_ports). */
static bool taken(void *arg, const struct portmap_req *r, uint16_t port)
{
	(void)arg;
	if (r->wan_ifindex != WAN)
		return false;
	if (r->proto == 6 && port == 20003)
		return r->int_addr != host(20) || r->int_port != 5000;
	return r->proto == 17 && (port == 20000 || port == 20001);
}

static struct portmap_req req(int h, uint8_t proto, uint16_t port, uint16_t ext)
{
	struct portmap_req r = { .by = PORTMAP_BY_PCP, .proto = proto, .lan_ifindex = LAN,
				 .wan_ifindex = WAN, .int_addr = host(h), .int_port = port,
				 .ext_port = ext, .lifetime = 600, .seed = 0 };

	memset(r.nonce, h, sizeof(r.nonce));
	return r;
}

static enum portmap_status ask(const struct portmap_req *r, uint64_t now, uint16_t *ext,
			       bool *created)
{
	struct portmap_entry *e;
	bool c;
	enum portmap_status st = portmap_table_request(&t, r, &lim, taken, NULL, now, &e, &c);

	if (created)
		*created = c;
	if (ext)
		*ext = st == PORTMAP_OK ? e->ext_port : 0;
	return st;
}

static int gone_n;
static struct portmap_entry gone_last;

static void gone(void *arg, const struct portmap_entry *e)
{
	(void)arg;
	gone_n++;
	gone_last = *e;
}

static int setup(void **state)
{
	(void)state;
	portmap_table_init(&t);
	gone_n = 0;
	return 0;
}

static void test_allocation(void **state)
{
	struct portmap_req r;
	uint16_t ext;
	bool created;

	(void)state;
	/* the suggested port when free */
	r = req(10, 6, 8000, 20005);
	assert_int_equal(ask(&r, 100, &ext, &created), PORTMAP_OK);
	assert_true(created);
	assert_int_equal(ext, 20005);
	/* else the inside port when in range */
	r = req(10, 6, 20007, 20005);
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_int_equal(ext, 20007);
	/* never a static forward's port: udp 20000, 20001 are taken */
	r = req(11, 17, 20000, 20001);
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_true(ext >= 20002 && ext <= 20009);
	/* ... but tcp 20000 is free */
	r = req(11, 6, 20000, 0);
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_int_equal(ext, 20000);
	/* a port outside the range is never given */
	r = req(12, 6, 80, 80);
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_true(ext >= 20000 && ext <= 20009);
	assert_int_equal(t.n, 5);
	assert_non_null(portmap_table_find_ext(&t, WAN, 6, 20005));
	assert_null(portmap_table_find_ext(&t, WAN, 17, 20005));
}

/* The port of an inside endpoint's RFC 4787 mapping: its own request gets
 * it (one outside port for the endpoint), another endpoint's never. */
static void test_implicit_mapping(void **state)
{
	struct portmap_req r;
	uint16_t ext;

	(void)state;
	/* another host asking for the port by suggestion and inside port */
	r = req(21, 6, 20003, 20003);
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_true(ext >= 20000 && ext <= 20009);
	assert_int_not_equal(ext, 20003);
	/* ... and insisting on it */
	r = req(22, 6, 20003, 20003);
	r.prefer_failure = true;
	assert_int_equal(ask(&r, 100, NULL, NULL), PORTMAP_PREFER_FAILED);
	/* the holder gets its mapping's port, before its suggestion */
	r = req(20, 6, 5000, 20008);
	r.ext_implicit = 20003;
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_int_equal(ext, 20003);
	/* PREFER_FAILURE: the suggested port or nothing, never another one
	 * (RFC 6887 13.2): not the implicit one, not the inside port */
	r = req(23, 17, 20006, 20000);
	r.ext_implicit = 20005;
	r.prefer_failure = true;
	assert_int_equal(ask(&r, 100, NULL, NULL), PORTMAP_PREFER_FAILED);
	r.ext_port = 20007;
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	assert_int_equal(ext, 20007);
}

static void test_range_full(void **state)
{
	struct portmap_req r;
	uint16_t ext, seen[8];
	int n = 0;

	(void)state;
	/* udp: 8 free ports (20002-20009); 3 hosts of 3 at most */
	for (int h = 1; h <= 3; h++)
		for (int p = 0; p < 3; p++) {
			r = req(h, 17, (uint16_t)(5000 + p), 0);
			r.seed = (uint32_t)(h * 7 + p);
			if (n < 8) {
				assert_int_equal(ask(&r, 1, &ext, NULL), PORTMAP_OK);
				for (int i = 0; i < n; i++)
					assert_int_not_equal(seen[i], ext);
				seen[n++] = ext;
			} else {
				assert_int_equal(ask(&r, 1, &ext, NULL), PORTMAP_NO_PORT);
			}
		}
	assert_int_equal(n, 8);
}

static void test_refresh_nonce(void **state)
{
	struct portmap_req r = req(10, 17, 9000, 0), other;
	struct portmap_entry *e;
	uint16_t ext, ext2;
	bool created;

	(void)state;
	assert_int_equal(ask(&r, 100, &ext, NULL), PORTMAP_OK);
	/* a refresh keeps the port, even asking for another, and moves expiry */
	r.ext_port = 20009;
	r.lifetime = 1000;
	assert_int_equal(ask(&r, 200, &ext2, &created), PORTMAP_OK);
	assert_false(created);
	assert_int_equal(ext2, ext);
	e = portmap_table_find_ext(&t, WAN, 17, ext);
	assert_int_equal(e->expires, 1200);
	/* ... unless PREFER_FAILURE insists on the other */
	r.prefer_failure = true;
	assert_int_equal(ask(&r, 200, NULL, NULL), PORTMAP_PREFER_FAILED);
	/* another nonce: another client's mapping */
	other = req(10, 17, 9000, 0);
	memset(other.nonce, 0xee, sizeof(other.nonce));
	assert_int_equal(ask(&other, 200, NULL, NULL), PORTMAP_NONCE_MISMATCH);
	/* NAT-PMP has no nonce: it may refresh, and then PCP adopts a new one */
	other.by = PORTMAP_BY_NATPMP;
	assert_int_equal(ask(&other, 200, &ext2, NULL), PORTMAP_OK);
	assert_int_equal(ext2, ext);
	other.by = PORTMAP_BY_PCP;
	assert_int_equal(ask(&other, 200, NULL, NULL), PORTMAP_OK);
	r.prefer_failure = false;
	assert_int_equal(ask(&r, 200, NULL, NULL), PORTMAP_NONCE_MISMATCH);
}

static void test_limits(void **state)
{
	struct portmap_req r;
	static const struct portmap_limits wide = { .port_lo = 1024, .port_hi = 65535,
						    .max_per_host = 1024, .max_lifetime = 60 };
	struct portmap_entry *e;
	bool c;

	(void)state;
	for (int p = 0; p < 3; p++) {
		r = req(10, 6, (uint16_t)(8000 + p), 0);
		assert_int_equal(ask(&r, 1, NULL, NULL), PORTMAP_OK);
	}
	r = req(10, 6, 8003, 0);
	assert_int_equal(ask(&r, 1, NULL, NULL), PORTMAP_HOST_LIMIT);
	assert_int_equal(portmap_table_host_count(&t, host(10)), 3);
	/* a refresh of one it has is no new mapping */
	r = req(10, 6, 8001, 0);
	assert_int_equal(ask(&r, 1, NULL, NULL), PORTMAP_OK);
	/* another host is not limited by this one */
	r = req(11, 6, 8003, 0);
	assert_int_equal(ask(&r, 1, NULL, NULL), PORTMAP_OK);
	/* the table as a whole */
	portmap_table_init(&t);
	for (int i = 0; i < PORTMAP_MAX; i++) {
		r = req(1 + i / 1000, 17, (uint16_t)(1024 + i % 1000), 0);
		r.seed = (uint32_t)i;
		assert_int_equal(portmap_table_request(&t, &r, &wide, NULL, NULL, 1, &e, &c),
				 PORTMAP_OK);
	}
	r = req(99, 17, 1, 0);
	assert_int_equal(portmap_table_request(&t, &r, &wide, NULL, NULL, 1, &e, &c),
			 PORTMAP_TABLE_FULL);
}

static void test_lifetime(void **state)
{
	struct portmap_limits l = lim;

	(void)state;
	assert_int_equal(portmap_lifetime(&l, 600), 600);
	assert_int_equal(portmap_lifetime(&l, 100000), 3600);
	assert_int_equal(portmap_lifetime(&l, 1), PORTMAP_LIFETIME_MIN);
	l.max_lifetime = 30;	/* a maximum below the minimum wins */
	assert_int_equal(portmap_lifetime(&l, 1), 30);
	assert_int_equal(portmap_lifetime(&l, 100), 30);
}

static void test_expire_delete(void **state)
{
	struct portmap_req r;
	uint8_t wrong[PORTMAP_NONCE_LEN];

	(void)state;
	r = req(10, 6, 8000, 0);
	r.lifetime = 200;
	ask(&r, 100, NULL, NULL);	/* expires at 300 */
	r = req(10, 17, 8000, 0);
	r.lifetime = 400;
	ask(&r, 100, NULL, NULL);	/* 500 */
	r = req(11, 17, 8000, 0);
	ask(&r, 100, NULL, NULL);	/* 700 */
	assert_int_equal(portmap_table_expire(&t, 299, gone, NULL), 0);
	assert_int_equal(portmap_table_expire(&t, 300, gone, NULL), 1);
	assert_int_equal(gone_n, 1);
	assert_int_equal(gone_last.proto, 6);
	assert_int_equal(t.n, 2);
	/* deleting with another nonce is refused and deletes nothing */
	memset(wrong, 0xee, sizeof(wrong));
	assert_int_equal(portmap_table_delete(&t, host(10), 17, 8000, wrong, true, gone, NULL),
			 PORTMAP_NONCE_MISMATCH);
	assert_int_equal(t.n, 2);
	assert_int_equal(portmap_table_delete(&t, host(10), 17, 8000, r.nonce, true, gone, NULL),
			 PORTMAP_NONCE_MISMATCH);	/* r's nonce is host 11's */
	memset(wrong, 10, sizeof(wrong));
	assert_int_equal(portmap_table_delete(&t, host(10), 17, 8000, wrong, true, gone, NULL),
			 PORTMAP_OK);
	assert_int_equal(t.n, 1);
	/* deleting what is not there is fine; port 0 + proto 0: all of a host */
	assert_int_equal(portmap_table_delete(&t, host(10), 17, 8000, NULL, false, gone, NULL),
			 PORTMAP_OK);
	r = req(11, 6, 9000, 0);
	ask(&r, 100, NULL, NULL);
	assert_int_equal(portmap_table_delete(&t, host(11), 0, 0, NULL, false, gone, NULL),
			 PORTMAP_OK);
	assert_int_equal(t.n, 0);
	assert_int_equal(gone_n, 4);
}

static bool drop_udp(void *arg, const struct portmap_entry *e)
{
	(void)arg;
	return e->proto == 17;
}

static void test_purge(void **state)
{
	struct portmap_req r;

	(void)state;
	r = req(10, 6, 8000, 0);
	ask(&r, 1, NULL, NULL);
	r = req(10, 17, 8000, 0);
	ask(&r, 1, NULL, NULL);
	assert_int_equal(portmap_table_purge(&t, drop_udp, NULL, gone, NULL), 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(gone_last.proto, 17);
}

static void test_json(void **state)
{
	struct portmap_req r;
	json_object *arr, *o;
	static struct portmap_table back;
	uint8_t n10[PORTMAP_NONCE_LEN];
	uint16_t ext;

	(void)state;
	r = req(10, 17, 9000, 20004);
	r.lifetime = 600;
	assert_int_equal(ask(&r, 1000, &ext, NULL), PORTMAP_OK);	/* expires 1600 */
	r = req(11, 6, 8000, 20003);
	r.by = PORTMAP_BY_NATPMP;
	r.lifetime = 150;
	ask(&r, 1000, NULL, NULL);					/* 1150 */
	arr = portmap_table_to_json(&t, 1100);	/* 500 and 50 s left */
	/* 100 s later, at another clock: the second has run out */
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 100), 1);
	assert_int_equal(back.e[0].ext_port, 20004);
	assert_int_equal(back.e[0].int_port, 9000);
	assert_int_equal(back.e[0].int_addr, host(10));
	assert_int_equal(back.e[0].by, PORTMAP_BY_PCP);
	assert_int_equal(back.e[0].lan_ifindex, LAN);
	assert_int_equal(back.e[0].wan_ifindex, WAN);
	memset(n10, 10, sizeof(n10));	/* req()'s nonce of host 10 */
	assert_memory_equal(back.e[0].nonce, n10, PORTMAP_NONCE_LEN);
	assert_int_equal(back.e[0].expires, 5400);
	assert_non_null(portmap_table_find_ext(&back, WAN, 17, 20004));
	/* malformed entries are skipped, good ones kept */
	o = json_object_array_get_idx(arr, 0);
	json_object_object_add(o, "inside", json_object_new_string("not an address"));
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 0), 1);
	assert_int_equal(back.e[0].proto, 6);
	json_object_object_add(o, "inside", json_object_new_string("192.168.0.10"));
	json_object_object_add(o, "nonce", json_object_new_string("zz"));
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 0), 1);
	json_object_object_add(o, "nonce", json_object_new_string("0a0a0a0a0a0a0a0a0a0a0a0a"));
	json_object_object_add(o, "outside_port", json_object_new_int(70000));
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 0), 1);
	json_object_object_add(o, "outside_port", json_object_new_int(20004));
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 0), 2);
	/* a duplicate of the same outside port is kept once */
	json_object_array_add(arr, json_object_get(o));
	assert_int_equal(portmap_table_from_json(&back, arr, 5000, 0), 2);
	/* not an array: empty */
	assert_int_equal(portmap_table_from_json(&back, o, 5000, 0), 0);
	json_object_put(arr);
}

static void test_rate(void **state)
{
	static struct portmap_rate rt;
	int ok = 0;

	(void)state;
	portmap_rate_init(&rt, 1000);
	/* one host: its burst, then nothing until tokens come back */
	for (int i = 0; i < 100; i++)
		ok += portmap_rate_allow(&rt, host(10), 1000);
	assert_int_equal(ok, PORTMAP_BURST_HOST);
	assert_false(portmap_rate_allow(&rt, host(10), 1050));
	assert_true(portmap_rate_allow(&rt, host(10), 1100));	/* 10/s: one per 100 ms */
	/* another host is not held back by it */
	assert_true(portmap_rate_allow(&rt, host(11), 1100));
	/* the global limit holds over many hosts (spoofed sources) */
	ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += portmap_rate_allow(&rt, htonl(0x0a000000u + (uint32_t)i), 1100);
	assert_true(ok <= PORTMAP_BURST_ALL);
	assert_true(ok >= PORTMAP_BURST_ALL - PORTMAP_BURST_HOST - 2);
	assert_false(portmap_rate_allow(&rt, host(12), 1100));
	assert_true(portmap_rate_allow(&rt, host(12), 2100));	/* a second later */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_allocation, setup),
		cmocka_unit_test_setup(test_implicit_mapping, setup),
		cmocka_unit_test_setup(test_range_full, setup),
		cmocka_unit_test_setup(test_refresh_nonce, setup),
		cmocka_unit_test_setup(test_limits, setup),
		cmocka_unit_test_setup(test_lifetime, setup),
		cmocka_unit_test_setup(test_expire_delete, setup),
		cmocka_unit_test_setup(test_purge, setup),
		cmocka_unit_test_setup(test_json, setup),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

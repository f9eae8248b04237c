/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_portmap_state.c - ctl/portmap/portmap_state.c: the PCP/NAT-PMP
 * state file. A save and a load some wall-clock seconds later keep the
 * epoch going and take those seconds off every lifetime; no file, a file
 * that is not ours and a file "from the future" each start a new epoch 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "portmap/portmap_state.h"

static char dir[64], path[128];
static struct portmap_state st, back;
static const struct portmap_limits lim = { .port_lo = 20000, .port_hi = 20099,
					   .max_per_host = 8, .max_lifetime = 3600 };

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_portmap_state.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/portmap.json", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void map(uint16_t port, uint32_t lifetime, uint64_t now)
{
	struct portmap_req r = { .by = PORTMAP_BY_PCP, .proto = 17, .lan_ifindex = 3,
				 .wan_ifindex = 7, .int_addr = htonl(0xc0a8000a),
				 .int_port = port, .ext_port = port, .lifetime = lifetime };
	struct portmap_entry *e;
	bool created;

	memset(r.nonce, 0x5a, sizeof(r.nonce));
	assert_int_equal(portmap_table_request(&st.table, &r, &lim, NULL, NULL, now, &e, &created),
			 PORTMAP_OK);
}

static int annotated;

static void annotate(void *arg, json_object *m)
{
	(void)arg;
	annotated++;
	json_object_object_add(m, "wan", json_object_new_string("wan0"));
}

static void test_roundtrip(void **state)
{
	(void)state;
	memset(&st, 0, sizeof(st));
	map(20001, 600, 1000);		/* expires 1600 */
	map(20002, 150, 1000);		/* 1150 */
	st.epoch = 4242;
	st.n.requests = 17;
	st.n.dropped_rate = 5;
	assert_int_equal(portmap_state_save(path, &st, 1100, 1700000000, annotate, NULL), 0);
	assert_int_equal(annotated, 2);
	/* 100 s later on the wall clock, another monotonic clock */
	assert_int_equal(portmap_state_load(path, &back, 50, 1700000100), 0);
	assert_int_equal(back.epoch, 4342);
	assert_int_equal(back.n.requests, 17);
	assert_int_equal(back.n.dropped_rate, 5);
	assert_int_equal(back.table.n, 1);	/* 50 s were left of the second */
	assert_int_equal(back.table.e[0].ext_port, 20001);
	assert_int_equal(back.table.e[0].expires, 50 + 500 - 100);
}

static void test_new_epoch(void **state)
{
	FILE *f;

	(void)state;
	unlink(path);
	back.epoch = 99;
	assert_int_equal(portmap_state_load(path, &back, 1, 1700000000), 1);
	assert_int_equal(back.epoch, 0);
	assert_int_equal(back.table.n, 0);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{ not json", f);
	fclose(f);
	back.epoch = 99;
	assert_int_equal(portmap_state_load(path, &back, 1, 1700000000), -1);
	assert_int_equal(back.epoch, 0);

	/* saved after "now": the clock went back; the epoch cannot be trusted */
	memset(&st, 0, sizeof(st));
	map(20001, 600, 1);
	st.epoch = 10;
	assert_int_equal(portmap_state_save(path, &st, 1, 1700000000, NULL, NULL), 0);
	assert_int_equal(portmap_state_load(path, &back, 1, 1699999999), -1);
	assert_int_equal(back.epoch, 0);
	assert_int_equal(back.table.n, 0);
	/* and at the same second it is all there */
	assert_int_equal(portmap_state_load(path, &back, 1, 1700000000), 0);
	assert_int_equal(back.epoch, 10);
	assert_int_equal(back.table.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_new_epoch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

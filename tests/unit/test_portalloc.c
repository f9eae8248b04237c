/* Unit tests of the outside-port candidate order (include/nat_portalloc.h)
 * and of the allocator's behaviour against a table of taken ports: the
 * data path tries candidates 0..XDPNAT_PORT_TRIES, each an insert of the
 * reply entry that fails when the port is taken. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "xdpnat.h"
#include "nat_portalloc.h"

/* The data path's loop, with the map insert replaced by a bitmap. */
static int alloc_port(uint8_t *taken, uint16_t orig, uint16_t lo, uint16_t hi, uint32_t seed)
{
	for (uint32_t i = 0; i <= XDPNAT_PORT_TRIES; i++) {
		uint16_t p = nat_port_candidate(orig, lo, hi, seed, i);

		if (!p)
			return -1;
		if (!taken[p]) {
			taken[p] = 1;
			return p;
		}
	}
	return -1;
}

static void keeps_original_port_when_in_range(void **state)
{
	(void)state;
	assert_int_equal(nat_port_candidate(40000, 1024, 65535, 7, 0), 40000);
	assert_int_equal(nat_port_candidate(1024, 1024, 65535, 7, 0), 1024);
	assert_int_equal(nat_port_candidate(65535, 1024, 65535, 7, 0), 65535);
}

static void original_outside_range_is_not_kept(void **state)
{
	(void)state;
	for (uint32_t seed = 0; seed < 1000; seed++) {
		uint16_t p = nat_port_candidate(80, 20000, 20099, seed, 0);

		assert_true(p >= 20000 && p <= 20099);
	}
}

static void candidates_stay_in_range(void **state)
{
	(void)state;
	for (uint32_t seed = 0; seed < 200; seed++)
		for (uint32_t i = 0; i <= XDPNAT_PORT_TRIES; i++) {
			uint32_t p = nat_port_candidate(5, 60000, 65534, seed * 7919, i);

			assert_true(p >= 60000 && p <= 65534);
		}
}

static void small_range_is_searched_completely(void **state)
{
	uint8_t seen[65536];

	(void)state;
	for (uint32_t seed = 0; seed < 100; seed++) {
		memset(seen, 0, sizeof(seen));
		for (uint32_t i = 1; i <= XDPNAT_PORT_TRIES; i++)
			seen[nat_port_candidate(0, 5000, 5000 + XDPNAT_PORT_TRIES - 1, seed, i)] = 1;
		for (uint32_t p = 5000; p < 5000 + XDPNAT_PORT_TRIES; p++)
			assert_true(seen[p]);
	}
}

static void clash_moves_to_another_port(void **state)
{
	static uint8_t taken[65536];

	(void)state;
	memset(taken, 0, sizeof(taken));
	assert_int_equal(alloc_port(taken, 40000, 1024, 65535, 99), 40000);
	int second = alloc_port(taken, 40000, 1024, 65535, 99);
	assert_true(second >= 1024 && second <= 65535);
	assert_int_not_equal(second, 40000);
}

static void exhaustion_fails(void **state)
{
	static uint8_t taken[65536];

	(void)state;
	memset(taken, 0, sizeof(taken));
	int a = alloc_port(taken, 3000, 3000, 3001, 1);
	int b = alloc_port(taken, 3000, 3000, 3001, 2);
	assert_int_equal(a, 3000);
	assert_int_equal(b, 3001);
	assert_int_equal(alloc_port(taken, 3000, 3000, 3001, 3), -1);
	assert_int_equal(alloc_port(taken, 12345, 3000, 3001, 4), -1);
	/* one port freed: found again whatever the seed */
	taken[3000] = 0;
	assert_int_equal(alloc_port(taken, 9, 3000, 3001, 12345), 3000);
}

static void inverted_range_yields_nothing(void **state)
{
	(void)state;
	assert_int_equal(nat_port_candidate(10, 2000, 1000, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keeps_original_port_when_in_range),
		cmocka_unit_test(original_outside_range_is_not_kept),
		cmocka_unit_test(candidates_stay_in_range),
		cmocka_unit_test(small_range_is_searched_completely),
		cmocka_unit_test(clash_moves_to_another_port),
		cmocka_unit_test(exhaustion_fails),
		cmocka_unit_test(inverted_range_yields_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

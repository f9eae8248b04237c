/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_probe.c - ctl/wan/probe.c: the WAN health state machine behind
 * `track ... down N up M`: thresholds, runs broken by the other result,
 * no flapping on alternating results, link loss down at once, history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wan/probe.h"

/* Feed a string of results ('+' answered, '-' not) from time t; returns
 * the number of state changes it caused. */
static int feed(struct probe_sm *sm, const char *r, uint64_t *t)
{
	int changes = 0;

	for (; *r; r++)
		changes += probe_result(sm, *r == '+', ++*t);
	return changes;
}

static void test_starts_up(void **state)
{
	struct probe_sm sm;

	(void)state;
	probe_init(&sm, 3, 3, 100);
	assert_int_equal(sm.state, PROBE_UP);
	assert_int_equal(sm.reason, PROBE_R_START);
	assert_int_equal(sm.since, 100);
	assert_string_equal(probe_state_name(sm.state), "up");
}

static void test_down_after_threshold(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 3, 3, 0);
	assert_int_equal(feed(&sm, "--", &t), 0);
	assert_int_equal(sm.state, PROBE_UP);
	assert_true(probe_result(&sm, false, ++t));	/* the third */
	assert_int_equal(sm.state, PROBE_DOWN);
	assert_int_equal(sm.reason, PROBE_R_PROBES);
	assert_int_equal(sm.since, 3);
	/* more failures change nothing */
	assert_int_equal(feed(&sm, "-----", &t), 0);
	assert_int_equal(sm.since, 3);
}

static void test_up_after_threshold(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 2, 4, 0);
	assert_int_equal(feed(&sm, "--", &t), 1);
	assert_int_equal(sm.state, PROBE_DOWN);
	assert_int_equal(feed(&sm, "+++", &t), 0);
	assert_int_equal(sm.state, PROBE_DOWN);
	assert_true(probe_result(&sm, true, ++t));
	assert_int_equal(sm.state, PROBE_UP);
	assert_int_equal(sm.changes, 2);
}

/* A run is broken by one result of the other kind. */
static void test_runs_reset(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 3, 3, 0);
	assert_int_equal(feed(&sm, "--+--+--+", &t), 0);
	assert_int_equal(sm.state, PROBE_UP);
	assert_int_equal(feed(&sm, "---", &t), 1);
	assert_int_equal(feed(&sm, "++-++-++-", &t), 0);
	assert_int_equal(sm.state, PROBE_DOWN);
}

/* A WAN that answers every other round, or two of three, never flaps. */
static void test_no_flapping(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;
	char alt[201];

	(void)state;
	for (int i = 0; i < 200; i++)
		alt[i] = i & 1 ? '+' : '-';
	alt[200] = '\0';
	probe_init(&sm, 3, 3, 0);
	assert_int_equal(feed(&sm, alt, &t), 0);
	assert_int_equal(feed(&sm, "---", &t), 1);	/* down */
	assert_int_equal(feed(&sm, alt, &t), 0);	/* stays down */
	assert_int_equal(feed(&sm, "-++-++-++-++-", &t), 0);
	assert_int_equal(sm.state, PROBE_DOWN);
	assert_int_equal(sm.changes, 1);
}

static void test_threshold_one(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 1, 1, 0);
	assert_int_equal(feed(&sm, "-+-+", &t), 4);
	probe_init(&sm, 0, 0, 0);	/* 0 is taken as 1 */
	assert_int_equal(feed(&sm, "-+", &t), 2);
}

static void test_link_down_at_once(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 3, 3, 0);
	assert_int_equal(feed(&sm, "++", &t), 0);
	assert_true(probe_link(&sm, false, 10));
	assert_int_equal(sm.state, PROBE_DOWN);
	assert_int_equal(sm.reason, PROBE_R_LINK);
	assert_int_equal(sm.since, 10);
	assert_false(probe_link(&sm, false, 11));	/* no change, no event */
	/* rounds while the link is down count for nothing */
	t = 20;
	assert_int_equal(feed(&sm, "+++", &t), 0);
	assert_int_equal(sm.state, PROBE_DOWN);
	/* back: not trusted before `up` answered rounds */
	assert_false(probe_link(&sm, true, 30));
	assert_int_equal(sm.state, PROBE_DOWN);
	t = 30;
	assert_int_equal(feed(&sm, "++", &t), 0);
	assert_int_equal(feed(&sm, "+", &t), 1);
	assert_int_equal(sm.state, PROBE_UP);
	assert_int_equal(sm.reason, PROBE_R_PROBES);
}

/* Link lost while already down by probes: no second event. */
static void test_link_while_down(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;

	(void)state;
	probe_init(&sm, 2, 2, 0);
	assert_int_equal(feed(&sm, "--", &t), 1);
	assert_false(probe_link(&sm, false, 5));
	assert_int_equal(sm.changes, 1);
	assert_false(probe_link(&sm, true, 6));
	/* the failure run restarted with the link: one more '-' is not
	 * down again (it is down), two '+' are up */
	assert_int_equal(feed(&sm, "-++", &t), 1);
	assert_int_equal(sm.state, PROBE_UP);
}

static void test_history(void **state)
{
	struct probe_sm sm;
	uint64_t t = 0;
	char h[PROBE_HISTORY + 1];

	(void)state;
	probe_init(&sm, 3, 3, 0);
	probe_history(&sm, h, PROBE_HISTORY);
	assert_string_equal(h, "");
	feed(&sm, "++-", &t);
	probe_history(&sm, h, PROBE_HISTORY);
	assert_string_equal(h, "-++");		/* newest first */
	feed(&sm, "++++++++++++++++-", &t);
	probe_history(&sm, h, PROBE_HISTORY);
	assert_string_equal(h, "-+++++++++++++++");
	probe_history(&sm, h, 3);
	assert_string_equal(h, "-++");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_up),
		cmocka_unit_test(test_down_after_threshold),
		cmocka_unit_test(test_up_after_threshold),
		cmocka_unit_test(test_runs_reset),
		cmocka_unit_test(test_no_flapping),
		cmocka_unit_test(test_threshold_one),
		cmocka_unit_test(test_link_down_at_once),
		cmocka_unit_test(test_link_while_down),
		cmocka_unit_test(test_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

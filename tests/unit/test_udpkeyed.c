/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_udpkeyed.c - when the GC's rebuild of nat_udp_keyed may trust
 * membarrier(MEMBARRIER_CMD_GLOBAL) as a grace period (ctl/daemon/
 * udpkeyed.c). The rebuild itself is tested against the kernel in
 * tests/bpf (test_udp_keyed_rebuild).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "daemon/udpkeyed.h"

/* `uname -v` of kernels as Debian builds them */
#define V_DYNAMIC "#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)"
#define V_RT	  "#1 SMP PREEMPT_RT Debian 6.1.158-1 (2025-11-09)"
#define V_PLAIN	  "#1 SMP Debian 6.12.57-1 (2025-11-05)"

/* Softirqs run to completion on a kernel that is not PREEMPT_RT: no
 * program is mid-run while the controller's thread runs, one CPU or many. */
static void not_rt_always_exact(void **state)
{
	(void)state;
	assert_true(udpkeyed_grace_exact(V_DYNAMIC, 1));
	assert_true(udpkeyed_grace_exact(V_DYNAMIC, 2));
	assert_true(udpkeyed_grace_exact(V_PLAIN, 1));
	assert_true(udpkeyed_grace_exact(V_PLAIN, 64));
	assert_true(udpkeyed_grace_exact("", 1));
}

/* PREEMPT_RT: the barrier returns at once on one CPU while a preempted
 * softirq thread may be inside a program; with two or more it waits. */
static void rt_needs_two_cpus(void **state)
{
	(void)state;
	assert_false(udpkeyed_grace_exact(V_RT, 1));
	assert_true(udpkeyed_grace_exact(V_RT, 2));
	assert_true(udpkeyed_grace_exact(V_RT, 128));
}

/* sysconf() failing (-1) or a count of 0 is no proof of a second CPU. */
static void rt_unknown_count_not_exact(void **state)
{
	(void)state;
	assert_false(udpkeyed_grace_exact(V_RT, -1));
	assert_false(udpkeyed_grace_exact(V_RT, 0));
	assert_true(udpkeyed_grace_exact(V_PLAIN, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(not_rt_always_exact),
		cmocka_unit_test(rt_needs_two_cpus),
		cmocka_unit_test(rt_unknown_count_not_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

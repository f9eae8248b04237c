/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * clock.h - the controller's one clock: CLOCK_MONOTONIC, the clock of
 * bpf_ktime_get_ns(), so times read here compare with what the data path
 * writes into its maps. Modules that judge times take `now` as an argument
 * (tests choose it); only the event loops call these.
 */
#ifndef XDPNAT_CLOCK_H
#define XDPNAT_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC	1000000000ULL
#define NS_PER_MS	1000000ULL

static inline uint64_t nat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t nat_now_ms(void)
{
	return nat_now_ns() / NS_PER_MS;
}

#endif /* XDPNAT_CLOCK_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_portalloc.h - the order in which a new mapping tries outside ports.
 *
 * Shared by the data path (which tries each candidate by inserting the
 * reply entry with BPF_NOEXIST) and the unit tests. Attempt 0 keeps the
 * original port when it lies in the range; later attempts probe linearly
 * from a random point, so a range no larger than XDPNAT_PORT_TRIES is
 * searched completely before the packet is dropped as "no port".
 */
#ifndef NAT_PORTALLOC_H
#define NAT_PORTALLOC_H

static inline __u16 nat_port_candidate(__u16 orig, __u16 lo, __u16 hi, __u32 seed, __u32 attempt)
{
	__u32 range = (__u32)hi - lo + 1;

	if (hi < lo)
		return 0;
	if (attempt == 0 && orig >= lo && orig <= hi)
		return orig;
	return (__u16)(lo + (seed + attempt) % range);
}

#endif /* NAT_PORTALLOC_H */

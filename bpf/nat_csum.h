/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_csum.h - incremental Internet checksum updates (RFC 1624, eqn. 3).
 *
 * Values are used exactly as they sit in the packet (network order); the
 * one's complement sum does not care about byte order as long as the
 * checksum and the data are read the same way.
 *
 * These are for checksums that are always complete in the packet: the IPv4
 * header, ICMP, everything in an XDP frame, and headers nested inside an
 * ICMP error. The outer TCP/UDP checksum of an skb may be CHECKSUM_PARTIAL
 * and is updated with bpf_l4_csum_replace() on the tc path instead.
 */
#ifndef NAT_CSUM_H
#define NAT_CSUM_H

static __always_inline __u16 csum16_add(__u16 a, __u16 b)
{
	__u32 s = (__u32)a + b;

	return (__u16)((s & 0xffff) + (s >> 16));
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u16 s = ~*sum;

	s = csum16_add(s, ~from);
	s = csum16_add(s, to);
	*sum = ~s;
}

static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	csum_replace2(sum, (__u16)(from >> 16), (__u16)(to >> 16));
	csum_replace2(sum, (__u16)from, (__u16)to);
}

/* UDP: a zero checksum means "none" and stays zero; a computed zero is
 * sent as 0xffff (RFC 768). */
static __always_inline void csum_replace4_udp(__u16 *sum, __u32 from, __u32 to)
{
	if (!*sum)
		return;
	csum_replace4(sum, from, to);
	if (!*sum)
		*sum = 0xffff;
}

static __always_inline void csum_replace2_udp(__u16 *sum, __u16 from, __u16 to)
{
	if (!*sum)
		return;
	csum_replace2(sum, from, to);
	if (!*sum)
		*sum = 0xffff;
}

#endif /* NAT_CSUM_H */

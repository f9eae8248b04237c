/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_csum.h - incremental Internet checksum updates (RFC 1624, eqn. 3).
 *
 * Values are used exactly as they sit in the packet (network order); the
 * one's complement sum does not care about byte order as long as the
 * checksum and the data are read the same way.
 *
 * These are for checksums that are complete in the packet: the IPv4 header,
 * ICMP, headers nested inside an ICMP error, and TCP/UDP from senders that
 * finish their checksums (every NIC). The outer TCP/UDP checksum of an skb
 * may be CHECKSUM_PARTIAL and is updated with bpf_l4_csum_replace() on the
 * tc path instead; XDP meets such unfinished fields too, on veth and tap
 * links (see "Unfinished TCP/UDP checksums" below).
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

/*
 * Unfinished TCP/UDP checksums (CHECKSUM_PARTIAL).
 *
 * A sender on this machine (a namespace or container behind a veth, a VM
 * behind a tap with offloads) leaves the TCP/UDP checksum to "hardware":
 * the field holds the folded pseudo-header sum, NOT complemented (the
 * kernel's ~csum_tcpudp_magic(saddr, daddr, len, proto, 0), len being the
 * TCP segment's or the UDP length), and whoever transmits the skb later
 * adds the sum of the segment from the L4 header on and complements. XDP
 * does not see skb->ip_summed; it recognises such a field by its value (a
 * complete checksum has it by coincidence, one in 65,536).
 *
 * After a translation such a field is simply the pseudo-header sum of the
 * new header: ports and sequence numbers are not in it yet (the kernel's
 * inet_proto_csum_replace* for CHECKSUM_PARTIAL comes to the same). To
 * finish one, sum the segment, field included, and complement.
 */

/* Fold a one's complement sum to 16 bits (not complemented). */
static __always_inline __u16 csum_fold64(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* The pseudo-header sum (unfolded); its fold is what the field of a
 * CHECKSUM_PARTIAL skb holds. len_host: TCP segment / UDP length. */
static __always_inline __u64 csum_pseudo(__be32 saddr, __be32 daddr, __u8 proto, __u16 len_host)
{
	return (__u64)saddr + daddr + bpf_htons((__u16)proto) + bpf_htons(len_host);
}

#endif /* NAT_CSUM_H */

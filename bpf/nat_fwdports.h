/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_fwdports.h - the port forwards' lookup, behind nat_fwd_ports (see
 * include/xdpnat.h): a port whose bit is clear is forwarded nowhere, and
 * the nat_forwards lookup (a random bucket, a cache miss) is skipped. New
 * mappings ask for every port they take; unsolicited packets from outside
 * for the port they knock on.
 */
#ifndef NAT_FWDPORTS_H
#define NAT_FWDPORTS_H

/* The map's key from .rodata: the callers' stack has no room for one. */
static volatile const __u32 fwd_ports_key0 = 0;

/* May nat_forwards hold port (network order) of proto on some WAN? */
static __always_inline bool fwd_port_maybe(__u8 proto, __be16 port)
{
	struct nat_fwd_ports *b = bpf_map_lookup_elem(&nat_fwd_ports, (const void *)&fwd_ports_key0);
	__u16 p = bpf_ntohs(port);
	__u64 *w;

	if (!b)
		return true;
	w = nat_fwd_ports_word(b, proto, p);
	return !w || (*w & nat_port_bit(p));
}

/* nat_forwards' entry for key k, NULL if none. */
static __always_inline struct nat_fwd_value *fwd_lookup(struct nat_fwd_key *k)
{
	if (!fwd_port_maybe(k->proto, k->port))
		return NULL;
	return bpf_map_lookup_elem(&nat_forwards, k);
}

#endif /* NAT_FWDPORTS_H */

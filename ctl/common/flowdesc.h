/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * flowdesc.h - how a flow is named to a person: its protocol, its kind,
 * and which of its addresses is the inside host, the outside (public)
 * address and the remote peer. `xdpnat flows`, `xdpnat top` and the NAT
 * log (daemon/flowlog.c) all say it the same way.
 */
#ifndef XDPNAT_FLOWDESC_H
#define XDPNAT_FLOWDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xdpnat.h"

/* "a.b.c.d:port" fits */
#define FLOWDESC_EP_LEN	24

/* "tcp", "udp", "icmp", or the number in buf. */
const char *flowdesc_proto(uint8_t proto, char *buf, size_t len);

/* "masq", "forward", "hairpin", "expect", "routed"; "?" for others. */
const char *flowdesc_kind(uint8_t kind);

/* The nat_ct_kind of a name flowdesc_kind() gives; 0 if none. */
uint8_t flowdesc_kind_parse(const char *name);

/*
 * The flow whose ORIG entry is (k, v), as endpoints "addr:port" (for ICMP
 * echo the port is the identifier): a masqueraded flow starts inside, a
 * forwarded, expected or routed one outside, and a hairpin starts inside
 * towards a WAN address and ends at an inside server (shown as remote).
 * Each buffer holds FLOWDESC_EP_LEN bytes.
 */
void flowdesc_endpoints(const struct nat_ct_key *k, const struct nat_ct_value *v, char *inside,
			char *outside, char *remote);

/* Inside host, outside address and remote peer as addresses and ports
 * (network order), for filters. */
struct flowdesc_ends {
	__be32 inside, outside, remote;
	__be16 inside_port, outside_port, remote_port;
};

void flowdesc_ends(const struct nat_ct_key *k, const struct nat_ct_value *v,
		   struct flowdesc_ends *e);

/* Does the ORIG direction go from the inside host out (masq, hairpin)?
 * Otherwise the REPLY direction does. */
bool flowdesc_orig_is_out(uint8_t kind);

#endif /* XDPNAT_FLOWDESC_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* flowdesc.c - a flow's names (see flowdesc.h). */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "common/flowdesc.h"

const char *flowdesc_proto(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *const kind_names[] = {
	[NAT_KIND_MASQ] = "masq",
	[NAT_KIND_FORWARD] = "forward",
	[NAT_KIND_HAIRPIN] = "hairpin",
	[NAT_KIND_EXPECT] = "expect",
	[NAT_KIND_ROUTED] = "routed",
	[NAT_KIND_MAPPED] = "mapped",
};

#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *flowdesc_kind(uint8_t kind)
{
	return kind < NKINDS && kind_names[kind] ? kind_names[kind] : "?";
}

uint8_t flowdesc_kind_parse(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kind_names[i] && !strcmp(kind_names[i], name))
			return (uint8_t)i;
	return 0;
}

void flowdesc_ends(const struct nat_ct_key *k, const struct nat_ct_value *v,
		   struct flowdesc_ends *e)
{
	switch (v->kind) {
	case NAT_KIND_MASQ:
		e->inside = k->saddr, e->inside_port = k->sport;
		e->outside = v->to_saddr, e->outside_port = v->to_sport;
		e->remote = k->daddr, e->remote_port = k->dport;
		break;
	case NAT_KIND_HAIRPIN:
		e->inside = k->saddr, e->inside_port = k->sport;
		e->outside = k->daddr, e->outside_port = k->dport;
		e->remote = v->to_daddr, e->remote_port = v->to_dport;
		break;
	default:	/* FORWARD, EXPECT, ROUTED, MAPPED */
		e->inside = v->to_daddr, e->inside_port = v->to_dport;
		e->outside = k->daddr, e->outside_port = k->dport;
		e->remote = k->saddr, e->remote_port = k->sport;
		break;
	}
}

static void endpoint(__be32 addr, __be16 port, char *buf)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	snprintf(buf, FLOWDESC_EP_LEN, "%s:%u", a, ntohs(port));
}

void flowdesc_endpoints(const struct nat_ct_key *k, const struct nat_ct_value *v, char *inside,
			char *outside, char *remote)
{
	struct flowdesc_ends e;

	flowdesc_ends(k, v, &e);
	endpoint(e.inside, e.inside_port, inside);
	endpoint(e.outside, e.outside_port, outside);
	endpoint(e.remote, e.remote_port, remote);
}

bool flowdesc_orig_is_out(uint8_t kind)
{
	return kind == NAT_KIND_MASQ || kind == NAT_KIND_HAIRPIN;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_mappings.c - `xdpnat mappings`: the RFC 4787 endpoint-independent
 * mappings, one line per outside port a WAN's table (nat_eim_ports) gives
 * to an inside endpoint, read through the map's memory mapping.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/eimports.h"
#include "common/maps.h"

struct mappings {
	int ifaces;			/* nat_ifaces: the WANs' addresses */
	uint16_t now;			/* nat_eim_stamp() of now */
	json_object *arr;
	unsigned n, moved;
};

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "icmp";
}

static void one(uint32_t ifindex, uint8_t proto, uint16_t port, const struct nat_eim_port *e,
		void *ctx)
{
	struct mappings *x = ctx;
	struct nat_iface wan = {};
	char wname[IF_NAMESIZE] = "?", out[32], in[32], a[INET_ADDRSTRLEN];
	/* seconds since it was last found in use, in whole stamp units (~1.07 s) */
	unsigned seen = (unsigned)(((uint64_t)(uint16_t)(x->now - e->stamp) << NAT_EIM_STAMP_SHIFT) /
				   NS_PER_SEC);
	bool moved = e->port != htons(port);

	if_indextoname(ifindex, wname);
	bpf_map_lookup_elem(x->ifaces, &ifindex, &wan);
	inet_ntop(AF_INET, &wan.addr, a, sizeof(a));
	snprintf(out, sizeof(out), "%s:%u", a, port);
	inet_ntop(AF_INET, &e->addr, a, sizeof(a));
	snprintf(in, sizeof(in), "%s:%u", a, ntohs(e->port));
	x->n++;
	x->moved += moved;
	if (x->arr) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "wan", json_object_new_string(wname));
		json_object_object_add(o, "proto", json_object_new_string(proto_name(proto)));
		json_object_object_add(o, "outside", json_object_new_string(out));
		json_object_object_add(o, "inside", json_object_new_string(in));
		json_object_object_add(o, "moved", json_object_new_boolean(moved));
		json_object_object_add(o, "seen_s", json_object_new_int64(seen));
		json_object_array_add(x->arr, o);
		return;
	}
	printf("%-10s %-5s %-21s %-21s %-5s %6us\n", wname, proto_name(proto), out, in,
	       moved ? "yes" : "no", seen);
}

int cli_mappings(const struct cli_ctx *c)
{
	struct nat_maps m;
	struct mappings x = { .now = nat_eim_stamp(nat_now_ns()) };
	int err;

	nat_maps_init(&m);
	m.eim_ports = cli_open_map(c, XDPNAT_MAP_EIM_PORTS);
	x.ifaces = cli_open_map(c, XDPNAT_MAP_IFACES);
	if (m.eim_ports < 0 || x.ifaces < 0)
		return 1;
	err = nat_maps_map_ports(&m);
	if (err) {
		fprintf(stderr, "xdpnat: cannot map %s: %s\n", XDPNAT_MAP_EIM_PORTS, strerror(-err));
		return 1;
	}
	if (c->json)
		x.arr = json_object_new_array();
	else
		printf("%-10s %-5s %-21s %-21s %-5s %7s\n", "WAN", "PROTO", "OUTSIDE", "INSIDE",
		       "MOVED", "SEEN");
	eimports_each(&m, one, &x);
	if (x.arr) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "mappings", x.arr);
		json_object_object_add(o, "count", json_object_new_int64(x.n));
		json_object_object_add(o, "moved", json_object_new_int64(x.moved));
		cli_print_json(o);
		json_object_put(o);
	} else {
		printf("%u mappings, %u on another port than their inside one\n", x.n, x.moved);
	}
	nat_maps_unmap_ports(&m);
	close(m.eim_ports);
	close(x.ifaces);
	return 0;
}

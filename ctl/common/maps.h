/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - the data path's maps as one bundle of file descriptors.
 *
 * The daemon fills it once from the loaded skeleton (loader_maps()), the
 * CLI from the pins, and unit tests with maps they made themselves (-1 for
 * a map a test does without). Every module takes a `const struct nat_maps
 * *` and uses only the maps include/xdpnat.h lets it write or read.
 */
#ifndef XDPNAT_MAPS_H
#define XDPNAT_MAPS_H

#include "common/cttab.h"

struct nat_maps {
	int config;		/* nat_config */
	int ifaces;		/* nat_ifaces */
	int wanaddr;		/* nat_wanaddr */
	int forwards;		/* nat_forwards */
	int ct;			/* nat_ct */
	int frag;		/* nat_frag */
	int stats;		/* nat_stats */
	int ctl_stats;		/* nat_ctl_stats */
	int expect;		/* nat_expect */
	int gate;		/* nat_gate */
	int xsks;		/* nat_xsks */
	int alg;		/* nat_alg */
	int alg_state;		/* nat_alg_state */
	int refused;		/* nat_refused */
	int ifslots;		/* nat_ifslots */
	int routegen;		/* nat_routegen */
	int unassured;		/* nat_unassured */
	int frag_src;		/* nat_frag_src */
	int eim;		/* nat_eim */
	int alg_stats;		/* nat_alg_stats */
	int fwd_ports;		/* nat_fwd_ports */
	int eim_moved;		/* nat_eim_moved */
	int eim_ports;		/* nat_eim_ports */
	int udp_keyed;		/* nat_udp_keyed */
	int flowlog;		/* nat_flowlog (RINGBUF) */
	struct nat_cttab cttab;	/* nat_ct mapped (nat_maps_map_ct()): how
				 * the controller reads and changes flows */
	struct nat_eim_moved *moved;	/* nat_eim_moved mapped (nat_maps_map_moved()),
					 * NULL if not */
	struct nat_udp_keyed *keyed;	/* nat_udp_keyed mapped (nat_maps_map_keyed()),
					 * NULL if not; daemon/udpkeyed.c uses it */
	struct nat_eim_port *ports;	/* nat_eim_ports mapped (nat_maps_map_ports()),
					 * NULL if not; common/eimports.c uses it */
	__u32 port_tables;		/* its tables (one a WAN) */
};

/* The pinned name of the i-th map, NULL past the last. */
const char *nat_maps_name(unsigned i);

/* Every fd -1, nat_ct not mapped. */
void nat_maps_init(struct nat_maps *m);

/* Map m->ct into m->cttab (cttab_map()): 0 or -errno. */
int nat_maps_map_ct(struct nat_maps *m);

/* Map m->eim_moved into m->moved (NAT_EIM_MOVED_CELLS + 1 elements): 0 or
 * -errno; and the other way. */
int nat_maps_map_moved(struct nat_maps *m);
void nat_maps_unmap_moved(struct nat_maps *m);

/* Map m->udp_keyed into m->keyed (NAT_UDP_KEYED_CTL + 1 elements): 0 or
 * -errno; and the other way. */
int nat_maps_map_keyed(struct nat_maps *m);
void nat_maps_unmap_keyed(struct nat_maps *m);

/* Map m->eim_ports into m->ports and m->port_tables: 0 or -errno; and
 * the other way. */
int nat_maps_map_ports(struct nat_maps *m);
void nat_maps_unmap_ports(struct nat_maps *m);

/* nat_eim_moved: one INSIDE entry of nat_eim (key k) more (delta > 0:
 * by delta), or one fewer (delta <= 0: by one, never below 0); nothing for
 * another side, or if m->moved is not mapped. */
void nat_maps_moved_add(const struct nat_maps *m, const struct nat_eim_key *k, int delta);

/* The fd field of the map pinned or loaded under `name` (XDPNAT_MAP_*),
 * NULL for a name that is not a map of the data path. */
int *nat_maps_field(struct nat_maps *m, const char *name);

#endif /* XDPNAT_MAPS_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg.h - the FTP ALG's AF_XDP glue: the user-space half of the data path
 * for FTP control connections.
 *
 * The XDP program translates the headers of every packet of an inspected
 * control flow (NAT_CT_F_ALG, not yet NAT_CT_F_OPAQUE), sets its MAC
 * addresses and TTL, puts a struct nat_alg_meta in front of it and
 * redirects it to the AF_XDP socket of its ingress interface and rx queue
 * (nat_xsks[slot * XDPNAT_XSK_QUEUES + queue]). One thread here reads
 * those sockets, feeds the payload to the protocol core (alg_ftp.h),
 * rewrites the segment (payload, length, seq, ack, SACK, checksums) and
 * transmits it on the AF_XDP socket of the egress interface. It writes
 * nat_expect (data connections to admit), nat_alg (per-flow offsets and
 * counters, read by `xdpnat flows`) and, to hand a flow back to XDP, the
 * flags of its two nat_ct entries.
 *
 * The thread never blocks on a peer: sockets are polled, rings are never
 * waited on (a segment that finds no room is dropped and TCP resends it).
 */
#ifndef XDPNAT_ALG_H
#define XDPNAT_ALG_H

#include <stdint.h>
#include <net/if.h>
#include "config/config.h"
#include "xdpnat.h"
#include "common/maps.h"

/* The maps the ALG uses, as fds of the loaded object. */
struct alg_maps {
	int ct;				/* nat_ct: flags of handed-back flows */
	int expect;			/* nat_expect: written and cleaned */
	int alg;			/* nat_alg: written */
	int xsks;			/* nat_xsks: our sockets */
	int config;			/* nat_config: timeout_expect */
	int forwards;			/* nat_forwards: never expect on a forwarded port; -1 = skip */
	int refused;			/* nat_refused: advice for opaque servers; -1 = skip */
};

/* One interface xdpnat is attached to; slot is its nat_ifaces.slot. */
struct alg_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int slot;			/* 0 .. XDPNAT_MAX_IFACES - 1 */
};

/* Counters of the glue (the data path's are in nat_stats). */
struct alg_stats {
	uint64_t rx;			/* frames read from the sockets */
	uint64_t tx;			/* frames sent */
	uint64_t rewritten;		/* segments whose payload changed */
	uint64_t dropped;		/* ALG verdict DROP */
	uint64_t bad_frame;		/* no metadata / not IPv4 TCP / bad lengths */
	uint64_t no_tx_room;		/* egress socket had no free frame: dropped */
	uint64_t no_flow;		/* nat_ct entry gone: forwarded as it was */
	uint64_t expects_opened;
	uint64_t expects_removed;	/* cancelled, expired or control flow gone */
	uint64_t handed_back;		/* flows made opaque */
	uint64_t uninspected;		/* flows handed back at once: table full, or not
					 * a masquerade or forward */
	uint64_t flows;			/* flows tracked now */
};

struct alg;

/*
 * Create the sockets (one per interface and rx queue, copy mode, on the
 * already attached XDP program), enter them in nat_xsks and start the
 * thread. Call after the XDP program is attached and after any fork
 * (daemon()). Returns NULL (logged) on failure; nothing is left behind.
 */
struct alg *alg_start(const struct xdpnat_config *cfg, const struct nat_maps *m,
		      const struct alg_iface *ifs, int n_ifs);

/* Stop the thread, remove our nat_xsks entries, close everything. NULL is fine. */
void alg_stop(struct alg *a);

/* A snapshot of the counters (safe while running). */
void alg_get_stats(struct alg *a, struct alg_stats *out);

#endif /* XDPNAT_ALG_H */

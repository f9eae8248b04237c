/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg.h - the FTP ALG: the user-space half of the data path for FTP
 * control connections.
 *
 * The XDP program translates the headers of every packet of an inspected
 * control flow (NAT_CT_F_ALG, not yet NAT_CT_F_OPAQUE), sets its MAC
 * addresses and TTL, puts a struct nat_alg_meta in front of it and
 * redirects it to the AF_XDP socket of its ingress interface and rx queue.
 * One thread here reads those sockets, feeds the payload to the protocol
 * core and transmits the rewritten segment on the egress interface. The
 * parts:
 *   alg_xsk.h      AF_XDP sockets and rings
 *   alg_segment.h  frame parsing and rewriting (payload, seq, ack, SACK,
 *                  checksums)
 *   alg_ftp.h      the FTP protocol core
 *   alg_session.h  flows, expectations, nat_alg, hand-back to XDP
 *
 * The thread never blocks on a peer: sockets are polled, rings are never
 * waited on (a segment that finds no room is dropped and TCP resends it).
 */
#ifndef XDPNAT_ALG_H
#define XDPNAT_ALG_H

#include <net/if.h>
#include "common/maps.h"
#include "config/config.h"

/* One interface xdpnat is attached to; slot is its nat_ifaces.slot. */
struct alg_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int slot;			/* 0 .. XDPNAT_MAX_IFACES - 1 */
};

struct alg;

/*
 * Create the sockets (one per interface and rx queue, copy mode, on the
 * already attached XDP program), enter them in nat_xsks and start the
 * thread. Uses the maps ct, expect, alg, xsks and config of m, and
 * forwards and refused unless -1. Call after the XDP program is attached
 * and after any fork (daemon()). Returns NULL (logged) on failure; nothing
 * is left behind.
 */
struct alg *alg_start(const struct xdpnat_config *cfg, const struct nat_maps *m,
		      const struct alg_iface *ifs, int n_ifs);

/* Stop the thread, remove our nat_xsks entries, close everything. NULL is fine. */
void alg_stop(struct alg *a);

#endif /* XDPNAT_ALG_H */

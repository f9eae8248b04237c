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

#include <stdbool.h>
#include <net/if.h>
#include "common/maps.h"
#include "config/config.h"

/* One interface xdpnat is attached to; slot is its nat_ifaces.slot. */
struct alg_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int slot;			/* 0 .. XDPNAT_MAX_IFACES - 1 */
	bool l3;			/* no link-layer header: sent to through AF_PACKET */
};

struct alg;

/*
 * Resume the sessions an earlier ALG saved in nat_alg_state (those of a
 * build with another layout are handed back to XDP with their offsets),
 * create the sockets (one per interface and rx queue, every queue, copy
 * mode, on the already attached XDP program), enter them in nat_xsks,
 * start the thread and clear NAT_CFG_F_ALG_OFF. Uses the maps ct, expect,
 * alg, alg_state, xsks and config of m, and forwards, refused and
 * alg_stats unless -1. Call after the XDP program is attached and after
 * any fork (daemon()). Returns NULL (logged) on failure, after alg_off(m):
 * nothing is left behind. An interface with more than XDPNAT_XSK_QUEUES rx
 * queues is a failure (logged with its name and count).
 */
struct alg *alg_start(const struct xdpnat_config *cfg, const struct nat_maps *m,
		      const struct alg_iface *ifs, int n_ifs);

/*
 * Remove our nat_xsks entries (from then on the data path drops the
 * control packets, drop_alg_down), stop the thread, close everything.
 * hand_back false: the daemon stops to be started again (restart, upgrade)
 * and the sessions stay in nat_alg_state, where the next alg_start()
 * resumes them; a SIGKILL or a crash ends the same way. hand_back true: no
 * ALG will resume them (a reload switched `alg ftp` off or changed the
 * interfaces): every session is handed back to XDP with its offsets.
 * NULL is fine.
 */
void alg_stop(struct alg *a, bool hand_back);

/* The thread stopped on its own (degraded): its sockets are out of
 * nat_xsks, its sessions handed back, NAT_CFG_F_ALG_OFF set, so FTP
 * control connections pass uninspected. alg_stop() and a new alg_start()
 * are the way back. False for NULL. */
bool alg_failed(const struct alg *a);

/* The rx queue count of one of the ALG's interfaces is not the one it
 * opened sockets on any more (ethtool -L since): the daemon restarts it,
 * with alg_stop(a, false), so the sessions are resumed. False for NULL. */
bool alg_queues_changed(const struct alg *a);

/*
 * No ALG will run (`alg ftp` is off, or alg_start() failed): hand every
 * session an earlier ALG saved in nat_alg_state back to XDP with its
 * offsets and set NAT_CFG_F_ALG_OFF, so that the data path neither marks
 * new control flows for the ALG nor drops the packets of flows marked
 * before (they pass uninspected).
 */
void alg_off(const struct nat_maps *m);

#endif /* XDPNAT_ALG_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_session.h - the FTP ALG's session table: one struct alg_flow per
 * inspected control connection, and everything the ALG writes to the
 * data path's maps on its behalf.
 *
 * Flows. One entry per control connection, keyed by its NAT_DIR_ORIG
 * nat_ct key, created at the SYN (or the first packet seen: the SYN may
 * have taken the kernel path) and forgotten once the flow's nat_ct entry
 * is gone. At most XDPNAT_ALG_MAX; a flow that finds the table full, or
 * that is neither a masquerade nor a forward, is handed to XDP at once,
 * uninspected.
 *
 * Maps. Reads nat_ct, nat_config (expect timeout), nat_forwards and
 * nat_refused; writes nat_expect (data connections to admit, and cancels
 * the ones it opened itself when the core says so), nat_alg (per-flow
 * offsets and counters, read by `xdpnat flows`) and, to hand a flow back
 * to XDP, the flags of its two nat_ct entries. Expiry is the GC's
 * (ctl/daemon/gc.c): expectations that expired or whose control flow is
 * gone, and nat_alg entries of gone flows, are deleted there.
 *
 * Hand-back. When the core says GO_OPAQUE (AUTH answered 234, not FTP,
 * gave up), the flow stays here until every rewrite has been acknowledged
 * (XDP can shift sequence numbers but not replay a rewrite), at most 5
 * seconds; then nat_alg gets the final offsets and both nat_ct entries
 * get NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ.
 */
#ifndef XDPNAT_ALG_SESSION_H
#define XDPNAT_ALG_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "alg/alg_ftp.h"
#include "common/maps.h"
#include "xdpnat.h"

struct alg_session;

/* One inspected control connection. */
struct alg_flow {
	struct alg_flow *next;		/* hash chain */
	struct alg_session *session;
	struct nat_ct_key okey;		/* NAT_DIR_ORIG key: the table key and nat_alg key */
	__u32 wan_ifindex;
	bool seen_data[2];		/* payload seen in this direction (enum alg_ftp_dir) */
	bool isn_known[2];
	__u32 isn[2];			/* seq of the SYN / SYN-ACK seen */
	bool want_opaque;
	bool handed_back;
	__u64 want_since;
	struct nat_alg_value v;		/* as last written to nat_alg */
	struct alg_ftp_conn conn;
};

/* Counters of the session table (the data path's are in nat_stats). */
struct alg_session_stats {
	uint64_t no_flow;		/* nat_ct entry gone: forwarded as it was */
	uint64_t uninspected;		/* flows handed back at once */
	uint64_t expects_opened;
	uint64_t expects_cancelled;	/* by the core, while still ours */
	uint64_t handed_back;		/* flows made opaque */
};

/* An empty table using the maps in m; expect_timeout in seconds until
 * nat_config says otherwise. NULL when out of memory. */
struct alg_session *alg_session_new(const struct nat_maps *m, uint32_t expect_timeout);

/* Before the ALG stops: hand every flow with offsets back to XDP, so a
 * restart of the ALG (e.g. on reload) does not break it; without offsets,
 * forwarding uninspected is the same. */
void alg_session_hand_back_all(struct alg_session *s);

/* Forget every flow, touching no map. NULL is fine. */
void alg_session_free(struct alg_session *s);

/*
 * The flow of a packet that matched nat_ct entry `key`, a SYN or not, with
 * sequence number seq; created if new, reset by a SYN that starts a new
 * connection on the tuple of a finished one.
 * *dir is the direction of the packet. NULL when the packet is not to be
 * inspected: its nat_ct entry is gone, or the flow was handed back
 * uninspected now.
 */
struct alg_flow *alg_session_flow(struct alg_session *s, const struct nat_ct_key *key,
				  bool syn, uint32_t seq, enum alg_ftp_dir *dir);

/* Act on what the core returned for one segment of f: open or cancel
 * expectations, note a wish to go opaque. */
void alg_session_events(struct alg_session *s, struct alg_flow *f,
			const struct alg_ftp_result *res);

/* One segment of f went through: count it, and write nat_alg, or hand f
 * back to XDP if it wants to go opaque and every rewrite is acknowledged. */
void alg_session_packet_done(struct alg_session *s, struct alg_flow *f);

/* Once a second: reread the expect timeout, forget flows whose nat_ct
 * entry is gone, hand back flows that waited too long for their acks,
 * advise the operator, let unused port reservations expire. */
void alg_session_tick(struct alg_session *s, uint64_t now);

const struct alg_session_stats *alg_session_get_stats(const struct alg_session *s);

#endif /* XDPNAT_ALG_SESSION_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_session.h - the FTP ALG's session table: one struct alg_flow per
 * inspected control connection, and everything the ALG writes to the
 * data path's maps on its behalf.
 *
 * Flows. One entry per control connection, keyed by its NAT_DIR_ORIG
 * nat_ct key, created at the SYN (or the first packet seen: the SYN may
 * have taken the kernel path) and forgotten once the flow's nat_ct entry
 * is gone. At most XDPNAT_ALG_MAX, bounded like conntrack: a new flow that
 * finds the table full evicts the oldest session that is not assured (its
 * handshake never completed: a SYN flood to port 21 takes the place of its
 * own kind), handed back already, or gone (counted in `evicted`); only if
 * none of the oldest ALG_SESSION_EVICT_TRIES of those can go is the new
 * flow handed to XDP at once, uninspected, and counted (`uninspected`,
 * like a flow that is neither a masquerade nor a forward). An established
 * session is never evicted.
 *
 * A SYN on a live session starts it afresh only when the data path took
 * it as a new connection on the tuple of a closed one (nat_ct state back
 * to SYN_SENT): any other SYN is forwarded and changes nothing
 * (`syn_ignored`), so a forged one cannot reset the parser or the offsets.
 *
 * Expectations. A session holds at most ALG_EXPECT_PER_SESSION live
 * expectations: a new PASV/EPSV/PORT deletes its oldest (`expects_replaced`).
 * All sessions together hold at most ALG_EXPECT_LIVE_MAX, below the size of
 * nat_expect: past that a new one is refused (`expects_refused`), so that
 * neither one session nor a few can fill the map for everybody. Likewise a
 * session holds at most 4 outside ports given out for PORT/EPRT commands
 * still awaiting their 200 (a fifth PORT passes unrewritten, refused).
 *
 * Maps. Reads nat_ct, nat_config (expect timeout), nat_forwards and
 * nat_refused; writes nat_expect (data connections to admit, and cancels
 * the ones it opened itself when the core says so), nat_alg (per-flow
 * offsets and counters, read by `xdpnat flows`), nat_alg_state (the whole
 * flow, for the next ALG) and, to hand a flow back to XDP, the flags of its
 * two nat_ct entries. Expiry is the GC's (ctl/daemon/gc.c): expectations
 * that expired or whose control flow is gone, and nat_alg and
 * nat_alg_state entries of gone flows, are deleted there.
 *
 * Restarts. Every flow is saved to nat_alg_state (everything of struct
 * alg_flow but its pointers, tagged with a number that changes with the
 * layout) each time a segment of it has been processed, before that
 * segment is transmitted. A new ALG resumes every saved flow whose nat_ct
 * entry is still there (alg_session_restore()); a flow saved by a build of
 * another layout is handed back to XDP with the offsets in nat_alg.
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

#define ALG_EXPECT_PER_SESSION	2	/* the newest PASV/EPSV/PORT, and one still in use */
#define ALG_EXPECT_LIVE_MAX	(XDPNAT_EXPECT_MAX * 3 / 4)	/* all sessions together */
#define ALG_SESSION_EVICT_TRIES	8	/* evictable sessions looked at per full insert */

struct alg_session;

/* An expectation a session opened and may still hold (the data path
 * deletes it when used, the GC when it expires: checked before it counts). */
struct alg_expect_ref {
	struct nat_expect_key key;
	__u64 expires;			/* as written to nat_expect: also tells it is ours */
};

/* One inspected control connection. */
struct alg_flow {
	struct alg_flow *next;		/* hash chain */
	struct alg_flow *ev_prev, *ev_next;	/* on the session's evictable list */
	bool evictable;			/* on that list: not assured, or handed back */
	bool assured;			/* nat_ct said so at its last packet */
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
	unsigned n_exp;			/* exp[0] oldest */
	struct alg_expect_ref exp[ALG_EXPECT_PER_SESSION];
	struct alg_ftp_conn conn;
};

/* Counters of the session table (the data path's are in nat_stats). */
struct alg_session_stats {
	uint64_t no_flow;		/* nat_ct entry gone: forwarded as it was */
	uint64_t uninspected;		/* flows handed back at once (table full of
					 * established sessions, or not masq/forward) */
	uint64_t evicted;		/* sessions dropped from a full table */
	uint64_t syn_ignored;		/* SYNs on a live session, not a new connection */
	uint64_t expects_opened;
	uint64_t expects_cancelled;	/* by the core, while still ours */
	uint64_t expects_replaced;	/* a session's oldest, for its newest */
	uint64_t expects_refused;	/* ALG_EXPECT_LIVE_MAX reached, or a session's
					 * ports awaiting a 200 */
	uint64_t handed_back;		/* flows made opaque */
	uint64_t save_failed;		/* nat_alg_state writes that failed */
};

/* What alg_session_restore() found in nat_alg_state. */
struct alg_restore_stats {
	unsigned restored;		/* sessions back in the table */
	unsigned handed_back;		/* of those, handed back now (resume false) */
	unsigned foreign;		/* saved by another layout (or not usable): handed
					 * back with the offsets in nat_alg */
	unsigned gone;			/* their nat_ct flow is gone: left to the GC */
};

/* An empty table using the maps in m; expect_timeout in seconds until
 * nat_config says otherwise. NULL when out of memory. */
struct alg_session *alg_session_new(const struct nat_maps *m, uint32_t expect_timeout);

/* Other limits than XDPNAT_ALG_MAX flows and ALG_EXPECT_LIVE_MAX
 * expectations (0 keeps one): for tests, which cannot make thousands. */
void alg_session_set_limits(struct alg_session *s, unsigned max_flows, unsigned max_expects);

/*
 * Put back every session saved in nat_alg_state whose nat_ct flow still
 * exists: the table must be empty (just made). With resume, the restored
 * flows are inspected on as if the ALG had never stopped (the map_port
 * callback attached again, pending PORT ports reserved again); without, each
 * is handed back to XDP at once (no ALG will run). A saved session of
 * another layout is handed back either way. 0, or -ENOMEM (nothing done).
 */
int alg_session_restore(struct alg_session *s, bool resume, struct alg_restore_stats *r);

/* When no ALG will inspect these flows again (`alg ftp` switched off, the
 * interfaces changed, the ALG thread failed): hand every flow not handed
 * back yet to XDP with its offsets, so that none is left marked for an ALG
 * that is not there. Returns how many. */
unsigned alg_session_hand_back_all(struct alg_session *s);

/* Forget every flow, touching no map. NULL is fine. */
void alg_session_free(struct alg_session *s);

/*
 * The flow of a packet that matched nat_ct entry `key`, with TCP flags
 * tcp_flags (ALG_SEG_TCP_*), sequence number seq and acknowledgment number
 * ack (host order); created if new (evicting another from a full table),
 * reset by a SYN the data path took as a new connection on the tuple of a
 * finished one. The handshake gives the ISNs: the client's SYN until the
 * server answers, then the server's SYN-ACK, whose ack says which SYN of
 * the client it answered. *dir is the direction of the packet. NULL when
 * the packet is not to be inspected: its nat_ct entry is gone, or the flow
 * was handed back uninspected now.
 */
struct alg_flow *alg_session_flow(struct alg_session *s, const struct nat_ct_key *key,
				  uint8_t tcp_flags, uint32_t seq, uint32_t ack,
				  enum alg_ftp_dir *dir);

/* Act on what the core returned for one segment of f: open or cancel
 * expectations, note a wish to go opaque. */
void alg_session_events(struct alg_session *s, struct alg_flow *f,
			const struct alg_ftp_result *res);

/* One segment of f was processed: count it, and write nat_alg and
 * nat_alg_state, or hand f back to XDP if it wants to go opaque and every
 * rewrite is acknowledged. Call it before the segment is transmitted (or
 * dropped): a restart then never finds the saved flow behind the peers. */
void alg_session_packet_done(struct alg_session *s, struct alg_flow *f);

/* Once a second: reread the expect timeout, forget flows whose nat_ct
 * entry is gone, hand back flows that waited too long for their acks,
 * advise the operator, let unused port reservations expire, stop counting
 * expectations that were used or expired. */
void alg_session_tick(struct alg_session *s, uint64_t now);

/* Flows in the table still inspected (not handed back). */
unsigned alg_session_count(const struct alg_session *s);

/* Expectations the sessions hold (an upper bound between two ticks: one
 * used since is counted until a tick or the session's next one sees it
 * gone). */
unsigned alg_session_expects(const struct alg_session *s);

const struct alg_session_stats *alg_session_get_stats(const struct alg_session *s);

#endif /* XDPNAT_ALG_SESSION_H */

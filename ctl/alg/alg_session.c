/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_session.c - the FTP ALG's session table (see alg_session.h): flows,
 * port reservations, expectations, nat_alg, the saved sessions in
 * nat_alg_state, the hand-back to XDP and the operator's advice about
 * opaque servers behind a forward.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "alg/alg_segment.h"
#include "alg/alg_session.h"
#include "common/clock.h"
#include "common/log.h"
#include "nat_ct_key.h"

#define ALG_SESSION_BUCKETS		1024
#define ALG_SESSION_RESV_MAX		1024	/* ports given out, not yet expected */
/* Ports one session may hold given out at once: a PORT waits for its 200
 * with one, and FTP has one transfer at a time; without a cap one client
 * pipelining PORTs to a server that never answers would hold them all. */
#define ALG_SESSION_RESV_PER_FLOW	4
#define ALG_SESSION_PORT_TRIES		64
#define ALG_SESSION_OPAQUE_WAIT_NS	(5ULL * NS_PER_SEC)
#define ALG_SESSION_LOG_PER_SEC		20
#define ALG_SESSION_ADVISED_MAX		64
/* At the global expectation limit, the sessions' expectations are checked
 * again (used ones no longer count) at most this often: a check costs a
 * map lookup per expectation held, and PASVs keep coming meanwhile. */
#define ALG_SESSION_PRUNE_NS		(100ULL * 1000000ULL)

/* A port map_port gave out, held until its expectation opens or is
 * cancelled, at most expect-timeout. */
struct alg_resv {
	__be32 remote, outside;
	__u16 port_host;
	bool used;
	__u64 expires;
	const struct alg_flow *flow;
};

/*
 * One flow as nat_alg_state holds it (the value's data[]): every field of
 * struct alg_flow that is not a pointer. The core's conn is stored whole,
 * its two pointers zeroed, so a field added to it is saved without anybody
 * remembering to; restoring sets them again. Only an ALG of the same
 * layout reads it back (state_version()).
 */
struct alg_saved {
	struct nat_ct_key okey;
	__u32 wan_ifindex;
	__u32 isn[2];
	bool seen_data[2];
	bool isn_known[2];
	bool want_opaque;
	bool handed_back;
	__u64 want_since;
	struct nat_alg_value v;
	__u32 n_exp;
	struct alg_expect_ref exp[ALG_EXPECT_PER_SESSION];
	struct alg_ftp_conn conn;
};

_Static_assert(sizeof(struct alg_saved) <= XDPNAT_ALG_STATE_MAX,
	       "a saved session fits nat_alg_state (raise XDPNAT_ALG_STATE_MAX)");

/* Bump when what a saved field means changes while the layout stays the
 * same (a layout change alone changes state_version() by itself). */
#define ALG_STATE_REV	1

struct alg_session {
	struct nat_maps m;
	struct alg_flow *bucket[ALG_SESSION_BUCKETS];
	unsigned n_flows;
	unsigned max_flows;		/* XDPNAT_ALG_MAX but in tests */
	struct alg_flow *ev_head, *ev_tail;	/* evictable flows, oldest first */
	unsigned n_expects;		/* refs held by all flows */
	unsigned max_expects;		/* ALG_EXPECT_LIVE_MAX but in tests */
	__u64 last_prune;		/* the last check of every ref, ns */
	struct alg_resv resv[ALG_SESSION_RESV_MAX];
	__u32 expect_timeout;		/* seconds */
	__u32 rng;
	bool full_logged;
	__be32 advised[ALG_SESSION_ADVISED_MAX];	/* servers the operator was told about */
	unsigned n_advised;
	unsigned log_budget;		/* per-flow log lines left this second */
	uint64_t log_dropped;
	struct alg_session_stats st;
	struct nat_alg_state save;	/* the value written to nat_alg_state */
};

/* ---------------------------------------------------------------- helpers */

static const char *key_str(const struct nat_ct_key *k, char *buf, size_t len)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &k->saddr, s, sizeof(s));
	inet_ntop(AF_INET, &k->daddr, d, sizeof(d));
	snprintf(buf, len, "%s:%u -> %s:%u", s, ntohs(k->sport), d, ntohs(k->dport));
	return buf;
}

/* Per-flow events are logged at most ALG_SESSION_LOG_PER_SEC a second: a
 * peer must not be able to make the thread wait for a slow log reader. */
static bool log_ok(struct alg_session *s)
{
	if (s->log_budget) {
		s->log_budget--;
		return true;
	}
	s->log_dropped++;
	return false;
}

static const char *why_name(enum alg_ftp_opaque_reason why)
{
	switch (why) {
	case ALG_FTP_WHY_AUTH:		return "AUTH accepted";
	case ALG_FTP_WHY_NOT_FTP:	return "not FTP";
	case ALG_FTP_WHY_OVERFLOW:	return "too much in flight";
	case ALG_FTP_WHY_GAP:		return "bytes missed";
	default:			return "the ALG stops";
	}
}

static __u32 rng_next(struct alg_session *s)
{
	/* xorshift32: port candidates only, not a secret */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 17;
	s->rng ^= s->rng << 5;
	return s->rng;
}

static bool ct_exists(const struct alg_session *s, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	return ct_get(&s->m.cttab, k, &v) == 0;
}

/* ---------------------------------------------------------------- flows */

static unsigned key_hash(const struct nat_ct_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % ALG_SESSION_BUCKETS;
}

static struct alg_flow *flow_find(struct alg_session *s, const struct nat_ct_key *okey)
{
	for (struct alg_flow *f = s->bucket[key_hash(okey)]; f; f = f->next)
		if (!memcmp(&f->okey, okey, sizeof(*okey)))
			return f;
	return NULL;
}

static void resv_release_flow(struct alg_session *s, const struct alg_flow *f)
{
	for (int i = 0; i < ALG_SESSION_RESV_MAX; i++)
		if (s->resv[i].used && s->resv[i].flow == f)
			s->resv[i].used = false;
}

/*
 * The evictable list: flows a full table may drop for a new one, oldest
 * first. A flow is on it while its handshake has not completed (as far as
 * the ALG saw: nat_ct is checked again before an eviction) or once it has
 * been handed back to XDP (nothing of it is needed here any more but the
 * operator's advice and a reused tuple, both of which a new flow handles).
 */
static void ev_unlink(struct alg_session *s, struct alg_flow *f)
{
	if (!f->evictable)
		return;
	if (f->ev_prev)
		f->ev_prev->ev_next = f->ev_next;
	else
		s->ev_head = f->ev_next;
	if (f->ev_next)
		f->ev_next->ev_prev = f->ev_prev;
	else
		s->ev_tail = f->ev_prev;
	f->ev_prev = f->ev_next = NULL;
	f->evictable = false;
}

static void ev_update(struct alg_session *s, struct alg_flow *f)
{
	bool want = f->handed_back || !f->assured;

	if (want == f->evictable)
		return;
	if (!want) {
		ev_unlink(s, f);
		return;
	}
	f->ev_prev = s->ev_tail;
	f->ev_next = NULL;
	if (s->ev_tail)
		s->ev_tail->ev_next = f;
	else
		s->ev_head = f;
	s->ev_tail = f;
	f->evictable = true;
}

/* Only the memory: the flow's nat_alg entry and its expectations go with
 * its nat_ct entry in the GC (an evicted flow's are deleted before). */
static void flow_free(struct alg_session *s, struct alg_flow *f)
{
	struct alg_flow **pp = &s->bucket[key_hash(&f->okey)];

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	ev_unlink(s, f);
	resv_release_flow(s, f);
	s->n_expects -= f->n_exp;
	free(f);
	s->n_flows--;
}

/* ---------------------------------------------------------------- saved sessions */

static uint32_t fnv_word(uint32_t h, uint64_t w)
{
	for (int i = 0; i < 8; i++, w >>= 8)
		h = (h ^ (uint8_t)w) * 16777619u;
	return h;
}

/*
 * The layout of struct alg_saved as a number: the sizes and offsets of
 * what it is made of, and ALG_STATE_REV. Another build whose saved
 * session would be read differently gets another number (up to a 32-bit
 * hash collision) and does not restore it.
 */
static __u32 state_version(void)
{
	static const uint64_t shape[] = {
		ALG_STATE_REV,
		sizeof(struct alg_saved),
		offsetof(struct alg_saved, isn),
		offsetof(struct alg_saved, seen_data),
		offsetof(struct alg_saved, want_opaque),
		offsetof(struct alg_saved, want_since),
		offsetof(struct alg_saved, v),
		offsetof(struct alg_saved, n_exp),
		offsetof(struct alg_saved, exp),
		sizeof(struct alg_expect_ref),
		offsetof(struct alg_expect_ref, expires),
		ALG_EXPECT_PER_SESSION,
		offsetof(struct alg_saved, conn),
		sizeof(struct nat_alg_value),
		sizeof(struct alg_ftp_conn),
		offsetof(struct alg_ftp_conn, map_port),
		offsetof(struct alg_ftp_conn, state),
		offsetof(struct alg_ftp_conn, reply_code),
		offsetof(struct alg_ftp_conn, gap_drops),
		offsetof(struct alg_ftp_conn, cmd_head),
		offsetof(struct alg_ftp_conn, cmdq),
		offsetof(struct alg_ftp_conn, half),
		sizeof(struct alg_ftp_cmd),
		offsetof(struct alg_ftp_cmd, outside_port_host),
		sizeof(struct alg_ftp_half),
		offsetof(struct alg_ftp_half, line_len),
		offsetof(struct alg_ftp_half, next_seq),
		offsetof(struct alg_ftp_half, max_ack),
		offsetof(struct alg_ftp_half, map),
		offsetof(struct alg_ftp_half, line),
		sizeof(struct alg_ftp_seqmap),
		offsetof(struct alg_ftp_seqmap, n),
		offsetof(struct alg_ftp_seqmap, rw),
		sizeof(struct alg_ftp_rw),
		offsetof(struct alg_ftp_rw, delta),
		offsetof(struct alg_ftp_rw, bytes),
		ALG_FTP_LINE_MAX, ALG_FTP_SEQMAP_MAX, ALG_FTP_CMDQ_MAX, ALG_FTP_RW_MAX,
	};
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++)
		h = fnv_word(h, shape[i]);
	return h;
}

/*
 * Write f to nat_alg_state. Called before the segment just processed is
 * transmitted: a restart between the two leaves the saved session ahead of
 * the peers, which is safe (TCP resends the segment, and the restored ALG
 * replays it from its rewrite records), never behind them (the peers would
 * have seen a rewrite the restored ALG knows nothing of).
 */
static void state_save(struct alg_session *s, const struct alg_flow *f)
{
	struct alg_saved sv;

	if (s->m.alg_state < 0)
		return;
	memset(&sv, 0, sizeof(sv));
	sv.okey = f->okey;
	sv.wan_ifindex = f->wan_ifindex;
	sv.isn[0] = f->isn[0];
	sv.isn[1] = f->isn[1];
	sv.seen_data[0] = f->seen_data[0];
	sv.seen_data[1] = f->seen_data[1];
	sv.isn_known[0] = f->isn_known[0];
	sv.isn_known[1] = f->isn_known[1];
	sv.want_opaque = f->want_opaque;
	sv.handed_back = f->handed_back;
	sv.want_since = f->want_since;
	sv.v = f->v;
	sv.n_exp = f->n_exp;
	memcpy(sv.exp, f->exp, sizeof(sv.exp));
	sv.conn = f->conn;
	sv.conn.map_port = NULL;
	sv.conn.map_ctx = NULL;
	s->save.version = state_version();
	s->save.len = sizeof(sv);
	memcpy(s->save.data, &sv, sizeof(sv));
	if (bpf_map_update_elem(s->m.alg_state, &f->okey, &s->save, BPF_ANY)) {
		s->st.save_failed++;
		if (log_ok(s))
			nat_log_at(LOG_ERR, "alg: cannot save a session to nat_alg_state (a restart would hand it "
				"back uninspected): %s", strerror(errno));
	}
}

/* nat_alg (offsets, counters, read by the data path and `xdpnat flows`)
 * and nat_alg_state (the whole session), in that order. */
static void alg_write(struct alg_session *s, struct alg_flow *f)
{
	f->v.state = (__u8)alg_ftp_get_state(&f->conn);
	f->v.delta[0] = alg_ftp_delta(&f->conn, ALG_FTP_FROM_CLIENT);
	f->v.delta[1] = alg_ftp_delta(&f->conn, ALG_FTP_FROM_SERVER);
	if (bpf_map_update_elem(s->m.alg, &f->okey, &f->v, BPF_ANY) && log_ok(s))
		nat_log_at(LOG_ERR, "alg: cannot write nat_alg: %s", strerror(errno));
	state_save(s, f);
}

/*
 * Set flags in one nat_ct entry. A hash map value cannot be written in part
 * from user space, so this is a read-modify-write: counters (packets,
 * bytes, last_seen) or a NAT_CT_F_FIN the data path writes between our
 * read and our write are lost. That is once per flow; a lost FIN flag only
 * delays the CLOSING state to the next FIN/RST or leaves the flow to the
 * established timeout.
 */
static int ct_set_flags(struct alg_session *s, const struct nat_ct_key *k, __u8 flags)
{
	struct nat_ct_value v;

	if (ct_get(&s->m.cttab, k, &v))
		return -1;
	if ((v.flags & flags) == flags)
		return 0;
	v.flags |= flags;
	return ct_put(&s->m.cttab, k, &v, BPF_EXIST) ? -1 : 0;
}

/* From here on XDP forwards the flow itself, applying the final offsets. */
static void hand_back(struct alg_session *s, struct alg_flow *f, bool log)
{
	struct nat_ct_value ov;
	struct nat_ct_key rkey;
	char buf[64];

	f->handed_back = true;
	f->v.opaque_since = nat_now_ns();
	ev_update(s, f);
	alg_write(s, f);
	if (ct_get(&s->m.cttab, &f->okey, &ov))
		return;		/* the flow is gone */
	ct_twin_key(&rkey, &ov, f->okey.proto);
	if (ct_set_flags(s, &rkey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ) ||
	    ct_set_flags(s, &f->okey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ)) {
		if (log_ok(s))
			nat_log_at(LOG_ERR, "alg: cannot hand %s back to XDP: %s",
				key_str(&f->okey, buf, sizeof(buf)), strerror(errno));
	}
	s->st.handed_back++;
	if (log && log_ok(s))
		nat_log("alg: %s handed back to XDP (%s), offsets %+d/%+d, %llu packets inspected",
			key_str(&f->okey, buf, sizeof(buf)), why_name(f->conn.why), f->v.delta[0],
			f->v.delta[1], (unsigned long long)f->v.user_packets);
}

static int map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *outside_port_host);

/* The ALG's case for a control flow of this kind, 0 for a kind it does
 * not inspect. */
static enum alg_ftp_mode kind_mode(__u8 kind)
{
	switch (kind) {
	case NAT_KIND_MASQ:	return ALG_FTP_MASQ;
	case NAT_KIND_FORWARD:	return ALG_FTP_FORWARD;
	case NAT_KIND_HAIRPIN:	return ALG_FTP_HAIRPIN;
	default:		return 0;
	}
}

/* The orig entry ov of flow okey: what the ALG needs to know about it.
 * The addresses are what the entry translates, in every case: a
 * masquerade leaves the server's as it is (to_daddr is okey's daddr), a
 * forward the client's (to_saddr is okey's saddr), a hairpin neither. */
static void flow_init(struct alg_flow *f, const struct nat_ct_key *okey,
		      const struct nat_ct_value *ov)
{
	struct alg_ftp_nat nat = {
		.mode = kind_mode(ov->kind),
		.client_addr = okey->saddr, .client_outside = ov->to_saddr,
		.server_addr = ov->to_daddr, .server_outside = okey->daddr,
	};

	f->okey = *okey;
	f->wan_ifindex = ov->wan_ifindex;
	f->seen_data[0] = f->seen_data[1] = false;
	f->isn_known[0] = f->isn_known[1] = false;
	f->want_opaque = f->handed_back = false;
	memset(&f->v, 0, sizeof(f->v));
	alg_ftp_init(&f->conn, &nat, map_port, f);
}

static struct alg_flow *flow_new(struct alg_session *s, const struct nat_ct_key *okey,
				 const struct nat_ct_value *ov)
{
	struct alg_flow *f;
	unsigned h = key_hash(okey);

	if (s->n_flows >= s->max_flows || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->session = s;
	flow_init(f, okey, ov);
	f->next = s->bucket[h];
	s->bucket[h] = f;
	s->n_flows++;
	return f;
}

static void expects_drop_all(struct alg_session *s, struct alg_flow *f);

/*
 * Make room in a full table, as conntrack does (nat_unassured): drop the
 * oldest flow that is handed back already, whose nat_ct flow is gone, or
 * whose handshake never completed (a spoofed SYN's), looking at no more
 * than ALG_SESSION_EVICT_TRIES of them. A flow that completed its
 * handshake since the ALG last saw it is established: it leaves the list
 * and stays. False if nothing could go.
 */
static bool evict_one(struct alg_session *s)
{
	for (int i = 0; i < ALG_SESSION_EVICT_TRIES && s->ev_head; i++) {
		struct alg_flow *f = s->ev_head;
		struct nat_ct_value v;
		bool gone = ct_get(&s->m.cttab, &f->okey, &v) != 0;

		if (!gone && !f->handed_back && nat_ct_assured(f->okey.proto, v.state)) {
			f->assured = true;
			ev_update(s, f);
			continue;
		}
		if (!gone && !f->handed_back) {
			/* Its packets come back here as a new flow: nothing of this
			 * one may be resumed after a restart, or listed. A handed-back
			 * flow keeps its nat_alg: XDP applies its offsets. */
			expects_drop_all(s, f);
			bpf_map_delete_elem(s->m.alg_state, &f->okey);
			bpf_map_delete_elem(s->m.alg, &f->okey);
		}
		flow_free(s, f);
		s->st.evicted++;
		return true;
	}
	return false;
}

/* A flow that cannot be inspected (table full of established sessions, a
 * kind the ALG does not handle) goes back to XDP at once: nothing was
 * rewritten, no offsets. */
static void hand_back_uninspected(struct alg_session *s, const struct nat_ct_key *okey,
				  const struct nat_ct_value *ov)
{
	struct nat_ct_key rkey;
	char buf[64];

	ct_twin_key(&rkey, ov, okey->proto);
	ct_set_flags(s, &rkey, NAT_CT_F_OPAQUE);
	ct_set_flags(s, okey, NAT_CT_F_OPAQUE);
	s->st.uninspected++;
	if (!s->full_logged)
		nat_log("alg: %s passes uninspected (counted in alg_uninspected): %u control "
			"sessions inspected, none of them evictable, or not a masqueraded or "
			"forwarded flow (logged once)",
			key_str(okey, buf, sizeof(buf)), s->n_flows);
	s->full_logged = true;
}

static void set_isn(struct alg_flow *f, enum alg_ftp_dir dir, uint32_t isn)
{
	f->isn_known[dir] = true;
	f->isn[dir] = isn;
	alg_ftp_set_isn(&f->conn, dir, isn);
}

/*
 * The ISNs from the handshake, as far as it can be believed: the client's
 * SYN while the server has not answered (a SYN after that is a forgery or
 * a retransmission); the server's SYN-ACK until the client's ACK, and its
 * ack tells which SYN of the client it answered, which also undoes a
 * forged SYN that came before it. Never once data has been seen in that
 * direction. state is nat_ct's, already moved on by this very packet.
 */
static void take_isn(struct alg_flow *f, enum alg_ftp_dir dir, uint8_t flags, uint32_t seq,
		     uint32_t ack, __u8 state)
{
	bool synack = flags & ALG_SEG_TCP_ACK;

	if (dir == ALG_FTP_FROM_CLIENT) {
		if (!synack && !f->seen_data[dir] &&
		    (!f->isn_known[dir] || state == NAT_CT_SYN_SENT))
			set_isn(f, dir, seq);
		return;
	}
	if (f->seen_data[dir] || (f->isn_known[dir] && state != NAT_CT_SYN_RECV))
		return;
	set_isn(f, dir, seq);
	if (synack && !f->seen_data[ALG_FTP_FROM_CLIENT])
		set_isn(f, ALG_FTP_FROM_CLIENT, ack - 1);
}

struct alg_flow *alg_session_flow(struct alg_session *s, const struct nat_ct_key *key,
				  uint8_t tcp_flags, uint32_t seq, uint32_t ack,
				  enum alg_ftp_dir *dir)
{
	struct nat_ct_key okey;
	struct nat_ct_value v, ov;
	struct alg_flow *f;
	bool syn = tcp_flags & ALG_SEG_TCP_SYN;

	if (ct_get(&s->m.cttab, key, &v)) {
		s->st.no_flow++;
		return NULL;
	}
	if (v.dir == NAT_DIR_ORIG) {
		okey = *key;
		ov = v;
	} else if (v.dir == NAT_DIR_REPLY) {
		ct_twin_key(&okey, &v, key->proto);
		if (ct_get(&s->m.cttab, &okey, &ov))
			return NULL;
	} else {
		return NULL;
	}
	*dir = v.dir == NAT_DIR_ORIG ? ALG_FTP_FROM_CLIENT : ALG_FTP_FROM_SERVER;
	f = flow_find(s, &okey);
	if (f && syn && (f->handed_back || f->seen_data[0] || f->seen_data[1]) &&
	    !(f->isn_known[*dir] && f->isn[*dir] == seq)) {
		/* Not a retransmitted SYN (that has the ISN seen before). A new
		 * connection on the tuple of a finished one, if the data path
		 * took it as one (ct_account_tcp(): only a SYN from the
		 * originator after CLOSING, and then the state is SYN_SENT
		 * again); anything else is a forgery or a stray, which must not
		 * reset the parser, the offsets or the rewrite records: the
		 * peers' connection goes on. */
		if (*dir != ALG_FTP_FROM_CLIENT || (tcp_flags & ALG_SEG_TCP_ACK) ||
		    v.state != NAT_CT_SYN_SENT) {
			s->st.syn_ignored++;
			return f;
		}
		resv_release_flow(s, f);
		flow_init(f, &okey, &ov);
	}
	if (!f && kind_mode(ov.kind)) {
		if (s->n_flows >= s->max_flows)
			evict_one(s);
		f = flow_new(s, &okey, &ov);
	}
	if (!f) {
		hand_back_uninspected(s, &okey, &ov);
		return NULL;
	}
	f->assured = nat_ct_assured(okey.proto, v.state);
	ev_update(s, f);
	if (syn)
		take_isn(f, *dir, tcp_flags, seq, ack, v.state);
	return f;
}

void alg_session_packet_done(struct alg_session *s, struct alg_flow *f)
{
	f->v.user_packets++;
	if (f->want_opaque && !f->handed_back && alg_ftp_rewrites_acked(&f->conn))
		hand_back(s, f, true);
	else
		alg_write(s, f);
}

/* ---------------------------------------------------------------- expectations */

static struct alg_resv *resv_find(struct alg_session *s, __be32 remote, __be32 outside,
				  __u16 port)
{
	for (int i = 0; i < ALG_SESSION_RESV_MAX; i++) {
		struct alg_resv *r = &s->resv[i];

		if (r->used && r->remote == remote && r->outside == outside && r->port_host == port)
			return r;
	}
	return NULL;
}

static bool port_free(struct alg_session *s, const struct alg_flow *f,
		      const struct alg_ftp_map_req *req, __u16 port)
{
	struct nat_expect_key ek = {
		.raddr = req->remote_addr, .waddr = req->outside_addr, .wport = htons(port),
		.proto = req->proto,
	};
	struct nat_fwd_key fk = { .ifindex = f->wan_ifindex, .port = htons(port), .proto = req->proto };
	struct nat_expect_value ev;
	struct nat_fwd_value fv;

	if (port < ALG_FTP_PORT_MIN || resv_find(s, req->remote_addr, req->outside_addr, port))
		return false;
	if (!bpf_map_lookup_elem(s->m.expect, &ek, &ev))
		return false;
	/* A forwarded port is taken, unless it leads to the very same place. */
	if (s->m.forwards >= 0 && !bpf_map_lookup_elem(s->m.forwards, &fk, &fv) &&
	    (fv.addr != req->inside_addr || fv.port != htons(req->inside_port_host)))
		return false;
	return true;
}

/* alg_ftp_map_port_fn: the inside port itself when free, else another. */
static int map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *outside_port_host)
{
	struct alg_flow *f = ctx;
	struct alg_session *s = f->session;
	struct alg_resv *slot = NULL;
	__u16 port = req->inside_port_host;
	unsigned held = 0;

	for (int i = 0; i < ALG_SESSION_RESV_MAX; i++) {
		if (!s->resv[i].used && !slot)
			slot = &s->resv[i];
		held += s->resv[i].used && s->resv[i].flow == f;
	}
	if (!slot || held >= ALG_SESSION_RESV_PER_FLOW) {
		/* nothing rewritten, nothing will open: as refused as an
		 * expectation past the global limit */
		s->st.expects_refused++;
		return -1;
	}
	for (int i = 0; i <= ALG_SESSION_PORT_TRIES; i++) {
		if (i)
			port = (__u16)(ALG_FTP_PORT_MIN + rng_next(s) % (65536 - ALG_FTP_PORT_MIN));
		if (!port_free(s, f, req, port))
			continue;
		*slot = (struct alg_resv){
			.remote = req->remote_addr, .outside = req->outside_addr, .port_host = port,
			.used = true, .flow = f,
			.expires = nat_now_ns() + (__u64)s->expect_timeout * NS_PER_SEC,
		};
		*outside_port_host = port;
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------- expectation refs */

static void ref_remove(struct alg_session *s, struct alg_flow *f, unsigned i)
{
	memmove(&f->exp[i], &f->exp[i + 1], sizeof(f->exp[0]) * (f->n_exp - i - 1));
	f->n_exp--;
	s->n_expects--;
}

static int ref_find(const struct alg_flow *f, const struct nat_expect_key *k)
{
	for (unsigned i = 0; i < f->n_exp; i++)
		if (!memcmp(&f->exp[i].key, k, sizeof(*k)))
			return (int)i;
	return -1;
}

/* Is the expectation of ref r still in nat_expect as this flow wrote it
 * (not used by a data connection, not expired, not overwritten)? */
static bool ref_live(const struct alg_session *s, const struct alg_flow *f,
		     const struct alg_expect_ref *r, __u64 now, struct nat_expect_value *v)
{
	return r->expires > now && !bpf_map_lookup_elem(s->m.expect, &r->key, v) &&
	       v->expires == r->expires && !memcmp(&v->ctl, &f->okey, sizeof(v->ctl));
}

/* Stop counting the flow's expectations that are gone. */
static void refs_prune(struct alg_session *s, struct alg_flow *f, __u64 now)
{
	struct nat_expect_value v;

	for (unsigned i = f->n_exp; i-- > 0;)
		if (!ref_live(s, f, &f->exp[i], now, &v))
			ref_remove(s, f, i);
}

static void refs_prune_all(struct alg_session *s, __u64 now)
{
	for (int b = 0; b < ALG_SESSION_BUCKETS; b++)
		for (struct alg_flow *f = s->bucket[b]; f; f = f->next)
			if (f->n_exp)
				refs_prune(s, f, now);
	s->last_prune = now;
}

/* Delete the expectation of ref i if it is still the flow's own (the
 * ALG's write undone, not expiry: that is the GC's), and forget the ref. */
static bool ref_cancel(struct alg_session *s, struct alg_flow *f, unsigned i, __u64 now)
{
	struct nat_expect_value v;
	bool deleted = ref_live(s, f, &f->exp[i], now, &v) &&
		       !bpf_map_delete_elem(s->m.expect, &f->exp[i].key);

	ref_remove(s, f, i);
	return deleted;
}

static void expects_drop_all(struct alg_session *s, struct alg_flow *f)
{
	__u64 now = nat_now_ns();

	while (f->n_exp)
		s->st.expects_cancelled += ref_cancel(s, f, 0, now);
}

/* ---------------------------------------------------------------- opening, cancelling */

static void expect_key(const struct alg_ftp_event *ev, struct nat_expect_key *k)
{
	memset(k, 0, sizeof(*k));
	k->raddr = ev->remote_addr;
	k->waddr = ev->outside_addr;
	k->wport = htons(ev->outside_port_host);
	k->proto = ev->proto;
}

/*
 * Room for one more expectation of f, or false (counted, logged): a
 * session holds at most ALG_EXPECT_PER_SESSION (its oldest goes for its
 * newest: a client that sends PASV after PASV holds two, never three
 * hundred), all sessions together at most max_expects.
 */
static bool expect_room(struct alg_session *s, struct alg_flow *f, __u64 now)
{
	refs_prune(s, f, now);
	if (f->n_exp == ALG_EXPECT_PER_SESSION) {
		ref_cancel(s, f, 0, now);
		s->st.expects_replaced++;
	}
	if (s->n_expects >= s->max_expects && now - s->last_prune >= ALG_SESSION_PRUNE_NS)
		refs_prune_all(s, now);
	if (s->n_expects < s->max_expects)
		return true;
	s->st.expects_refused++;
	if (log_ok(s))
		nat_log_at(LOG_WARNING, "alg: expectation refused: the sessions hold %u already, the most the ALG "
			"opens (counted in alg_expects_refused)", s->n_expects);
	return false;
}

static void expect_open(struct alg_session *s, struct alg_flow *f, const struct alg_ftp_event *ev)
{
	struct nat_expect_key k;
	__u64 now = nat_now_ns();
	struct nat_expect_value v = {
		.to_addr = ev->inside_addr, .to_port = htons(ev->inside_port_host),
		/* a hairpin flow's data connections come from a LAN */
		.dir = f->conn.nat.mode == ALG_FTP_HAIRPIN ? NAT_EXPECT_HAIRPIN : NAT_EXPECT_IN,
		.expires = now + (__u64)s->expect_timeout * NS_PER_SEC,
		.ctl = f->okey,
	};
	char r[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN], i[INET_ADDRSTRLEN];
	int ref;

	expect_key(ev, &k);
	ref = ref_find(f, &k);
	if (ref >= 0)
		ref_remove(s, f, (unsigned)ref);	/* the same one again: rewritten, counted once */
	else if (!expect_room(s, f, now))
		return;
	if (bpf_map_update_elem(s->m.expect, &k, &v, BPF_ANY)) {
		if (log_ok(s))
			nat_log_at(LOG_ERR, "alg: cannot write nat_expect: %s", strerror(errno));
		return;
	}
	f->exp[f->n_exp++] = (struct alg_expect_ref){ .key = k, .expires = v.expires };
	s->n_expects++;
	s->st.expects_opened++;
	if (!log_ok(s))
		return;
	inet_ntop(AF_INET, &ev->remote_addr, r, sizeof(r));
	inet_ntop(AF_INET, &ev->outside_addr, o, sizeof(o));
	inet_ntop(AF_INET, &ev->inside_addr, i, sizeof(i));
	nat_log("alg: expect %s -> %s:%u => %s:%u (%us)", r, o, ev->outside_port_host, i,
		ev->inside_port_host, s->expect_timeout);
}

/* Delete an expectation if it is still the one this flow opened: the
 * ALG's own write undone, not expiry (that is the GC's). */
static void expect_cancel(struct alg_session *s, struct alg_flow *f,
			  const struct alg_ftp_event *ev)
{
	struct nat_expect_key k;
	struct nat_expect_value v;
	int ref;

	expect_key(ev, &k);
	ref = ref_find(f, &k);
	if (ref >= 0)
		ref_remove(s, f, (unsigned)ref);
	if (bpf_map_lookup_elem(s->m.expect, &k, &v) || memcmp(&v.ctl, &f->okey, sizeof(v.ctl)))
		return;
	if (!bpf_map_delete_elem(s->m.expect, &k))
		s->st.expects_cancelled++;
}

void alg_session_events(struct alg_session *s, struct alg_flow *f,
			const struct alg_ftp_result *res)
{
	for (unsigned i = 0; i < res->n_events; i++) {
		const struct alg_ftp_event *ev = &res->ev[i];
		struct alg_resv *r;

		switch (ev->kind) {
		case ALG_FTP_EV_EXPECT_OPEN:
		case ALG_FTP_EV_EXPECT_CANCEL:
			r = resv_find(s, ev->remote_addr, ev->outside_addr, ev->outside_port_host);
			if (r && r->flow == f)
				r->used = false;
			if (ev->kind == ALG_FTP_EV_EXPECT_OPEN)
				expect_open(s, f, ev);
			else
				expect_cancel(s, f, ev);
			break;
		case ALG_FTP_EV_GO_OPAQUE:
			if (!f->want_opaque) {
				f->want_opaque = true;
				f->want_since = nat_now_ns();
			}
			break;
		}
	}
}

/* ---------------------------------------------------------------- housekeeping */

/*
 * An opaque FTP session through a forward (the ALG cannot see its passive
 * port any more) followed by a refused connection from the same peer to
 * the same WAN address: the seed case. Tell the operator, once per server,
 * what the server needs.
 */
static void advise_opaque(struct alg_session *s, const struct alg_flow *f)
{
	struct nat_refused_key rk = { .raddr = f->okey.saddr, .waddr = f->okey.daddr };
	struct nat_refused_value rv;
	__be32 server = f->conn.nat.server_addr;
	char r[INET_ADDRSTRLEN], w[INET_ADDRSTRLEN], srv[INET_ADDRSTRLEN], wan[IF_NAMESIZE];

	if (s->m.refused < 0 || f->conn.nat.mode != ALG_FTP_FORWARD || !f->v.opaque_since)
		return;
	if (bpf_map_lookup_elem(s->m.refused, &rk, &rv) || rv.last < f->v.opaque_since)
		return;
	for (unsigned i = 0; i < s->n_advised; i++)
		if (s->advised[i] == server)
			return;
	if (s->n_advised < ALG_SESSION_ADVISED_MAX)
		s->advised[s->n_advised++] = server;
	inet_ntop(AF_INET, &rk.raddr, r, sizeof(r));
	inet_ntop(AF_INET, &rk.waddr, w, sizeof(w));
	inet_ntop(AF_INET, &server, srv, sizeof(srv));
	if (!if_indextoname(f->wan_ifindex, wan))
		snprintf(wan, sizeof(wan), "<wan>");
	nat_log("alg: FTP server %s: its control channel to %s is encrypted (AUTH TLS), and %s's "
		"next connection to %s:%u was %s. The ALG cannot see passive ports any more: "
		"forward the server's passive port range with `forward tcp %s <lo>-<hi> to %s gate ftp` "
		"and set the server's passive address to %s's DDNS name (`ddns %s ...`).",
		srv, r, r, w, ntohs(rv.dport), rv.gated ? "refused by the gate" : "not forwarded",
		wan, srv, wan, wan);
}

void alg_session_tick(struct alg_session *s, uint64_t now)
{
	struct nat_config cfg;
	__u32 zero = 0;

	if (s->log_dropped)
		nat_log("alg: %llu log lines suppressed", (unsigned long long)s->log_dropped);
	s->log_dropped = 0;
	s->log_budget = ALG_SESSION_LOG_PER_SEC;
	if (!bpf_map_lookup_elem(s->m.config, &zero, &cfg) && cfg.timeout_expect)
		s->expect_timeout = cfg.timeout_expect;

	for (int b = 0; b < ALG_SESSION_BUCKETS; b++) {
		for (struct alg_flow *f = s->bucket[b], *next; f; f = next) {
			next = f->next;
			if (!ct_exists(s, &f->okey)) {
				flow_free(s, f);
				continue;
			}
			if (f->want_opaque && !f->handed_back &&
			    now - f->want_since >= ALG_SESSION_OPAQUE_WAIT_NS)
				hand_back(s, f, true);	/* unacked rewrites: the peer is gone anyway */
			if (f->handed_back)
				advise_opaque(s, f);
		}
	}
	for (int i = 0; i < ALG_SESSION_RESV_MAX; i++)
		if (s->resv[i].used && s->resv[i].expires <= now)
			s->resv[i].used = false;
	refs_prune_all(s, now);
}

/* ---------------------------------------------------------------- table */

struct alg_session *alg_session_new(const struct nat_maps *m, uint32_t expect_timeout)
{
	struct alg_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->m = *m;
	s->expect_timeout = expect_timeout;
	s->rng = (__u32)nat_now_ns() | 1;
	s->max_flows = XDPNAT_ALG_MAX;
	s->max_expects = ALG_EXPECT_LIVE_MAX;
	return s;
}

void alg_session_set_limits(struct alg_session *s, unsigned max_flows, unsigned max_expects)
{
	if (max_flows)
		s->max_flows = max_flows;
	if (max_expects)
		s->max_expects = max_expects;
}

unsigned alg_session_hand_back_all(struct alg_session *s)
{
	unsigned n = 0;

	for (int b = 0; b < ALG_SESSION_BUCKETS; b++) {
		for (struct alg_flow *f = s->bucket[b]; f; f = f->next) {
			if (f->handed_back)
				continue;
			hand_back(s, f, false);
			n++;
		}
	}
	return n;
}

/*
 * A saved session this ALG cannot resume (another layout, bytes out of
 * range, no room): give the flow to XDP with the offsets nat_alg has for
 * it (written with the session, before its last segment went out), as a
 * hand-back would. XDP shifts numbers but replays no rewrite and maps no
 * SACK block: the best that is left. False if there was nothing to do.
 */
static bool hand_back_saved(struct alg_session *s, const struct nat_ct_key *okey)
{
	struct nat_alg_value v;
	struct nat_ct_value ov;
	struct nat_ct_key rkey;

	if (ct_get(&s->m.cttab, okey, &ov) || (ov.flags & NAT_CT_F_OPAQUE))
		return false;	/* gone, or XDP's already */
	if (bpf_map_lookup_elem(s->m.alg, okey, &v))
		memset(&v, 0, sizeof(v));	/* never written: nothing rewritten */
	if (!v.opaque_since)
		v.opaque_since = nat_now_ns();
	if (bpf_map_update_elem(s->m.alg, okey, &v, BPF_ANY) && log_ok(s))
		nat_log_at(LOG_ERR, "alg: cannot write nat_alg: %s", strerror(errno));
	ct_twin_key(&rkey, &ov, okey->proto);
	ct_set_flags(s, &rkey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	ct_set_flags(s, okey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ);
	s->st.handed_back++;
	return true;
}

/* The ports of PORT/EPRT commands rewritten and still awaiting their 200
 * are reserved again, so that map_port does not hand them out twice. */
static void resv_restore(struct alg_session *s, const struct alg_flow *f)
{
	const struct alg_ftp_conn *c = &f->conn;

	for (unsigned i = 0; i < c->cmd_n; i++) {
		const struct alg_ftp_cmd *cmd = &c->cmdq[(c->cmd_head + i) % ALG_FTP_CMDQ_MAX];
		struct alg_resv *slot = NULL;

		if (!cmd->pending)
			continue;
		for (int j = 0; j < ALG_SESSION_RESV_MAX && !slot; j++)
			if (!s->resv[j].used)
				slot = &s->resv[j];
		if (!slot)
			return;
		*slot = (struct alg_resv){
			.remote = c->nat.server_addr, .outside = c->nat.client_outside,
			.port_host = cmd->outside_port_host, .used = true, .flow = f,
			.expires = nat_now_ns() + (__u64)s->expect_timeout * NS_PER_SEC,
		};
	}
}

/* A saved session of this layout back into the table; NULL if it cannot be. */
static struct alg_flow *flow_restore(struct alg_session *s, const struct nat_ct_key *key,
				     const struct nat_ct_value *ov, const struct nat_alg_state *st)
{
	struct alg_saved sv;
	struct alg_flow *f;
	unsigned h = key_hash(key);

	if (st->version != state_version() || st->len != sizeof(sv))
		return NULL;
	memcpy(&sv, st->data, sizeof(sv));
	sv.conn.map_port = map_port;	/* before the check: it wants a conn as it will run */
	if (memcmp(&sv.okey, key, sizeof(*key)) || !alg_ftp_conn_valid(&sv.conn) ||
	    sv.n_exp > ALG_EXPECT_PER_SESSION || s->n_flows >= s->max_flows ||
	    flow_find(s, key) || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->session = s;
	f->okey = sv.okey;
	f->wan_ifindex = sv.wan_ifindex;
	f->isn[0] = sv.isn[0];
	f->isn[1] = sv.isn[1];
	f->seen_data[0] = sv.seen_data[0];
	f->seen_data[1] = sv.seen_data[1];
	f->isn_known[0] = sv.isn_known[0];
	f->isn_known[1] = sv.isn_known[1];
	f->want_opaque = sv.want_opaque;
	f->handed_back = sv.handed_back;
	f->want_since = sv.want_since;
	f->v = sv.v;
	f->n_exp = sv.n_exp;
	memcpy(f->exp, sv.exp, sizeof(f->exp));
	f->conn = sv.conn;
	f->conn.map_ctx = f;
	f->assured = nat_ct_assured(key->proto, ov->state);
	f->next = s->bucket[h];
	s->bucket[h] = f;
	s->n_flows++;
	s->n_expects += f->n_exp;
	ev_update(s, f);
	resv_restore(s, f);
	return f;
}

/* Every key of nat_alg_state, collected before anything is written back
 * to the map (a write can move an entry within the walk). */
static struct nat_ct_key *state_keys(struct alg_session *s, size_t *n)
{
	struct nat_ct_key *keys = calloc(XDPNAT_ALG_MAX, sizeof(*keys)), cur, next;
	const void *prev = NULL;

	*n = 0;
	if (!keys)
		return NULL;
	while (*n < XDPNAT_ALG_MAX && !bpf_map_get_next_key(s->m.alg_state, prev, &next)) {
		cur = next;
		prev = &cur;
		keys[(*n)++] = cur;
	}
	return keys;
}

int alg_session_restore(struct alg_session *s, bool resume, struct alg_restore_stats *r)
{
	struct nat_alg_state *st = malloc(sizeof(*st));
	struct nat_ct_key *keys;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (s->m.alg_state < 0) {
		free(st);
		return 0;
	}
	keys = state_keys(s, &n);
	if (!st || !keys) {
		free(st);
		free(keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct nat_ct_value ov;
		struct alg_flow *f;

		if (bpf_map_lookup_elem(s->m.alg_state, &keys[i], st))
			continue;
		if (ct_get(&s->m.cttab, &keys[i], &ov)) {
			r->gone++;	/* the GC deletes it */
			continue;
		}
		f = flow_restore(s, &keys[i], &ov, st);
		if (!f) {
			r->foreign += hand_back_saved(s, &keys[i]);
			continue;
		}
		r->restored++;
		if (!resume && !f->handed_back) {
			hand_back(s, f, false);
			r->handed_back++;
		}
	}
	free(st);
	free(keys);
	return 0;
}

void alg_session_free(struct alg_session *s)
{
	if (!s)
		return;
	for (int b = 0; b < ALG_SESSION_BUCKETS; b++) {
		for (struct alg_flow *f = s->bucket[b], *next; f; f = next) {
			next = f->next;
			free(f);
		}
	}
	free(s);
}

unsigned alg_session_count(const struct alg_session *s)
{
	unsigned n = 0;

	for (int b = 0; b < ALG_SESSION_BUCKETS; b++)
		for (const struct alg_flow *f = s->bucket[b]; f; f = f->next)
			n += !f->handed_back;
	return n;
}

unsigned alg_session_expects(const struct alg_session *s)
{
	return s->n_expects;
}

const struct alg_session_stats *alg_session_get_stats(const struct alg_session *s)
{
	return &s->st;
}

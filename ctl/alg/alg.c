/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg.c - the FTP ALG over AF_XDP: sockets, the packet loop, flow table,
 * expectations and the hand-back to XDP. The protocol itself is in
 * alg_ftp.c; this file moves bytes and keeps the maps in step.
 *
 * Sockets. One AF_XDP socket per attached interface and rx queue, in copy
 * mode, bound with XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD (xdpnat's own XDP
 * program does the redirect). Each has its own small umem: half of the
 * frames sit in the fill ring for rx, half are a free list for tx. A
 * segment leaves on the queue-0 socket of its egress interface, copied into
 * that socket's umem. Copy mode works on any driver, and the control
 * connections of FTP are a few packets per second.
 *
 * Flows. One entry per control connection, keyed by its NAT_DIR_ORIG
 * nat_ct key, created at the SYN (or the first packet seen: the SYN may
 * have taken the kernel path) and dropped when the flow's nat_ct entry is
 * gone. At most XDPNAT_ALG_MAX; a flow that finds the table full is handed
 * to XDP at once, uninspected.
 *
 * Hand-back. When the core says GO_OPAQUE (AUTH answered 234, not FTP,
 * gave up), the flow stays here until every rewrite has been acknowledged
 * (XDP can shift sequence numbers but not replay a rewrite), at most
 * ALG_OPAQUE_WAIT_NS; then nat_alg gets the final offsets and both nat_ct
 * entries get NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ. A hash map value cannot be
 * written in part from user space, so that is a read-modify-write of each
 * entry: counters (packets, bytes, last_seen) or a NAT_CT_F_FIN the data
 * path writes between our read and our write are lost. That is once per
 * flow; a lost FIN flag only delays the CLOSING state to the next FIN/RST
 * or leaves the flow to the established timeout.
 *
 * Housekeeping, once a second: expectations that expired or whose control
 * flow has no nat_ct entry any more are deleted (the data path ignores
 * expired ones, but they must not outlive their control connection), as
 * are flows and nat_alg entries whose nat_ct entry is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include "alg/alg.h"
#include "alg/alg_ftp.h"
#include "common/log.h"

#define ALG_FRAME_SIZE		XSK_UMEM__DEFAULT_FRAME_SIZE
#define ALG_RING		32		/* fill, completion, rx and tx rings */
#define ALG_FRAMES		(2 * ALG_RING)	/* first half rx (fill), second half tx */
#define ALG_RX_BATCH		16
#define ALG_BUCKETS		1024
#define ALG_RESV_MAX		256		/* ports given out, not yet expected */
#define ALG_PORT_TRIES		64
#define ALG_OPAQUE_WAIT_NS	(5ULL * NS_PER_SEC)
#define ALG_TICK_NS		NS_PER_SEC
#define ALG_LOG_PER_SEC		20
#define NS_PER_SEC		1000000000ULL
#define ALG_ADVISED_MAX		64

#define ETH_HLEN_		14
#define ETH_P_IP_		0x0800
#define TCPF_SYN_		0x02
#define TCPF_ACK_		0x10
#define TCPOPT_SACK_		5

struct alg_xsk {
	int ifindex;
	__u32 map_key;			/* nat_xsks key */
	bool in_map;
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	__u64 tx_free[ALG_RING];	/* tx frames not in flight */
	unsigned n_tx_free;
	bool kick;			/* tx descriptors submitted since the last sendto */
};

/* A port map_port gave out, held until its expectation opens or is
 * cancelled, at most expect-timeout. */
struct alg_resv {
	__be32 remote, outside;
	__u16 port_host;
	bool used;
	__u64 expires;
	const struct alg_flow *flow;
};

struct alg_flow {
	struct alg_flow *next;
	struct alg *a;
	struct nat_ct_key okey;		/* NAT_DIR_ORIG key: the table key and nat_alg key */
	__u32 wan_ifindex;
	bool seen_data[2];		/* payload seen in this direction */
	bool isn_known[2];
	__u32 isn[2];			/* seq of the SYN / SYN-ACK seen */
	bool want_opaque;
	bool handed_back;
	__u64 want_since;
	struct nat_alg_value v;		/* as last written to nat_alg */
	struct alg_ftp_conn conn;
};

struct alg {
	struct alg_maps m;
	struct alg_iface ifs[XDPNAT_MAX_IFACES];
	int mtu[XDPNAT_MAX_IFACES];
	struct alg_xsk *tx_xsk[XDPNAT_MAX_IFACES];	/* queue 0 of each interface */
	int n_ifs;
	struct alg_xsk *xsks;
	int n_xsks;
	struct pollfd *pfd;		/* n_xsks sockets, then the wake eventfd */
	int wake_fd;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;

	struct alg_flow *bucket[ALG_BUCKETS];
	unsigned n_flows;
	struct alg_resv resv[ALG_RESV_MAX];
	__u32 expect_timeout;		/* seconds, from nat_config */
	__u64 next_tick;
	__u32 rng;
	bool full_logged;
	__be32 advised[ALG_ADVISED_MAX];	/* servers the operator was told about */
	unsigned n_advised;
	unsigned log_budget;		/* per-flow log lines left this second */
	uint64_t log_dropped;

	struct alg_stats st;		/* thread-private */
	struct alg_stats pub;		/* published each tick, under lock */
	pthread_mutex_t lock;

	uint8_t out[ALG_FRAME_SIZE];	/* rewritten payload */
};

/* ---------------------------------------------------------------- helpers */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NS_PER_SEC + (__u64)ts.tv_nsec;
}

static void key_reverse(struct nat_ct_key *r, __be32 saddr, __be32 daddr, __be16 sport,
			__be16 dport, __u8 proto)
{
	memset(r, 0, sizeof(*r));
	r->saddr = daddr;
	r->daddr = saddr;
	r->sport = dport;
	r->dport = sport;
	r->proto = proto;
}

static const char *key_str(const struct nat_ct_key *k, char *buf, size_t len)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &k->saddr, s, sizeof(s));
	inet_ntop(AF_INET, &k->daddr, d, sizeof(d));
	snprintf(buf, len, "%s:%u -> %s:%u", s, ntohs(k->sport), d, ntohs(k->dport));
	return buf;
}

/* Per-flow events are logged at most ALG_LOG_PER_SEC a second: a peer
 * must not be able to make the thread wait for a slow log reader. */
static bool log_ok(struct alg *a)
{
	if (a->log_budget) {
		a->log_budget--;
		return true;
	}
	a->log_dropped++;
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

static __u32 rng_next(struct alg *a)
{
	/* xorshift32: port candidates only, not a secret */
	a->rng ^= a->rng << 13;
	a->rng ^= a->rng >> 17;
	a->rng ^= a->rng << 5;
	return a->rng;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static int if_idx_of(const struct alg *a, int ifindex)
{
	for (int i = 0; i < a->n_ifs; i++)
		if (a->ifs[i].ifindex == ifindex)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- flows */

static unsigned key_hash(const struct nat_ct_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % ALG_BUCKETS;
}

static struct alg_flow *flow_find(struct alg *a, const struct nat_ct_key *okey)
{
	for (struct alg_flow *f = a->bucket[key_hash(okey)]; f; f = f->next)
		if (!memcmp(&f->okey, okey, sizeof(*okey)))
			return f;
	return NULL;
}

static void resv_release_flow(struct alg *a, const struct alg_flow *f)
{
	for (int i = 0; i < ALG_RESV_MAX; i++)
		if (a->resv[i].used && a->resv[i].flow == f)
			a->resv[i].used = false;
}

static void flow_free(struct alg *a, struct alg_flow *f)
{
	struct alg_flow **pp = &a->bucket[key_hash(&f->okey)];

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	resv_release_flow(a, f);
	bpf_map_delete_elem(a->m.alg, &f->okey);
	free(f);
	a->n_flows--;
}

static void alg_write(struct alg *a, struct alg_flow *f)
{
	f->v.state = (__u8)alg_ftp_get_state(&f->conn);
	f->v.delta[0] = alg_ftp_delta(&f->conn, ALG_FTP_FROM_CLIENT);
	f->v.delta[1] = alg_ftp_delta(&f->conn, ALG_FTP_FROM_SERVER);
	if (bpf_map_update_elem(a->m.alg, &f->okey, &f->v, BPF_ANY) && log_ok(a))
		nat_log("alg: cannot write nat_alg: %s", strerror(errno));
}

/* Set flags in one nat_ct entry (read-modify-write: see the top). */
static int ct_set_flags(struct alg *a, const struct nat_ct_key *k, __u8 flags)
{
	struct nat_ct_value v;

	if (bpf_map_lookup_elem(a->m.ct, k, &v))
		return -1;
	if ((v.flags & flags) == flags)
		return 0;
	v.flags |= flags;
	return bpf_map_update_elem(a->m.ct, k, &v, BPF_EXIST) ? -1 : 0;
}

/* From here on XDP forwards the flow itself, applying the final offsets. */
static void hand_back(struct alg *a, struct alg_flow *f, bool log)
{
	struct nat_ct_value ov;
	struct nat_ct_key rkey;
	char buf[64];

	f->handed_back = true;
	f->v.opaque_since = now_ns();
	alg_write(a, f);
	if (bpf_map_lookup_elem(a->m.ct, &f->okey, &ov))
		return;		/* the flow is gone */
	key_reverse(&rkey, ov.to_saddr, ov.to_daddr, ov.to_sport, ov.to_dport, f->okey.proto);
	if (ct_set_flags(a, &rkey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ) ||
	    ct_set_flags(a, &f->okey, NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ)) {
		if (log_ok(a))
			nat_log("alg: cannot hand %s back to XDP: %s",
				key_str(&f->okey, buf, sizeof(buf)), strerror(errno));
	}
	a->st.handed_back++;
	if (log && log_ok(a))
		nat_log("alg: %s handed back to XDP (%s), offsets %+d/%+d, %llu packets inspected",
			key_str(&f->okey, buf, sizeof(buf)), why_name(f->conn.why), f->v.delta[0],
			f->v.delta[1], (unsigned long long)f->v.user_packets);
}

static int map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *outside_port_host);

/* The orig entry ov of flow okey: what the ALG needs to know about it. */
static void flow_init(struct alg_flow *f, const struct nat_ct_key *okey,
		      const struct nat_ct_value *ov)
{
	struct alg_ftp_nat nat = {};

	f->okey = *okey;
	f->wan_ifindex = ov->wan_ifindex;
	f->seen_data[0] = f->seen_data[1] = false;
	f->isn_known[0] = f->isn_known[1] = false;
	f->want_opaque = f->handed_back = false;
	memset(&f->v, 0, sizeof(f->v));
	if (ov->kind == NAT_KIND_MASQ) {
		nat.mode = ALG_FTP_MASQ;
		nat.client_addr = okey->saddr;
		nat.client_outside = ov->to_saddr;
		nat.server_addr = okey->daddr;
		nat.server_outside = okey->daddr;
	} else if (ov->kind == NAT_KIND_FORWARD) {
		nat.mode = ALG_FTP_FORWARD;
		nat.client_addr = okey->saddr;
		nat.client_outside = okey->saddr;
		nat.server_addr = ov->to_daddr;
		nat.server_outside = okey->daddr;
	}
	alg_ftp_init(&f->conn, &nat, map_port, f);
}

static struct alg_flow *flow_new(struct alg *a, const struct nat_ct_key *okey,
				 const struct nat_ct_value *ov)
{
	struct alg_flow *f;
	unsigned h = key_hash(okey);

	if (a->n_flows >= XDPNAT_ALG_MAX || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->a = a;
	flow_init(f, okey, ov);
	f->next = a->bucket[h];
	a->bucket[h] = f;
	a->n_flows++;
	return f;
}

/* A flow that cannot be inspected (table full, a kind the ALG does not
 * handle) goes back to XDP at once: nothing was rewritten, no offsets. */
static void hand_back_uninspected(struct alg *a, const struct nat_ct_key *okey,
				  const struct nat_ct_value *ov)
{
	struct nat_ct_key rkey;
	char buf[64];

	key_reverse(&rkey, ov->to_saddr, ov->to_daddr, ov->to_sport, ov->to_dport, okey->proto);
	ct_set_flags(a, &rkey, NAT_CT_F_OPAQUE);
	ct_set_flags(a, okey, NAT_CT_F_OPAQUE);
	a->st.uninspected++;
	if (!a->full_logged)
		nat_log("alg: %s passes uninspected: %u control flows inspected already, or not a "
			"masqueraded or forwarded flow (logged once)",
			key_str(okey, buf, sizeof(buf)), a->n_flows);
	a->full_logged = true;
}

/* ---------------------------------------------------------------- expectations */

static struct alg_resv *resv_find(struct alg *a, __be32 remote, __be32 outside, __u16 port)
{
	for (int i = 0; i < ALG_RESV_MAX; i++) {
		struct alg_resv *r = &a->resv[i];

		if (r->used && r->remote == remote && r->outside == outside && r->port_host == port)
			return r;
	}
	return NULL;
}

static bool port_free(struct alg *a, const struct alg_flow *f, const struct alg_ftp_map_req *req,
		      __u16 port)
{
	struct nat_expect_key ek = {
		.raddr = req->remote_addr, .waddr = req->outside_addr, .wport = htons(port),
		.proto = req->proto,
	};
	struct nat_fwd_key fk = { .ifindex = f->wan_ifindex, .port = htons(port), .proto = req->proto };
	struct nat_expect_value ev;
	struct nat_fwd_value fv;

	if (port < ALG_FTP_PORT_MIN || resv_find(a, req->remote_addr, req->outside_addr, port))
		return false;
	if (!bpf_map_lookup_elem(a->m.expect, &ek, &ev))
		return false;
	/* A forwarded port is taken, unless it leads to the very same place. */
	if (a->m.forwards >= 0 && !bpf_map_lookup_elem(a->m.forwards, &fk, &fv) &&
	    (fv.addr != req->inside_addr || fv.port != htons(req->inside_port_host)))
		return false;
	return true;
}

/* alg_ftp_map_port_fn: the inside port itself when free, else another. */
static int map_port(void *ctx, const struct alg_ftp_map_req *req, uint16_t *outside_port_host)
{
	struct alg_flow *f = ctx;
	struct alg *a = f->a;
	struct alg_resv *slot = NULL;
	__u16 port = req->inside_port_host;

	for (int i = 0; i < ALG_RESV_MAX && !slot; i++)
		if (!a->resv[i].used)
			slot = &a->resv[i];
	if (!slot)
		return -1;
	for (int i = 0; i <= ALG_PORT_TRIES; i++) {
		if (i)
			port = (__u16)(ALG_FTP_PORT_MIN + rng_next(a) % (65536 - ALG_FTP_PORT_MIN));
		if (!port_free(a, f, req, port))
			continue;
		*slot = (struct alg_resv){
			.remote = req->remote_addr, .outside = req->outside_addr, .port_host = port,
			.used = true, .flow = f,
			.expires = now_ns() + (__u64)a->expect_timeout * NS_PER_SEC,
		};
		*outside_port_host = port;
		return 0;
	}
	return -1;
}

static void expect_key(const struct alg_ftp_event *ev, struct nat_expect_key *k)
{
	memset(k, 0, sizeof(*k));
	k->raddr = ev->remote_addr;
	k->waddr = ev->outside_addr;
	k->wport = htons(ev->outside_port_host);
	k->proto = ev->proto;
}

static void expect_open(struct alg *a, struct alg_flow *f, const struct alg_ftp_event *ev)
{
	struct nat_expect_key k;
	struct nat_expect_value v = {
		.to_addr = ev->inside_addr, .to_port = htons(ev->inside_port_host),
		.dir = 0,	/* always remote -> inside host */
		.expires = now_ns() + (__u64)a->expect_timeout * NS_PER_SEC,
		.ctl = f->okey,
	};
	char r[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN], i[INET_ADDRSTRLEN];

	expect_key(ev, &k);
	if (bpf_map_update_elem(a->m.expect, &k, &v, BPF_ANY)) {
		if (log_ok(a))
			nat_log("alg: cannot write nat_expect: %s", strerror(errno));
		return;
	}
	a->st.expects_opened++;
	if (!log_ok(a))
		return;
	inet_ntop(AF_INET, &ev->remote_addr, r, sizeof(r));
	inet_ntop(AF_INET, &ev->outside_addr, o, sizeof(o));
	inet_ntop(AF_INET, &ev->inside_addr, i, sizeof(i));
	nat_log("alg: expect %s -> %s:%u => %s:%u (%us)", r, o, ev->outside_port_host, i,
		ev->inside_port_host, a->expect_timeout);
}

/* Delete an expectation if it is still the one this flow opened. */
static void expect_cancel(struct alg *a, struct alg_flow *f, const struct alg_ftp_event *ev)
{
	struct nat_expect_key k;
	struct nat_expect_value v;

	expect_key(ev, &k);
	if (bpf_map_lookup_elem(a->m.expect, &k, &v) || memcmp(&v.ctl, &f->okey, sizeof(v.ctl)))
		return;
	if (!bpf_map_delete_elem(a->m.expect, &k))
		a->st.expects_removed++;
}

static void handle_events(struct alg *a, struct alg_flow *f, const struct alg_ftp_result *res)
{
	for (unsigned i = 0; i < res->n_events; i++) {
		const struct alg_ftp_event *ev = &res->ev[i];
		struct alg_resv *r;

		switch (ev->kind) {
		case ALG_FTP_EV_EXPECT_OPEN:
		case ALG_FTP_EV_EXPECT_CANCEL:
			r = resv_find(a, ev->remote_addr, ev->outside_addr, ev->outside_port_host);
			if (r && r->flow == f)
				r->used = false;
			if (ev->kind == ALG_FTP_EV_EXPECT_OPEN)
				expect_open(a, f, ev);
			else
				expect_cancel(a, f, ev);
			break;
		case ALG_FTP_EV_GO_OPAQUE:
			if (!f->want_opaque) {
				f->want_opaque = true;
				f->want_since = now_ns();
			}
			break;
		}
	}
}

/* ---------------------------------------------------------------- sockets */

static void xsk_reclaim(struct alg_xsk *x)
{
	__u32 idx, n = xsk_ring_cons__peek(&x->comp, ALG_RING, &idx);

	for (__u32 i = 0; i < n; i++)
		if (x->n_tx_free < ALG_RING)
			x->tx_free[x->n_tx_free++] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&x->comp, n);
}

static void xsk_kick(struct alg_xsk *x)
{
	if (!x->kick)
		return;
	/* copy mode: the kernel sends the tx ring in this call; EAGAIN/EBUSY
	 * leave descriptors there for the next kick */
	if (sendto(xsk_socket__fd(x->sock), NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
	    (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS))
		x->kick = false;
}

static void xsk_refill(struct alg_xsk *x, const __u64 *addrs, __u32 n)
{
	__u32 idx;

	if (!n)
		return;
	/* the fill ring holds all rx frames: room is always there */
	if (xsk_ring_prod__reserve(&x->fill, n, &idx) != n)
		return;
	for (__u32 i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = addrs[i];
	xsk_ring_prod__submit(&x->fill, n);
}

/* ---------------------------------------------------------------- packets */

struct seg {
	uint8_t *frame;			/* rx frame: Ethernet header on */
	size_t ip_off, tcp_off, pay_off;
	size_t ihl, thl, pay_len;
	uint8_t flags;
	uint32_t seq, ack;
};

/* Ethernet + IPv4 without fragmentation + TCP; lengths consistent. */
static int seg_parse(uint8_t *frame, size_t len, struct seg *s)
{
	size_t tot;

	memset(s, 0, sizeof(*s));
	s->frame = frame;
	if (len < ETH_HLEN_ + 20 + 20 || (frame[12] << 8 | frame[13]) != ETH_P_IP_)
		return -1;
	s->ip_off = ETH_HLEN_;
	if ((frame[s->ip_off] >> 4) != 4)
		return -1;
	s->ihl = (size_t)(frame[s->ip_off] & 0xf) * 4;
	tot = (size_t)(frame[s->ip_off + 2] << 8 | frame[s->ip_off + 3]);
	if (s->ihl < 20 || frame[s->ip_off + 9] != IPPROTO_TCP || tot > len - ETH_HLEN_ ||
	    ((frame[s->ip_off + 6] << 8 | frame[s->ip_off + 7]) & 0x3fff))
		return -1;
	s->tcp_off = s->ip_off + s->ihl;
	if (tot < s->ihl + 20)
		return -1;
	s->thl = (size_t)(frame[s->tcp_off + 12] >> 4) * 4;
	if (s->thl < 20 || s->ihl + s->thl > tot)
		return -1;
	s->pay_off = s->tcp_off + s->thl;
	s->pay_len = tot - s->ihl - s->thl;
	s->flags = frame[s->tcp_off + 13];
	memcpy(&s->seq, frame + s->tcp_off + 4, 4);
	memcpy(&s->ack, frame + s->tcp_off + 8, 4);
	s->seq = ntohl(s->seq);
	s->ack = ntohl(s->ack);
	return 0;
}

static void put32(uint8_t *p, uint32_t host)
{
	uint32_t n = htonl(host);

	memcpy(p, &n, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

/* Map the SACK blocks of a TCP header (options start at opt, end at end).
 * A block that became empty is replaced by a copy of one that did not;
 * if none is left the option becomes NOPs. The header length never changes. */
static void sack_map(struct alg_flow *f, enum alg_ftp_dir dir, uint8_t *opt, uint8_t *end)
{
	while (opt < end) {
		uint8_t kind = opt[0], olen;

		if (kind == 0)
			return;
		if (kind == 1) {
			opt++;
			continue;
		}
		if (opt + 1 >= end || (olen = opt[1]) < 2 || opt + olen > end)
			return;
		if (kind == TCPOPT_SACK_ && olen >= 10 && (olen - 2) % 8 == 0) {
			unsigned n = (olen - 2) / 8, keep = 0;
			uint32_t l[4], r[4];

			for (unsigned i = 0; i < n && i < 4; i++) {
				uint32_t bl = get32(opt + 2 + 8 * i), br = get32(opt + 6 + 8 * i);

				if (alg_ftp_sack_in(&f->conn, dir, &bl, &br)) {
					l[keep] = bl;
					r[keep++] = br;
				}
			}
			if (!keep) {
				memset(opt, 1, olen);
			} else {
				for (unsigned i = 0; i < n && i < 4; i++) {
					put32(opt + 2 + 8 * i, l[i < keep ? i : 0]);
					put32(opt + 6 + 8 * i, r[i < keep ? i : 0]);
				}
			}
		}
		opt += olen;
	}
}

/* Copy the segment into a tx frame of x with payload (pay, pay_len), seq,
 * ack and SACK mapped, checksums recomputed, and queue it. */
static int seg_send(struct alg *a, struct alg_xsk *x, struct alg_flow *f, enum alg_ftp_dir dir,
		    const struct seg *s, const uint8_t *pay, size_t pay_len, uint32_t seq,
		    uint32_t ack)
{
	size_t hdr = s->pay_off, tcp_len = s->thl + pay_len;
	uint8_t *o, *ip, *th;
	uint32_t sum;
	__u64 addr;
	__u32 idx;

	if (hdr + pay_len > ALG_FRAME_SIZE)
		return -1;
	if (!x->n_tx_free)
		xsk_reclaim(x);
	if (!x->n_tx_free || xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		a->st.no_tx_room++;
		return -1;
	}
	addr = x->tx_free[--x->n_tx_free];
	o = xsk_umem__get_data(x->area, addr);
	memcpy(o, s->frame, hdr);
	memcpy(o + hdr, pay, pay_len);
	ip = o + s->ip_off;
	th = o + s->tcp_off;

	ip[2] = (uint8_t)((s->ihl + tcp_len) >> 8);
	ip[3] = (uint8_t)(s->ihl + tcp_len);
	ip[10] = ip[11] = 0;
	sum = csum_fold(csum_add(0, ip, s->ihl));
	memcpy(ip + 10, &sum, 2);

	if (f) {
		put32(th + 4, seq);
		if (s->flags & TCPF_ACK_)
			put32(th + 8, ack);
		sack_map(f, dir, th + 20, th + s->thl);
	}
	th[16] = th[17] = 0;
	sum = csum_add(0, ip + 12, 8);		/* saddr, daddr */
	sum += IPPROTO_TCP + (uint32_t)tcp_len;
	sum = csum_fold(csum_add(sum, th, tcp_len));
	memcpy(th + 16, &sum, 2);

	xsk_ring_prod__tx_desc(&x->tx, idx)->addr = addr;
	xsk_ring_prod__tx_desc(&x->tx, idx)->len = (__u32)(hdr + pay_len);
	xsk_ring_prod__tx_desc(&x->tx, idx)->options = 0;
	xsk_ring_prod__submit(&x->tx, 1);
	x->kick = true;
	a->st.tx++;
	return 0;
}

/* The flow of a packet that matched nat_ct entry (key, v), created if
 * new; NULL when it is not inspected (then it was handed back). */
static struct alg_flow *flow_of(struct alg *a, const struct nat_ct_key *key,
				const struct nat_ct_value *v, const struct seg *s,
				enum alg_ftp_dir *dir)
{
	struct nat_ct_key okey;
	struct nat_ct_value ov;
	struct alg_flow *f;

	if (v->dir == NAT_DIR_ORIG) {
		okey = *key;
		ov = *v;
	} else if (v->dir == NAT_DIR_REPLY) {
		key_reverse(&okey, v->to_saddr, v->to_daddr, v->to_sport, v->to_dport, key->proto);
		if (bpf_map_lookup_elem(a->m.ct, &okey, &ov))
			return NULL;
	} else {
		return NULL;
	}
	*dir = v->dir == NAT_DIR_ORIG ? ALG_FTP_FROM_CLIENT : ALG_FTP_FROM_SERVER;
	f = flow_find(a, &okey);
	if (f && (s->flags & TCPF_SYN_) && !(f->isn_known[*dir] && f->isn[*dir] == s->seq) &&
	    (f->handed_back || f->seen_data[0] || f->seen_data[1])) {
		/* a new connection on the tuple of a finished one (not a
		 * retransmitted SYN: that has the ISN seen before) */
		resv_release_flow(a, f);
		flow_init(f, &okey, &ov);
	}
	if (!f && (ov.kind == NAT_KIND_MASQ || ov.kind == NAT_KIND_FORWARD))
		f = flow_new(a, &okey, &ov);
	if (!f) {
		hand_back_uninspected(a, &okey, &ov);
		return NULL;
	}
	if ((s->flags & TCPF_SYN_) && !f->seen_data[*dir]) {
		f->isn_known[*dir] = true;
		f->isn[*dir] = s->seq;
		alg_ftp_set_isn(&f->conn, *dir, s->seq);
	}
	return f;
}

static void handle_frame(struct alg *a, struct alg_xsk *rx, const struct xdp_desc *d)
{
	uint8_t *frame = xsk_umem__get_data(rx->area, d->addr);
	struct nat_alg_meta meta;
	struct nat_ct_value v;
	struct alg_ftp_result res;
	enum alg_ftp_dir dir = ALG_FTP_FROM_CLIENT;
	struct alg_flow *f;
	struct alg_xsk *tx;
	struct seg s;
	int eg;
	size_t cap;
	uint32_t ack;

	a->st.rx++;
	if ((d->addr % ALG_FRAME_SIZE) < sizeof(meta) || seg_parse(frame, d->len, &s)) {
		a->st.bad_frame++;
		return;
	}
	memcpy(&meta, frame - sizeof(meta), sizeof(meta));
	eg = if_idx_of(a, (int)meta.egress_ifindex);
	if ((int)meta.ingress_ifindex != rx->ifindex || eg < 0 || !(tx = a->tx_xsk[eg])) {
		a->st.bad_frame++;	/* no metadata, or an egress we have no socket on */
		return;
	}
	if (bpf_map_lookup_elem(a->m.ct, &meta.key, &v)) {
		a->st.no_flow++;	/* the flow went away meanwhile: as it is */
		seg_send(a, tx, NULL, dir, &s, frame + s.pay_off, s.pay_len, 0, 0);
		return;
	}
	f = flow_of(a, &meta.key, &v, &s, &dir);
	if (!f) {
		seg_send(a, tx, NULL, dir, &s, frame + s.pay_off, s.pay_len, 0, 0);
		return;
	}

	cap = (size_t)a->mtu[eg] > s.ihl + s.thl ? (size_t)a->mtu[eg] - s.ihl - s.thl : 0;
	if (cap > ALG_FRAME_SIZE - s.pay_off)
		cap = ALG_FRAME_SIZE - s.pay_off;
	if (s.flags & TCPF_SYN_) {
		/* a SYN's payload (TCP Fast Open) is not FTP: forwarded as is */
		res = (struct alg_ftp_result){ .verdict = ALG_FTP_PASS,
					       .seq = alg_ftp_seq_out(&f->conn, dir, s.seq) };
	} else {
		alg_ftp_process(&f->conn, dir, s.seq, frame + s.pay_off, s.pay_len, a->out, cap,
				&res);
		if (s.pay_len)
			f->seen_data[dir] = true;
	}
	ack = (s.flags & TCPF_ACK_) ? alg_ftp_ack_in(&f->conn, dir, s.ack) : s.ack;
	handle_events(a, f, &res);
	f->v.user_packets++;

	if (res.verdict == ALG_FTP_DROP) {
		a->st.dropped++;
	} else if (res.verdict == ALG_FTP_REWRITTEN) {
		a->st.rewritten++;
		seg_send(a, tx, f, dir, &s, a->out, res.out_len, res.seq, ack);
	} else {
		seg_send(a, tx, f, dir, &s, frame + s.pay_off, s.pay_len, res.seq, ack);
	}
	if (f->want_opaque && !f->handed_back && alg_ftp_rewrites_acked(&f->conn))
		hand_back(a, f, true);
	else
		alg_write(a, f);
}

static void poll_rx(struct alg *a, struct alg_xsk *x)
{
	__u64 done[ALG_RX_BATCH];
	__u32 idx, n = xsk_ring_cons__peek(&x->rx, ALG_RX_BATCH, &idx);

	for (__u32 i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);

		handle_frame(a, x, d);
		done[i] = d->addr - d->addr % ALG_FRAME_SIZE;
	}
	if (n) {
		xsk_ring_cons__release(&x->rx, n);
		xsk_refill(x, done, n);
	}
}

/* ---------------------------------------------------------------- housekeeping */

static bool ct_exists(struct alg *a, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	return bpf_map_lookup_elem(a->m.ct, k, &v) == 0;
}

/* Delete expectations that expired or whose control flow is gone. Keys are
 * collected first: deleting during a get_next_key walk restarts it. */
static void expect_sweep(struct alg *a, __u64 now)
{
	struct nat_expect_key key, next, *list = NULL;
	struct nat_expect_value v;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(a->m.expect, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(a->m.expect, &key, &v) ||
		    (v.expires > now && ct_exists(a, &v.ctl)))
			continue;
		if (n == cap) {
			void *p = realloc(list, (cap = cap ? 2 * cap : 64) * sizeof(*list));

			if (!p)
				break;
			list = p;
		}
		list[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		if (!bpf_map_delete_elem(a->m.expect, &list[i]))
			a->st.expects_removed++;
	free(list);
}

/*
 * An opaque FTP session through a forward (the ALG cannot see its passive
 * port any more) followed by a refused connection from the same peer to
 * the same WAN address: the seed case. Tell the operator, once per server,
 * what the server needs.
 */
static void advise_opaque(struct alg *a, const struct alg_flow *f)
{
	struct nat_refused_key rk = { .raddr = f->okey.saddr, .waddr = f->okey.daddr };
	struct nat_refused_value rv;
	__be32 server = f->conn.nat.server_addr;
	char r[INET_ADDRSTRLEN], w[INET_ADDRSTRLEN], srv[INET_ADDRSTRLEN], wan[IF_NAMESIZE];

	if (a->m.refused < 0 || f->conn.nat.mode != ALG_FTP_FORWARD || !f->v.opaque_since)
		return;
	if (bpf_map_lookup_elem(a->m.refused, &rk, &rv) || rv.last < f->v.opaque_since)
		return;
	for (unsigned i = 0; i < a->n_advised; i++)
		if (a->advised[i] == server)
			return;
	if (a->n_advised < ALG_ADVISED_MAX)
		a->advised[a->n_advised++] = server;
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

static void tick(struct alg *a, __u64 now)
{
	struct nat_config cfg;
	__u32 zero = 0;
	struct ifreq ifr;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (a->log_dropped)
		nat_log("alg: %llu log lines suppressed", (unsigned long long)a->log_dropped);
	a->log_dropped = 0;
	a->log_budget = ALG_LOG_PER_SEC;
	if (!bpf_map_lookup_elem(a->m.config, &zero, &cfg) && cfg.timeout_expect)
		a->expect_timeout = cfg.timeout_expect;
	for (int i = 0; sock >= 0 && i < a->n_ifs; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->ifs[i].name);
		if (!ioctl(sock, SIOCGIFMTU, &ifr) && ifr.ifr_mtu >= 576)
			a->mtu[i] = ifr.ifr_mtu;
	}
	if (sock >= 0)
		close(sock);

	for (int b = 0; b < ALG_BUCKETS; b++) {
		for (struct alg_flow *f = a->bucket[b], *next; f; f = next) {
			next = f->next;
			if (!ct_exists(a, &f->okey)) {
				flow_free(a, f);
				continue;
			}
			if (f->want_opaque && !f->handed_back &&
			    now - f->want_since >= ALG_OPAQUE_WAIT_NS)
				hand_back(a, f, true);	/* unacked rewrites: the peer is gone anyway */
			if (f->handed_back)
				advise_opaque(a, f);
		}
	}
	for (int i = 0; i < ALG_RESV_MAX; i++)
		if (a->resv[i].used && a->resv[i].expires <= now)
			a->resv[i].used = false;
	expect_sweep(a, now);

	a->st.flows = a->n_flows;
	pthread_mutex_lock(&a->lock);
	a->pub = a->st;
	pthread_mutex_unlock(&a->lock);
}

/* ---------------------------------------------------------------- thread */

static void *alg_thread(void *arg)
{
	struct alg *a = arg;
	int npfd = a->n_xsks + 1;

	while (!atomic_load(&a->stop)) {
		bool busy = false;
		__u64 now;

		for (int i = 0; i < a->n_xsks; i++)
			busy |= a->xsks[i].kick || a->xsks[i].n_tx_free < ALG_RING;
		/* in flight tx: come back soon to kick again and reclaim */
		if (poll(a->pfd, (nfds_t)npfd, busy ? 1 : 100) < 0 && errno != EINTR) {
			nat_log("alg: poll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < a->n_xsks; i++)
			poll_rx(a, &a->xsks[i]);
		for (int i = 0; i < a->n_xsks; i++) {
			xsk_kick(&a->xsks[i]);
			xsk_reclaim(&a->xsks[i]);
		}
		now = now_ns();
		if (now >= a->next_tick) {
			tick(a, now);
			a->next_tick = now + ALG_TICK_NS;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- setup */

static int rx_queues(const char *ifname)
{
	char path[64 + IF_NAMESIZE];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	dir = opendir(path);
	if (!dir)
		return 1;
	while ((de = readdir(dir)))
		n += !strncmp(de->d_name, "rx-", 3);
	closedir(dir);
	if (n < 1)
		n = 1;
	return n > XDPNAT_XSK_QUEUES ? XDPNAT_XSK_QUEUES : n;
}

static int xsk_open(struct alg *a, struct alg_xsk *x, const struct alg_iface *ifc, __u32 q)
{
	struct xsk_umem_config ucfg = {
		.fill_size = ALG_RING, .comp_size = ALG_RING, .frame_size = ALG_FRAME_SIZE,
		.frame_headroom = 0, .flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = ALG_RING, .tx_size = ALG_RING,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	size_t size = (size_t)ALG_FRAMES * ALG_FRAME_SIZE;
	int err, fd;

	x->ifindex = ifc->ifindex;
	x->map_key = (__u32)ifc->slot * XDPNAT_XSK_QUEUES + q;
	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		nat_log("alg: %s queue %u: cannot map a umem: %s", ifc->name, q, strerror(errno));
		return -1;
	}
	err = xsk_umem__create(&x->umem, x->area, size, &x->fill, &x->comp, &ucfg);
	if (err) {
		x->umem = NULL;
		nat_log("alg: %s queue %u: cannot create a umem: %s", ifc->name, q, strerror(-err));
		return -1;
	}
	err = xsk_socket__create(&x->sock, ifc->name, q, x->umem, &x->rx, &x->tx, &scfg);
	if (err) {
		x->sock = NULL;
		nat_log("alg: %s queue %u: cannot create an AF_XDP socket: %s", ifc->name, q,
			strerror(-err));
		return -1;
	}
	__u64 rx_frames[ALG_RING];

	for (__u32 i = 0; i < ALG_RING; i++) {
		rx_frames[i] = (__u64)i * ALG_FRAME_SIZE;
		x->tx_free[i] = (__u64)(ALG_RING + i) * ALG_FRAME_SIZE;
	}
	x->n_tx_free = ALG_RING;
	xsk_refill(x, rx_frames, ALG_RING);
	fd = xsk_socket__fd(x->sock);
	if (bpf_map_update_elem(a->m.xsks, &x->map_key, &fd, BPF_ANY)) {
		nat_log("alg: %s queue %u: cannot enter the socket in nat_xsks: %s", ifc->name, q,
			strerror(errno));
		return -1;
	}
	x->in_map = true;
	return 0;
}

static void xsk_close(struct alg_xsk *x)
{
	if (x->sock)
		xsk_socket__delete(x->sock);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)ALG_FRAMES * ALG_FRAME_SIZE);
	x->sock = NULL;
	x->umem = NULL;
	x->area = NULL;
}

void alg_stop(struct alg *a)
{
	if (!a)
		return;
	/* out of nat_xsks first: what XDP sends from now on is not queued
	 * for a thread that is about to stop */
	for (int i = 0; i < a->n_xsks; i++) {
		struct alg_xsk *x = &a->xsks[i];

		if (x->in_map && bpf_map_delete_elem(a->m.xsks, &x->map_key) && errno != ENOENT)
			nat_log("alg: cannot remove nat_xsks entry %u: %s", x->map_key,
				strerror(errno));
		x->in_map = false;
	}
	if (a->thread_started) {
		__u64 one = 1;

		atomic_store(&a->stop, true);
		if (write(a->wake_fd, &one, sizeof(one)) < 0)
			nat_log("alg: cannot wake the thread: %s", strerror(errno));
		pthread_join(a->thread, NULL);
	}
	for (int b = 0; b < ALG_BUCKETS; b++) {
		for (struct alg_flow *f = a->bucket[b], *next; f; f = next) {
			next = f->next;
			/* XDP keeps the offsets of what was rewritten so far (a
			 * restart of the ALG, e.g. on reload, must not break it);
			 * without offsets, forwarding uninspected is the same */
			if (!f->handed_back && (alg_ftp_delta(&f->conn, ALG_FTP_FROM_CLIENT) ||
						alg_ftp_delta(&f->conn, ALG_FTP_FROM_SERVER)))
				hand_back(a, f, false);
			free(f);
		}
	}
	for (int i = 0; i < a->n_xsks; i++)
		xsk_close(&a->xsks[i]);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	nat_log("alg: stopped: %llu packets in, %llu out, %llu rewritten, %llu dropped, "
		"%llu bad, %llu without tx room, %llu expectations, %llu flows handed back",
		(unsigned long long)a->st.rx, (unsigned long long)a->st.tx,
		(unsigned long long)a->st.rewritten, (unsigned long long)a->st.dropped,
		(unsigned long long)a->st.bad_frame, (unsigned long long)a->st.no_tx_room,
		(unsigned long long)a->st.expects_opened, (unsigned long long)a->st.handed_back);
	pthread_mutex_destroy(&a->lock);
	free(a->pfd);
	free(a->xsks);
	free(a);
}

struct alg *alg_start(const struct xdpnat_config *cfg, const struct nat_maps *nm,
		      const struct alg_iface *ifs, int n_ifs)
{
	struct alg *a;
	int nq[XDPNAT_MAX_IFACES], total = 0, k = 0, err;

	if (n_ifs < 1 || n_ifs > XDPNAT_MAX_IFACES)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->m = (struct alg_maps){ .ct = nm->ct, .expect = nm->expect, .alg = nm->alg,
				  .xsks = nm->xsks, .config = nm->config,
				  .forwards = nm->forwards, .refused = nm->refused };
	a->n_ifs = n_ifs;
	a->wake_fd = -1;
	a->expect_timeout = cfg->alg_ftp.expect_timeout ? cfg->alg_ftp.expect_timeout
							: NAT_TIMEOUT_EXPECT_DEFAULT;
	a->rng = (__u32)now_ns() | 1;
	pthread_mutex_init(&a->lock, NULL);
	for (int i = 0; i < n_ifs; i++) {
		a->ifs[i] = ifs[i];
		a->mtu[i] = 1500;
		if (ifs[i].slot < 0 || ifs[i].slot >= XDPNAT_MAX_IFACES) {
			nat_log("alg: %s: xsk slot %d out of range", ifs[i].name, ifs[i].slot);
			goto fail;
		}
		nq[i] = rx_queues(ifs[i].name);
		total += nq[i];
	}
	a->xsks = calloc((size_t)total, sizeof(*a->xsks));
	a->pfd = calloc((size_t)total + 1, sizeof(*a->pfd));
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!a->xsks || !a->pfd || a->wake_fd < 0) {
		nat_log("alg: out of resources: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < n_ifs; i++) {
		for (int q = 0; q < nq[i]; q++, k++) {
			a->n_xsks = k + 1;
			if (xsk_open(a, &a->xsks[k], &ifs[i], (__u32)q))
				goto fail;
			if (q == 0)
				a->tx_xsk[i] = &a->xsks[k];
			a->pfd[k] = (struct pollfd){ .fd = xsk_socket__fd(a->xsks[k].sock),
						     .events = POLLIN };
		}
	}
	a->pfd[k] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
	tick(a, now_ns());
	a->next_tick = now_ns() + ALG_TICK_NS;
	err = pthread_create(&a->thread, NULL, alg_thread, a);
	if (err) {
		nat_log("alg: cannot start the thread: %s", strerror(err));
		goto fail;
	}
	a->thread_started = true;
	nat_log("alg: FTP ALG running: %d AF_XDP sockets (copy mode) on %d interfaces", a->n_xsks,
		n_ifs);
	return a;
fail:
	alg_stop(a);
	return NULL;
}

void alg_get_stats(struct alg *a, struct alg_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->pub;
	pthread_mutex_unlock(&a->lock);
}

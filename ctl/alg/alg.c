/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg.c - the FTP ALG's thread (see alg.h): start and stop, the poll loop,
 * the path of one frame (parse, session, protocol core, save, rebuild,
 * transmit), the once-a-second tick, and what happens when the thread
 * fails or no ALG runs (NAT_CFG_F_ALG_OFF).
 *
 * A segment leaves on the queue-0 socket of its egress interface, rebuilt
 * straight into a tx frame of that socket's umem, after its flow has been
 * saved to nat_alg_state.
 *
 * Every rx queue of every interface has a socket: a control packet on a
 * queue without one would be dropped by XDP (a 227 must not pass
 * unrewritten), so an interface with more than XDPNAT_XSK_QUEUES queues
 * is refused at start, and a change of an interface's queue count is
 * logged (a SIGHUP restarts the ALG on the new count, resuming sessions).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "alg/alg.h"
#include "alg/alg_ftp.h"
#include "alg/alg_segment.h"
#include "alg/alg_session.h"
#include "alg/alg_xsk.h"
#include "common/clock.h"
#include "common/log.h"
#include "xdpnat.h"

#define ALG_RX_BATCH		16
#define ALG_TICK_NS		NS_PER_SEC
#define ALG_MTU_DEFAULT		1500
#define ALG_MTU_MIN		576	/* below it the reading is not believed */

/* Counters of the frame path (the data path's are in nat_stats). */
struct alg_frame_stats {
	uint64_t rx;			/* frames read from the sockets */
	uint64_t tx;			/* frames sent */
	uint64_t rewritten;		/* segments whose payload changed */
	uint64_t dropped;		/* ALG verdict DROP */
	uint64_t bad_frame;		/* no metadata / not IPv4 TCP / bad lengths */
	uint64_t no_tx_room;		/* egress socket had no free frame: dropped */
	uint64_t out_of_window;		/* far from the stream: dropped, state untouched */
};

struct alg {
	int xsks_fd;			/* nat_xsks */
	int config_fd;			/* nat_config */
	int stats_fd;			/* nat_alg_stats, -1 without */
	struct nat_alg_stats base;	/* what the ALGs before this one counted */
	struct alg_iface ifs[XDPNAT_MAX_IFACES];
	int nq[XDPNAT_MAX_IFACES];	/* rx queues with a socket */
	int nq_seen[XDPNAT_MAX_IFACES];	/* rx queues at the last tick (logged when it moves) */
	int mtu[XDPNAT_MAX_IFACES];
	struct alg_xsk *tx_xsk[XDPNAT_MAX_IFACES];	/* queue 0 of each interface */
	int l3_fd;			/* AF_PACKET (SOCK_DGRAM): sends to L3 links, -1 = none */
	int n_ifs;
	struct alg_xsk *xsks;
	int n_xsks;
	struct pollfd *pfd;		/* n_xsks sockets, then the wake eventfd */
	int wake_fd;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	atomic_bool failed;		/* the thread left on its own: sessions handed back */
	struct alg_session *session;
	__u64 next_tick;
	struct alg_frame_stats st;	/* the thread's */
	uint8_t out[ALG_XSK_FRAME_SIZE];	/* rewritten payload */
	uint8_t l3_frame[ALG_XSK_FRAME_SIZE];	/* a segment built for an L3 link */
};

static int if_idx_of(const struct alg *a, int ifindex)
{
	for (int i = 0; i < a->n_ifs; i++)
		if (a->ifs[i].ifindex == ifindex)
			return i;
	return -1;
}

/*
 * An L3 link (PPP, WireGuard, tun) takes IP packets, not frames, and an
 * AF_XDP transmit leaves skb->protocol unset, which ppp and wireguard
 * drop: the segment goes out through an AF_PACKET datagram socket
 * instead, without its Ethernet header and with ETH_P_IP. It passes the
 * link's qdisc (a shaper on a PPPoE line keeps working) and tc egress,
 * which lets the WAN's own source address leave as it is.
 */
static void seg_send_l3(struct alg *a, int eg, const struct alg_seg *s,
			const struct alg_seg_rewrite *rw)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = a->ifs[eg].ifindex };
	size_t len = alg_seg_build(s, rw, a->l3_frame, sizeof(a->l3_frame));

	if (len <= ETH_HLEN)
		return;
	if (sendto(a->l3_fd, a->l3_frame + ETH_HLEN, len - ETH_HLEN, MSG_DONTWAIT,
		   (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		a->st.no_tx_room++;
		return;
	}
	a->st.tx++;
}

/* Rebuild s with rw into a tx frame of the egress `eg` and queue it. */
static void seg_send(struct alg *a, int eg, const struct alg_seg *s,
		     const struct alg_seg_rewrite *rw)
{
	struct alg_xsk *x = a->tx_xsk[eg];
	uint8_t *o;
	size_t len;
	__u64 addr;

	if (a->ifs[eg].l3) {
		seg_send_l3(a, eg, s, rw);
		return;
	}
	o = alg_xsk_tx_frame(x, &addr);
	if (!o) {
		a->st.no_tx_room++;
		return;
	}
	len = alg_seg_build(s, rw, o, ALG_XSK_FRAME_SIZE);
	if (!len) {
		alg_xsk_tx_unused(x, addr);
		return;
	}
	if (alg_xsk_tx_submit(x, addr, len)) {
		a->st.no_tx_room++;
		return;
	}
	a->st.tx++;
}

static void handle_frame(struct alg *a, struct alg_xsk *rx, const struct alg_xsk_frame *fr)
{
	struct nat_alg_meta meta;
	struct alg_ftp_result res;
	enum alg_ftp_dir dir = ALG_FTP_FROM_CLIENT;
	struct alg_seg_rewrite rw;
	struct alg_flow *f;
	struct alg_seg s;
	int eg;
	size_t cap;

	a->st.rx++;
	if (fr->headroom < sizeof(meta) || alg_seg_parse(fr->data, fr->len, &s)) {
		a->st.bad_frame++;
		return;
	}
	memcpy(&meta, fr->data - sizeof(meta), sizeof(meta));
	eg = if_idx_of(a, (int)meta.egress_ifindex);
	if ((int)meta.ingress_ifindex != rx->ifindex || eg < 0 ||
	    !(a->ifs[eg].l3 ? a->l3_fd >= 0 : !!a->tx_xsk[eg])) {
		a->st.bad_frame++;	/* no metadata, or an egress we have no socket on */
		return;
	}
	rw = (struct alg_seg_rewrite){ .payload = s.frame + s.pay_off, .pay_len = s.pay_len };
	f = alg_session_flow(a->session, &meta.key, s.flags, s.seq, s.ack, &dir);
	if (!f) {
		seg_send(a, eg, &s, &rw);	/* not inspected: as it is */
		return;
	}
	if (!(s.flags & ALG_SEG_TCP_SYN) && !alg_ftp_in_window(&f->conn, dir, s.seq)) {
		/* Nothing of it reaches the core, not even its ack: a forged
		 * segment must not move the parser or the acked mark, nor count
		 * as a drop past a hole (five of those and the ALG gives up). */
		a->st.out_of_window++;
		return;
	}

	cap = (size_t)a->mtu[eg] > s.ihl + s.thl ? (size_t)a->mtu[eg] - s.ihl - s.thl : 0;
	if (cap > ALG_XSK_FRAME_SIZE - s.pay_off)
		cap = ALG_XSK_FRAME_SIZE - s.pay_off;
	if (s.flags & ALG_SEG_TCP_SYN) {
		/* a SYN's payload (TCP Fast Open) is not FTP: forwarded as is */
		res = (struct alg_ftp_result){ .verdict = ALG_FTP_PASS,
					       .seq = alg_ftp_seq_out(&f->conn, dir, s.seq) };
	} else {
		alg_ftp_process(&f->conn, dir, s.seq, rw.payload, s.pay_len, a->out, cap, &res);
		if (s.pay_len)
			f->seen_data[dir] = true;
	}
	rw.conn = &f->conn;
	rw.dir = dir;
	rw.seq = res.seq;
	rw.ack = (s.flags & ALG_SEG_TCP_ACK) ? alg_ftp_ack_in(&f->conn, dir, s.ack) : s.ack;
	alg_session_events(a->session, f, &res);
	/* saved before it goes out: see alg_session_packet_done() */
	alg_session_packet_done(a->session, f);

	if (res.verdict == ALG_FTP_DROP) {
		a->st.dropped++;
	} else if (res.verdict == ALG_FTP_REWRITTEN) {
		a->st.rewritten++;
		rw.payload = a->out;
		rw.pay_len = res.out_len;
		seg_send(a, eg, &s, &rw);
	} else {
		seg_send(a, eg, &s, &rw);
	}
}

static void poll_rx(struct alg *a, struct alg_xsk *x)
{
	__u32 first, n = alg_xsk_rx_peek(x, ALG_RX_BATCH, &first);

	for (__u32 i = 0; i < n; i++) {
		struct alg_xsk_frame fr = alg_xsk_rx_frame(x, first + i);

		handle_frame(a, x, &fr);
	}
	alg_xsk_rx_release(x, first, n);
}

/*
 * nat_alg_stats: what the ALGs before this one left (base), plus this
 * one's counters; the gauges as they are now. One writer, this thread (or
 * alg_stop() once it has joined it).
 */
static void stats_write(struct alg *a)
{
	const struct alg_session_stats *ss;
	struct nat_alg_stats v = a->base;
	__u32 zero = 0;

	if (a->stats_fd < 0 || !a->session)
		return;
	ss = alg_session_get_stats(a->session);
	v.alg_sessions = alg_session_count(a->session);
	v.alg_expects_live = alg_session_expects(a->session);
	v.alg_rx += a->st.rx;
	v.alg_tx += a->st.tx;
	v.alg_rewritten += a->st.rewritten;
	v.alg_dropped += a->st.dropped;
	v.alg_out_of_window += a->st.out_of_window;
	v.alg_syn_ignored += ss->syn_ignored;
	v.alg_bad_frame += a->st.bad_frame;
	v.alg_no_tx_room += a->st.no_tx_room;
	v.alg_no_flow += ss->no_flow;
	v.alg_uninspected += ss->uninspected;
	v.alg_evicted += ss->evicted;
	v.alg_handed_back += ss->handed_back;
	v.alg_expects_opened += ss->expects_opened;
	v.alg_expects_cancelled += ss->expects_cancelled;
	v.alg_expects_replaced += ss->expects_replaced;
	v.alg_expects_refused += ss->expects_refused;
	v.alg_save_failed += ss->save_failed;
	bpf_map_update_elem(a->stats_fd, &zero, &v, BPF_ANY);
}

/* An interface whose rx queue count changed (ethtool -L) since the start:
 * the new queues have no socket, and XDP drops the control packets that
 * arrive there. Told once per change; a SIGHUP restarts the ALG on the
 * new count (alg_queues_changed()). */
static void check_queues(struct alg *a)
{
	for (int i = 0; i < a->n_ifs; i++) {
		int n = alg_xsk_rx_queues(a->ifs[i].name, a->ifs[i].ifindex);

		if (n == a->nq_seen[i])
			continue;
		a->nq_seen[i] = n;
		if (n == a->nq[i])
			nat_log("alg: %s has %d rx queues again: every one has its socket",
				a->ifs[i].name, n);
		else
			nat_log("alg: %s now has %d rx queues, the ALG has sockets on %d: FTP control "
				"packets on the others are dropped (drop_alg_down, alg_no_queue) until "
				"a reload (SIGHUP) restarts the ALG", a->ifs[i].name, n, a->nq[i]);
	}
}

static void tick(struct alg *a, __u64 now)
{
	struct ifreq ifr;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* the payload a rewrite may grow to follows the egress MTU */
	for (int i = 0; sock >= 0 && i < a->n_ifs; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->ifs[i].name);
		if (!ioctl(sock, SIOCGIFMTU, &ifr) && ifr.ifr_mtu >= ALG_MTU_MIN)
			a->mtu[i] = ifr.ifr_mtu;
	}
	if (sock >= 0)
		close(sock);
	check_queues(a);
	alg_session_tick(a->session, now);
	stats_write(a);
}

/*
 * Set or clear NAT_CFG_F_ALG_OFF. nat_config is the loader's, which keeps
 * `flags` when it rewrites the entry; this read-modify-write and a reload's
 * write at the same instant can lose one of them (a failing ALG thread is
 * the only writer that is not the main thread). -1 if it failed.
 */
static int alg_off_flag(int config_fd, bool on)
{
	struct nat_config cfg;
	__u32 zero = 0, was;

	if (bpf_map_lookup_elem(config_fd, &zero, &cfg))
		return -1;
	was = cfg.flags;
	cfg.flags = on ? cfg.flags | NAT_CFG_F_ALG_OFF : cfg.flags & ~NAT_CFG_F_ALG_OFF;
	if (cfg.flags == was)
		return 0;
	return bpf_map_update_elem(config_fd, &zero, &cfg, BPF_EXIST) ? -1 : 0;
}

/*
 * The thread leaves on its own (a poll() error): nobody reads the sockets
 * any more. Take them out of nat_xsks, hand every session back to XDP with
 * its offsets, and tell the data path to stop marking new control flows
 * for the ALG: FTP then works on uninspected (PASV/EPSV and server-side
 * passive addresses; active mode and rewritten 227s do not) instead of
 * every control packet being dropped until somebody restarts the daemon.
 * The main thread may be in alg_stop() meanwhile: the sockets are only
 * withdrawn here, alg_stop() still removes and closes them.
 */
static void alg_degrade(struct alg *a, int err)
{
	unsigned n;

	for (int i = 0; i < a->n_xsks; i++)
		alg_xsk_withdraw(&a->xsks[i]);
	n = alg_session_hand_back_all(a->session);
	if (alg_off_flag(a->config_fd, true))
		nat_log_at(LOG_ERR, "alg: cannot set NAT_CFG_F_ALG_OFF: %s; control packets of new FTP "
			"connections are dropped until the ALG runs again", strerror(errno));
	atomic_store(&a->failed, true);
	nat_log_at(LOG_WARNING, "alg: the ALG thread stopped (poll: %s): degraded; %u sessions handed back to "
		"XDP, new FTP control connections pass uninspected until the ALG is started "
		"again (SIGHUP or a restart)", strerror(err), n);
}

static void *alg_thread(void *arg)
{
	struct alg *a = arg;
	int npfd = a->n_xsks + 1;

	while (!atomic_load(&a->stop)) {
		bool busy = false;
		__u64 now;

		for (int i = 0; i < a->n_xsks; i++)
			busy |= alg_xsk_tx_pending(&a->xsks[i]);
		/* in flight tx: come back soon to kick again and reclaim */
		if (poll(a->pfd, (nfds_t)npfd, busy ? 1 : 100) < 0 && errno != EINTR) {
			if (!atomic_load(&a->stop))
				alg_degrade(a, errno);
			break;
		}
		for (int i = 0; i < a->n_xsks; i++)
			poll_rx(a, &a->xsks[i]);
		for (int i = 0; i < a->n_xsks; i++) {
			alg_xsk_kick(&a->xsks[i]);
			alg_xsk_reclaim(&a->xsks[i]);
		}
		now = nat_now_ns();
		if (now >= a->next_tick) {
			tick(a, now);
			a->next_tick = now + ALG_TICK_NS;
		}
	}
	return NULL;
}

bool alg_failed(const struct alg *a)
{
	return a && atomic_load(&a->failed);
}

bool alg_queues_changed(const struct alg *a)
{
	for (int i = 0; a && i < a->n_ifs; i++)
		if (alg_xsk_rx_queues(a->ifs[i].name, a->ifs[i].ifindex) != a->nq[i])
			return true;
	return false;
}

void alg_stop(struct alg *a, bool hand_back)
{
	struct alg_session_stats ss = {};
	unsigned kept = 0;

	if (!a)
		return;
	/* out of nat_xsks first: what XDP sends from now on is not queued
	 * for a thread that is about to stop */
	for (int i = 0; i < a->n_xsks; i++)
		alg_xsk_remove(&a->xsks[i]);
	if (a->thread_started) {
		__u64 one = 1;

		atomic_store(&a->stop, true);
		if (write(a->wake_fd, &one, sizeof(one)) < 0)
			nat_log_at(LOG_ERR, "alg: cannot wake the thread: %s", strerror(errno));
		pthread_join(a->thread, NULL);
	}
	if (a->session) {
		/* without hand_back the sessions stay in nat_alg_state, written
		 * ahead of every segment: the next ALG resumes them */
		if (hand_back)
			alg_session_hand_back_all(a->session);
		else
			kept = alg_session_count(a->session);
		ss = *alg_session_get_stats(a->session);
	}
	stats_write(a);
	alg_session_free(a->session);
	for (int i = 0; i < a->n_xsks; i++)
		alg_xsk_close(&a->xsks[i]);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	if (a->l3_fd >= 0)
		close(a->l3_fd);
	nat_log("alg: stopped: %llu packets in, %llu out, %llu rewritten, %llu dropped, "
		"%llu out of window, %llu SYNs ignored, %llu bad, %llu without tx room, "
		"%llu without a flow, %llu expectations (%llu cancelled, %llu replaced, "
		"%llu refused), %llu flows handed back, %llu uninspected, %llu evicted, "
		"%u sessions kept in nat_alg_state for the next ALG (%llu saves failed)",
		(unsigned long long)a->st.rx, (unsigned long long)a->st.tx,
		(unsigned long long)a->st.rewritten, (unsigned long long)a->st.dropped,
		(unsigned long long)a->st.out_of_window, (unsigned long long)ss.syn_ignored,
		(unsigned long long)a->st.bad_frame, (unsigned long long)a->st.no_tx_room,
		(unsigned long long)ss.no_flow, (unsigned long long)ss.expects_opened,
		(unsigned long long)ss.expects_cancelled, (unsigned long long)ss.expects_replaced,
		(unsigned long long)ss.expects_refused, (unsigned long long)ss.handed_back,
		(unsigned long long)ss.uninspected, (unsigned long long)ss.evicted, kept,
		(unsigned long long)ss.save_failed);
	free(a->pfd);
	free(a->xsks);
	free(a);
}

struct alg *alg_start(const struct xdpnat_config *cfg, const struct nat_maps *m,
		      const struct alg_iface *ifs, int n_ifs)
{
	struct alg *a;
	struct alg_restore_stats rs;
	int total = 0, k = 0, err;
	__u32 zero = 0;

	a = n_ifs >= 1 && n_ifs <= XDPNAT_MAX_IFACES ? calloc(1, sizeof(*a)) : NULL;
	if (!a) {
		alg_off(m);
		return NULL;
	}
	a->xsks_fd = m->xsks;
	a->config_fd = m->config;
	a->stats_fd = m->alg_stats;
	if (a->stats_fd >= 0 && bpf_map_lookup_elem(a->stats_fd, &zero, &a->base))
		memset(&a->base, 0, sizeof(a->base));
	a->n_ifs = n_ifs;
	a->wake_fd = -1;
	a->l3_fd = -1;
	for (int i = 0; i < n_ifs; i++) {
		a->ifs[i] = ifs[i];
		a->mtu[i] = ALG_MTU_DEFAULT;
		if (ifs[i].slot < 0 || ifs[i].slot >= XDPNAT_MAX_IFACES) {
			nat_log("alg: %s: xsk slot %d out of range", ifs[i].name, ifs[i].slot);
			goto fail;
		}
		a->nq[i] = a->nq_seen[i] = alg_xsk_rx_queues(ifs[i].name, ifs[i].ifindex);
		if (a->nq[i] > XDPNAT_XSK_QUEUES) {
			/* A queue without a socket would drop FTP control packets
			 * (XDP never lets them by uninspected): better no ALG, and
			 * FTP passing uninspected, than connections that hang
			 * depending on where RSS puts them. */
			nat_log("alg: %s has %d rx queues, more than the %d the ALG can serve "
				"(one AF_XDP socket each): the ALG does not start, FTP control "
				"connections pass uninspected (reduce the queues with ethtool -L)",
				ifs[i].name, a->nq[i], XDPNAT_XSK_QUEUES);
			goto fail;
		}
		total += a->nq[i];
	}
	a->session = alg_session_new(m, cfg->alg_ftp.expect_timeout
					    ? cfg->alg_ftp.expect_timeout
					    : NAT_TIMEOUT_EXPECT_DEFAULT);
	a->xsks = calloc((size_t)total, sizeof(*a->xsks));
	a->pfd = calloc((size_t)total + 1, sizeof(*a->pfd));
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (int i = 0; i < n_ifs && a->l3_fd < 0; i++)
		if (ifs[i].l3)	/* protocol 0: it never receives */
			a->l3_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (int i = 0; i < n_ifs; i++)
		if (ifs[i].l3 && a->l3_fd < 0) {
			nat_log("alg: no AF_PACKET socket for the L3 link %s: %s", ifs[i].name,
				strerror(errno));
			goto fail;
		}
	if (!a->session || !a->xsks || !a->pfd || a->wake_fd < 0 ||
	    alg_session_restore(a->session, true, &rs)) {
		nat_log_at(LOG_ERR, "alg: out of resources: %s", strerror(errno));
		goto fail;
	}
	if (rs.restored || rs.foreign)
		nat_log("alg: %u FTP sessions resumed from nat_alg_state; %u saved by a build of "
			"another layout handed back to XDP with their offsets", rs.restored,
			rs.foreign);
	for (int i = 0; i < n_ifs; i++) {
		for (int q = 0; q < a->nq[i]; q++, k++) {
			struct alg_xsk *x = &a->xsks[k];

			a->n_xsks = k + 1;
			/* only queue 0 transmits (tx_xsk): the others need no tx frames */
			if (alg_xsk_open(x, ifs[i].name, ifs[i].ifindex, (__u32)q, q == 0) ||
			    alg_xsk_enter(x, a->xsks_fd, ifs[i].slot))
				goto fail;
			if (q == 0)
				a->tx_xsk[i] = x;
			a->pfd[k] = (struct pollfd){ .fd = alg_xsk_fd(x), .events = POLLIN };
		}
	}
	a->pfd[k] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
	tick(a, nat_now_ns());
	a->next_tick = nat_now_ns() + ALG_TICK_NS;
	err = pthread_create(&a->thread, NULL, alg_thread, a);
	if (err) {
		nat_log_at(LOG_ERR, "alg: cannot start the thread: %s", strerror(err));
		goto fail;
	}
	a->thread_started = true;
	if (alg_off_flag(a->config_fd, false))
		nat_log_at(LOG_ERR, "alg: cannot clear NAT_CFG_F_ALG_OFF: %s; new FTP control connections "
			"are not inspected", strerror(errno));
	nat_log("alg: FTP ALG running: %d AF_XDP sockets (copy mode) on %d interfaces", a->n_xsks,
		n_ifs);
	return a;
fail:
	alg_stop(a, true);
	alg_off(m);
	return NULL;
}

void alg_off(const struct nat_maps *m)
{
	struct alg_session *s = alg_session_new(m, NAT_TIMEOUT_EXPECT_DEFAULT);
	struct alg_restore_stats rs = {};

	if (!s || alg_session_restore(s, false, &rs))
		nat_log("alg: out of memory: sessions saved by an earlier ALG are not handed back");
	alg_session_free(s);
	if (rs.handed_back || rs.foreign)
		nat_log("alg: no FTP ALG: %u saved sessions handed back to XDP with their offsets",
			rs.handed_back + rs.foreign);
	if (alg_off_flag(m->config, true))
		nat_log_at(LOG_ERR, "alg: cannot set NAT_CFG_F_ALG_OFF: %s; control packets of FTP connections "
			"marked for the ALG are dropped", strerror(errno));
}

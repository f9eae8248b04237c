/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * failover.c - probe sockets, the rounds, and what a verdict changes
 * (failover.h). The verdict itself is wan/probe.c's; the routes are
 * wan/routesteer.c's; the flows are wan/wanstate.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <linux/icmp.h>
#include <linux/ip.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "wan/failover.h"
#include "wan/probe.h"
#include "wan/routesteer.h"

struct fo_wan {
	char ifname[IF_NAMESIZE];
	int wan_id;			/* index in cfg->wans: its probe table */
	struct in_addr targets[CFG_TRACK_MAX];
	int ntargets;
	unsigned interval_ms, timeout_ms, down_after, up_after;
	struct in_addr cfg_gw;		/* `gateway`, 0 = learned */
	struct probe_sm sm;
	time_t since;			/* wall clock of sm.since */
	int ifindex;			/* 0: the device does not exist now */
	int sock;			/* -1 until it can be bound */
	uint16_t id, seq;
	uint64_t next_round_ms, deadline_ms, sent_ms;
	bool round_open, answered;
	unsigned rtt_ms;		/* of the last answered round */
	struct in_addr addr, gw;	/* as seen on the last tick */
	bool p2p, no_gw_logged;
	bool link_was_ok;		/* on the previous tick */
	bool steered;			/* in the set the routes avoid */
	uint64_t flows_removed;		/* flows of this WAN removed as dead */
};

struct failover {
	const struct wanstate *ws;
	struct ddns *ddns;
	struct routesteer *rs;
	int epfd, timer_fd;
	struct fo_wan w[CFG_MAX_IFACES];
	int nw;
	bool untracked_wan;		/* some WAN without track: always live */
	bool all_down_logged;
};

static void wan_close(struct failover *f, struct fo_wan *w)
{
	if (w->sock >= 0) {
		epoll_ctl(f->epfd, EPOLL_CTL_DEL, w->sock, NULL);
		close(w->sock);
	}
	w->sock = -1;
	w->round_open = false;
}

/* A raw ICMP socket that sends and hears only through the WAN. */
static int wan_open(struct failover *f, struct fo_wan *w)
{
	struct icmp_filter filt = { .data = ~(1U << ICMP_ECHOREPLY) };
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, w->ifname, (socklen_t)strlen(w->ifname)) ||
	    setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt))) {
		int err = -errno;

		close(fd);
		return err;
	}
	ev.data.fd = fd;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		close(fd);
		return err;
	}
	w->sock = fd;
	return 0;
}

static uint16_t icmp_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void send_round(struct fo_wan *w, uint64_t now)
{
	struct {
		struct icmphdr h;
		uint64_t stamp;
	} pkt;

	w->seq++;
	w->round_open = true;
	w->answered = false;
	w->sent_ms = now;
	w->deadline_ms = now + w->timeout_ms;
	for (int i = 0; i < w->ntargets; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = w->targets[i] };

		memset(&pkt, 0, sizeof(pkt));
		pkt.h.type = ICMP_ECHO;
		pkt.h.un.echo.id = htons(w->id);
		pkt.h.un.echo.sequence = htons(w->seq);
		pkt.stamp = now;
		pkt.h.checksum = icmp_csum(&pkt, sizeof(pkt));
		/* a failure (no route yet, no neighbour) is an unanswered probe */
		(void)sendto(w->sock, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
	}
}

/* Echo replies heard on w's socket: the current round's answer counts. */
static void read_replies(struct fo_wan *w, uint64_t now)
{
	char buf[512];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	/* bounded: a flood of replies must not hold the daemon's loop */
	for (int k = 0; k < 64; k++) {
		const struct iphdr *ip = (const void *)buf;
		const struct icmphdr *h;
		size_t hl;
		int i;

		fl = sizeof(from);
		n = recvfrom(w->sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if ((size_t)n < sizeof(*ip) || (hl = (size_t)ip->ihl * 4) < sizeof(*ip) ||
		    (size_t)n < hl + sizeof(*h))
			continue;
		h = (const void *)(buf + hl);
		if (h->type != ICMP_ECHOREPLY || ntohs(h->un.echo.id) != w->id ||
		    ntohs(h->un.echo.sequence) != w->seq || !w->round_open)
			continue;
		for (i = 0; i < w->ntargets; i++)
			if (w->targets[i].s_addr == from.sin_addr.s_addr)
				break;
		if (i == w->ntargets)
			continue;
		w->answered = true;
		w->rtt_ms = (unsigned)(now - w->sent_ms);
	}
}

/* ---------------------------------------------------------------- the link */

static bool link_flags(const char *ifname, short *flags)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	close(fd);
	*flags = ok ? ifr.ifr_flags : 0;
	return ok;
}

/* Carrier, address and gateway now; true if the link can carry probes. */
static bool look_at_link(struct failover *f, struct fo_wan *w, bool *addr_came)
{
	int ifindex = (int)if_nametoindex(w->ifname);
	struct nat_iface ifc = { 0 };
	struct in_addr old = w->addr;
	short flags = 0;

	if (ifindex != w->ifindex) {
		wan_close(f, w);
		w->ifindex = ifindex;
	}
	if (ifindex && w->sock < 0)
		wan_open(f, w);
	if (!ifindex || !link_flags(w->ifname, &flags))
		flags = 0;
	w->p2p = flags & IFF_POINTOPOINT;
	if (ifindex)
		bpf_map_lookup_elem(f->ws->m->ifaces, &ifindex, &ifc);
	w->addr.s_addr = ifc.addr;
	w->gw.s_addr = w->cfg_gw.s_addr ? w->cfg_gw.s_addr : ifc.gateway;
	*addr_came = w->addr.s_addr && w->addr.s_addr != old.s_addr;
	return ifindex && (flags & IFF_UP) && (flags & IFF_RUNNING) && w->addr.s_addr &&
	       w->sock >= 0;
}

/* ---------------------------------------------------------------- verdicts */

static void log_change(const struct fo_wan *w)
{
	char t[CFG_TRACK_MAX * 16 + 8] = "";
	size_t off = 0;

	for (int i = 0; i < w->ntargets; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &w->targets[i], a, sizeof(a));
		off += (size_t)snprintf(t + off, sizeof(t) - off, "%s%s", i ? "," : "", a);
	}
	if (w->sm.state == PROBE_UP)
		nat_log("failover: wan %s up (%u probe rounds answered by %s)", w->ifname,
			w->up_after, t);
	else if (w->sm.reason == PROBE_R_LINK)
		nat_log("failover: wan %s down: no carrier or no address", w->ifname);
	else
		nat_log("failover: wan %s down (%u probe rounds unanswered by %s)", w->ifname,
			w->down_after, t);
}

/* Routes, flows and DDNS after any verdict. */
static void reconcile(struct failover *f)
{
	int dead[CFG_MAX_IFACES], ndead = 0;
	bool live = f->untracked_wan, steered;

	for (int i = 0; i < f->nw; i++)
		live |= f->w[i].sm.state == PROBE_UP;
	if (!live && f->nw) {
		if (!f->all_down_logged)
			nat_log("failover: every tracked WAN is down: probably the probe targets; "
				"nothing is steered until one is up again");
		f->all_down_logged = true;
	} else {
		f->all_down_logged = false;
	}
	for (int i = 0; live && i < f->nw; i++)
		if (f->w[i].sm.state == PROBE_DOWN && f->w[i].ifindex)
			dead[ndead++] = f->w[i].ifindex;
	if (routesteer_apply(f->rs, dead, ndead, &steered))
		return;	/* logged; tried again on the next tick */
	for (int i = 0; i < f->nw; i++) {
		struct fo_wan *w = &f->w[i];
		bool now = false;
		unsigned n = 0;

		for (int j = 0; j < ndead; j++)
			now |= dead[j] == w->ifindex;
		if (now && !w->steered &&
		    wanstate_flush_wan(f->ws, (uint32_t)w->ifindex, &n) == 0) {
			w->flows_removed += n;
			nat_log("failover: wan %s: %u flows bound to it removed; new flows leave "
				"by a live WAN", w->ifname, n);
		}
		if (!now && w->steered)
			nat_log("failover: wan %s: new flows may use it again", w->ifname);
		w->steered = now;
	}
}

static bool tick(struct failover *f)
{
	uint64_t now = nat_now_ms(), exp;
	bool changed = false, status = false;

	if (read(f->timer_fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		return false;
	for (int i = 0; i < f->nw; i++) {
		struct fo_wan *w = &f->w[i];
		bool came, ok = look_at_link(f, w, &came), can_probe;

		/* an address back or a link back up: the kernel may have
		 * flushed the probe table's route meanwhile */
		if (w->ifindex && (w->gw.s_addr || w->p2p))
			routesteer_probe_route(f->rs, w->wan_id, w->ifname, w->ifindex, w->gw,
					       came || (ok && !w->link_was_ok));
		w->link_was_ok = ok;
		can_probe = ok && (w->gw.s_addr || w->p2p);
		if (ok && !can_probe && !w->no_gw_logged)
			nat_log("failover: wan %s: no gateway known to probe through: "
				"rounds count as unanswered", w->ifname);
		w->no_gw_logged = ok && !can_probe;
		if (probe_link(&w->sm, ok, now)) {
			w->since = time(NULL);
			log_change(w);
			changed = true;
		}
		if (w->round_open && now >= w->deadline_ms) {
			w->round_open = false;
			status = true;
			if (probe_result(&w->sm, w->answered, now)) {
				w->since = time(NULL);
				log_change(w);
				changed = true;
			}
		}
		if (now >= w->next_round_ms) {
			w->next_round_ms = now + w->interval_ms;
			if (can_probe)
				send_round(w, now);
			else if (ok && probe_result(&w->sm, false, now)) {
				w->since = time(NULL);
				log_change(w);
				changed = true;
			}
		}
	}
	if (changed)
		for (int i = 0; i < f->nw; i++)
			ddns_wan_state(f->ddns, f->w[i].ifname, f->w[i].sm.state == PROBE_UP);
	reconcile(f);	/* cheap when nothing changed; retries a failed apply */
	return changed || status;
}

bool failover_process(struct failover *f)
{
	struct epoll_event ev[CFG_MAX_IFACES + 1];
	bool status = false;
	int n;

	if (!f)
		return false;
	n = epoll_wait(f->epfd, ev, CFG_MAX_IFACES + 1, 0);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == f->timer_fd) {
			status |= tick(f);
			continue;
		}
		for (int j = 0; j < f->nw; j++)
			if (f->w[j].sock == ev[i].data.fd)
				read_replies(&f->w[j], nat_now_ms());
	}
	return status;
}

/* ---------------------------------------------------------------- life */

static void wan_init(struct fo_wan *w, const struct cfg_wan *c, int wan_id, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->ifname, sizeof(w->ifname), "%s", c->ifname);
	w->wan_id = wan_id;
	memcpy(w->targets, c->track, sizeof(w->targets));
	w->ntargets = c->ntrack;
	w->interval_ms = c->track_interval * 1000;
	w->timeout_ms = w->interval_ms < FAILOVER_TIMEOUT_MS ? w->interval_ms - FAILOVER_TICK_MS
							     : FAILOVER_TIMEOUT_MS;
	w->down_after = c->track_down;
	w->up_after = c->track_up;
	w->cfg_gw = c->gateway;
	w->sock = -1;
	w->id = (uint16_t)(getpid() * 37 + wan_id);
	w->next_round_ms = now;
	w->since = time(NULL);
	probe_init(&w->sm, c->track_down, c->track_up, now);
}

static bool same_tracking(const struct fo_wan *w, const struct cfg_wan *c, int wan_id)
{
	return !strcmp(w->ifname, c->ifname) && w->wan_id == wan_id && w->ntargets == c->ntrack &&
	       !memcmp(w->targets, c->track, sizeof(w->targets)) &&
	       w->interval_ms == c->track_interval * 1000 && w->down_after == c->track_down &&
	       w->up_after == c->track_up && w->cfg_gw.s_addr == c->gateway.s_addr;
}

/* cfg's tracked WANs into f, keeping the state of those in old (may be
 * NULL) whose tracking is the same. */
static void take_config(struct failover *f, const struct xdpnat_config *cfg, struct failover *old)
{
	uint64_t now = nat_now_ms();

	f->nw = 0;
	f->untracked_wan = false;
	for (int i = 0; i < cfg->nwans; i++) {
		const struct cfg_wan *c = &cfg->wans[i];
		struct fo_wan *w = &f->w[f->nw];
		int j;

		if (!c->ntrack) {
			f->untracked_wan = true;
			continue;
		}
		for (j = 0; old && j < old->nw; j++)
			if (same_tracking(&old->w[j], c, i))
				break;
		if (old && j < old->nw) {
			*w = old->w[j];
			w->sock = -1;		/* reopened on this f's epoll set */
			w->ifindex = 0;
			w->round_open = false;
		} else {
			wan_init(w, c, i, now);
		}
		f->nw++;
	}
}

static struct failover *fo_new(const struct wanstate *ws, struct ddns *ddns)
{
	struct itimerspec its = {
		.it_interval = { 0, FAILOVER_TICK_MS * 1000000L },
		.it_value = { 0, FAILOVER_TICK_MS * 1000000L },
	};
	struct epoll_event ev = { .events = EPOLLIN };
	struct failover *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ws = ws;
	f->ddns = ddns;
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = f->timer_fd;
	if (f->epfd < 0 || f->timer_fd < 0 || timerfd_settime(f->timer_fd, 0, &its, NULL) ||
	    epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->timer_fd, &ev) || !(f->rs = routesteer_open())) {
		nat_log("failover: cannot start: %s", strerror(errno));
		if (f->epfd >= 0)
			close(f->epfd);
		if (f->timer_fd >= 0)
			close(f->timer_fd);
		free(f);
		return NULL;
	}
	return f;
}

static void fo_free(struct failover *f, bool restore)
{
	for (int i = 0; i < f->nw; i++)
		wan_close(f, &f->w[i]);
	if (restore)
		routesteer_close(f->rs);
	close(f->timer_fd);
	close(f->epfd);
	free(f);
}

static bool any_tracked(const struct xdpnat_config *cfg)
{
	for (int i = 0; i < cfg->nwans; i++)
		if (cfg->wans[i].ntrack)
			return true;
	return false;
}

struct failover *failover_start(const struct xdpnat_config *cfg, const struct wanstate *ws,
				struct ddns *ddns)
{
	struct failover *f;

	errno = 0;
	if (!any_tracked(cfg))
		return NULL;
	f = fo_new(ws, ddns);
	if (!f)
		return NULL;
	take_config(f, cfg, NULL);
	for (int i = 0; i < f->nw; i++)
		nat_log("failover: tracking wan %s: %d targets every %u s, down after %u, up after %u",
			f->w[i].ifname, f->w[i].ntargets, f->w[i].interval_ms / 1000,
			f->w[i].down_after, f->w[i].up_after);
	return f;
}

void failover_reload(struct failover **fp, const struct xdpnat_config *cfg,
		     const struct wanstate *ws, struct ddns *ddns)
{
	struct failover *old = *fp, *f;

	if (!any_tracked(cfg)) {
		failover_stop(old);
		*fp = NULL;
		return;
	}
	if (!old) {
		*fp = failover_start(cfg, ws, ddns);
		return;
	}
	for (int i = 0; i < old->nw; i++)
		wan_close(old, &old->w[i]);
	f = calloc(1, sizeof(*f));
	if (!f) {
		nat_log("failover: reload: out of memory, keeping the old tracking");
		return;
	}
	*f = *old;
	f->ws = ws;
	f->ddns = ddns;
	take_config(f, cfg, old);
	old->rs = NULL;		/* f keeps the routes, epoll set and timer */
	free(old);
	/* WANs no longer tracked: their probe tables go; routes follow on the
	 * next tick (reconcile). */
	for (int i = 0; i < CFG_MAX_IFACES; i++) {
		bool kept = false;

		for (int j = 0; j < f->nw; j++)
			kept |= f->w[j].wan_id == i;
		if (!kept)
			routesteer_probe_route(f->rs, i, "", 0, (struct in_addr){ 0 }, false);
	}
	for (int i = 0; i < f->nw; i++)
		ddns_wan_state(ddns, f->w[i].ifname, f->w[i].sm.state == PROBE_UP);
	*fp = f;
}

void failover_stop(struct failover *f)
{
	if (!f)
		return;
	fo_free(f, true);
}

int failover_fd(const struct failover *f)
{
	return f ? f->epfd : -1;
}

int failover_health(const struct failover *f, struct failover_health *out, int max)
{
	int n = 0;

	for (int i = 0; f && i < f->nw && n < max; i++, n++) {
		const struct fo_wan *w = &f->w[i];

		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].ifname, sizeof(out[n].ifname), "%s", w->ifname);
		out[n].up = w->sm.state == PROBE_UP;
		out[n].since = w->since;
		out[n].rtt_ms = w->rtt_ms;
		out[n].changes = w->sm.changes;
		out[n].flows_removed = w->flows_removed;
	}
	return n;
}

struct json_object *failover_status(const struct failover *f)
{
	struct json_object *root;

	if (!f)
		return NULL;
	root = json_object_new_object();
	for (int i = 0; root && i < f->nw; i++) {
		const struct fo_wan *w = &f->w[i];
		struct json_object *o = json_object_new_object(), *t = json_object_new_array();
		char hist[PROBE_HISTORY + 1], a[INET_ADDRSTRLEN];

		probe_history(&w->sm, hist, PROBE_HISTORY);
		for (int j = 0; j < w->ntargets; j++)
			json_object_array_add(t, json_object_new_string(
				inet_ntop(AF_INET, &w->targets[j], a, sizeof(a))));
		json_object_object_add(o, "state", json_object_new_string(
			probe_state_name(w->sm.state)));
		json_object_object_add(o, "since", json_object_new_int64(w->since));
		json_object_object_add(o, "reason", json_object_new_string(
			probe_reason_name(w->sm.reason)));
		json_object_object_add(o, "probes", json_object_new_string(hist));
		json_object_object_add(o, "last_rtt_ms", json_object_new_int64(w->rtt_ms));
		json_object_object_add(o, "targets", t);
		json_object_object_add(o, "interval", json_object_new_int64(w->interval_ms / 1000));
		json_object_object_add(o, "steered", json_object_new_boolean(w->steered));
		json_object_object_add(o, "flows_removed", json_object_new_int64(
			(int64_t)w->flows_removed));
		json_object_object_add(o, "changes", json_object_new_int64((int64_t)w->sm.changes));
		json_object_object_add(root, w->ifname, o);
	}
	return root;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* portmap.c - the PCP and NAT-PMP server (see portmap.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "common/clock.h"
#include "common/eimports.h"
#include "common/fwdports.h"
#include "common/log.h"
#include "common/runfiles.h"
#include "portmap/pcp_codec.h"
#include "portmap/portmap.h"
#include "portmap/portmap_rate.h"
#include "portmap/portmap_state.h"
#include "portmap/portmap_table.h"
#include "xdpnat.h"

#define ALL_HOSTS		"224.0.0.1"
#define ANNOUNCE_REPEATS	4	/* after the first: 1, 2, 4, 8 s later (RFC 6886 §3.2.1) */
#define ERR_LIFETIME_SHORT	30	/* seconds an error holds (RFC 6887 §7.4) */
#define ERR_LIFETIME_LONG	1800
#define INPUT_BUDGET		64	/* datagrams read per wake-up and socket */

/* One LAN `port-mapping` serves. */
struct portmap_lan {
	struct cfg_portmap cfg;
	uint32_t ifindex, wan_ifindex;
	int fd;
	struct portmap_limits lim;
	int announce_left;		/* repeats still to send */
	uint64_t next_announce;		/* monotonic seconds */
	uint32_t announce_gap;		/* seconds to the next one */
};

struct portmap {
	const struct xdpnat_config *cfg;
	const struct nat_maps *m;
	struct portmap_lan lans[CFG_MAX_IFACES];
	int nlans;
	struct portmap_state st;	/* table, counters; st.epoch as last saved */
	struct portmap_rate rate;
	uint64_t epoch_base;		/* epoch seconds at mono_start */
	uint64_t mono_start;		/* monotonic seconds */
	struct portmap_counters saved_n;	/* as last saved */
	char path[PATH_MAX];		/* <state-dir>/portmap.json */
	bool dirty;			/* the table changed since the last save */
};

static uint64_t now_sec(void)
{
	return nat_now_ns() / NS_PER_SEC;
}

/* Lifetimes start at the next whole second and end when now_sec() reaches
 * their end: a mapping lives at least the seconds it was granted. */
static uint64_t now_sec_up(void)
{
	return (nat_now_ns() + NS_PER_SEC - 1) / NS_PER_SEC;
}

/* RFC 6887 §8.5: seconds since the mapping state began. */
static uint32_t epoch(const struct portmap *pm)
{
	return (uint32_t)(pm->epoch_base + now_sec() - pm->mono_start);
}

static const char *addr_str(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *proto_str(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : "udp";
}

static struct portmap_lan *lan_by_ifindex(struct portmap *pm, uint32_t ifindex)
{
	for (int i = 0; i < pm->nlans; i++)
		if (pm->lans[i].ifindex == ifindex)
			return &pm->lans[i];
	return NULL;
}

static const char *wan_name(const struct portmap *pm, uint32_t ifindex)
{
	for (int i = 0; i < pm->nlans; i++)
		if (pm->lans[i].wan_ifindex == ifindex)
			return pm->lans[i].cfg.wan;
	return NULL;
}

/* The WAN's address as the data path uses it (nat_ifaces); 0 = none. */
static uint32_t wan_addr(const struct portmap *pm, uint32_t ifindex)
{
	struct nat_iface v;

	if (bpf_map_lookup_elem(pm->m->ifaces, &ifindex, &v))
		return 0;
	return v.addr;
}

/* ---------------------------------------------------------------- nat_forwards */

static void fwd_key(const struct portmap_entry *e, struct nat_fwd_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = e->wan_ifindex;
	k->port = htons(e->ext_port);
	k->proto = e->proto;
}

static int fwd_put(struct portmap *pm, const struct portmap_entry *e)
{
	struct nat_fwd_key k;
	struct nat_fwd_value v = { .addr = e->int_addr, .port = htons(e->int_port),
				   .flags = NAT_FWD_F_PCP };

	fwd_key(e, &k);
	if (fwdports_set(pm->m->fwd_ports, e->proto, e->ext_port))
		return -1;	/* the data path would not know the port is forwarded */
	return bpf_map_update_elem(pm->m->forwards, &k, &v, BPF_ANY);
}

/* Remove e's forward if it is still e's: a static forward that took the
 * port on a reload stays. */
static void fwd_del(struct portmap *pm, const struct portmap_entry *e)
{
	struct nat_fwd_key k;
	struct nat_fwd_value v;

	fwd_key(e, &k);
	if (!bpf_map_lookup_elem(pm->m->forwards, &k, &v) && (v.flags & NAT_FWD_F_PCP) &&
	    v.addr == e->int_addr && v.port == htons(e->int_port))
		bpf_map_delete_elem(pm->m->forwards, &k);
}

/* Does another inside endpoint's RFC 4787 mapping hold the port? */
static bool held_by_other(const struct portmap *pm, const struct portmap_req *r, uint16_t port)
{
	return eimports_held_by_other(pm->m, r->wan_ifindex, r->proto, port, r->int_addr,
				      htons(r->int_port));
}

/* The table's `taken`: a static forward, in the file or in the map, or
 * the RFC 4787 mapping of another inside endpoint (nat_eim_ports): its
 * flows' peers reach that endpoint on the port, so a forward there would
 * take from it what they send to a new flow. */
static bool port_taken(void *arg, const struct portmap_req *r, uint16_t port)
{
	struct portmap *pm = arg;
	const char *wan = wan_name(pm, r->wan_ifindex);
	struct nat_fwd_key k = { .ifindex = r->wan_ifindex, .port = htons(port), .proto = r->proto };
	struct nat_fwd_value v;

	if (wan && cfg_find_forward(pm->cfg, wan, r->proto, port))
		return true;
	if (!bpf_map_lookup_elem(pm->m->forwards, &k, &v) && !(v.flags & NAT_FWD_F_PCP))
		return true;
	return held_by_other(pm, r, port);
}

static void on_gone(void *arg, const struct portmap_entry *e)
{
	struct portmap *pm = arg;
	char a[INET_ADDRSTRLEN];

	fwd_del(pm, e);
	pm->dirty = true;
	nat_log("port-mapping: %s %s:%u -> port %u removed", proto_str(e->proto),
		addr_str(e->int_addr, a), e->int_port, e->ext_port);
}

/* ---------------------------------------------------------------- state file */

/* For `xdpnat status`: the WAN's name and its address now. */
static void annotate(void *arg, json_object *o)
{
	struct portmap *pm = arg;
	json_object *w;
	uint32_t ifindex = 0;
	char a[INET_ADDRSTRLEN], name[IF_NAMESIZE];

	if (json_object_object_get_ex(o, "wan_ifindex", &w))
		ifindex = (uint32_t)json_object_get_int64(w);
	json_object_object_add(o, "wan", json_object_new_string(
		if_indextoname(ifindex, name) ? name : "?"));
	json_object_object_add(o, "outside", json_object_new_string(
		addr_str(wan_addr(pm, ifindex), a)));
}

static void save(struct portmap *pm)
{
	pm->st.epoch = epoch(pm);
	if (portmap_state_save(pm->path, &pm->st, now_sec(), time(NULL), annotate, pm)) {
		nat_log("port-mapping: cannot save %s: %s", pm->path, strerror(errno));
		return;
	}
	pm->dirty = false;
	pm->saved_n = pm->st.n;
}

static void load(struct portmap *pm)
{
	int rc = portmap_state_load(pm->path, &pm->st, now_sec(), time(NULL));

	if (rc < 0)
		nat_log("port-mapping: %s unreadable, not ours, or from the future (the clock "
			"went back); starting a new epoch", pm->path);
	pm->mono_start = now_sec();
	pm->epoch_base = pm->st.epoch;
}

/* ---------------------------------------------------------------- start */

/*
 * A WAN device that was deleted and made again (pppd's ppp0) has a new
 * ifindex: its LAN's mappings follow it. One whose old ifindex now names
 * another device was made on a WAN the configuration no longer names for
 * that LAN: stale() drops it.
 */
static void follow_wans(struct portmap *pm)
{
	for (int i = 0; i < PORTMAP_MAX; i++) {
		struct portmap_entry *e = &pm->st.table.e[i];
		struct portmap_lan *l = e->used ? lan_by_ifindex(pm, e->lan_ifindex) : NULL;
		char name[IF_NAMESIZE];

		if (!l || !l->wan_ifindex || e->wan_ifindex == l->wan_ifindex)
			continue;
		if (if_indextoname(e->wan_ifindex, name) && strcmp(name, l->cfg.wan))
			continue;
		e->wan_ifindex = l->wan_ifindex;	/* its old forward: sync_forwards */
	}
}

/* What a loaded mapping needs to stay: its LAN served, on the same WAN,
 * its port in the range and not a static forward's (nor another inside
 * endpoint's RFC 4787 mapping's: port_taken()). While the WAN has no
 * device (a ppp0 not up yet) its mappings wait for it. */
static bool stale(void *arg, const struct portmap_entry *e)
{
	struct portmap *pm = arg;
	struct portmap_lan *l = lan_by_ifindex(pm, e->lan_ifindex);
	struct portmap_req r = { .proto = e->proto, .wan_ifindex = e->wan_ifindex,
				 .int_addr = e->int_addr, .int_port = e->int_port };

	if (l && !l->wan_ifindex)
		return false;
	return !l || l->wan_ifindex != e->wan_ifindex || e->ext_port < l->lim.port_lo ||
	       e->ext_port > l->lim.port_hi || port_taken(pm, &r, e->ext_port);
}

/* nat_forwards agrees with the table: PCP entries it does not hold go,
 * the ones it holds are (re)written. */
static void sync_forwards(struct portmap *pm)
{
	int fd = pm->m->forwards;
	struct nat_fwd_key key, next, *doomed = NULL;
	struct nat_fwd_value v;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct portmap_entry *e;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) || !(v.flags & NAT_FWD_F_PCP))
			continue;
		e = portmap_table_find_ext(&pm->st.table, key.ifindex, key.proto, ntohs(key.port));
		if (e && e->int_addr == v.addr && htons(e->int_port) == v.port)
			continue;
		if (n == cap) {
			void *p = realloc(doomed, (cap = cap ? 2 * cap : 64) * sizeof(*doomed));

			if (!p)
				break;
			doomed = p;
		}
		doomed[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	free(doomed);
	if (n)	/* their ports' bits go (fwd_del() leaves them: harmless) */
		fwdports_sync(pm->m->fwd_ports, fd);
	for (int i = 0; i < PORTMAP_MAX; i++) {
		struct portmap_entry *e = &pm->st.table.e[i];

		struct portmap_lan *l = e->used ? lan_by_ifindex(pm, e->lan_ifindex) : NULL;

		if (l && !l->wan_ifindex)
			continue;	/* waits for its WAN's device */
		if (e->used && fwd_put(pm, e)) {
			nat_log("port-mapping: cannot write the forward of port %u: %s; "
				"mapping dropped", e->ext_port, strerror(errno));
			portmap_table_delete(&pm->st.table, e->int_addr, e->proto, e->int_port,
					     NULL, false, NULL, NULL);
		}
	}
}

static int open_socket(struct portmap_lan *l)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORTMAP_SERVER_PORT) };
	struct ip_mreqn mr = { .imr_ifindex = (int)l->ifindex };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->cfg.lan, strlen(l->cfg.lan)) ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void schedule_announce(struct portmap_lan *l)
{
	l->announce_left = 1 + ANNOUNCE_REPEATS;
	l->announce_gap = 0;
	l->next_announce = now_sec();
}

static int setup_lans(struct portmap *pm)
{
	for (int i = 0; i < pm->cfg->nportmaps; i++) {
		struct portmap_lan *l = &pm->lans[pm->nlans];

		memset(l, 0, sizeof(*l));
		l->cfg = pm->cfg->portmaps[i];
		l->fd = -1;
		l->ifindex = if_nametoindex(l->cfg.lan);
		l->wan_ifindex = if_nametoindex(l->cfg.wan);
		if (!l->ifindex) {	/* the loader has made sure a LAN exists */
			nat_log("port-mapping on line %d: no interface %s", l->cfg.line,
				l->cfg.lan);
			return -1;
		}
		if (!l->wan_ifindex)	/* answered NETWORK_FAILURE until it comes */
			nat_log("port-mapping %s: wan %s has no device yet", l->cfg.lan,
				l->cfg.wan);
		l->lim = (struct portmap_limits){ .port_lo = l->cfg.port_lo,
						  .port_hi = l->cfg.port_hi,
						  .max_per_host = l->cfg.max_per_host,
						  .max_lifetime = l->cfg.max_lifetime };
		pm->nlans++;
	}
	return 0;
}

static int open_sockets(struct portmap *pm)
{
	for (int i = 0; i < pm->nlans; i++) {
		struct portmap_lan *l = &pm->lans[i];

		l->fd = open_socket(l);
		if (l->fd < 0) {
			nat_log("port-mapping %s: cannot open UDP port %d: %s", l->cfg.lan,
				PORTMAP_SERVER_PORT, strerror(errno));
			return -1;
		}
		schedule_announce(l);
	}
	return 0;
}

static void close_sockets(struct portmap *pm)
{
	for (int i = 0; i < pm->nlans; i++)
		if (pm->lans[i].fd >= 0)
			close(pm->lans[i].fd);
}

int portmap_start(struct portmap **out, const struct xdpnat_config *cfg,
		  const struct nat_maps *m)
{
	struct portmap *pm = calloc(1, sizeof(*pm));
	int purged, kept;

	*out = NULL;
	if (!pm) {
		nat_log("port-mapping: out of memory");
		return -1;
	}
	pm->cfg = cfg;
	pm->m = m;
	portmap_rate_init(&pm->rate, nat_now_ms());
	if (run_path(pm->path, sizeof(pm->path), cfg->state_dir, STATE_PORTMAP_FILE) ||
	    (cfg->nportmaps && run_mkdir_p(cfg->state_dir, 0700))) {
		nat_log("port-mapping: state-dir %s: %s", cfg->state_dir,
			errno == EPERM && run_dir_unsafe(cfg->state_dir)
				? run_dir_unsafe(cfg->state_dir) : strerror(errno));
		free(pm);
		return -1;
	}
	if (setup_lans(pm)) {
		free(pm);
		return -1;
	}
	load(pm);
	follow_wans(pm);
	purged = portmap_table_purge(&pm->st.table, stale, pm, NULL, NULL);
	pm->st.n.purged += (uint64_t)purged;
	kept = pm->st.table.n;
	sync_forwards(pm);
	if (!cfg->nportmaps) {
		if (unlink(pm->path) && errno != ENOENT)
			nat_log("port-mapping: cannot remove %s: %s", pm->path, strerror(errno));
		free(pm);
		return 0;
	}
	if (open_sockets(pm)) {
		close_sockets(pm);
		free(pm);
		return -1;
	}
	save(pm);
	nat_log("port-mapping: serving %d LAN(s), epoch %u, %d mapping(s) kept, %d dropped",
		pm->nlans, epoch(pm), kept, purged);
	*out = pm;
	return 0;
}

void portmap_stop(struct portmap *pm)
{
	if (!pm)
		return;
	save(pm);
	close_sockets(pm);
	free(pm);
}

int portmap_pollfds(const struct portmap *pm, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; pm && i < pm->nlans && n < max; i++)
		pfd[n++] = (struct pollfd){ .fd = pm->lans[i].fd, .events = POLLIN };
	return n;
}

/* ---------------------------------------------------------------- requests */

/* One datagram as it came, and where to answer it from. */
struct dgram {
	uint8_t buf[PCP_MAX_LEN + 4];	/* one more word tells "longer than 1100" */
	size_t len;
	struct sockaddr_in src;
	struct in_addr dst;		/* the address it was sent to */
	uint32_t ifindex;		/* where it came in */
};

/* Is `a` an address of interface `ifname`? */
static bool lan_has_addr(const char *ifname, struct in_addr a)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			!strcmp(i->ifa_name, ifname) &&
			((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a.s_addr;
	freeifaddrs(ifa);
	return found;
}

static void reply(struct portmap *pm, const struct portmap_lan *l, const struct dgram *d,
		  const uint8_t *out, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
	struct iovec iov = { .iov_base = (void *)out, .iov_len = len };
	struct msghdr mh = { .msg_name = (void *)&d->src, .msg_namelen = sizeof(d->src),
			     .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in_pktinfo pi = { .ipi_ifindex = (int)l->ifindex, .ipi_spec_dst = d->dst };

	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	if (len && sendmsg(l->fd, &mh, MSG_DONTWAIT) == (ssize_t)len)
		pm->st.n.answered++;
}

static uint32_t seed(void)
{
	uint32_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = (uint32_t)nat_now_ns();
	return s;
}

static void log_created(const struct portmap_entry *e, const char *by)
{
	char a[INET_ADDRSTRLEN];

	nat_log("port-mapping: %s %s:%u -> port %u for %u s (%s)", proto_str(e->proto),
		addr_str(e->int_addr, a), e->int_port, e->ext_port,
		(unsigned)(e->expires - now_sec_up()), by);
}

/* Create or refresh; the forward written for a new one. */
static enum portmap_status map(struct portmap *pm, struct portmap_lan *l,
			       const struct portmap_req *r, struct portmap_entry **e)
{
	struct portmap_req req = *r;
	bool created;
	enum portmap_status st;

	req.ext_implicit = eimports_port_of(pm->m, r->wan_ifindex, r->proto, r->int_addr,
					    htons(r->int_port));
	for (int tries = 0;; tries++) {
		st = portmap_table_request(&pm->st.table, &req, &l->lim, port_taken, pm,
					   now_sec_up(), e, &created);
		if (st != PORTMAP_OK)
			return st;
		pm->dirty = true;
		if (!created)
			return PORTMAP_OK;
		if (fwd_put(pm, *e)) {
			nat_log("port-mapping: cannot write the forward of port %u: %s",
				(*e)->ext_port, strerror(errno));
			break;
		}
		/*
		 * The data path may have given the port to another endpoint's
		 * mapping between port_taken() and the forward: it looks for a
		 * forward before its claim and again after it (nat_eim.h
		 * xdpnat_eim_try), this side writes the forward and then reads
		 * the owner, so one of the two sees the other. The table is
		 * asked again; port_taken() now sees the owner.
		 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!held_by_other(pm, r, (*e)->ext_port)) {
			pm->st.n.created++;
			log_created(*e, r->by == PORTMAP_BY_PCP ? "pcp" : "natpmp");
			return PORTMAP_OK;
		}
		nat_log("port-mapping: port %u went to an RFC 4787 mapping meanwhile; asking again",
			(*e)->ext_port);
		fwd_del(pm, *e);
		if (tries == 2)
			break;
		portmap_table_delete(&pm->st.table, r->int_addr, r->proto, r->int_port, NULL,
				     false, NULL, NULL);
	}
	portmap_table_delete(&pm->st.table, r->int_addr, r->proto, r->int_port, NULL, false, NULL,
			     NULL);
	*e = NULL;
	return PORTMAP_TABLE_FULL;
}

static void deleted(void *arg, const struct portmap_entry *e)
{
	struct portmap *pm = arg;

	pm->st.n.deleted++;
	on_gone(pm, e);
}

static uint8_t pcp_status(enum portmap_status st)
{
	switch (st) {
	case PORTMAP_OK: return PCP_SUCCESS;
	case PORTMAP_NONCE_MISMATCH: return PCP_NOT_AUTHORIZED;
	case PORTMAP_HOST_LIMIT: return PCP_USER_EX_QUOTA;
	case PORTMAP_PREFER_FAILED: return PCP_CANNOT_PROVIDE_EXTERNAL;
	default: return PCP_NO_RESOURCES;
	}
}

static uint32_t pcp_err_lifetime(uint8_t result)
{
	switch (result) {
	case PCP_NETWORK_FAILURE:
	case PCP_NO_RESOURCES:
	case PCP_USER_EX_QUOTA:
	case PCP_CANNOT_PROVIDE_EXTERNAL:
		return ERR_LIFETIME_SHORT;
	default:
		return ERR_LIFETIME_LONG;
	}
}

static void pcp_map(struct portmap *pm, struct portmap_lan *l, const struct pcp_request *q,
		    uint32_t src, uint32_t waddr, struct pcp_response *resp)
{
	struct portmap_req r = { .by = PORTMAP_BY_PCP, .proto = q->protocol,
				 .lan_ifindex = l->ifindex, .wan_ifindex = l->wan_ifindex,
				 .int_addr = src, .int_port = q->internal_port,
				 .ext_port = q->ext_port, .lifetime = q->lifetime,
				 .prefer_failure = q->prefer_failure, .seed = seed() };
	struct portmap_entry *e;
	enum portmap_status st;

	memcpy(r.nonce, q->nonce, PORTMAP_NONCE_LEN);
	if (q->lifetime == 0) {		/* delete (§15); protocol 0: all of them */
		st = portmap_table_delete(&pm->st.table, src, q->protocol, q->internal_port,
					  q->nonce, true, deleted, pm);
		resp->result = pcp_status(st);
		resp->ext_port = q->ext_port;
		resp->ext_addr = waddr;
		return;
	}
	if (q->protocol != IPPROTO_TCP && q->protocol != IPPROTO_UDP) {
		resp->result = PCP_UNSUPP_PROTOCOL;	/* and protocol 0: every protocol */
		return;
	}
	if (!q->internal_port) {
		resp->result = PCP_UNSUPP_PROTOCOL;	/* every port of a protocol */
		return;
	}
	if (q->prefer_failure && (q->ext_v6 || (q->ext_addr && q->ext_addr != waddr))) {
		resp->result = PCP_CANNOT_PROVIDE_EXTERNAL;
		return;
	}
	st = map(pm, l, &r, &e);
	resp->result = pcp_status(st);
	if (st == PORTMAP_OK) {
		resp->lifetime = (uint32_t)(e->expires - now_sec_up());
		resp->ext_port = e->ext_port;
		resp->ext_addr = waddr;
	}
}

/* PEER: the outside address and port of a flow the host already has
 * (the data path makes flows; this server does not). */
static void pcp_peer(struct portmap *pm, struct portmap_lan *l, const struct pcp_request *q,
		     uint32_t src, struct pcp_response *resp)
{
	struct nat_ct_key k = { .saddr = src, .daddr = q->peer_addr,
				.sport = htons(q->internal_port), .dport = htons(q->peer_port),
				.proto = q->protocol };
	struct nat_ct_value v;
	struct nat_config c;
	__u32 zero = 0, timeout;

	if (q->protocol != IPPROTO_TCP && q->protocol != IPPROTO_UDP) {
		resp->result = PCP_UNSUPP_PROTOCOL;
		return;
	}
	if (q->peer_v6 || ct_get(&pm->m->cttab, &k, &v) || v.kind != NAT_KIND_MASQ ||
	    v.wan_ifindex != l->wan_ifindex) {
		resp->result = PCP_NO_RESOURCES;	/* no such flow (yet): retry later */
		return;
	}
	timeout = bpf_map_lookup_elem(pm->m->config, &zero, &c) ? NAT_TIMEOUT_UDP_DEFAULT
		  : q->protocol == IPPROTO_TCP ? c.timeout_tcp_est : c.timeout_udp;
	resp->lifetime = q->lifetime < timeout ? q->lifetime : timeout;
	resp->ext_port = ntohs(v.to_sport);
	resp->ext_addr = v.to_saddr;
}

/* A well-formed request: what this server makes of it. */
static void pcp_serve_request(struct portmap *pm, struct portmap_lan *l,
			      const struct pcp_request *q, uint32_t src, uint32_t waddr,
			      struct pcp_response *resp)
{
	if (q->client_v6 || q->client_addr != src)
		resp->result = PCP_ADDRESS_MISMATCH;	/* a NAT between it and us */
	else if (q->third_party)
		resp->result = PCP_NOT_AUTHORIZED;	/* only for the asking host itself */
	else if (q->filter)
		resp->result = PCP_UNSUPP_OPTION;
	else if (q->opcode == PCP_OP_ANNOUNCE)
		resp->lifetime = 0;
	else if (!waddr && !(q->opcode == PCP_OP_MAP && q->lifetime == 0))
		resp->result = PCP_NETWORK_FAILURE;	/* a delete needs no address */
	else if (q->opcode == PCP_OP_MAP)
		pcp_map(pm, l, q, src, waddr, resp);
	else
		pcp_peer(pm, l, q, src, resp);
}

static void serve_pcp(struct portmap *pm, struct portmap_lan *l, const struct dgram *d)
{
	static uint8_t out[PCP_MAX_LEN];
	struct pcp_request q;
	struct pcp_response resp = { .epoch = epoch(pm) };
	uint32_t src = d->src.sin_addr.s_addr, waddr = wan_addr(pm, l->wan_ifindex);
	int rc = pcp_decode_request(d->buf, d->len, &q);

	if (rc == PORTMAP_DROP) {
		pm->st.n.dropped_malformed++;
		return;
	}
	resp.result = (uint8_t)rc;
	if (rc == PCP_SUCCESS)
		pcp_serve_request(pm, l, &q, src, waddr, &resp);
	if (resp.result != PCP_SUCCESS) {
		resp.lifetime = pcp_err_lifetime(resp.result);
		pm->st.n.errors_sent++;
	}
	reply(pm, l, d, out, pcp_encode_response(d->buf, d->len, &q, &resp, out, sizeof(out)));
}

/* A well-formed NAT-PMP request: what this server makes of it. */
static void natpmp_serve_request(struct portmap *pm, struct portmap_lan *l,
				 const struct natpmp_request *q, uint32_t src, uint32_t waddr,
				 struct natpmp_response *resp)
{
	if (q->opcode != NATPMP_OP_ADDRESS && q->lifetime == 0) {
		/* RFC 6886 §3.4: port 0 deletes them all; no address needed */
		portmap_table_delete(&pm->st.table, src, q->protocol, q->internal_port, NULL, false,
				     deleted, pm);
	} else if (!waddr) {
		resp->result = NATPMP_NETWORK_FAILURE;
	} else if (q->opcode == NATPMP_OP_ADDRESS) {
		resp->ext_addr = waddr;
	} else if (!q->internal_port) {
		resp->result = NATPMP_NOT_AUTHORIZED;
	} else {
		struct portmap_req r = { .by = PORTMAP_BY_NATPMP, .proto = q->protocol,
					 .lan_ifindex = l->ifindex, .wan_ifindex = l->wan_ifindex,
					 .int_addr = src, .int_port = q->internal_port,
					 .ext_port = q->ext_port, .lifetime = q->lifetime,
					 .seed = seed() };
		struct portmap_entry *e;

		if (map(pm, l, &r, &e) == PORTMAP_OK) {
			resp->ext_port = e->ext_port;
			resp->lifetime = (uint32_t)(e->expires - now_sec_up());
		} else {
			resp->result = NATPMP_NO_RESOURCES;
		}
	}
}

static void serve_natpmp(struct portmap *pm, struct portmap_lan *l, const struct dgram *d)
{
	uint8_t out[16];
	struct natpmp_request q;
	struct natpmp_response resp = { .epoch = epoch(pm) };
	uint32_t src = d->src.sin_addr.s_addr, waddr = wan_addr(pm, l->wan_ifindex);
	int rc = natpmp_decode_request(d->buf, d->len, &q);

	if (rc == PORTMAP_DROP) {
		pm->st.n.dropped_malformed++;
		return;
	}
	resp.result = (uint8_t)rc;
	resp.internal_port = q.internal_port;
	if (rc == NATPMP_SUCCESS)
		natpmp_serve_request(pm, l, &q, src, waddr, &resp);
	if (resp.result != NATPMP_SUCCESS)
		pm->st.n.errors_sent++;
	reply(pm, l, d, out, natpmp_encode_response(&q, &resp, out, sizeof(out)));
}

/* A NAT-PMP request to a LAN served by PCP only, or the other way
 * round: the version this LAN speaks is not the one asked for. */
static void serve_wrong_version(struct portmap *pm, struct portmap_lan *l, const struct dgram *d)
{
	uint8_t out[PCP_MAX_LEN];
	struct pcp_request q = { .opcode = d->len > 1 ? d->buf[1] & 0x7f : 0 };
	struct pcp_response resp = { .result = PCP_UNSUPP_VERSION, .epoch = epoch(pm),
				      .lifetime = ERR_LIFETIME_LONG };
	struct natpmp_request nq = { .opcode = d->len > 1 ? d->buf[1] : 0 };
	struct natpmp_response nr = { .result = NATPMP_UNSUPP_VERSION, .epoch = epoch(pm) };

	if (d->len < 2 || (d->buf[1] & 0x80)) {
		pm->st.n.dropped_malformed++;
		return;
	}
	pm->st.n.errors_sent++;
	if (l->cfg.pcp)		/* version 0 asked of a PCP-only LAN */
		reply(pm, l, d, out, pcp_encode_response(d->buf, d->len, &q, &resp, out,
							  sizeof(out)));
	else			/* NAT-PMP only: RFC 6886 §3.5 */
		reply(pm, l, d, out, natpmp_encode_response(&nq, &nr, out, sizeof(out)));
}

static void serve(struct portmap *pm, struct portmap_lan *l, const struct dgram *d)
{
	bool natpmp = d->len > 0 && d->buf[0] == NATPMP_VERSION;

	if (d->len == 0) {
		pm->st.n.dropped_malformed++;
		return;
	}
	if (natpmp ? !l->cfg.natpmp : !l->cfg.pcp)
		serve_wrong_version(pm, l, d);
	else if (natpmp)
		serve_natpmp(pm, l, d);
	else
		serve_pcp(pm, l, d);
}

static bool receive(int fd, struct dgram *d)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = { .iov_base = d->buf, .iov_len = sizeof(d->buf) };
	struct msghdr mh = { .msg_name = &d->src, .msg_namelen = sizeof(d->src),
			     .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return false;
	d->len = (size_t)n > sizeof(d->buf) ? sizeof(d->buf) : (size_t)n;
	d->ifindex = 0;
	d->dst.s_addr = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			d->ifindex = (uint32_t)pi.ipi_ifindex;
			d->dst = pi.ipi_addr;
		}
	}
	return true;
}

void portmap_input(struct portmap *pm, int fd)
{
	static struct dgram d;
	struct portmap_lan *l = NULL;

	for (int i = 0; i < pm->nlans; i++)
		if (pm->lans[i].fd == fd)
			l = &pm->lans[i];
	for (int budget = INPUT_BUDGET; l && budget > 0 && receive(fd, &d); budget--) {
		pm->st.n.requests++;
		/* only from this LAN, to its own addresses; never from a WAN.
		 * The rate limit comes before the address check, which costs
		 * a netlink dump: a flood to a broadcast address is cheap too */
		if (d.ifindex != l->ifindex || d.src.sin_port == 0) {
			pm->st.n.dropped_not_lan++;
			continue;
		}
		if (!portmap_rate_allow(&pm->rate, d.src.sin_addr.s_addr, nat_now_ms())) {
			pm->st.n.dropped_rate++;
			continue;
		}
		if (!lan_has_addr(l->cfg.lan, d.dst)) {
			pm->st.n.dropped_not_lan++;
			continue;
		}
		serve(pm, l, &d);
	}
}

/* ---------------------------------------------------------------- timers */

static void announce(struct portmap *pm, struct portmap_lan *l)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORTMAP_CLIENT_PORT) };
	uint32_t waddr = wan_addr(pm, l->wan_ifindex);
	uint8_t out[PCP_HDR_LEN];
	size_t len;

	inet_pton(AF_INET, ALL_HOSTS, &to.sin_addr);
	if (l->cfg.natpmp && waddr) {	/* NAT-PMP announces an address it has */
		len = natpmp_encode_announce(epoch(pm), waddr, out, sizeof(out));
		sendto(l->fd, out, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
	}
	if (l->cfg.pcp) {
		len = pcp_encode_announce(epoch(pm), out, sizeof(out));
		sendto(l->fd, out, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
	}
}

static void expired(void *arg, const struct portmap_entry *e)
{
	struct portmap *pm = arg;

	pm->st.n.expired++;
	on_gone(pm, e);
}

void portmap_tick(struct portmap *pm)
{
	uint64_t now = now_sec();

	if (!pm)
		return;
	portmap_table_expire(&pm->st.table, now, expired, pm);
	for (int i = 0; i < pm->nlans; i++) {
		struct portmap_lan *l = &pm->lans[i];

		if (!l->announce_left || now < l->next_announce)
			continue;
		announce(pm, l);
		l->announce_left--;
		l->announce_gap = l->announce_gap ? 2 * l->announce_gap : 1;
		l->next_announce = now + l->announce_gap;
	}
	/* at most once a second, whatever the request rate */
	if (pm->dirty || memcmp(&pm->st.n, &pm->saved_n, sizeof(pm->saved_n)))
		save(pm);
}

void portmap_wan_changed(struct portmap *pm, uint32_t ifindex)
{
	for (int i = 0; pm && i < pm->nlans; i++) {
		if (pm->lans[i].wan_ifindex != ifindex)
			continue;
		schedule_announce(&pm->lans[i]);
		pm->dirty = true;	/* status shows the new address */
	}
	if (pm)
		portmap_tick(pm);	/* the first announcement now */
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * addrwatch.c - primary IPv4 address and default gateway of every
 * interface, from rtnetlink. See addrwatch.h for the contract.
 *
 * Two sockets: `ev` is subscribed to the link, IPv4 address and IPv4 route
 * groups and never sends; `req` only sends dump requests, so dump replies
 * and notifications are never interleaved on one socket.
 *
 * State is rebuilt from a dump ("resync") whenever events alone cannot be
 * trusted: after ENOBUFS (messages lost), after an address removal and
 * after an interface went up or down (the kernel then flushes routes
 * without announcing it), and after an interface was deleted. Messages
 * still queued when a resync starts are older than the dump and are
 * discarded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "wan/addrwatch.h"
#include "common/nlsock.h"

#define AW_MAX_PRIMARY	8		/* primary addresses kept per interface */
#define AW_MAX_NEXTHOPS	64		/* ECMP nexthops read per route */
#define AW_BUF_SIZE	65536		/* >= the kernel's largest dump skb (32 KiB) */
#define AW_RCVBUF	(1 << 20)	/* fewer overruns on address storms */
#define AW_DUMP_TRIES	5		/* retries of a dump the kernel marked interrupted */

struct aw_iface {
	int ifindex;
	bool present;			/* the link exists (seen in a dump or event) */
	bool up;			/* IFF_UP, to notice silent route flushes */
	int nprimary;
	struct in_addr primary[AW_MAX_PRIMARY];	/* oldest first; [0] is reported */
	struct in_addr rep_addr;	/* last reported to the callback */
	struct in_addr rep_gw;
};

/* One nexthop of one default route. (table, tos, priority) identify the
 * route, as the kernel's fib does for a 0.0.0.0/0 prefix. */
struct aw_route {
	uint32_t table;
	uint32_t priority;
	uint8_t tos;
	int ifindex;
	struct in_addr gw;
};

struct aw_nexthop {
	int ifindex;
	struct in_addr gw;
	bool dead;
};

struct addrwatch {
	struct mnl_socket *ev;
	struct mnl_socket *req;
	unsigned seq;
	bool resync;			/* state may differ from the kernel's */
	bool dump_intr;			/* the kernel flagged the running dump */
	struct aw_iface *ifs;
	size_t nifs, cap_ifs;
	struct aw_route *routes;
	size_t nroutes, cap_routes;
	char buf[AW_BUF_SIZE];
};

/* ---- interface table ------------------------------------------------ */

static struct aw_iface *iface_find(struct addrwatch *aw, int ifindex)
{
	for (size_t i = 0; i < aw->nifs; i++)
		if (aw->ifs[i].ifindex == ifindex)
			return &aw->ifs[i];
	return NULL;
}

/* Find or add; NULL only when out of memory. */
static struct aw_iface *iface_get(struct addrwatch *aw, int ifindex)
{
	struct aw_iface *ifc = iface_find(aw, ifindex);

	if (ifc)
		return ifc;
	if (aw->nifs == aw->cap_ifs) {
		size_t cap = aw->cap_ifs ? 2 * aw->cap_ifs : 16;
		struct aw_iface *n = realloc(aw->ifs, cap * sizeof(*n));

		if (!n)
			return NULL;
		aw->ifs = n;
		aw->cap_ifs = cap;
	}
	ifc = &aw->ifs[aw->nifs++];
	memset(ifc, 0, sizeof(*ifc));
	ifc->ifindex = ifindex;
	return ifc;
}

static void primary_add(struct aw_iface *ifc, struct in_addr a)
{
	for (int i = 0; i < ifc->nprimary; i++)
		if (ifc->primary[i].s_addr == a.s_addr)
			return;		/* re-announced: DHCP renew, link flap */
	if (ifc->nprimary < AW_MAX_PRIMARY)
		ifc->primary[ifc->nprimary++] = a;
}

static void primary_del(struct aw_iface *ifc, struct in_addr a)
{
	for (int i = 0; i < ifc->nprimary; i++) {
		if (ifc->primary[i].s_addr != a.s_addr)
			continue;
		memmove(&ifc->primary[i], &ifc->primary[i + 1],
			(ifc->nprimary - i - 1) * sizeof(ifc->primary[0]));
		ifc->nprimary--;
		return;
	}
}

/* ---- default route table -------------------------------------------- */

static bool route_same(const struct aw_route *a, const struct aw_route *b)
{
	return a->table == b->table && a->priority == b->priority &&
	       a->tos == b->tos && a->ifindex == b->ifindex &&
	       a->gw.s_addr == b->gw.s_addr;
}

static int route_add(struct addrwatch *aw, const struct aw_route *r)
{
	for (size_t i = 0; i < aw->nroutes; i++)
		if (route_same(&aw->routes[i], r))
			return 0;
	if (aw->nroutes == aw->cap_routes) {
		size_t cap = aw->cap_routes ? 2 * aw->cap_routes : 16;
		struct aw_route *n = realloc(aw->routes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		aw->routes = n;
		aw->cap_routes = cap;
	}
	aw->routes[aw->nroutes++] = *r;
	return 0;
}

/* Remove entries matching r; with any_nexthop, every nexthop of r's route. */
static void route_del(struct addrwatch *aw, const struct aw_route *r, bool any_nexthop)
{
	size_t j = 0;

	for (size_t i = 0; i < aw->nroutes; i++) {
		const struct aw_route *e = &aw->routes[i];
		bool match = any_nexthop ?
			e->table == r->table && e->priority == r->priority && e->tos == r->tos :
			route_same(e, r);

		if (!match)
			aw->routes[j++] = *e;
	}
	aw->nroutes = j;
}

/* The main table wins over policy tables, then the lowest metric, then
 * the oldest route. */
static bool route_better(const struct aw_route *a, const struct aw_route *b)
{
	bool a_main = a->table == RT_TABLE_MAIN, b_main = b->table == RT_TABLE_MAIN;

	if (a_main != b_main)
		return a_main;
	return a->priority < b->priority;
}

static struct in_addr effective_gw(const struct addrwatch *aw, int ifindex)
{
	const struct aw_route *best = NULL;
	struct in_addr none = { 0 };

	for (size_t i = 0; i < aw->nroutes; i++) {
		const struct aw_route *r = &aw->routes[i];

		if (r->ifindex == ifindex && (!best || route_better(r, best)))
			best = r;
	}
	return best ? best->gw : none;
}

static struct in_addr effective_addr(const struct aw_iface *ifc)
{
	struct in_addr none = { 0 };

	return ifc->nprimary ? ifc->primary[0] : none;
}

/* ---- message parsing ---------------------------------------------- */

#define AW_ATTR_MAX 64

struct aw_attrs {
	const struct nlattr *tb[AW_ATTR_MAX + 1];
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct aw_attrs *a = data;
	int type = mnl_attr_get_type(attr);

	if (type <= AW_ATTR_MAX)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

/* A 4-byte attribute (u32 or IPv4 address); false if absent or short. */
static bool attr_u32(const struct aw_attrs *a, int type, uint32_t *out)
{
	const struct nlattr *attr = a->tb[type];

	if (!attr || mnl_attr_get_payload_len(attr) < sizeof(uint32_t))
		return false;
	memcpy(out, mnl_attr_get_payload(attr), sizeof(*out));
	return true;
}

static void on_link(struct addrwatch *aw, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct aw_iface *ifc;
	bool up;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) || ifi->ifi_family != AF_UNSPEC)
		return;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		aw->resync = true;	/* its routes went silently */
		return;
	}
	ifc = iface_get(aw, ifi->ifi_index);
	if (!ifc) {
		aw->resync = true;	/* out of memory: try again from a dump */
		return;
	}
	up = ifi->ifi_flags & IFF_UP;
	if (ifc->present && ifc->up != up)
		aw->resync = true;	/* routes flushed or revived silently */
	ifc->present = true;
	ifc->up = up;
}

static void on_addr(struct addrwatch *aw, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct aw_attrs a = { 0 };
	struct aw_iface *ifc;
	struct in_addr addr;
	uint32_t flags;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) || ifa->ifa_family != AF_INET)
		return;
	if (mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &a) < 0)
		return;
	if (!attr_u32(&a, IFA_LOCAL, &addr.s_addr) && !attr_u32(&a, IFA_ADDRESS, &addr.s_addr))
		return;
	if (!attr_u32(&a, IFA_FLAGS, &flags))
		flags = ifa->ifa_flags;
	ifc = iface_get(aw, ifa->ifa_index);
	if (!ifc) {
		aw->resync = true;
		return;
	}
	ifc->present = true;
	if (nlh->nlmsg_type == RTM_DELADDR) {
		primary_del(ifc, addr);
		aw->resync = true;	/* the last address takes its routes with it */
	} else if (!(flags & IFA_F_SECONDARY)) {
		primary_add(ifc, addr);
	}
}

/* Nexthops of a route: RTA_MULTIPATH (ECMP) or RTA_OIF + RTA_GATEWAY. */
static int route_nexthops(const struct rtmsg *rtm, const struct aw_attrs *a,
			  struct aw_nexthop *nh)
{
	const struct nlattr *mp = a->tb[RTA_MULTIPATH];
	const struct rtnexthop *rtnh;
	int n = 0, rem;

	if (!mp) {
		uint32_t oif;

		if (!attr_u32(a, RTA_OIF, &oif))
			return 0;
		nh[0].ifindex = oif;
		nh[0].gw.s_addr = 0;
		attr_u32(a, RTA_GATEWAY, &nh[0].gw.s_addr);
		nh[0].dead = rtm->rtm_flags & RTNH_F_DEAD;
		return 1;
	}
	rtnh = mnl_attr_get_payload(mp);
	rem = mnl_attr_get_payload_len(mp);
	while (n < AW_MAX_NEXTHOPS && rem >= (int)sizeof(*rtnh) &&
	       rtnh->rtnh_len >= sizeof(*rtnh) && rtnh->rtnh_len <= rem) {
		struct aw_attrs na = { 0 };

		nh[n].ifindex = rtnh->rtnh_ifindex;
		nh[n].gw.s_addr = 0;
		nh[n].dead = rtnh->rtnh_flags & RTNH_F_DEAD;
		if (mnl_attr_parse_payload(RTNH_DATA(rtnh), rtnh->rtnh_len - sizeof(*rtnh),
					   attr_cb, &na) >= 0)
			attr_u32(&na, RTA_GATEWAY, &nh[n].gw.s_addr);
		n++;
		rem -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return n;
}

static void on_route(struct addrwatch *aw, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct aw_nexthop nh[AW_MAX_NEXTHOPS];
	struct aw_attrs a = { 0 };
	struct aw_route r = { 0 };
	bool del = nlh->nlmsg_type == RTM_DELROUTE;
	int n;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) || rtm->rtm_family != AF_INET ||
	    rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return;
	if (mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &a) < 0)
		return;
	if (!attr_u32(&a, RTA_TABLE, &r.table))
		r.table = rtm->rtm_table;
	attr_u32(&a, RTA_PRIORITY, &r.priority);
	r.tos = rtm->rtm_tos;
	if (!del && (nlh->nlmsg_flags & NLM_F_REPLACE))
		route_del(aw, &r, true);
	n = route_nexthops(rtm, &a, nh);
	for (int i = 0; i < n; i++) {
		r.ifindex = nh[i].ifindex;
		r.gw = nh[i].gw;
		if (del)
			route_del(aw, &r, false);
		else if (!nh[i].dead && r.gw.s_addr && route_add(aw, &r) < 0)
			aw->resync = true;
	}
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addrwatch *aw = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		aw->dump_intr = true;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(aw, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(aw, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route(aw, nlh);
		break;
	}
	return MNL_CB_OK;
}

/* ---- dumps ------------------------------------------------------------ */

/* One dump request; hdrlen is the size of the family header of `type`. */
static int dump_one(struct addrwatch *aw, uint16_t type, uint8_t family, size_t hdrlen)
{
	return nl_dump(aw->req, aw->buf, sizeof(aw->buf), &aw->seq, type, family, hdrlen, msg_cb, aw);
}

/* Read and drop what is queued on the event socket. */
static void drain_discard(struct addrwatch *aw)
{
	while (mnl_socket_recvfrom(aw->ev, aw->buf, sizeof(aw->buf)) > 0 || errno == ENOBUFS)
		;
}

static void state_clear(struct addrwatch *aw)
{
	for (size_t i = 0; i < aw->nifs; i++) {
		aw->ifs[i].present = false;
		aw->ifs[i].nprimary = 0;
	}
	aw->nroutes = 0;
}

/* Rebuild the whole state from the kernel. Keeps what was reported, so
 * the next report shows exactly what changed meanwhile. */
static int resync(struct addrwatch *aw)
{
	int err = 0;

	drain_discard(aw);
	for (int try = 0; try < AW_DUMP_TRIES; try++) {
		aw->dump_intr = false;
		aw->resync = false;
		state_clear(aw);
		err = dump_one(aw, RTM_GETLINK, AF_UNSPEC, sizeof(struct ifinfomsg));
		if (!err)
			err = dump_one(aw, RTM_GETADDR, AF_INET, sizeof(struct ifaddrmsg));
		if (!err)
			err = dump_one(aw, RTM_GETROUTE, AF_INET, sizeof(struct rtmsg));
		if (err || (!aw->dump_intr && !aw->resync))
			break;
	}
	/* Still interrupted after the retries: use this dump, but dump again
	 * on the next call. */
	if (err || aw->dump_intr)
		aw->resync = true;
	return err;
}

/* ---- reporting ------------------------------------------------------ */

static void report_one(int type, struct aw_iface *ifc, struct in_addr now, struct in_addr *rep,
		       bool all, addrwatch_cb cb, void *arg)
{
	struct addrwatch_event ev = { .ifindex = ifc->ifindex, .addr = now };

	if (!all && now.s_addr == rep->s_addr)
		return;
	ev.type = type;
	*rep = now;
	cb(arg, &ev);
}

/* Call back for what changed (or, with all, for every interface), then
 * forget interfaces that are gone and fully reported. */
static void report(struct addrwatch *aw, bool all, addrwatch_cb cb, void *arg)
{
	size_t j = 0;

	for (size_t i = 0; i < aw->nifs; i++) {
		struct aw_iface *ifc = &aw->ifs[i];
		bool show = all && ifc->present;

		report_one(AW_ADDR, ifc, effective_addr(ifc), &ifc->rep_addr, show, cb, arg);
		report_one(AW_GATEWAY, ifc, effective_gw(aw, ifc->ifindex), &ifc->rep_gw,
			   show, cb, arg);
	}
	for (size_t i = 0; i < aw->nifs; i++) {
		const struct aw_iface *ifc = &aw->ifs[i];

		if (ifc->present || ifc->rep_addr.s_addr || ifc->rep_gw.s_addr)
			aw->ifs[j++] = *ifc;
	}
	aw->nifs = j;
}

/* ---- public API ------------------------------------------------------ */

struct addrwatch *addrwatch_open(void)
{
	struct addrwatch *aw = calloc(1, sizeof(*aw));
	int err;

	if (!aw)
		return NULL;
	aw->ev = nl_open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE, SOCK_NONBLOCK);
	if (aw->ev)
		aw->req = nl_open(0, 0);
	if (!aw->req) {
		err = errno;
		addrwatch_close(aw);
		errno = err;
		return NULL;
	}
	nl_rcvbuf(aw->ev, AW_RCVBUF);
	aw->resync = true;
	return aw;
}

int addrwatch_fd(const struct addrwatch *aw)
{
	return mnl_socket_get_fd(aw->ev);
}

int addrwatch_dump(struct addrwatch *aw, addrwatch_cb cb, void *arg)
{
	int err = resync(aw);

	if (err)
		return err;
	report(aw, true, cb, arg);
	return 0;
}

/* Apply every queued notification; stop applying (keep reading) once a
 * resync is due, as the dump will supersede them. */
static int drain_apply(struct addrwatch *aw)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(aw->ev, aw->buf, sizeof(aw->buf));

		if (n < 0 && errno == ENOBUFS) {
			aw->resync = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		if (!aw->resync && mnl_cb_run(aw->buf, n, 0, 0, msg_cb, aw) < 0)
			aw->resync = true;	/* a malformed batch: trust a dump instead */
	}
}

int addrwatch_process(struct addrwatch *aw, addrwatch_cb cb, void *arg)
{
	int err = drain_apply(aw);

	if (!err && aw->resync)
		err = resync(aw);
	if (err) {
		aw->resync = true;
		return err;
	}
	report(aw, false, cb, arg);
	return 0;
}

void addrwatch_close(struct addrwatch *aw)
{
	if (!aw)
		return;
	if (aw->ev)
		mnl_socket_close(aw->ev);
	if (aw->req)
		mnl_socket_close(aw->req);
	free(aw->ifs);
	free(aw->routes);
	free(aw);
}

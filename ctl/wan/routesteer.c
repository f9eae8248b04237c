/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * routesteer.c - default routes without the dead WANs, and the probes'
 * own tables (routesteer.h).
 *
 * A route is changed by sending the kernel its own dump message back,
 * edited: what `ip route save` / `ip route restore` rely on. Flags that
 * only describe state (RTNH_F_DEAD, RTNH_F_LINKDOWN, offload marks) are
 * masked out first, since the kernel refuses them in a request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "common/log.h"
#include "common/nlsock.h"
#include "config/config.h"
#include "wan/routesteer.h"

#define RS_MSG_MAX	1024		/* one default route, all nexthops */
#define RS_NH_MAX	16

struct rs_saved {
	char msg[RS_MSG_MAX];		/* the route as it was, a ready RTM_NEWROUTE */
	size_t len;
	bool failed;			/* putting it back failed (logged once) */
};

struct rs_probe {
	int ifindex;			/* 0 = nothing installed */
	struct in_addr gw;
	char ifname[IF_NAMESIZE];
};

struct routesteer {
	struct mnl_socket *nl;
	unsigned seq;
	char buf[16384];
	struct rs_saved saved[ROUTESTEER_MAX_SAVED];
	int nsaved;
	int dead[CFG_MAX_IFACES];	/* what the routes avoid now */
	int ndead;
	bool dirty;			/* the last apply did not finish */
	struct rs_probe probe[CFG_MAX_IFACES];
	/* the dump being read */
	struct rs_saved dump[ROUTESTEER_MAX_SAVED];
	int ndump;
};

struct routesteer *routesteer_open(void)
{
	struct routesteer *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->nl = nl_open(0, 0);
	if (!rs->nl) {
		free(rs);
		return NULL;
	}
	return rs;
}

int routesteer_nsaved(const struct routesteer *rs)
{
	return rs ? rs->nsaved : 0;
}

/* ---------------------------------------------------------------- parsing */

struct rs_nh {
	const struct rtnexthop *rtnh;	/* NULL: the route's single nexthop */
	int ifindex;
	struct in_addr gw;
};

/* A route's nexthops, with pointers into msg. */
static int route_nexthops(const struct nlmsghdr *nlh, struct rs_nh *nh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *mp = NULL, *gw = NULL, *oif = NULL;
	int n = 0;

	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_MULTIPATH: mp = a; break;
		case RTA_GATEWAY: gw = a; break;
		case RTA_OIF: oif = a; break;
		}
	}
	if (!mp) {
		if (!oif || mnl_attr_get_payload_len(oif) < 4)
			return 0;
		nh[0] = (struct rs_nh){ .ifindex = (int)mnl_attr_get_u32(oif) };
		if (gw && mnl_attr_get_payload_len(gw) >= 4)
			nh[0].gw.s_addr = mnl_attr_get_u32(gw);
		return 1;
	}
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	int rem = (int)mnl_attr_get_payload_len(mp);

	while (n < RS_NH_MAX && rem >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       rtnh->rtnh_len <= rem) {
		const struct nlattr *na;

		nh[n] = (struct rs_nh){ .rtnh = rtnh, .ifindex = rtnh->rtnh_ifindex };
		for (na = (const void *)RTNH_DATA(rtnh);
		     mnl_attr_ok(na, (int)((const char *)rtnh + rtnh->rtnh_len - (const char *)na));
		     na = mnl_attr_next(na))
			if (mnl_attr_get_type(na) == RTA_GATEWAY && mnl_attr_get_payload_len(na) >= 4)
				nh[n].gw.s_addr = mnl_attr_get_u32(na);
		n++;
		rem -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return n;
}

/* State flags out, request header in: the message is a ready RTM_NEWROUTE. */
static void sanitize(struct nlmsghdr *nlh)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm->rtm_flags &= RTNH_F_ONLINK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) != RTA_MULTIPATH)
			continue;
		struct rtnexthop *rtnh = mnl_attr_get_payload(a);
		int rem = (int)mnl_attr_get_payload_len(a);

		while (rem >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
		       rtnh->rtnh_len <= rem) {
			rtnh->rtnh_flags &= RTNH_F_ONLINK;
			rem -= RTNH_ALIGN(rtnh->rtnh_len);
			rtnh = RTNH_NEXT(rtnh);
		}
	}
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct routesteer *rs = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t table = rtm->rtm_table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    rtm->rtm_family != AF_INET || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST || (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_get_payload_len(a) >= 4)
			table = mnl_attr_get_u32(a);
	if (table != RT_TABLE_MAIN || nlh->nlmsg_len > RS_MSG_MAX ||
	    rs->ndump == ROUTESTEER_MAX_SAVED)
		return MNL_CB_OK;
	memcpy(rs->dump[rs->ndump].msg, nlh, nlh->nlmsg_len);
	rs->dump[rs->ndump].len = nlh->nlmsg_len;
	sanitize((struct nlmsghdr *)rs->dump[rs->ndump].msg);
	rs->ndump++;
	return MNL_CB_OK;
}

/* ---------------------------------------------------------------- steering */

static bool in_set(const int *set, int n, int ifindex)
{
	for (int i = 0; i < n; i++)
		if (set[i] == ifindex)
			return true;
	return false;
}

static const char *route_str(const struct nlmsghdr *nlh, char *buf, size_t sz)
{
	struct rs_nh nh[RS_NH_MAX];
	int n = route_nexthops(nlh, nh);
	size_t off = (size_t)snprintf(buf, sz, "default");

	for (int i = 0; i < n && off < sz; i++) {
		char g[INET_ADDRSTRLEN] = "-", name[IF_NAMESIZE];

		if (nh[i].gw.s_addr)
			inet_ntop(AF_INET, &nh[i].gw, g, sizeof(g));
		if (!if_indextoname((unsigned)nh[i].ifindex, name))
			snprintf(name, sizeof(name), "if%d", nh[i].ifindex);
		off += (size_t)snprintf(buf + off, sz - off, "%s via %s dev %s",
					i ? "," : "", g, name);
	}
	return buf;
}

/* Put every saved route back; 0, or -errno of the first that failed
 * (those stay saved, to be tried again). */
static int restore_all(struct routesteer *rs)
{
	int err = 0, j = 0;

	for (int i = 0; i < rs->nsaved; i++) {
		struct rs_saved *s = &rs->saved[i];
		char txt[256];
		int ret;

		memcpy(rs->buf, s->msg, s->len);
		ret = nl_do(rs->nl, (struct nlmsghdr *)rs->buf, rs->buf, sizeof(rs->buf), &rs->seq);
		route_str((const struct nlmsghdr *)s->msg, txt, sizeof(txt));
		if (ret) {
			if (!s->failed)
				nat_log("failover: cannot put back the route %s: %s (retrying, "
					"logged once)", txt, strerror(-ret));
			s->failed = true;
			err = err ? err : ret;
			rs->saved[j++] = *s;
			continue;
		}
		nat_log("failover: route put back: %s", txt);
	}
	rs->nsaved = j;
	return err;
}

/* The route of msg without the nexthops through dead[], into out. */
static void build_reduced(struct routesteer *rs, const struct nlmsghdr *orig, const int *dead,
			  int ndead, char *out)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(out);
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(orig);
	struct rs_nh nh[RS_NH_MAX];
	const struct nlattr *a;
	struct nlattr *nest;
	int n = route_nexthops(orig, nh);

	(void)rs;
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REPLACE;
	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm)), rtm, sizeof(*rtm));
	mnl_attr_for_each(a, orig, sizeof(*rtm))
		if (mnl_attr_get_type(a) != RTA_MULTIPATH)
			mnl_attr_put(nlh, mnl_attr_get_type(a), mnl_attr_get_payload_len(a),
				     mnl_attr_get_payload(a));
	nest = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
	for (int i = 0; i < n; i++) {
		if (in_set(dead, ndead, nh[i].ifindex))
			continue;
		memcpy(mnl_nlmsg_put_extra_header(nlh, RTNH_ALIGN(nh[i].rtnh->rtnh_len)),
		       nh[i].rtnh, nh[i].rtnh->rtnh_len);
	}
	mnl_attr_nest_end(nlh, nest);
}

/* One dumped route: 1 changed (saved), 0 untouched, 2 to delete later. */
static int steer_route(struct routesteer *rs, struct rs_saved *r, const int *dead, int ndead,
		       int *left)
{
	const struct nlmsghdr *orig = (const struct nlmsghdr *)r->msg;
	struct rs_nh nh[RS_NH_MAX];
	static char out[RS_MSG_MAX + 64];
	int n = route_nexthops(orig, nh), ndel = 0, ret;
	char txt[256];

	for (int i = 0; i < n; i++)
		ndel += in_set(dead, ndead, nh[i].ifindex);
	if (!ndel) {
		(*left)++;
		return 0;
	}
	if (ndel == n)
		return 2;
	if (rs->nsaved == ROUTESTEER_MAX_SAVED)
		return -ENOSPC;
	build_reduced(rs, orig, dead, ndead, out);
	ret = nl_do(rs->nl, (struct nlmsghdr *)out, rs->buf, sizeof(rs->buf), &rs->seq);
	if (ret) {
		nat_log("failover: cannot take the dead WAN out of %s: %s",
			route_str(orig, txt, sizeof(txt)), strerror(-ret));
		(*left)++;
		return ret;
	}
	rs->saved[rs->nsaved] = *r;
	rs->saved[rs->nsaved++].failed = false;
	(*left)++;
	nat_log("failover: route %s now %s", route_str(orig, txt, sizeof(txt)),
		route_str((const struct nlmsghdr *)out, txt + 128, sizeof(txt) - 128));
	return 1;
}

static int delete_route(struct routesteer *rs, struct rs_saved *r)
{
	char txt[256];
	int ret;

	if (rs->nsaved == ROUTESTEER_MAX_SAVED)
		return -ENOSPC;
	memcpy(rs->buf, r->msg, r->len);
	((struct nlmsghdr *)rs->buf)->nlmsg_type = RTM_DELROUTE;
	((struct nlmsghdr *)rs->buf)->nlmsg_flags = 0;
	ret = nl_do(rs->nl, (struct nlmsghdr *)rs->buf, rs->buf, sizeof(rs->buf), &rs->seq);
	route_str((const struct nlmsghdr *)r->msg, txt, sizeof(txt));
	if (ret) {
		nat_log("failover: cannot delete the route %s: %s", txt, strerror(-ret));
		return ret;
	}
	rs->saved[rs->nsaved] = *r;
	rs->saved[rs->nsaved++].failed = false;
	nat_log("failover: route %s deleted (only through dead WANs)", txt);
	return 0;
}

static int steer(struct routesteer *rs, const int *dead, int ndead)
{
	bool del[ROUTESTEER_MAX_SAVED] = { false };
	int left = 0, err = 0, ret;

	rs->ndump = 0;
	ret = nl_dump(rs->nl, rs->buf, sizeof(rs->buf), &rs->seq, RTM_GETROUTE, AF_INET,
		      sizeof(struct rtmsg), dump_cb, rs);
	if (ret) {
		nat_log("failover: cannot read the routes: %s", strerror(-ret));
		return ret;
	}
	for (int i = 0; i < rs->ndump; i++) {
		ret = steer_route(rs, &rs->dump[i], dead, ndead, &left);
		if (ret == 2)
			del[i] = true;
		else if (ret < 0)
			err = err ? err : ret;
	}
	for (int i = 0; i < rs->ndump; i++) {
		if (!del[i])
			continue;
		if (!left) {
			nat_log("failover: no default route through a live WAN: "
				"the route through the dead one stays");
			break;
		}
		ret = delete_route(rs, &rs->dump[i]);
		err = err ? err : ret;
	}
	return err;
}

int routesteer_apply(struct routesteer *rs, const int *dead, int ndead, bool *steered)
{
	int ret;

	if (ndead > CFG_MAX_IFACES)
		ndead = CFG_MAX_IFACES;
	if (!rs->dirty && ndead == rs->ndead && !memcmp(dead, rs->dead, sizeof(int) * (size_t)ndead))
		goto out;
	rs->dirty = true;
	ret = restore_all(rs);
	if (!ret && ndead)
		ret = steer(rs, dead, ndead);
	memcpy(rs->dead, dead, sizeof(int) * (size_t)ndead);
	rs->ndead = ndead;
	if (ret)
		return ret;
	rs->dirty = false;
out:
	if (steered)
		*steered = rs->nsaved > 0;
	return 0;
}

/* ---------------------------------------------------------------- probe tables */

static int rule_msg(struct routesteer *rs, uint16_t type, uint16_t flags, uint32_t table,
		    const char *ifname)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(rs->buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, ROUTESTEER_RULE_PRIO);
	mnl_attr_put_strz(nlh, FRA_OIFNAME, ifname);
	return nl_do(rs->nl, nlh, rs->buf, sizeof(rs->buf), &rs->seq);
}

static int table_route(struct routesteer *rs, uint16_t type, uint32_t table, int ifindex,
		       struct in_addr gw)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(rs->buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE
			 : gw.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (ifindex) {
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
		if (gw.s_addr) {
			mnl_attr_put(nlh, RTA_GATEWAY, sizeof(gw), &gw);
			rtm->rtm_flags |= RTNH_F_ONLINK;	/* whatever the address */
		}
	}
	return nl_do(rs->nl, nlh, rs->buf, sizeof(rs->buf), &rs->seq);
}

static void probe_remove(struct routesteer *rs, int wan_id, const char *ifname)
{
	uint32_t table = ROUTESTEER_TABLE_BASE + (uint32_t)wan_id;

	while (rule_msg(rs, RTM_DELRULE, 0, table, ifname) == 0)
		;	/* a stale copy of an earlier run, too */
	while (table_route(rs, RTM_DELROUTE, table, 0, (struct in_addr){ 0 }) == 0)
		;
}

int routesteer_probe_route(struct routesteer *rs, int wan_id, const char *ifname, int ifindex,
			   struct in_addr gw, bool force)
{
	struct rs_probe *p;
	uint32_t table = ROUTESTEER_TABLE_BASE + (uint32_t)wan_id;
	int ret;

	if (wan_id < 0 || wan_id >= CFG_MAX_IFACES)
		return -EINVAL;
	p = &rs->probe[wan_id];
	if (!ifindex) {
		if (p->ifname[0])
			probe_remove(rs, wan_id, p->ifname);
		memset(p, 0, sizeof(*p));
		return 0;
	}
	if (!force && p->ifindex == ifindex && p->gw.s_addr == gw.s_addr &&
	    !strcmp(p->ifname, ifname))
		return 0;
	if (!p->ifindex || strcmp(p->ifname, ifname))
		probe_remove(rs, wan_id, p->ifname[0] ? p->ifname : ifname);
	p->ifindex = 0;
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	ret = table_route(rs, RTM_NEWROUTE, table, ifindex, gw);
	if (!ret) {
		ret = rule_msg(rs, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, table, ifname);
		if (ret == -EEXIST)
			ret = 0;
	}
	if (ret) {
		/* the address is not there yet: retried when it comes */
		if (ret != -ENETUNREACH && ret != -ENETDOWN)
			nat_log("failover: wan %s: cannot install the probe route (table %u): %s",
				ifname, table, strerror(-ret));
		return ret;
	}
	p->ifindex = ifindex;
	p->gw = gw;
	return 0;
}

void routesteer_close(struct routesteer *rs)
{
	if (!rs)
		return;
	restore_all(rs);
	for (int i = 0; i < CFG_MAX_IFACES; i++)
		if (rs->probe[i].ifname[0])
			probe_remove(rs, i, rs->probe[i].ifname);
	mnl_socket_close(rs->nl);
	free(rs);
}

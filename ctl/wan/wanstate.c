/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wanstate.c - nat_ifaces and nat_wanaddr, and what a WAN address change
 * does to the flows (see wanstate.h).
 *
 * Order matters for the data path running concurrently: the new address
 * is entered in nat_wanaddr before nat_ifaces points at it, the old one
 * leaves nat_wanaddr only after, and flows bound to the old address are
 * removed last (until then they keep translating to the old address,
 * which is what the peers of those flows still expect).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "nat_ct_key.h"
#include "common/clock.h"
#include "common/ctflow.h"
#include "common/eimports.h"
#include "common/log.h"
#include "common/mapsweep.h"
#include "wan/wanstate.h"

static const char *ifname_of(uint32_t ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

static int fail(uint32_t ifindex, const char *what)
{
	char name[IF_NAMESIZE];
	int err = errno ? errno : EIO;

	nat_log_at(LOG_WARNING, "wan %s: %s: %s", ifname_of(ifindex, name), what, strerror(err));
	return -err;
}

/* The interface's nat_ifaces entry: 1 found, 0 not there, <0 error. */
static int iface_lookup(const struct wanstate *ws, uint32_t ifindex, struct nat_iface *ifc)
{
	if (bpf_map_lookup_elem(ws->m->ifaces, &ifindex, ifc)) {
		if (errno == ENOENT)
			return 0;
		return fail(ifindex, "cannot read nat_ifaces");
	}
	return 1;
}

/* The WAN's nat_ifaces entry: 1 found, 0 not a WAN (or not ours), <0 error. */
static int wan_lookup(const struct wanstate *ws, uint32_t ifindex, struct nat_iface *ifc)
{
	int ret = iface_lookup(ws, ifindex, ifc);

	return ret <= 0 ? ret : ifc->role == NAT_IF_WAN;
}

/* ---------------------------------------------------------------- flows */

struct purge {
	const struct wanstate *ws;
	uint32_t ifindex;
	__be32 addr;
	uint64_t now;
	unsigned flows;
	enum nat_flow_end why;		/* for the NAT log */
};

static bool bound_to_addr(const void *key, const void *val, void *ctx)
{
	const struct nat_ct_key *k = key;
	const struct nat_ct_value *v = val;
	const struct purge *p = ctx;
	struct nat_ct_key t;
	struct nat_ct_value tv;

	if (v->wan_ifindex != p->ifindex ||
	    (k->saddr != p->addr && k->daddr != p->addr &&
	     v->to_saddr != p->addr && v->to_daddr != p->addr))
		return false;
	/* A REPLY entry whose ORIG is there goes with its flow
	 * (entry_removed), after its counters were read for the NAT log. */
	if (v->dir == NAT_DIR_REPLY) {
		ct_twin_key(&t, v, k->proto);
		return ct_get(&p->ws->m->cttab, &t, &tv) != 0;
	}
	return true;
}

/* An entry bound to the old address is gone; if it was a flow's ORIG
 * entry, the rest of that flow goes with it (and its gate count). */
static void entry_removed(const void *key, const void *val, void *ctx)
{
	const struct nat_ct_value *v = val;
	struct purge *p = ctx;

	if (v->dir != NAT_DIR_ORIG)
		return;
	ctflow_remove_rest(p->ws->m, key, v, p->now, p->why);
	p->flows++;
}

/* Remove every flow bound to `addr` on this WAN; the flow count or <0. */
static int ct_purge(const struct wanstate *ws, uint32_t ifindex, __be32 addr,
		    enum nat_flow_end why)
{
	struct purge p = { .ws = ws, .ifindex = ifindex, .addr = addr, .now = nat_now_ns(),
			   .why = why };
	long n = ct_sweep(&ws->m->cttab, bound_to_addr, &p, entry_removed);

	if (n < 0) {
		errno = (int)-n;
		return fail(ifindex, "cannot remove the flows of the old address");
	}
	return (int)p.flows;
}

static int ctl_stats_add_addr_change(const struct wanstate *ws, uint32_t ifindex, unsigned n)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	if (!n)
		return 0;
	if (bpf_map_lookup_elem(ws->m->ctl_stats, &zero, &st))
		return fail(ifindex, "cannot read nat_ctl_stats");
	st.ct_addr_change += n;
	if (bpf_map_update_elem(ws->m->ctl_stats, &zero, &st, BPF_ANY))
		return fail(ifindex, "cannot update nat_ctl_stats");
	return 0;
}

/* ---------------------------------------------------------------- address */

static void log_addr(uint32_t ifindex, __be32 old, __be32 new, unsigned flows)
{
	char name[IF_NAMESIZE], o[INET_ADDRSTRLEN] = "none", n[INET_ADDRSTRLEN];

	ifname_of(ifindex, name);
	if (old)
		inet_ntop(AF_INET, &old, o, sizeof(o));
	if (!new) {
		nat_log("wan %s: no address: passing traffic untouched (was %s, %u flows removed)",
			name, o, flows);
		return;
	}
	inet_ntop(AF_INET, &new, n, sizeof(n));
	nat_log("wan %s: address %s -> %s, %u flows removed", name, o, n, flows);
}

/* nat_wanaddr and nat_ifaces now name `new` instead of `old`. */
static int wan_switch_addr(const struct wanstate *ws, uint32_t ifindex, struct nat_iface *ifc,
			   __be32 new)
{
	__be32 old = ifc->addr;
	__u32 owner;

	if (new && bpf_map_update_elem(ws->m->wanaddr, &new, &ifindex, BPF_ANY))
		return fail(ifindex, "cannot add the address to nat_wanaddr");
	ifc->addr = new;
	if (bpf_map_update_elem(ws->m->ifaces, &ifindex, ifc, BPF_EXIST)) {
		int err = fail(ifindex, "cannot update nat_ifaces");

		if (new)
			bpf_map_delete_elem(ws->m->wanaddr, &new);
		return err;
	}
	/* Only if still ours: another WAN may have been given it meanwhile. */
	if (old && !bpf_map_lookup_elem(ws->m->wanaddr, &old, &owner) && owner == ifindex &&
	    bpf_map_delete_elem(ws->m->wanaddr, &old) && errno != ENOENT)
		return fail(ifindex, "cannot remove the old address from nat_wanaddr");
	return 0;
}

/* wanstate_set_addr(); `why` the flows of the old address are removed. */
static int set_addr(const struct wanstate *ws, uint32_t ifindex, struct in_addr addr,
		    unsigned *flows_removed, enum nat_flow_end why)
{
	struct nat_iface ifc;
	__be32 old;
	int ret, flows = 0;

	if (flows_removed)
		*flows_removed = 0;
	ret = wan_lookup(ws, ifindex, &ifc);
	if (ret <= 0 || ifc.addr == addr.s_addr)
		return ret < 0 ? ret : 0;
	old = ifc.addr;
	ret = wan_switch_addr(ws, ifindex, &ifc, addr.s_addr);
	if (ret)
		return ret;
	if (old)
		flows = ct_purge(ws, ifindex, old, why);
	if (flows < 0)
		return flows;
	if (flows_removed)
		*flows_removed = (unsigned)flows;
	log_addr(ifindex, old, addr.s_addr, (unsigned)flows);
	if (ws->addr_changed)
		ws->addr_changed(ws->arg, ifindex, addr);
	return ctl_stats_add_addr_change(ws, ifindex, (unsigned)flows);
}

int wanstate_flush_wan(const struct wanstate *ws, uint32_t ifindex, unsigned *flows_removed)
{
	struct nat_iface ifc;
	int ret, flows;

	if (flows_removed)
		*flows_removed = 0;
	ret = wan_lookup(ws, ifindex, &ifc);
	if (ret <= 0 || !ifc.addr)
		return ret < 0 ? ret : 0;
	flows = ct_purge(ws, ifindex, ifc.addr, NAT_FLOW_END_WAN_DOWN);
	if (flows < 0)
		return flows;
	if (flows_removed)
		*flows_removed = (unsigned)flows;
	return 0;
}

int wanstate_set_addr(const struct wanstate *ws, uint32_t ifindex, struct in_addr addr,
		      unsigned *flows_removed)
{
	return set_addr(ws, ifindex, addr, flows_removed, NAT_FLOW_END_ADDR_CHANGE);
}

void wanstate_announce(const struct wanstate *ws, uint32_t ifindex)
{
	struct nat_iface ifc;

	if (ws->addr_changed && wan_lookup(ws, ifindex, &ifc) == 1)
		ws->addr_changed(ws->arg, ifindex, (struct in_addr){ .s_addr = ifc.addr });
}

/* ---------------------------------------------------------------- gateway */

int wanstate_set_gateway(const struct wanstate *ws, uint32_t ifindex, struct in_addr gw)
{
	char name[IF_NAMESIZE], o[INET_ADDRSTRLEN] = "none", n[INET_ADDRSTRLEN] = "none";
	struct nat_iface ifc;
	int ret = wan_lookup(ws, ifindex, &ifc);

	if (ret <= 0 || ifc.gateway == gw.s_addr)
		return ret < 0 ? ret : 0;
	if (ifc.gateway)
		inet_ntop(AF_INET, &ifc.gateway, o, sizeof(o));
	if (gw.s_addr)
		inet_ntop(AF_INET, &gw, n, sizeof(n));
	ifc.gateway = gw.s_addr;
	if (bpf_map_update_elem(ws->m->ifaces, &ifindex, &ifc, BPF_EXIST))
		return fail(ifindex, "cannot update nat_ifaces");
	nat_log("wan %s: gateway %s -> %s", ifname_of(ifindex, name), o, n);
	return 0;
}

static const struct cfg_wan *cfg_wan_of(const struct wanstate *ws, uint32_t ifindex)
{
	char name[IF_NAMESIZE];

	if (!ws->cfg || !if_indextoname(ifindex, name))
		return NULL;
	return cfg_find_wan(ws->cfg, name);
}

int wanstate_apply(const struct wanstate *ws, const struct addrwatch_event *ev)
{
	const struct cfg_wan *w;

	if (ev->type == AW_ADDR)
		return wanstate_set_addr(ws, (uint32_t)ev->ifindex, ev->addr, NULL);
	w = cfg_wan_of(ws, (uint32_t)ev->ifindex);
	if (w && w->gateway.s_addr)
		return 0;	/* pinned: `wan IF gateway IP` */
	return wanstate_set_gateway(ws, (uint32_t)ev->ifindex, ev->addr);
}

/* ---------------------------------------------------------------- interfaces */

int wanstate_remove_iface(const struct wanstate *ws, uint32_t ifindex)
{
	struct nat_iface ifc;
	int ret = iface_lookup(ws, ifindex, &ifc);

	if (ret <= 0)
		return ret;
	if (ifc.role == NAT_IF_WAN && ifc.addr) {
		ret = set_addr(ws, ifindex, (struct in_addr){ 0 }, NULL, NAT_FLOW_END_FLUSH);
		if (ret)
			return ret;
	}
	if (bpf_map_delete_elem(ws->m->ifaces, &ifindex) && errno != ENOENT)
		return fail(ifindex, "cannot delete the nat_ifaces entry");
	return 0;
}

/* The MSS a WAN's SYN and SYN-ACK segments are clamped to (nat_iface.mss):
 * `mss-clamp auto` is the interface's MTU minus 40 (IPv4 and TCP headers
 * without options), 0 (no clamping) if the MTU cannot be read. */
__u16 wanstate_mss(const struct cfg_wan *w)
{
	struct ifreq ifr;
	int fd, mtu;

	if (!w || w->mss_clamp != CFG_MSS_AUTO)
		return w ? w->mss_clamp : 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", w->ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	mtu = ioctl(fd, SIOCGIFMTU, &ifr) ? -1 : ifr.ifr_mtu;
	close(fd);
	if (mtu < 0) {
		nat_log_at(LOG_ERR, "wan %s: mss-clamp auto: cannot read the MTU (%s): not clamped",
			w->ifname, strerror(errno));
		return 0;
	}
	mtu -= 40;
	return mtu < CFG_MSS_MIN ? CFG_MSS_MIN : mtu > CFG_MSS_MAX ? CFG_MSS_MAX : (__u16)mtu;
}

/* The WAN's table of mappings (nat_eim_ports) bound to its interface
 * before the data path is told the WAN's wan_id. */
static void bind_port_table(uint32_t ifindex, const char *ifname, __u8 wan_id,
			    const struct nat_maps *m)
{
	int rc = eimports_bind(m, wan_id, ifindex);

	if (rc == 1)
		nat_log("wan %s: its mapping table (nat_eim_ports %u) was another interface's: "
			"cleared; live flows' mappings are taken again by the next GC pass",
			ifname, wan_id);
	else if (rc == -ENOSPC)
		nat_log_at(LOG_WARNING, "wan %s: no mapping table (nat_eim_ports holds fewer than "
			   "%u): ports are chosen per destination until a restart", ifname,
			   wan_id + 1);
}

int wanstate_put_iface(const struct wanstate *ws, uint32_t ifindex, const char *ifname,
		       enum nat_if_role role, __u8 slot, __u8 link_flags)
{
	const struct cfg_wan *w = ws->cfg ? cfg_find_wan(ws->cfg, ifname) : NULL;
	struct nat_iface cur, v = { .role = role, .slot = slot, .flags = link_flags };
	int ret = iface_lookup(ws, ifindex, &cur);

	if (ret < 0)
		return ret;
	if (ret && cur.role != role) {
		ret = wanstate_remove_iface(ws, ifindex);
		if (ret)
			return ret;
	} else if (ret && role == NAT_IF_WAN) {
		v.addr = cur.addr;
		v.gateway = cur.gateway;
	}
	if (role == NAT_IF_WAN && w) {
		if (w->gateway.s_addr)
			v.gateway = w->gateway.s_addr;
		v.port_lo_host = w->port_lo;
		v.port_hi_host = w->port_hi;
		v.masquerade = w->outbound;
		if (w->inbound_accept)
			v.flags |= NAT_IFACE_F_INBOUND_ACCEPT;
		if (w->filtering == CFG_FILTER_EI)
			v.flags |= NAT_IFACE_F_FILTER_EI;
		else if (w->filtering == CFG_FILTER_AD)
			v.flags |= NAT_IFACE_F_FILTER_AD;
		v.wan_id = (__u8)(w - ws->cfg->wans);
		v.mss = wanstate_mss(w);
		bind_port_table(ifindex, ifname, v.wan_id, ws->m);
	}
	if (bpf_map_update_elem(ws->m->ifaces, &ifindex, &v, BPF_ANY))
		return fail(ifindex, "cannot write the nat_ifaces entry");
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wanstate.c - a WAN's address or gateway changed: update the maps.
 *
 * Order matters for the data path running concurrently: the new address
 * is entered in nat_wanaddr before nat_ifaces points at it, the old one
 * leaves nat_wanaddr only after, and flows bound to the old address are
 * deleted last (until then they keep translating to the old address,
 * which is what the peers of those flows still expect).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>

#include "xdpnat.h"
#include "wan/wanstate.h"

struct ct_victims {
	struct nat_ct_key *keys;
	bool *orig;			/* keys[i] is an ORIG entry: one per flow */
	size_t n, cap;
};

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

	fprintf(stderr, "wan %s: %s: %s\n", ifname_of(ifindex, name), what, strerror(err));
	return -err;
}

/* The WAN's nat_ifaces entry: 1 found, 0 not a WAN (or not ours), <0 error. */
static int wan_lookup(const struct wan_maps *m, uint32_t ifindex, struct nat_iface *ifc)
{
	if (bpf_map_lookup_elem(m->ifaces_fd, &ifindex, ifc)) {
		if (errno == ENOENT)
			return 0;
		return fail(ifindex, "cannot read nat_ifaces");
	}
	return ifc->role == NAT_IF_WAN;
}

static bool ct_bound_to(const struct nat_ct_key *k, const struct nat_ct_value *v,
			uint32_t ifindex, __be32 addr)
{
	return v->wan_ifindex == ifindex &&
	       (k->saddr == addr || k->daddr == addr ||
		v->to_saddr == addr || v->to_daddr == addr);
}

static int victims_add(struct ct_victims *vs, const struct nat_ct_key *k, bool orig)
{
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? 2 * vs->cap : 256;
		struct nat_ct_key *keys = realloc(vs->keys, cap * sizeof(*keys));
		bool *o;

		if (!keys)
			return -ENOMEM;
		vs->keys = keys;
		o = realloc(vs->orig, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		vs->orig = o;
		vs->cap = cap;
	}
	vs->keys[vs->n] = *k;
	vs->orig[vs->n] = orig;
	vs->n++;
	return 0;
}

/*
 * Collect first, delete after: deleting the key get_next_key stands on
 * restarts the walk. A walk may still restart if the data path deletes
 * that key meanwhile; duplicates are harmless since only successful
 * deletes are counted. The bound stops a walk that keeps restarting.
 */
static int ct_collect(const struct wan_maps *m, uint32_t ifindex, __be32 addr,
		      struct ct_victims *vs)
{
	struct nat_ct_key key, next;
	struct nat_ct_value val;
	struct bpf_map_info info = { 0 };
	__u32 info_len = sizeof(info);
	const void *prev = NULL;
	size_t steps = 0, max_steps;

	if (bpf_obj_get_info_by_fd(m->ct_fd, &info, &info_len))
		return fail(ifindex, "cannot read nat_ct's size");
	max_steps = 4 * (size_t)info.max_entries + 16;

	while (steps++ < max_steps && !bpf_map_get_next_key(m->ct_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->ct_fd, &key, &val))
			continue;	/* expired meanwhile */
		if (ct_bound_to(&key, &val, ifindex, addr) &&
		    victims_add(vs, &key, val.dir == NAT_DIR_ORIG) < 0) {
			errno = ENOMEM;
			return fail(ifindex, "cannot list flows to remove");
		}
	}
	if (errno != ENOENT && steps <= max_steps)
		return fail(ifindex, "cannot walk nat_ct");
	return 0;
}

static unsigned ct_delete(const struct wan_maps *m, const struct ct_victims *vs)
{
	unsigned flows = 0;

	for (size_t i = 0; i < vs->n; i++)
		if (!bpf_map_delete_elem(m->ct_fd, &vs->keys[i]) && vs->orig[i])
			flows++;
	return flows;
}

/* Delete every flow bound to `addr` on this WAN; the flow count or <0. */
static int ct_purge(const struct wan_maps *m, uint32_t ifindex, __be32 addr)
{
	struct ct_victims vs = { 0 };
	int err = ct_collect(m, ifindex, addr, &vs);
	int flows = err ? err : (int)ct_delete(m, &vs);

	free(vs.keys);
	free(vs.orig);
	return flows;
}

static int ctl_stats_add_addr_change(const struct wan_maps *m, uint32_t ifindex, unsigned n)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	if (!n)
		return 0;
	if (bpf_map_lookup_elem(m->ctl_stats_fd, &zero, &st))
		return fail(ifindex, "cannot read nat_ctl_stats");
	st.ct_addr_change += n;
	if (bpf_map_update_elem(m->ctl_stats_fd, &zero, &st, BPF_ANY))
		return fail(ifindex, "cannot update nat_ctl_stats");
	return 0;
}

static void log_addr(uint32_t ifindex, __be32 old, __be32 new, unsigned flows)
{
	char name[IF_NAMESIZE], o[INET_ADDRSTRLEN] = "none", n[INET_ADDRSTRLEN];

	ifname_of(ifindex, name);
	if (old)
		inet_ntop(AF_INET, &old, o, sizeof(o));
	if (!new) {
		fprintf(stderr, "wan %s: no address: passing traffic untouched"
			" (was %s, %u flows removed)\n", name, o, flows);
		return;
	}
	inet_ntop(AF_INET, &new, n, sizeof(n));
	fprintf(stderr, "wan %s: address %s -> %s, %u flows removed\n", name, o, n, flows);
}

/* nat_wanaddr and nat_ifaces now name `new` instead of `old`. */
static int wan_switch_addr(const struct wan_maps *m, uint32_t ifindex, struct nat_iface *ifc,
			   __be32 new)
{
	__be32 old = ifc->addr;
	__u32 owner;

	if (new && bpf_map_update_elem(m->wanaddr_fd, &new, &ifindex, BPF_ANY))
		return fail(ifindex, "cannot add the address to nat_wanaddr");
	ifc->addr = new;
	if (bpf_map_update_elem(m->ifaces_fd, &ifindex, ifc, BPF_EXIST)) {
		int err = fail(ifindex, "cannot update nat_ifaces");

		if (new)
			bpf_map_delete_elem(m->wanaddr_fd, &new);
		return err;
	}
	/* Only if still ours: another WAN may have been given it meanwhile. */
	if (old && !bpf_map_lookup_elem(m->wanaddr_fd, &old, &owner) && owner == ifindex &&
	    bpf_map_delete_elem(m->wanaddr_fd, &old) && errno != ENOENT)
		return fail(ifindex, "cannot remove the old address from nat_wanaddr");
	return 0;
}

int wanstate_set_addr(const struct wan_maps *m, uint32_t ifindex, struct in_addr addr,
		      unsigned *flows_removed)
{
	struct nat_iface ifc;
	__be32 old;
	int ret, flows = 0;

	if (flows_removed)
		*flows_removed = 0;
	ret = wan_lookup(m, ifindex, &ifc);
	if (ret <= 0 || ifc.addr == addr.s_addr)
		return ret < 0 ? ret : 0;
	old = ifc.addr;
	ret = wan_switch_addr(m, ifindex, &ifc, addr.s_addr);
	if (ret)
		return ret;
	if (old)
		flows = ct_purge(m, ifindex, old);
	if (flows < 0)
		return flows;
	if (flows_removed)
		*flows_removed = flows;
	log_addr(ifindex, old, addr.s_addr, flows);
	return ctl_stats_add_addr_change(m, ifindex, flows);
}

int wanstate_set_gateway(const struct wan_maps *m, uint32_t ifindex, struct in_addr gw)
{
	char name[IF_NAMESIZE], o[INET_ADDRSTRLEN] = "none", n[INET_ADDRSTRLEN] = "none";
	struct nat_iface ifc;
	int ret = wan_lookup(m, ifindex, &ifc);

	if (ret <= 0 || ifc.gateway == gw.s_addr)
		return ret < 0 ? ret : 0;
	if (ifc.gateway)
		inet_ntop(AF_INET, &ifc.gateway, o, sizeof(o));
	if (gw.s_addr)
		inet_ntop(AF_INET, &gw, n, sizeof(n));
	ifc.gateway = gw.s_addr;
	if (bpf_map_update_elem(m->ifaces_fd, &ifindex, &ifc, BPF_EXIST))
		return fail(ifindex, "cannot update nat_ifaces");
	fprintf(stderr, "wan %s: gateway %s -> %s\n", ifname_of(ifindex, name), o, n);
	return 0;
}

static bool gateway_pinned(const struct xdpnat_config *cfg, uint32_t ifindex)
{
	char name[IF_NAMESIZE];

	if (!cfg || !if_indextoname(ifindex, name))
		return false;
	for (int i = 0; i < cfg->nwans; i++)
		if (!strcmp(cfg->wans[i].ifname, name))
			return cfg->wans[i].gateway.s_addr != 0;
	return false;
}

int wanstate_apply(const struct wan_maps *m, const struct xdpnat_config *cfg,
		   const struct addrwatch_event *ev)
{
	if (ev->type == AW_ADDR)
		return wanstate_set_addr(m, ev->ifindex, ev->addr, NULL);
	if (gateway_pinned(cfg, ev->ifindex))
		return 0;
	return wanstate_set_gateway(m, ev->ifindex, ev->addr);
}

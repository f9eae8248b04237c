/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * routegen.c - see routegen.h. The rule this module keeps: no cached next
 * hop outlives a change the kernel has told us about by more than
 * NAT_ROUTEGEN_MIN_MS plus the time to read the notification. (The data
 * path bounds the age of a cached next hop by itself too, to about a
 * second, should this process stop.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>

#include "xdpnat.h"
#include "wan/routegen.h"
#include "common/nlsock.h"

#define RG_RCVBUF	(1 << 20)

struct routegen {
	struct mnl_socket *ev;		/* notifications */
	struct mnl_socket *req;		/* link dumps */
	int gen_fd, ifslots_fd;
	struct routegen_link links[XDPNAT_MAX_IFACES];
	int nlinks;
	bool pending;			/* a change not yet published */
	bool relink;			/* notifications were lost: dump links again */
	uint64_t last_bump_ms;
	uint32_t gen;
	unsigned seq;
	char buf[32768];		/* >= MNL_SOCKET_BUFFER_SIZE */
};

/* ---- nat_ifslots -------------------------------------------------------- */

static const struct routegen_link *find_link(const struct routegen *rg, int ifindex)
{
	for (int i = 0; i < rg->nlinks; i++)
		if (rg->links[i].ifindex == ifindex)
			return &rg->links[i];
	return NULL;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = a;
	return MNL_CB_OK;
}

/* RTM_NEWLINK / RTM_DELLINK of an attached interface: its slot. */
static void on_link(struct routegen *rg, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	const struct routegen_link *l;
	struct nat_ifslot s = { 0 };
	__u32 key;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return;
	l = find_link(rg, ifi->ifi_index);
	if (!l)
		return;
	key = (__u32)l->slot;
	if (nlh->nlmsg_type == RTM_NEWLINK) {
		if (mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, tb) < 0)
			return;
		/* no MTU or no 6-byte MAC (not Ethernet): the slot stays empty
		 * and flows leaving there are looked up packet by packet */
		if (tb[IFLA_MTU] && tb[IFLA_ADDRESS] &&
		    mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(s.mac)) {
			uint32_t mtu = mnl_attr_get_u32(tb[IFLA_MTU]);

			s.ifindex = (__u32)ifi->ifi_index;
			s.mtu = mtu > 0xffff ? 0xffff : (__u16)mtu;
			memcpy(s.mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(s.mac));
		}
	}
	bpf_map_update_elem(rg->ifslots_fd, &key, &s, BPF_ANY);
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct routegen *rg = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(rg, nlh);
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH: {
		const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);

		/* IPv6 neighbours do not route IPv4 */
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*nd) && nd->ndm_family == AF_INET6)
			return MNL_CB_OK;
		break;
	}
	}
	rg->pending = true;
	return MNL_CB_OK;
}

/* Rewrite every slot from a dump of the links. */
static int dump_links(struct routegen *rg)
{
	struct nat_ifslot zero = { 0 };
	int err;

	for (__u32 k = 0; k < XDPNAT_MAX_IFACES; k++)
		bpf_map_update_elem(rg->ifslots_fd, &k, &zero, BPF_ANY);
	err = nl_dump(rg->req, rg->buf, sizeof(rg->buf), &rg->seq, RTM_GETLINK, AF_UNSPEC,
		      sizeof(struct rtgenmsg), msg_cb, rg);
	if (err)
		return err;
	rg->relink = false;
	rg->pending = true;
	return 0;
}

/* ---- nat_routegen --------------------------------------------------------- */

static void bump(struct routegen *rg, uint64_t now_ms)
{
	__u32 zero = 0;
	struct nat_routegen v = { 0 };

	bpf_map_lookup_elem(rg->gen_fd, &zero, &v);
	v.gen++;
	v.bumps++;
	if (bpf_map_update_elem(rg->gen_fd, &zero, &v, BPF_ANY))
		return;		/* stays pending */
	rg->gen = v.gen;
	rg->pending = false;
	rg->last_bump_ms = now_ms;
}

void routegen_flush(struct routegen *rg, uint64_t now_ms)
{
	if (rg->relink && dump_links(rg))
		rg->pending = true;	/* slots possibly stale: keep invalidating */
	if (rg->pending && now_ms >= rg->last_bump_ms + NAT_ROUTEGEN_MIN_MS)
		bump(rg, now_ms);
}

int routegen_timeout_ms(const struct routegen *rg, uint64_t now_ms)
{
	if (!rg->pending && !rg->relink)
		return -1;
	if (now_ms >= rg->last_bump_ms + NAT_ROUTEGEN_MIN_MS)
		return 0;
	return (int)(rg->last_bump_ms + NAT_ROUTEGEN_MIN_MS - now_ms);
}

int routegen_process(struct routegen *rg, uint64_t now_ms)
{
	int err = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(rg->ev, rg->buf, sizeof(rg->buf));

		if (n < 0 && errno == ENOBUFS) {
			rg->pending = rg->relink = true;	/* lost some: assume anything */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (mnl_cb_run(rg->buf, n, 0, 0, msg_cb, rg) < 0)
			rg->pending = rg->relink = true;
	}
	routegen_flush(rg, now_ms);
	return err;
}

/* ---- public ------------------------------------------------------------- */

struct routegen *routegen_open(int gen_fd, int ifslots_fd)
{
	struct routegen *rg = calloc(1, sizeof(*rg));
	int netconf = RTNLGRP_IPV4_NETCONF, err;
	__u32 zero = 0;
	struct nat_routegen v = { 0 };

	if (!rg)
		return NULL;
	rg->gen_fd = gen_fd;
	rg->ifslots_fd = ifslots_fd;
	rg->ev = nl_open(RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
			   RTMGRP_IPV4_RULE, SOCK_NONBLOCK);
	if (rg->ev && mnl_socket_setsockopt(rg->ev, NETLINK_ADD_MEMBERSHIP, &netconf,
					    sizeof(netconf)) < 0) {
		mnl_socket_close(rg->ev);
		rg->ev = NULL;
	}
	if (rg->ev)
		rg->req = nl_open(0, 0);
	if (!rg->req) {
		err = errno;
		routegen_close(rg);
		errno = err;
		return NULL;
	}
	nl_rcvbuf(rg->ev, RG_RCVBUF);
	if (bpf_map_lookup_elem(gen_fd, &zero, &v) == 0)
		rg->gen = v.gen;
	return rg;
}

int routegen_fd(const struct routegen *rg)
{
	return mnl_socket_get_fd(rg->ev);
}

int routegen_set_links(struct routegen *rg, const struct routegen_link *links, int n,
		       uint64_t now_ms)
{
	int err;

	rg->nlinks = 0;
	for (int i = 0; i < n && rg->nlinks < XDPNAT_MAX_IFACES; i++)
		if (links[i].slot >= 0 && links[i].slot < XDPNAT_MAX_IFACES)
			rg->links[rg->nlinks++] = links[i];
	err = dump_links(rg);
	if (err)
		rg->relink = true;	/* retried by the next flush */
	bump(rg, now_ms);		/* at once: a reload is rare */
	return err;
}

uint32_t routegen_gen(const struct routegen *rg)
{
	return rg->gen;
}

void routegen_close(struct routegen *rg)
{
	if (!rg)
		return;
	if (rg->ev)
		mnl_socket_close(rg->ev);
	if (rg->req)
		mnl_socket_close(rg->req);
	free(rg);
}

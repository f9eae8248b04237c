/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* linkinfo.c - see linkinfo.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "common/linkinfo.h"
#include "common/nlsock.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP	519		/* raw IP (cellular modems) */
#endif

/* ---------------------------------------------------------------- mapping */

/* Virtual Ethernet devices whose kind is the name users know them by. */
static const char *const ether_kinds[] = {
	"bridge", "veth", "vlan", "macvlan", "macvtap", "ipvlan", "bond", "team", "vxlan",
	"geneve", "gretap", "dummy",
};

const char *linkinfo_type_name(const struct linkinfo *li, char *buf, size_t len)
{
	bool tun = !strcmp(li->kind, "tun");

	switch (li->arphrd) {
	case ARPHRD_ETHER:
		if (tun)
			return "tap";	/* a tun device in tap mode */
		if (!li->kind[0])
			return "ether";
		for (size_t i = 0; i < sizeof(ether_kinds) / sizeof(ether_kinds[0]); i++)
			if (!strcmp(li->kind, ether_kinds[i]))
				return ether_kinds[i];
		snprintf(buf, len, "%s", li->kind);	/* another virtual Ethernet device */
		return buf;
	case ARPHRD_NONE:
		if (tun)
			return "tun";
		if (!strcmp(li->kind, "wireguard"))
			return "wireguard";
		return "none";
	case ARPHRD_PPP:
		return "ppp";
	case ARPHRD_RAWIP:
		return "rawip";
	case ARPHRD_LOOPBACK:
		return "loopback";
	default:
		snprintf(buf, len, "arphrd-%u", li->arphrd);
		return buf;
	}
}

int linkinfo_is_l3(const struct linkinfo *li)
{
	return li->arphrd == ARPHRD_NONE || li->arphrd == ARPHRD_PPP || li->arphrd == ARPHRD_RAWIP;
}

const char *linkinfo_path(const char *xdp_mode, int tc_attached)
{
	bool xdp = xdp_mode && (!strcmp(xdp_mode, "native") || !strcmp(xdp_mode, "generic"));

	if (xdp && !strcmp(xdp_mode, "native"))
		return tc_attached ? "xdp native + tc" : "xdp native";
	if (xdp)
		return tc_attached ? "xdp generic + tc" : "xdp generic";
	return tc_attached ? "tc only" : "none";
}

const char *linkinfo_note(const struct linkinfo *li, const char *xdp_mode, int tc_attached)
{
	bool native = xdp_mode && !strcmp(xdp_mode, "native");
	bool generic = xdp_mode && !strcmp(xdp_mode, "generic");

	if (linkinfo_is_l3(li))
		return "no Ethernet header (L3 link): see \"L3 links\" in the README for what works";
	if (!native && !generic)
		return tc_attached ? "tc only: no XDP fast path here, every packet takes the kernel path"
				   : NULL;
	if (generic)
		return "generic XDP: the fast path runs after the kernel has built an skb, slower "
		       "than native; packets from native-mode interfaces into it take the kernel path";
	if (li->arphrd == ARPHRD_ETHER && !strcmp(li->kind, "veth"))
		return "veth: what XDP redirects into it reaches its peer only if the peer has GRO "
		       "or an XDP program (ethtool -K <peer> gro on)";
	return NULL;
}

/* ---------------------------------------------------------------- netlink */

static int linkinfo_attr(const struct nlattr *a, void *data)
{
	struct linkinfo *li = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && !mnl_attr_validate(a, MNL_TYPE_STRING))
		snprintf(li->kind, sizeof(li->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_attr(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_LINKINFO && !mnl_attr_validate(a, MNL_TYPE_NESTED))
		mnl_attr_parse_nested(a, linkinfo_attr, data);
	return MNL_CB_OK;
}

static int link_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct linkinfo *li = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	li->arphrd = ifi->ifi_type;
	return mnl_attr_parse(nlh, sizeof(*ifi), link_attr, data) < 0 ? MNL_CB_ERROR : MNL_CB_STOP;
}

int linkinfo_get(int ifindex, struct linkinfo *li)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = nl_open(0, 0);
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	unsigned seq = (unsigned)time(NULL);
	int ret, err = 0;

	memset(li, 0, sizeof(*li));
	errno = 0;
	if (!nl)
		return -errno;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), link_msg, li);
	} while (ret > MNL_CB_STOP);
	if (ret < 0)
		err = errno ? -errno : -EINVAL;
out:
	mnl_socket_close(nl);
	return err;
}

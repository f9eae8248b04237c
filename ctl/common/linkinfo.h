/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * linkinfo.h - what kind of link an interface is (Ethernet, bridge, veth,
 * tap, tun, PPP, ...) as the kernel reports it over rtnetlink, and what
 * that and the XDP attach mode mean for the user: the "link" and "path"
 * columns of `xdpnat status` and its one-line notes.
 *
 * The kernel gives two facts: the hardware type of the link layer
 * (ifinfomsg.ifi_type, ARPHRD_*: Ethernet, PPP, none for tun/WireGuard)
 * and, for virtual devices, the driver kind (IFLA_LINKINFO /
 * IFLA_INFO_KIND: "bridge", "veth", "tun" for both tun and tap, "vlan",
 * ...). The mapping from those to a name and a note is pure and tested
 * in tests/unit/test_linkinfo.c; linkinfo_get() is the netlink query.
 */
#ifndef XDPNAT_LINKINFO_H
#define XDPNAT_LINKINFO_H

#include <stddef.h>
#include <stdint.h>

#define LINKINFO_KIND_MAX	32

struct linkinfo {
	uint16_t arphrd;		/* ifi_type */
	char kind[LINKINFO_KIND_MAX];	/* IFLA_INFO_KIND, "" for a plain NIC */
};

/* The link of ifindex from the kernel (one RTM_GETLINK). 0, or -errno
 * (-ENODEV: no such interface). */
int linkinfo_get(int ifindex, struct linkinfo *li);

/* A short name for the link: "ether" (a NIC), "bridge", "veth", "tap",
 * "tun", "ppp", "wireguard", "vlan", "macvlan", "bond", "loopback",
 * "none" (no link-layer header, kind unknown), the kind itself for other
 * virtual Ethernet devices (e.g. "vxlan"), "arphrd-N" otherwise. */
const char *linkinfo_type_name(const struct linkinfo *li, char *buf, size_t len);

/* Does the link carry frames without an Ethernet header (tun, PPP,
 * WireGuard, raw IP)? */
int linkinfo_is_l3(const struct linkinfo *li);

/* The path packets take on an interface: "xdp native + tc", "xdp generic
 * + tc", "xdp native" / "xdp generic" (no tc filter), "tc only", "none".
 * xdp_mode as status.json has it: "native", "generic" or "none". */
const char *linkinfo_path(const char *xdp_mode, int tc_attached);

/* One line saying what a limitation of this link and attach mode means
 * for the user, or NULL when none applies. */
const char *linkinfo_note(const struct linkinfo *li, const char *xdp_mode, int tc_attached);

#endif /* XDPNAT_LINKINFO_H */

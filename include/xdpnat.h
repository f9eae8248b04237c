/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xdpnat.h - the one definition of every map key, map value and constant
 * shared by the BPF data path (bpf/) and the controller (ctl/).
 *
 * Rules for everything in here:
 *  - fixed-size types only (__u8.. __u64, __be16, __be32), so the layout is
 *    the same for clang -target bpf and for gcc on the host;
 *  - every hole is an explicit, always-zeroed pad field: a key with an
 *    uninitialised hole is a lookup that never matches;
 *  - addresses and ports are in network byte order unless the field name
 *    says _host; times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns),
 *    except nat_ct's ticks (see nat_tick()).
 *
 * BPF code includes vmlinux.h first; userspace includes <linux/types.h>.
 */
#ifndef XDPNAT_H
#define XDPNAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define XDPNAT_PIN_DIR_DEFAULT	"/sys/fs/bpf/xdpnat"

/*
 * Map names, as pinned under the pin directory, and who may touch each.
 * Every map has one owner that creates, writes and removes its entries;
 * the others only read, except where a line names a narrower right. All
 * expiry (an entry that is removed because time passed or what it refers
 * to is gone) is done by daemon/gc.c. "dp" is the BPF data path (bpf/);
 * controller modules are named by their file under ctl/.
 *
 *  map            owner (writes)                   others
 *  nat_config     daemon/loader.c, from the file;  dp, gc, alg read;
 *                 `flags` is the operator's        alg/alg.c sets and clears
 *                 (bpftool), kept across reloads   NAT_CFG_F_ALG_OFF (a
 *                                                  read-modify-write)
 *  nat_ifaces     wan/wanstate.c                   dp, daemon/status.c read
 *  nat_wanaddr    wan/wanstate.c                   dp reads
 *  nat_forwards   daemon/loader.c, from the file;  dp, alg/alg_session.c read
 *                 portmap/portmap.c the entries
 *                 flagged NAT_FWD_F_PCP (mappings
 *                 LAN hosts asked for); a static
 *                 forward overwrites one
 *  nat_fwd_ports  common/fwdports.c (called by     dp reads
 *                 the loader and portmap.c, the
 *                 writers of nat_forwards)
 *  nat_ifslots    wan/routegen.c                   dp reads
 *  nat_routegen   wan/routegen.c                   dp, cli read
 *  nat_ct         dp creates flows and updates     alg/alg_session.c sets the
 *                 state, counters, next hops;      OPAQUE/SEQADJ flags of its
 *                 only common/ctflow.c deletes     control flows; cli and
 *                 (called by gc on expiry and by   daemon/metrics.c read;
 *                 wanstate when an address goes);  daemon/loader.c writes the
 *                 all through the slot protocol    header (slot 0) of a new
 *                 (common/cttab.c, bpf/nat_cttab.h) table, gc tidies freed
 *                                                  slots and recounts
 *  nat_frag       dp (LRU)                         -
 *  nat_stats      dp                               cli, daemon/metrics.c read
 *  nat_ctl_stats  the daemon's thread, one writer  cli, metrics read
 *                 per field: gc (ct_expired,
 *                 gc_runs, eim_expired), wanstate
 *                 (ct_addr_change), daemon/status.c
 *                 (daemon_pid, daemon_started)
 *  nat_expect     alg/alg_session.c opens and      dp deletes one when it is
 *                 cancels; gc expires               used (single use); metrics
 *                                                  counts
 *  nat_gate       dp counts sessions up and down   ctflow gives back the count
 *                                                  of a flow the controller
 *                                                  removes; gc expires;
 *                                                  metrics reads
 *  nat_xsks       alg/alg_xsk.c (its sockets)      dp reads
 *  nat_alg        alg/alg_session.c                dp reads, and deletes the
 *                                                  entry of a reused tuple;
 *                                                  gc expires; cli reads
 *  nat_alg_state  alg/alg_session.c (each session  gc expires (flow gone);
 *                 written before its segment goes  nobody else reads it
 *                 out; restored by the next ALG;
 *                 deleted with an evicted session)
 *  nat_alg_stats  alg/alg.c (the ALG thread, once  cli, metrics read
 *                 a second and when it stops)
 *  nat_refused    dp (LRU)                         alg reads
 *  nat_unassured  dp (a ring of new flows' keys)   -
 *  nat_frag_src   dp (LRU)                         -
 *  nat_eim        dp creates mappings (bpf/        gc refreshes the mappings of
 *                 nat_eim.h); only daemon/gc.c     live flows and expires the
 *                 deletes                          rest
 *  nat_eim_ports  dp claims ports (bpf/nat_eim.h)  gc refreshes, takes again
 *                 and gives back one it could not  and frees them; wanstate.c
 *                 complete; common/eimports.c is   binds a WAN's table (its
 *                 the controller's only way in     header) when it writes the
 *                                                  WAN's nat_ifaces entry
 *  nat_eim_moved  dp adds one for each INSIDE      gc subtracts one for each
 *                 entry it inserts; daemon/        INSIDE entry it deletes
 *                 loader.c fills a new one from
 *                 nat_eim at start (a new map
 *                 every start)
 *  nat_udp_keyed  dp sets a port's bit before it   -
 *                 inserts an entry keyed by a UDP
 *                 tuple to that WAN port (bpf/
 *                 nat_lazyreply.h); daemon/
 *                 udpkeyed.c fills a new one from
 *                 nat_ct at start (a new map every
 *                 start) and rebuilds it every GC
 *                 pass (clears what no entry needs)
 *  nat_flowlog    dp reserves and submits flow     daemon/flowlog.c consumes
 *                 events (RINGBUF)                 (the only reader)
 */
#define XDPNAT_MAP_CONFIG	"nat_config"
#define XDPNAT_MAP_IFACES	"nat_ifaces"
#define XDPNAT_MAP_WANADDR	"nat_wanaddr"
#define XDPNAT_MAP_FORWARDS	"nat_forwards"
#define XDPNAT_MAP_CT		"nat_ct"
#define XDPNAT_MAP_FRAG		"nat_frag"
#define XDPNAT_MAP_STATS	"nat_stats"
#define XDPNAT_MAP_CTL_STATS	"nat_ctl_stats"
#define XDPNAT_MAP_EXPECT	"nat_expect"
#define XDPNAT_MAP_GATE		"nat_gate"
#define XDPNAT_MAP_XSKS		"nat_xsks"
#define XDPNAT_MAP_ALG		"nat_alg"
#define XDPNAT_MAP_ALG_STATE	"nat_alg_state"
#define XDPNAT_MAP_REFUSED	"nat_refused"
#define XDPNAT_MAP_IFSLOTS	"nat_ifslots"
#define XDPNAT_MAP_ROUTEGEN	"nat_routegen"
#define XDPNAT_MAP_UNASSURED	"nat_unassured"
#define XDPNAT_MAP_FRAG_SRC	"nat_frag_src"
#define XDPNAT_MAP_ALG_STATS	"nat_alg_stats"
#define XDPNAT_MAP_EIM		"nat_eim"
#define XDPNAT_MAP_FLOWLOG	"nat_flowlog"
#define XDPNAT_MAP_FWD_PORTS	"nat_fwd_ports"
#define XDPNAT_MAP_EIM_MOVED	"nat_eim_moved"
#define XDPNAT_MAP_EIM_PORTS	"nat_eim_ports"
#define XDPNAT_MAP_UDP_KEYED	"nat_udp_keyed"

#define XDPNAT_MAX_IFACES	64
#define XDPNAT_MAX_FORWARD_PORTS 262144	/* forward ranges are expanded per port */
#define XDPNAT_CT_MAX_DEFAULT	65536	/* flows; nat_ct holds two entries per flow */
#define XDPNAT_FRAG_MAX		8192
#define XDPNAT_EXPECT_MAX	4096
#define XDPNAT_GATE_MAX		4096

#define XDPNAT_ALG_MAX		4096	/* FTP control flows */
#define XDPNAT_REFUSED_MAX	1024
/* AF_XDP sockets per interface: the ALG opens one on every rx queue and
 * refuses to start on an interface with more (nat_xsks holds
 * XDPNAT_MAX_IFACES * XDPNAT_XSK_QUEUES entries). */
#define XDPNAT_XSK_QUEUES	64

/* Port allocation: how many candidates are tried before giving up. */
#define XDPNAT_PORT_TRIES	32

/* Masquerade source ports of a WAN whose `outbound` names no range. */
#define XDPNAT_PORT_LO_DEFAULT	1024
#define XDPNAT_PORT_HI_DEFAULT	65535

/* FTP control ports nat_config carries, so also the most `alg ftp ports`
 * may list: a port the data path does not look for is never inspected. */
#define XDPNAT_FTP_PORTS	4

/* ---------------------------------------------------------------------
 * nat_config: ARRAY, one entry (key 0). Runtime tunables; the data path
 * and the controller read it on every use, so `bpftool map update` takes
 * effect at once. All times in seconds.
 */
struct nat_config {
	__u32 timeout_tcp_syn;		/* SYN seen, no reply yet */
	__u32 timeout_tcp_est;		/* established */
	__u32 timeout_tcp_closing;	/* FIN or RST seen */
	__u32 timeout_udp;
	__u32 timeout_icmp;
	__u32 timeout_expect;		/* FTP ALG expectation lifetime */
	__u32 gate_linger;		/* gate stays open after control ends */
	__u32 flags;			/* NAT_CFG_F_* */
	/* `alg ftp ports`: masqueraded flows to these (host order, 0 = unused) go to the ALG */
	__u16 ftp_ports[XDPNAT_FTP_PORTS];
	__u32 flow_log;			/* `flow-log`: 1 = the data path sends flow events to
					 * nat_flowlog; 0 = it never touches the ring */
	__u32 tcp_bulk_bytes;		/* a direction of an established TCP flow that has
					 * carried at least this many bytes (IP length) takes
					 * the kernel path (GRO/GSO, see NAT_TCP_BULK_BYTES_
					 * DEFAULT); 0 = never */
};

#define NAT_CFG_F_NO_FASTPATH	(1U << 0)	/* never redirect in XDP: all via kernel path */
/* Set by the controller while no FTP ALG runs by design (`alg ftp` off,
 * its start failed, or its thread died): new control flows are not marked
 * NAT_CT_F_ALG, and a packet of a marked flow that finds no ALG socket is
 * forwarded uninspected instead of dropped. Clear while an ALG runs or is
 * about to (a restart): then such a packet is dropped, TCP resends it, and
 * the next ALG resumes the session from nat_alg_state. */
#define NAT_CFG_F_ALG_OFF	(1U << 1)

#define NAT_TIMEOUT_TCP_SYN_DEFAULT	30
#define NAT_TIMEOUT_TCP_EST_DEFAULT	7440
#define NAT_TIMEOUT_TCP_CLOSING_DEFAULT	120
#define NAT_TIMEOUT_UDP_DEFAULT		120	/* RFC 4787 REQ-5: at least 2 minutes */
#define NAT_TIMEOUT_ICMP_DEFAULT	30
#define NAT_TIMEOUT_EXPECT_DEFAULT	60
#define NAT_GATE_LINGER_DEFAULT		10
/*
 * Bulk TCP ("elephants"): XDP forwards frame by frame, and a frame it
 * redirects skips the kernel's GRO and GSO; on the kernel path one skb of up
 * to 64 KiB (a GRO'd train of segments) is routed, translated on tc egress
 * and sent as one. Past this many bytes in one direction an established
 * TCP flow's packets in that direction are passed to the kernel: from a
 * LAN untouched (tc egress of the WAN translates), from a WAN with the
 * destination translated in XDP. A packet of any other flow pays one
 * compare. Set by the controller at every (re)load.
 */
#define NAT_TCP_BULK_BYTES_DEFAULT	(1U << 20)

/* A nat_config with every default, no flags and no FTP ports (tests and
 * the benchmark load the programs without a configuration file). */
#define NAT_CONFIG_DEFAULTS {						\
	.timeout_tcp_syn = NAT_TIMEOUT_TCP_SYN_DEFAULT,			\
	.timeout_tcp_est = NAT_TIMEOUT_TCP_EST_DEFAULT,			\
	.timeout_tcp_closing = NAT_TIMEOUT_TCP_CLOSING_DEFAULT,		\
	.timeout_udp = NAT_TIMEOUT_UDP_DEFAULT,				\
	.timeout_icmp = NAT_TIMEOUT_ICMP_DEFAULT,			\
	.timeout_expect = NAT_TIMEOUT_EXPECT_DEFAULT,			\
	.gate_linger = NAT_GATE_LINGER_DEFAULT,				\
	.tcp_bulk_bytes = NAT_TCP_BULK_BYTES_DEFAULT,			\
}

/* ---------------------------------------------------------------------
 * nat_ifaces: HASH, key __u32 ifindex. Every interface xdpnat is attached
 * to. For a WAN, addr is its current IPv4 address (0 = none: the WAN then
 * passes traffic untouched) and gateway is the next hop that packets of
 * flows bound to this WAN are sent to when the routing table (e.g. ECMP)
 * would pick another WAN.
 */
enum nat_if_role {
	NAT_IF_LAN = 1,
	NAT_IF_WAN = 2,
};

struct nat_iface {
	__u32 role;			/* enum nat_if_role */
	__be32 addr;			/* WAN: current address, 0 = none */
	__be32 gateway;			/* WAN: symmetric-return next hop, 0 = unknown */
	__u16 port_lo_host;		/* WAN: masquerade range, host order,
					 * 0 = XDPNAT_PORT_*_DEFAULT */
	__u16 port_hi_host;
	__u8 masquerade;		/* WAN: `outbound` configured */
	__u8 wan_id;			/* WAN: 0..n-1 in config order */
	__u8 slot;			/* index in nat_ifslots; nat_xsks key = slot *
					 * XDPNAT_XSK_QUEUES + rx queue */
	__u8 flags;			/* NAT_IFACE_F_* */
	__u16 mss;			/* WAN: host order, MSS option of TCP SYN and SYN-ACK
					 * segments of flows bound to this WAN lowered to it
					 * (`wan <if> mss-clamp`); 0 = no clamping */
	__u8 pad[2];
};

/* WAN: unsolicited packets to LAN addresses (no flow, forward, expectation
 * or mapping) are routed instead of dropped (`inbound <wan> accept`). A
 * WAN without `outbound` routes them anyway: it is a routed uplink. */
#define NAT_IFACE_F_INBOUND_ACCEPT	(1U << 0)
/* XDP runs in generic (skb) mode on this interface (a bridge, a driver
 * without native XDP). Such an interface has no ndo_xdp_xmit: a frame a
 * native-mode program redirects there is dropped by the kernel, so the
 * fast path forwards into it only from another generic-mode interface
 * (whose redirect is an skb transmit) and otherwise takes the kernel path.
 * Set by the controller from the attach mode. */
/* Frames from this interface may carry TCP/UDP checksums that are not
 * finished (CHECKSUM_PARTIAL: the field holds only the pseudo-header sum,
 * the sender is on this machine and left the rest to "hardware"): veth and
 * tun/tap, and any interface in generic mode. Set by the controller from
 * the driver and the attach mode; the data path then takes a TCP/UDP field
 * equal to the pseudo-header sum for unfinished (README, "Links and
 * checksums"). */
#define NAT_IFACE_F_PARTIAL_CSUM	(1U << 1)
#define NAT_IFACE_F_XDP_GENERIC		(1U << 2)
/* The link has no link-layer header (PPP, WireGuard, tun; ARPHRD_NONE,
 * ARPHRD_PPP, ...): its programs are the _l3 variants, no Ethernet frame
 * is redirected into it (the kernel path and its tc egress take those
 * packets), and no FTP ALG runs on it. Set from rtnetlink's ifi_type. */
#define NAT_IFACE_F_L3			(1U << 3)
/* WAN: RFC 4787 filtering of inbound packets to a mapping's outside port
 * (`outbound <wan> filtering ...`). Neither bit: address-and-port-
 * dependent (only the remote endpoint a flow was opened to gets in).
 * FILTER_EI: endpoint-independent ("full cone": anyone may send to the
 * mapping once its inside endpoint has sent out); FILTER_AD: address-
 * dependent (any port of an address the inside endpoint has sent to). */
#define NAT_IFACE_F_FILTER_EI		(1U << 4)
#define NAT_IFACE_F_FILTER_AD		(1U << 5)

/*
 * nat_ifslots: ARRAY, XDPNAT_MAX_IFACES entries, indexed by nat_iface.slot:
 * what the XDP fast path needs of an egress interface when it forwards
 * from a flow's next-hop cache. Written by the controller at attach and on
 * every link change; ifindex 0 = free slot.
 */
struct nat_ifslot {
	__u32 ifindex;
	__u16 mtu;
	__u8 mac[6];
};

/*
 * nat_routegen: ARRAY, one entry. gen is bumped by the controller whenever
 * routing may have changed (route, rule, neighbour, link, address or
 * forwarding setting), at most once per NAT_ROUTEGEN_MIN_MS, which
 * invalidates every cached next hop (see struct nat_nh).
 */
struct nat_routegen {
	__u32 gen;
	__u32 pad;
	__u64 bumps;			/* how often gen moved */
};

#define NAT_ROUTEGEN_MIN_MS	10	/* <= 100 bumps/s: a u8 tag cannot wrap in 1 s */

/* nat_wanaddr: HASH, key __be32 address -> __u32 ifindex of the WAN that
 * has it. Used to recognise hairpin traffic and the router's own traffic. */

/* ---------------------------------------------------------------------
 * nat_forwards: HASH. A `forward` range is expanded to one entry per
 * outside port, so a lookup is one hash probe. Sized by the loader from
 * the configuration (twice its ports plus the PCP/NAT-PMP mappings, at
 * least 32768), not XDPNAT_MAX_FORWARD_PORTS: a small table stays in the
 * CPU cache, and a reload that needs more is refused until a restart.
 */
struct nat_fwd_key {
	__u32 ifindex;			/* the WAN */
	__be16 port;			/* outside port */
	__u8 proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;
};

struct nat_fwd_value {
	__be32 addr;			/* inside host */
	__be16 port;			/* inside port */
	__u8 flags;			/* NAT_FWD_F_* */
	__u8 pad;
};

/* The port bitmaps (nat_fwd_ports, nat_udp_keyed): port (host order) is
 * bit nat_port_bit(port) of word nat_port_word(port). */
#define NAT_PORT_WORDS		1024	/* 65536 ports / 64 */

static inline __u32 nat_port_word(__u16 port)
{
	return port >> 6;
}

static inline __u64 nat_port_bit(__u16 port)
{
	return 1ULL << (port & 63);
}

/*
 * nat_fwd_ports: ARRAY of one struct nat_fwd_ports, a bit for every TCP
 * and UDP port that a nat_forwards entry may hold on some WAN: bit
 * port % 64 of word port / 64. A port whose bit is clear is forwarded
 * nowhere, which the data path knows without a nat_forwards lookup (a
 * random bucket of a table of 32768 or more: about 120 ns of a new
 * flow's cost). A bit is set before a forward of its port is written and
 * recomputed from nat_forwards after forwards go (common/fwdports.c);
 * a bit left set only costs the lookup it would have saved. Other
 * protocols have no bits: they always look.
 */
#define NAT_FWD_PORT_WORDS	NAT_PORT_WORDS

struct nat_fwd_ports {
	__u64 tcp[NAT_FWD_PORT_WORDS];
	__u64 udp[NAT_FWD_PORT_WORDS];
};

/* The word of b that holds port (host order) of proto, its bit being
 * nat_port_bit(port); NULL for a protocol without bits. */
static inline __u64 *nat_fwd_ports_word(struct nat_fwd_ports *b, __u8 proto, __u16 port)
{
	__u32 i = nat_port_word(port) & (NAT_FWD_PORT_WORDS - 1);

	if (proto == 6 /* IPPROTO_TCP */)
		return &b->tcp[i];
	if (proto == 17 /* IPPROTO_UDP */)
		return &b->udp[i];
	return (__u64 *)0;
}

#define NAT_FWD_F_GATE_FTP	(1U << 0)	/* admit only peers with a live FTP control session */
#define NAT_FWD_F_ALG		(1U << 2)	/* an `alg ftp` port: flows go to the ALG */
#define NAT_FWD_F_FTP_CTRL	(1U << 1)	/* an `alg ftp` control port (or implicit TLS): its
						 * established flows open the gate for their peer */
/* A mapping a LAN host asked for with PCP or NAT-PMP (ctl/portmap/): the
 * data path treats it as any forward; the loader's reload leaves it alone
 * unless a static forward takes its port, and portmap.c removes it when
 * its lifetime ends. */
#define NAT_FWD_F_PCP		(1U << 3)

/* ---------------------------------------------------------------------
 * nat_eim_ports: ARRAY (BPF_F_MMAPABLE) of struct nat_eim_port, the owners
 * of the outside ports of masquerading WANs (RFC 4787 endpoint-independent
 * mapping, bpf/nat_eim.h): one table of NAT_EIM_PORT_TABLE elements per
 * WAN, indexed by nat_iface.wan_id (the loader sizes the map for the
 * configured WANs), then by protocol (TCP, UDP, ICMP identifiers) and
 * port: nat_eim_port_index(). The element of a port is its mapping: the
 * inside endpoint that owns it, or 0, free. It is one 64-bit word, so a
 * port is claimed with one compare-and-swap from 0 (the data path), kept
 * by one that changes only the stamp, and freed by one back to 0 (the GC,
 * which thus never frees a port someone just used): no lock, no
 * allocation, one cache line.
 *
 * Port 0 is no mapping's (ranges start at 1): a table's TCP port 0 is its
 * header, {addr: the WAN's ifindex}. The data path uses a table only if
 * its header names the WAN; wanstate.c binds it (common/eimports.c), and a
 * table found bound to another interface (a reload that reordered the
 * WANs, a WAN's interface made anew) is cleared first.
 *
 * stamp: nat_eim_stamp() of when the mapping was made or last found in use
 * (by a new flow, or by the GC for a live flow); it wraps, and the GC
 * takes a stamp up to NAT_EIM_STAMP_AHEAD units past its pass's start for
 * a recent one, anything else for an old one.
 */
#define NAT_EIM_PORT_TABLE	(3 * 65536)

struct nat_eim_port {
	__be32 addr;			/* the inside address; 0: the port is free.
					 * The header (TCP port 0): the WAN's ifindex */
	__be16 port;			/* the inside port or ICMP identifier */
	__u16 stamp;			/* nat_eim_stamp() */
};

#define NAT_EIM_STAMP_SHIFT	30	/* a unit of ~1.07 s */
#define NAT_EIM_STAMP_AHEAD	0x4000

static inline __u16 nat_eim_stamp(__u64 ns)
{
	return (__u16)(ns >> NAT_EIM_STAMP_SHIFT);
}

/* The element of port (host order) of proto in table, or -1 for a
 * protocol without mappings. */
static inline __s64 nat_eim_port_index(__u32 table, __u8 proto, __u16 port)
{
	__u32 row = proto == 6 ? 0 : proto == 17 ? 1 : proto == 1 ? 2 : 3;

	if (row == 3)
		return -1;
	return (__s64)table * NAT_EIM_PORT_TABLE + row * 65536 + port;
}

/* The element as the word it is compared and swapped as. */
static inline __u64 nat_eim_port_word(__be32 addr, __be16 port, __u16 stamp)
{
	struct nat_eim_port e = { .addr = addr, .port = port, .stamp = stamp };
	__u64 w;

	__builtin_memcpy(&w, &e, sizeof(w));
	return w;
}

/* The owner part of a word (the stamp masked out). */
static inline __u64 nat_eim_port_owner(__u64 w)
{
	return w & nat_eim_port_word(0xffffffff, 0xffff, 0);
}

/* ---------------------------------------------------------------------
 * nat_eim: HASH, the rest of RFC 4787 endpoint-independent mapping (the
 * ports themselves are nat_eim_ports'). Entries, told apart by `side`:
 *   INSIDE  {inside addr, WAN ifindex, inside port, proto}
 *           -> {0, outside port}: only for a mapping on another port than
 *           the inside one (most keep it: their port's element in
 *           nat_eim_ports is the whole mapping), what new flows of the
 *           endpoint use;
 *   PEER    {remote addr, WAN ifindex, outside port, proto} -> {}: an
 *           address the mapping has sent to (address-dependent filtering).
 * Side 2 (OUTSIDE) was the port's owner before nat_eim_ports; a previous
 * version's such entries are deleted by the GC's next pass.
 * seen_ns: created, or last found in use by a new flow or the GC (gc.c
 * keeps a mapping while a flow uses it and removes it on the pass after
 * its last flow, an INSIDE entry before its port).
 */
enum nat_eim_side {
	NAT_EIM_INSIDE = 1,
	NAT_EIM_OUTSIDE_OLD = 2,
	NAT_EIM_PEER = 3,
};

struct nat_eim_key {
	__be32 addr;
	__u32 ifindex;			/* the WAN */
	__be16 port;
	__u8 proto;
	__u8 side;			/* enum nat_eim_side */
};

struct nat_eim_value {
	__be32 addr;			/* unused (0) */
	__be16 port;			/* INSIDE: the outside port */
	__u8 pad[2];
	__u64 seen_ns;
};

/*
 * nat_eim_moved: ARRAY (BPF_F_MMAPABLE) of NAT_EIM_MOVED_CELLS + 1: how
 * many INSIDE entries of nat_eim (mappings that had to move off their
 * inside port) hash to each cell (nat_eim_moved_cell()). A new flow of an
 * endpoint whose cell is 0 has no such mapping and skips the INSIDE lookup,
 * a cold bucket of nat_eim. A cell never counts fewer than its entries:
 * the data path adds one before it inserts an INSIDE entry (and takes it
 * back if the insert fails), the GC subtracts one after it deletes one.
 * Every start makes the map anew and, once its programs are attached,
 * adds every INSIDE entry of nat_eim (one inserted meanwhile counts twice,
 * which only costs a lookup); the element at NAT_EIM_MOVED_READY says 1
 * from then on, and until it does the data path looks up every endpoint.
 */
#define NAT_EIM_MOVED_CELLS	16384
#define NAT_EIM_MOVED_READY	NAT_EIM_MOVED_CELLS

/*
 * nat_udp_keyed: ARRAY (BPF_F_MMAPABLE) of NAT_UDP_KEYED_CTL + 1 elements
 * of struct nat_udp_keyed. Two bitmaps of a bit per port, one for each of
 * two epochs; element i holds word i (nat_port_word(), nat_port_bit()) of
 * both, so that one line answers for a port. A port's bit is set if an
 * entry of nat_ct may be keyed by a UDP tuple to that port of a WAN
 * address, other than a lazy flow's own reply entry (bpf/nat_lazyreply.h).
 * A new UDP flow that makes no reply entry looks its reply tuple up only
 * if its port's bit is set in either bitmap, instead of reading a cold
 * line of nat_ct.
 *  - The data path sets the bit in the bitmap of the current epoch (the
 *    control element's bits[NAT_UDP_KEYED_EPOCH]) before such an insert.
 *  - Every start makes the map anew; once its programs are attached, the
 *    controller sets the bits of what nat_ct holds and then the control
 *    element's bits[NAT_UDP_KEYED_READY]: until then every such flow looks
 *    its reply tuple up.
 *  - Every GC pass rebuilds it (ctl/daemon/udpkeyed.c): it switches the
 *    epoch, waits until no program can still mark the old bitmap (an RCU
 *    grace period), marks in the new one what its walk of nat_ct keeps,
 *    waits again (a program that read the new bitmap before the walk
 *    marked it also reads the old one before it is cleared), then clears
 *    the old bitmap. So a bit stays set while an entry needs it, and goes
 *    within two passes after its last entry has.
 */
struct nat_udp_keyed {
	__u64 bits[2];			/* word i of epoch 0's and epoch 1's bitmap */
};

#define NAT_UDP_KEYED_CTL	NAT_PORT_WORDS	/* the control element: */
#define NAT_UDP_KEYED_READY	0		/*   bits[0]: 1 once filled at start */
#define NAT_UDP_KEYED_EPOCH	1		/*   bits[1]: the epoch (0, 1) marked */

struct nat_eim_moved {
	__u32 count;
	__u32 pad;			/* elements of an mmapable array are 8 bytes */
};

/* The cell of inside endpoint (addr, port: network order, as in the key)
 * of proto on WAN ifindex. */
static inline __u32 nat_eim_moved_cell(__u32 addr, __u16 port, __u8 proto, __u32 ifindex)
{
	__u64 h = (__u64)addr * 0x9e3779b97f4a7c15ULL ^
		  ((__u64)port << 8 | proto) * 0xc2b2ae3d27d4eb4fULL ^
		  (__u64)ifindex * 0x165667b19e3779f9ULL;

	return (__u32)(h >> 50) & (NAT_EIM_MOVED_CELLS - 1);
}

/* ---------------------------------------------------------------------
 * nat_ct: ARRAY of struct nat_ct_slot (BPF_F_MMAPABLE), an open-addressing
 * hash table of its own (include/nat_ct_slots.h): one 64-byte cache line per
 * entry, so finding a flow is one miss. Two entries per flow, one per
 * direction, each keyed by the
 * tuple of packets as they arrive in that direction (before translation).
 * The value says what the packet becomes. The other direction's key is
 * always the reverse of this entry's translated tuple:
 *   reply key = { to_daddr, to_saddr, to_dport, to_sport, proto }.
 *
 * ICMP echo uses the identifier as a port: a request has sport = id,
 * dport = 0; a reply has sport = 0, dport = id.
 */
struct nat_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/*
 * Next-hop cache of one direction: where bpf_fib_lookup last sent its
 * packets, so that an established flow is forwarded without a FIB lookup
 * (as the kernel's flowtable caches a route per flow). Valid only while
 *  - tag equals the current route tag (nat_route_tag(): the controller's
 *    nat_routegen.gen, bumped on every route, rule, neighbour, link and
 *    forwarding change, plus a clock epoch of NAT_ROUTE_EPOCH_NS), and
 *  - the direction saw a packet less than NAT_NH_IDLE_TICKS ago
 * so a cached next hop is never older than about a second and never
 * survives a change the controller has seen. Written and read as one
 * 8-byte word (it is 8-byte aligned in nat_ct_value).
 */
struct nat_nh {
	__u8 slot;			/* egress nat_ifslots index + 1; 0 = nothing cached */
	__u8 tag;			/* route tag it was cached under */
	__u8 dmac[6];			/* next hop's MAC address */
};

struct nat_ct_value {
	__be32 to_saddr;		/* tuple after translation */
	__be32 to_daddr;
	__be16 to_sport;
	__be16 to_dport;
	__u16 wan_ifindex;		/* the WAN this flow is bound to (a WAN's
					 * ifindex must be below 65536) */
	__u8 dir:2;			/* enum nat_ct_dir */
	__u8 kind:3;			/* enum nat_ct_kind */
	__u8 state:3;			/* enum nat_ct_state, kept equal in both entries */
	__u8 flags;			/* NAT_CT_F_* */
	__u32 packets;			/* this direction (wraps at 2^32) */
	__u32 last_seen;		/* this direction, in ticks: see nat_tick() */
	__u64 bytes;			/* this direction, IP length */
	__u32 td_end;			/* TCP, this direction: highest seq + length sent
					 * (valid with NAT_CT_F_TD_END) */
	__u32 td_ack;			/* TCP, this direction: highest ack sent, i.e. what
					 * it has received of the other (NAT_CT_F_TD_ACK) */
	struct nat_nh nh;		/* next-hop cache (XDP fast path) */
};

/*
 * One slot of nat_ct: an entry in one 64-byte cache line. key.pad[0] is
 * the slot's state (NAT_CT_SLOT_*); see include/nat_ct_slots.h for how
 * entries are placed, found, claimed and freed.
 */
struct nat_ct_slot {
	struct nat_ct_key key;
	struct nat_ct_value val;
};

#define NAT_CT_HKEYS		5	/* keys of the slot hash (ct_hash()) */

/* Slot 0 of nat_ct: the table's own description, written by the
 * controller when it makes the table; entries is kept by whoever adds or
 * frees an entry (and recounted by the GC). */
struct nat_ct_head {
	__u64 entries;			/* live entries */
	__u32 magic;			/* NAT_CT_MAGIC */
	__u32 nslots;			/* entries live in slots 1 .. nslots */
	__u32 limit;			/* most entries: 2 x conntrack-max */
	__u32 pad;
	__u64 hkey[NAT_CT_HKEYS];	/* of the slot hash (ct_hash()): random per table */
};

/* "xnc3": the table of ct_hash()'s multiply-shift with its final mix. A
 * pinned table with another magic ("xnct": jhash; "xnc2": multiply-shift
 * without the mix, both of 1 December 2026) is converted by a restart
 * (ctl/daemon/migrate.c), not adopted: its entries sit where another hash
 * put them. */
#define NAT_CT_MAGIC		0x33636e78
#define NAT_CT_WAN_IFINDEX_MAX	0xffff

/*
 * Time in nat_ct is kept in ticks of 2^21 ns (about 2.1 ms) of
 * CLOCK_MONOTONIC, in 32 bits, which keeps an entry in its 64-byte slot.
 * The counter wraps every 104 days; differences are taken modulo
 * 2^32 and read as signed, which is right for any idle time below 52 days
 * (timeouts are at most 30).
 */
#define NAT_TICK_SHIFT		21
#define NAT_NH_IDLE_TICKS	512		/* ~1.07 s */
#define NAT_ROUTE_EPOCH_SHIFT	30		/* ~1.07 s */

static inline __u32 nat_tick(__u64 ns)
{
	return (__u32)(ns >> NAT_TICK_SHIFT);
}

/* Ticks from `then` to `now`; 0 if `then` is (slightly) later. */
static inline __u32 nat_ticks_since(__u32 now, __u32 then)
{
	__s32 d = (__s32)(now - then);

	return d > 0 ? (__u32)d : 0;
}

/* The tag a cached next hop must carry to be used at time `ns`. */
static inline __u8 nat_route_tag(__u32 gen, __u64 ns)
{
	return (__u8)(gen + (__u32)(ns >> NAT_ROUTE_EPOCH_SHIFT));
}

enum nat_ct_dir {
	NAT_DIR_ORIG = 0,		/* the direction of the packet that created the flow */
	NAT_DIR_REPLY = 1,
	NAT_DIR_HAIRPIN_EGRESS = 2,	/* hairpin: key is the half-translated tuple seen on tc egress */
};

enum nat_ct_kind {
	NAT_KIND_MASQ = 1,		/* LAN -> WAN, source translated */
	NAT_KIND_FORWARD = 2,		/* WAN -> inside host, destination translated */
	NAT_KIND_HAIRPIN = 3,		/* LAN -> WAN address -> inside host, both translated */
	NAT_KIND_EXPECT = 4,		/* data connection admitted by the FTP ALG */
	NAT_KIND_ROUTED = 5,		/* WAN -> LAN address, `inbound accept`: untranslated */
	NAT_KIND_MAPPED = 6,		/* WAN -> inside host through an endpoint-independent
					 * mapping its filter admits (nat_eim) */
};

enum nat_ct_state {
	NAT_CT_NEW = 0,			/* UDP/ICMP: one direction seen */
	NAT_CT_SYN_SENT = 1,
	NAT_CT_ESTABLISHED = 2,		/* TCP: reply seen; UDP/ICMP: both directions seen */
	NAT_CT_FIN_WAIT = 3,		/* TCP: one FIN seen */
	NAT_CT_CLOSING = 4,		/* TCP: both FINs or an RST */
	NAT_CT_SYN_RECV = 5,		/* TCP: SYN-ACK seen, the handshake's last ACK not yet */
};

/*
 * A flow is *assured* once it is established: for TCP the three-way
 * handshake completed (a SYN-ACK alone, which a spoofed SYN also draws
 * from an inside server, is not enough), for UDP and ICMP traffic was
 * seen both ways. Until then it has the short timeout_tcp_syn (TCP) and
 * is the first to be evicted when the table is full (nat_unassured).
 */
static inline int nat_ct_assured(__u8 proto, __u8 state)
{
	if (proto == 6 /* IPPROTO_TCP */)
		return state != NAT_CT_SYN_SENT && state != NAT_CT_SYN_RECV;
	return state != NAT_CT_NEW;
}

#define NAT_CT_F_ALG		(1U << 0)	/* control flow: packets go to the userspace ALG */
#define NAT_CT_F_OPAQUE		(1U << 1)	/* ALG handed the flow back (AUTH TLS) */
#define NAT_CT_F_FIN		(1U << 2)	/* a FIN was seen in this direction */
#define NAT_CT_F_GATE		(1U << 3)	/* FTP control session: counted in nat_gate */
#define NAT_CT_F_SEQADJ		(1U << 4)	/* apply nat_alg's sequence offsets (opaque ALG flow) */
#define NAT_CT_F_GATE_COUNTED	(1U << 5)	/* this session holds one count in nat_gate */
#define NAT_CT_F_TD_END		(1U << 6)	/* td_end is known (this entry only, not its twin) */
#define NAT_CT_F_TD_ACK		(1U << 7)	/* td_ack is known (this entry only) */

/*
 * The TCP window check (RFC 5961's idea from the middle of the path, after
 * nf_conntrack's tcp_in_window): each entry follows its direction's
 * sequence space in td_end and td_ack, from the handshake on (an entry
 * adopted without them picks them up from its next segment).
 *  - A segment whose sequence number lies more than NAT_TCP_MAX_ADVANCE
 *    from td_end is out of window: forwarded (the endpoint decides), never
 *    allowed to change state, counted in tcp_out_of_window.
 *  - A RST changes state only if its sequence number lies between what
 *    the other side has acknowledged and what this side has sent; a FIN
 *    only up to NAT_TCP_FIN_SLACK beyond that. An idle connection so
 *    accepts one sequence number for a RST, where a blind attacker
 *    guesses among 2^32. A legitimate RST that misses (data lost before
 *    the router) draws a challenge ACK from the peer (RFC 5961), whose
 *    answer is in window.
 *  - The handshake moves on only with the right acknowledgment: the
 *    SYN-ACK must acknowledge the SYN, the last ACK the SYN-ACK.
 */
#define NAT_TCP_MAX_ADVANCE	(1U << 24)	/* 16 MiB in flight between two segments */
#define NAT_TCP_FIN_SLACK	65535U

/*
 * nat_unassured: ARRAY used as a ring, value struct nat_ct_key: the ORIG
 * key of every new flow, in creation order, overwritten round and round.
 * When nat_ct is full, the data path looks at a few of these and evicts
 * one that is still unassured (nat_ct_assured()) to make room: a flood of
 * spoofed SYNs or one-way UDP takes the place of its own kind, never of
 * an established flow. Sized by the loader to conntrack-max / 4, at least
 * XDPNAT_UNASSURED_MIN entries.
 */
#define XDPNAT_UNASSURED_MIN	1024
#define XDPNAT_UNASSURED_MAX	65536
#define NAT_EVICT_TRIES		8	/* ring slots looked at per full insert */

/* ---------------------------------------------------------------------
 * nat_frag: LRU_HASH. Non-first IPv4 fragments carry no ports; the first
 * fragment records its translation here, keyed like the IP reassembly
 * key, and later fragments are translated from it for NAT_FRAG_TIMEOUT
 * seconds (the kernel's ipfrag_time). An entry older than that is no
 * longer used.
 */
struct nat_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct nat_frag_value {
	__be32 to_saddr;
	__be32 to_daddr;
	__u32 wan_ifindex;
	__u8 to_wan;			/* the datagram leaves through wan_ifindex */
	__u8 pad[3];
	__u32 seen;			/* when the first fragment came, in nat_tick() ticks */
};

#define NAT_FRAG_TIMEOUT	30	/* seconds */

/*
 * nat_frag_src: LRU_HASH, key __be32 source address: a token bucket per
 * sender of first fragments, so that one peer spraying fragments cannot
 * push everyone else's datagrams out of nat_frag: each source may record
 * NAT_FRAG_SRC_RATE datagrams a second (NAT_FRAG_SRC_BURST at once); past
 * that its datagrams are not recorded and their later fragments dropped
 * (drop_frag_unknown, frag_src_limited).
 */
struct nat_frag_src {
	__u32 tokens;			/* datagrams it may still record */
	__u32 last;			/* last refill, nat_tick() ticks */
};

#define NAT_FRAG_SRC_RATE	256	/* datagrams a second */
#define NAT_FRAG_SRC_BURST	512
#define XDPNAT_FRAG_SRC_MAX	4096

/* ---------------------------------------------------------------------
 * nat_stats: PERCPU_ARRAY, one entry. Counters kept by the data path;
 * readers sum over CPUs. Field names are what `xdpnat stats` prints.
 */
struct nat_stats {
	__u64 rx_packets;		/* packets seen by xdpnat on any hook */
	__u64 xdp_forwarded;		/* translated and redirected in XDP */
	__u64 tc_translated;		/* translated on the kernel path (tc) */
	__u64 passed_untouched;		/* not ours: passed to the kernel as is */
	__u64 passed_to_kernel;		/* ours, but XDP could not forward it */
	__u64 flows_created;
	__u64 icmp_errors_translated;
	__u64 fragments_translated;
	__u64 drop_malformed;		/* bad IHL, short headers, bogus lengths */
	__u64 drop_no_port;		/* port allocation failed: range exhausted */
	__u64 drop_ct_full;		/* conntrack table full */
	__u64 drop_frag_unknown;	/* non-first fragment of an unknown datagram */
	__u64 drop_no_flow;		/* would have leaked a LAN source address */
	__u64 drop_wan_mismatch;	/* flow bound to another WAN whose gateway is unknown */
	__u64 drop_gate;		/* gated forward, no live control session */
	__u64 alg_to_user;		/* control-flow packets sent to the ALG */
	__u64 drop_alg_down;		/* inspected control-flow packet, no ALG socket (restart
					 * window) or no room for the metadata: dropped, TCP
					 * resends once the ALG is back */
	__u64 alg_no_queue;		/* control-flow packet on an rx queue beyond
					 * XDPNAT_XSK_QUEUES (queues added after the ALG
					 * started): no socket can exist, dropped like
					 * drop_alg_down (passed if NAT_CFG_F_ALG_OFF) */
	__u64 alg_off_flows;		/* control flows created while NAT_CFG_F_ALG_OFF:
					 * never inspected */
	__u64 alg_off_passed;		/* packets of inspected control flows forwarded
					 * uninspected while NAT_CFG_F_ALG_OFF */
	__u64 drop_alg_no_route;	/* ALG data XDP cannot route yet (no neighbour): TCP resends */
	__u64 expect_used;		/* data connections admitted by an expectation */
	__u64 ct_evicted;		/* unassured flows evicted to make room for a new one */
	__u64 drop_inbound;		/* unsolicited from a WAN to a LAN address (inbound drop) */
	__u64 drop_spoofed;		/* matched a flow, but arrived on the other side's interface */
	__u64 frag_src_limited;		/* first fragments not recorded: their source is over its rate */
	__u64 tcp_out_of_window;	/* TCP segments outside the tracked window: forwarded,
					 * state untouched (a forged RST or FIN lands here) */
	__u64 gate_full;		/* an FTP control session not counted: nat_gate full */
	__u64 passed_vlan;		/* VLAN-tagged (802.1Q/802.1ad) frames on an interface
					 * attached untagged: another network's, passed
					 * untouched (XDP: also in passed_untouched) */
	__u64 csum_finished;		/* TCP/UDP whose checksum was unfinished
					 * (CHECKSUM_PARTIAL from a veth/tap sender), finished
					 * by XDP and redirected (native mode) */
	__u64 csum_kept;		/* ... translated by XDP on the kernel path and kept
					 * unfinished (the skb goes on CHECKSUM_PARTIAL) */
	__u64 csum_to_kernel;		/* ... that XDP could have forwarded, left to the
					 * kernel path: generic mode, or the segment not
					 * all in the frame */
	__u64 eim_created;		/* endpoint-independent mappings created */
	__u64 eim_full;			/* a new flow without a mapping: nat_eim full or no
					 * port free for one; its port chosen per destination */
	__u64 eim_inbound;		/* flows opened from outside to a mapping by
					 * endpoint-independent or address-dependent filtering */
	__u64 flowlog_lost;		/* flow events not sent: nat_flowlog was full (the
					 * daemon is behind, or not running) */
	__u64 tcp_bulk_passed;		/* packets of bulk TCP flows XDP left to the kernel
					 * path for GRO/GSO (nat_config.tcp_bulk_bytes; also
					 * in passed_to_kernel) */
	__u64 local_socket;		/* from a WAN to a mapping's port, no flow, that
					 * filtering would admit but a socket of the router
					 * takes: passed to it, no flow made */
	__u64 ct_reply_lazy;		/* reply entries made by a UDP flow's first reply
					 * (bpf/nat_lazyreply.h), not by its first packet */
};

/* nat_ctl_stats: ARRAY, one entry, written by the controller only. */
struct nat_ctl_stats {
	__u64 ct_expired;		/* flows reclaimed by the garbage collector */
	__u64 ct_addr_change;		/* flows removed because their WAN address changed */
	__u64 gc_runs;
	__u64 daemon_pid;		/* pid of the running `xdpnat run`, 0 when stopped */
	__u64 daemon_started;		/* CLOCK_REALTIME seconds */
	__u64 eim_expired;		/* endpoint-independent mappings removed by the GC
					 * (no flow used them for a whole pass) */
};

/* ---------------------------------------------------------------------
 * FTP ALG (see ctl/alg_ftp*). nat_expect: HASH, an expected data
 * connection from remote raddr to waddr:wport, admitted once.
 */
struct nat_expect_key {
	__be32 raddr;			/* remote peer that may connect */
	__be32 waddr;			/* address it connects to (outside) */
	__be16 wport;			/* port it connects to (outside) */
	__u8 proto;
	__u8 pad;
};

struct nat_expect_value {
	__be32 to_addr;			/* inside host */
	__be16 to_port;
	__u8 dir;			/* enum nat_expect_dir: where the connection comes from */
	__u8 pad;
	__u64 expires;			/* ns */
	struct nat_ct_key ctl;		/* the control flow (its orig key) */
};

/* Where an expected connection arrives: NAT_EXPECT_IN from a WAN (the
 * remote on the Internet: an inside client's PORT, a forwarded server's
 * 227/229), NAT_EXPECT_HAIRPIN from a LAN to a WAN address (a hairpin
 * control flow's client or server): each is admitted only there, so a
 * WAN packet claiming a LAN source cannot take a hairpin expectation. */
enum nat_expect_dir {
	NAT_EXPECT_IN = 0,
	NAT_EXPECT_HAIRPIN = 1,
};

/* nat_gate: HASH, key (remote, inside host) -> live FTP control sessions. */
struct nat_gate_key {
	__be32 raddr;
	__be32 inside_addr;
};

struct nat_gate_value {
	__u32 sessions;			/* established control connections now */
	__u32 pad;
	__u64 last_seen;		/* ns, the last control packet or session end */
};

/*
 * nat_alg: HASH, key = the control flow's NAT_DIR_ORIG key. Written by the
 * ALG. delta[d] is what its rewrites added to the byte stream of direction
 * d (NAT_DIR_ORIG: client to server): the data path adds it to the
 * sequence numbers of d's packets and subtracts it from the other
 * direction's acknowledgments, once the flow is opaque.
 */
struct nat_alg_value {
	__s32 delta[2];
	__u64 user_packets;		/* packets the ALG handled in userspace */
	__u64 opaque_since;		/* ns, 0 while inspected */
	__u8 state;			/* enum alg_ftp_state (ctl/alg_ftp.h) */
	__u8 pad[7];
};

/*
 * nat_alg_state: HASH (not preallocated), key = the control flow's
 * NAT_DIR_ORIG key, at most XDPNAT_ALG_MAX. The ALG's own serialized
 * session (everything it knows of the flow: parser state, rewrite
 * history, sequence offsets), written before each segment it handled is
 * transmitted, so that a restarted ALG (SIGTERM, SIGKILL, crash, a newer
 * build) resumes every session where the peers are. The data path never
 * reads it. `version` names the layout of data[] (ctl/alg/alg_session.c);
 * an ALG built with another layout does not restore it but hands the flow
 * back to XDP with the offsets in nat_alg.
 */
#define XDPNAT_ALG_STATE_MAX	4088	/* data[] bytes: the value is 4 KiB */

struct nat_alg_state {
	__u32 version;
	__u32 len;			/* bytes of data[] in use */
	__u8 data[XDPNAT_ALG_STATE_MAX];
};

/*
 * nat_alg_stats: ARRAY, one entry: the FTP ALG's own counters, written by
 * its thread once a second and when it stops (`xdpnat stats` prints them).
 * A new ALG adds to what the one before left, so they count since the map
 * was made, like nat_stats. Gauges say what holds now.
 */
struct nat_alg_stats {
	__u64 alg_sessions;		/* gauge: control flows inspected now */
	__u64 alg_expects_live;		/* gauge: expectations the ALG holds open */
	__u64 alg_rx;			/* frames read from the AF_XDP sockets */
	__u64 alg_tx;			/* frames sent */
	__u64 alg_rewritten;		/* segments whose payload changed */
	__u64 alg_dropped;		/* segments dropped by the protocol core (data past a
					 * hole, a replay that does not fit) */
	__u64 alg_out_of_window;	/* segments more than ALG_FTP_WINDOW_MAX from the
					 * stream's next byte: dropped, state untouched */
	__u64 alg_syn_ignored;		/* SYNs on a live session the data path did not take
					 * as a new connection: passed, state untouched */
	__u64 alg_bad_frame;		/* no metadata, not IPv4 TCP, bad lengths */
	__u64 alg_no_tx_room;		/* egress socket had no free frame: dropped */
	__u64 alg_no_flow;		/* nat_ct entry gone: forwarded as it was */
	__u64 alg_uninspected;		/* control flows handed to XDP uninspected: the
					 * session table was full of established sessions, or
					 * the flow is neither masquerade nor forward */
	__u64 alg_evicted;		/* sessions dropped from a full table to make room:
					 * their flow was gone, unassured or handed back */
	__u64 alg_handed_back;		/* flows made opaque (AUTH TLS, not FTP, gave up) */
	__u64 alg_expects_opened;
	__u64 alg_expects_cancelled;	/* by the core (a PORT not answered 200) */
	__u64 alg_expects_replaced;	/* a session's oldest, deleted for its newest */
	__u64 alg_expects_refused;	/* not opened: the ALG's global limit was reached,
					 * or a session has 4 PORTs awaiting their 200 */
	__u64 alg_save_failed;		/* nat_alg_state writes that failed */
};

/*
 * nat_refused: LRU_HASH, key (remote, WAN address): the last new TCP
 * connection from that remote to that WAN address that matched no forward
 * or expectation, or that a gate refused. The ALG compares it with its
 * opaque FTP sessions to tell the operator what such a server needs.
 */
struct nat_refused_key {
	__be32 raddr;
	__be32 waddr;
};

struct nat_refused_value {
	__u64 last;			/* ns */
	__be16 dport;
	__u8 gated;			/* refused by a `gate ftp` forward */
	__u8 pad[5];
};

/*
 * The XDP metadata in front of a frame sent to the ALG: the frame's
 * headers are already translated, TTL and MAC addresses set; the ALG
 * rewrites the payload and transmits on egress_ifindex.
 */
struct nat_alg_meta {
	__u32 egress_ifindex;
	__u32 ingress_ifindex;
	struct nat_ct_key key;		/* the entry the packet matched (as on the wire) */
};

/* ---------------------------------------------------------------------
 * nat_flowlog: RINGBUF of XDPNAT_FLOWLOG_RING_BYTES, records struct
 * nat_flow_event. While nat_config.flow_log is set the data path sends one
 * when it creates a flow (START) and when it evicts one (END, reason
 * NAT_FLOW_END_EVICTED); a reservation that fails is counted in
 * nat_stats.flowlog_lost. The ends the controller decides (timeout, TCP
 * close, address change, flush) never pass through the ring: the
 * controller logs them where it deletes the flow (common/ctflow.c).
 * The ring survives a restart of the daemon with the rest of the maps:
 * events of flows made meanwhile wait there (up to its size).
 */
#define XDPNAT_FLOWLOG_RING_BYTES	(8U << 20)	/* ~100,000 events */

enum nat_flow_ev {
	NAT_FLOW_EV_START = 1,
	NAT_FLOW_EV_END = 2,
};

enum nat_flow_end {
	NAT_FLOW_END_NONE = 0,		/* START events */
	NAT_FLOW_END_CLOSED = 1,	/* TCP: both FINs or an RST, then removed by the GC */
	NAT_FLOW_END_TIMEOUT = 2,	/* idle past its timeout */
	NAT_FLOW_END_EVICTED = 3,	/* unassured, evicted from a full table (data path) */
	NAT_FLOW_END_ADDR_CHANGE = 4,	/* its WAN's address changed or went */
	NAT_FLOW_END_FLUSH = 5,		/* its WAN was removed from the configuration */
	NAT_FLOW_END_WAN_DOWN = 6,	/* its WAN failed its probes (`track`) */
};

struct nat_flow_event {
	__u64 time_ns;			/* CLOCK_MONOTONIC */
	struct nat_ct_key orig;		/* ORIG entry's key: the first packet's tuple */
	struct nat_ct_key reply;	/* REPLY entry's key (ct_twin_key() of ORIG) */
	__u32 wan_ifindex;
	__u8 event;			/* enum nat_flow_ev */
	__u8 reason;			/* enum nat_flow_end */
	__u8 kind;			/* enum nat_ct_kind */
	__u8 pad;
	__u64 packets[2];		/* END: by direction, [NAT_DIR_ORIG], [NAT_DIR_REPLY] */
	__u64 bytes[2];
};

#endif /* XDPNAT_H */

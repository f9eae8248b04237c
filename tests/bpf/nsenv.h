/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nsenv.h - the test router for BPF_PROG_TEST_RUN tests: a private network
 * namespace (unshare(CLONE_NEWNET), gone with the process or the next
 * env_up()), veth pairs, routes and permanent neighbour entries with fixed
 * MAC addresses, and a freshly loaded xdpnat skeleton whose maps are
 * filled the way the controller fills them.
 *
 *   lan0 (192.168.0.1/24)   <-> lan0p     9 rx queues: one beyond the ALG's 8
 *   wan0 (198.51.100.1/24)  <-> wan0p     default via 198.51.100.2
 *   wan1 (203.0.113.1/24)   <-> wan1p     (for dual-WAN cases)
 */
#ifndef TESTS_BPF_NSENV_H
#define TESTS_BPF_NSENV_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "xdpnat.h"
#include "common/cttab.h"
#include "pkt.h"

struct xdpnat_bpf;
struct routegen;

extern const uint8_t MAC_LAN0[6], MAC_WAN0[6], MAC_WAN1[6];
extern const uint8_t MAC_CLIENT[6], MAC_CLIENT2[6], MAC_SERVER[6], MAC_GW[6], MAC_GW1[6];

#define A_LAN0		IP4(192, 168, 0, 1)
#define A_CLIENT	IP4(192, 168, 0, 10)
#define A_CLIENT2	IP4(192, 168, 0, 11)
#define A_SERVER	IP4(192, 168, 0, 254)
#define A_WAN0		IP4(198, 51, 100, 1)
#define A_GW		IP4(198, 51, 100, 2)
#define A_WAN1		IP4(203, 0, 113, 1)
#define A_GW1		IP4(203, 0, 113, 2)
#define A_REMOTE	IP4(192, 0, 2, 80)	/* somewhere on the Internet */
#define A_DNS		IP4(192, 0, 2, 53)
#define A_ROUTER9	IP4(203, 0, 113, 9)	/* a router on the path */

struct env {
	struct xdpnat_bpf *skel;
	int if_lan0, if_wan0, if_wan1;
	int prog_xdp_lan, prog_xdp_wan, prog_xdp_l3w, prog_tc;
	int m_config, m_ifaces, m_wanaddr, m_forwards, m_ct, m_frag, m_stats;
	int m_ifslots, m_routegen, m_xsks;
	struct nat_cttab ct;		/* nat_ct mapped: read and change it with
					 * ct_get(&E.ct, ...) etc. (common/cttab.h) */
	__u32 rx_queue;			/* rx_queue_index of run_xdp() frames (default 0;
					 * lan0 has 9 rx queues, up to 65 with
					 * env_rx_queues(); the others 1) */
	struct routegen *rg;		/* ctl/routegen.c: nat_ifslots, nat_routegen */
	int routegen_auto;		/* run_xdp() first applies queued route/neighbour
					 * changes, as the daemon would (default 1) */
	__u32 tc_gso_segs, tc_gso_size;	/* run_tc(): the skb is a GSO packet of this
					 * many segments of this size (default 0: not) */
};

/* Give ifname n rx (and tx) queues, as `ethtool -L` does (veth: up to the
 * numrxqueues it was made with). 0 on success. */
int env_rx_queues(const char *ifname, unsigned n);

/* New namespace + topology + skeleton + default map contents (lan0, wan0
 * with masquerade, range 1024-65535, gateway 198.51.100.2). 0 on success. */
int env_up(struct env *e);
/* The same with room in nat_ct for ct_max entries, the table's limit
 * (0: two per flow of XDPNAT_CT_MAX_DEFAULT flows), in slots for
 * ceil(ct_max / 2) flows as the loader sizes it. */
int env_up_ct(struct env *e, unsigned ct_max);
void env_down(struct env *e);
/* nat_ct's hash keys for the next env_up() are made from this seed (0,
 * the default: random keys). */
extern uint64_t env_ct_seed;

/* nat_iface.slot of lan0 (0), wan0 (1), wan1 (2). */
int env_slot(const struct env *e, int ifindex);
/* Apply queued rtnetlink notifications now (bumps nat_routegen). */
int env_routegen(struct env *e);
/* Run a shell command inside the test namespace; 0 when it succeeded. */
int env_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Map helpers (controller's view). */
int env_set_wan(struct env *e, int ifindex, uint32_t addr, uint32_t gw, uint16_t lo, uint16_t hi,
		int masq, int wan_id);
int env_set_lan(struct env *e, int ifindex);
int env_set_flags(struct env *e, uint32_t flags);
int env_forward(struct env *e, int wan_ifindex, uint8_t proto, uint16_t port, uint32_t to, uint16_t to_port);
int env_forward_put(struct env *e, const struct nat_fwd_key *k, const struct nat_fwd_value *v);

/* Every map of the skeleton in a bundle, as the daemon's loader fills it
 * (m->cttab is the env's mapping of nat_ct: m does not own it). */
struct nat_maps;
void env_maps(const struct env *e, struct nat_maps *m);

/* xdpnat_xdp_lan or _wan, by the role nat_ifaces gives ifindex. */
int env_xdp_prog(struct env *e, int ifindex);
/* Program runs. Return 0 on success of the syscall; *ret = program return,
 * out/outlen the frame afterwards. */
int run_xdp(struct env *e, int ifindex, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	    uint32_t *ret);
int run_tc(struct env *e, int ifindex, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	   uint32_t *ret);

/* nat_stats summed over CPUs. */
int env_stats(struct env *e, struct nat_stats *s);
/* Number of entries in a map (not nat_ct: env_ct_count()). */
int map_count(int fd, size_t keysz);
/* A nat_ct key from host-order arguments. */
struct nat_ct_key env_ct_key(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			     uint8_t proto);
/* nat_ct lookup by tuple (host-order arguments). 0 = found, -ENOENT. */
int env_ct_get(struct env *e, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
	       uint8_t proto, struct nat_ct_value *v);
/* LIVE entries in nat_ct. */
int env_ct_count(const struct env *e);

#endif

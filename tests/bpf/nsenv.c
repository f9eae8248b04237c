/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nsenv.c - see nsenv.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pkt.h"
#include "nsenv.h"
#include "common/fwdports.h"
#include "common/maps.h"
#include "wan/routegen.h"
#include "xdpnat.skel.h"

const uint8_t MAC_LAN0[6]    = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
const uint8_t MAC_WAN0[6]    = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 };
const uint8_t MAC_WAN1[6]    = { 0x02, 0x00, 0x00, 0x00, 0x03, 0x01 };
const uint8_t MAC_CLIENT[6]  = { 0x02, 0x00, 0x00, 0xc0, 0x00, 0x0a };
const uint8_t MAC_CLIENT2[6] = { 0x02, 0x00, 0x00, 0xc0, 0x00, 0x0b };
const uint8_t MAC_SERVER[6]  = { 0x02, 0x00, 0x00, 0xc0, 0x00, 0xfe };
const uint8_t MAC_GW[6]      = { 0x02, 0x00, 0x00, 0x64, 0x00, 0x02 };
const uint8_t MAC_GW1[6]     = { 0x02, 0x00, 0x00, 0x71, 0x00, 0x02 };

int env_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "# command failed (%d): %s\n", rc, cmd);
	return rc;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* libbpf's warnings (a verifier log runs to thousands of lines) are kept
 * in a ring of the last lines and printed, as TAP comments, only when the
 * skeleton does not load. */
#define LOG_LINES 40
static char log_ring[LOG_LINES][256];
static unsigned log_next;

static int libbpf_ring(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[4096], *line, *save = NULL;

	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		snprintf(log_ring[log_next++ % LOG_LINES], sizeof(log_ring[0]), "%s", line);
	return 0;
}

static void log_dump(void)
{
	unsigned start = log_next > LOG_LINES ? log_next - LOG_LINES : 0;

	for (unsigned i = start; i < log_next; i++)
		fprintf(stderr, "# libbpf: %s\n", log_ring[i % LOG_LINES]);
	log_next = 0;
}

static const char *topology =
	"ip link set lo up && "
	"ip link add lan0 address 02:00:00:00:01:01 numrxqueues 65 numtxqueues 65 type veth "
	"peer name lan0p address 02:00:00:00:01:02 && "
	"ip link add wan0 address 02:00:00:00:02:01 type veth peer name wan0p address 02:00:00:00:02:02 && "
	"ip link add wan1 address 02:00:00:00:03:01 type veth peer name wan1p address 02:00:00:00:03:02 && "
	"for i in lan0 lan0p wan0 wan0p wan1 wan1p; do ip link set $i up || exit 1; done && "
	"ip addr add 192.168.0.1/24 dev lan0 && "
	"ip addr add 198.51.100.1/24 dev wan0 && "
	"ip addr add 203.0.113.1/24 dev wan1 && "
	"ip neigh replace 192.168.0.10 lladdr 02:00:00:c0:00:0a dev lan0 nud permanent && "
	"ip neigh replace 192.168.0.11 lladdr 02:00:00:c0:00:0b dev lan0 nud permanent && "
	"ip neigh replace 192.168.0.254 lladdr 02:00:00:c0:00:fe dev lan0 nud permanent && "
	"ip neigh replace 198.51.100.2 lladdr 02:00:00:64:00:02 dev wan0 nud permanent && "
	"ip neigh replace 203.0.113.2 lladdr 02:00:00:71:00:02 dev wan1 nud permanent && "
	"ip route add default via 198.51.100.2 dev wan0";

int env_rx_queues(const char *ifname, unsigned n)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr)) {
		ch.cmd = ETHTOOL_SCHANNELS;
		ch.rx_count = ch.tx_count = n;	/* veth wants both */
		err = ioctl(fd, SIOCETHTOOL, &ifr);
	}
	if (err)
		fprintf(stderr, "# %s: cannot set %u rx queues: %s\n", ifname, n, strerror(errno));
	close(fd);
	return err;
}

int env_up(struct env *e)
{
	return env_up_ct(e, 0);
}

uint64_t env_ct_seed;

/* The clock routegen is given: a second per step, so that no bump is
 * ever held back by its rate limit (the daemon's is real time). */
static uint64_t env_clock_ms;

int env_up_ct(struct env *e, unsigned ct_max)
{
	struct nat_config cfg = NAT_CONFIG_DEFAULTS;
	__u32 zero = 0, ifx, nslots;
	__u64 hkey[NAT_CT_HKEYS];
	__be32 a;
	int err;

	memset(e, 0, sizeof(*e));
	libbpf_set_print(libbpf_ring);
	log_next = 0;
	/* A fresh private namespace for every test: the previous one goes
	 * away with its last reference. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "# unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (env_sh("%s", topology))
		return -1;
	if (write_file("/proc/sys/net/ipv4/ip_forward", "1") ||
	    write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1"))
		return -1;
	e->if_lan0 = (int)if_nametoindex("lan0");
	e->if_wan0 = (int)if_nametoindex("wan0");
	e->if_wan1 = (int)if_nametoindex("wan1");
	if (!e->if_lan0 || !e->if_wan0 || !e->if_wan1)
		return -1;
	/* lan0 can have up to 65 rx queues (one more than the ALG serves);
	 * it starts with 9, a multi-queue LAN, and tests change it */
	if (env_rx_queues("lan0", 9))
		return -1;

	/* nat_ct is a table of slots (include/nat_ct_slots.h), sized and
	 * formatted as the daemon's loader does it: max_entries and the
	 * data path's copy of the slot count and hash keys before the load,
	 * the header after it; ct_max entries at most (the header's limit) */
	if (!ct_max)
		ct_max = 2 * XDPNAT_CT_MAX_DEFAULT;
	nslots = cttab_entries_for((ct_max + 1) / 2) - 1;
	if (env_ct_seed)
		cttab_keys_from_seed(env_ct_seed, hkey);
	else
		cttab_new_keys(hkey);
	e->skel = xdpnat_bpf__open();
	if (e->skel) {
		bpf_map__set_max_entries(e->skel->maps.nat_ct, nslots + 1);
		/* a table of nat_eim_ports for each of wan0 and wan1 */
		bpf_map__set_max_entries(e->skel->maps.nat_eim_ports, 2 * NAT_EIM_PORT_TABLE);
		e->skel->rodata->ct_nslots = nslots;
		memcpy((void *)e->skel->rodata->ct_hkey, hkey, sizeof(hkey));
	}
	if (e->skel && xdpnat_bpf__load(e->skel)) {
		int err = errno;

		xdpnat_bpf__destroy(e->skel);
		e->skel = NULL;
		errno = err;
	}
	if (!e->skel) {
		int err = errno;

		log_dump();
		fprintf(stderr, "# cannot load xdpnat skeleton: %s\n", strerror(err));
		return -1;
	}
	e->prog_xdp_lan = bpf_program__fd(e->skel->progs.xdpnat_xdp_lan);
	e->prog_xdp_wan = bpf_program__fd(e->skel->progs.xdpnat_xdp_wan);
	e->prog_xdp_l3w = bpf_program__fd(e->skel->progs.xdpnat_xdp_l3w);
	e->prog_tc = bpf_program__fd(e->skel->progs.xdpnat_tc_egress);
	e->m_config = bpf_map__fd(e->skel->maps.nat_config);
	e->m_ifaces = bpf_map__fd(e->skel->maps.nat_ifaces);
	e->m_wanaddr = bpf_map__fd(e->skel->maps.nat_wanaddr);
	e->m_forwards = bpf_map__fd(e->skel->maps.nat_forwards);
	e->m_ct = bpf_map__fd(e->skel->maps.nat_ct);
	err = cttab_format(e->m_ct, nslots, ct_max, hkey);
	if (!err)
		err = cttab_map(&e->ct, e->m_ct);
	if (err) {
		fprintf(stderr, "# nat_ct: cannot format or map: %s\n", strerror(-err));
		return -1;
	}
	e->m_frag = bpf_map__fd(e->skel->maps.nat_frag);
	e->m_stats = bpf_map__fd(e->skel->maps.nat_stats);
	e->m_ifslots = bpf_map__fd(e->skel->maps.nat_ifslots);
	e->m_routegen = bpf_map__fd(e->skel->maps.nat_routegen);
	e->m_xsks = bpf_map__fd(e->skel->maps.nat_xsks);

	if (bpf_map_update_elem(e->m_config, &zero, &cfg, BPF_ANY))
		return -1;
	{	/* nat_eim_moved complete, as the daemon marks it once it has
		 * counted nat_eim (empty here) */
		struct nat_eim_moved ready = { .count = 1 };
		__u32 k = NAT_EIM_MOVED_READY;

		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.nat_eim_moved), &k, &ready,
					BPF_ANY))
			return -1;
	}
	{	/* nat_udp_keyed filled, as the daemon marks it once it has
		 * walked nat_ct (empty here) */
		struct nat_udp_keyed ctl = { .bits[NAT_UDP_KEYED_READY] = 1 };
		__u32 k = NAT_UDP_KEYED_CTL;

		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.nat_udp_keyed), &k, &ctl,
					BPF_ANY))
			return -1;
	}
	if (env_set_lan(e, e->if_lan0))
		return -1;
	if (env_set_wan(e, e->if_wan0, A_WAN0, A_GW, 1024, 65535, 1, 0))
		return -1;
	a = htonl(A_WAN0);
	ifx = (__u32)e->if_wan0;
	if (bpf_map_update_elem(e->m_wanaddr, &a, &ifx, BPF_ANY))
		return -1;
	/* the controller's next-hop cache keeper, as the daemon runs it */
	e->rg = routegen_open(e->m_routegen, e->m_ifslots);
	if (!e->rg)
		return -1;
	{
		struct routegen_link l[] = { { e->if_lan0, env_slot(e, e->if_lan0) },
					     { e->if_wan0, env_slot(e, e->if_wan0) },
					     { e->if_wan1, env_slot(e, e->if_wan1) } };

		if (routegen_set_links(e->rg, l, 3, env_clock_ms += 1000))
			return -1;
	}
	e->routegen_auto = 1;
	return 0;
}

int env_slot(const struct env *e, int ifindex)
{
	return ifindex == e->if_lan0 ? 0 : ifindex == e->if_wan0 ? 1 : 2;
}

int env_routegen(struct env *e)
{
	return routegen_process(e->rg, env_clock_ms += 1000);
}

void env_down(struct env *e)
{
	routegen_close(e->rg);
	e->rg = NULL;
	cttab_unmap(&e->ct);
	if (e->skel)
		xdpnat_bpf__destroy(e->skel);
	e->skel = NULL;
}

int env_set_lan(struct env *e, int ifindex)
{
	struct nat_iface v;
	__u32 k = (__u32)ifindex;

	memset(&v, 0, sizeof(v));
	v.role = NAT_IF_LAN;
	v.slot = (__u8)env_slot(e, ifindex);
	return bpf_map_update_elem(e->m_ifaces, &k, &v, BPF_ANY);
}

/* The WAN's table of nat_eim_ports bound to it (its header), as wanstate.c
 * does; a table already bound keeps its mappings. */
static int env_bind_ports(struct env *e, int wan_id, int ifindex)
{
	int fd = bpf_map__fd(e->skel->maps.nat_eim_ports);
	__u32 k = (__u32)wan_id * NAT_EIM_PORT_TABLE;
	struct nat_eim_port h;

	if (bpf_map_lookup_elem(fd, &k, &h))
		return -1;
	if (h.addr == (__u32)ifindex)
		return 0;
	h = (struct nat_eim_port){ .addr = (__u32)ifindex };
	return bpf_map_update_elem(fd, &k, &h, BPF_ANY);
}

int env_set_wan(struct env *e, int ifindex, uint32_t addr, uint32_t gw, uint16_t lo, uint16_t hi,
		int masq, int wan_id)
{
	struct nat_iface v;
	__u32 k = (__u32)ifindex;

	memset(&v, 0, sizeof(v));
	v.role = NAT_IF_WAN;
	v.addr = htonl(addr);
	v.gateway = htonl(gw);
	v.port_lo_host = lo;
	v.port_hi_host = hi;
	v.masquerade = (__u8)masq;
	v.wan_id = (__u8)wan_id;
	v.slot = (__u8)env_slot(e, ifindex);
	if (env_bind_ports(e, wan_id, ifindex))
		return -1;
	return bpf_map_update_elem(e->m_ifaces, &k, &v, BPF_ANY);
}

int env_set_flags(struct env *e, uint32_t flags)
{
	struct nat_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(e->m_config, &zero, &cfg))
		return -1;
	cfg.flags = flags;
	return bpf_map_update_elem(e->m_config, &zero, &cfg, BPF_ANY);
}

int env_forward(struct env *e, int wan_ifindex, uint8_t proto, uint16_t port, uint32_t to, uint16_t to_port)
{
	struct nat_fwd_key k;
	struct nat_fwd_value v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.ifindex = (__u32)wan_ifindex;
	k.port = htons(port);
	k.proto = proto;
	v.addr = htonl(to);
	v.port = htons(to_port);
	return env_forward_put(e, &k, &v);
}

/* A nat_forwards entry written as the controller writes one: its port's
 * bit in nat_fwd_ports first (common/fwdports.h). */
int env_forward_put(struct env *e, const struct nat_fwd_key *k, const struct nat_fwd_value *v)
{
	if (fwdports_set(bpf_map__fd(e->skel->maps.nat_fwd_ports), k->proto, ntohs(k->port)))
		return -1;
	return bpf_map_update_elem(e->m_forwards, k, v, BPF_ANY);
}

void env_maps(const struct env *e, struct nat_maps *m)
{
	struct bpf_map *map;

	nat_maps_init(m);
	bpf_object__for_each_map(map, e->skel->obj) {
		int *fd = nat_maps_field(m, bpf_map__name(map));

		if (fd)
			*fd = bpf_map__fd(map);
	}
	m->cttab = e->ct;	/* the env's mapping of nat_ct, not m's own */
}

/* The XDP program the loader attaches to ifindex: its role's, or the L3
 * WAN's for a link marked NAT_IFACE_F_L3. */
int env_xdp_prog(struct env *e, int ifindex)
{
	struct nat_iface v;
	__u32 k = (__u32)ifindex;

	if (bpf_map_lookup_elem(e->m_ifaces, &k, &v) == 0 && v.role == NAT_IF_LAN)
		return e->prog_xdp_lan;
	if (bpf_map_lookup_elem(e->m_ifaces, &k, &v) == 0 && (v.flags & NAT_IFACE_F_L3))
		return e->prog_xdp_l3w;
	return e->prog_xdp_wan;
}

int run_xdp(struct env *e, int ifindex, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	    uint32_t *ret)
{
	struct xdp_md ctx;
	int err;

	if (e->routegen_auto && env_routegen(e))
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.data = 0;
	ctx.data_end = (__u32)len;
	ctx.ingress_ifindex = (__u32)ifindex;
	ctx.rx_queue_index = e->rx_queue;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PK_MAX,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	err = bpf_prog_test_run_opts(env_xdp_prog(e, ifindex), &o);
	if (err) {
		fprintf(stderr, "# XDP test run failed: %s\n", strerror(errno));
		return err;
	}
	*outlen = o.data_size_out;
	*ret = o.retval;
	return 0;
}

int run_tc(struct env *e, int ifindex, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	   uint32_t *ret)
{
	struct __sk_buff ctx;
	int err;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = (__u32)ifindex;
	ctx.gso_segs = e->tc_gso_segs;
	ctx.gso_size = e->tc_gso_size;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PK_MAX,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	err = bpf_prog_test_run_opts(e->prog_tc, &o);
	if (err) {
		fprintf(stderr, "# tc test run failed: %s\n", strerror(errno));
		return err;
	}
	*outlen = o.data_size_out;
	*ret = o.retval;
	return 0;
}

int env_stats(struct env *e, struct nat_stats *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nat_stats *per;
	__u32 zero = 0;
	size_t nf = sizeof(*s) / sizeof(__u64);

	if (ncpu <= 0)
		return -1;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -1;
	if (bpf_map_lookup_elem(e->m_stats, &zero, per)) {
		free(per);
		return -1;
	}
	memset(s, 0, sizeof(*s));
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < nf; i++)
			((__u64 *)s)[i] += ((__u64 *)&per[c])[i];
	free(per);
	return 0;
}

int map_count(int fd, size_t keysz)
{
	uint8_t k[64], nk[64];
	void *prev = NULL;
	int n = 0;

	if (keysz > sizeof(k))
		return -1;
	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		n++;
		memcpy(k, nk, keysz);
		prev = k;
		if (n > 1000000)
			break;
	}
	return n;
}

struct nat_ct_key env_ct_key(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			     uint8_t proto)
{
	struct nat_ct_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = htonl(saddr);
	k.daddr = htonl(daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	return k;
}

int env_ct_get(struct env *e, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
	       uint8_t proto, struct nat_ct_value *v)
{
	struct nat_ct_key k = env_ct_key(saddr, daddr, sport, dport, proto);

	return ct_get(&e->ct, &k, v);
}

static int ct_count_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	(void)k;
	(void)v;
	++*(int *)arg;
	return 0;
}

int env_ct_count(const struct env *e)
{
	int n = 0;

	ct_for_each(&e->ct, ct_count_one, &n);
	return n;
}

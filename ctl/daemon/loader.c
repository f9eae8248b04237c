/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.c - the kernel objects of the data path: load the BPF object,
 * write the maps that come straight from the configuration (nat_config,
 * nat_forwards), pin every map, attach the programs to the interfaces,
 * follow a reloaded configuration's interface list, and undo each of
 * these on exit. What the data path knows about each interface
 * (nat_ifaces, nat_wanaddr) belongs to wan/wanstate.c; the daemon passes
 * it what the loader attached.
 *
 * The rule for attaching: never replace or remove something that is not
 * ours. XDP is attached with XDP_FLAGS_UPDATE_IF_NOEXIST and detached with
 * XDP_FLAGS_REPLACE naming our program; the clsact qdisc is deleted only if
 * we created it, otherwise only our own filter (by handle and priority).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include "common/cttab.h"
#include "common/fwdports.h"
#include "common/linkinfo.h"
#include "common/log.h"
#include "daemon/loader.h"
#include "daemon/migrate.h"
#include "portmap/portmap_table.h"
#include "xdpnat.skel.h"

/* libbpf talks in multi-line fragments; keep its warnings, one line each. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* bpf_tc_hook_create() on an existing clsact: expected, handled. */
	if (strstr(buf, "Exclusivity flag on"))
		return 0;
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n)
		nat_log("%s%s", strncmp(buf, "libbpf: ", 8) ? "libbpf: " : "", buf);
	return 0;
}

const char *loader_xdp_mode_name(__u32 mode)
{
	if (mode == XDP_FLAGS_DRV_MODE)
		return "native";
	if (mode == XDP_FLAGS_SKB_MODE)
		return "generic";
	return "none";
}

struct nat_link *loader_find_link(struct nat_daemon *d, int ifindex)
{
	for (int i = 0; i < d->nlinks; i++)
		if (d->links[i].ifindex == ifindex)
			return &d->links[i];
	return NULL;
}

static struct nat_link *find_link_by_name(struct nat_link *links, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(links[i].ifname, name))
			return &links[i];
	return NULL;
}

/* ---------------------------------------------------------------- adopt */

static bool prog_id_is(__u32 prog_id, const char *name);
static bool prog_is_ours_xdp(__u32 prog_id);

/* A map named `name` used by program `prog_fd`, or -1. */
static int prog_map_fd(int prog_fd, const char *name)
{
	__u32 ids[64], len;
	struct bpf_prog_info info = { .nr_map_ids = 64, .map_ids = (__u64)(unsigned long)ids };

	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, name))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * The previous run's map called `name`: the one its programs still
 * attached to our interfaces use (what the data path works with right
 * now, even if its pins are gone, e.g. with a bpffs that went with the
 * mount namespace of `ip netns exec`), else the pinned one. -1: none.
 */
static int previous_map_fd(const struct nat_daemon *d, const char *name)
{
	char path[PATH_MAX];
	const char *ifname;

	for (int i = 0; (ifname = cfg_iface_name(&d->cfg, i)); i++) {
		int ifindex = (int)if_nametoindex(ifname), prog_fd, fd;
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (!ifindex || bpf_xdp_query(ifindex, 0, &q) || !q.prog_id ||
		    !prog_is_ours_xdp(q.prog_id))
			continue;
		prog_fd = bpf_prog_get_fd_by_id(q.prog_id);
		if (prog_fd < 0)
			continue;
		fd = prog_map_fd(prog_fd, name);
		close(prog_fd);
		if (fd >= 0)
			return fd;
	}
	if (snprintf(path, sizeof(path), "%s/%s", d->cfg.pin_dir, name) >= (int)sizeof(path))
		return -1;
	return bpf_obj_get(path);
}

/* Before the object is loaded: reuse, convert or start fresh, per map. */
static void adopt_plan(struct nat_daemon *d)
{
	const struct btf *btf = bpf_object__btf(d->skel->obj);
	struct bpf_map *map;
	int reused = 0, converted = 0, found = 0;

	d->nmig = 0;
	bpf_object__for_each_map(map, d->skel->obj) {
		struct migrate_map *m;
		int old;

		/* nat_eim_moved and nat_udp_keyed are made anew and filled
		 * after the attach (loader_moved_fill(), udpkeyed_fill()):
		 * a previous run's are not trusted to be complete */
		if (bpf_map__is_internal(map) || d->nmig == LOADER_MAPS_MAX ||
		    !strcmp(bpf_map__name(map), XDPNAT_MAP_EIM_MOVED) ||
		    !strcmp(bpf_map__name(map), XDPNAT_MAP_UDP_KEYED))
			continue;
		m = &d->mig[d->nmig++];
		old = previous_map_fd(d, bpf_map__name(map));
		found += old >= 0;
		migrate_plan(map, btf, old, m);
		reused += m->how == MIGRATE_REUSE;
		converted += m->how == MIGRATE_CONVERT;
	}
	d->adopted |= reused + converted > 0;
	if (found)
		nat_log("adopting the data path of the previous run: %d maps reused as they are, "
			"%d converted, %d new", reused, converted, d->nmig - reused - converted);
}

/* Copy the entries of converted maps (second pass: only what is new). */
static void adopt_copy(struct nat_daemon *d, bool fill_only)
{
	for (int i = 0; i < d->nmig; i++) {
		struct migrate_map *m = &d->mig[i];
		struct bpf_map *map;
		int err;

		if (m->how != MIGRATE_CONVERT)
			continue;
		map = bpf_object__find_map_by_name(d->skel->obj, m->name);
		err = map ? migrate_copy(m, bpf_map__fd(map), fill_only) : -ENOENT;
		if (err)
			nat_log_at(LOG_ERR, "%s: cannot copy the previous run's entries: %s", m->name,
				strerror(-err));
	}
}

/* ---------------------------------------------------------------- load */

/* The nat_forwards entries a configuration needs: a port each, and room
 * for every PCP/NAT-PMP mapping. */
static __u32 forwards_needed(const struct xdpnat_config *cfg)
{
	__u32 n = PORTMAP_MAX;

	for (int i = 0; i < cfg->nforwards; i++)
		n += (__u32)cfg->forwards[i].port_hi - cfg->forwards[i].port_lo + 1;
	return n;
}

/*
 * nat_forwards is sized from the configuration, with room to grow on
 * reload: twice what it needs, at least NAT_FORWARDS_MIN. A table sized
 * for the largest configuration (XDPNAT_MAX_FORWARD_PORTS) took ~20 MiB
 * up front, and its bucket array, mostly empty and too large for the
 * CPU cache, cost a cache miss on every lookup: once per port a new
 * mapping tries, and for every unsolicited packet from outside. The
 * least size lets a reload add an FTP server's passive range of 16384
 * ports (the field case of this project) without a restart; 32768
 * entries cost 512 KiB of buckets, 4096 cost a little less per new flow
 * (micro: 1109-1269 ns against 1152-1238), 65536 clearly more
 * (1431-1646).
 */
#define NAT_FORWARDS_MIN	32768

static __u32 forwards_capacity(const struct xdpnat_config *cfg)
{
	__u32 want = 2 * forwards_needed(cfg);

	if (want < NAT_FORWARDS_MIN)
		want = NAT_FORWARDS_MIN;
	if (want > XDPNAT_MAX_FORWARD_PORTS + PORTMAP_MAX)
		want = XDPNAT_MAX_FORWARD_PORTS + PORTMAP_MAX;
	return want;
}

/* The entries a loaded map holds: those of the map in use, which may be
 * the previous run's, not what the skeleton asked for; 0 if unknown. */
static __u32 entries_held(const struct bpf_map *map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
		return 0;
	return info.max_entries;
}

/* What the running nat_forwards holds. */
static __u32 forwards_held(const struct nat_daemon *d)
{
	return entries_held(d->skel->maps.nat_forwards);
}

/* nat_eim_ports: a table (1.5 MiB) for each WAN of the configuration, the
 * WAN's wan_id its index; a reload that needs more is refused. */
static __u32 port_tables_for(const struct xdpnat_config *cfg)
{
	return cfg->nwans > 0 ? (__u32)cfg->nwans : 1;
}

static __u32 port_tables_held(const struct nat_daemon *d)
{
	return entries_held(d->skel->maps.nat_eim_ports) / NAT_EIM_PORT_TABLE;
}

/*
 * nat_ct's hash keys and slot count are constants of the programs (.rodata),
 * so they are decided before the load: those of the table adopted as it is
 * (its header says them), else a new table's, whose header is written
 * right after the load (ct_table_format()).
 */
static void ct_table_plan(struct nat_daemon *d)
{
	struct bpf_map *map = d->skel->maps.nat_ct;
	int fd = bpf_map__fd(map);	/* >= 0: reused (bpf_map__reuse_fd) */
	struct nat_ct_head h;

	d->ct_fresh = true;
	cttab_new_keys(d->ct_hkey);
	d->ct_nslots = bpf_map__max_entries(map) - 1;
	if (fd >= 0 && !cttab_read_head(fd, &h) && h.nslots == d->ct_nslots) {
		d->ct_fresh = false;
		memcpy(d->ct_hkey, h.hkey, sizeof(d->ct_hkey));
	}
	d->skel->rodata->ct_nslots = d->ct_nslots;
	memcpy((void *)d->skel->rodata->ct_hkey, d->ct_hkey, sizeof(d->ct_hkey));
}

static int ct_table_format(struct nat_daemon *d)
{
	int err;

	if (!d->ct_fresh)
		return 0;
	err = cttab_format(bpf_map__fd(d->skel->maps.nat_ct), d->ct_nslots,
			   2 * d->cfg.conntrack_max, d->ct_hkey);
	if (err)
		nat_log_at(LOG_ERR, "cannot write nat_ct's header: %s", strerror(-err));
	return err;
}

int loader_load(struct nat_daemon *d)
{
	__u32 ring;
	int err;

	libbpf_set_print(libbpf_print);
	d->skel = xdpnat_bpf__open();
	if (!d->skel) {
		nat_log_at(LOG_ERR, "cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	err = bpf_map__set_max_entries(d->skel->maps.nat_ct,
				       cttab_entries_for(d->cfg.conntrack_max));
	if (err) {
		nat_log_at(LOG_ERR, "cannot size nat_ct to %u slots: %s",
			   cttab_entries_for(d->cfg.conntrack_max), strerror(-err));
		return -1;
	}
	/* a mapping per flow at most (TCP clients open each connection from
	 * a new port): an INSIDE entry if it moved off its port, a PEER one
	 * with address-dependent filtering; allocated as used
	 * (BPF_F_NO_PREALLOC), so the size is a bound, not memory taken.
	 * Past it a flow's port is chosen for its destination (eim_full). */
	err = bpf_map__set_max_entries(d->skel->maps.nat_eim, 2 * d->cfg.conntrack_max);
	if (err) {
		nat_log("cannot size nat_eim to %u entries: %s", 2 * d->cfg.conntrack_max,
			strerror(-err));
		return -1;
	}
	err = bpf_map__set_max_entries(d->skel->maps.nat_eim_ports,
				       port_tables_for(&d->cfg) * NAT_EIM_PORT_TABLE);
	if (err) {
		nat_log_at(LOG_ERR, "cannot size nat_eim_ports to %u tables: %s",
			   port_tables_for(&d->cfg), strerror(-err));
		return -1;
	}
	err = bpf_map__set_max_entries(d->skel->maps.nat_forwards, forwards_capacity(&d->cfg));
	if (err) {
		nat_log_at(LOG_ERR, "cannot size nat_forwards: %s", strerror(-err));
		return -1;
	}
	ring = d->cfg.conntrack_max / 4;
	ring = ring < XDPNAT_UNASSURED_MIN ? XDPNAT_UNASSURED_MIN
	       : ring > XDPNAT_UNASSURED_MAX ? XDPNAT_UNASSURED_MAX : ring;
	err = bpf_map__set_max_entries(d->skel->maps.nat_unassured, ring);
	if (err) {
		nat_log_at(LOG_ERR, "cannot size nat_unassured to %u entries: %s", ring, strerror(-err));
		return -1;
	}
	d->skel->rodata->unassured_ring = ring;
	adopt_plan(d);
	ct_table_plan(d);
	err = xdpnat_bpf__load(d->skel);
	if (err) {
		nat_log_at(LOG_ERR, "cannot load the BPF programs: %s", strerror(-err));
		return -1;
	}
	if (ct_table_format(d))
		return -1;
	adopt_copy(d, false);
	return 0;
}

void loader_adopt_finish(struct nat_daemon *d)
{
	adopt_copy(d, true);
	for (int i = 0; i < d->nmig; i++) {
		struct migrate_map *m = &d->mig[i];

		if (m->how == MIGRATE_CONVERT)
			nat_log("%s: adopted with a conversion (%s): %llu entries copied, %llu lost",
				m->name, m->why, (unsigned long long)m->copied,
				(unsigned long long)m->lost);
		else if (m->how == MIGRATE_FRESH && m->why[0])
			nat_log("%s: not adopted (%s): %llu entries lost", m->name, m->why,
				(unsigned long long)m->lost);
		migrate_done(m);
	}
	d->nmig = 0;
}

void loader_maps(const struct nat_daemon *d, struct nat_maps *out)
{
	struct bpf_map *map;

	nat_maps_init(out);
	bpf_object__for_each_map(map, d->skel->obj) {
		int *fd = nat_maps_field(out, bpf_map__name(map));

		if (fd)
			*fd = bpf_map__fd(map);
	}
	if (nat_maps_map_ct(out))
		nat_log_at(LOG_ERR, "cannot map nat_ct: the controller cannot see flows");
	if (nat_maps_map_moved(out))
		nat_log_at(LOG_ERR, "cannot map nat_eim_moved: new flows look up every endpoint");
	if (nat_maps_map_keyed(out))
		nat_log_at(LOG_ERR, "cannot map nat_udp_keyed: new UDP flows look their reply "
			   "tuple up");
	if (nat_maps_map_ports(out))
		nat_log_at(LOG_ERR, "cannot map nat_eim_ports: no WAN's table is bound, new "
			   "flows get ports for their destination only");
}

int loader_moved_fill(struct nat_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct nat_eim_key key, next;
	const void *prev = NULL;
	unsigned long n = 0, steps = 0;

	if (!m->moved || bpf_obj_get_info_by_fd(m->eim, &info, &len))
		return -1;
	/* a walk the data path's inserts and the GC's deletes may restart:
	 * an entry seen twice is counted twice, which is harmless */
	while (steps++ < 4UL * info.max_entries && !bpf_map_get_next_key(m->eim, prev, &next)) {
		key = next;
		prev = &key;
		if (key.side == NAT_EIM_INSIDE) {
			nat_maps_moved_add(m, &key, 1);
			n++;
		}
	}
	__atomic_store_n(&m->moved[NAT_EIM_MOVED_READY].count, 1, __ATOMIC_SEQ_CST);
	if (n)
		nat_log("nat_eim_moved: moved mappings counted: %lu", n);
	return 0;
}

void loader_close(struct nat_daemon *d)
{
	xdpnat_bpf__destroy(d->skel);
	d->skel = NULL;
}

/* ---------------------------------------------------------------- maps */

static void config_value(const struct xdpnat_config *cfg, __u32 flags, struct nat_config *out)
{
	memset(out, 0, sizeof(*out));
	out->timeout_tcp_syn = cfg->timeouts.tcp_syn;
	out->timeout_tcp_est = cfg->timeouts.tcp_est;
	out->timeout_tcp_closing = cfg->timeouts.tcp_closing;
	out->timeout_udp = cfg->timeouts.udp;
	out->timeout_icmp = cfg->timeouts.icmp;
	out->timeout_expect = cfg->alg_ftp.expect_timeout ? cfg->alg_ftp.expect_timeout
							  : NAT_TIMEOUT_EXPECT_DEFAULT;
	out->gate_linger = NAT_GATE_LINGER_DEFAULT;
	out->flags = flags;
	out->flow_log = cfg->flow_log[0] != '\0';
	out->tcp_bulk_bytes = NAT_TCP_BULK_BYTES_DEFAULT;
	for (int i = 0; cfg->alg_ftp.enabled && i < cfg->alg_ftp.nports && i < XDPNAT_FTP_PORTS; i++)
		out->ftp_ports[i] = cfg->alg_ftp.ports[i];
}

/* Flags are not in the configuration file: a reload keeps what an
 * operator set with bpftool. */
static int write_config_map(struct nat_daemon *d)
{
	int fd = bpf_map__fd(d->skel->maps.nat_config);
	struct nat_config cur = {}, val;
	__u32 zero = 0;

	bpf_map_lookup_elem(fd, &zero, &cur);
	config_value(&d->cfg, cur.flags, &val);
	if (bpf_map_update_elem(fd, &zero, &val, BPF_ANY)) {
		nat_log_at(LOG_ERR, "cannot write nat_config: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int forward_key(const struct cfg_forward *f, uint16_t port, struct nat_fwd_key *key)
{
	memset(key, 0, sizeof(*key));
	key->ifindex = if_nametoindex(f->wan);
	key->port = htons(port);
	key->proto = f->proto;
	return key->ifindex ? 0 : -1;
}

static bool is_alg_port(const struct cfg_alg_ftp *alg, uint16_t port)
{
	for (int i = 0; alg->enabled && i < alg->nports; i++)
		if (alg->ports[i] == port)
			return true;
	return false;
}

static bool is_implicit_tls_port(const struct cfg_alg_ftp *alg, uint16_t port)
{
	return alg->enabled && alg->implicit_tls_port && alg->implicit_tls_port == port;
}

/*
 * Flags of a forwarded port. A forward to an `alg ftp` port (the outside
 * or the inside one: `forward tcp eth0 2121 to S:21` serves FTP too) is
 * inspected by the ALG; it and the implicit-TLS port are FTP control
 * ports, whose sessions open the `gate ftp` ranges for their peer.
 */
static void forward_value(const struct xdpnat_config *cfg, const struct cfg_forward *f,
			  uint16_t port, struct nat_fwd_value *v)
{
	const struct cfg_alg_ftp *alg = &cfg->alg_ftp;
	uint16_t inside = cfg_forward_map(f, port);
	bool tcp = f->proto == IPPROTO_TCP;

	memset(v, 0, sizeof(*v));
	v->addr = f->to_addr.s_addr;
	v->port = htons(inside);
	if (f->gate_ftp)
		v->flags |= NAT_FWD_F_GATE_FTP;
	if (tcp && (is_alg_port(alg, port) || is_alg_port(alg, inside)))
		v->flags |= NAT_FWD_F_ALG | NAT_FWD_F_FTP_CTRL;
	if (tcp && (is_implicit_tls_port(alg, port) || is_implicit_tls_port(alg, inside)))
		v->flags |= NAT_FWD_F_FTP_CTRL;
}

/* nat_fwd_ports for what nat_forwards holds and the file's forwards,
 * before they are written (common/fwdports.h): the bits of pruned ones go. */
static int write_forward_ports(struct nat_daemon *d)
{
	struct nat_fwd_ports *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	err = fwdports_add_map(b, bpf_map__fd(d->skel->maps.nat_forwards));
	for (int i = 0; !err && i < d->cfg.nforwards; i++)
		for (uint32_t p = d->cfg.forwards[i].port_lo; p <= d->cfg.forwards[i].port_hi; p++)
			fwdports_add(b, d->cfg.forwards[i].proto, (uint16_t)p);
	if (!err)
		err = fwdports_write(bpf_map__fd(d->skel->maps.nat_fwd_ports), b);
	free(b);
	if (err)
		nat_log_at(LOG_ERR, "cannot write nat_fwd_ports: %s", strerror(-err));
	return err;
}

/* Write every port of every forward (BPF_ANY: also updates changed ones). */
static int write_forwards(struct nat_daemon *d)
{
	int fd = bpf_map__fd(d->skel->maps.nat_forwards);
	struct nat_fwd_key key;
	struct nat_fwd_value val;

	if (write_forward_ports(d))
		return -1;
	for (int i = 0; i < d->cfg.nforwards; i++) {
		const struct cfg_forward *f = &d->cfg.forwards[i];

		for (uint32_t p = f->port_lo; p <= f->port_hi; p++) {
			if (forward_key(f, (uint16_t)p, &key))
				break;	/* its WAN is absent: written when it appears */
			forward_value(&d->cfg, f, (uint16_t)p, &val);
			if (bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
				nat_log_at(LOG_ERR, "cannot write forward %s port %u: %s", f->wan, p,
					strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

static bool forward_wanted(const struct xdpnat_config *cfg, const struct nat_fwd_key *key)
{
	uint16_t port = ntohs(key->port);

	for (int i = 0; i < cfg->nforwards; i++) {
		const struct cfg_forward *f = &cfg->forwards[i];

		if (f->proto == key->proto && port >= f->port_lo && port <= f->port_hi &&
		    if_nametoindex(f->wan) == key->ifindex)
			return true;
	}
	return false;
}

/* Delete the ports no longer forwarded (static ones: PCP/NAT-PMP mappings
 * stay); collect first, the walk must not see its own deletions. Returns
 * how many were deleted. */
static int prune_forwards(struct nat_daemon *d)
{
	int fd = bpf_map__fd(d->skel->maps.nat_forwards);
	struct nat_fwd_key key, next, *doomed = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct nat_fwd_value val;

		key = next;
		prev = &key;
		if (forward_wanted(&d->cfg, &key))
			continue;
		/* a PCP/NAT-PMP mapping is portmap.c's to remove */
		if (!bpf_map_lookup_elem(fd, &key, &val) && (val.flags & NAT_FWD_F_PCP))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			void *p = realloc(doomed, cap * sizeof(*doomed));

			if (!p) {
				nat_log("out of memory pruning forwards");
				free(doomed);
				return -1;
			}
			doomed = p;
		}
		doomed[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	free(doomed);
	return (int)n;
}

int loader_fill_maps(struct nat_daemon *d)
{
	if (write_config_map(d))
		return -1;
	return write_forwards(d);
}

/* ---------------------------------------------------------------- pins */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int mount_bpffs(struct nat_daemon *d, const char *where)
{
	if (mount("bpf", where, "bpf", 0, "mode=0700")) {
		nat_log_at(LOG_ERR, "cannot mount bpffs on %s: %s", where, strerror(errno));
		return -1;
	}
	snprintf(d->bpffs_mounted, sizeof(d->bpffs_mounted), "%s", where);
	nat_log("mounted bpffs on %s", where);
	return 0;
}

/*
 * Make pin_dir a directory on bpffs. Under `ip netns exec` /sys is a fresh
 * sysfs without bpffs: /sys/fs/bpf exists (sysfs provides the mount point)
 * but nothing can be created in it, so bpffs is mounted on the parent.
 */
static int ensure_pin_dir(struct nat_daemon *d)
{
	const char *dir = d->cfg.pin_dir;
	char parent[CFG_PATH_MAX];
	char *slash;

	if (is_bpffs(dir))
		return 0;
	if (access(dir, F_OK) == 0)
		return mount_bpffs(d, dir);
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		nat_log("pin-dir %s: its parent must exist", dir);
		return -1;
	}
	*slash = '\0';
	if (!is_bpffs(parent) && mount_bpffs(d, parent))
		return -1;
	if (mkdir(dir, 0700)) {
		nat_log_at(LOG_ERR, "cannot create pin-dir %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(d->pin_dir_made, sizeof(d->pin_dir_made), "%s", dir);
	return 0;
}

/* Is the map pinned at `path` the map of `fd`? */
static bool pinned_is(const char *path, int fd)
{
	struct bpf_map_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b);
	int pfd = bpf_obj_get(path);
	bool same;

	if (pfd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(pfd, &a, &la) && !bpf_obj_get_info_by_fd(fd, &b, &lb) &&
	       a.id == b.id;
	close(pfd);
	return same;
}

int loader_pin_maps(struct nat_daemon *d)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int err;

	if (ensure_pin_dir(d))
		return -1;
	bpf_object__for_each_map(map, d->skel->obj) {
		/* .rodata/.bss: bpffs refuses names with a dot, and they are
		 * the program's own constants, not state an operator reads. */
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->cfg.pin_dir, bpf_map__name(map));
		if (pinned_is(path, bpf_map__fd(map)))
			continue;	/* adopted as it is: pinned already */
		if (access(path, F_OK) == 0 && unlink(path) == 0)
			nat_log("replaced the pin %s", path);
		err = bpf_map__pin(map, path);
		if (err) {
			nat_log_at(LOG_ERR, "cannot pin %s: %s", path, strerror(-err));
			return -1;
		}
	}
	return 0;
}

void loader_unpin_maps(struct nat_daemon *d)
{
	struct bpf_map *map;

	if (!d->skel)
		return;
	bpf_object__for_each_map(map, d->skel->obj)
		if (bpf_map__is_pinned(map) && bpf_map__unpin(map, NULL))
			nat_log_at(LOG_ERR, "cannot unpin %s", bpf_map__name(map));
	if (d->pin_dir_made[0] && rmdir(d->pin_dir_made))
		nat_log_at(LOG_ERR, "cannot remove %s: %s", d->pin_dir_made, strerror(errno));
	d->pin_dir_made[0] = '\0';
	if (d->bpffs_mounted[0] && umount2(d->bpffs_mounted, MNT_DETACH))
		nat_log_at(LOG_ERR, "cannot unmount %s: %s", d->bpffs_mounted, strerror(errno));
	d->bpffs_mounted[0] = '\0';
}

/* ---------------------------------------------------------------- attach */

/* Is program `prog_id` one of ours (by name; the kernel keeps 15 chars)? */
static bool prog_id_is(__u32 prog_id, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool same;

	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, name, sizeof(info.name) - 1);
	close(fd);
	return same;
}

static bool prog_is_ours_xdp(__u32 prog_id)
{
	return prog_id_is(prog_id, "xdpnat_xdp_lan") || prog_id_is(prog_id, "xdpnat_xdp_wan") ||
	       prog_id_is(prog_id, "xdpnat_xdp_l3w");
}

/* One of our tc filters (for Ethernet links or for L3 links)? */
static bool prog_is_ours_tc(__u32 prog_id)
{
	return prog_id_is(prog_id, "xdpnat_tc_egress") || prog_id_is(prog_id, "xdpnat_tc_l3");
}

static __u32 attach_mode_flags(__u8 attach_mode)
{
	return attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

/* The XDP program of a link: its role and whether it has an Ethernet
 * header are compiled in, not looked up. */
static int xdp_prog_fd(const struct nat_daemon *d, const struct nat_link *l)
{
	if (l->l3)
		return bpf_program__fd(d->skel->progs.xdpnat_xdp_l3w);
	return bpf_program__fd(l->role == NAT_IF_WAN ? d->skel->progs.xdpnat_xdp_wan
						     : d->skel->progs.xdpnat_xdp_lan);
}

/*
 * Our program is on the interface already: the one of the daemon before
 * us (stopped, killed or crashed, the data path stayed). Swap ours in,
 * in one step and in the same mode, so that not one packet meets an
 * interface without NAT or leak guard.
 */
static int takeover_xdp(struct nat_daemon *d, struct nat_link *l, __u32 old_id, __u8 attach_mode)
{
	int fd = xdp_prog_fd(d, l), old_fd = bpf_prog_get_fd_by_id(old_id), err;
	__u32 mode = attach_mode_flags(attach_mode);
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (old_fd < 0) {
		nat_log_at(LOG_ERR, "%s: cannot open the running xdpnat program (id %u): %s", l->ifname,
			old_id, strerror(errno));
		return -1;
	}
	err = bpf_xdp_attach(l->ifindex, fd, mode | XDP_FLAGS_REPLACE, &opts);
	close(old_fd);
	if (err) {
		nat_log_at(LOG_ERR, "%s: cannot replace the running xdpnat program (id %u): %s", l->ifname,
			old_id, strerror(-err));
		return -1;
	}
	bpf_obj_get_info_by_fd(fd, &info, &len);
	l->xdp_mode = mode;
	l->xdp_prog_id = info.id;
	l->xdp_prog_fd = fd;
	l->adopted = true;
	d->adopted = true;
	nat_log("%s: XDP program of the previous run (id %u) replaced in place (%s mode)",
		l->ifname, old_id, loader_xdp_mode_name(mode));
	return 0;
}

static int attach_xdp(struct nat_daemon *d, struct nat_link *l)
{
	int fd = xdp_prog_fd(d, l);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	__u32 modes[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };
	size_t first = 0;
	int err = -1;

	if (bpf_xdp_query(l->ifindex, 0, &q) == 0 && q.prog_id) {
		if (!prog_is_ours_xdp(q.prog_id)) {
			nat_log("%s already has an XDP program (id %u); not replacing it",
				l->ifname, q.prog_id);
			return -1;
		}
		return takeover_xdp(d, l, q.prog_id, q.attach_mode);
	}
	/* An L3 link in generic mode only: a tun device accepts a native
	 * program but runs it only for tap frames. */
	if (l->l3)
		first = 1;
	for (size_t i = first; i < sizeof(modes) / sizeof(modes[0]); i++) {
		err = bpf_xdp_attach(l->ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST | modes[i], NULL);
		if (!err) {
			l->xdp_mode = modes[i];
			break;
		}
		if (err == -EBUSY || err == -EEXIST)
			break;
	}
	if (err) {
		nat_log_at(LOG_ERR, "cannot attach XDP to %s: %s", l->ifname,
			err == -EBUSY || err == -EEXIST ? "another XDP program is attached"
							: strerror(-err));
		return -1;
	}
	bpf_obj_get_info_by_fd(fd, &info, &len);
	l->xdp_prog_id = info.id;
	l->xdp_prog_fd = fd;
	nat_log("%s: XDP attached (%s mode)", l->ifname, loader_xdp_mode_name(l->xdp_mode));
	return 0;
}

/* A reload changed the interface's role: swap in the other program in
 * one step (no moment without XDP on the interface). */
static int replace_xdp(struct nat_daemon *d, struct nat_link *l)
{
	int fd = xdp_prog_fd(d, l), err;
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = l->xdp_prog_fd);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!l->xdp_mode || fd == l->xdp_prog_fd)
		return 0;
	err = bpf_xdp_attach(l->ifindex, fd, l->xdp_mode | XDP_FLAGS_REPLACE, &opts);
	if (err) {
		nat_log_at(LOG_ERR, "%s: cannot replace the XDP program for its new role: %s", l->ifname,
			strerror(-err));
		return -1;
	}
	bpf_obj_get_info_by_fd(fd, &info, &len);
	l->xdp_prog_id = info.id;
	l->xdp_prog_fd = fd;
	return 0;
}

static void detach_xdp(struct nat_link *l)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = l->xdp_prog_fd);
	int err;

	if (!l->xdp_mode)
		return;
	err = bpf_xdp_attach(l->ifindex, -1, l->xdp_mode | XDP_FLAGS_REPLACE, &opts);
	if (err)
		nat_log_at(LOG_ERR, "cannot detach XDP from %s: %s", l->ifname, strerror(-err));
	else
		nat_log("%s: XDP detached", l->ifname);
	l->xdp_mode = 0;
	l->xdp_prog_id = 0;
	l->xdp_prog_fd = -1;
}

/*
 * Our filter sits at a fixed handle and priority, so that a leftover of a
 * killed daemon is found there and replaced instead of running twice. If
 * a foreign filter holds that slot, the kernel picks a free priority.
 */
#define XDPNAT_TC_HANDLE	1
#define XDPNAT_TC_PRIORITY	0xc000

static void choose_tc_slot(const struct nat_link *l, bool new_clsact,
			   const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts)
{
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = XDPNAT_TC_HANDLE, .priority = XDPNAT_TC_PRIORITY);

	opts->handle = XDPNAT_TC_HANDLE;
	opts->priority = XDPNAT_TC_PRIORITY;
	if (new_clsact || bpf_tc_query(hook, &q))
		return;		/* the slot is free */
	if (prog_is_ours_tc(q.prog_id)) {
		/* the previous run's filter: replaced in place, atomically */
		opts->flags = BPF_TC_F_REPLACE;
		nat_log("%s: tc filter of the previous run (id %u) replaced in place", l->ifname,
			q.prog_id);
		return;
	}
	opts->handle = 0;
	opts->priority = 0;
}

static int attach_tc(struct nat_daemon *d, struct nat_link *l)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts,
		    .prog_fd = bpf_program__fd(l->l3 ? d->skel->progs.xdpnat_tc_l3
						     : d->skel->progs.xdpnat_tc_egress));
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		nat_log_at(LOG_ERR, "cannot create clsact qdisc on %s: %s", l->ifname, strerror(-err));
		return -1;
	}
	/* a clsact made by the run before us (recorded in status.json) is
	 * still ours to remove on detach */
	bool new_clsact = !err;

	l->clsact_created |= new_clsact;
	choose_tc_slot(l, new_clsact, &hook, &opts);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		nat_log_at(LOG_ERR, "cannot attach tc egress to %s: %s", l->ifname, strerror(-err));
		if (new_clsact) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
			l->clsact_created = false;
		}
		return -1;
	}
	l->tc_attached = true;
	l->tc_handle = opts.handle;
	l->tc_priority = opts.priority;
	nat_log("%s: tc egress attached (%s clsact)", l->ifname,
		new_clsact ? "new" : "existing");
	return 0;
}

static void detach_tc(struct nat_link *l)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc_handle, .priority = l->tc_priority);
	int err;

	if (!l->tc_attached)
		return;
	if (l->clsact_created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
	} else {
		err = bpf_tc_detach(&hook, &opts);
	}
	if (err && err != -ENOENT && err != -ENODEV)
		nat_log_at(LOG_ERR, "cannot detach tc from %s: %s", l->ifname, strerror(-err));
	else
		nat_log("%s: tc egress detached%s", l->ifname,
			l->clsact_created ? ", clsact removed" : "");
	l->tc_attached = false;
	l->clsact_created = false;
}

static int attach_link(struct nat_daemon *d, struct nat_link *l)
{
	struct linkinfo li;

	/* the link type, from the kernel: which programs parse it */
	l->l3 = !linkinfo_get(l->ifindex, &li) && linkinfo_is_l3(&li);
	if (l->l3 && l->role != NAT_IF_WAN) {
		nat_log("%s has no Ethernet header (arphrd %u): such a link can be a WAN, not a LAN",
			l->ifname, li.arphrd);
		return -1;
	}
	if (attach_xdp(d, l))
		return -1;
	if (attach_tc(d, l)) {
		detach_xdp(l);
		return -1;
	}
	return 0;
}

static void detach_link(struct nat_link *l)
{
	detach_tc(l);
	detach_xdp(l);
}

/*
 * Do the frames of this interface come from senders on this machine? veth
 * (a namespace, a container) and tun/tap (a VM with offloads) hand TCP/UDP
 * with unfinished checksums (CHECKSUM_PARTIAL) to native XDP; NICs hand
 * complete ones. Asked of the driver (ETHTOOL_GDRVINFO); a driver that
 * cannot be asked counts as local: on such a link the data path only
 * takes a field equal to the pseudo-header sum for an unfinished one.
 */
static bool link_local_senders(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	bool local = true;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return true;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		local = !strcmp(di.driver, "veth") || !strcmp(di.driver, "tun");
	close(fd);
	return local;
}

/* 0: set up; 1: the kernel has no such interface (now). */
static int link_init(struct nat_link *l, const char *ifname, enum nat_if_role role)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	memset(l, 0, sizeof(*l));
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	l->role = role;
	l->ifindex = (int)if_nametoindex(ifname);
	if (!l->ifindex)
		return 1;
	if (role == NAT_IF_WAN && l->ifindex > NAT_CT_WAN_IFINDEX_MAX) {
		/* a flow names its WAN in 16 bits (struct nat_ct_value) */
		nat_log_at(LOG_ERR, "wan %s: ifindex %d is above %d, which a flow cannot "
			   "name; not attached", ifname, l->ifindex, NAT_CT_WAN_IFINDEX_MAX);
		return 1;
	}
	l->local_senders = link_local_senders(ifname);
	if (bpf_xdp_query(l->ifindex, 0, &q) == 0 && q.prog_id)
		l->xdp_mode_found = attach_mode_flags(q.attach_mode);
	return 0;
}

/*
 * The interfaces of a configuration that exist now, WANs first, in
 * configuration order. A WAN that does not exist is waited for: pppd
 * creates ppp0 when the line comes up and deletes it when it drops, and
 * the daemon attaches when it appears (loader_relink). A LAN must exist
 * when `strict` (start, reload): a missing LAN is a typo far more often
 * than a late device. Absent interfaces are logged when `verbose`.
 */
static int links_from_config(const struct xdpnat_config *cfg, struct nat_link *links,
			     bool strict, bool verbose)
{
	int n = 0, bad = 0, rc;

	for (int i = 0; i < cfg->nwans; i++) {
		rc = link_init(&links[n], cfg->wans[i].ifname, NAT_IF_WAN);
		if (rc == 0)
			n++;
		else if (verbose)
			nat_log("wan %s (line %d): no such interface yet; attached when it appears",
				cfg->wans[i].ifname, cfg->wans[i].line);
	}
	for (int i = 0; i < cfg->nlans; i++) {
		rc = link_init(&links[n], cfg->lans[i].ifname, NAT_IF_LAN);
		if (rc == 0) {
			n++;
		} else if (strict) {
			nat_log("interface %s (line %d) does not exist", cfg->lans[i].ifname,
				cfg->lans[i].line);
			bad = 1;
		} else if (verbose) {
			nat_log("lan %s (line %d): no such interface; attached when it appears",
				cfg->lans[i].ifname, cfg->lans[i].line);
		}
	}
	return bad ? -1 : n;
}

bool loader_link_absent(const struct nat_daemon *d, const char *ifname)
{
	for (int i = 0; i < d->nlinks; i++)
		if (!strcmp(d->links[i].ifname, ifname))
			return false;
	return true;
}

/* The lowest nat_xsks slot no other interface of `links` uses. Slots stay
 * with an interface across reloads: the ALG's sockets are keyed by them. */
static __u8 free_slot(const struct nat_link *links, int n)
{
	for (__u8 slot = 0;; slot++) {
		bool used = false;

		for (int i = 0; i < n && !used; i++)
			used = links[i].slot == slot;
		if (!used)
			return slot;
	}
}

int loader_links(struct nat_daemon *d)
{
	int n = links_from_config(&d->cfg, d->links, true, true);

	if (n < 0)
		return -1;
	d->nlinks = n;
	for (int i = 0; i < n; i++)
		d->links[i].slot = (__u8)i;
	return 0;
}

int loader_attach_all(struct nat_daemon *d)
{
	for (int i = 0; i < d->nlinks; i++)
		if (attach_link(d, &d->links[i]))
			return -1;
	return 0;
}

bool loader_rollback(struct nat_daemon *d)
{
	if (!d->skel)
		return !d->adopted;
	for (int i = 0; i < d->nlinks; i++)
		if (!d->links[i].adopted)
			detach_link(&d->links[i]);
	if (d->adopted)
		return false;
	loader_unpin_maps(d);
	return true;
}

/* ---------------------------------------------------------------- reload */

/* What cannot change without a restart keeps its running value. */
static void keep_restart_only(const struct xdpnat_config *cur, struct xdpnat_config *next)
{
	if (strcmp(cur->pin_dir, next->pin_dir))
		nat_log("reload: pin-dir change needs a restart; keeping %s", cur->pin_dir);
	if (strcmp(cur->run_dir, next->run_dir))
		nat_log("reload: run-dir change needs a restart; keeping %s", cur->run_dir);
	if (cur->conntrack_max != next->conntrack_max)
		nat_log("reload: conntrack-max change needs a restart; keeping %u",
			cur->conntrack_max);
	memcpy(next->pin_dir, cur->pin_dir, sizeof(next->pin_dir));
	memcpy(next->run_dir, cur->run_dir, sizeof(next->run_dir));
	memcpy(next->state_dir, cur->state_dir, sizeof(next->state_dir));
	next->conntrack_max = cur->conntrack_max;
}

/* The running interface `l` is still what the kernel calls l->ifname: a
 * device pppd deleted and created again has a new ifindex. */
static struct nat_link *find_same_link(struct nat_link *links, int n, const struct nat_link *l)
{
	struct nat_link *o = find_link_by_name(links, n, l->ifname);

	return o && o->ifindex == l->ifindex ? o : NULL;
}

/* Running interfaces that are not in `next`: removed from the
 * configuration, or gone from the kernel (deleted, or deleted and
 * created again). They leave wanstate; what is attached is detached
 * unless the device went and took it along. */
static void detach_removed_links(struct nat_daemon *d, struct nat_link *next, int nnext,
				 const struct loader_link_ops *ops, const char *why)
{
	char name[IF_NAMESIZE];

	for (int i = 0; i < d->nlinks; i++) {
		struct nat_link *l = &d->links[i];
		bool device_gone = !if_indextoname((unsigned)l->ifindex, name);

		if (find_same_link(next, nnext, l))
			continue;
		ops->leaving(ops->arg, l);
		if (device_gone) {
			nat_log("%s: %s (ifindex %d) is gone; attached again when it reappears",
				why, l->ifname, l->ifindex);
			continue;
		}
		detach_link(l);
		nat_log("%s: %s removed", why, l->ifname);
	}
}

/* A slot free among the running interfaces and those already merged. */
static __u8 free_slot_in_both(const struct nat_daemon *d, const struct nat_link *merged,
			      int nmerged)
{
	struct nat_link all[4 * CFG_MAX_IFACES];
	int n = 0;

	for (int i = 0; i < d->nlinks; i++)
		all[n++] = d->links[i];
	for (int i = 0; i < nmerged; i++)
		all[n++] = merged[i];
	return free_slot(all, n);
}

/* Carry the attach state of kept interfaces over; attach the new ones.
 * A new interface that fails to attach is left out, logged. An interface
 * whose role changes leaves its old role first (ops->leaving), then gets
 * the other program in one step. */
static int merge_links(struct nat_daemon *d, struct nat_link *next, int nnext,
		       const struct loader_link_ops *ops, const char *why)
{
	int kept = 0;

	for (int i = 0; i < nnext; i++) {
		struct nat_link *old = find_same_link(d->links, d->nlinks, &next[i]);
		enum nat_if_role role = next[i].role;

		if (old) {
			if (old->role != role)
				ops->leaving(ops->arg, old);
			next[i] = *old;
			next[i].role = role;
			if (old->role != role)
				replace_xdp(d, &next[i]);
		} else if (attach_link(d, &next[i])) {
			continue;
		} else {
			next[i].slot = free_slot_in_both(d, next, kept);
			nat_log("%s: %s (ifindex %d) added as %s", why, next[i].ifname,
				next[i].ifindex, role == NAT_IF_WAN ? "wan" : "lan");
		}
		next[kept++] = next[i];
	}
	return kept;
}

/* Make d->links what `next` says; forwards follow (they are keyed by
 * the WAN's ifindex). */
static int apply_links(struct nat_daemon *d, struct nat_link *next, int nnext,
		       const struct loader_link_ops *ops, const char *why)
{
	int pruned;

	detach_removed_links(d, next, nnext, ops, why);
	d->nlinks = merge_links(d, next, nnext, ops, why);
	memcpy(d->links, next, sizeof(next[0]) * (size_t)d->nlinks);
	pruned = prune_forwards(d);
	if (loader_fill_maps(d))
		return -1;
	return pruned < 0 ? 0 : pruned;
}

int loader_reload(struct nat_daemon *d, const struct xdpnat_config *new_cfg,
		  const struct loader_link_ops *ops)
{
	static struct nat_link next[2 * CFG_MAX_IFACES];
	static struct xdpnat_config cfg;
	int nnext, pruned;

	cfg = *new_cfg;
	keep_restart_only(&d->cfg, &cfg);
	if (forwards_needed(&cfg) > forwards_held(d)) {
		nat_log_at(LOG_WARNING, "reload: refused, keeping the running configuration: the "
			   "forwards need %u nat_forwards entries (with room for port-mapping), the "
			   "table holds %u; a restart sizes it (flows are kept)",
			   forwards_needed(&cfg), forwards_held(d));
		return -1;
	}
	if (port_tables_for(&cfg) > port_tables_held(d)) {
		nat_log_at(LOG_WARNING, "reload: refused, keeping the running configuration: %u "
			   "WANs need as many mapping tables (nat_eim_ports), the map holds %u; a "
			   "restart sizes it (flows are kept)", port_tables_for(&cfg),
			   port_tables_held(d));
		return -1;
	}
	nnext = links_from_config(&cfg, next, true, true);
	if (nnext < 0) {
		nat_log_at(LOG_WARNING, "reload: refused, keeping the running configuration");
		return -1;
	}
	d->cfg = cfg;
	pruned = apply_links(d, next, nnext, ops, "reload");
	if (pruned < 0)
		return -1;
	nat_log("reload: applied (%d interfaces, %d forwards, %d forwarded ports removed)",
		d->nlinks, d->cfg.nforwards, pruned);
	return 0;
}

/* Did the kernel's interfaces change under the configured names? */
static bool links_differ(const struct nat_daemon *d, struct nat_link *next, int nnext)
{
	if (nnext != d->nlinks)
		return true;
	for (int i = 0; i < nnext; i++)
		if (!find_same_link((struct nat_link *)d->links, d->nlinks, &next[i]))
			return true;
	return false;
}

int loader_relink(struct nat_daemon *d, const struct loader_link_ops *ops)
{
	static struct nat_link next[2 * CFG_MAX_IFACES];
	int nnext = links_from_config(&d->cfg, next, false, false);

	if (nnext < 0 || !links_differ(d, next, nnext))
		return 0;
	if (apply_links(d, next, nnext, ops, "link") < 0)
		return -1;
	return 1;
}

/* ---------------------------------------------------------------- detach */

/*
 * `xdpnat detach`, in a process that did not attach anything itself:
 * remove from interface `ifindex` what is ours, found by program name, and
 * the clsact qdisc if the record says xdpnat made it. Anything else on the
 * interface is left alone.
 */
int loader_detach_ours(const char *ifname, int ifindex, bool clsact_created)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tq, .handle = XDPNAT_TC_HANDLE, .priority = XDPNAT_TC_PRIORITY);
	int removed = 0, err;

	if (!bpf_xdp_query(ifindex, 0, &q) && q.prog_id && prog_is_ours_xdp(q.prog_id)) {
		int fd = bpf_prog_get_fd_by_id(q.prog_id);
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);

		err = fd < 0 ? -errno
			     : bpf_xdp_attach(ifindex, -1, attach_mode_flags(q.attach_mode) |
							   XDP_FLAGS_REPLACE, &opts);
		if (fd >= 0)
			close(fd);
		if (err)
			nat_log_at(LOG_ERR, "%s: cannot detach XDP: %s", ifname, strerror(-err));
		else
			removed++;
	}
	if (!bpf_tc_query(&hook, &tq) && prog_is_ours_tc(tq.prog_id)) {
		if (clsact_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			err = bpf_tc_hook_destroy(&hook);
		} else {
			LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XDPNAT_TC_HANDLE,
				    .priority = XDPNAT_TC_PRIORITY);

			err = bpf_tc_detach(&hook, &opts);
		}
		if (err)
			nat_log_at(LOG_ERR, "%s: cannot detach tc: %s", ifname, strerror(-err));
		else
			removed++;
	}
	if (removed)
		nat_log("%s: xdpnat detached%s", ifname, clsact_created ? ", clsact removed" : "");
	return removed;
}

int loader_unpin_all(const char *pin_dir)
{
	char path[PATH_MAX];
	const char *name;
	int n = 0;

	for (unsigned i = 0; (name = nat_maps_name(i)); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", pin_dir, name) >= (int)sizeof(path))
			continue;
		if (!unlink(path))
			n++;
		else if (errno != ENOENT)
			nat_log_at(LOG_ERR, "cannot remove the pin %s: %s", path, strerror(errno));
	}
	return n;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* maps.c - the fd bundle of the data path's maps (see maps.h). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "xdpnat.h"
#include "common/maps.h"

static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ XDPNAT_MAP_CONFIG, offsetof(struct nat_maps, config) },
	{ XDPNAT_MAP_IFACES, offsetof(struct nat_maps, ifaces) },
	{ XDPNAT_MAP_WANADDR, offsetof(struct nat_maps, wanaddr) },
	{ XDPNAT_MAP_FORWARDS, offsetof(struct nat_maps, forwards) },
	{ XDPNAT_MAP_CT, offsetof(struct nat_maps, ct) },
	{ XDPNAT_MAP_FRAG, offsetof(struct nat_maps, frag) },
	{ XDPNAT_MAP_STATS, offsetof(struct nat_maps, stats) },
	{ XDPNAT_MAP_CTL_STATS, offsetof(struct nat_maps, ctl_stats) },
	{ XDPNAT_MAP_EXPECT, offsetof(struct nat_maps, expect) },
	{ XDPNAT_MAP_GATE, offsetof(struct nat_maps, gate) },
	{ XDPNAT_MAP_XSKS, offsetof(struct nat_maps, xsks) },
	{ XDPNAT_MAP_ALG, offsetof(struct nat_maps, alg) },
	{ XDPNAT_MAP_ALG_STATE, offsetof(struct nat_maps, alg_state) },
	{ XDPNAT_MAP_REFUSED, offsetof(struct nat_maps, refused) },
	{ XDPNAT_MAP_IFSLOTS, offsetof(struct nat_maps, ifslots) },
	{ XDPNAT_MAP_ROUTEGEN, offsetof(struct nat_maps, routegen) },
	{ XDPNAT_MAP_UNASSURED, offsetof(struct nat_maps, unassured) },
	{ XDPNAT_MAP_FRAG_SRC, offsetof(struct nat_maps, frag_src) },
	{ XDPNAT_MAP_EIM, offsetof(struct nat_maps, eim) },
	{ XDPNAT_MAP_ALG_STATS, offsetof(struct nat_maps, alg_stats) },
	{ XDPNAT_MAP_FWD_PORTS, offsetof(struct nat_maps, fwd_ports) },
	{ XDPNAT_MAP_EIM_MOVED, offsetof(struct nat_maps, eim_moved) },
	{ XDPNAT_MAP_EIM_PORTS, offsetof(struct nat_maps, eim_ports) },
	{ XDPNAT_MAP_UDP_KEYED, offsetof(struct nat_maps, udp_keyed) },
	{ XDPNAT_MAP_FLOWLOG, offsetof(struct nat_maps, flowlog) },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

_Static_assert(NFIELDS * sizeof(int) == offsetof(struct nat_maps, flowlog) + sizeof(int),
	       "every field of struct nat_maps has a name");

const char *nat_maps_name(unsigned i)
{
	return i < NFIELDS ? fields[i].name : NULL;
}

void nat_maps_init(struct nat_maps *m)
{
	for (size_t i = 0; i < NFIELDS; i++)
		*(int *)((char *)m + fields[i].off) = -1;
	memset(&m->cttab, 0, sizeof(m->cttab));
	m->moved = NULL;
	m->keyed = NULL;
	m->ports = NULL;
	m->port_tables = 0;
}

int nat_maps_map_ct(struct nat_maps *m)
{
	return cttab_map(&m->cttab, m->ct);
}

/* An mmapable array of a fixed size, mapped shared into *at (0 or -errno),
 * and unmapped. */
static int map_whole(int fd, size_t len, void **at)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*at = p;
	return 0;
}

static void unmap_whole(void **at, size_t len)
{
	if (*at)
		munmap(*at, len);
	*at = NULL;
}

#define MOVED_BYTES (sizeof(struct nat_eim_moved) * (NAT_EIM_MOVED_CELLS + 1))
#define KEYED_BYTES (sizeof(struct nat_udp_keyed) * (NAT_UDP_KEYED_CTL + 1))

int nat_maps_map_moved(struct nat_maps *m)
{
	return map_whole(m->eim_moved, MOVED_BYTES, (void **)&m->moved);
}

void nat_maps_unmap_moved(struct nat_maps *m)
{
	unmap_whole((void **)&m->moved, MOVED_BYTES);
}

int nat_maps_map_keyed(struct nat_maps *m)
{
	return map_whole(m->udp_keyed, KEYED_BYTES, (void **)&m->keyed);
}

void nat_maps_unmap_keyed(struct nat_maps *m)
{
	unmap_whole((void **)&m->keyed, KEYED_BYTES);
}

int nat_maps_map_ports(struct nat_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	if (bpf_obj_get_info_by_fd(m->eim_ports, &info, &len))
		return -errno;
	if (info.value_size != sizeof(struct nat_eim_port) || !info.max_entries ||
	    info.max_entries % NAT_EIM_PORT_TABLE)
		return -EINVAL;
	err = map_whole(m->eim_ports, (size_t)info.max_entries * sizeof(struct nat_eim_port),
			(void **)&m->ports);
	if (!err)
		m->port_tables = info.max_entries / NAT_EIM_PORT_TABLE;
	return err;
}

void nat_maps_unmap_ports(struct nat_maps *m)
{
	unmap_whole((void **)&m->ports,
		    (size_t)m->port_tables * NAT_EIM_PORT_TABLE * sizeof(struct nat_eim_port));
	m->port_tables = 0;
}

void nat_maps_moved_add(const struct nat_maps *m, const struct nat_eim_key *k, int delta)
{
	__u32 *c, v;

	if (!m->moved || k->side != NAT_EIM_INSIDE)
		return;
	c = &m->moved[nat_eim_moved_cell(k->addr, k->port, k->proto, k->ifindex)].count;
	if (delta > 0) {
		__atomic_fetch_add(c, (__u32)delta, __ATOMIC_SEQ_CST);
		return;
	}
	v = __atomic_load_n(c, __ATOMIC_RELAXED);
	while (v && !__atomic_compare_exchange_n(c, &v, v - 1, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_RELAXED))
		;
}

int *nat_maps_field(struct nat_maps *m, const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].name, name))
			return (int *)((char *)m + fields[i].off);
	return NULL;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.h - load the data path, write the maps that come straight from
 * the configuration (nat_config, nat_forwards), pin every map, attach to
 * every interface, and undo all of it on the way out so every interface
 * is left exactly as it was found.
 */
#ifndef XDPNAT_LOADER_H
#define XDPNAT_LOADER_H

#include <stdbool.h>
#include <time.h>
#include <net/if.h>
#include <netinet/in.h>
#include "xdpnat.h"
#include "common/maps.h"
#include "config/config.h"
#include "daemon/migrate.h"

#define LOADER_MAPS_MAX	32

struct xdpnat_bpf;

/* One interface xdpnat is attached to, and how. */
struct nat_link {
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum nat_if_role role;
	__u32 xdp_mode;			/* XDP_FLAGS_DRV_MODE / _SKB_MODE, 0 = not attached */
	__u32 xdp_prog_id;
	int xdp_prog_fd;		/* the role's program attached (skeleton's fd) */
	bool tc_attached;
	__u32 tc_handle, tc_priority;	/* of our filter, to remove exactly it */
	bool clsact_created;		/* we made the clsact qdisc: delete it on detach */
	bool adopted;			/* our program was there: replaced in place */
	__u8 slot;			/* nat_iface.slot: its AF_XDP sockets in nat_xsks */
	bool l3;			/* no link-layer header (PPP, WireGuard, tun): the
					 * _l3 programs, generic XDP (NAT_IFACE_F_L3) */
	bool local_senders;		/* veth or tun/tap: its frames come from senders on
					 * this machine, whose TCP/UDP checksums may be
					 * unfinished (CHECKSUM_PARTIAL) */
	__u32 xdp_mode_found;		/* the mode of the XDP program found there when
					 * the link was set up (0 = none) */
};

struct nat_daemon {
	struct xdpnat_config cfg;
	struct xdpnat_bpf *skel;
	struct nat_link links[2 * CFG_MAX_IFACES];
	int nlinks;
	char bpffs_mounted[CFG_PATH_MAX];	/* mount point we made, "" = none */
	char pin_dir_made[CFG_PATH_MAX];	/* directory we made, "" = none */
	struct migrate_map mig[LOADER_MAPS_MAX];	/* what became of the previous run's maps */
	int nmig;
	bool adopted;				/* a previous run's data path was taken over */
	bool ct_fresh;				/* nat_ct is new: its header is ours to write */
	__u32 ct_nslots;			/* nat_ct's, as the programs know them */
	__u64 ct_hkey[NAT_CT_HKEYS];
};

/* What the daemon does when an interface leaves its role (removed from
 * the configuration, or turned from WAN into LAN or back): called before
 * it is detached or its program swapped. */
struct loader_link_ops {
	void (*leaving)(void *arg, const struct nat_link *l);
	void *arg;
};

/* Open the skeleton, size nat_ct from the configuration, adopt the maps
 * of a previous run (daemon/migrate.h: reuse, or convert with the first
 * copy pass), load. */
int loader_load(struct nat_daemon *d);

/* After the new programs are attached: the second copy pass of converted
 * maps (entries the old programs made meanwhile), and the log of what was
 * converted or lost. */
void loader_adopt_finish(struct nat_daemon *d);

/* Write nat_config and nat_forwards from d->cfg. */
int loader_fill_maps(struct nat_daemon *d);

/* Pin every map under cfg.pin_dir (mounting bpffs there if needed). */
int loader_pin_maps(struct nat_daemon *d);
void loader_unpin_maps(struct nat_daemon *d);

/* d->links from the configuration (every LAN must exist; a WAN that does
 * not is waited for, see loader_relink), each
 * with its nat_xsks slot; nothing attached yet. */
int loader_links(struct nat_daemon *d);

/* XDP (native, else generic) and tc egress on every interface of d->links. */
int loader_attach_all(struct nat_daemon *d);

/* A start that failed: detach what this start attached afresh. What it
 * took over from a previous run stays: that data path was working and
 * keeps working. Returns true when nothing was taken over, so the system
 * is as it was before the start (pins and the directory or mount made for
 * them removed too). */
bool loader_rollback(struct nat_daemon *d);

/* SIGHUP: apply a new, already valid configuration without touching
 * nat_ct. Interfaces added are attached, removed ones detached (after
 * ops->leaving), nat_config and nat_forwards rewritten. */
int loader_reload(struct nat_daemon *d, const struct xdpnat_config *next,
		  const struct loader_link_ops *ops);

/* Follow the kernel's interfaces under the configured names: attach a
 * configured interface that appeared (pppd created ppp0), forget one
 * that was deleted (after ops->leaving), both for one that was deleted
 * and created again (a new ifindex). Forwards follow. 1 if anything
 * changed, 0 if not, -1 on a map error. */
int loader_relink(struct nat_daemon *d, const struct loader_link_ops *ops);

/* A configured interface that has no device now (waited for). */
bool loader_link_absent(const struct nat_daemon *d, const char *ifname);

struct nat_link *loader_find_link(struct nat_daemon *d, int ifindex);

/* The fds of the loaded maps (the daemon fills its bundle once). */
void loader_maps(const struct nat_daemon *d, struct nat_maps *out);

/* Count the INSIDE entries of nat_eim into nat_eim_moved, new at every
 * start, and mark it complete (include/xdpnat.h); after the programs are
 * attached. 0, or -1 if it is not mapped (the data path then keeps looking
 * every endpoint up). */
int loader_moved_fill(struct nat_maps *m);

/* `xdpnat detach`: remove our XDP program and tc filter from an interface
 * (and its clsact qdisc if xdpnat made it). Returns how many were removed. */
int loader_detach_ours(const char *ifname, int ifindex, bool clsact_created);

/* `xdpnat detach`: remove every pin of ours under pin_dir; the count. */
int loader_unpin_all(const char *pin_dir);

/* Free the BPF object. Programs that are attached and maps that are
 * pinned stay: the data path outlives the daemon. */
void loader_close(struct nat_daemon *d);

/* Name of an attach mode for humans and JSON: "native", "generic", "none". */
const char *loader_xdp_mode_name(__u32 mode);

#endif /* XDPNAT_LOADER_H */

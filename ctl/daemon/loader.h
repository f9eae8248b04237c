/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.h - load the data path, fill its maps from the configuration, pin
 * them, attach to every interface, and undo all of it on the way out so
 * every interface is left exactly as it was found.
 */
#ifndef XDPNAT_LOADER_H
#define XDPNAT_LOADER_H

#include <stdbool.h>
#include <time.h>
#include <net/if.h>
#include <netinet/in.h>
#include "config/config.h"
#include "common/log.h"
#include "xdpnat.h"

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
	struct in_addr addr;		/* current primary address, 0 = none */
	struct in_addr gateway;		/* WAN: learned default gateway, 0 = none */
	__u8 slot;			/* nat_iface.slot: its AF_XDP sockets in nat_xsks */
};

struct nat_daemon {
	struct xdpnat_config cfg;
	struct xdpnat_bpf *skel;
	struct nat_link links[2 * CFG_MAX_IFACES];
	int nlinks;
	char bpffs_mounted[CFG_PATH_MAX];	/* mount point we made, "" = none */
	char pin_dir_made[CFG_PATH_MAX];	/* directory we made, "" = none */
	bool pid_file_written;
	time_t started;				/* CLOCK_REALTIME */
};

/* Log one line to stderr with a timestamp. */

/* Open the skeleton, size nat_ct from the configuration, load. */
int loader_load(struct nat_daemon *d);

/* Write nat_config, nat_ifaces and nat_forwards from d->cfg. */
int loader_fill_maps(struct nat_daemon *d);

/* Pin every map under cfg.pin_dir (mounting bpffs there if needed). */
int loader_pin_maps(struct nat_daemon *d);
void loader_unpin_maps(struct nat_daemon *d);

/* XDP (native, else generic) and tc egress on every configured interface. */
int loader_attach_all(struct nat_daemon *d);
void loader_detach_all(struct nat_daemon *d);

/* SIGHUP: apply a new, already valid configuration without touching
 * nat_ct. Interfaces added are attached, removed ones detached. */
int loader_reload(struct nat_daemon *d, const struct xdpnat_config *next);

/* nat_ctl_stats.daemon_pid/daemon_started; pid 0 clears them. */
int loader_set_daemon(struct nat_daemon *d, pid_t pid);

/* <run_dir>/xdpnat.pid and <run_dir>/status.json. */
int loader_write_pid_file(struct nat_daemon *d);
void loader_remove_run_files(struct nat_daemon *d);
int loader_write_status(const struct nat_daemon *d);

struct nat_link *loader_find_link(struct nat_daemon *d, int ifindex);

/* Fill nat_iface for link `l` from the configuration and its address. */
void loader_iface_value(const struct xdpnat_config *cfg, const struct nat_link *l,
			struct nat_iface *out);

/* fd of one of the loaded maps, by name (XDPNAT_MAP_*); -1 if unknown. */
int loader_map_fd(const struct nat_daemon *d, const char *name);

/* Free the BPF object (programs and unpinned maps go with it). */
void loader_close(struct nat_daemon *d);

/* Name of an attach mode for humans and JSON: "native", "generic", "none". */
const char *loader_xdp_mode_name(__u32 mode);

/* Paths under the run directory. */
#define XDPNAT_PID_FILE		"xdpnat.pid"
#define XDPNAT_STATUS_FILE	"status.json"
#define XDPNAT_DDNS_FILE	"ddns.json"

#endif /* XDPNAT_LOADER_H */

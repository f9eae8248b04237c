/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * config.h - the parsed form of /etc/xdpnat.conf.
 *
 * One statement per line, '#' starts a comment. The parser never stops at
 * the first error: it reports every bad line as "FILE:LINE: message" and
 * returns failure, so `xdpnat check` shows them all and `xdpnat run`
 * attaches nothing.
 */
#ifndef XDPNAT_CONFIG_H
#define XDPNAT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <net/if.h>
#include <netinet/in.h>
#include "xdpnat.h"

#define CFG_MAX_IFACES		32
#define CFG_MAX_FORWARDS	256
#define CFG_MAX_DDNS		16
#define CFG_PATH_MAX		256

/* Defaults and limits of the statements whose defaults are not in
 * xdpnat.h; see xdpnat.conf(5). */
#define CFG_STATE_DIR_DEFAULT	"/var/lib/xdpnat"
#define CFG_RUN_DIR_DEFAULT	"/run/xdpnat"
#define CFG_CT_MAX_MIN		1024		/* `conntrack-max` bounds */
#define CFG_CT_MAX_MAX		16777216
#define CFG_TIMEOUT_MAX		2592000		/* 30 days, any `timeout` */
#define CFG_DDNS_INTERVAL_DEFAULT 2160000	/* 25 days */
#define CFG_DDNS_INTERVAL_MIN	60
#define CFG_DDNS_INTERVAL_MAX	31536000	/* one year */
#define CFG_EXPECT_TIMEOUT_MAX	3600		/* `alg ftp expect-timeout` */
#define CFG_MSS_MIN		536		/* `wan <if> mss-clamp <bytes>` */
#define CFG_MSS_MAX		65495
#define CFG_MSS_AUTO		0xffff		/* `mss-clamp` or `mss-clamp auto` */
#define CFG_PORTMAP_PER_HOST_DEFAULT 16		/* `port-mapping ... max-per-host` */
#define CFG_PORTMAP_PER_HOST_MAX 1024
#define CFG_PORTMAP_LIFETIME_DEFAULT 86400	/* `port-mapping ... max-lifetime` */

/* RFC 4787 filtering of a masquerading WAN (`outbound <wan> filtering`). */
enum cfg_filtering {
	CFG_FILTER_APD = 0,		/* address-and-port-dependent (default) */
	CFG_FILTER_AD = 1,		/* address-dependent */
	CFG_FILTER_EI = 2,		/* endpoint-independent ("full cone") */
};
#define CFG_TRACK_MAX		4		/* `track` targets per WAN */
#define CFG_TRACK_INTERVAL_DEFAULT 5		/* seconds between probe rounds */
#define CFG_TRACK_INTERVAL_MAX	3600
#define CFG_TRACK_COUNT_DEFAULT	3		/* `down` and `up` */
#define CFG_TRACK_COUNT_MAX	100

struct cfg_wan {
	char ifname[IF_NAMESIZE];
	bool outbound;			/* `outbound <wan>` seen */
	bool inbound_accept;		/* `inbound <wan> accept`: route unsolicited
					 * packets to LAN addresses (default drop) */
	uint16_t port_lo, port_hi;	/* masquerade range, host order */
	uint8_t filtering;		/* enum cfg_filtering: `outbound ... filtering` */
	struct in_addr gateway;		/* `wan <if> gateway <ip>`, 0 = learn from routes */
	uint16_t mss_clamp;		/* `wan <if> mss-clamp [<bytes>|auto]`: 0 = off,
					 * CFG_MSS_AUTO = the WAN's MTU - 40, else the
					 * value (CFG_MSS_MIN..CFG_MSS_MAX) */
	/* `track <ip>[,<ip>...] [interval <s>] [down <n>] [up <n>]`: probe
	 * through this WAN only (wan/failover.h); ntrack 0 = not tracked */
	struct in_addr track[CFG_TRACK_MAX];
	int ntrack;
	unsigned track_interval, track_down, track_up;
	int line;
};

struct cfg_lan {
	char ifname[IF_NAMESIZE];
	int line;
};

struct cfg_forward {
	uint8_t proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	char wan[IF_NAMESIZE];
	uint16_t port_lo, port_hi;	/* outside, host order; lo == hi for one port */
	struct in_addr to_addr;
	uint16_t to_lo, to_hi;		/* inside, host order; see cfg_forward_map() */
	bool gate_ftp;			/* `gate ftp` */
	int line;
};

/* `port-mapping <lan-if> ...`: PCP and NAT-PMP served on that LAN. */
struct cfg_portmap {
	char lan[IF_NAMESIZE];
	char wan[IF_NAMESIZE];		/* where mappings are made; default: the first wan */
	bool pcp, natpmp;		/* `protocols`, default both */
	uint16_t port_lo, port_hi;	/* outside ports handed out, host order */
	unsigned max_per_host;		/* mappings per inside address */
	unsigned max_lifetime;		/* seconds */
	int line;
};

enum cfg_ddns_provider {
	DDNS_DYNDNS2,
	DDNS_ORAY,
	DDNS_NOIP,
	DDNS_CLOUDFLARE,
	DDNS_CUSTOM,
};

struct cfg_ddns {
	char wan[IF_NAMESIZE];
	enum cfg_ddns_provider provider;
	char fqdn[256];
	char user[128];			/* "" if none */
	char password_file[CFG_PATH_MAX];
	char token_file[CFG_PATH_MAX];
	char server[CFG_PATH_MAX];	/* "" = provider default */
	char ca_file[CFG_PATH_MAX];
	char url[1024];			/* custom: template */
	unsigned interval;		/* seconds between forced refreshes */
	char failover[IF_NAMESIZE];	/* `failover <wan>`: its address while
					 * this WAN is down; "" = none */
	int line;
};

struct cfg_alg_ftp {
	bool enabled;
	uint16_t ports[XDPNAT_FTP_PORTS];	/* default {21} */
	int nports;
	uint16_t implicit_tls_port;		/* 0 = none */
	unsigned expect_timeout;		/* seconds */
	int line;
};

/* `metrics <ip>:<port> [allow-wan]`: the Prometheus endpoint. */
struct cfg_metrics {
	bool enabled;
	struct in_addr addr;		/* 0.0.0.0 = every address (needs allow_wan) */
	uint16_t port;			/* host order */
	bool allow_wan;			/* the operator accepts a WAN-reachable address */
	int line;
};

struct cfg_timeouts {
	unsigned tcp_syn, tcp_est, tcp_closing, udp, icmp;
};

struct xdpnat_config {
	char path[CFG_PATH_MAX];
	struct cfg_wan wans[CFG_MAX_IFACES];
	int nwans;
	struct cfg_lan lans[CFG_MAX_IFACES];
	int nlans;
	struct cfg_forward forwards[CFG_MAX_FORWARDS];
	int nforwards;
	struct cfg_ddns ddns[CFG_MAX_DDNS];
	int nddns;
	struct cfg_portmap portmaps[CFG_MAX_IFACES];
	int nportmaps;
	struct cfg_alg_ftp alg_ftp;
	struct cfg_timeouts timeouts;
	unsigned conntrack_max;		/* flows */
	char pin_dir[CFG_PATH_MAX];	/* `pin-dir <path>`, default XDPNAT_PIN_DIR_DEFAULT */
	char state_dir[CFG_PATH_MAX];	/* `state-dir <path>`, default /var/lib/xdpnat */
	char run_dir[CFG_PATH_MAX];	/* `run-dir <path>`, default /run/xdpnat: pid and status files */
	struct cfg_metrics metrics;
	int log_level;			/* `log-level`: LOG_ERR..LOG_DEBUG, default LOG_INFO */
	char flow_log[CFG_PATH_MAX];	/* `flow-log <path>|syslog`: the NAT log; "" = none,
					 * "syslog" = syslog(3), else a file */
};

/* Fill in every default. */
void cfg_init(struct xdpnat_config *cfg);

/*
 * Parse a whole file (or an in-memory text for tests, with `name` used in
 * messages). Errors go to `err` as "NAME:LINE: message\n", one per line.
 * Returns the number of errors (0 = valid). Checks the whole file for
 * consistency too: an `outbound`/`forward`/`ddns` naming an interface that
 * is not a `wan`, overlapping forwards on the same WAN and protocol, a
 * forward whose inside range is neither one port nor the outside range's
 * length, at least one wan and one lan, secret files readable by group or
 * others.
 *
 * Both start from cfg_init() and set cfg->path to `path`/`name`; the
 * result is only meaningful when 0 is returned. A missing whole-file item
 * (no wan, no lan) is reported at the file's last line. A file that cannot
 * be read is reported as "PATH: reason" and counts as one error. `err` may
 * be NULL to only count.
 */
int cfg_parse_file(struct xdpnat_config *cfg, const char *path, FILE *err);
int cfg_parse_string(struct xdpnat_config *cfg, const char *name, const char *text, FILE *err);

/* Inside port for outside port `port` of forward `f` (range to range keeps
 * the offset, range to one port maps all to that port). 0 if `port` is
 * not in f's outside range. */
uint16_t cfg_forward_map(const struct cfg_forward *f, uint16_t port);

const struct cfg_wan *cfg_find_wan(const struct xdpnat_config *cfg, const char *ifname);

/* The static forward of `wan` that covers outside port `port`, or NULL. */
const struct cfg_forward *cfg_find_forward(const struct xdpnat_config *cfg, const char *wan,
					   uint8_t proto, uint16_t port);

/* The name of the i-th interface of the file, WANs first, NULL past the
 * last (i from 0): every `wan` and `lan` in one loop. */
const char *cfg_iface_name(const struct xdpnat_config *cfg, int i);
const char *cfg_ddns_provider_name(enum cfg_ddns_provider p);

#endif /* XDPNAT_CONFIG_H */

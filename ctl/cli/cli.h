/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli.h - the read-only commands: `xdpnat flows`, `top`, `stats`, `status`,
 * `mappings` (one file each, cli_<command>.c), and how main.c prepares
 * their context (cli.c). JSON (json-c) with --json; field names in JSON are stable.
 *
 * They read the daemon's pinned maps and run files. With a live daemon
 * the pins are looked for through /proc/<daemon pid>/root, which reaches
 * them also when the daemon runs under its own `ip netns exec` (each has
 * a private mount namespace with its own bpffs); without one, under
 * pin-dir.
 */
#ifndef XDPNAT_CLI_H
#define XDPNAT_CLI_H

#include <stdbool.h>
#include <sys/types.h>
#include <net/if.h>
#include <netinet/in.h>
#include "config/config.h"

/* `flows` and `top`: which flows to show (like conntrack -L's filters);
 * every one given must match. */
struct cli_filter {
	bool has_host;
	struct in_addr host;		/* --host: the inside, outside or remote address */
	uint16_t port;			/* --port, host order, 0 = any: one of their ports */
	char wan[IF_NAMESIZE];		/* --wan, "" = any */
	uint8_t kind;			/* --kind, enum nat_ct_kind, 0 = any */
};

struct cli_ctx {
	const struct xdpnat_config *cfg;
	bool json;
	pid_t daemon_pid;		/* from <run-dir>/xdpnat.pid, 0 = none */
	struct cli_filter filter;
	bool once;			/* top: one frame, then exit */
	unsigned interval_ms;		/* top: between samples, 0 = 1000 */
	unsigned rows;			/* top: flows shown, 0 = 20 */
};

/* Each prints to stdout and returns the process exit status. */
int cli_flows(const struct cli_ctx *c);
int cli_top(const struct cli_ctx *c);
int cli_stats(const struct cli_ctx *c);
int cli_status(const struct cli_ctx *c);
int cli_mappings(const struct cli_ctx *c);

/* The pid in <run-dir>/xdpnat.pid if that process is alive and is an
 * xdpnat, else 0 (run_read_pid()). */
pid_t cli_daemon_pid(const struct xdpnat_config *cfg);

/* Interface indexes in the maps are the daemon's: join its network
 * namespace if it differs from ours (needs CAP_SYS_ADMIN; the BPF
 * commands need root anyway). 0, or -1 with a message. */
int cli_enter_daemon_netns(pid_t pid);

#endif /* XDPNAT_CLI_H */

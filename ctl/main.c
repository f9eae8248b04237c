/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * main.c - the `xdpnat` command: parse the command line and hand over to
 * the daemon (daemon/), the read-only CLI (cli/) or the DDNS tool (wan/).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "cli/cli.h"
#include "common/flowdesc.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/metrics_http.h"
#include "wan/ddns.h"

#define DEFAULT_CONFIG "/etc/xdpnat.conf"

struct cmd_opts {
	const char *config;
	bool config_given;		/* -c */
	bool foreground;
	bool json;
	bool view;		/* a `flows`/`top` option was given */
	struct cli_filter filter;
	bool once;
	unsigned interval_ms, rows;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xdpnat <command> [-c FILE]\n"
		"  check  [-c FILE]          check the configuration\n"
		"  run    [-c FILE] [-f]     load (or adopt), attach and run the daemon (-f: foreground)\n"
		"  detach [-c FILE]          remove the data path a stopped daemon left attached\n"
		"  flows  [-c FILE] [--json] [FILTER] list the flows\n"
		"  top    [-c FILE] [--json] [FILTER] [--once] [--interval S] [-n ROWS]\n"
		"                            the busiest flows and WANs, refreshed (--once: one frame)\n"
		"         FILTER: [--host ADDR] [--port PORT] [--wan IF] [--kind KIND], all must match\n"
		"  stats  [-c FILE] [--json] data path and controller counters\n"
		"  status [-c FILE] [--json] daemon, interfaces, DDNS; exit 1 if not running\n"
		"  mappings [-c FILE] [--json] the RFC 4787 mappings: outside port -> inside endpoint\n"
		"  ddns update -c FILE --wan IF --address A [--force]\n"
		"The default FILE is " DEFAULT_CONFIG "; without it (and without -c) flows,\n"
		"stats and status look at the default run-dir and pin-dir.\n");
}

/* A whole decimal number in [lo, hi]. */
static bool number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= lo && *out <= hi;
}

/* The options of `flows` and `top`: filters, and top's refresh. */
static int view_opt(struct cmd_opts *o, int ch, const char *arg)
{
	unsigned long v;
	double secs;
	char *end;

	switch (ch) {
	case 'H':
		if (inet_pton(AF_INET, arg, &o->filter.host) != 1)
			goto bad;
		o->filter.has_host = true;
		return 0;
	case 'P':
		if (!number(arg, 1, 65535, &v))
			goto bad;
		o->filter.port = (uint16_t)v;
		return 0;
	case 'W':
		if (!*arg || strlen(arg) >= sizeof(o->filter.wan))
			goto bad;
		snprintf(o->filter.wan, sizeof(o->filter.wan), "%s", arg);
		return 0;
	case 'K':
		o->filter.kind = flowdesc_kind_parse(arg);
		if (!o->filter.kind) {
			fprintf(stderr, "xdpnat: --kind %s: one of masq, forward, hairpin, expect, "
				"routed\n", arg);
			return -1;
		}
		return 0;
	case 'O':
		o->once = true;
		return 0;
	case 'I':
		secs = strtod(arg, &end);
		if (end == arg || *end || !(secs >= 0.1 && secs <= 3600))
			goto bad;
		o->interval_ms = (unsigned)(secs * 1000);
		return 0;
	case 'n':
		if (!number(arg, 1, 100000, &v))
			goto bad;
		o->rows = (unsigned)v;
		return 0;
	}
bad:
	fprintf(stderr, "xdpnat: bad value '%s' for %s\n", arg,
		ch == 'H' ? "--host (an IPv4 address)" : ch == 'P' ? "--port (1-65535)" :
		ch == 'W' ? "--wan" : ch == 'I' ? "--interval (seconds, 0.1-3600)" :
		"-n (rows, 1-100000)");
	return -1;
}

static int parse_opts(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'P' },
		{ "wan", required_argument, NULL, 'W' },
		{ "kind", required_argument, NULL, 'K' },
		{ "once", no_argument, NULL, 'O' },
		{ "interval", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->config = DEFAULT_CONFIG;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fjhn:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; o->config_given = true; break;
		case 'f': o->foreground = true; break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
		case 'H': case 'P': case 'W': case 'K': case 'O': case 'I': case 'n':
			if (view_opt(o, ch, optarg))
				return -1;
			o->view = true;
			break;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "xdpnat: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* Parse into *cfg; the parser prints every error as FILE:LINE: message. */
static int load_config(const char *path, struct xdpnat_config *cfg)
{
	cfg_init(cfg);
	return cfg_parse_file(cfg, path, stderr);
}

static int cmd_check(const struct cmd_opts *o)
{
	static struct xdpnat_config cfg;

	if (load_config(o->config, &cfg))
		return 1;
	/* what only the running system can tell: is the address ours? */
	if (cfg.metrics.enabled && metrics_http_check(&cfg, stderr))
		return 1;
	printf("%s: ok\n", o->config);
	return 0;
}

static int cmd_cli(const struct cmd_opts *o, int (*fn)(const struct cli_ctx *))
{
	static struct xdpnat_config cfg;
	struct cli_ctx c = { .cfg = &cfg, .json = o->json, .filter = o->filter, .once = o->once,
			     .interval_ms = o->interval_ms, .rows = o->rows };

	/* a daemon started with its defaults needs no file to be looked at */
	if (!o->config_given && access(o->config, F_OK) && errno == ENOENT)
		cfg_init(&cfg);
	else if (load_config(o->config, &cfg))
		return 1;
	c.daemon_pid = cli_daemon_pid(&cfg);
	cli_enter_daemon_netns(c.daemon_pid);
	return fn(&c);
}

int main(int argc, char **argv)
{
	struct cmd_opts o = {};
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "ddns"))
		return ddns_main(argc, argv);
	if (parse_opts(argc - 1, argv + 1, &o))
		return 2;
	if (o.view && strcmp(cmd, "flows") && strcmp(cmd, "top")) {
		fprintf(stderr, "xdpnat: filters and --once, --interval, -n are for flows and top\n");
		return 2;
	}
	if (!strcmp(cmd, "check"))
		return cmd_check(&o);
	if (!strcmp(cmd, "run"))
		return daemon_run(o.config, o.foreground);
	if (!strcmp(cmd, "detach"))
		return daemon_detach(o.config);
	if (!strcmp(cmd, "flows"))
		return cmd_cli(&o, cli_flows);
	if (!strcmp(cmd, "top"))
		return cmd_cli(&o, cli_top);
	if (!strcmp(cmd, "stats"))
		return cmd_cli(&o, cli_stats);
	if (!strcmp(cmd, "status"))
		return cmd_cli(&o, cli_status);
	if (!strcmp(cmd, "mappings"))
		return cmd_cli(&o, cli_mappings);
	fprintf(stderr, "xdpnat: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}

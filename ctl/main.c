/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * main.c - the `xdpnat` command: dispatch, and the daemon's event loop.
 *
 * The daemon is one thread around poll(): a signalfd (SIGINT/SIGTERM stop,
 * SIGHUP reloads), a 1 s timerfd (garbage collection) and the address
 * watcher's netlink socket. The DDNS worker is the only other thread; it
 * is fed through ddns_address_changed() and never blocks us.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "wan/addrwatch.h"
#include "wan/routegen.h"
#include "alg/alg.h"
#include "cli/cli.h"
#include "config/config.h"
#include "wan/ddns.h"
#include "daemon/gc.h"
#include "daemon/loader.h"
#include "wan/wanstate.h"

#define DEFAULT_CONFIG "/etc/xdpnat.conf"

struct cmd_opts {
	const char *config;
	bool foreground;
	bool json;
};

struct daemon_ctx {
	struct nat_daemon *d;
	struct addrwatch *aw;
	struct routegen *rg;		/* next-hop cache invalidation */
	struct ddns *ddns;
	struct alg *alg;		/* FTP ALG over AF_XDP, NULL without `alg ftp` */
	struct alg_iface alg_ifs[XDPNAT_MAX_IFACES];	/* what it was started on */
	int alg_nifs;
	struct wan_maps wan_maps;
	struct gc_maps gc_maps;
	int signal_fd, timer_fd;
	bool status_dirty;
	bool gc_failing;
	uint64_t gc_next;		/* no pass before this (ns): see GC_ENTRIES_PER_SEC */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xdpnat <command> [-c FILE]\n"
		"  check  [-c FILE]          check the configuration\n"
		"  run    [-c FILE] [-f]     load, attach and run the daemon (-f: foreground)\n"
		"  flows  [-c FILE] [--json] list the flows\n"
		"  stats  [-c FILE] [--json] data path and controller counters\n"
		"  status [-c FILE] [--json] daemon, interfaces, DDNS; exit 1 if not running\n"
		"  ddns update -c FILE --wan IF --address A [--force]\n"
		"The default FILE is " DEFAULT_CONFIG ".\n");
}

static int parse_opts(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->config = DEFAULT_CONFIG;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fjh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
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
static int load_config(const char *path, struct xdpnat_config *cfg, FILE *err)
{
	cfg_init(cfg);
	return cfg_parse_file(cfg, path, err);
}

static int cmd_check(const struct cmd_opts *o)
{
	static struct xdpnat_config cfg;

	if (load_config(o->config, &cfg, stderr))
		return 1;
	printf("%s: ok\n", o->config);
	return 0;
}

static int cmd_cli(const struct cmd_opts *o, int (*fn)(const struct cli_ctx *))
{
	static struct xdpnat_config cfg;
	struct cli_ctx c = { .cfg = &cfg, .json = o->json };

	if (load_config(o->config, &cfg, stderr))
		return 1;
	c.daemon_pid = cli_daemon_pid(&cfg);
	cli_enter_daemon_netns(c.daemon_pid);
	return fn(&c);
}

/* ---------------------------------------------------------------- events */

static void on_addr_event(void *arg, const struct addrwatch_event *ev)
{
	struct daemon_ctx *x = arg;
	struct nat_link *l = loader_find_link(x->d, ev->ifindex);
	char a[INET_ADDRSTRLEN];

	if (!l)
		return;
	wanstate_apply(&x->wan_maps, &x->d->cfg, ev);	/* logs WAN changes itself */
	if (ev->type == AW_GATEWAY) {
		x->status_dirty |= l->gateway.s_addr != ev->addr.s_addr;
		l->gateway = ev->addr;
		return;
	}
	if (l->addr.s_addr == ev->addr.s_addr)
		return;
	l->addr = ev->addr;
	x->status_dirty = true;
	if (l->role == NAT_IF_WAN)
		ddns_address_changed(x->ddns, l->ifname, l->addr);
	else
		nat_log("lan %s: address %s", l->ifname,
			l->addr.s_addr ? inet_ntop(AF_INET, &l->addr, a, sizeof(a)) : "none");
}

static void on_gc_tick(struct daemon_ctx *x)
{
	struct gc_result r;
	uint64_t expirations;
	int err;

	uint64_t now = gc_now_ns();

	if (read(x->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (now < x->gc_next)
		return;
	err = gc_run(&x->gc_maps, now, &r);
	x->gc_next = now + (r.ct_entries / GC_ENTRIES_PER_SEC) * 1000000000ULL;
	if (err && !x->gc_failing)
		nat_log("gc: %s (logged once until it recovers)", strerror(-err));
	else if (!err && x->gc_failing)
		nat_log("gc: recovered");
	x->gc_failing = err != 0;
	if (r.flows_expired || r.orphans_deleted || r.expects_expired || r.gates_expired ||
	    r.algs_deleted)
		nat_log("gc: %llu flows expired, %llu orphan entries, %llu expectations, "
			"%llu gates, %llu ALG states",
			(unsigned long long)r.flows_expired, (unsigned long long)r.orphans_deleted,
			(unsigned long long)r.expects_expired, (unsigned long long)r.gates_expired,
			(unsigned long long)r.algs_deleted);
}

/* The interfaces the FTP ALG opens sockets on: the attached links, with
 * their nat_ifaces.slot. */
static int alg_ifaces(const struct nat_daemon *d, struct alg_iface *ifs)
{
	int n = 0;

	for (int i = 0; i < d->nlinks && n < XDPNAT_MAX_IFACES; i++, n++) {
		memset(&ifs[n], 0, sizeof(ifs[n]));
		snprintf(ifs[n].name, sizeof(ifs[n].name), "%s", d->links[i].ifname);
		ifs[n].ifindex = d->links[i].ifindex;
		ifs[n].slot = d->links[i].slot;
	}
	return n;
}

static uint64_t now_ms(void)
{
	return gc_now_ns() / 1000000ULL;
}

/* Tell the next-hop cache keeper which interfaces (slots) are attached. */
static void routegen_links(struct daemon_ctx *x)
{
	struct routegen_link l[XDPNAT_MAX_IFACES];
	int n = 0;

	for (int i = 0; i < x->d->nlinks && n < XDPNAT_MAX_IFACES; i++, n++) {
		l[n].ifindex = x->d->links[i].ifindex;
		l[n].slot = x->d->links[i].slot;
	}
	if (routegen_set_links(x->rg, l, n, now_ms()))
		nat_log("cannot read the interfaces' MTU and MAC addresses; retrying "
			"(until then every packet takes a FIB lookup)");
}

static void start_alg(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;
	struct nat_maps m;

	nat_maps_init(&m);
	m.ct = loader_map_fd(d, XDPNAT_MAP_CT);
	m.expect = loader_map_fd(d, XDPNAT_MAP_EXPECT);
	m.alg = loader_map_fd(d, XDPNAT_MAP_ALG);
	m.xsks = loader_map_fd(d, XDPNAT_MAP_XSKS);
	m.config = loader_map_fd(d, XDPNAT_MAP_CONFIG);
	m.forwards = loader_map_fd(d, XDPNAT_MAP_FORWARDS);
	m.refused = loader_map_fd(d, XDPNAT_MAP_REFUSED);
	x->alg = NULL;
	x->alg_nifs = alg_ifaces(d, x->alg_ifs);
	if (!d->cfg.alg_ftp.enabled)
		return;
	x->alg = alg_start(&d->cfg, &m, x->alg_ifs, x->alg_nifs);
	if (!x->alg)
		nat_log("alg ftp: not running; FTP control flows pass uninspected");
}

/* After a reload: restart the ALG only if `alg ftp` or the interfaces
 * changed (a restart forgets the state of inspected control flows). */
static void reload_alg(struct daemon_ctx *x)
{
	struct alg_iface now[XDPNAT_MAX_IFACES];
	int n = alg_ifaces(x->d, now);

	if (!!x->alg == x->d->cfg.alg_ftp.enabled && n == x->alg_nifs &&
	    !memcmp(now, x->alg_ifs, sizeof(now[0]) * (size_t)n))
		return;
	alg_stop(x->alg);
	start_alg(x);
}

static void report_parse_errors(char *text)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		nat_log("reload: %s", line);
}

/* SIGHUP: a bad file changes nothing; a good one is applied in place. */
static void on_reload(struct daemon_ctx *x)
{
	static struct xdpnat_config next;
	char *errors = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&errors, &len);
	int nerr;

	nat_log("reload: reading %s", x->d->cfg.path);
	nerr = load_config(x->d->cfg.path, &next, err ? err : stderr);
	if (err)
		fclose(err);
	if (nerr) {
		report_parse_errors(errors);
		nat_log("reload: %d error(s), keeping the running configuration", nerr);
	} else if (loader_reload(x->d, &next) == 0) {
		reload_alg(x);
		ddns_reload(x->ddns, &x->d->cfg);
		addrwatch_dump(x->aw, on_addr_event, x);	/* addresses of added interfaces */
		routegen_links(x);
		x->status_dirty = true;
	}
	free(errors);
}

/* Returns false when the daemon should stop. */
static bool on_signal(struct daemon_ctx *x)
{
	struct signalfd_siginfo si;

	if (read(x->signal_fd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo == SIGHUP) {
		on_reload(x);
		return true;
	}
	nat_log("%s received, stopping", strsignal((int)si.ssi_signo));
	return false;
}

static int event_loop(struct daemon_ctx *x)
{
	struct pollfd pfd[4] = {
		{ .fd = x->signal_fd, .events = POLLIN },
		{ .fd = x->timer_fd, .events = POLLIN },
		{ .fd = addrwatch_fd(x->aw), .events = POLLIN },
		{ .fd = routegen_fd(x->rg), .events = POLLIN },
	};
	bool rg_failing = false;

	for (;;) {
		if (x->status_dirty) {
			loader_write_status(x->d);
			x->status_dirty = false;
		}
		if (poll(pfd, 4, routegen_timeout_ms(x->rg, now_ms())) < 0) {
			if (errno == EINTR)
				continue;
			nat_log("poll: %s", strerror(errno));
			return 1;
		}
		if ((pfd[0].revents & POLLIN) && !on_signal(x))
			return 0;
		if (pfd[1].revents & POLLIN)
			on_gc_tick(x);
		if ((pfd[2].revents & POLLIN) && addrwatch_process(x->aw, on_addr_event, x))
			nat_log("address watch: cannot read netlink events");
		if (pfd[3].revents & POLLIN) {
			int err = routegen_process(x->rg, now_ms());

			if (err && !rg_failing)
				nat_log("route watch: %s (logged once)", strerror(-err));
			rg_failing = err != 0;
		}
		routegen_flush(x->rg, now_ms());	/* a bump held back by the rate limit */
	}
}

/* ---------------------------------------------------------------- run */

static int block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask, NULL)) {
		nat_log("cannot block signals: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int open_event_fds(struct daemon_ctx *x, const sigset_t *mask)
{
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	x->signal_fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	x->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (x->signal_fd < 0 || x->timer_fd < 0 || timerfd_settime(x->timer_fd, 0, &tick, NULL)) {
		nat_log("cannot create signalfd/timerfd: %s", strerror(errno));
		return -1;
	}
	x->aw = addrwatch_open();
	if (!x->aw) {
		nat_log("cannot open the address watcher: %s", strerror(errno));
		return -1;
	}
	x->rg = routegen_open(loader_map_fd(x->d, XDPNAT_MAP_ROUTEGEN),
			      loader_map_fd(x->d, XDPNAT_MAP_IFSLOTS));
	if (!x->rg) {
		nat_log("cannot open the route watcher: %s", strerror(errno));
		return -1;
	}
	routegen_links(x);
	return 0;
}

static void fill_map_fds(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	x->gc_maps = (struct gc_maps){
		.ct = loader_map_fd(d, XDPNAT_MAP_CT),
		.config = loader_map_fd(d, XDPNAT_MAP_CONFIG),
		.ctl_stats = loader_map_fd(d, XDPNAT_MAP_CTL_STATS),
		.expect = loader_map_fd(d, XDPNAT_MAP_EXPECT),
		.gate = loader_map_fd(d, XDPNAT_MAP_GATE),
		.alg = loader_map_fd(d, XDPNAT_MAP_ALG),
	};
	x->wan_maps = (struct wan_maps){
		.ifaces_fd = loader_map_fd(d, XDPNAT_MAP_IFACES),
		.wanaddr_fd = loader_map_fd(d, XDPNAT_MAP_WANADDR),
		.ct_fd = x->gc_maps.ct,
		.ctl_stats_fd = x->gc_maps.ctl_stats,
	};
}

/* Everything up to the first event; each step logs its own failure. */
static int daemon_start(struct daemon_ctx *x, const struct cmd_opts *o, const sigset_t *mask)
{
	struct nat_daemon *d = x->d;

	d->started = time(NULL);
	if (loader_load(d) || loader_fill_maps(d) || loader_pin_maps(d) || loader_attach_all(d))
		return -1;
	if (!o->foreground && daemon(0, 1)) {
		nat_log("cannot go to the background: %s", strerror(errno));
		return -1;
	}
	fill_map_fds(x);
	start_alg(x);	/* after daemon(): the ALG runs a thread */
	if (loader_write_pid_file(d) || loader_set_daemon(d, getpid()) ||
	    open_event_fds(x, mask))
		return -1;
	x->ddns = ddns_start(&d->cfg);
	if (addrwatch_dump(x->aw, on_addr_event, x))
		nat_log("cannot read the current addresses; waiting for changes");
	x->status_dirty = true;
	nat_log("running: %d interfaces, %d forwards, pins in %s", d->nlinks, d->cfg.nforwards,
		d->cfg.pin_dir);
	return 0;
}

/* Leave every interface as it was found. Safe after a partial start. */
static void daemon_stop(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	ddns_stop(x->ddns);
	addrwatch_close(x->aw);
	routegen_close(x->rg);
	alg_stop(x->alg);
	loader_detach_all(d);
	if (d->skel && d->pid_file_written)
		loader_set_daemon(d, 0);
	loader_unpin_maps(d);
	loader_remove_run_files(d);
	loader_close(d);
	if (x->signal_fd >= 0)
		close(x->signal_fd);
	if (x->timer_fd >= 0)
		close(x->timer_fd);
	nat_log("stopped");
}

static int cmd_run(const struct cmd_opts *o)
{
	static struct nat_daemon d;
	struct daemon_ctx x = { .d = &d, .signal_fd = -1, .timer_fd = -1 };
	sigset_t mask;
	pid_t other;
	int nerr, rc = 1;

	if (block_signals(&mask))
		return 1;
	nerr = load_config(o->config, &d.cfg, stderr);
	if (nerr) {
		nat_log("%s: %d error(s), nothing attached", o->config, nerr);
		return 1;
	}
	other = cli_daemon_pid(&d.cfg);
	if (other && other != getpid()) {
		nat_log("already running as pid %d (%s/%s)", (int)other, d.cfg.run_dir,
			XDPNAT_PID_FILE);
		return 1;
	}
	if (daemon_start(&x, o, &mask) == 0)
		rc = event_loop(&x);
	daemon_stop(&x);
	return rc;
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
	if (!strcmp(cmd, "check"))
		return cmd_check(&o);
	if (!strcmp(cmd, "run"))
		return cmd_run(&o);
	if (!strcmp(cmd, "flows"))
		return cmd_cli(&o, cli_flows);
	if (!strcmp(cmd, "stats"))
		return cmd_cli(&o, cli_stats);
	if (!strcmp(cmd, "status"))
		return cmd_cli(&o, cli_status);
	fprintf(stderr, "xdpnat: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}

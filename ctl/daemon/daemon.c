/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * daemon.c - the daemon: start-up, the event loop, reload and stop.
 *
 * It owns no map itself; it wires the modules that do. The loader
 * (daemon/loader.c) attaches, wan/wanstate.c is told about every attached
 * interface and address event and tells DDNS, daemon/gc.c expires,
 * wan/routegen.c invalidates cached next hops, and the FTP ALG runs its
 * own thread (alg/alg.c). The DDNS worker is another thread (wan/ddns.c),
 * fed through ddns_address_changed() and never waited on.
 *
 * The loop is one thread around poll(): a signalfd (SIGINT/SIGTERM stop,
 * SIGHUP reloads), a 1 s timerfd (GC), the address watcher's and the
 * route watcher's netlink sockets.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "alg/alg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/runfiles.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/gc.h"
#include "daemon/loader.h"
#include "daemon/status.h"
#include "wan/addrwatch.h"
#include "wan/ddns.h"
#include "wan/routegen.h"
#include "wan/wanstate.h"

struct daemon_ctx {
	struct nat_daemon *d;
	struct nat_maps maps;		/* filled once after load */
	struct wanstate ws;
	struct daemon_status st;
	struct addrwatch *aw;
	struct routegen *rg;		/* next-hop cache invalidation */
	struct ddns *ddns;
	struct alg *alg;		/* FTP ALG over AF_XDP, NULL without `alg ftp` */
	struct alg_iface alg_ifs[XDPNAT_MAX_IFACES];	/* what it was started on */
	int alg_nifs;
	int signal_fd, timer_fd;
	bool status_dirty;
	bool gc_failing;
	uint64_t gc_next;		/* no pass before this (ns): see GC_ENTRIES_PER_SEC */
};

/* Parse into *cfg; the parser prints every error as FILE:LINE: message. */
static int load_config(const char *path, struct xdpnat_config *cfg, FILE *err)
{
	cfg_init(cfg);
	return cfg_parse_file(cfg, path, err);
}

/* ---------------------------------------------------------------- events */

/* wanstate's word that a WAN's address changed: DDNS follows it. */
static void on_wan_addr(void *arg, uint32_t ifindex, struct in_addr addr)
{
	struct daemon_ctx *x = arg;
	struct nat_link *l = loader_find_link(x->d, (int)ifindex);

	if (l)
		ddns_address_changed(x->ddns, l->ifname, addr);
}

static void on_addr_event(void *arg, const struct addrwatch_event *ev)
{
	struct daemon_ctx *x = arg;

	if (!loader_find_link(x->d, ev->ifindex))
		return;
	wanstate_apply(&x->ws, ev);	/* logs WAN changes itself */
	x->status_dirty = true;
}

static void on_gc_tick(struct daemon_ctx *x)
{
	struct gc_result r;
	uint64_t expirations, now = nat_now_ns();
	int err;

	if (read(x->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (now < x->gc_next)
		return;
	err = gc_run(&x->maps, now, &r);
	x->gc_next = now + (r.ct_entries / GC_ENTRIES_PER_SEC) * NS_PER_SEC;
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

/* Every attached interface, as wanstate must know it. */
static int put_ifaces(struct daemon_ctx *x)
{
	int err = 0;

	for (int i = 0; i < x->d->nlinks; i++) {
		const struct nat_link *l = &x->d->links[i];

		err |= wanstate_put_iface(&x->ws, (uint32_t)l->ifindex, l->ifname, l->role,
					  l->slot);
	}
	return err ? -1 : 0;
}

/* The loader detaches an interface or swaps its role: it leaves wanstate
 * first (its address, flows and nat_ifaces entry go). */
static void on_link_leaving(void *arg, const struct nat_link *l)
{
	struct daemon_ctx *x = arg;

	wanstate_remove_iface(&x->ws, (uint32_t)l->ifindex);
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

/* Tell the next-hop cache keeper which interfaces (slots) are attached. */
static void routegen_links(struct daemon_ctx *x)
{
	struct routegen_link l[XDPNAT_MAX_IFACES];
	int n = 0;

	for (int i = 0; i < x->d->nlinks && n < XDPNAT_MAX_IFACES; i++, n++) {
		l[n].ifindex = x->d->links[i].ifindex;
		l[n].slot = x->d->links[i].slot;
	}
	if (routegen_set_links(x->rg, l, n, nat_now_ms()))
		nat_log("cannot read the interfaces' MTU and MAC addresses; retrying "
			"(until then every packet takes a FIB lookup)");
}

static void start_alg(struct daemon_ctx *x)
{
	struct nat_daemon *d = x->d;

	x->alg = NULL;
	x->alg_nifs = alg_ifaces(d, x->alg_ifs);
	if (!d->cfg.alg_ftp.enabled) {
		alg_off(&x->maps);	/* sessions saved by an earlier ALG go back to XDP */
		return;
	}
	x->alg = alg_start(&d->cfg, &x->maps, x->alg_ifs, x->alg_nifs);
	if (!x->alg)
		nat_log("alg ftp: not running; FTP control flows pass uninspected");
}

/* After a reload: restart the ALG only if `alg ftp` or the interfaces
 * changed, or its thread failed (a restart here hands the inspected
 * control flows back to XDP). */
static void reload_alg(struct daemon_ctx *x)
{
	struct alg_iface now[XDPNAT_MAX_IFACES];
	int n = alg_ifaces(x->d, now);

	if (!!x->alg == x->d->cfg.alg_ftp.enabled && n == x->alg_nifs &&
	    !memcmp(now, x->alg_ifs, sizeof(now[0]) * (size_t)n) && !alg_failed(x->alg))
		return;
	alg_stop(x->alg, true);
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
	const struct loader_link_ops ops = { .leaving = on_link_leaving, .arg = x };
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
	} else if (loader_reload(x->d, &next, &ops) == 0) {
		put_ifaces(x);
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
			status_write(&x->st);
			x->status_dirty = false;
		}
		if (poll(pfd, 4, routegen_timeout_ms(x->rg, nat_now_ms())) < 0) {
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
			int err = routegen_process(x->rg, nat_now_ms());

			if (err && !rg_failing)
				nat_log("route watch: %s (logged once)", strerror(-err));
			rg_failing = err != 0;
		}
		routegen_flush(x->rg, nat_now_ms());	/* a bump held back by the rate limit */
	}
}

/* ---------------------------------------------------------------- start, stop */

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
	x->rg = routegen_open(x->maps.routegen, x->maps.ifslots);
	if (!x->rg) {
		nat_log("cannot open the route watcher: %s", strerror(errno));
		return -1;
	}
	routegen_links(x);
	return 0;
}

/* Everything up to the first event; each step logs its own failure. */
static int daemon_start(struct daemon_ctx *x, bool foreground, const sigset_t *mask)
{
	struct nat_daemon *d = x->d;

	x->st.started = time(NULL);
	if (loader_load(d))
		return -1;
	loader_maps(d, &x->maps);
	x->ws = (struct wanstate){ .m = &x->maps, .cfg = &d->cfg, .addr_changed = on_wan_addr,
				   .arg = x };
	x->st.d = d;
	x->st.m = &x->maps;
	/* nat_ifaces before the programs: from its first packet the data
	 * path knows which interface is a WAN (the leak guard needs that) */
	if (loader_fill_maps(d) || loader_pin_maps(d) || loader_links(d) || put_ifaces(x) ||
	    loader_attach_all(d))
		return -1;
	if (!foreground && daemon(0, 1)) {
		nat_log("cannot go to the background: %s", strerror(errno));
		return -1;
	}
	start_alg(x);	/* after daemon(): the ALG runs a thread */
	if (status_daemon_started(&x->st) || open_event_fds(x, mask))
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
	alg_stop(x->alg, false);	/* sessions stay saved for the next run */
	loader_detach_all(d);
	if (d->skel)
		status_daemon_stopped(&x->st);
	loader_unpin_maps(d);
	loader_close(d);
	if (x->signal_fd >= 0)
		close(x->signal_fd);
	if (x->timer_fd >= 0)
		close(x->timer_fd);
	nat_log("stopped");
}

int daemon_run(const char *config_path, bool foreground)
{
	static struct nat_daemon d;
	struct daemon_ctx x = { .d = &d, .signal_fd = -1, .timer_fd = -1 };
	sigset_t mask;
	pid_t other;
	int nerr, rc = 1;

	if (block_signals(&mask))
		return 1;
	nerr = load_config(config_path, &d.cfg, stderr);
	if (nerr) {
		nat_log("%s: %d error(s), nothing attached", config_path, nerr);
		return 1;
	}
	other = run_read_pid(d.cfg.run_dir);
	if (other && other != getpid()) {
		nat_log("already running as pid %d (%s/%s)", (int)other, d.cfg.run_dir,
			RUN_PID_FILE);
		return 1;
	}
	if (daemon_start(&x, foreground, &mask) == 0)
		rc = event_loop(&x);
	daemon_stop(&x);
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * addrwatch.h - follow every interface's primary IPv4 address and default
 * gateway through rtnetlink (libmnl), and report only effective changes.
 *
 * The kernel announces far more than changes: a DHCP renew re-announces
 * the same address, secondary addresses come and go, and a flushed route
 * (interface down, last address removed) is not announced at all. So the
 * watcher keeps its own picture of the kernel's state, rebuilds it from a
 * dump whenever the kernel may have changed it silently (link up/down,
 * address removal, socket overrun), and calls back only when the result
 * differs from what it last reported. Messages that arrive in one batch
 * are coalesced: a flush followed by a new address (what dhclient-script
 * does) is one change, old -> new.
 */
#ifndef XDPNAT_ADDRWATCH_H
#define XDPNAT_ADDRWATCH_H

#include <netinet/in.h>

struct addrwatch;

struct addrwatch_event {
	enum { AW_ADDR, AW_GATEWAY } type;
	int ifindex;
	struct in_addr addr;		/* 0.0.0.0 = none */
};

typedef void (*addrwatch_cb)(void *arg, const struct addrwatch_event *ev);

/* Open the netlink sockets and subscribe. NULL + errno on failure. */
struct addrwatch *addrwatch_open(void);

/* The non-blocking event socket, for poll(POLLIN). */
int addrwatch_fd(const struct addrwatch *aw);

/*
 * Read the kernel's current state and report it: for every interface that
 * exists, one AW_ADDR (its primary IPv4 address, or 0.0.0.0) and one
 * AW_GATEWAY (the gateway of its best default route, ECMP nexthops
 * included, or 0.0.0.0). 0 or -errno.
 */
int addrwatch_dump(struct addrwatch *aw, addrwatch_cb cb, void *arg);

/*
 * Drain every pending message without blocking and call cb once per
 * effective change (address before gateway for an interface). Re-dumps by
 * itself after ENOBUFS. 0 or -errno; an error is not fatal: the state is
 * re-read from the kernel on the next call. Call it when addrwatch_fd()
 * is readable. The callback must not call back into addrwatch.
 */
int addrwatch_process(struct addrwatch *aw, addrwatch_cb cb, void *arg);

void addrwatch_close(struct addrwatch *aw);

#endif /* XDPNAT_ADDRWATCH_H */

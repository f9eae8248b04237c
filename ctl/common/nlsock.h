/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nlsock.h - the rtnetlink plumbing addrwatch.c and routegen.c share
 * (libmnl): open a socket bound to notification groups, and run one dump.
 */
#ifndef XDPNAT_NLSOCK_H
#define XDPNAT_NLSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

/* A NETLINK_ROUTE socket bound to groups (0: requests only); flags e.g.
 * SOCK_NONBLOCK. NULL with errno on failure. */
struct mnl_socket *nl_open(unsigned groups, int flags);

/* Best effort: a larger receive buffer only means fewer ENOBUFS resyncs. */
void nl_rcvbuf(struct mnl_socket *nl, int bytes);

/* One dump request of `type` for `family` (hdrlen: the size of the type's
 * family header) on req, every reply through cb. 0 or -errno. */
int nl_dump(struct mnl_socket *req, char *buf, size_t len, unsigned *seq, uint16_t type,
	    uint8_t family, size_t hdrlen, mnl_cb_t cb, void *data);

/* Send one request (NLM_F_ACK is added) built in nlh and wait for its
 * answer; buf (len bytes) receives it and may be nlh's own buffer.
 * 0 or -errno (the kernel's error). */
int nl_do(struct mnl_socket *req, struct nlmsghdr *nlh, char *buf, size_t len, unsigned *seq);

#endif /* XDPNAT_NLSOCK_H */

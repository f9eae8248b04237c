/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_xsk.h - the FTP ALG's AF_XDP sockets: one per attached interface and
 * rx queue, each with its own umem and rings, and its nat_xsks entry (the
 * XDP program redirects to nat_xsks[slot * XDPNAT_XSK_QUEUES + queue]).
 * Frames in, frames out; nothing here knows TCP or FTP.
 *
 * Sockets are in copy mode, bound with XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD
 * (xdpnat's own XDP program does the redirect): copy mode works on any
 * driver, and FTP control connections are a few packets per second. The
 * ALG transmits only on queue 0 of an interface: that socket's umem has
 * ALG_XSK_RING frames in the fill ring for rx and as many in a free list
 * for tx; the sockets of the other queues only receive, and their umem is
 * the rx half alone (a NIC with 64 queues costs 64 small umems, pinned
 * memory). Nothing here ever waits on a ring: a caller that finds no room
 * drops the segment and TCP resends it.
 */
#ifndef XDPNAT_ALG_XSK_H
#define XDPNAT_ALG_XSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <xdp/xsk.h>

#define ALG_XSK_FRAME_SIZE	XSK_UMEM__DEFAULT_FRAME_SIZE
#define ALG_XSK_RING		32	/* fill, completion, rx and tx rings */

struct alg_xsk {
	char ifname[IF_NAMESIZE];
	int ifindex;
	__u32 queue;
	int xsks_fd;			/* nat_xsks */
	__u32 map_key;			/* our nat_xsks key */
	bool in_map;
	bool can_tx;			/* has a tx ring and tx frames (queue 0) */
	void *area;
	size_t area_size;
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	__u64 tx_free[ALG_XSK_RING];	/* tx frames not in flight */
	unsigned n_tx_free;
	bool kick;			/* tx descriptors submitted since the last sendto */
};

/* A received frame, inside the socket's umem. */
struct alg_xsk_frame {
	uint8_t *data;			/* Ethernet header on */
	size_t len;
	size_t headroom;		/* bytes of the umem frame before data: XDP metadata */
};

/* How many rx queues ifname (ifindex in our network namespace) has, from
 * sysfs or else the driver's channels (1 if neither says), whether or not
 * they are more than XDPNAT_XSK_QUEUES: the caller refuses those. */
int alg_xsk_rx_queues(const char *ifname, int ifindex);

/* Create the umem and the socket on (ifname, queue), fill ring stocked,
 * with a tx ring and tx frames if can_tx; a queue still held by a socket
 * just closed is waited for (at most 1 s). Returns 0, or -1 (logged)
 * leaving x for alg_xsk_close(). x must be zeroed before. */
int alg_xsk_open(struct alg_xsk *x, const char *ifname, int ifindex, __u32 queue, bool can_tx);

/* Enter the socket in nat_xsks for interface slot `slot`; -1 logged. */
int alg_xsk_enter(struct alg_xsk *x, int xsks_fd, int slot);

/* Remove our nat_xsks entry, if entered: XDP redirects nothing more here. */
void alg_xsk_remove(struct alg_xsk *x);

/* The same, without writing x: for the ALG thread giving up while the
 * main thread may be in alg_xsk_remove() on the same socket (a delete of a
 * key already gone is harmless; in_map and map_key do not change after
 * alg_xsk_enter()). */
void alg_xsk_withdraw(const struct alg_xsk *x);

/* alg_xsk_remove(), then free the socket and umem. Fine on a half-open x. */
void alg_xsk_close(struct alg_xsk *x);

int alg_xsk_fd(const struct alg_xsk *x);

/* How many received frames (at most max) are ready, from rx ring index
 * *first on. They are released with alg_xsk_rx_release() before the next
 * peek. */
__u32 alg_xsk_rx_peek(struct alg_xsk *x, __u32 max, __u32 *first);
/* The frame at rx ring index idx (first .. first + n - 1 of a peek). */
struct alg_xsk_frame alg_xsk_rx_frame(struct alg_xsk *x, __u32 idx);
/* Release the n frames of a peek and give them back to the fill ring. */
void alg_xsk_rx_release(struct alg_xsk *x, __u32 first, __u32 n);

/* A free tx frame of ALG_XSK_FRAME_SIZE bytes to build into (*addr names
 * it), reclaiming completions if none is free; NULL if none. It goes out
 * with alg_xsk_tx_submit() or back with alg_xsk_tx_unused(). */
uint8_t *alg_xsk_tx_frame(struct alg_xsk *x, __u64 *addr);
/* Queue len bytes of tx frame addr for sending (on the next kick).
 * Returns 0, or -1 (frame freed) if the tx ring has no room. */
int alg_xsk_tx_submit(struct alg_xsk *x, __u64 addr, size_t len);
void alg_xsk_tx_unused(struct alg_xsk *x, __u64 addr);

/* Take back the tx frames the kernel has sent. */
void alg_xsk_reclaim(struct alg_xsk *x);
/* Make the kernel send what was submitted (copy mode sends in sendto). */
void alg_xsk_kick(struct alg_xsk *x);
/* Submitted frames not yet sent or not yet reclaimed: poll again soon. */
bool alg_xsk_tx_pending(const struct alg_xsk *x);

#endif /* XDPNAT_ALG_XSK_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alg_xsk.c - the FTP ALG's AF_XDP sockets (see alg_xsk.h): umem and
 * socket setup, the nat_xsks entry, and the four rings.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include "alg/alg_xsk.h"
#include "common/log.h"
#include "xdpnat.h"

/* Frames of a umem: the first ALG_XSK_RING for rx (the fill ring), then
 * as many for tx on a socket that transmits. */
static size_t area_size(bool can_tx)
{
	return (size_t)(can_tx ? 2 : 1) * ALG_XSK_RING * ALG_XSK_FRAME_SIZE;
}

/* The rx-N entries under sysfs, if the sysfs mounted here shows our
 * network namespace (the one `ip netns exec` mounts does; after a bare
 * unshare(CLONE_NEWNET) it shows the namespace it was mounted in, where
 * the name may be another interface or none): 0 if it cannot tell. */
static int sysfs_rx_queues(const char *ifname, int ifindex)
{
	char path[64 + IF_NAMESIZE];
	struct dirent *de;
	int n = 0, idx = 0;
	FILE *f;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &idx) != 1)
		idx = 0;
	fclose(f);
	if (idx != ifindex)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		n += !strncmp(de->d_name, "rx-", 3);
	closedir(dir);
	return n;
}

/* The driver's channels (ethtool -l), asked in our own namespace: rx-only
 * plus combined channels are the rx queues. 0 if the driver does not say. */
static int ethtool_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), n = 0;

	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		n = (int)(ch.rx_count + ch.combined_count);
	close(fd);
	return n;
}

int alg_xsk_rx_queues(const char *ifname, int ifindex)
{
	int n = sysfs_rx_queues(ifname, ifindex);

	if (n < 1)
		n = ethtool_rx_queues(ifname);
	return n < 1 ? 1 : n;	/* neither says: a single-queue device (lo, tun) */
}

static void fill(struct alg_xsk *x, const __u64 *addrs, __u32 n)
{
	__u32 idx;

	if (!n)
		return;
	/* the fill ring holds all rx frames: room is always there */
	if (xsk_ring_prod__reserve(&x->fill, n, &idx) != n)
		return;
	for (__u32 i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = addrs[i];
	xsk_ring_prod__submit(&x->fill, n);
}

/* One attempt; -EBUSY (not logged) when the queue is still bound. */
static int xsk_open_once(struct alg_xsk *x, const char *ifname, int ifindex, __u32 queue,
			 bool can_tx)
{
	struct xsk_umem_config ucfg = {
		.fill_size = ALG_XSK_RING, .comp_size = ALG_XSK_RING,
		.frame_size = ALG_XSK_FRAME_SIZE, .frame_headroom = 0, .flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = ALG_XSK_RING, .tx_size = ALG_XSK_RING,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	__u64 rx_frames[ALG_XSK_RING];
	int err;

	snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
	x->ifindex = ifindex;
	x->queue = queue;
	x->can_tx = can_tx;
	x->area_size = area_size(can_tx);
	x->area = mmap(NULL, x->area_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		nat_log_at(LOG_ERR, "alg: %s queue %u: cannot map a umem: %s", ifname, queue, strerror(errno));
		return -1;
	}
	err = xsk_umem__create(&x->umem, x->area, x->area_size, &x->fill, &x->comp, &ucfg);
	if (err) {
		x->umem = NULL;
		nat_log_at(LOG_ERR, "alg: %s queue %u: cannot create a umem: %s", ifname, queue,
			strerror(-err));
		return -1;
	}
	err = xsk_socket__create(&x->sock, ifname, queue, x->umem, &x->rx,
				 can_tx ? &x->tx : NULL, &scfg);
	if (err) {
		x->sock = NULL;
		if (err == -EBUSY)
			return -EBUSY;
		nat_log_at(LOG_ERR, "alg: %s queue %u: cannot create an AF_XDP socket: %s", ifname, queue,
			strerror(-err));
		return -1;
	}
	for (__u32 i = 0; i < ALG_XSK_RING; i++) {
		rx_frames[i] = (__u64)i * ALG_XSK_FRAME_SIZE;
		if (can_tx)
			x->tx_free[i] = (__u64)(ALG_XSK_RING + i) * ALG_XSK_FRAME_SIZE;
	}
	x->n_tx_free = can_tx ? ALG_XSK_RING : 0;
	fill(x, rx_frames, ALG_XSK_RING);
	return 0;
}

/*
 * The kernel lets go of a queue some milliseconds after the socket bound
 * to it is closed (the umem is released from a work queue; ~20 ms here):
 * an ALG started right after another stopped (a reload, or a new daemon
 * after the old one died) finds it busy for that long. Retried for up to
 * ALG_XSK_BUSY_MS, from scratch each time.
 */
#define ALG_XSK_BUSY_MS		1000
#define ALG_XSK_BUSY_STEP_MS	10

int alg_xsk_open(struct alg_xsk *x, const char *ifname, int ifindex, __u32 queue, bool can_tx)
{
	const struct timespec step = { 0, ALG_XSK_BUSY_STEP_MS * 1000000L };
	int err;

	for (int waited = 0;; waited += ALG_XSK_BUSY_STEP_MS) {
		err = xsk_open_once(x, ifname, ifindex, queue, can_tx);
		if (err != -EBUSY)
			return err ? -1 : 0;
		alg_xsk_close(x);
		memset(x, 0, sizeof(*x));
		if (waited >= ALG_XSK_BUSY_MS)
			break;
		nanosleep(&step, NULL);
	}
	nat_log_at(LOG_ERR, "alg: %s queue %u: cannot create an AF_XDP socket: %s (for %d ms)", ifname, queue,
		strerror(EBUSY), ALG_XSK_BUSY_MS);
	return -1;
}

int alg_xsk_enter(struct alg_xsk *x, int xsks_fd, int slot)
{
	int fd = xsk_socket__fd(x->sock);

	x->map_key = (__u32)slot * XDPNAT_XSK_QUEUES + x->queue;
	if (bpf_map_update_elem(xsks_fd, &x->map_key, &fd, BPF_ANY)) {
		nat_log_at(LOG_ERR, "alg: %s queue %u: cannot enter the socket in nat_xsks: %s", x->ifname,
			x->queue, strerror(errno));
		return -1;
	}
	x->xsks_fd = xsks_fd;
	x->in_map = true;
	return 0;
}

void alg_xsk_remove(struct alg_xsk *x)
{
	if (x->in_map && bpf_map_delete_elem(x->xsks_fd, &x->map_key) && errno != ENOENT)
		nat_log_at(LOG_ERR, "alg: cannot remove nat_xsks entry %u: %s", x->map_key, strerror(errno));
	x->in_map = false;
}

void alg_xsk_withdraw(const struct alg_xsk *x)
{
	if (x->in_map && bpf_map_delete_elem(x->xsks_fd, &x->map_key) && errno != ENOENT)
		nat_log_at(LOG_ERR, "alg: cannot remove nat_xsks entry %u: %s", x->map_key, strerror(errno));
}

void alg_xsk_close(struct alg_xsk *x)
{
	alg_xsk_remove(x);
	if (x->sock)
		xsk_socket__delete(x->sock);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, x->area_size);
	x->sock = NULL;
	x->umem = NULL;
	x->area = NULL;
}

int alg_xsk_fd(const struct alg_xsk *x)
{
	return xsk_socket__fd(x->sock);
}

__u32 alg_xsk_rx_peek(struct alg_xsk *x, __u32 max, __u32 *first)
{
	return xsk_ring_cons__peek(&x->rx, max, first);
}

struct alg_xsk_frame alg_xsk_rx_frame(struct alg_xsk *x, __u32 idx)
{
	const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx);

	return (struct alg_xsk_frame){
		.data = xsk_umem__get_data(x->area, d->addr),
		.len = d->len,
		.headroom = d->addr % ALG_XSK_FRAME_SIZE,
	};
}

void alg_xsk_rx_release(struct alg_xsk *x, __u32 first, __u32 n)
{
	__u64 frames[ALG_XSK_RING];

	if (n > ALG_XSK_RING)
		n = ALG_XSK_RING;
	for (__u32 i = 0; i < n; i++) {
		__u64 addr = xsk_ring_cons__rx_desc(&x->rx, first + i)->addr;

		frames[i] = addr - addr % ALG_XSK_FRAME_SIZE;
	}
	if (!n)
		return;
	xsk_ring_cons__release(&x->rx, n);
	fill(x, frames, n);
}

void alg_xsk_reclaim(struct alg_xsk *x)
{
	__u32 idx, n;

	if (!x->can_tx)
		return;
	n = xsk_ring_cons__peek(&x->comp, ALG_XSK_RING, &idx);

	for (__u32 i = 0; i < n; i++)
		if (x->n_tx_free < ALG_XSK_RING)
			x->tx_free[x->n_tx_free++] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&x->comp, n);
}

uint8_t *alg_xsk_tx_frame(struct alg_xsk *x, __u64 *addr)
{
	if (!x->can_tx)
		return NULL;
	if (!x->n_tx_free)
		alg_xsk_reclaim(x);
	if (!x->n_tx_free)
		return NULL;
	*addr = x->tx_free[--x->n_tx_free];
	return xsk_umem__get_data(x->area, *addr);
}

void alg_xsk_tx_unused(struct alg_xsk *x, __u64 addr)
{
	if (x->n_tx_free < ALG_XSK_RING)
		x->tx_free[x->n_tx_free++] = addr;
}

int alg_xsk_tx_submit(struct alg_xsk *x, __u64 addr, size_t len)
{
	struct xdp_desc *d;
	__u32 idx;

	if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		alg_xsk_tx_unused(x, addr);
		return -1;
	}
	d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = addr;
	d->len = (__u32)len;
	d->options = 0;
	xsk_ring_prod__submit(&x->tx, 1);
	x->kick = true;
	return 0;
}

void alg_xsk_kick(struct alg_xsk *x)
{
	if (!x->kick)
		return;
	/* copy mode: the kernel sends the tx ring in this call; EAGAIN/EBUSY
	 * leave descriptors there for the next kick */
	if (sendto(xsk_socket__fd(x->sock), NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
	    (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS))
		x->kick = false;
}

bool alg_xsk_tx_pending(const struct alg_xsk *x)
{
	return x->can_tx && (x->kick || x->n_tx_free < ALG_XSK_RING);
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* nlsock.c - see nlsock.h. */
#include <errno.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "common/nlsock.h"

struct mnl_socket *nl_open(unsigned groups, int flags)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, flags | SOCK_CLOEXEC);
	int err;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	return nl;
}

void nl_rcvbuf(struct mnl_socket *nl, int bytes)
{
	int fd = mnl_socket_get_fd(nl);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

/* Send nlh (its seq taken from *seq), then read the answers until the
 * kernel says done (or acks), each through cb (NULL: an ack only). */
static int nl_exchange(struct mnl_socket *req, struct nlmsghdr *nlh, char *buf, size_t len,
		       unsigned *seq, mnl_cb_t cb, void *data)
{
	unsigned portid = mnl_socket_get_portid(req);
	int ret;

	nlh->nlmsg_seq = ++*seq;
	while (mnl_socket_sendto(req, nlh, nlh->nlmsg_len) < 0)
		if (errno != EINTR)
			return -errno;
	do {
		ssize_t n = mnl_socket_recvfrom(req, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, *seq, portid, cb, data);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

int nl_dump(struct mnl_socket *req, char *buf, size_t len, unsigned *seq, uint16_t type,
	    uint8_t family, size_t hdrlen, mnl_cb_t cb, void *data)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint8_t *hdr;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = family;		/* every rtnetlink family header starts with it */
	return nl_exchange(req, nlh, buf, len, seq, cb, data);
}

int nl_do(struct mnl_socket *req, struct nlmsghdr *nlh, char *buf, size_t len, unsigned *seq)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return nl_exchange(req, nlh, buf, len, seq, NULL, NULL);
}

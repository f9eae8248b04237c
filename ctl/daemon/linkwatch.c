/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* linkwatch.c - see linkwatch.h. */
#include <errno.h>
#include <stdlib.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "common/nlsock.h"
#include "daemon/linkwatch.h"

#define LW_BUF_SIZE	16384

struct linkwatch {
	struct mnl_socket *nl;
	char buf[LW_BUF_SIZE];
};

struct linkwatch *linkwatch_open(void)
{
	struct linkwatch *lw = calloc(1, sizeof(*lw));

	if (!lw)
		return NULL;
	lw->nl = nl_open(RTMGRP_LINK, SOCK_NONBLOCK);
	if (!lw->nl) {
		int err = errno;

		free(lw);
		errno = err;
		return NULL;
	}
	return lw;
}

int linkwatch_fd(const struct linkwatch *lw)
{
	return mnl_socket_get_fd(lw->nl);
}

/* RTM_NEWLINK comes for every flag, MTU or carrier change too: those are
 * not told apart here, the loader's comparison is cheap. */
static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	bool *changed = data;

	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK)
		*changed = true;
	return MNL_CB_OK;
}

bool linkwatch_process(struct linkwatch *lw)
{
	bool changed = false;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(lw->nl, lw->buf, sizeof(lw->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			changed = true;		/* lost some: look anyway */
			continue;
		}
		if (n < 0)
			return changed;		/* EAGAIN: drained */
		if (mnl_cb_run(lw->buf, (size_t)n, 0, 0, msg_cb, &changed) < 0)
			changed = true;
	}
}

void linkwatch_close(struct linkwatch *lw)
{
	if (!lw)
		return;
	mnl_socket_close(lw->nl);
	free(lw);
}

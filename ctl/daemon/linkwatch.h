/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * linkwatch.h - wake the daemon when interfaces are created, deleted or
 * renamed (rtnetlink RTM_NEWLINK / RTM_DELLINK), so that a WAN pppd
 * creates when the line comes up is attached at once, and one it deletes
 * is forgotten until it returns (loader_relink). It only says "look":
 * the loader compares the configured names with the kernel's interfaces
 * itself, so a lost notification (ENOBUFS) costs nothing but a look.
 */
#ifndef XDPNAT_LINKWATCH_H
#define XDPNAT_LINKWATCH_H

#include <stdbool.h>

struct linkwatch;

struct linkwatch *linkwatch_open(void);	/* NULL with errno */
int linkwatch_fd(const struct linkwatch *lw);

/* Read every queued notification. True if an interface may have been
 * created, deleted or renamed (or notifications were lost). */
bool linkwatch_process(struct linkwatch *lw);

void linkwatch_close(struct linkwatch *lw);

#endif /* XDPNAT_LINKWATCH_H */

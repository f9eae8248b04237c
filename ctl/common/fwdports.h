/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fwdports.h - nat_fwd_ports, the bitmap of the ports nat_forwards may
 * hold (see include/xdpnat.h), kept by the two writers of nat_forwards:
 * the loader (forwards of the file) and portmap.c (PCP/NAT-PMP mappings),
 * both on the daemon's thread.
 *
 * The rule the data path relies on: a port's bit is set before a forward
 * of it is written. Removing forwards leaves their bits set until
 * fwdports_sync() recomputes the map from nat_forwards; a bit set for
 * nothing costs a lookup, never a wrong translation.
 */
#ifndef XDPNAT_FWDPORTS_H
#define XDPNAT_FWDPORTS_H

#include <stdbool.h>
#include <stdint.h>
#include "xdpnat.h"

/* Mark port (host order) of proto in b; other protocols have no bits. */
void fwdports_add(struct nat_fwd_ports *b, uint8_t proto, uint16_t port);

/* Is the port's bit set in b? True for protocols without bits. */
bool fwdports_has(const struct nat_fwd_ports *b, uint8_t proto, uint16_t port);

/* Add the port of every entry of nat_forwards (fd) to b: 0 or -errno. */
int fwdports_add_map(struct nat_fwd_ports *b, int fwd_fd);

/* Read and write the map (fd of nat_fwd_ports): 0 or -errno. */
int fwdports_read(int bits_fd, struct nat_fwd_ports *b);
int fwdports_write(int bits_fd, const struct nat_fwd_ports *b);

/* Set one port's bit in the map, before its forward is written. */
int fwdports_set(int bits_fd, uint8_t proto, uint16_t port);

/* The map made exactly what nat_forwards holds (after forwards went). */
int fwdports_sync(int bits_fd, int fwd_fd);

#endif /* XDPNAT_FWDPORTS_H */

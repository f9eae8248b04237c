/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* fwdports.c - the bitmap of forwarded ports (see fwdports.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "common/fwdports.h"

void fwdports_add(struct nat_fwd_ports *b, uint8_t proto, uint16_t port)
{
	__u64 *w = nat_fwd_ports_word(b, proto, port);

	if (w)
		*w |= nat_port_bit(port);
}

bool fwdports_has(const struct nat_fwd_ports *b, uint8_t proto, uint16_t port)
{
	const __u64 *w = nat_fwd_ports_word((struct nat_fwd_ports *)b, proto, port);

	return !w || (*w & nat_port_bit(port));
}

int fwdports_add_map(struct nat_fwd_ports *b, int fwd_fd)
{
	struct nat_fwd_key key, next;
	const void *prev = NULL;

	while (!bpf_map_get_next_key(fwd_fd, prev, &next)) {
		key = next;
		prev = &key;
		fwdports_add(b, key.proto, ntohs(key.port));
	}
	return errno == ENOENT ? 0 : -errno;
}

int fwdports_read(int bits_fd, struct nat_fwd_ports *b)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(bits_fd, &zero, b) ? -errno : 0;
}

int fwdports_write(int bits_fd, const struct nat_fwd_ports *b)
{
	__u32 zero = 0;

	return bpf_map_update_elem(bits_fd, &zero, b, BPF_ANY) ? -errno : 0;
}

int fwdports_set(int bits_fd, uint8_t proto, uint16_t port)
{
	struct nat_fwd_ports *b = malloc(sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	err = fwdports_read(bits_fd, b);
	if (!err && !fwdports_has(b, proto, port)) {
		fwdports_add(b, proto, port);
		err = fwdports_write(bits_fd, b);
	}
	free(b);
	return err;
}

int fwdports_sync(int bits_fd, int fwd_fd)
{
	struct nat_fwd_ports *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	err = fwdports_add_map(b, fwd_fd);
	if (!err)
		err = fwdports_write(bits_fd, b);
	free(b);
	return err;
}

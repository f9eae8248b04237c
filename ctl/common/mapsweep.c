/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mapsweep.c - collect, then delete (see mapsweep.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "common/mapsweep.h"

#define SWEEP_MAX_SIZE 256

long map_sweep(int fd, size_t key_size, size_t val_size, map_sweep_fn doomed, void *ctx,
	       void (*deleted)(const void *key, const void *val, void *ctx))
{
	unsigned char key[SWEEP_MAX_SIZE], next[SWEEP_MAX_SIZE], val[SWEEP_MAX_SIZE];
	unsigned char *list = NULL;	/* n entries of key_size + val_size */
	size_t n = 0, cap = 0, rec = key_size + val_size, steps = 0, max_steps;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	const void *prev = NULL;
	long count = 0;

	if (fd < 0)
		return 0;
	if (key_size > SWEEP_MAX_SIZE || val_size > SWEEP_MAX_SIZE)
		return -EINVAL;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	max_steps = 4 * (size_t)info.max_entries + 16;
	while (steps++ < max_steps && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		if (val_size && bpf_map_lookup_elem(fd, key, val))
			continue;	/* deleted under us */
		if (!doomed(key, val_size ? val : NULL, ctx))
			continue;
		if (n == cap) {
			unsigned char *p = realloc(list, (cap = cap ? 2 * cap : 64) * rec);

			if (!p) {
				free(list);
				return -ENOMEM;
			}
			list = p;
		}
		memcpy(list + n * rec, key, key_size);
		memcpy(list + n * rec + key_size, val, val_size);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *k = list + i * rec;

		if (bpf_map_delete_elem(fd, k))
			continue;
		count++;
		if (deleted)
			deleted(k, val_size ? k + key_size : NULL, ctx);
	}
	free(list);
	return count;
}

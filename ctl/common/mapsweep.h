/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * mapsweep.h - delete the entries of a BPF hash map that a predicate
 * picks, the one way every module does it.
 *
 * Keys are collected first and deleted after the walk: deleting the key
 * bpf_map_get_next_key() stands on makes the walk restart from the first
 * bucket. The data path may delete or insert meanwhile, which can restart
 * the walk too, so it is bounded (4 x max_entries steps); a key seen twice
 * is harmless, only successful deletes are counted.
 */
#ifndef XDPNAT_MAPSWEEP_H
#define XDPNAT_MAPSWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return true to delete the entry (key, val). */
typedef bool (*map_sweep_fn)(const void *key, const void *val, void *ctx);

/*
 * Delete every entry of map `fd` (keys of key_size, values of val_size
 * bytes, at most 256 each) for which `doomed` returns true; if `deleted`
 * is not NULL it gets the keys actually deleted, called after each one.
 * val_size 0: values are not read (a predicate that needs only the key,
 * on a map whose values are large); both callbacks get val NULL.
 * Returns the number deleted, or -errno (nothing is deleted when the
 * key list cannot be allocated).
 */
long map_sweep(int fd, size_t key_size, size_t val_size, map_sweep_fn doomed, void *ctx,
	       void (*deleted)(const void *key, const void *val, void *ctx));

#endif /* XDPNAT_MAPSWEEP_H */

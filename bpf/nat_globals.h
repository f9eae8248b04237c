/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_globals.h - the data path's two single-entry maps as every part of it
 * uses them: the per-CPU counters (STAT_INC) and the configuration the
 * controller writes (nat_config_get). Both lookups can fail only for the
 * verifier's sake, so a counter is then skipped, and a caller of
 * nat_config_get() falls back to its default.
 */
#ifndef NAT_GLOBALS_H
#define NAT_GLOBALS_H

static __always_inline struct nat_stats *nat_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat_stats, &zero);
}

#define STAT_INC(field)                                         \
	do {                                                    \
		struct nat_stats *__s = nat_stats_get();        \
		if (__s)                                        \
			__s->field++;                           \
	} while (0)

static __always_inline struct nat_config *nat_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat_config, &zero);
}

#endif /* NAT_GLOBALS_H */

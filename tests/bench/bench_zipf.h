/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bench_zipf.h - the benchmark's heavy-tailed flow mix (userspace, header
 * only: micro.c and xnbench.c each include it once).
 *
 * bench_zipf_fill(z, len, nflows, s, seed) fills z[0..len) with flow
 * numbers in [0, nflows): flow rank r (1 = most popular) is drawn with
 * probability proportional to 1 / r^s (Zipf), and ranks are mapped to flow
 * numbers through a random permutation, so that the popular flows are not
 * neighbours in the flow numbering (nor in whatever the numbering maps to:
 * ports, table slots). Deterministic for a given seed: every run and every
 * path replays the same sequence.
 */
#ifndef XN_BENCH_ZIPF_H
#define XN_BENCH_ZIPF_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#ifndef BENCH_ZIPF_S
#define BENCH_ZIPF_S	1.0	/* the exponent */
#endif
#define BENCH_ZIPF_SEED	0x7a697066ULL	/* "zipf" */

static inline __u64 bench_zipf_rng(__u64 *st)	/* splitmix64 */
{
	__u64 z = (*st += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0 on success, -1 if out of memory or nflows == 0 */
static inline int bench_zipf_fill(__u32 *z, __u32 len, __u32 nflows, double s, __u64 seed)
{
	double *cdf = malloc(sizeof(*cdf) * (nflows ? nflows : 1));
	__u32 *perm = malloc(sizeof(*perm) * (nflows ? nflows : 1));
	__u64 st = seed;
	double sum = 0;

	if (!nflows || !cdf || !perm) {
		free(cdf);
		free(perm);
		return -1;
	}
	for (__u32 r = 0; r < nflows; r++) {
		sum += 1.0 / pow(r + 1.0, s);
		cdf[r] = sum;
		perm[r] = r;
	}
	for (__u32 i = nflows - 1; i > 0; i--) {	/* Fisher-Yates */
		__u32 j = bench_zipf_rng(&st) % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (__u32 i = 0; i < len; i++) {
		/* 53 random bits -> [0, sum); first rank with cdf > u */
		double u = (bench_zipf_rng(&st) >> 11) * (1.0 / 9007199254740992.0) * sum;
		__u32 lo = 0, hi = nflows - 1;
		while (lo < hi) {
			__u32 mid = lo + (hi - lo) / 2;
			if (cdf[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		z[i] = perm[lo];
	}
	free(cdf);
	free(perm);
	return 0;
}

/* Fill the BPF_F_MMAPABLE ARRAY map fd (BENCH_ZIPF_LEN __u32 values) with
 * the sequence (exponent s; 0 = uniform random order) through mmap. An array's elements are 8-byte aligned, so
 * value i is at offset 8 * i, not 4 * i. Checked back through the syscall
 * interface. 0 on success; the sequence is copied to out if not NULL. */
#include <sys/mman.h>
#include <bpf/bpf.h>
static inline int bench_zipf_load(int fd, __u32 nflows, double exponent, __u32 *out)
{
	const size_t stride = 8, sz = stride * BENCH_ZIPF_LEN;
	__u32 *z = malloc(sizeof(*z) * BENCH_ZIPF_LEN);
	unsigned char *m;
	int err = -1;

	if (!z || bench_zipf_fill(z, BENCH_ZIPF_LEN, nflows, exponent, BENCH_ZIPF_SEED))
		goto out;
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto out;
	for (__u32 i = 0; i < BENCH_ZIPF_LEN; i++)
		memcpy(m + stride * i, &z[i], sizeof(z[i]));
	munmap(m, sz);
	err = 0;
	for (__u32 i = 0; i < BENCH_ZIPF_LEN; i += 4099) {
		__u32 v;
		if (bpf_map_lookup_elem(fd, &i, &v) || v != z[i])
			err = -1;
	}
	if (!err && out)
		memcpy(out, z, sizeof(*z) * BENCH_ZIPF_LEN);
out:
	free(z);
	return err;
}

/* What the sequence looks like: the share of packets on the top 1% of
 * flows and on the top flow, and how many distinct flows it touches. */
static inline void bench_zipf_describe(const __u32 *z, __u32 len, __u32 nflows, double *top1pct,
				double *top1, __u32 *distinct)
{
	__u32 *cnt = calloc(nflows, sizeof(*cnt));
	*top1pct = *top1 = 0;
	*distinct = 0;
	if (!cnt)
		return;
	for (__u32 i = 0; i < len; i++)
		cnt[z[i]]++;
	/* counting sort of the counts, descending */
	__u32 maxc = 0;
	for (__u32 f = 0; f < nflows; f++) {
		if (cnt[f])
			(*distinct)++;
		if (cnt[f] > maxc)
			maxc = cnt[f];
	}
	__u32 *hist = calloc((size_t)maxc + 1, sizeof(*hist));
	if (hist) {
		__u32 want = nflows / 100 ? nflows / 100 : 1, taken = 0;
		unsigned long long pk = 0;
		for (__u32 f = 0; f < nflows; f++)
			hist[cnt[f]]++;
		for (__u32 c = maxc; c > 0 && taken < want; c--) {
			__u32 n = hist[c] < want - taken ? hist[c] : want - taken;
			taken += n;
			pk += (unsigned long long)n * c;
		}
		*top1pct = (double)pk / len;
		*top1 = (double)maxc / len;
		free(hist);
	}
	free(cnt);
}

#endif

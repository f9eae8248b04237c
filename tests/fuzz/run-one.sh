#!/bin/bash
# Run one libFuzzer target for a short, bounded time over its seed corpus
# and report it as one TAP test.  run-one.sh BINARY CORPUS_DIR
set -u
bin=$1 corpus=$2
secs=${FUZZ_SECONDS:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
if "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -n 20; then
	echo "ok 1 - ${bin##*/} ran ${secs}s without a crash"
else
	echo "not ok 1 - ${bin##*/} found a crash"
	exit 1
fi

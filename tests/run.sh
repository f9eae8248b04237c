#!/bin/bash
# Run every test level and print one closing line "N passed, N failed, N skipped".
#
# Every test program speaks TAP: "ok N - name", "not ok N - name", and
# "ok N - name # SKIP reason". cmocka is switched to TAP output. A program
# that exits non-zero without a "not ok" line counts as one failure.
#
#   tests/run.sh [unit|bpf|fuzz|e2e ...]     default: all levels
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export CMOCKA_MESSAGE_OUTPUT=TAP
levels=${*:-unit bpf fuzz e2e}
pass=0 fail=0 skip=0
failed_names=()
log=$BUILD/test-logs
mkdir -p "$log"

run_one() {	# name command...
	local name=$1; shift
	local out="$log/$(echo "$name" | tr '/ ' '__').log"
	echo "== $name"
	"$@" >"$out" 2>&1
	local rc=$?
	local p f s
	p=$(grep -Ec '^ok [0-9]+' "$out" | head -1)
	s=$(grep -Ec '^ok [0-9]+.*# *SKIP' "$out" | head -1)
	f=$(grep -Ec '^not ok [0-9]+' "$out" | head -1)
	p=$((p - s))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	grep -E '^(not ok|ok .*# *SKIP)' "$out" | sed 's/^/   /'
	if [ "$f" != 0 ]; then
		failed_names+=("$name")
		echo "   -- $name failed (exit $rc), last lines of $out:"
		tail -n 25 "$out" | sed 's/^/   | /'
	fi
	echo "   $p passed, $f failed, $s skipped"
}

for level in $levels; do
	case $level in
	unit)
		for t in "$BUILD"/tests/unit/test_*; do [ -x "$t" ] && run_one "unit/${t##*/}" "$t"; done ;;
	bpf)
		for t in "$BUILD"/tests/bpf/test_*; do [ -x "$t" ] && run_one "bpf/${t##*/}" "$t"; done ;;
	fuzz)
		for t in "$BUILD"/tests/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			n=${t##*/}
			run_one "fuzz/$n" tests/fuzz/run-one.sh "$t" "tests/fuzz/corpus/${n#fuzz_}"
		done ;;
	e2e)
		for t in tests/e2e/test_*.sh; do [ -x "$t" ] && run_one "e2e/${t##*/}" "$t"; done ;;
	*) echo "unknown level $level" >&2; exit 2 ;;
	esac
done

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]

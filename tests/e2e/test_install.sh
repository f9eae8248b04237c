#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# test_install.sh - xdpnat as a service: `make install` into a DESTDIR puts
# the binary, both man pages, the example configuration, the dashboard and
# xdpnat.service in place; the unit passes `systemd-analyze verify`; the
# daemon speaks sd_notify (READY=1 only once attached, RELOADING=1 and
# READY=1 around a reload, STOPPING=1) to a NOTIFY_SOCKET this test holds
# (no systemd runs here); its log lines carry <N> severities when stderr is
# the journal (JOURNAL_STREAM) and `log-level` sets the threshold; the CLI
# without -c and without /etc/xdpnat.conf looks at the default run-dir.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require systemd-analyze python3 unshare make

# ---------------------------------------------------------------- make install
DEST=$E2E_TMP/dest
if make -s -C "$E2E_ROOT" BUILD="$BUILD" install DESTDIR="$DEST" PREFIX=/usr >"$E2E_TMP/make.out" 2>&1; then
	e2e_ok "make install DESTDIR=... PREFIX=/usr"
else
	e2e_fail "make install DESTDIR=... PREFIX=/usr" "$(tail -5 "$E2E_TMP/make.out")"
fi
missing=""
for f in usr/sbin/xdpnat usr/share/man/man8/xdpnat.8 usr/share/man/man5/xdpnat.conf.5 \
	 usr/share/doc/xdpnat/xdpnat.conf.example usr/share/doc/xdpnat/grafana-xdpnat.json \
	 usr/lib/systemd/system/xdpnat.service; do
	[ -f "$DEST/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && e2e_ok "every file is installed under DESTDIR" \
	|| e2e_fail "every file is installed under DESTDIR" "missing:$missing"
e2e_check "the binary is executable and the unit not" sh -c \
	"[ -x '$DEST/usr/sbin/xdpnat' ] && [ ! -x '$DEST/usr/lib/systemd/system/xdpnat.service' ]"
UNIT=$DEST/usr/lib/systemd/system/xdpnat.service
e2e_check "the unit runs /usr/sbin/xdpnat in the foreground, Type=notify, SIGHUP reload" sh -c "
	grep -qx 'ExecStart=/usr/sbin/xdpnat run -f -c /etc/xdpnat.conf' '$UNIT' &&
	grep -qx 'Type=notify' '$UNIT' && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' '$UNIT' &&
	grep -qx 'Restart=on-failure' '$UNIT' && grep -qx 'After=network-online.target' '$UNIT'"

# systemd-analyze verify needs ExecStart's binary where the unit says:
# the same install with the prefix inside the test's directory.
P=$E2E_TMP/prefix
make -s -C "$E2E_ROOT" BUILD="$BUILD" install PREFIX="$P" >/dev/null 2>&1
verify() {	# unit: verify passes and has nothing to say
	local out
	out=$(MANPATH=$P/share/man systemd-analyze verify "$1" 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}
e2e_check "systemd-analyze verify accepts xdpnat.service (man pages found too)" \
	verify "$P/lib/systemd/system/xdpnat.service"
sed 's/^Type=notify/Type=notfy/' "$P/lib/systemd/system/xdpnat.service" >"$E2E_TMP/xdpnat.service"
e2e_check_not "... and the check would see a broken unit" verify "$E2E_TMP/xdpnat.service"

# ---------------------------------------------------------------- sd_notify
e2e_ns_add r w l || { e2e_fail "namespaces"; e2e_finish; }
e2e_veth r rwan w wpeer && e2e_veth r rlan l lpeer
e2e_addr r rwan 192.0.2.1/24
e2e_addr r rlan 10.9.0.1/24
e2e_router_peer_if w wpeer
e2e_router_peer_if l lpeer

CONF=$E2E_TMP/r.conf
write_conf() {	# extra lines...
	{
		echo "wan rwan"
		echo "lan rlan"
		echo "outbound rwan"
		echo "pin-dir $E2E_BPFFS/xdpnat"
		echo "run-dir $E2E_RUN_DIR/xdpnat"
		printf '%s\n' "$@"
	} >"$CONF.tmp"
	mv "$CONF.tmp" "$CONF"
}
write_conf
e2e_bpffs
SOCK=$E2E_TMP/notify.sock
e2e_bg r python3 -u "$E2E_LIB_DIR/notify_socket.py" "$SOCK" "$(e2e_ns r)" rwan
NLOG=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q listening "$NLOG"
e2e_bg r env NOTIFY_SOCKET="$SOCK" "$E2E_XDPNAT" run -f -c "$CONF"
D=$E2E_BG_PID DLOG=$E2E_BG_LOG
ready() { grep -q 'READY=1' "$NLOG"; }
if e2e_wait_for -t 10 ready; then
	first=$(grep -v listening "$NLOG" | head -1)
	case $first in
	*READY=1*xdp=yes) e2e_ok "READY=1 is the first message, sent once rwan is attached ($first)" ;;
	*) e2e_fail "READY=1 is the first message, sent once rwan is attached" "$(cat "$NLOG")" ;;
	esac
else
	e2e_fail "READY=1 is the first message, sent once rwan is attached" "$(cat "$NLOG" "$DLOG")"
fi
kill -HUP "$D"
reloaded() { grep -v listening "$NLOG" | sed -n 2,3p | tr '\n' ' ' | grep -q '^RELOADING=1 READY=1'; }
e2e_check "SIGHUP: RELOADING=1 then READY=1" e2e_wait_for -t 5 reloaded
e2e_kill "$D"
stopping() { grep -q '^STOPPING=1' "$NLOG"; }
e2e_check "SIGTERM: STOPPING=1" e2e_wait_for -t 5 stopping
e2e_check "a failed start sends no READY=1" sh -c "
	echo 'wan rwan' > '$E2E_TMP/bad.conf'; echo 'lan nosuchif0' >> '$E2E_TMP/bad.conf'
	: > '$NLOG'
	ip netns exec $(e2e_ns r) env NOTIFY_SOCKET='$SOCK' '$E2E_XDPNAT' run -f -c '$E2E_TMP/bad.conf' \\
		>/dev/null 2>&1 && exit 1
	sleep 0.3; ! grep -q READY=1 '$NLOG'"

# ---------------------------------------------------------------- journal severities
# JOURNAL_STREAM names the device and inode of the daemon's stderr, as
# systemd sets it: the lines then carry <N> and no timestamp.
JLOG=$E2E_TMP/journal.log
: >"$JLOG"
JS=$(stat -c '%d:%i' "$JLOG")
e2e_bg r sh -c "exec env JOURNAL_STREAM=$JS '$E2E_XDPNAT' run -f -c '$CONF' 2>>'$JLOG'"
D=$E2E_BG_PID
running_logged() { grep -q 'running: ' "$JLOG"; }
e2e_wait_for -t 10 running_logged
e2e_check "under the journal an info line is '<6>running: ...'" grep -q '^<6>running: ' "$JLOG"
echo "bogus statement" >>"$CONF"
kill -HUP "$D"
warned() { grep -q '^<4>reload: .*unknown statement' "$JLOG"; }
e2e_check "a bad reload is logged as warnings (<4>), file:line kept" e2e_wait_for -t 5 warned
e2e_kill "$D"
e2e_check "no line without a severity prefix" sh -c "! grep -v '^<[0-7]>' '$JLOG'"
e2e_check "without the journal the plain format stays" grep -q '^20[0-9-]*T.*Z xdpnat\[[0-9]*\]: running: ' "$DLOG"

# log-level warning: no info lines, warnings still there
write_conf "log-level warning"
: >"$JLOG"
e2e_bg r sh -c "exec env JOURNAL_STREAM=$JS '$E2E_XDPNAT' run -f -c '$CONF' 2>>'$JLOG'"
D=$E2E_BG_PID
e2e_wait_for -t 10 e2e_in r bash -c "'$E2E_XDPNAT' status -c '$CONF' >/dev/null 2>&1"
echo "bogus statement" >>"$CONF"
kill -HUP "$D"
e2e_wait_for -t 5 warned
e2e_kill "$D"
e2e_check "log-level warning: warnings are logged" grep -q '^<4>' "$JLOG"
e2e_check_not "log-level warning: info lines are not" grep -q '^<6>' "$JLOG"
write_conf "log-level loud"
e2e_in r "$E2E_XDPNAT" check -c "$CONF" >"$E2E_TMP/out" 2>&1
e2e_check "check: a bad log-level is reported at file:line" \
	grep -q "^$CONF:6: unknown log-level 'loud'" "$E2E_TMP/out"

# ---------------------------------------------------------------- CLI defaults
# A private mount namespace with its own /run and bpffs: the daemon runs
# with the default run-dir and pin-dir, and the CLI is called without -c
# while /etc/xdpnat.conf does not exist (skipped where it does).
DCONF=$E2E_TMP/defaults.conf
printf 'wan rwan\nlan rlan\noutbound rwan\n' >"$DCONF"
cat >"$E2E_TMP/defaults.sh" <<EOF
set -e
mount -t tmpfs none /run
mount -t bpf bpf /sys/fs/bpf
'$E2E_XDPNAT' run -f -c '$DCONF' >'$E2E_TMP/defaults.log' 2>&1 &
pid=\$!
for i in \$(seq 50); do '$E2E_XDPNAT' status >/dev/null 2>&1 && break; sleep 0.1; done
rc=0
'$E2E_XDPNAT' status >'$E2E_TMP/defaults.status' 2>&1 || rc=1
'$E2E_XDPNAT' stats >'$E2E_TMP/defaults.stats' 2>&1 || rc=1
kill -TERM \$pid; wait \$pid || true
'$E2E_XDPNAT' detach -c '$DCONF' >/dev/null 2>&1 || true
exit \$rc
EOF
if [ -e /etc/xdpnat.conf ]; then
	e2e_skip "status and stats without -c and without /etc/xdpnat.conf" "/etc/xdpnat.conf exists"
elif e2e_in r unshare -m --propagation private bash "$E2E_TMP/defaults.sh"; then
	e2e_ok "status and stats without -c and without /etc/xdpnat.conf find the daemon"
else
	e2e_fail "status and stats without -c and without /etc/xdpnat.conf find the daemon" \
		"$(cat "$E2E_TMP/defaults.status" "$E2E_TMP/defaults.stats" "$E2E_TMP/defaults.log" 2>&1 | tail -8)"
fi
e2e_check_not "check without -c still needs /etc/xdpnat.conf" e2e_in r "$E2E_XDPNAT" check
e2e_finish

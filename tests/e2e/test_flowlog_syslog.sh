#!/bin/bash
# `flow-log syslog`: the NAT log's lines reach syslog(3) at daemon.info.
# The test runs in a private mount namespace (unshare -m, re-executing
# itself) whose /dev is a tmpfs with the few devices needed and a /dev/log
# socket served by a small receiver: the host's /dev and its syslog, if
# any, are never touched, and every mount goes with the namespace.
if [ -z "${E2E_FLOWLOG_UNSHARED:-}" ]; then
	E2E_FLOWLOG_UNSHARED=1 exec unshare -m "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require jq python3

UDP=$E2E_LIB_DIR/udp_tool.py
mount --make-rprivate / || { e2e_fail "private mount namespace"; e2e_finish; }
DEV=$E2E_TMP/dev
mkdir -p "$DEV"
# (in E2E_MOUNTS: unmounted in reverse order before E2E_TMP is removed)
mount -t tmpfs none "$DEV" || { e2e_fail "tmpfs for /dev"; e2e_finish; }
E2E_MOUNTS+=("$DEV")
for d in null zero full random urandom tty; do
	touch "$DEV/$d" && mount --bind "/dev/$d" "$DEV/$d" && E2E_MOUNTS+=("$DEV/$d")
done
mount --bind "$DEV" /dev || { e2e_fail "bind /dev"; e2e_finish; }
E2E_MOUNTS+=(/dev)
SYSLOG=$E2E_TMP/syslog.txt
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("serving", flush=True)
with open(sys.argv[1], "w") as f:
    while True:
        f.write(s.recv(65535).decode(errors="replace") + "\n")
        f.flush()
' "$SYSLOG" > "$E2E_TMP/receiver.log" 2>&1 &
E2E_PIDS+=($!)
e2e_wait_for -t 5 grep -q serving "$E2E_TMP/receiver.log"

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
CONF=$E2E_TMP/router.conf
printf 'wan wan0\nlan lan0\noutbound wan0\ntimeout udp 2\nflow-log syslog\n' > "$CONF"
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with flow-log syslog"; e2e_finish; }
e2e_ok "xdpnat starts with flow-log syslog"

e2e_in lanc python3 "$UDP" send 203.0.113.10 7 100 >/dev/null
# "<30>" is facility daemon (3) * 8 + info (6)
json() { sed -n 's/^<30>.* xdpnat\[[0-9]*\]: //p' "$SYSLOG" | jq -c "$1" 2>/dev/null; }
e2e_wait_for -t 10 sh -c "grep -q '\"event\":\"end\"' '$SYSLOG'"
s=$(json 'select(.event == "start" and .proto == "udp")')
e=$(json 'select(.event == "end" and .proto == "udp")')
echo "$s" | jq -e '.inside | startswith("192.168.0.10:")' >/dev/null &&
	[ "$(echo "$s" | grep -c .)" = 1 ] \
	&& e2e_ok "syslog gets the start line at daemon.info" \
	|| e2e_fail "syslog gets the start line at daemon.info" "$(cat "$SYSLOG")"
echo "$e" | jq -e '.reason == "timeout" and .packets_out == 1 and .packets_in == 1' >/dev/null \
	&& e2e_ok "syslog gets the end line (timeout, one packet each way)" \
	|| e2e_fail "syslog gets the end line" "$(cat "$SYSLOG")"
e2e_xdpnat_stop && e2e_ok "xdpnat stops cleanly" || e2e_fail "xdpnat stops cleanly"
e2e_finish

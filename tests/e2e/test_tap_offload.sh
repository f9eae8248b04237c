#!/bin/bash
# A VM's tap as a LAN (tests/e2e/tap_vm.py plays the guest): its TCP and UDP
# leave the guest with the checksum unfinished (virtio-net NEEDS_CSUM: the
# kernel makes CHECKSUM_PARTIAL skbs of them), and the Internet side runs
# with default offloads too. Masquerade both ways, with every checksum
# verified where it arrives, in native XDP mode (tun runs the program on the
# guest's buffer, the skb comes later or never) and in generic mode.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require python3 ethtool curl
export E2E_OFFLOADS=default
UDP=$E2E_LIB_DIR/udp_tool.py
VM_MAC=02:00:00:00:05:0a

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
R=$(e2e_ns router)
ip -n "$R" tuntap add dev tap0 mode tap vnet_hdr && ip -n "$R" link set tap0 up &&
	e2e_addr router tap0 192.168.5.1/24 &&
	ip -n "$R" neigh replace 192.168.5.10 lladdr $VM_MAC dev tap0 nud permanent ||
	{ e2e_fail "tap0 in the router"; e2e_finish; }
TAP_MAC=$(e2e_in router cat /sys/class/net/tap0/address)

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
lan tap0
outbound wan0
EOF2
WWW=$E2E_TMP/www; mkdir -p "$WWW"; echo hello > "$WWW/index.html"
e2e_http_server inet 203.0.113.10 80 "$WWW"
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7
e2e_csum_watch_start inet eth0 inet

stat_of() { e2e_xdpnat stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("datapath", d).get(sys.argv[1], 0))' "$1"; }

for mode in native generic; do
	E2E_XDP_MODE=$mode
	e2e_xdpnat_start router "$CONF" || { e2e_fail "$mode: xdpnat starts"; e2e_finish; }
	m=$(e2e_xdpnat status --json | python3 -c '
import json, sys
print([i["xdp_mode"] for i in json.load(sys.stdin)["interfaces"] if i["name"] == "tap0"][0])')
	[ "$m" = "$mode" ] && e2e_ok "$mode: XDP on tap0 in $mode mode" \
		|| e2e_fail "$mode: XDP on tap0 in $mode mode" "$m"
	out=$(e2e_in router python3 "$E2E_LIB_DIR/tap_vm.py" tap0 $VM_MAC 192.168.5.10 "$TAP_MAC" \
		203.0.113.10 udp0 udp1 udp3 udp100 udp513 udp1400 syn 2>&1)
	rc=$?
	[ $rc = 0 ] && e2e_ok "$mode: the guest's unfinished UDP (0-1400 bytes) and TCP SYN through masquerade, answers with complete checksums" \
		|| e2e_fail "$mode: the guest's unfinished UDP and TCP through masquerade" "$out"
	fin=$(stat_of csum_finished) kept=$(stat_of csum_kept) tok=$(stat_of csum_to_kernel)
	if [ $mode = native ]; then
		[ "${fin:-0}" -ge 14 ] && e2e_ok "$mode: XDP finished the unfinished checksums both ways ($fin)" \
			|| e2e_fail "$mode: XDP finished the unfinished checksums" "finished $fin kept $kept to kernel $tok"
	else
		[ "${tok:-0}" -ge 14 ] && [ "${kept:-0}" -ge 7 ] \
			&& e2e_ok "$mode: XDP left the unfinished checksums to the kernel path ($tok), kept unfinished what it translated ($kept)" \
			|| e2e_fail "$mode: XDP left the unfinished checksums to the kernel path" "finished $fin kept $kept to kernel $tok"
	fi
	e2e_xdpnat_stop && e2e_xdpnat detach >/dev/null ||
		e2e_fail "$mode: daemon stops and detaches"
done
e2e_csum_watch_check inet "checksums at the Internet server"
e2e_finish

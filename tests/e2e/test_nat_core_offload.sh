#!/bin/bash
# test_nat_core.sh on veth links with their default offloads: no `ethtool -K
# tx off` anywhere, so every sender in the namespaces hands TCP/UDP with
# unfinished checksums (CHECKSUM_PARTIAL), as containers and VMs behind a
# router do. Native XDP (lib.sh: E2E_OFFLOADS).
export E2E_OFFLOADS=default
exec "$(dirname "$0")/test_nat_core.sh" "$@"

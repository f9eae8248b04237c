#!/bin/bash
# test_nat_core.sh with default offloads (unfinished checksums from every
# sender) and XDP in generic mode, where a redirect would hand the skb and
# its CHECKSUM_PARTIAL to the egress device unchecked: XDP leaves those
# packets to the kernel path (lib.sh: E2E_OFFLOADS, E2E_XDP_MODE).
export E2E_OFFLOADS=default E2E_XDP_MODE=generic
exec "$(dirname "$0")/test_nat_core.sh" "$@"

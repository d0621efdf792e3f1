#!/bin/sh
# fwd-chain-unsafe: fwd-chain with --unsafe on every safenic command, for the
# guest without an IOMMU (legacy virtio, NICs left without a kernel driver).
if [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
    echo "fwd-chain-unsafe: this guest has an IOMMU; boot it with --iommu off"
    echo "VERDICT fwd-chain-unsafe FAIL wrong-guest"
    exit 1
fi
SCENARIO_NAME=fwd-chain-unsafe SCENARIO_UNSAFE=1 exec sh /scenarios/fwd-chain.sh

#!/bin/bash
# Allocator churn: anonymous memory allocated and freed in rounds (pcp refills and drains), a page-cache write and
# read of 32 MiB, a large-order kernel buffer (pipe) workload.
for i in 1 2 3 4 5 6; do
  python3 -c "a = bytearray(48 * 2**20); a[::4096] = b'x' * (len(a) // 4096); del a"
done
dd if=/dev/zero of=/tmp/churn.dat bs=1M count=32 conv=fsync status=none
cat /tmp/churn.dat > /dev/null
dd if=/tmp/churn.dat of=/dev/null bs=1M iflag=nocache status=none
rm -f /tmp/churn.dat
sleep 1.5

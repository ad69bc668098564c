#!/bin/bash
# Small mixed workload: page-cache write+fsync, read back, drop, anonymous memory, a fork.
dd if=/dev/zero of=/tmp/rec/x bs=64k count=16 conv=fsync status=none
cat /tmp/rec/x > /dev/null
dd if=/tmp/rec/x of=/dev/null iflag=nocache bs=64k status=none
rm -f /tmp/rec/x
perl -e '$x = "a" x (2 << 20); $y = fork(); if ($y == 0) { $x =~ s/a/b/; exit 0 } waitpid($y, 0);'

#!/usr/bin/env bash
# slurm-cluster.sh up|down DIR: a single-node Slurm cluster on localhost for the fleet tests (as root). Debian's
# slurm-wlm and munge; no systemd, so the daemons are started by hand and stopped by their pids.
# "up" prints nothing on success and waits until the node is idle; "down" stops what "up" started.
set -euo pipefail
cmd=${1:?usage: $0 up|down DIR}; dir=${2:?usage: $0 up|down DIR}
conf=$dir/slurm.conf
case $cmd in
up)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
  cat > "$conf" <<CONF
ClusterName=asitest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/ctld.log
SlurmdLogFile=$dir/log/d.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MinJobAge=600
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  # munged: one per machine; start it unless it already runs (and then leave it running on "down").
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    pgrep -n -x munged > "$dir/munged.pid"
  fi
  export SLURM_CONF=$conf
  /usr/sbin/slurmctld -f "$conf"
  /usr/sbin/slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
    sleep 0.5
  done
  echo "slurm did not come up: $(sinfo 2>&1 | tail -1)" >&2; tail -5 "$dir/log/ctld.log" "$dir/log/d.log" >&2 || true
  exit 1
  ;;
down)
  for f in slurmd slurmctld munged; do
    if [ -f "$dir/$f.pid" ]; then kill "$(cat "$dir/$f.pid")" 2>/dev/null || true; fi
  done
  for _ in $(seq 1 40); do
    alive=0
    for f in slurmd slurmctld munged; do [ -f "$dir/$f.pid" ] && kill -0 "$(cat "$dir/$f.pid")" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.25
  done
  ;;
esac

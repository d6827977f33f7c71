#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests and for trying
# `--batch-system slurm` by hand. Everything lives under one state folder.
#   bash scripts/slurm-cluster.sh start   # installs slurm-wlm + munge if missing (root), starts the daemons
#   . "${RUNNER_SLURM_DIR:-/tmp/runner-slurm}/env"   # exports SLURM_CONF
#   bash scripts/slurm-cluster.sh stop    # stops them (add --purge to delete the state)
# Settings: RUNNER_SLURM_DIR (default /tmp/runner-slurm), RUNNER_SLURM_PORT (default 6817; slurmd uses +1).
set -euo pipefail
DIR=${RUNNER_SLURM_DIR:-/tmp/runner-slurm}
PORT=${RUNNER_SLURM_PORT:-6817}
HOST=$(hostname -s)
log() { printf '[slurm-cluster] %s\n' "$*" >&2; }

stop() {
  for d in slurmd slurmctld munged; do
    if [ -f "$DIR/$d.pid" ]; then
      pid=$(cat "$DIR/$d.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$DIR/$d.pid"
    fi
  done
  if [ "${1:-}" = --purge ]; then rm -rf "$DIR"; fi
  log "stopped"
}

install() {
  command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { log "slurm-wlm and munge are not installed (apt-get install slurm-wlm munge, as root)"; exit 1; }
  log "apt-get install slurm-wlm munge"
  apt-get update -qq
  # a policy-rc.d that says no: the packages must not start system-wide daemons
  local own=
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; own=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  [ -z "$own" ] || rm -f /usr/sbin/policy-rc.d
}

start() {
  install
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge" "$DIR/logs"
  chmod 755 "$DIR/munge"
  if [ ! -f "$DIR/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge.key"
  fi
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=runner
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket.2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
DefMemPerCPU=1024
MaxArraySize=1001
MinJobAge=900
EnforcePartLimits=ALL
Epilog=/bin/true
SchedulerParameters=sched_interval=1
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  printf 'export SLURM_CONF=%s\n' "$DIR/slurm.conf" >"$DIR/env"
  export SLURM_CONF="$DIR/slurm.conf"
  if ! { [ -f "$DIR/munged.pid" ] && kill -0 "$(cat "$DIR/munged.pid")" 2>/dev/null; }; then
    munged --force --socket="$DIR/munge/munge.socket.2" --key-file="$DIR/munge.key" \
      --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge.seed"
  fi
  if ! { [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; }; then
    slurmctld
  fi
  if ! { [ -f "$DIR/slurmd.pid" ] && kill -0 "$(cat "$DIR/slurmd.pid")" 2>/dev/null; }; then
    slurmd
  fi
  for _ in $(seq 100); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle*|mixed*|allocated*) log "ready: node $HOST $state, $cpus CPUs, $mem MB (. $DIR/env)"; cat "$DIR/env"; return 0 ;;
      down*|drain*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  log "the node did not come up; logs: $DIR/slurmctld.log $DIR/slurmd.log"
  tail -n 5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "${1:-}" ;;
  *) echo "usage: $0 start | stop [--purge]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Stop the single-node SLURM cluster that tests/slurm/slurm-up.sh started in $HTMU_SLURM_RUN_DIR.
#
# Only daemons recorded in that run dir are stopped: slurmd and slurmctld through their pid files,
# munged only if slurm-up.sh started it. Safe to run when nothing is running.
set -uo pipefail

run_dir="${HTMU_SLURM_RUN_DIR:-/tmp/htmu-slurm}"
say() { echo "[slurm-down] $*"; }

# Cancel what is still queued or running so no job outlives the cluster.
if [[ -f "$run_dir/slurmctld.pid" && -f "$run_dir/slurm.conf" ]]; then
    SLURM_CONF="$run_dir/slurm.conf" scancel --full --quiet --partition="$(awk -F'[= ]' \
        '/^PartitionName=/ {print $2}' "$run_dir/slurm.conf")" 2>/dev/null || true
fi

stop_pidfile() {
    local name="$1" pidfile="$2" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name did not stop within 10 s: sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop_pidfile slurmd "$run_dir/slurmd.pid"
stop_pidfile slurmctld "$run_dir/slurmctld.pid"
if [[ -f "$run_dir/munged.started-by-us" ]]; then
    stop_pidfile munged /run/munge/munged.pid
    rm -f "$run_dir/munged.started-by-us"
fi
say "done"

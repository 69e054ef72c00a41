#!/usr/bin/env bash
# Start a throwaway single-node SLURM cluster on this host (controller + compute node), as root.
#
# Writes $HTMU_SLURM_RUN_DIR/slurm.conf from tests/slurm/slurm.conf.in, starts munged (only if no
# munge daemon answers already), slurmctld and slurmd, and waits until the node is idle.
# Nothing under /etc/slurm is touched: clients find the cluster through SLURM_CONF, which
# $HTMU_SLURM_RUN_DIR/env.sh exports. Rerunnable: a cluster left over from an earlier run in the same
# run dir is stopped first. Stop it with tests/slurm/slurm-down.sh.
#
# Environment (all optional):
#   HTMU_SLURM_RUN_DIR      state, logs, pid files        (default /tmp/htmu-slurm)
#   HTMU_SLURM_PARTITION    name of the single partition  (default htmu)
#   HTMU_SLURM_CTLD_PORT    slurmctld port                (default 6817)
#   HTMU_SLURMD_PORT        slurmd port                   (default 6818)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run_dir="${HTMU_SLURM_RUN_DIR:-/tmp/htmu-slurm}"
partition="${HTMU_SLURM_PARTITION:-htmu}"

say() { echo "[slurm-up] $*"; }
die() {
    echo "[slurm-up] ERROR: $*" >&2
    exit 1
}

[[ "$(id -u)" == 0 ]] || die "must run as root (slurmctld/slurmd/munged are started here)"
for exe in munged munge unmunge slurmctld slurmd sinfo scontrol; do
    command -v "$exe" >/dev/null || die "'$exe' not found: apt-get install -y slurmctld slurmd slurm-client munge"
done

if [[ -f "$run_dir/slurmctld.pid" || -f "$run_dir/slurmd.pid" ]]; then
    say "stopping the cluster left over in $run_dir"
    HTMU_SLURM_RUN_DIR="$run_dir" "$here/slurm-down.sh"
fi

# A fresh state dir each time: job ids restart at 1 and no stale node state survives.
rm -rf "$run_dir/state" "$run_dir/spool"
mkdir -p "$run_dir/state" "$run_dir/spool"

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(free -m | awk '/^Mem:/ {print $2}')"
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" \
    -e "s|@RUN_DIR@|$run_dir|g" -e "s|@PARTITION@|$partition|g" \
    -e "s|@CTLD_PORT@|${HTMU_SLURM_CTLD_PORT:-6817}|g" -e "s|@SLURMD_PORT@|${HTMU_SLURMD_PORT:-6818}|g" \
    "$here/slurm.conf.in" >"$run_dir/slurm.conf"
printf 'export SLURM_CONF=%q\n' "$run_dir/slurm.conf" >"$run_dir/env.sh"
export SLURM_CONF="$run_dir/slurm.conf"
say "node $host: CPUs=$cpus RealMemory=${mem_mb}MB, partition $partition, config $SLURM_CONF"

# munge: reuse a running daemon (e.g. a real cluster node), otherwise start one and remember that.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munged already running: reusing it"
else
    say "starting munged"
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- munged || die "munged failed to start (see /var/log/munge/munged.log)"
    touch "$run_dir/munged.started-by-us"
    for _ in $(seq 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null || die "munged started but credentials do not round-trip"
fi

say "starting slurmctld"
slurmctld -i || die "slurmctld failed to start: $(tail -5 "$run_dir/slurmctld.log" 2>/dev/null)"
say "starting slurmd"
slurmd || die "slurmd failed to start: $(tail -5 "$run_dir/slurmd.log" 2>/dev/null)"

say "waiting for node $host to be idle"
state=""
for _ in $(seq 60); do
    state="$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 1
done
if [[ "$state" != idle ]]; then
    echo "--- slurmctld.log" >&2
    tail -20 "$run_dir/slurmctld.log" >&2 || true
    echo "--- slurmd.log" >&2
    tail -20 "$run_dir/slurmd.log" >&2 || true
    die "node $host is '${state:-unknown}' after 60 s, not idle"
fi
sinfo
say "cluster up (source $run_dir/env.sh to use it)"

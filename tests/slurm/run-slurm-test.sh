#!/usr/bin/env bash
# End-to-end test of profiles/slurm on a real, throwaway single-node SLURM cluster (`make test-slurm`).
#
# As root on Debian 12 (or a similar apt system): installs slurmctld, slurmd, slurm-client and munge
# if missing, starts a one-node cluster on this host (tests/slurm/slurm-up.sh), runs the whole workflow
# on tests/slurm/config.yaml through the SLURM executor in a fresh directory, writes the report, and
# checks the outputs and that the jobs really went through SLURM: sbatch command lines (partition from
# the profile, no GPU flag since the test config asks for none), every job COMPLETED in slurmctld,
# HDF5_USE_FILE_LOCKING=FALSE in each job's environment. Everything started is stopped on exit.
# Rerunnable; exits non-zero with the reason on failure.
#
# Usage: tests/slurm/run-slurm-test.sh [--keep]     (--keep: leave the work directory in place on success)
# Environment: SNAKEMAKE (default .venv/bin/snakemake), HTMU_SLURM_RUN_DIR (default /tmp/htmu-slurm-test),
#              HTMU_SLURM_TEST_DIR (work directory, default a new mktemp -d),
#              HTMU_SLURM_TEST_SNAKEFILE (default the repository's Snakefile; another one tests this script).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
keep=0
[[ "${1:-}" == --keep ]] && keep=1
SECONDS=0

step() { echo "[slurm-test ${SECONDS}s] $*"; }
fail() {
    echo "[slurm-test] FAILED: $*" >&2
    exit 1
}

[[ "$(id -u)" == 0 ]] || fail "run as root: the test starts munged, slurmctld and slurmd on this host"

# --- 1. packages ---------------------------------------------------------------------------------------
missing=()
for exe in munged slurmctld slurmd sbatch squeue sinfo; do
    command -v "$exe" >/dev/null || missing+=("$exe")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get to install them"
    step "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null ||
        fail "apt-get install slurmctld slurmd slurm-client munge failed"
else
    step "SLURM and munge already installed: $(slurmd -V)"
fi

snakemake="${SNAKEMAKE:-$repo/.venv/bin/snakemake}"
[[ -x "$snakemake" ]] || fail "no snakemake at $snakemake (run 'make venv' or set SNAKEMAKE)"
python_bin="$(dirname "$snakemake")/python"
snakefile="${HTMU_SLURM_TEST_SNAKEFILE:-$repo/Snakefile}"

# --- 2. cluster ----------------------------------------------------------------------------------------
export HTMU_SLURM_RUN_DIR="${HTMU_SLURM_RUN_DIR:-/tmp/htmu-slurm-test}"
# The partition reaches the jobs through the profile (HTMU_SLURM_PARTITION), as on a real cluster.
export HTMU_SLURM_PARTITION=htmu-test
# No accounting database here, so no accounts: the profile then passes no -A. No GPU model either.
unset HTMU_SLURM_ACCOUNT HTMU_SLURM_GPU_MODEL
# The workflow itself must set this for its jobs (workflow/rules/common.smk); checked below.
unset HDF5_USE_FILE_LOCKING
# The plugin reads $USER (absent in some containers).
export USER="${USER:-$(id -un)}"

work=""
cleanup() {
    local rc=$?
    step "stopping the cluster"
    "$here/slurm-down.sh" || true
    if [[ -n "$work" && -d "$work" ]]; then
        if ((rc == 0 && !keep)); then
            rm -rf "$work"
        else
            echo "[slurm-test] work directory kept: $work" >&2
        fi
    fi
    if ((rc == 0)); then
        step "PASSED"
    else
        echo "[slurm-test] cluster logs: $HTMU_SLURM_RUN_DIR/slurmctld.log $HTMU_SLURM_RUN_DIR/slurmd.log" >&2
    fi
}
trap cleanup EXIT

step "starting a single-node SLURM cluster in $HTMU_SLURM_RUN_DIR"
"$here/slurm-up.sh" || fail "could not start the SLURM cluster (see the messages above)"
# shellcheck source=/dev/null
source "$HTMU_SLURM_RUN_DIR/env.sh"

# --- 3. workflow through SLURM ------------------------------------------------------------------------
work="${HTMU_SLURM_TEST_DIR:-$(mktemp -d /tmp/htmu-slurm-test-work.XXXXXX)}"
mkdir -p "$work"
log="$work/snakemake.log"
step "running the workflow on tests/slurm/config.yaml through SLURM in $work (log: $log)"
# tests/slurm/bin/sacct answers the plugin's job-status query from slurmctld (no accounting here).
# --verbose puts each sbatch command line in the log; kept SLURM logs prove where each job ran.
set +e
PATH="$here/bin:$(dirname "$snakemake"):$PATH" "$snakemake" \
    --profile "$repo/profiles/slurm" \
    --snakefile "$snakefile" \
    --configfile "$here/config.yaml" \
    --directory "$work" \
    --jobs 4 \
    --slurm-keep-successful-logs \
    --slurm-init-seconds-before-status-checks 5 \
    --verbose 2>&1 | tee "$log" |
    grep --line-buffered -E "has been submitted with SLURM jobid|^Finished jobid|^Error|Exiting because|[0-9]+ of [0-9]+ steps"
smk_rc=${PIPESTATUS[0]}
set -e
if ((smk_rc != 0)); then
    echo "--- last lines of $log" >&2
    tail -40 "$log" >&2
    fail "snakemake --executor slurm exited with status $smk_rc"
fi

step "writing the report"
"$snakemake" --profile none --snakefile "$snakefile" --configfile "$here/config.yaml" \
    --directory "$work" --report results/report.html >"$work/report.log" 2>&1 ||
    fail "snakemake --report failed: $(tail -5 "$work/report.log")"

# --- 4. checks -----------------------------------------------------------------------------------------
step "checking the outputs"
cd "$work"
[[ -s results/fits.csv ]] || fail "results/fits.csv missing or empty"
rows=$(($(wc -l <results/fits.csv) - 1))
((rows >= 1)) || fail "results/fits.csv has a header but no rows"
"$python_bin" -c "
import sys, xarray as xr
with xr.open_dataset('results/spectra.nc') as ds:
    if not ds.data_vars or min(ds.sizes.values(), default=0) == 0:
        sys.exit('results/spectra.nc holds no data: ' + repr(ds))
" || fail "results/spectra.nc missing or unreadable"
[[ -s results/report.html ]] || fail "results/report.html missing or empty"
step "  fits.csv: $rows rows; spectra.nc readable; report.html $(du -h results/report.html | cut -f1)"

step "checking that the jobs went through SLURM"
mapfile -t jobids < <(sed -n 's/.*has been submitted with SLURM jobid \([0-9]\+\).*/\1/p' "$log")
((${#jobids[@]} >= 1)) || fail "no job was submitted to SLURM (no 'submitted with SLURM jobid' in $log)"
mapfile -t calls < <(grep -E '^sbatch call: ' "$log")
((${#calls[@]} == ${#jobids[@]})) ||
    fail "${#jobids[@]} submissions but ${#calls[@]} 'sbatch call:' lines in $log"
for call in "${calls[@]}"; do
    [[ "$call" == *" -p htmu-test "* ]] || fail "sbatch call without the profile's partition: $call"
    [[ "$call" != *--gpus* && "$call" != *--gres* ]] || fail "GPU requested by a gpu=0 job: $call"
    [[ "$call" == *" --mem "* && "$call" == *" -t "* ]] || fail "sbatch call without --mem or -t: $call"
done
nlogs=$(find .snakemake/slurm_logs -name '*.log' | wc -l)
((nlogs == ${#jobids[@]})) || fail "${#jobids[@]} SLURM jobs but $nlogs logs in .snakemake/slurm_logs"
for id in "${jobids[@]}"; do
    state="$(squeue --noheader --states=all --jobs "$id" --format=%T 2>/dev/null || true)"
    [[ "$state" == COMPLETED ]] || fail "SLURM job $id is '${state:-unknown to slurmctld}', not COMPLETED"
    grep -q "_job_complete: JobId=$id done" "$HTMU_SLURM_RUN_DIR/slurmctld.log" ||
        fail "slurmctld.log does not record the completion of job $id"
    envfile="$(find "$HTMU_SLURM_RUN_DIR/state" -path "*/job.$id/environment" | head -1)"
    [[ -n "$envfile" ]] || fail "slurmctld kept no environment for job $id"
    tr '\0' '\n' <"$envfile" | grep -qx HDF5_USE_FILE_LOCKING=FALSE ||
        fail "HDF5_USE_FILE_LOCKING=FALSE is not in the environment of SLURM job $id"
done
# Every non-local job ("rule X:" in the log; local ones say "localrule X:") must have a SLURM log.
rules="$(sed -n 's/^rule \([A-Za-z0-9_]*\):$/\1/p' "$log" | sort -u | tr '\n' ' ')"
slurm_rules="$(find .snakemake/slurm_logs -mindepth 1 -maxdepth 1 -name 'rule_*' -printf '%f\n' |
    sed 's/^rule_//' | sort -u | tr '\n' ' ')"
[[ "$rules" == "$slurm_rules" ]] || fail "rules run: '$rules' but rules with SLURM logs: '$slurm_rules'"
step "  ${#jobids[@]} SLURM jobs, all COMPLETED, none asking for a GPU, all with HDF5_USE_FILE_LOCKING=FALSE"
step "  example: ${calls[0]%% --wrap=*}"
step "  rules run through SLURM: $rules"
step "total wall time ${SECONDS}s"

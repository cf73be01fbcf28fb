#!/usr/bin/env bash
# Every GPU measurement the project still owes, sized for the GPU sessions the project really gets:
# about 15 minutes of device time in all (machine start included), at most 10 minutes a command, on
# a machine without network access (torch and triton preinstalled; rnnviz is used from the checkout).
#
#   bash benchmarks/gpu_session.sh all                # ~5-8 minutes: versions, compiled kernels vs the
#                                                     # reference, bench_cells (2 shapes), bench_ensemble,
#                                                     # bench_fixed_points, the README table
#   bash benchmarks/gpu_session.sh profile            # ~2-4 minutes: where a capacity group's training step
#                                                     # goes on the GPU (benchmarks/gpu_step_profile.py)
#   bash benchmarks/gpu_session.sh capacity [MINUTES] # GPU capacity sweep (resumable), default 7 minutes;
#                                                     # n = 16-64 only unless RNNVIZ_GPU_HIDDEN_SIZES says otherwise;
#                                                     # preset "gpu" unless RNNVIZ_GPU_PRESET names another
#                                                     # (e.g. paper-cosine; store data/capacity_<preset>_run/)
#   bash benchmarks/gpu_session.sh lm [MINUTES]       # GPU language-model study (resumable), default 7;
#                                                     # preset "gpu" unless RNNVIZ_GPU_LM_PRESET names another
#                                                     # (store data/lm_<preset>_run/)
#   RNNVIZ_GPU_DRY_RUN=1 bash benchmarks/gpu_session.sh all   # the same plumbing on a CPU (interpreter,
#                                                     # tiny shapes): checks the script, measures nothing
#
# Every result is written to $OUT (when set: a job runner that returns the files under $OUT) as soon
# as it exists: the phase's log line by line ($OUT/<phase>.log), each benchmark's JSON after every
# contender ($OUT/results/), the test report after the tests, so a run cut off at any point still
# returns what it measured. Each step has its own time limit, so one runaway cannot eat the others'
# time. The capacity and lm phases stop starting new work after MINUTES and exit 3 while models
# remain (RNNVIZ_GPU_GRACE seconds later, default 120, work still in flight stops: the capacity phase's
# groups at their last checkpoint a minute before that, kept in capacity.sqlite.checkpoints/, the lm
# phase's model at its first checkpoint after MINUTES, in out/lm_gpu/checkpoints/in_flight/; anything
# else is killed, its finished models kept); their store is bundled into $OUT (15 MB parts), and the
# capacity checkpoints in a bundle of their own when it fits what the runner returns: unpack them
# into the checkout (`cat NAME.tar.gz.part* | tar -xzf -`) and run the same phase again to resume.
set -uo pipefail
cd "$(dirname "$0")/.."
phase=${1:?"usage: bash benchmarks/gpu_session.sh all|profile|capacity|lm [MINUTES]"}
minutes=${2:-7}
grace=${RNNVIZ_GPU_GRACE:-120}  # seconds a study phase's groups in flight get past MINUTES
hard_limit=$(awk -v m="$minutes" -v g="$grace" 'BEGIN { printf "%d", m * 60 + g }')
# the capacity command's own --hard-limit: a minute before the kill, so its groups stop at a checkpoint
# and it writes its files (minutes; never before MINUTES)
pause_minutes=$(awk -v m="$minutes" -v g="$grace" 'BEGIN { p = g > 60 ? g - 60 : 0; printf "%.2f", m + p / 60 }')
py=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
dry=${RNNVIZ_GPU_DRY_RUN:-0}
if [ "$dry" = 1 ]; then
    export TRITON_INTERPRET=1
    device=cpu
else
    unset TRITON_INTERPRET
    device=cuda
fi
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/results"
    export RNNVIZ_BENCH_MIRROR=$OUT/results  # the benchmark scripts mirror every save there
    log=$OUT/$phase.log
else
    log=/dev/null
fi

bundle() {  # bundle NAME [TAR OPTION...] PATH...: results as a tarball in $OUT (when set), in 15 MB parts
    local name=$1; shift
    [ -n "${OUT:-}" ] && tar -czf - "$@" | split -b 15M -d - "$OUT/$name.tar.gz.part"
    return 0
}

# What the job runner returns from $OUT: at most 8 files, 64 MiB together (docs/gpu.md). The store
# must come back; the checkpoints of groups stopped in flight only when they fit beside it.
OUT_FILES=8 OUT_BYTES=$((60 * 1024 * 1024))  # 4 MiB kept in hand under the 64

bundle_if_it_fits() {  # bundle_if_it_fits NAME FOLDER LOST: FOLDER bundled only if the return limits allow
    local name=$1 folder=$2 lost=$3
    [ -n "${OUT:-}" ] && [ -d "$folder" ] || return 0
    local tmp used files size parts
    tmp=$(mktemp)
    tar -czf "$tmp" "$folder"  # the same paths as the store's bundle: both unpack in the checkout
    size=$(stat -c %s "$tmp")
    used=$(du -sb "$OUT" | cut -f1)
    files=$(find "$OUT" -type f | wc -l)
    parts=$(( (size + 15 * 1024 * 1024 - 1) / (15 * 1024 * 1024) ))
    if [ $((used + size)) -gt "$OUT_BYTES" ] || [ $((files + parts)) -gt "$OUT_FILES" ]; then
        echo "== $name: left out ($size bytes in $parts parts beside $used bytes in $files files: over" \
             "the return limit of $OUT_FILES files, $OUT_BYTES bytes); $lost"
    else
        split -b 15M -d "$tmp" "$OUT/$name.tar.gz.part"
        echo "== $name: bundled ($size bytes, $parts parts; unpacked in the checkout beside the store)"
    fi
    rm -f "$tmp"
    return 0
}

report() {  # report NAME STORE RUNS: what the store holds, the last run's record, the rows as CSV in $OUT
    local name=$1 store=$2 runs=$3
    [ -f "$store" ] || { echo "== $name: no store yet"; return 0; }
    "$py" -m rnnviz store check "$store"
    [ -f "$runs" ] && tail -n 1 "$runs"
    [ -n "${OUT:-}" ] && "$py" -m rnnviz store export "$store" "$OUT/results/$name.csv"
    return 0
}

step() {  # step NAME SECONDS COMMAND...: run with a hard time limit, say how it ended
    local name=$1 limit=$2 t0=$SECONDS; shift 2
    echo "== $name: start (limit ${limit} s)"
    timeout -k 10 "$limit" "$@"
    local status=$?
    echo "== $name: exit $status after $((SECONDS - t0)) s"
    return 0  # the next step runs whatever happened here
}

keep() {  # keep FILE...: copy finished results into $OUT/results now
    [ -n "${OUT:-}" ] && cp "$@" "$OUT/results/" 2>/dev/null
    return 0
}

all_phase() {
    # Limits 15 + 200 + 140 + 70 + 110 s (under 9 minutes), plus the table (a few seconds); the
    # 2026-11-29 session took 5 min 7 s with a warm Triton cache. On a fresh machine (cold cache)
    # the CUDA tests alone took more than 125 s (2026-11-30), hence their 200 s.
    local quick=() fp_quick=()
    [ "$dry" = 1 ] && quick=(--quick --device cpu) && fp_quick=(--quick --device cpu)
    mkdir -p benchmarks/results
    step versions 15 "$py" -c "
import torch
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())
print('device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')
try:
    import triton; print('triton', triton.__version__)
except ImportError as err:
    print('triton: not importable:', err)"
    [ "$dry" = 1 ] || nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    # the compiled kernels against the reference, on the GPU (skips without CUDA)
    step kernels_cuda 200 "$py" -m pytest -q -p no:cacheprovider -rA tests/test_kernels_cuda.py \
        --junitxml=benchmarks/results/kernels_cuda_junit.xml
    keep benchmarks/results/kernels_cuda_junit.xml
    # two shapes: a long sequence of a mid-size layer, and many small ensembles' worth of batch
    local shapes="256,32,512;100,256,32"
    [ "$dry" = 1 ] && shapes="2,2,8"
    step bench_cells 140 "$py" benchmarks/bench_cells.py --shapes "$shapes" --time-limit 110 \
        --sru-package-timeout 60 --prewarm-timeout 60 "${quick[@]}"
    step bench_ensemble 70 "$py" benchmarks/bench_ensemble.py --time-limit 50 "${quick[@]}"
    step bench_fixed_points 110 "$py" benchmarks/bench_fixed_points.py --repeats 3 "${fp_quick[@]}"
    keep benchmarks/results/fixed_points_*.json
    if [ "$dry" = 1 ]; then
        echo "== dry run: benchmarks/README.md left unchanged"
    else
        step make_table 30 "$py" benchmarks/make_table.py   # the README's Results section
        keep benchmarks/README.md
    fi
}

run_phase() {
    case $phase in
    all)
        all_phase
        ;;
    profile)
        local quick=()
        [ "$dry" = 1 ] && quick=(--quick --device cpu)
        mkdir -p benchmarks/results
        step gpu_step_profile 300 "$py" benchmarks/gpu_step_profile.py "${quick[@]}"
        ;;
    capacity)
        # which preset (default "gpu"); its store resumes from data/capacity_<name>_run/ on a fresh machine
        local preset=${RNNVIZ_GPU_PRESET:-gpu}
        local name=${preset//-/_}
        local out=out/capacity_$name store=data/capacity_${name}_run
        if [ ! -f "$out/capacity.sqlite" ] && [ -f "$store/capacity.sqlite" ]; then
            mkdir -p "$out"
            cp "$store/capacity.sqlite" "$out/"
            [ -f "$store/capacity_runs.jsonl" ] && cp "$store/capacity_runs.jsonl" "$out/"
            [ -d "$store/capacity.sqlite.checkpoints" ] && cp -r "$store/capacity.sqlite.checkpoints" "$out/"
            echo "== capacity: resuming $store/ ($("$py" -m rnnviz store check "$out/capacity.sqlite" | head -n 1))"
        fi
        # 3 processes share the GPU: one ensemble's step is mostly launch overhead (CPU-bound).
        # --time-limit stops new groups; the hard limit (GRACE seconds more, for the groups in flight)
        # makes sure the store is bundled before the job runner's own limit cuts everything off.
        # the sizes whose groups fit a call first (the same store keys as the whole preset); n = 128 and
        # 256 outlast a command as sized (docs/gpu.md): RNNVIZ_GPU_HIDDEN_SIZES="128 256" once they fit
        local sizes
        read -r -a sizes <<< "${RNNVIZ_GPU_HIDDEN_SIZES:-16 32 64}"
        echo "== capacity: preset $preset, n = ${sizes[*]}, $minutes minutes"
        timeout -k 20 "$hard_limit" "$py" -m rnnviz capacity --preset "$preset" --device "$device" \
            --out "$out" --quiet --workers 3 --time-limit "$minutes" --hard-limit "$pause_minutes" \
            --hidden-sizes "${sizes[@]}"
        status=$?
        echo "== capacity: exit $status"
        report capacity "$out/capacity.sqlite" "$out/capacity_runs.jsonl"
        bundle capacity --exclude=capacity.sqlite.checkpoints "$out"
        bundle_if_it_fits capacity_checkpoints "$out/capacity.sqlite.checkpoints" \
            "their groups start again next session"
        return $status
        ;;
    lm)
        # preset "gpu" unless RNNVIZ_GPU_LM_PRESET names another; on a fresh machine it resumes from the
        # committed store data/lm_<preset>_run/ (rows, curves, each finished run's JSON, the checkpoint in
        # flight; no finished weights, which would outgrow what a call carries)
        local lm_preset=${RNNVIZ_GPU_LM_PRESET:-gpu}
        local lm_out=out/lm_${lm_preset//-/_} lm_store=data/lm_${lm_preset//-/_}_run
        if [ ! -d "$lm_out" ] && [ -d "$lm_store" ]; then
            mkdir -p "$lm_out" && cp -r "$lm_store"/. "$lm_out"/
            echo "== lm: resuming $lm_store/"
        fi
        # the model in flight stops at its next checkpoint once MINUTES have passed (every 2,000 steps,
        # checkpoints/in_flight/), with GRACE seconds to reach it; the next call resumes it
        timeout -k 20 "$hard_limit" "$py" -m rnnviz lm --preset "$lm_preset" --device "$device" \
            --out "$lm_out" --quiet --time-limit "$minutes" --hard-limit "$minutes"
        status=$?
        echo "== lm: exit $status"
        [ -f "$lm_out/lm_runs.jsonl" ] && tail -n 1 "$lm_out/lm_runs.jsonl"
        # the store (what the next session resumes from), then the finished weights when they fit
        bundle lm --no-wildcards-match-slash --exclude="$lm_out/checkpoints/*.pt" --exclude="$lm_out/figures" \
            "$lm_out"
        bundle_if_it_fits lm_weights "$lm_out/checkpoints" "samples.txt names those models without their text"
        return $status
        ;;
    *)
        echo "unknown phase $phase (all, profile, capacity or lm)" >&2
        return 2
        ;;
    esac
}

run_phase 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"

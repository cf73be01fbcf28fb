#!/usr/bin/env bash
# Every GPU measurement the project still owes, in phases that each fit one 10-minute job on a GPU
# machine without network access (torch and triton preinstalled; rnnviz is used from the checkout).
#
#   bash benchmarks/gpu_session.sh check              # versions, kernels vs reference on the GPU (compiled)
#   bash benchmarks/gpu_session.sh bench              # bench_cells, bench_ensemble, bench_fixed_points
#   bash benchmarks/gpu_session.sh capacity [MINUTES] # paper capacity sweep (resumable), default 7 minutes
#   bash benchmarks/gpu_session.sh lm [MINUTES]       # paper language-model study (resumable), default 7
#
# Results: benchmarks/results/*.json, out/capacity_paper/, out/lm_paper/. When $OUT is set (a job
# runner that returns the files under $OUT), each phase also leaves there its log and one tarball of
# what it produced (split into parts of 15 MB), so that a fresh machine can resume: unpack it into
# the checkout (`cat NAME.tar.gz.part* | tar -xzf -`) and run the same phase again. The capacity and lm phases stop starting new work after MINUTES and exit
# 3 while models remain (see `rnnviz capacity --help`).
set -uo pipefail
cd "$(dirname "$0")/.."
phase=${1:?"usage: bash benchmarks/gpu_session.sh check|bench|capacity|lm [MINUTES]"}
minutes=${2:-7}
py=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
log=${OUT:+$OUT/$phase.log}
log=${log:-/dev/null}

bundle() {  # bundle NAME PATH...: the phase's results as a tarball in $OUT (when set), in 15 MB parts
    local name=$1; shift
    [ -n "${OUT:-}" ] && tar -czf - "$@" | split -b 15M -d - "$OUT/$name.tar.gz.part"
    return 0
}

run_phase() {
    case $phase in
    check)
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
        $py -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__, torch.cuda.get_device_name())"
        $py benchmarks/compile_check.py --quick --jobs 8 90   # the full list is checked off-GPU
        $py -m pytest -q -p no:cacheprovider tests/test_kernels_cuda.py
        ;;
    bench)
        # about 6-7 minutes (benchmarks/README.md, "Time"); each script has its own limit, so one runaway
        # cannot eat the others' time: at most 260 + 100 + 180 s, plus the table and the tarball.
        # --time-limit: no new contender after it (the rest recorded as skipped); timeout: the backstop
        # (SIGTERM: the scripts save what they have). Result files are rewritten after every contender
        # and, with $OUT set, mirrored to $OUT/results, so a cut-off job still returns them.
        mkdir -p benchmarks/results
        if [ -n "${OUT:-}" ]; then
            export RNNVIZ_BENCH_MIRROR=$OUT/results
            mkdir -p "$RNNVIZ_BENCH_MIRROR"
        fi
        local t0=$SECONDS
        timeout -k 10 260 $py benchmarks/bench_cells.py --time-limit 225 --sru-package-timeout 120
        echo "== bench_cells: exit $? after $((SECONDS - t0)) s"
        t0=$SECONDS
        timeout -k 10 100 $py benchmarks/bench_ensemble.py --time-limit 75
        echo "== bench_ensemble: exit $? after $((SECONDS - t0)) s"
        t0=$SECONDS
        timeout -k 10 180 $py benchmarks/bench_fixed_points.py
        echo "== bench_fixed_points: exit $? after $((SECONDS - t0)) s"
        [ -n "${OUT:-}" ] && cp benchmarks/results/fixed_points_*.json "$OUT/results/" 2>/dev/null
        $py benchmarks/make_table.py   # the README's Results section from the new files
        bundle bench benchmarks/results benchmarks/README.md
        ;;
    capacity)
        # 3 processes share the GPU: one ensemble's step is mostly launch overhead (CPU-bound), and
        # the largest groups (LSTM, n = 128) need about 10 GB each during evaluation.
        $py -m rnnviz.cli capacity --preset paper --device cuda --out out/capacity_paper --quiet \
            --workers 3 --time-limit "$minutes"
        status=$?
        bundle capacity out/capacity_paper
        return $status
        ;;
    lm)
        $py -m rnnviz.cli lm --preset paper --device cuda --out out/lm_paper --quiet --time-limit "$minutes"
        status=$?
        bundle lm out/lm_paper
        return $status
        ;;
    *)
        echo "unknown phase $phase (check, bench, capacity or lm)" >&2
        return 2
        ;;
    esac
}

run_phase 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"

#!/usr/bin/env bash
# Runs cargo-merge's fuzz targets (fuzz/): each for SECONDS (default 60), or until
# MERGE_FUZZ_RUNS executions when that is set and comes first, seeded from the fixtures (fuzz/seed.py), on the
# nightly toolchain with cargo-fuzz (installed when missing), as many at once as there are
# cores (MERGE_FUZZ_JOBS). Prints the executions of each target; a crash fails the script, the
# failing input under fuzz/artifacts/<target>/. The corpus grows in target/fuzz-corpus/.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#   MERGE_FUZZ_RUNS=1000000 bash scripts/fuzz.sh 1200   # 1 M executions or 20 min, the first
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
seconds="${1:-60}"
shift || true
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
corpus="$root/target/fuzz-corpus"
python3 "$root/fuzz/seed.py" "$corpus"
# One build of every target, with the address sanitizer and debug assertions. The rewrite's
# target is built again without a sanitizer, in a folder of its own (other flags would rebuild
# everything): it runs safe code only (codegen, syn, the rewrite), which the sanitizer would
# slow 4-fold for nothing. MERGE_FUZZ_ONE_BUILD=1 (CI's short runs) skips that second build.
cargo +nightly fuzz build -O --debug-assertions
unsanitized=(rewrite_generated)
if [ -n "${MERGE_FUZZ_ONE_BUILD:-}" ]; then
    unsanitized=()
fi
nosan=(-s none --target-dir "$root/target/fuzz-nosan")
for t in "${targets[@]}"; do
    if [[ " ${unsanitized[*]} " == *" $t "* ]]; then
        cargo +nightly fuzz build -O --debug-assertions "${nosan[@]}" "$t"
    fi
done
limits=("-max_total_time=$seconds")
if [ -n "${MERGE_FUZZ_RUNS:-}" ]; then
    limits+=("-runs=$MERGE_FUZZ_RUNS")
fi
# One target: its run's statistics in target/fuzz-<target>.log, a line of executions, and the
# failing input's tail of the log on a crash.
run_one() {
    local t="$1" log="$root/target/fuzz-$1.log" runs flags=()
    mkdir -p "$corpus/$t"
    if [[ " ${unsanitized[*]} " == *" $t "* ]]; then
        flags=("${nosan[@]}")
    fi
    # No leak detection: the native CSV reader's worker threads leave glibc's thread-exit
    # records (32 bytes each, freed with the process), which LeakSanitizer reports. Unbounded
    # allocation is what matters, and the RSS and malloc limits catch it.
    if ! cargo +nightly fuzz run -O --debug-assertions "${flags[@]}" "$t" "$corpus/$t" -- \
        "${limits[@]}" -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -detect_leaks=0 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $t FAILED; the input is under fuzz/artifacts/$t/" >&2
        return 1
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $t: $runs executions, no crash"
}

# As many targets at once as there are cores (each libFuzzer process uses one).
jobs_max="${MERGE_FUZZ_JOBS:-$(nproc)}"
failed=0
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n || failed=1
    done
    run_one "$t" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
    wait -n || failed=1
done
exit "$failed"

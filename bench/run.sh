#!/usr/bin/env bash
# Side-by-side benchmarks of gogroup against Go (sync.WaitGroup, goroutines,
# errgroup, context), Rust peers (crossbeam-utils + rayon, tokio, tokio-util),
# the C API, Python (ThreadPoolExecutor, asyncio) and Node (Promise.all,
# AbortController, p-limit), measured in ONE run and written to BENCHMARKS.md
# as ratios, with wake-up latencies, scale runs and SVG plots (bench/plots/).
#
#   make bench                   # builds what it needs (make bench-deps), then this script
#   ROUNDS=9 bench/run.sh        # more rounds (default 5)
#   FILTER=token bench/run.sh    # only workloads whose name contains "token"
#   SCALE=0 bench/run.sh         # skip the scale runs
#   BLOCKING=0 bench/run.sh      # skip the blocking-task runs (FILTER=blocking: only those)
#   QUICK=1 bench/run.sh         # smoke run: 1 round, few iterations (numbers meaningless)
#   TARGET_MS=100 LATENCY_SAMPLES=100 bench/run.sh   # shorter measurements
#
# Each round runs the Go, Rust, C, Python and Node programs one after the other
# (the order alternates between rounds), so all see the same machine state;
# BENCHMARKS.md reports the median of the per-round ratios.
# Raw lines: bench/results/latest.jsonl (+ latest.meta.json).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

QUICK="${QUICK:-0}"
FILTER="${FILTER:-}"
if [[ "$QUICK" == 1 ]]; then
	ROUNDS="${ROUNDS:-1}"
else
	ROUNDS="${ROUNDS:-5}"
fi
SCALE="${SCALE:-1}"
BLOCKING="${BLOCKING:-1}"
TARGET_MS="${TARGET_MS:-150}"
LATENCY_SAMPLES="${LATENCY_SAMPLES:-200}"
BENCH_NOTE="${BENCH_NOTE:-}"
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
	echo "ROUNDS must be a positive integer, got '$ROUNDS'" >&2
	exit 2
fi

for tool in cargo go python3 node make; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench/run.sh needs '$tool' on PATH" >&2
		exit 1
	fi
done

target_dir="${CARGO_TARGET_DIR:-$root/target}"
rust_bin="$target_dir/release/gogroup-bench"
go_bin="$target_dir/release/gogroup-bench-go"
c_bin="$root/target/c/bench/bench"
py_bin="$root/.venv/bin/python"

echo "== building (make bench-deps: Rust and Go bench binaries, C library, Python and Node bindings, p-limit)" >&2
make --no-print-directory bench-deps

# Run from a private copy of every build product: the working tree is shared, and a rebuild of
# the C library or the Node addon in place (cp over a file that a running bench has mapped)
# kills that bench with SIGBUS, or changes the code under test between rounds.
stage="$target_dir/bench-stage"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/clib" "$stage/py" "$stage/node"
cp "$rust_bin" "$go_bin" "$c_bin" "$stage/bin/"
cp -L "$root/target/c/lib/libgogroup.so" "$stage/clib/$(readlink "$root/target/c/lib/libgogroup.so")"
py_pkg="$("$py_bin" -c 'import gogroup, os; print(os.path.dirname(gogroup.__file__))')"
cp -r "$py_pkg" "$stage/py/"
cp -r "$root/node/index.js" "$root/node/binding.js" "$root/node/package.json" "$root/node/lib" \
	"$root/node/gogroup.linux-x64-gnu.node" "$stage/node/"
rust_bin="$stage/bin/$(basename "$rust_bin")"
go_bin="$stage/bin/$(basename "$go_bin")"
c_bin="$stage/bin/$(basename "$c_bin")"
export LD_LIBRARY_PATH="$stage/clib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" # wins over the RUNPATH
export PYTHONPATH="$stage/py${PYTHONPATH:+:$PYTHONPATH}"
export GOGROUP_BENCH_NODE_DIR="$stage/node"
revision="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"

args=(--target-ms "$TARGET_MS" --latency-samples "$LATENCY_SAMPLES")
if [[ "$QUICK" == 1 ]]; then
	args+=(--quick)
fi
if [[ -n "$FILTER" ]]; then
	args+=(--filter "$FILTER")
fi

results="$root/bench/results"
mkdir -p "$results"
out="$results/latest.jsonl"
tmp="$(mktemp "$results/run.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2 == 0)); then
		order=(go rust c python node)
	else
		order=(node python c rust go)
	fi
	for lang in "${order[@]}"; do
		echo "== round $((r + 1))/$ROUNDS: $lang" >&2
		if [[ "$lang" == go ]]; then
			"$go_bin" --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		elif [[ "$lang" == python ]]; then
			"$py_bin" py/bench/bench.py --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		elif [[ "$lang" == node ]]; then
			node --expose-gc node/bench/bench.mjs --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		elif [[ "$lang" == c ]]; then
			c_args=(--rounds 1 --round-start "$r" --target-ms "$TARGET_MS" --latency-samples "$LATENCY_SAMPLES")
			if [[ "$QUICK" == 1 ]]; then c_args+=(--target-ms 10 --latency-samples 20); fi
			if [[ -n "$FILTER" ]]; then c_args+=(--filter "$FILTER"); fi
			"$c_bin" "${c_args[@]}" >>"$tmp"
		else
			"$rust_bin" --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		fi
	done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)" # before the scale runs' 10,000 threads
if [[ "$BLOCKING" == 1 ]]; then
	# Once per run, after the rounds: every case in a fresh process (bench/src/blocking.rs).
	blocking_args=(--blocking)
	if [[ "$QUICK" == 1 ]]; then blocking_args+=(--quick); fi
	if [[ -n "$FILTER" ]]; then blocking_args+=(--filter "$FILTER"); fi
	echo "== blocking tasks: rust" >&2
	"$rust_bin" "${blocking_args[@]}" >>"$tmp"
	echo "== blocking tasks: go" >&2
	"$go_bin" "${blocking_args[@]}" >>"$tmp"
	echo "== blocking tasks: python" >&2
	"$py_bin" py/bench/bench.py "${blocking_args[@]}" >>"$tmp"
	echo "== blocking tasks: node" >&2
	node node/bench/bench.mjs "${blocking_args[@]}" >>"$tmp"
fi
if [[ "$SCALE" == 1 ]]; then
	scale_args=()
	if [[ "$QUICK" == 1 ]]; then scale_args+=(--quick); fi
	if [[ -n "$FILTER" ]]; then scale_args+=(--filter "$FILTER"); fi
	echo "== scale runs: rust" >&2
	"$rust_bin" --scale "${scale_args[@]}" >>"$tmp"
	echo "== scale runs: go" >&2
	"$go_bin" --scale "${scale_args[@]}" >>"$tmp"
fi
finished="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
mv "$tmp" "$out"
trap - EXIT

cmd="make bench"
if [[ "$QUICK" == 1 ]]; then
	cmd="QUICK=1 make bench"
fi
if [[ "$QUICK" != 1 && ( "$TARGET_MS" != 150 || "$LATENCY_SAMPLES" != 200 || "$ROUNDS" != 5 ) ]]; then
	cmd="ROUNDS=$ROUNDS TARGET_MS=$TARGET_MS LATENCY_SAMPLES=$LATENCY_SAMPLES make bench"
fi
STARTED="$started" FINISHED="$finished" ROUNDS="$ROUNDS" QUICK="$QUICK" FILTER="$FILTER" \
	LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" CMD="$cmd" \
	TARGET_MS="$TARGET_MS" LATENCY_SAMPLES="$LATENCY_SAMPLES" NOTE="$BENCH_NOTE" \
	REVISION="$revision" \
	PY_VERSION="$("$py_bin" -c 'import sys; print(sys.version.split()[0])')" NODE_VERSION="$(node --version)" \
	P_LIMIT="$(node -p 'require("./node/bench/node_modules/p-limit/package.json").version')" \
	python3 -c '
import json, os, sys
e = os.environ
json.dump({
    "started": e["STARTED"], "finished": e["FINISHED"],
    "rounds": int(e["ROUNDS"]), "quick": e["QUICK"] == "1", "filter": e["FILTER"],
    "loadavg_before": e["LOAD_BEFORE"], "loadavg_after": e["LOAD_AFTER"],
    "command": e["CMD"],
    "target_ms": float(e["TARGET_MS"]), "latency_samples": 20 if e["QUICK"] == "1" else int(e["LATENCY_SAMPLES"]),
    "note": e["NOTE"], "revision": e["REVISION"], "python": e["PY_VERSION"], "node": e["NODE_VERSION"], "p_limit": e["P_LIMIT"],
}, open(sys.argv[1], "w"), indent=1)
' "$results/latest.meta.json"

python3 bench/summarize.py --input "$out" --meta "$results/latest.meta.json" --output "$root/BENCHMARKS.md"
echo "== wrote $out, BENCHMARKS.md and bench/plots/*.svg" >&2

#!/usr/bin/env bash
# Side-by-side benchmarks of gogroup against Go (sync.WaitGroup, goroutines,
# errgroup, context) and Rust peers (crossbeam-utils + rayon, tokio,
# tokio-util), measured in ONE run and written to BENCHMARKS.md as ratios.
#
#   bench/run.sh                 # = make bench: 5 interleaved rounds
#   ROUNDS=9 bench/run.sh        # more rounds
#   FILTER=token bench/run.sh    # only workloads whose name contains "token"
#   QUICK=1 bench/run.sh         # smoke run: 1 round, few iterations (numbers meaningless)
#
# Each round runs the Go binary and the Rust binary one after the other (the
# order alternates between rounds), so both languages see the same machine
# state; BENCHMARKS.md reports the median of the per-round ratios.
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
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
	echo "ROUNDS must be a positive integer, got '$ROUNDS'" >&2
	exit 2
fi

for tool in cargo go python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench/run.sh needs '$tool' on PATH" >&2
		exit 1
	fi
done

target_dir="${CARGO_TARGET_DIR:-$root/target}"
rust_bin="$target_dir/release/gogroup-bench"
go_bin="$target_dir/release/gogroup-bench-go"
c_bin="$root/target/c/bench/bench"

echo "== building (cargo build --release -p gogroup-bench; go build)" >&2
cargo build --release -p gogroup-bench
(cd bench/go && go build -buildvcs=false -o "$go_bin" .)
# The C API over the same core (the cost of the boundary), built as `make bench-c` builds it.
make --no-print-directory -s c-bench-bin

args=()
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
		order=(go rust c)
	else
		order=(c rust go)
	fi
	for lang in "${order[@]}"; do
		echo "== round $((r + 1))/$ROUNDS: $lang" >&2
		if [[ "$lang" == go ]]; then
			"$go_bin" --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		elif [[ "$lang" == c ]]; then
			c_args=(--rounds 1 --round-start "$r")
			if [[ "$QUICK" == 1 ]]; then c_args+=(--target-ms 10); fi
			if [[ -n "$FILTER" ]]; then c_args+=(--filter "$FILTER"); fi
			"$c_bin" "${c_args[@]}" >>"$tmp"
		else
			"$rust_bin" --rounds 1 --round-start "$r" "${args[@]}" >>"$tmp"
		fi
	done
done
finished="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
mv "$tmp" "$out"
trap - EXIT

cmd="make bench"
if [[ "$QUICK" == 1 ]]; then
	cmd="QUICK=1 bench/run.sh"
fi
STARTED="$started" FINISHED="$finished" ROUNDS="$ROUNDS" QUICK="$QUICK" FILTER="$FILTER" \
	LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" CMD="$cmd" \
	python3 -c '
import json, os, sys
e = os.environ
json.dump({
    "started": e["STARTED"], "finished": e["FINISHED"],
    "rounds": int(e["ROUNDS"]), "quick": e["QUICK"] == "1", "filter": e["FILTER"],
    "loadavg_before": e["LOAD_BEFORE"], "loadavg_after": e["LOAD_AFTER"],
    "command": e["CMD"],
}, open(sys.argv[1], "w"), indent=1)
' "$results/latest.meta.json"

python3 bench/summarize.py --input "$out" --meta "$results/latest.meta.json" --output "$root/BENCHMARKS.md"
echo "== wrote $out and BENCHMARKS.md" >&2

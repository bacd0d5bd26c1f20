// Command gobench is the Go side of gogroup's side-by-side benchmarks.
//
// It measures Go's sync.WaitGroup, goroutines, golang.org/x/sync/errgroup
// and context cancellation with the same harness shape and the same
// workload names as the Rust binary (bench/src/main.rs), and prints one
// JSON line per result:
//
//	{"lang":"go","impl":"go","workload":"wg_add_done_1t","ns_per_op":12.3,"ops":1000000,"round":0}
//
// It is deliberately not a `go test -bench` benchmark: both languages use
// the same plain harness (warm up, size the iteration count so that one
// measurement takes about --target-ms, measure once per round).
//
// --scale runs the scale runs (scale.go) and --blocking the blocking-task
// cases (blocking.go) instead, once per `make bench`.
//
// Usage: gobench [--filter SUBSTR] [--rounds N] [--round-start K] [--quick] [--list] [--scale] [--blocking]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// tasksPerBatch is N in the go+wait shapes: spawn N no-op tasks, then wait.
const tasksPerBatch = 10_000

// children is the fan-out of token_cancel_100_children.
const children = 100

// localWork is the "work" of Go's BenchmarkWaitGroup*Work shapes.
const localWork = 100

// threads is the parallelism of the *_2t shapes (the machine has 2 cores;
// testing.B.RunParallel would use GOMAXPROCS goroutines).
const threads = 2

// sink defeats dead-code elimination of results.
var sink int

// seed starts the local-work accumulator. Go's own benchmarks start it at the
// constant 0, which the compiler's constant propagation (Go >= 1.22) folds
// through the whole work loop, so their "Work" shapes do no work at all; a
// package variable keeps the work real (the Rust side does the same).
var seed = 1

// workload runs at least n operations and returns how many it ran.
type workload struct {
	name string
	run  func(n int) int
}

// parallel splits n operations over `threads` goroutines, each running
// body(its share), and returns the total.
func parallel(n int, body func(n int)) int {
	per := (n + threads - 1) / threads
	var start, done sync.WaitGroup
	start.Add(1)
	for range threads {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			body(per)
		}()
	}
	start.Done()
	done.Wait()
	return per * threads
}

// work is the local work loop of Go's benchmarkWaitGroupAddDone/Wait.
func work(foo int) int {
	for i := 0; i < localWork; i++ {
		foo *= 2
		foo /= 2
	}
	return foo
}

func batches(n int) int { return (n + tasksPerBatch - 1) / tasksPerBatch }

func workloads() []workload {
	return []workload{
		// --- sync.WaitGroup: Go's own BenchmarkWaitGroup* shapes ---
		{"wg_add_done_1t", func(n int) int {
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				wg.Done()
			}
			return n
		}},
		{"wg_add_done_2t", func(n int) int { // BenchmarkWaitGroupAddDone
			var wg sync.WaitGroup
			return parallel(n, func(n int) {
				for i := 0; i < n; i++ {
					wg.Add(1)
					wg.Done()
				}
			})
		}},
		{"wg_add_done_work_2t", func(n int) int { // BenchmarkWaitGroupAddDoneWork
			var wg sync.WaitGroup
			var mu sync.Mutex
			return parallel(n, func(n int) {
				foo := seed
				for i := 0; i < n; i++ {
					wg.Add(1)
					foo = work(foo)
					wg.Done()
				}
				mu.Lock()
				sink += foo
				mu.Unlock()
			})
		}},
		{"wg_add_done_wait_1t", func(n int) int {
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				wg.Done()
				wg.Wait()
			}
			return n
		}},
		{"wg_uncontended_2t", func(n int) int { // BenchmarkWaitGroupUncontended
			return parallel(n, func(n int) {
				type paddedWaitGroup struct {
					sync.WaitGroup
					pad [128]uint8
				}
				var wg paddedWaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					wg.Done()
					wg.Wait()
				}
			})
		}},
		{"wg_wait_zero_1t", func(n int) int {
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Wait()
			}
			return n
		}},
		{"wg_wait_zero_2t", func(n int) int { // BenchmarkWaitGroupWait
			var wg sync.WaitGroup
			return parallel(n, func(n int) {
				for i := 0; i < n; i++ {
					wg.Wait()
				}
			})
		}},
		{"wg_wait_zero_work_2t", func(n int) int { // BenchmarkWaitGroupWaitWork
			var wg sync.WaitGroup
			var mu sync.Mutex
			return parallel(n, func(n int) {
				foo := seed
				for i := 0; i < n; i++ {
					wg.Wait()
					foo = work(foo)
				}
				mu.Lock()
				sink += foo
				mu.Unlock()
			})
		}},
		{"wg_actually_wait_2t", func(n int) int { // BenchmarkWaitGroupActuallyWait
			return parallel(n, func(n int) {
				for i := 0; i < n; i++ {
					var wg sync.WaitGroup
					wg.Add(1)
					go func() {
						wg.Done()
					}()
					wg.Wait()
				}
			})
		}},

		// --- go + wait: N no-op tasks, then one wait; ns per task ---
		{"go_wait_noop", func(n int) int {
			b := batches(n)
			for range b {
				var wg sync.WaitGroup
				for range tasksPerBatch {
					wg.Go(func() {})
				}
				wg.Wait()
			}
			return b * tasksPerBatch
		}},

		// --- errgroup: N tasks returning nil, then Wait; ns per task ---
		{"errgroup_go_wait", func(n int) int {
			b := batches(n)
			for range b {
				var g errgroup.Group
				for range tasksPerBatch {
					g.Go(func() error { return nil })
				}
				if err := g.Wait(); err != nil {
					panic(err)
				}
			}
			return b * tasksPerBatch
		}},
		{"errgroup_go_wait_limit2", func(n int) int {
			b := batches(n)
			for range b {
				var g errgroup.Group
				g.SetLimit(2)
				for range tasksPerBatch {
					g.Go(func() error { return nil })
				}
				if err := g.Wait(); err != nil {
					panic(err)
				}
			}
			return b * tasksPerBatch
		}},

		// --- context cancellation ---
		{"token_new_cancel", func(n int) int {
			for i := 0; i < n; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if ctx.Err() == nil {
					sink++
				}
			}
			return n
		}},
		{"token_child_new_cancel", func(n int) int { // BenchmarkCommonParentCancel, 1 goroutine
			root, rootCancel := context.WithCancel(context.Background())
			defer rootCancel()
			for i := 0; i < n; i++ {
				ctx, cancel := context.WithCancel(root)
				cancel()
				if ctx.Err() == nil {
					sink++
				}
			}
			return n
		}},
		{"token_cancel_100_children", func(n int) int { // one op = new root + 100 children + cancel root
			cancels := make([]context.CancelFunc, children)
			for i := 0; i < n; i++ {
				root, cancel := context.WithCancel(context.Background())
				for j := range cancels {
					_, cancels[j] = context.WithCancel(root)
				}
				cancel()
			}
			return n
		}},
		{"token_is_cancelled_live", func(n int) int { // BenchmarkErrOK
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := 0
			for i := 0; i < n; i++ {
				if ctx.Err() != nil {
					c++
				}
			}
			sink += c
			return n
		}},
		{"token_is_cancelled_done", func(n int) int { // BenchmarkErrCanceled
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			c := 0
			for i := 0; i < n; i++ {
				if ctx.Err() != nil {
					c++
				}
			}
			sink += c
			return n
		}},
		{"token_is_cancelled_live_2t", func(n int) int { // BenchmarkErrOKParallel
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			return parallel(n, func(n int) {
				c := 0
				for i := 0; i < n; i++ {
					if ctx.Err() != nil {
						c++
					}
				}
				mu.Lock()
				sink += c
				mu.Unlock()
			})
		}},
	}
}

type result struct {
	Lang     string  `json:"lang"`
	Impl     string  `json:"impl"`
	Workload string  `json:"workload"`
	NsPerOp  float64 `json:"ns_per_op"`
	Ops      int     `json:"ops"`
	Round    int     `json:"round"`
}

func timeIt(w workload, n int) (time.Duration, int) {
	start := time.Now()
	ops := w.run(n)
	return time.Since(start), ops
}

// calibrate warms the workload up and returns an n for which one run
// takes about target.
func calibrate(w workload, target time.Duration, maxN int) int {
	n := 1
	for {
		d, ops := timeIt(w, n)
		if ops > n {
			n = ops
		}
		if d >= target/4 || n >= maxN {
			if d <= 0 {
				d = 1
			}
			next := int(float64(n) * float64(target) / float64(d))
			return max(1, min(next, maxN))
		}
		// Grow quickly, but at most 100x per step (like testing.B).
		next := n * 100
		if d > 0 {
			next = min(next, int(1.5*float64(n)*float64(target)/float64(d)))
		}
		n = max(n+1, min(next, maxN))
	}
}

// measure calibrates, then measures once; if that run was much shorter than
// target (a stall during calibration, or fixed costs such as starting
// goroutines dominated a tiny n), it re-sizes from it and measures again.
// It returns elapsed time and ops of the last run.
func measure(w workload, target time.Duration, maxN int) (time.Duration, int) {
	n := calibrate(w, target, maxN)
	for attempt := 1; ; attempt++ {
		d, ops := timeIt(w, n)
		if d >= target/2 || ops >= maxN || attempt >= 6 {
			return d, ops
		}
		next := int(float64(ops) * float64(target) / float64(max(d, 1)))
		n = max(ops+1, min(next, ops*100, maxN))
	}
}

func main() {
	filter := flag.String("filter", "", "run only workloads whose name contains this substring (comma-separated alternatives)")
	rounds := flag.Int("rounds", 1, "measurement rounds")
	roundStart := flag.Int("round-start", 0, "number of the first round (run.sh interleaves processes)")
	quick := flag.Bool("quick", false, "short smoke run (few iterations)")
	targetMs := flag.Int("target-ms", 150, "wall time of one measurement")
	list := flag.Bool("list", false, "list workload names and exit")
	latencySamples := flag.Int("latency-samples", 200, "samples per latency case and round")
	scale := flag.Bool("scale", false, "run the scale runs instead of the workloads")
	scaleCase := flag.String("scale-case", "", "run one scale case (in a fresh process)")
	blocking := flag.Bool("blocking", false, "run the blocking-task workloads instead of the workloads")
	blockingCase := flag.String("blocking-case", "", "run one blocking case WORKLOAD:IMPL:N (in a fresh process)")
	flag.Parse()
	if *blockingCase != "" {
		runBlockingCase(json.NewEncoder(os.Stdout), *blockingCase, *quick)
		return
	}
	if *blocking {
		runBlocking(*filter, *quick)
		return
	}
	if *scaleCase != "" {
		runScaleCase(json.NewEncoder(os.Stdout), *scaleCase, *quick)
		return
	}
	if *scale {
		runScale(json.NewEncoder(os.Stdout), *filter, *quick, *roundStart)
		return
	}

	target := time.Duration(*targetMs) * time.Millisecond
	maxN := 1 << 40
	if *quick {
		target = 10 * time.Millisecond
		maxN = 200_000
	}

	var selected []workload
	for _, w := range workloads() {
		if matches(w.name, *filter) {
			selected = append(selected, w)
		}
	}
	if *list {
		for _, w := range selected {
			fmt.Println(w.name)
		}
		return
	}
	// The blocking workloads run in their own phase (--blocking): a filter naming only them
	// selects nothing here, and that is not an error.
	if len(selected) == 0 && !anyLatency(*filter) && !anyBlocking(*filter) {
		fmt.Fprintf(os.Stderr, "no workload matches %q\n", *filter)
		os.Exit(2)
	}

	enc := json.NewEncoder(os.Stdout)
	for r := 0; r < *rounds; r++ {
		for _, w := range selected {
			d, ops := measure(w, target, maxN)
			res := result{
				Lang:     "go",
				Impl:     "go",
				Workload: w.name,
				NsPerOp:  float64(d.Nanoseconds()) / float64(ops),
				Ops:      ops,
				Round:    *roundStart + r,
			}
			if err := enc.Encode(res); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		samples := *latencySamples
		if *quick {
			samples = 20
		}
		runLatency(enc, *filter, samples, *roundStart+r)
	}
	if sink == -1 {
		fmt.Fprintln(os.Stderr, "unreachable")
	}
}

func matches(name, filter string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f != "" && strings.Contains(name, f) {
			return true
		}
	}
	return false
}

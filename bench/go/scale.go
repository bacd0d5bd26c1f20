package main

// Latency and scale runs of the Go side (see bench/src/latency.rs and
// bench/src/scale.rs for the Rust twins and the shapes).

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// settle lets a fresh waiter reach its blocking wait.
const settle = time.Millisecond

// latencySample starts a goroutine that runs wait, lets it block, runs
// release and returns the time until the goroutine ran again.
func latencySample(release func(), wait func()) int64 {
	woke := make(chan time.Time, 1)
	go func() {
		wait()
		woke <- time.Now()
	}()
	time.Sleep(settle)
	t0 := time.Now()
	release()
	return (<-woke).Sub(t0).Nanoseconds()
}

type latencyCase struct {
	name, impl string
	sample     func() int64
}

var latencyCases = []latencyCase{
	{"latency_cancel_thread", "go", func() int64 {
		ctx, cancel := context.WithCancel(context.Background())
		return latencySample(cancel, func() { <-ctx.Done() })
	}},
	{"latency_done_thread", "go", func() int64 {
		var wg sync.WaitGroup
		wg.Add(1)
		return latencySample(wg.Done, wg.Wait)
	}},
}

func anyLatency(filter string) bool {
	for _, c := range latencyCases {
		if matches(c.name, filter) {
			return true
		}
	}
	return false
}

func percentiles(s []int64) (int64, int64) {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) int64 {
		i := int(p*float64(len(s)) + 0.999999)
		i = max(1, min(i, len(s))) - 1
		return s[i]
	}
	return at(0.50), at(0.99)
}

func runLatency(enc *json.Encoder, filter string, samples, round int) {
	for _, c := range latencyCases {
		if !matches(c.name, filter) {
			continue
		}
		s := make([]int64, 0, samples)
		for i := 0; i < samples; i++ {
			s = append(s, c.sample())
		}
		p50, p99 := percentiles(s)
		must(enc.Encode(map[string]any{
			"lang": "go", "impl": c.impl, "kind": "latency", "workload": c.name,
			"p50_ns": p50, "p99_ns": p99, "samples": len(s), "round": round,
		}))
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// procStatus returns a field of /proc/self/status (kB or a count), 0 if unknown.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

func scaleGoWait(n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {})
	}
	wg.Wait()
}

func scaleGoWaitLimit64(n int) {
	var g errgroup.Group
	g.SetLimit(64)
	for i := 0; i < n; i++ {
		g.Go(func() error { return nil })
	}
	must(g.Wait())
}

// perTask returns the median ns per task of repeated f(n): at least 3 runs,
// more until budget is spent (at most 200).
func perTask(f func(int), n int, budget time.Duration) (float64, int) {
	f(min(n, 10_000))
	var runs []float64
	start := time.Now()
	for len(runs) < 3 || (time.Since(start) < budget && len(runs) < 200) {
		t := time.Now()
		f(n)
		runs = append(runs, float64(time.Since(t).Nanoseconds())/float64(n))
	}
	sort.Float64s(runs)
	return runs[len(runs)/2], len(runs)
}

func runScale(enc *json.Encoder, filter string, quick bool, round int) {
	maxN, budget := 1_000_000, 200*time.Millisecond
	if quick {
		maxN, budget = 100_000, 10*time.Millisecond
	}
	if matches("scale_go_wait", filter) {
		for n := 10; n <= maxN; n *= 10 {
			for _, c := range []struct {
				name string
				f    func(int)
			}{{"scale_go_wait", scaleGoWait}, {"scale_go_wait_limit64", scaleGoWaitLimit64}} {
				ns, runs := perTask(c.f, n, budget)
				must(enc.Encode(map[string]any{
					"lang": "go", "impl": "go", "kind": "scale", "workload": c.name,
					"n": n, "ns_per_task": ns, "runs": runs, "round": round,
				}))
			}
		}
	}
	exe, err := os.Executable()
	must(err)
	for _, name := range []string{"errgroup_1m_limit64", "deadlines_100k", "child_tokens_1m"} {
		if !matches(name, filter) {
			continue
		}
		runInChild(exe, "--scale-case", name, quick)
	}
}

// runInChild runs this program again with `flag name` (one case in a fresh process, so that
// its threads and memory are its own), passing its output through.
func runInChild(exe, flag, name string, quick bool) {
	args := []string{flag, name}
	if quick {
		args = append(args, "--quick")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	must(cmd.Run())
}

func runScaleCase(enc *json.Encoder, name string, quick bool) {
	out := map[string]any{"lang": "go", "impl": "go", "kind": "scale", "workload": name}
	switch name {
	case "errgroup_1m_limit64":
		n := 1_000_000
		if quick {
			n = 100_000
		}
		rss0 := procStatus("VmRSS")
		t := time.Now()
		scaleGoWaitLimit64(n)
		secs := time.Since(t).Seconds()
		out["n"], out["seconds"], out["ns_per_task"] = n, secs, secs*1e9/float64(n)
		out["rss_before_kb"], out["peak_rss_kb"], out["threads_after"] = rss0, procStatus("VmHWM"), procStatus("Threads")
	case "deadlines_100k":
		n := 100_000
		if quick {
			n = 10_000
		}
		root, cancelRoot := context.WithCancel(context.Background())
		threads0, rss0 := procStatus("Threads"), procStatus("VmRSS")
		t := time.Now()
		ctxs := make([]context.Context, 0, n)
		cancels := make([]context.CancelFunc, 0, n)
		for i := 0; i < n; i++ {
			c, cancel := context.WithTimeout(root, time.Hour+time.Duration(i)*time.Second)
			ctxs, cancels = append(ctxs, c), append(cancels, cancel)
		}
		secs := time.Since(t).Seconds()
		time.Sleep(50 * time.Millisecond)
		threads1, rss1 := procStatus("Threads"), procStatus("VmRSS")
		t = time.Now()
		cancelRoot()
		cancelSecs := time.Since(t).Seconds()
		for _, c := range ctxs {
			if c.Err() == nil {
				panic("not cancelled")
			}
		}
		for _, c := range cancels {
			c()
		}
		out["n"], out["create_seconds"], out["cancel_all_seconds"] = n, secs, cancelSecs
		out["threads_before"], out["threads_after"] = threads0, threads1
		out["rss_before_kb"], out["rss_after_kb"] = rss0, rss1
	case "child_tokens_1m":
		n := 1_000_000
		if quick {
			n = 100_000
		}
		step := n / 20
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		var series [][2]int64
		t := time.Now()
		for i := 0; i <= n; i++ {
			if i%step == 0 {
				series = append(series, [2]int64{int64(i), procStatus("VmRSS")})
			}
			if i < n {
				_, cancel := context.WithCancel(parent)
				cancel()
			}
		}
		secs := time.Since(t).Seconds()
		out["n"], out["seconds"], out["ns_per_child"] = n, secs, secs*1e9/float64(n)
		out["peak_rss_kb"], out["series"] = procStatus("VmHWM"), series
	default:
		panic("unknown scale case " + name)
	}
	must(enc.Encode(out))
}

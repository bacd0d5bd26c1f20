package main

// Blocking and long tasks, the Go side (see bench/src/blocking.rs for the
// shapes and the Rust twins). Every case runs in a fresh process
// (--blocking-case WORKLOAD:IMPL:N) so that its thread counts are its own.

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	blockSleep     = 50 * time.Millisecond
	idleWindow     = 200 * time.Millisecond
	cpuTasks       = 64
	cpuTask        = 20 * time.Millisecond
	shortTask      = 20 * time.Microsecond
	sleeperEvery   = 50
	streamSleep    = 20 * time.Millisecond
	streamBurst    = 4
	streamPeriod   = 200 * time.Microsecond
	waitedSamples  = 300
	waitedQuickMax = 50
)

var blockingWorkloads = []string{"blocking_sleep_50ms", "blocking_cpu_64", "blocking_waited_latency"}

func anyBlocking(filter string) bool {
	for _, w := range blockingWorkloads {
		if matches(w, filter) {
			return true
		}
	}
	return false
}

// processCPU returns the CPU time of the whole process (all threads).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampler records the peak of /proc/self/status Threads every ~1 ms. It is a
// goroutine locked to its own OS thread (so it is not starved by the work).
type sampler struct {
	stop atomic.Bool
	peak atomic.Int64
	done chan struct{}
}

func startSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.peak.Store(procStatus("Threads"))
	go func() {
		runtime.LockOSThread()
		defer close(s.done)
		for !s.stop.Load() {
			if t := procStatus("Threads"); t > s.peak.Load() {
				s.peak.Store(t)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Millisecond)
	return s
}

func (s *sampler) finish() int64 {
	s.stop.Store(true)
	<-s.done
	return s.peak.Load()
}

// observe runs run (start the tasks, wait for them) under the sampler, then
// watches the idle process for idleWindow.
func observe(out map[string]any, run func()) {
	out["threads_before"] = procStatus("Threads")
	s := startSampler()
	t := time.Now()
	run()
	out["seconds"] = time.Since(t).Seconds()
	after := procStatus("Threads")
	// Threads still being started when the wait returns count towards the peak.
	out["peak_threads"], out["threads_after"] = max(s.finish(), after), after
	cpu0, wall0 := processCPU(), time.Now()
	time.Sleep(idleWindow)
	out["idle_cpu_ms"] = float64(processCPU()-cpu0) / 1e6
	out["idle_window_ms"] = float64(time.Since(wall0).Microseconds()) / 1e3
}

// spin is arithmetic the compiler cannot drop: iters steps of an LCG.
func spin(iters int) uint64 {
	x := uint64(seed) * 0x9E3779B97F4A7C15
	for i := 0; i < iters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

var spinSink atomic.Uint64

// itersFor returns the iterations of spin that take about d on one thread.
func itersFor(d time.Duration) int {
	spinSink.Add(spin(100_000))
	best := time.Hour
	for i := 0; i < 5; i++ {
		t := time.Now()
		spinSink.Add(spin(1_000_000))
		best = min(best, time.Since(t))
	}
	return int(1_000_000 * d.Seconds() / best.Seconds())
}

func blockingSleepGo(n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() { time.Sleep(blockSleep) })
	}
	wg.Wait()
}

// blockingSleepSyscall: goroutines that block in a system call (nanosleep)
// rather than on a Go timer: each holds an OS thread, as a gogroup task does.
func blockingSleepSyscall(n int) {
	debug.SetMaxThreads(1 << 20)
	ts := syscall.NsecToTimespec(blockSleep.Nanoseconds())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			t := ts
			for syscall.Nanosleep(&t, &t) == syscall.EINTR {
			}
		})
	}
	wg.Wait()
}

func cpuGo(iters int) {
	var wg sync.WaitGroup
	for i := 0; i < cpuTasks; i++ {
		wg.Go(func() { spinSink.Add(spin(iters)) })
	}
	wg.Wait()
}

func waitedLatency(samples int) map[string]any {
	shortIters := itersFor(shortTask)
	var stop atomic.Bool
	var submitted atomic.Int64
	var stream sync.WaitGroup
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		i := int64(0)
		next := time.Now()
		for !stop.Load() {
			now := time.Now()
			if now.Before(next) {
				time.Sleep(next.Sub(now))
				continue
			}
			// At most 10 ms of catching up after a stall.
			if lag := now.Add(-10 * time.Millisecond); next.Before(lag) {
				next = lag
			}
			next = next.Add(streamPeriod)
			for b := 0; b < streamBurst; b++ {
				i++
				if i%sleeperEvery == 0 {
					stream.Go(func() { time.Sleep(streamSleep) })
				} else {
					stream.Go(func() { spinSink.Add(spin(shortIters)) })
				}
			}
			submitted.Store(i)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	out := map[string]any{"threads_before": procStatus("Threads")}
	s := startSampler()
	lat := make([]int64, 0, samples)
	var mu sync.Mutex
	t := time.Now()
	sub0 := submitted.Load()
	for i := 0; i < samples; i++ {
		var wg sync.WaitGroup
		wg.Go(func() {
			var t2 sync.WaitGroup
			at := time.Now()
			t2.Go(func() {
				d := time.Since(at).Nanoseconds()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
			t2.Wait()
		})
		wg.Wait()
		time.Sleep(time.Millisecond)
	}
	secs := time.Since(t).Seconds()
	out["stream_tasks_per_s"] = float64(submitted.Load()-sub0) / secs
	stop.Store(true)
	<-streamDone
	stream.Wait()
	out["peak_threads"] = s.finish()
	maxNs := int64(0)
	for _, v := range lat {
		maxNs = max(maxNs, v)
	}
	p50, p99 := percentiles(lat)
	out["samples"], out["p50_ns"], out["p99_ns"], out["max_ns"] = len(lat), p50, p99, maxNs
	return out
}

func blockingCases(quick bool, filter string) []string {
	var out []string
	if matches("blocking_sleep_50ms", filter) {
		ns := []int{100, 1_000, 10_000}
		if quick {
			ns = ns[:2]
		}
		for _, n := range ns {
			for _, impl := range []string{"go", "go-syscall-sleep"} {
				out = append(out, fmt.Sprintf("blocking_sleep_50ms:%s:%d", impl, n))
			}
		}
	}
	if matches("blocking_cpu_64", filter) {
		out = append(out, fmt.Sprintf("blocking_cpu_64:go:%d", cpuTasks))
	}
	if matches("blocking_waited_latency", filter) {
		out = append(out, "blocking_waited_latency:go:0")
	}
	return out
}

func runBlocking(filter string, quick bool) {
	exe, err := os.Executable()
	must(err)
	for _, c := range blockingCases(quick, filter) {
		runInChild(exe, "--blocking-case", c, quick)
	}
}

func runBlockingCase(enc *json.Encoder, c string, quick bool) {
	parts := strings.SplitN(c, ":", 3)
	if len(parts) != 3 {
		panic("bad blocking case " + c)
	}
	workload, impl := parts[0], parts[1]
	n, err := strconv.Atoi(parts[2])
	must(err)
	out := map[string]any{"lang": "go", "impl": impl, "kind": "blocking", "workload": workload, "n": n}
	switch workload + ":" + impl {
	case "blocking_sleep_50ms:go":
		observe(out, func() { blockingSleepGo(n) })
	case "blocking_sleep_50ms:go-syscall-sleep":
		observe(out, func() { blockingSleepSyscall(n) })
	case "blocking_cpu_64:go":
		iters := itersFor(cpuTask)
		observe(out, func() { cpuGo(iters) })
		out["task_ms"] = float64(cpuTask.Milliseconds())
		out["ideal_seconds"] = cpuTasks * cpuTask.Seconds() / float64(runtime.NumCPU())
	case "blocking_waited_latency:go":
		samples := waitedSamples
		if quick {
			samples = waitedQuickMax
		}
		for k, v := range waitedLatency(samples) {
			out[k] = v
		}
	default:
		panic("unknown blocking case " + c)
	}
	must(enc.Encode(out))
}

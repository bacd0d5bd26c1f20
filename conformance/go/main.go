// Command conformance is the Go reference driver of gogroup's conformance suite.
//
// It runs each scenario (conformance/scenarios/*.json, format in conformance/README.md) against
// real Go: sync.WaitGroup, golang.org/x/sync/errgroup (pinned in go.mod) and context, and prints
// one JSON line per scenario:
//
//	{"scenario":"wg_add_done_wait","status":"pass","detail":"","ms":1}
//
// A scenario marked "departure" is run with its "go" overrides, which state Go's own behaviour
// (a panic instead of an error, a call that blocks instead of returning…); if Go behaves as
// stated, the status is "departure", otherwise "fail". A departure whose Go behaviour is a crash
// ("go_crash") runs in a child process of this driver, which must die with that text on stderr.
//
// Usage: conformance [-bound 10s] FILE.json...
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// scenario is one conformance/scenarios/*.json file.
type scenario struct {
	Name      string            `json:"name"`
	Errors    map[string]string `json:"errors"`
	Departure *departure        `json:"departure"`
	Steps     []any             `json:"steps"`
}

// departure marks a scenario where gogroup differs from Go on purpose.
type departure struct {
	Why     string `json:"why"`
	GoCrash string `json:"go_crash"`
}

// result is the one line printed per scenario.
type result struct {
	Scenario string `json:"scenario"`
	Status   string `json:"status"`
	Detail   string `json:"detail"`
	Ms       int64  `json:"ms"`
}

// bound is the upper bound of every blocking step: reaching it means a hang (a lost wake-up),
// never a slow machine.
var bound = 10 * time.Second

func main() {
	flag.DurationVar(&bound, "bound", bound, "upper bound of every blocking step")
	crashChild := flag.Bool("crash-child", false, "internal: run one go_crash scenario in this process")
	flag.Parse()
	if *crashChild {
		runCrashChild(flag.Arg(0))
		return
	}
	out := json.NewEncoder(os.Stdout)
	for _, path := range flag.Args() {
		start := time.Now()
		sc, err := load(path)
		var res result
		if err != nil {
			res = result{Scenario: strings.TrimSuffix(filepath.Base(path), ".json"), Status: "fail", Detail: err.Error()}
		} else {
			res = runScenario(path, sc)
		}
		res.Ms = time.Since(start).Milliseconds()
		if err := out.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

func load(path string) (*scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sc scenario
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Go runs the Go overrides: that is what the "go" keys are for.
	sc.Steps = applyGo(sc.Steps).([]any)
	return &sc, nil
}

// applyGo rewrites every step that carries a "go" override: an object is merged over the step,
// an array replaces the step (an empty array removes it).
func applyGo(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				out = append(out, applyGo(e))
				continue
			}
			over, has := m["go"]
			if !has {
				out = append(out, applyGo(m))
				continue
			}
			switch over := over.(type) {
			case []any:
				out = append(out, applyGo(over).([]any)...)
			case map[string]any:
				merged := map[string]any{}
				for k, x := range m {
					if k != "go" {
						merged[k] = x
					}
				}
				for k, x := range over {
					merged[k] = x
				}
				out = append(out, applyGo(merged))
			}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = applyGo(x)
		}
		return out
	default:
		return v
	}
}

func runScenario(path string, sc *scenario) result {
	res := result{Scenario: sc.Name, Status: "pass"}
	okStatus := "pass"
	if sc.Departure != nil {
		okStatus = "departure"
	}
	if sc.Departure != nil && sc.Departure.GoCrash != "" {
		if err := expectCrash(path, sc.Departure.GoCrash); err != nil {
			res.Status, res.Detail = "fail", err.Error()
		} else {
			res.Status = okStatus
		}
		return res
	}
	r := newRun(sc)
	err := r.steps(sc.Steps)
	r.finish()
	if err == nil {
		err = r.taskFailure()
	}
	if err != nil {
		res.Status, res.Detail = "fail", err.Error()
	} else {
		res.Status = okStatus
	}
	return res
}

// expectCrash runs the scenario in a child process, which must die with want on stderr (Go's
// behaviour for a panicking goroutine: the whole process crashes).
func expectCrash(path, want string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-bound", bound.String(), "-crash-child", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return fmt.Errorf("expected Go to crash with %q, but the scenario ran to its end", want)
	}
	if !strings.Contains(stderr.String(), want) {
		tail := stderr.String()
		if len(tail) > 300 {
			tail = tail[:300]
		}
		return fmt.Errorf("expected a crash with %q, got %v: %s", want, err, tail)
	}
	return nil
}

// runCrashChild runs the scenario's steps and, if the expected crash has not happened by then,
// waits for it up to the bound and exits normally (which the parent reports as a failure).
func runCrashChild(path string) {
	sc, err := load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	r := newRun(sc)
	_ = r.steps(sc.Steps)
	time.Sleep(bound) // only an upper bound: the crash normally ends this process long before
	os.Exit(0)
}

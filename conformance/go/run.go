package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// errTimeout is what the Go driver's bounded waits return: Go has no timed wait, so the driver
// uses the idiom Go's maintainers point to (a goroutine and a select, golang/go#32230).
var errTimeout = errors.New("wait timed out")

// token is a named context and what cancels it.
type token struct {
	ctx    context.Context
	cancel context.CancelCauseFunc // nil: the scenario may not cancel it directly
	stop   func()                  // releases a deadline's timer; may be nil
}

// group is a named errgroup.
type group struct {
	g *errgroup.Group
}

// call is a step running in its own goroutine ("async"), or a spawned task.
type call struct {
	done chan struct{}
	err  error
}

type event struct {
	once sync.Once
	ch   chan struct{}
}

type gauge struct{ cur, max int }

// run is the state of one scenario.
type run struct {
	sc    *scenario
	abort chan struct{}

	mu       sync.Mutex
	wgs      map[string]*sync.WaitGroup
	tokens   map[string]*token
	groups   map[string]*group
	regs     map[string]func() bool
	calls    map[string]*call
	spawned  []*call
	events   map[string]*event
	errs     map[string]error
	log      []string
	counters map[string]int
	gauges   map[string]*gauge
	failures []string
}

func newRun(sc *scenario) *run {
	r := &run{
		sc:       sc,
		abort:    make(chan struct{}),
		wgs:      map[string]*sync.WaitGroup{},
		tokens:   map[string]*token{},
		groups:   map[string]*group{},
		regs:     map[string]func() bool{},
		calls:    map[string]*call{},
		events:   map[string]*event{},
		errs:     map[string]error{},
		counters: map[string]int{},
		gauges:   map[string]*gauge{},
	}
	return r
}

// finish releases whatever a failed scenario left blocked, so it cannot disturb the next one.
func (r *run) finish() {
	close(r.abort)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tokens {
		if t.cancel != nil {
			t.cancel(nil)
		}
		if t.stop != nil {
			t.stop()
		}
	}
}

func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *run) taskFailure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) > 0 {
		return errors.New("in a task or callback: " + strings.Join(r.failures, "; "))
	}
	return nil
}

// namedError returns the scenario's error called name: one value per name, so identity holds.
func (r *run) namedError(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.errs[name]; ok {
		return e
	}
	msg := name
	if m, ok := r.sc.Errors[name]; ok {
		msg = m
	}
	e := errors.New(msg)
	r.errs[name] = e
	return e
}

func (r *run) event(name string) *event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, ok := r.events[name]
	if !ok {
		ev = &event{ch: make(chan struct{})}
		r.events[name] = ev
	}
	return ev
}

func (r *run) signal(name string) {
	ev := r.event(name)
	ev.once.Do(func() { close(ev.ch) })
}

func (r *run) await(name string) error {
	select {
	case <-r.event(name).ch:
		return nil
	case <-time.After(bound):
		return fmt.Errorf("event %q not set within %v (a hang here means a lost wake-up)", name, bound)
	case <-r.abort:
		return fmt.Errorf("scenario ended while waiting for event %q", name)
	}
}

func (r *run) tok(name string) (*token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[name]
	if !ok {
		return nil, fmt.Errorf("no token %q", name)
	}
	return t, nil
}

// ---- tasks and callbacks ------------------------------------------------------------------

// actions runs a task's or a callback's "do" list.
func (r *run) actions(list []any) error {
	for _, a := range list {
		m, ok := a.(map[string]any)
		if !ok {
			return fmt.Errorf("action %v is not an object", a)
		}
		if err := r.action(m); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) action(m map[string]any) error {
	for k, v := range m {
		switch k {
		case "signal":
			r.signal(str(v))
		case "await":
			if err := r.await(str(v)); err != nil {
				return err
			}
		case "await_cancel":
			t, err := r.tok(str(v))
			if err != nil {
				return err
			}
			select {
			case <-t.ctx.Done():
			case <-time.After(bound):
				return fmt.Errorf("token %q not cancelled within %v (a hang here means a lost wake-up)", str(v), bound)
			case <-r.abort:
				return fmt.Errorf("scenario ended while waiting for token %q", str(v))
			}
		case "record":
			r.mu.Lock()
			r.log = append(r.log, str(v))
			r.mu.Unlock()
		case "count":
			r.mu.Lock()
			r.counters[str(v)]++
			r.mu.Unlock()
		case "enter", "leave":
			r.mu.Lock()
			gg, ok := r.gauges[str(v)]
			if !ok {
				gg = &gauge{}
				r.gauges[str(v)] = gg
			}
			if k == "enter" {
				gg.cur++
				gg.max = max(gg.max, gg.cur)
			} else {
				gg.cur--
			}
			r.mu.Unlock()
		case "step":
			st, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("step action %v is not an object", v)
			}
			if err := r.step(st); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown action %q", k)
		}
	}
	return nil
}

// task runs a task spec and returns what the task returns (a panic is a real Go panic).
func (r *run) task(spec any) error {
	m, ok := spec.(map[string]any)
	if !ok {
		r.fail("task %v is not an object", spec)
		return nil
	}
	if do, ok := m["do"].([]any); ok {
		if err := r.actions(do); err != nil {
			r.fail("%v", err)
		}
	}
	if p, ok := m["panics"]; ok {
		panic(str(p))
	}
	switch ret := m["returns"].(type) {
	case nil:
		return nil
	case string:
		return r.namedError(ret)
	case map[string]any:
		if name, ok := ret["cause_of"]; ok {
			t, err := r.tok(str(name))
			if err != nil {
				r.fail("%v", err)
				return nil
			}
			return context.Cause(t.ctx)
		}
	}
	r.fail("bad returns %v", m["returns"])
	return nil
}

// ---- matching -----------------------------------------------------------------------------

var kindName = regexp.MustCompile(`^[A-Z_]+$`)

// kindOf names err's kind in core's vocabulary.
func (r *run) kindOf(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, context.Canceled):
		return "CANCELED"
	case errors.Is(err, context.DeadlineExceeded):
		return "DEADLINE_EXCEEDED"
	case errors.Is(err, errTimeout):
		return "TIMEOUT"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if e == err {
			return "CUSTOM"
		}
	}
	return "UNKNOWN"
}

// matchErr checks an error against a matcher: null (no error), "KIND", "name" (that very
// error), or {"kind", "is", "message", "contains"}.
func (r *run) matchErr(want any, got error) error {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Errorf("want no error, got %s %q", r.kindOf(got), got)
		}
		return nil
	case string:
		if kindName.MatchString(w) {
			if k := r.kindOf(got); k != w {
				return fmt.Errorf("want %s, got %s (%v)", w, k, got)
			}
			return nil
		}
		if e := r.namedError(w); got != e {
			return fmt.Errorf("want the error %q itself, got %s (%v)", w, r.kindOf(got), got)
		}
		return nil
	case map[string]any:
		if got == nil {
			return fmt.Errorf("want an error %v, got none", w)
		}
		if k, ok := w["kind"]; ok {
			if err := r.matchErr(k, got); err != nil {
				return err
			}
		}
		if n, ok := w["is"]; ok {
			if err := r.matchErr(n, got); err != nil {
				return err
			}
		}
		if msg, ok := w["message"]; ok && got.Error() != str(msg) {
			return fmt.Errorf("want message %q, got %q", str(msg), got.Error())
		}
		if sub, ok := w["contains"]; ok && !strings.Contains(got.Error(), str(sub)) {
			return fmt.Errorf("want a message containing %q, got %q", str(sub), got.Error())
		}
		return nil
	}
	return fmt.Errorf("bad error matcher %v", want)
}

// protect runs f and returns its panic value, if any.
func protect(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// outcome checks the error an op returned, or the panic it raised, against the step's
// "expect" (default: success). {"panic": "text"} expects a panic whose value prints as text.
func (r *run) outcome(st map[string]any, got error, p any) error {
	want := st["expect"]
	if w, ok := want.(map[string]any); ok {
		if text, ok := w["panic"]; ok {
			if p == nil {
				return fmt.Errorf("want a panic %q, got none (error %v)", str(text), got)
			}
			if fmt.Sprint(p) != str(text) {
				return fmt.Errorf("want a panic %q, got a panic %q", str(text), fmt.Sprint(p))
			}
			return nil
		}
	}
	if p != nil {
		return fmt.Errorf("panicked: %v", p)
	}
	return r.matchErr(want, got)
}

// ---- helpers ------------------------------------------------------------------------------

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	switch v := v.(type) {
	case float64:
		return int64(v)
	case int:
		return int64(v)
	}
	return 0
}

// waitBounded runs f in a goroutine and waits for it until bound (a hang) or, if timeout is
// not negative, until timeout (errTimeout), or until ctx is done (its cause).
func waitBounded(ctx context.Context, f func(), timeout time.Duration) (hung bool, err error) {
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	var timer <-chan time.Time
	if timeout >= 0 {
		timer = time.After(timeout)
	}
	var cancelled <-chan struct{}
	if ctx != nil {
		cancelled = ctx.Done()
	}
	select {
	case <-done:
		return false, nil
	case <-timer:
		return false, errTimeout
	case <-cancelled:
		return false, context.Cause(ctx)
	case <-time.After(bound):
		return true, nil
	}
}

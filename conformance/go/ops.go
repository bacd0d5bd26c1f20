package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// steps runs a list of steps in order and stops at the first failure.
func (r *run) steps(list []any) error {
	for i, s := range list {
		st, ok := s.(map[string]any)
		if !ok {
			return fmt.Errorf("step %d is not an object", i+1)
		}
		if err := r.step(st); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, str(st["op"]), err)
		}
	}
	return nil
}

// step runs one step, in its own goroutine if it has "async" (see join and blocked).
func (r *run) step(st map[string]any) error {
	name, ok := st["async"]
	if !ok {
		return r.exec(st)
	}
	c := &call{done: make(chan struct{})}
	r.mu.Lock()
	r.calls[str(name)] = c
	r.mu.Unlock()
	go func() {
		defer close(c.done)
		c.err = r.exec(st)
	}()
	return nil
}

func (r *run) exec(st map[string]any) error {
	op := str(st["op"])
	switch {
	case strings.HasPrefix(op, "wg."):
		return r.waitGroupOp(op, st)
	case strings.HasPrefix(op, "token."), op == "reg.stop":
		return r.tokenOp(op, st)
	case strings.HasPrefix(op, "eg."):
		return r.groupOp(op, st)
	}
	return r.generalOp(op, st)
}

// ---- sync.WaitGroup -----------------------------------------------------------------------

func (r *run) waitGroupOp(op string, st map[string]any) error {
	if op == "wg.new" {
		r.mu.Lock()
		r.wgs[str(st["id"])] = &sync.WaitGroup{}
		r.mu.Unlock()
		return nil
	}
	r.mu.Lock()
	wg, ok := r.wgs[str(st["wg"])]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("no wait group %q", str(st["wg"]))
	}
	switch op {
	case "wg.add":
		return r.outcome(st, nil, protect(func() { wg.Add(int(num(st["delta"]))) }))
	case "wg.done":
		return r.outcome(st, nil, protect(wg.Done))
	case "wg.count":
		if got, want := waitGroupCounter(wg), num(st["expect"]); got != want {
			return fmt.Errorf("want counter %d, got %d", want, got)
		}
		return nil
	case "wg.go":
		task := st["task"]
		wg.Go(func() { _ = r.task(task) })
		return nil
	case "wg.wait":
		var ctx context.Context
		if name, ok := st["token"]; ok {
			t, err := r.tok(str(name))
			if err != nil {
				return err
			}
			ctx = t.ctx
		}
		hung, err := waitBounded(ctx, wg.Wait, timeoutOf(st))
		if hung {
			return fmt.Errorf("wait did not return within %v (a hang here means a lost wake-up)", bound)
		}
		return r.outcome(st, err, nil)
	}
	return fmt.Errorf("unknown op %q", op)
}

// waitGroupCounter reads Go's own counter: the high 32 bits of WaitGroup.state, as an int32
// (go-semantics.md W3). Go has no accessor; the scenarios use it to show Go's corrupted counter.
func waitGroupCounter(wg *sync.WaitGroup) int64 {
	state := (*atomic.Uint64)(reflect.ValueOf(wg).Elem().FieldByName("state").Addr().UnsafePointer())
	return int64(int32(state.Load() >> 32))
}

func timeoutOf(st map[string]any) time.Duration {
	if ms, ok := st["timeout_ms"]; ok {
		return time.Duration(num(ms)) * time.Millisecond
	}
	return -1
}

// ---- context ------------------------------------------------------------------------------

func (r *run) tokenOp(op string, st map[string]any) error {
	switch op {
	case "token.new":
		ctx, cancel := context.WithCancelCause(context.Background())
		return r.addToken(st, &token{ctx: ctx, cancel: cancel})
	case "token.child":
		p, err := r.tok(str(st["parent"]))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancelCause(p.ctx)
		return r.addToken(st, &token{ctx: ctx, cancel: cancel})
	case "token.with_timeout", "token.with_deadline":
		p, err := r.tok(str(st["parent"]))
		if err != nil {
			return err
		}
		var d time.Time
		if op == "token.with_timeout" {
			d = time.Now().Add(time.Duration(num(st["timeout_ms"])) * time.Millisecond)
		} else {
			switch str(st["deadline"]) {
			case "past":
				d = time.Now().Add(-time.Second)
			case "now":
				d = time.Now()
			case "far":
				d = time.Now().Add(time.Hour)
			default:
				return fmt.Errorf("deadline must be past, now or far, not %v", st["deadline"])
			}
		}
		var dctx context.Context
		var stop context.CancelFunc
		if c, ok := st["cause"]; ok {
			dctx, stop = context.WithDeadlineCause(p.ctx, d, r.namedError(str(c)))
		} else {
			dctx, stop = context.WithDeadline(p.ctx, d)
		}
		// Scenarios may cancel any token, with or without a cause: wrap the deadline context
		// in a WithCancelCause child, which reports the deadline's err and cause when it fires.
		ctx, cancel := context.WithCancelCause(dctx)
		return r.addToken(st, &token{ctx: ctx, cancel: cancel, stop: stop})
	case "token.any":
		// Go has no merge; this is its documented recipe (ExampleAfterFunc_merge, go-semantics C17).
		var inputs []*token
		for _, n := range st["of"].([]any) {
			t, err := r.tok(str(n))
			if err != nil {
				return err
			}
			inputs = append(inputs, t)
		}
		parent := context.Background()
		if len(inputs) > 0 {
			parent = inputs[0].ctx
		}
		ctx, cancel := context.WithCancelCause(parent)
		var stops []func() bool
		for _, in := range inputs[min(1, len(inputs)):] {
			in := in
			stops = append(stops, context.AfterFunc(in.ctx, func() { cancel(context.Cause(in.ctx)) }))
		}
		stop := func() {
			for _, s := range stops {
				s()
			}
		}
		return r.addToken(st, &token{ctx: ctx, cancel: cancel, stop: stop})
	case "token.cancel":
		t, err := r.tok(str(st["token"]))
		if err != nil {
			return err
		}
		if t.cancel == nil {
			return errors.New("Go cannot cancel this context directly (an errgroup's)")
		}
		var cause error
		if c, ok := st["cause"]; ok {
			cause = r.namedError(str(c))
		}
		// Go's cancel functions return nothing; "this call cancelled it" is read off Err.
		first := t.ctx.Err() == nil
		t.cancel(cause)
		if t.stop != nil {
			t.stop()
		}
		if want, ok := st["expect"]; ok && want.(bool) != first {
			return fmt.Errorf("want cancel to return %v, got %v", want, first)
		}
		return nil
	case "token.check":
		t, err := r.tok(str(st["token"]))
		if err != nil {
			return err
		}
		return r.checkToken(t, st)
	case "token.wait":
		t, err := r.tok(str(st["token"]))
		if err != nil {
			return err
		}
		want := true
		if w, ok := st["expect"]; ok {
			want = w.(bool)
		}
		limit := bound
		if ms, ok := st["timeout_ms"]; ok {
			limit = time.Duration(num(ms)) * time.Millisecond
		}
		got := false
		select {
		case <-t.ctx.Done():
			got = true
		case <-time.After(limit):
		}
		if got != want {
			if _, ok := st["timeout_ms"]; !ok {
				return fmt.Errorf("token not cancelled within %v (a hang here means a lost wake-up)", bound)
			}
			return fmt.Errorf("want wait to return %v, got %v", want, got)
		}
		return nil
	case "token.on_cancel":
		t, err := r.tok(str(st["token"]))
		if err != nil {
			return err
		}
		do, _ := st["do"].([]any)
		wantCause, checkCause := st["expect_cause"]
		stop := context.AfterFunc(t.ctx, func() {
			if checkCause {
				if err := r.matchErr(wantCause, context.Cause(t.ctx)); err != nil {
					r.fail("on_cancel cause: %v", err)
				}
			}
			if err := r.actions(do); err != nil {
				r.fail("on_cancel: %v", err)
			}
		})
		r.mu.Lock()
		r.regs[str(st["id"])] = stop
		r.mu.Unlock()
		return nil
	case "reg.stop":
		r.mu.Lock()
		stop, ok := r.regs[str(st["reg"])]
		r.mu.Unlock()
		if !ok {
			return fmt.Errorf("no registration %q", str(st["reg"]))
		}
		if got, want := stop(), st["expect"].(bool); got != want {
			return fmt.Errorf("want stop to return %v, got %v", want, got)
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", op)
}

func (r *run) addToken(st map[string]any, t *token) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens[str(st["id"])] = t
	return nil
}

func (r *run) checkToken(t *token, st map[string]any) error {
	if want, ok := st["cancelled"]; ok {
		if got := t.ctx.Err() != nil; got != want.(bool) {
			return fmt.Errorf("want cancelled=%v, got %v", want, got)
		}
	}
	if want, ok := st["err"]; ok {
		if err := r.matchErr(want, t.ctx.Err()); err != nil {
			return fmt.Errorf("err: %w", err)
		}
	}
	if want, ok := st["cause"]; ok {
		if err := r.matchErr(want, context.Cause(t.ctx)); err != nil {
			return fmt.Errorf("cause: %w", err)
		}
	}
	if want, ok := st["deadline"]; ok && want == nil {
		if d, has := t.ctx.Deadline(); has {
			return fmt.Errorf("want no deadline, got %v", d)
		}
	}
	if name, ok := st["deadline_of"]; ok {
		o, err := r.tok(str(name))
		if err != nil {
			return err
		}
		d1, ok1 := t.ctx.Deadline()
		d2, ok2 := o.ctx.Deadline()
		if !ok1 || !ok2 || !d1.Equal(d2) {
			return fmt.Errorf("want the deadline of %q (%v, %v), got %v, %v", str(name), d2, ok2, d1, ok1)
		}
	}
	if want, ok := st["dependents"]; ok {
		if got := dependents(t.ctx); got != num(want) {
			return fmt.Errorf("want %d dependents, got %d", num(want), got)
		}
	}
	return nil
}

// dependents counts a cancelCtx's registered children (child contexts and AfterFuncs), under
// its own lock. Go has no accessor; its tests read the same map (XTestCancelRemoves).
func dependents(ctx context.Context) int64 {
	c := reflect.ValueOf(ctx).Elem()
	mu := (*sync.Mutex)(c.FieldByName("mu").Addr().UnsafePointer())
	mu.Lock()
	defer mu.Unlock()
	return int64(c.FieldByName("children").Len())
}

// ---- errgroup -----------------------------------------------------------------------------

func (r *run) groupOp(op string, st map[string]any) error {
	if op == "eg.new" {
		return r.newGroup(st)
	}
	r.mu.Lock()
	g, ok := r.groups[str(st["group"])]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("no group %q", str(st["group"]))
	}
	switch op {
	case "eg.go":
		task := st["task"]
		return r.outcome(st, nil, protect(func() { g.g.Go(func() error { return r.task(task) }) }))
	case "eg.try_go":
		task := st["task"]
		got := g.g.TryGo(func() error { return r.task(task) })
		if want := st["expect"].(bool); got != want {
			return fmt.Errorf("want try_go to return %v, got %v", want, got)
		}
		return nil
	case "eg.set_limit":
		return r.outcome(st, nil, protect(func() { g.g.SetLimit(int(num(st["n"]))) }))
	case "eg.wait":
		var ctx context.Context
		if name, ok := st["token"]; ok {
			t, err := r.tok(str(name))
			if err != nil {
				return err
			}
			ctx = t.ctx
		}
		var werr error
		hung, err := waitBounded(ctx, func() { werr = g.g.Wait() }, timeoutOf(st))
		if hung {
			return fmt.Errorf("wait did not return within %v (a hang here means a lost wake-up)", bound)
		}
		if err == nil {
			err = werr
		}
		return r.outcome(st, err, nil)
	case "eg.check":
		sem := reflect.ValueOf(g.g).Elem().FieldByName("sem")
		if want, ok := st["limit"]; ok {
			if want == nil && !sem.IsNil() {
				return fmt.Errorf("want no limit, got %d", sem.Cap())
			}
			if want != nil && (sem.IsNil() || int64(sem.Cap()) != num(want)) {
				return fmt.Errorf("want limit %d, got nil=%v cap=%d", num(want), sem.IsNil(), sem.Cap())
			}
		}
		if want, ok := st["active"]; ok {
			if got := int64(sem.Len()); got != num(want) {
				return fmt.Errorf("want %d active, got %d", num(want), got)
			}
		}
		return nil
	case "eg.errors", "eg.shutdown":
		return fmt.Errorf("%s is gogroup-only: the scenario must state Go's behaviour in a go override", op)
	}
	return fmt.Errorf("unknown op %q", op)
}

func (r *run) newGroup(st map[string]any) error {
	if _, ok := st["collect"]; ok {
		return errors.New("collect is gogroup-only: the scenario must state Go's behaviour in a go override")
	}
	var g *errgroup.Group
	var t *token
	if parent, ok := st["token"]; ok {
		p, err := r.tok(str(parent))
		if err != nil {
			return err
		}
		var ctx context.Context
		g, ctx = errgroup.WithContext(p.ctx)
		t = &token{ctx: ctx}
	} else {
		// A zero Group has no context: its "token" is never cancelled.
		g = &errgroup.Group{}
		t = &token{ctx: context.Background()}
	}
	if n, ok := st["limit"]; ok {
		g.SetLimit(int(num(n)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[str(st["id"])] = &group{g: g}
	if name, ok := st["token_id"]; ok {
		r.tokens[str(name)] = t
	}
	return nil
}

// ---- events, calls, observations ----------------------------------------------------------

func (r *run) generalOp(op string, st map[string]any) error {
	switch op {
	case "signal":
		r.signal(str(st["event"]))
	case "await":
		return r.await(str(st["event"]))
	case "record":
		return r.action(map[string]any{"record": st["label"]})
	case "event.check":
		r.mu.Lock()
		ev, ok := r.events[str(st["event"])]
		r.mu.Unlock()
		set := false
		if ok {
			select {
			case <-ev.ch:
				set = true
			default:
			}
		}
		if want := st["set"].(bool); set != want {
			return fmt.Errorf("want event %q set=%v, got %v", str(st["event"]), want, set)
		}
	case "spawn":
		c := &call{done: make(chan struct{})}
		r.mu.Lock()
		r.spawned = append(r.spawned, c)
		if id, ok := st["id"]; ok {
			r.calls[str(id)] = c
		}
		r.mu.Unlock()
		task := st["task"]
		go func() {
			defer close(c.done)
			_ = r.task(task)
		}()
	case "join":
		c, err := r.call(str(st["call"]))
		if err != nil {
			return err
		}
		select {
		case <-c.done:
			return c.err
		case <-time.After(bound):
			return fmt.Errorf("call %q did not return within %v (a hang here means a lost wake-up)", str(st["call"]), bound)
		}
	case "join_spawned":
		r.mu.Lock()
		all := r.spawned
		r.spawned = nil
		r.mu.Unlock()
		for _, c := range all {
			select {
			case <-c.done:
			case <-time.After(bound):
				return fmt.Errorf("a spawned task did not return within %v", bound)
			}
		}
	case "blocked":
		c, err := r.call(str(st["call"]))
		if err != nil {
			return err
		}
		grace := time.Duration(num(st["grace_ms"])) * time.Millisecond
		select {
		case <-c.done:
			return fmt.Errorf("call %q returned (error %v) but must still be blocked", str(st["call"]), c.err)
		case <-time.After(grace):
		}
	case "log.check":
		return r.checkLog(st)
	case "counter.check":
		r.mu.Lock()
		got := r.counters[str(st["counter"])]
		if reset, _ := st["reset"].(bool); reset {
			r.counters[str(st["counter"])] = 0
		}
		r.mu.Unlock()
		if int64(got) != num(st["expect"]) {
			return fmt.Errorf("want counter %q = %d, got %d", str(st["counter"]), num(st["expect"]), got)
		}
	case "gauge.check":
		r.mu.Lock()
		gg := r.gauges[str(st["gauge"])]
		if gg == nil {
			gg = &gauge{}
		}
		cur, hi := gg.cur, gg.max
		r.mu.Unlock()
		if want, ok := st["current"]; ok && int64(cur) != num(want) {
			return fmt.Errorf("want gauge %q at %d, got %d", str(st["gauge"]), num(want), cur)
		}
		if want, ok := st["max"]; ok && int64(hi) != num(want) {
			return fmt.Errorf("want gauge %q max %d, got %d", str(st["gauge"]), num(want), hi)
		}
		if want, ok := st["max_at_most"]; ok && int64(hi) > num(want) {
			return fmt.Errorf("want gauge %q max <= %d, got %d", str(st["gauge"]), num(want), hi)
		}
	case "repeat":
		v := str(st["var"])
		for i := range num(st["times"]) {
			steps := substitute(st["steps"], v, fmt.Sprint(i)).([]any)
			if err := r.steps(steps); err != nil {
				return fmt.Errorf("iteration %d: %w", i, err)
			}
		}
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}

func (r *run) call(name string) (*call, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[name]
	if !ok {
		return nil, fmt.Errorf("no call %q", name)
	}
	return c, nil
}

func (r *run) checkLog(st map[string]any) error {
	r.mu.Lock()
	log := append([]string(nil), r.log...)
	r.mu.Unlock()
	pos := map[string]int{}
	for i, l := range log {
		if _, seen := pos[l]; !seen {
			pos[l] = i
		}
	}
	if want, ok := st["expect"].([]any); ok {
		if fmt.Sprint(want) != fmt.Sprint(anySlice(log)) {
			return fmt.Errorf("want log %v, got %v", want, log)
		}
	}
	if pairs, ok := st["order"].([]any); ok {
		for _, p := range pairs {
			pair := p.([]any)
			a, okA := pos[str(pair[0])]
			b, okB := pos[str(pair[1])]
			if !okA || !okB || a > b {
				return fmt.Errorf("want %q before %q in the log, got %v", str(pair[0]), str(pair[1]), log)
			}
		}
	}
	if absent, ok := st["absent"].([]any); ok {
		for _, a := range absent {
			if _, seen := pos[str(a)]; seen {
				return fmt.Errorf("want no %q in the log, got %v", str(a), log)
			}
		}
	}
	return nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// substitute replaces "{var}" in every string of v (a repeat's iteration number).
func substitute(v any, name, value string) any {
	if name == "" || name == "<nil>" {
		return v
	}
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "{"+name+"}", value)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = substitute(x, name, value)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = substitute(x, name, value)
		}
		return out
	}
	return v
}

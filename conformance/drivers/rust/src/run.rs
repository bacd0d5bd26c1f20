//! One scenario's state and the interpreter of its steps, tasks and matchers.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gogroup::{CancelToken, Collect, ErrGroup, Error, Registration, WaitGroup};
use serde_json::{Map, Value};

type Outcome = Result<(), String>;

thread_local! {
    /// Set by a task just before it panics on purpose, so the panic hook stays quiet.
    static EXPECTED_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panics that scenarios ask for off stderr; any other panic is printed as usual.
pub(crate) fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !EXPECTED_PANIC.with(|e| e.replace(false)) {
            default(info);
        }
    }));
}

/// A one-shot event: set once, awaited by any number of threads.
#[derive(Default)]
struct Event {
    set: Mutex<bool>,
    cv: Condvar,
}

/// A step running on its own thread (`async`), or a spawned task.
#[derive(Default)]
struct Call {
    result: Mutex<Option<Outcome>>,
    cv: Condvar,
}

impl Call {
    fn finish(&self, outcome: Outcome) {
        *lock(&self.result) = Some(outcome);
        self.cv.notify_all();
    }

    /// The call's outcome if it finished within `limit`.
    fn wait(&self, limit: Duration) -> Option<Outcome> {
        let guard = lock(&self.result);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, limit, |r| r.is_none())
            .unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }
}

#[derive(Default)]
struct Gauge {
    current: i64,
    max: i64,
}

#[derive(Default)]
struct State {
    wgs: HashMap<String, WaitGroup>,
    tokens: HashMap<String, CancelToken>,
    groups: HashMap<String, ErrGroup>,
    regs: HashMap<String, Registration>,
    calls: HashMap<String, Arc<Call>>,
    spawned: Vec<Arc<Call>>,
    events: HashMap<String, Arc<Event>>,
    errors: HashMap<String, Error>,
    log: Vec<String>,
    counters: HashMap<String, i64>,
    gauges: HashMap<String, Gauge>,
    failures: Vec<String>,
}

/// The state of one scenario, shared by the main thread, tasks and callbacks.
pub(crate) struct Run {
    state: Mutex<State>,
    messages: Map<String, Value>,
    bound: Duration,
    aborted: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn is_kind(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// Replaces `{var}` in every string of `v` (a repeat's iteration number).
fn substitute(v: &Value, var: &str, value: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(&format!("{{{var}}}"), value)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, var, value)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, var, value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Run {
    /// Runs a whole scenario; `Err` describes the first failure.
    pub(crate) fn scenario(
        steps: &[Value],
        messages: &Map<String, Value>,
        bound: Duration,
    ) -> Outcome {
        let run = Arc::new(Run {
            state: Mutex::new(State::default()),
            messages: messages.clone(),
            bound,
            aborted: AtomicBool::new(false),
        });
        let result = run.steps(steps);
        run.finish();
        result?;
        let failures = &lock(&run.state).failures;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("in a task or callback: {}", failures.join("; ")))
        }
    }

    /// Releases whatever a failed scenario left blocked, so it cannot disturb the next one.
    fn finish(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        let st = lock(&self.state);
        for ev in st.events.values() {
            let _guard = lock(&ev.set);
            ev.cv.notify_all();
        }
        for t in st.tokens.values() {
            t.cancel();
        }
    }

    fn fail(&self, msg: String) {
        lock(&self.state).failures.push(msg);
    }

    fn named_error(&self, name: &str) -> Error {
        let mut st = lock(&self.state);
        st.errors
            .entry(name.to_string())
            .or_insert_with(|| {
                let msg = self
                    .messages
                    .get(name)
                    .map(s)
                    .unwrap_or_else(|| name.to_string());
                Error::custom(msg)
            })
            .clone()
    }

    fn event(&self, name: &str) -> Arc<Event> {
        lock(&self.state)
            .events
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    fn signal(&self, name: &str) {
        let ev = self.event(name);
        *lock(&ev.set) = true;
        ev.cv.notify_all();
    }

    fn await_event(&self, name: &str) -> Outcome {
        let ev = self.event(name);
        let guard = lock(&ev.set);
        let (guard, _) = ev
            .cv
            .wait_timeout_while(guard, self.bound, |set| {
                !*set && !self.aborted.load(Ordering::SeqCst)
            })
            .unwrap_or_else(|e| e.into_inner());
        if *guard {
            Ok(())
        } else if self.aborted.load(Ordering::SeqCst) {
            Err(format!("scenario ended while waiting for event {name:?}"))
        } else {
            Err(format!(
                "event {name:?} not set within {:?} (a hang here means a lost wake-up)",
                self.bound
            ))
        }
    }

    fn token(&self, name: &Value) -> Result<CancelToken, String> {
        let name = s(name);
        lock(&self.state)
            .tokens
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("no token {name:?}"))
    }

    fn wait_group(&self, name: &Value) -> Result<WaitGroup, String> {
        let name = s(name);
        lock(&self.state)
            .wgs
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("no wait group {name:?}"))
    }

    fn group(&self, name: &Value) -> Result<ErrGroup, String> {
        let name = s(name);
        lock(&self.state)
            .groups
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("no group {name:?}"))
    }

    fn call(&self, name: &Value) -> Result<Arc<Call>, String> {
        let name = s(name);
        lock(&self.state)
            .calls
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("no call {name:?}"))
    }

    // ---- tasks and callbacks ----------------------------------------------------------------

    fn actions(self: &Arc<Self>, list: &Value) -> Outcome {
        for a in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let m = a
                .as_object()
                .ok_or_else(|| format!("action {a} is not an object"))?;
            for (k, v) in m {
                self.action(k, v)?;
            }
        }
        Ok(())
    }

    fn action(self: &Arc<Self>, k: &str, v: &Value) -> Outcome {
        match k {
            "signal" => self.signal(&s(v)),
            "await" => self.await_event(&s(v))?,
            "await_cancel" => {
                let t = self.token(v)?;
                let deadline = Instant::now() + self.bound;
                // Slices, so that the end of the scenario can interrupt the wait.
                while !t.wait_timeout(Duration::from_millis(50)) {
                    if self.aborted.load(Ordering::SeqCst) {
                        return Err(format!("scenario ended while waiting for token {}", s(v)));
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "token {} not cancelled within {:?} (a hang here means a lost wake-up)",
                            s(v),
                            self.bound
                        ));
                    }
                }
            }
            "record" => lock(&self.state).log.push(s(v)),
            "count" => *lock(&self.state).counters.entry(s(v)).or_default() += 1,
            "enter" | "leave" => {
                let mut st = lock(&self.state);
                let g = st.gauges.entry(s(v)).or_default();
                if k == "enter" {
                    g.current += 1;
                    g.max = g.max.max(g.current);
                } else {
                    g.current -= 1;
                }
            }
            "step" => self.step(v)?,
            other => return Err(format!("unknown action {other:?}")),
        }
        Ok(())
    }

    /// Runs a task spec and returns what the task returns; `panics` panics for real.
    fn task(self: &Arc<Self>, spec: &Value) -> Result<(), Error> {
        if let Err(e) = self.actions(&spec["do"]) {
            self.fail(e);
        }
        if let Some(msg) = spec.get("panics") {
            EXPECTED_PANIC.with(|e| e.set(true));
            std::panic::panic_any(s(msg));
        }
        match spec.get("returns") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(name)) => Err(self.named_error(name)),
            Some(Value::Object(m)) if m.contains_key("cause_of") => {
                match self.token(&m["cause_of"]) {
                    Ok(t) => match t.cause() {
                        Some(c) => Err(c),
                        None => Ok(()),
                    },
                    Err(e) => {
                        self.fail(e);
                        Ok(())
                    }
                }
            }
            Some(other) => {
                self.fail(format!("bad returns {other}"));
                Ok(())
            }
        }
    }

    // ---- matching ---------------------------------------------------------------------------

    fn describe(got: &Option<Error>) -> String {
        match got {
            None => "no error".to_string(),
            Some(e) => format!("{} ({:?})", e.kind().name(), e.message()),
        }
    }

    /// Checks an error against a matcher: null, "KIND", "name" (that very error), or
    /// `{"kind", "is", "message", "contains"}`.
    fn match_err(&self, want: &Value, got: &Option<Error>) -> Outcome {
        match want {
            Value::Null => match got {
                None => Ok(()),
                Some(_) => Err(format!("want no error, got {}", Self::describe(got))),
            },
            Value::String(w) if is_kind(w) => match got {
                Some(e) if e.kind().name() == w => Ok(()),
                _ => Err(format!("want {w}, got {}", Self::describe(got))),
            },
            Value::String(w) => {
                let named = self.named_error(w);
                match got {
                    Some(e) if Error::ptr_eq(e, &named) => Ok(()),
                    _ => Err(format!(
                        "want the error {w:?} itself, got {}",
                        Self::describe(got)
                    )),
                }
            }
            Value::Object(m) => {
                let Some(e) = got else {
                    return Err(format!("want an error {want}, got none"));
                };
                if let Some(k) = m.get("kind") {
                    self.match_err(k, got)?;
                }
                if let Some(i) = m.get("is") {
                    self.match_err(i, got)?;
                }
                if let Some(msg) = m.get("message").map(s)
                    && e.message() != msg
                {
                    return Err(format!("want message {msg:?}, got {:?}", e.message()));
                }
                if let Some(sub) = m.get("contains").map(s)
                    && !e.message().contains(&sub)
                {
                    return Err(format!(
                        "want a message containing {sub:?}, got {:?}",
                        e.message()
                    ));
                }
                Ok(())
            }
            other => Err(format!("bad error matcher {other}")),
        }
    }

    /// Checks an operation's result against the step's `expect` (default: success).
    fn outcome(&self, st: &Value, got: gogroup::Result<()>) -> Outcome {
        self.match_err(st.get("expect").unwrap_or(&Value::Null), &got.err())
    }

    fn expect_bool(st: &Value, got: bool, what: &str) -> Outcome {
        let want = st.get("expect").and_then(Value::as_bool).unwrap_or(true);
        if got == want {
            Ok(())
        } else {
            Err(format!("want {what} to return {want}, got {got}"))
        }
    }

    // ---- steps ------------------------------------------------------------------------------

    fn steps(self: &Arc<Self>, list: &[Value]) -> Outcome {
        for (i, st) in list.iter().enumerate() {
            self.step(st)
                .map_err(|e| format!("step {} ({}): {e}", i + 1, s(&st["op"])))?;
        }
        Ok(())
    }

    /// Runs one step, on its own thread if it has `async`.
    fn step(self: &Arc<Self>, st: &Value) -> Outcome {
        let Some(name) = st.get("async") else {
            return self.exec(st);
        };
        let call = Arc::new(Call::default());
        lock(&self.state).calls.insert(s(name), call.clone());
        let (me, st) = (self.clone(), st.clone());
        std::thread::spawn(move || call.finish(me.exec(&st)));
        Ok(())
    }

    /// The deadline of a blocking step: its `timeout_ms`, else the bound (then reaching it is
    /// a hang, reported as such).
    fn deadline(&self, st: &Value) -> (Instant, bool) {
        match st.get("timeout_ms") {
            Some(ms) => (Instant::now() + Duration::from_millis(n(ms) as u64), true),
            None => (Instant::now() + self.bound, false),
        }
    }

    fn hang_check(&self, got: &gogroup::Result<()>, explicit: bool) -> Outcome {
        match got {
            Err(e) if !explicit && e.kind() == gogroup::ErrorKind::Timeout => Err(format!(
                "wait did not return within {:?} (a hang here means a lost wake-up)",
                self.bound
            )),
            _ => Ok(()),
        }
    }

    fn exec(self: &Arc<Self>, st: &Value) -> Outcome {
        let op = s(&st["op"]);
        match op.as_str() {
            // ---- WaitGroup
            "wg.new" => {
                lock(&self.state).wgs.insert(s(&st["id"]), WaitGroup::new());
            }
            "wg.add" => {
                let wg = self.wait_group(&st["wg"])?;
                self.outcome(st, wg.add(n(&st["delta"])))?;
            }
            "wg.done" => {
                let wg = self.wait_group(&st["wg"])?;
                self.outcome(st, wg.done())?;
            }
            "wg.count" => {
                let got = self.wait_group(&st["wg"])?.count() as i64;
                if got != n(&st["expect"]) {
                    return Err(format!("want counter {}, got {got}", n(&st["expect"])));
                }
            }
            "wg.go" => {
                let wg = self.wait_group(&st["wg"])?;
                let (me, task) = (self.clone(), st["task"].clone());
                wg.go(move || {
                    let _ = me.task(&task);
                });
            }
            "wg.wait" => {
                let wg = self.wait_group(&st["wg"])?;
                let token = match st.get("token") {
                    Some(t) => Some(self.token(t)?),
                    None => None,
                };
                let (deadline, explicit) = self.deadline(st);
                let got = wg.wait_until(Some(deadline), token.as_ref());
                self.hang_check(&got, explicit)?;
                self.outcome(st, got)?;
            }

            // ---- CancelToken
            "token.new" => self.add_token(st, CancelToken::new()),
            "token.child" => {
                let p = self.token(&st["parent"])?;
                self.add_token(st, p.child());
            }
            "token.with_timeout" | "token.with_deadline" => {
                let p = self.token(&st["parent"])?;
                let at = if op == "token.with_timeout" {
                    Instant::now() + Duration::from_millis(n(&st["timeout_ms"]) as u64)
                } else {
                    match s(&st["deadline"]).as_str() {
                        "past" => Instant::now()
                            .checked_sub(Duration::from_secs(1))
                            .unwrap_or_else(Instant::now),
                        "now" => Instant::now(),
                        "far" => Instant::now() + Duration::from_secs(3600),
                        other => {
                            return Err(format!("deadline must be past, now or far, not {other}"));
                        }
                    }
                };
                let t = match st.get("cause") {
                    Some(c) => p.with_deadline_cause(at, self.named_error(&s(c))),
                    None => p.with_deadline(at),
                };
                self.add_token(st, t);
            }
            "token.any" => {
                let mut inputs = Vec::new();
                for name in st["of"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    inputs.push(self.token(name)?);
                }
                self.add_token(st, CancelToken::any(inputs.iter()));
            }
            "token.cancel" => {
                let t = self.token(&st["token"])?;
                let first = match st.get("cause") {
                    Some(c) => t.cancel_with(self.named_error(&s(c))),
                    None => t.cancel(),
                };
                if st.get("expect").is_some() {
                    Self::expect_bool(st, first, "cancel")?;
                }
            }
            "token.check" => self.check_token(st)?,
            "token.wait" => {
                let t = self.token(&st["token"])?;
                match st.get("timeout_ms") {
                    Some(ms) => {
                        let got = t.wait_timeout(Duration::from_millis(n(ms) as u64));
                        Self::expect_bool(st, got, "wait")?;
                    }
                    None => {
                        if !t.wait_timeout(self.bound) {
                            return Err(format!(
                                "token not cancelled within {:?} (a hang here means a lost wake-up)",
                                self.bound
                            ));
                        }
                    }
                }
            }
            "token.on_cancel" => {
                let t = self.token(&st["token"])?;
                let (me, st2) = (self.clone(), st.clone());
                let reg = t.on_cancel(move |cause| {
                    if let Some(want) = st2.get("expect_cause")
                        && let Err(e) = me.match_err(want, &Some(cause))
                    {
                        me.fail(format!("on_cancel cause: {e}"));
                    }
                    if let Err(e) = me.actions(&st2["do"]) {
                        me.fail(format!("on_cancel: {e}"));
                    }
                });
                lock(&self.state).regs.insert(s(&st["id"]), reg);
            }
            "reg.stop" => {
                let name = s(&st["reg"]);
                let got = {
                    let state = lock(&self.state);
                    let reg = state
                        .regs
                        .get(&name)
                        .ok_or_else(|| format!("no registration {name:?}"))?;
                    reg.stop()
                };
                Self::expect_bool(st, got, "stop")?;
            }

            // ---- ErrGroup
            "eg.new" => {
                let mut b = ErrGroup::builder();
                if let Some(p) = st.get("token") {
                    b = b.token(&self.token(p)?);
                }
                if let Some(l) = st.get("limit") {
                    b = b.limit(n(l));
                }
                match st.get("collect").map(s).as_deref() {
                    None | Some("first") => {}
                    Some("all") => b = b.collect(Collect::All),
                    Some(other) => {
                        return Err(format!("collect must be first or all, not {other}"));
                    }
                }
                let g = b.build();
                let mut state = lock(&self.state);
                if let Some(id) = st.get("token_id") {
                    state.tokens.insert(s(id), g.token().clone());
                }
                state.groups.insert(s(&st["id"]), g);
            }
            "eg.go" => {
                let g = self.group(&st["group"])?;
                let (me, task) = (self.clone(), st["task"].clone());
                self.outcome(st, g.go(move |_token| me.task(&task)))?;
            }
            "eg.try_go" => {
                let g = self.group(&st["group"])?;
                let (me, task) = (self.clone(), st["task"].clone());
                Self::expect_bool(st, g.try_go(move |_token| me.task(&task)), "try_go")?;
            }
            "eg.set_limit" => {
                let g = self.group(&st["group"])?;
                self.outcome(st, g.set_limit(n(&st["n"])))?;
            }
            "eg.wait" => {
                let g = self.group(&st["group"])?;
                let token = match st.get("token") {
                    Some(t) => Some(self.token(t)?),
                    None => None,
                };
                let (deadline, explicit) = self.deadline(st);
                let got = g.wait_until(Some(deadline), token.as_ref());
                self.hang_check(&got, explicit)?;
                self.outcome(st, got)?;
            }
            "eg.check" => {
                let g = self.group(&st["group"])?;
                if let Some(want) = st.get("limit") {
                    let got = g.limit().map(|l| l as i64);
                    if got != want.as_i64() {
                        return Err(format!("want limit {want}, got {got:?}"));
                    }
                }
                if let Some(want) = st.get("active")
                    && g.active() as i64 != n(want)
                {
                    return Err(format!("want {want} active, got {}", g.active()));
                }
            }
            "eg.errors" => {
                let got = self.group(&st["group"])?.errors();
                let want = st["expect"].as_array().cloned().unwrap_or_default();
                if got.len() != want.len() {
                    return Err(format!("want {} errors, got {got:?}", want.len()));
                }
                for (w, e) in want.iter().zip(got) {
                    self.match_err(w, &Some(e))?;
                }
            }
            "eg.shutdown" => {
                let g = self.group(&st["group"])?;
                let cause = st.get("cause").map(|c| self.named_error(&s(c)));
                let grace = Duration::from_millis(n(&st["grace_ms"]) as u64);
                let got = g.shutdown(cause, grace) as i64;
                if got != n(&st["expect"]) {
                    return Err(format!(
                        "want {} tasks still running, got {got}",
                        n(&st["expect"])
                    ));
                }
            }

            // ---- events, calls, observations
            "signal" => self.signal(&s(&st["event"])),
            "await" => self.await_event(&s(&st["event"]))?,
            "record" => lock(&self.state).log.push(s(&st["label"])),
            "event.check" => {
                let ev = lock(&self.state).events.get(&s(&st["event"])).cloned();
                let set = ev.is_some_and(|e| *lock(&e.set));
                let want = st["set"].as_bool().unwrap_or(true);
                if set != want {
                    return Err(format!(
                        "want event {} set={want}, got {set}",
                        s(&st["event"])
                    ));
                }
            }
            "spawn" => {
                let call = Arc::new(Call::default());
                {
                    let mut state = lock(&self.state);
                    state.spawned.push(call.clone());
                    if let Some(id) = st.get("id") {
                        state.calls.insert(s(id), call.clone());
                    }
                }
                let (me, task) = (self.clone(), st["task"].clone());
                std::thread::spawn(move || {
                    let _ = me.task(&task);
                    call.finish(Ok(()));
                });
            }
            "join" => {
                let call = self.call(&st["call"])?;
                match call.wait(self.bound) {
                    Some(outcome) => outcome?,
                    None => {
                        return Err(format!(
                            "call {} did not return within {:?} (a hang here means a lost wake-up)",
                            s(&st["call"]),
                            self.bound
                        ));
                    }
                }
            }
            "join_spawned" => {
                let all = std::mem::take(&mut lock(&self.state).spawned);
                for call in all {
                    if call.wait(self.bound).is_none() {
                        return Err(format!(
                            "a spawned task did not return within {:?}",
                            self.bound
                        ));
                    }
                }
            }
            "blocked" => {
                let call = self.call(&st["call"])?;
                let grace = Duration::from_millis(st.get("grace_ms").map(n).unwrap_or(0) as u64);
                if let Some(outcome) = call.wait(grace) {
                    return Err(format!(
                        "call {} returned ({outcome:?}) but must still be blocked",
                        s(&st["call"])
                    ));
                }
            }
            "log.check" => self.check_log(st)?,
            "counter.check" => {
                let name = s(&st["counter"]);
                let got = {
                    let mut state = lock(&self.state);
                    let got = state.counters.get(&name).copied().unwrap_or(0);
                    if st.get("reset").and_then(Value::as_bool) == Some(true) {
                        state.counters.insert(name.clone(), 0);
                    }
                    got
                };
                if got != n(&st["expect"]) {
                    return Err(format!(
                        "want counter {name:?} = {}, got {got}",
                        n(&st["expect"])
                    ));
                }
            }
            "gauge.check" => {
                let name = s(&st["gauge"]);
                let (current, max) = {
                    let state = lock(&self.state);
                    state
                        .gauges
                        .get(&name)
                        .map_or((0, 0), |g| (g.current, g.max))
                };
                if let Some(w) = st.get("current")
                    && current != n(w)
                {
                    return Err(format!("want gauge {name:?} at {w}, got {current}"));
                }
                if let Some(w) = st.get("max")
                    && max != n(w)
                {
                    return Err(format!("want gauge {name:?} max {w}, got {max}"));
                }
                if let Some(w) = st.get("max_at_most")
                    && max > n(w)
                {
                    return Err(format!("want gauge {name:?} max <= {w}, got {max}"));
                }
            }
            "repeat" => {
                let var = st.get("var").map(s);
                let steps = st["steps"].as_array().cloned().unwrap_or_default();
                for i in 0..n(&st["times"]) {
                    let steps = match &var {
                        Some(var) => steps
                            .iter()
                            .map(|x| substitute(x, var, &i.to_string()))
                            .collect(),
                        None => steps.clone(),
                    };
                    self.steps(&steps)
                        .map_err(|e| format!("iteration {i}: {e}"))?;
                }
            }
            other => return Err(format!("unknown op {other:?}")),
        }
        Ok(())
    }

    fn add_token(&self, st: &Value, t: CancelToken) {
        lock(&self.state).tokens.insert(s(&st["id"]), t);
    }

    fn check_token(&self, st: &Value) -> Outcome {
        let t = self.token(&st["token"])?;
        if let Some(want) = st.get("cancelled").and_then(Value::as_bool)
            && t.is_cancelled() != want
        {
            return Err(format!("want cancelled={want}, got {}", t.is_cancelled()));
        }
        if let Some(want) = st.get("err") {
            self.match_err(want, &t.err())
                .map_err(|e| format!("err: {e}"))?;
        }
        if let Some(want) = st.get("cause") {
            self.match_err(want, &t.cause())
                .map_err(|e| format!("cause: {e}"))?;
        }
        if st.get("deadline") == Some(&Value::Null) && t.deadline().is_some() {
            return Err(format!("want no deadline, got {:?}", t.deadline()));
        }
        if let Some(other) = st.get("deadline_of") {
            let o = self.token(other)?;
            if t.deadline().is_none() || t.deadline() != o.deadline() {
                return Err(format!(
                    "want the deadline of {} ({:?}), got {:?}",
                    s(other),
                    o.deadline(),
                    t.deadline()
                ));
            }
        }
        if let Some(want) = st.get("dependents")
            && t.dependents() as i64 != n(want)
        {
            return Err(format!("want {want} dependents, got {}", t.dependents()));
        }
        Ok(())
    }

    fn check_log(&self, st: &Value) -> Outcome {
        let log = lock(&self.state).log.clone();
        let pos = |label: &str| log.iter().position(|l| l == label);
        if let Some(want) = st.get("expect").and_then(Value::as_array) {
            let want: Vec<String> = want.iter().map(s).collect();
            if want != log {
                return Err(format!("want log {want:?}, got {log:?}"));
            }
        }
        for pair in st
            .get("order")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let (a, b) = (s(&pair[0]), s(&pair[1]));
            match (pos(&a), pos(&b)) {
                (Some(x), Some(y)) if x <= y => {}
                _ => return Err(format!("want {a:?} before {b:?} in the log, got {log:?}")),
            }
        }
        for a in st
            .get("absent")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if pos(&s(a)).is_some() {
                return Err(format!("want no {} in the log, got {log:?}", s(a)));
            }
        }
        Ok(())
    }
}

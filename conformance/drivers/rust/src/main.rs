//! The Rust (core) driver of gogroup's conformance suite.
//!
//! Runs each scenario file given on the command line (format: `conformance/README.md`) against
//! the `gogroup` crate and prints one JSON line per scenario:
//!
//! ```text
//! {"scenario":"wg_add_done_wait_releases_waiter","status":"pass","detail":"","ms":1}
//! ```
//!
//! The `go` overrides of a scenario describe Go's own behaviour and are ignored here: gogroup
//! must do what the scenario's own steps say, departures included.
//!
//! Usage: `gogroup-conformance [--bound-ms N] FILE.json...`

mod run;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn main() {
    let mut bound = Duration::from_secs(10);
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--bound-ms" {
            let ms = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("--bound-ms needs a number of milliseconds");
                std::process::exit(2);
            });
            bound = Duration::from_millis(ms);
        } else {
            files.push(arg);
        }
    }
    run::quiet_expected_panics();
    let stdout = std::io::stdout();
    for path in files {
        let start = Instant::now();
        let (name, outcome) = match load(&path) {
            Ok(sc) => (sc.name, run::Run::scenario(&sc.steps, &sc.errors, bound)),
            Err(e) => (stem(&path), Err(e)),
        };
        let (status, detail) = match outcome {
            Ok(()) => ("pass", String::new()),
            Err(e) => ("fail", e),
        };
        let line = json!({
            "scenario": name,
            "status": status,
            "detail": detail,
            "ms": start.elapsed().as_millis() as u64,
        });
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(2);
        }
    }
}

fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// What the driver needs of a scenario file.
struct Scenario {
    name: String,
    /// The steps, without their `go` overrides.
    steps: Vec<Value>,
    /// Messages of the named errors (a name without one is its own message).
    errors: serde_json::Map<String, Value>,
}

/// Reads a scenario file.
fn load(path: &str) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    strip_go(&mut v);
    let name = v["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| stem(path));
    let steps = v["steps"].as_array().cloned().ok_or("no steps")?;
    let errors = v["errors"].as_object().cloned().unwrap_or_default();
    Ok(Scenario {
        name,
        steps,
        errors,
    })
}

/// Removes every `go` override: they state Go's behaviour, not gogroup's.
fn strip_go(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("go");
            m.values_mut().for_each(strip_go);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_go),
        _ => {}
    }
}

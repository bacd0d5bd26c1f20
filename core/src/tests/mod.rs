//! loom models of core's state machines (`make loom`). Each model is small on purpose: loom
//! explores every interleaving, so two or three threads and a handful of operations already
//! cover the races that matter.

mod loom_cancel_token;
mod loom_err_group;
mod loom_handoff;
mod loom_panic_slot;
mod loom_wait_group;

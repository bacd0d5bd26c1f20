//! loom models of core's state machines (`make loom`). Each model is small on purpose: loom
//! explores every interleaving, so two or three threads and a handful of operations already
//! cover the races that matter.

mod loom_cancel_token;
mod loom_err_group;
mod loom_handoff;
mod loom_panic_slot;
mod loom_wait_group;

/// Drives `f` to completion on this loom thread: polls it, and between polls blocks on a loom
/// `Notify` that its waker notifies. A lost wake-up leaves the thread blocked for good, which
/// loom reports as a deadlock.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Wake(crate::loom::Arc<loom::sync::Notify>);
    impl std::task::Wake for Wake {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.notify();
        }
    }
    let notify = crate::loom::Arc::new(loom::sync::Notify::new());
    let waker = std::task::Waker::from(std::sync::Arc::new(Wake(notify.clone())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        notify.wait();
    }
}

use loom::thread;

use crate::panic_slot::{PanicSlot, Payload};

fn payload(name: &'static str) -> Payload {
    Box::new(name)
}

fn name(p: &Payload) -> &'static str {
    p.downcast_ref::<&'static str>().copied().unwrap()
}

/// A panic kept while a `wait` takes the previous one is never stranded: the slot stays
/// usable, so a panic kept after both is reported by the next `take` (the bug: `take` cleared
/// `set` after unlocking, so the racing panic sat in the slot unseen and every later one was
/// dropped).
#[test]
fn loom_a_panic_kept_while_another_is_taken_is_never_stranded() {
    loom::model(|| {
        let slot = crate::loom::Arc::new(PanicSlot::new());
        slot.keep(payload("first"));
        let s2 = slot.clone();
        let racer = thread::spawn(move || s2.keep(payload("racing")));
        let taken = slot.take();
        racer.join().unwrap();
        // `take` ran before or after the racing `keep`: it saw "first" either way.
        assert_eq!(taken.as_ref().map(name), Some("first"));
        slot.keep(payload("later"));
        let next = slot
            .take()
            .expect("a later panic must be reported, not dropped");
        // The racing panic, if it landed after the take, is the first one kept since.
        assert!(matches!(name(&next), "racing" | "later"));
        assert!(slot.take().is_none());
        assert!(!slot.is_set());
    });
}

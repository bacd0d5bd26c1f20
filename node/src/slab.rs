//! A table of values behind small integer handles, with free entries reused: how JS refers to
//! Rust state it must not own (a running task's place, a token, a wait group).

/// Values behind `u32` handles. A handle stays valid until its value is taken.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `value`; returns its handle.
    pub(crate) fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(h) => {
                self.entries[h as usize] = Some(value);
                h
            }
            None => {
                self.entries.push(Some(value));
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// The value behind `h`, if it is live.
    pub(crate) fn get(&self, h: u32) -> Option<&T> {
        self.entries.get(h as usize).and_then(Option::as_ref)
    }

    /// Takes the value behind `h` out (its handle becomes free); `None` for a stale handle.
    pub(crate) fn take(&mut self, h: u32) -> Option<T> {
        let taken = self.entries.get_mut(h as usize).and_then(Option::take);
        if taken.is_some() {
            self.free.push(h);
        }
        taken
    }

    /// Values stored now.
    pub(crate) fn live(&self) -> usize {
        self.entries.len() - self.free.len()
    }
}

impl<T> Slab<T> {
    /// Every value stored, in no particular order.
    pub(crate) fn into_values(self) -> impl Iterator<Item = T> {
        self.entries.into_iter().flatten()
    }
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

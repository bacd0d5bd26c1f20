//! One error vocabulary for every runtime.
//!
//! Every misuse error, every cancellation cause and every task failure in gogroup is an
//! [`Error`]: a [`kind`](Error::kind) from the closed table [`ErrorKind`], a message, and — for
//! errors that come from the application — an optional application code and an opaque payload.
//!
//! The table is *data*: each kind has a stable numeric [`code`](ErrorKind::code) and a stable
//! [`name`](ErrorKind::name). The C, Python and Node bindings each map this table exactly once
//! (C result codes, Python exception classes, JS `err.code` strings), so the same failure has the
//! same identity in every language.
//!
//! # Invariants
//! 1. Codes are never reused: a retired kind keeps its number as a comment below.
//! 2. An `Error` is immutable once built and cheap to clone (one `Arc`); clones are "the same
//!    error" for [`Error::ptr_eq`], which is how a task's error is recognised as a token's cause.
//! 3. The payload travels through core untouched: core never inspects it, so a Python exception
//!    object or a JS value comes back out as the very same object.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `Result` with gogroup's [`Error`] as the default error type.
///
/// ```
/// fn check(n: i64) -> gogroup::Result<i64> {
///     gogroup::WaitGroup::new().add(n)?;
///     Ok(n)
/// }
/// assert!(check(-1).is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a closed, stable table shared by every binding.
///
/// # Examples
/// ```
/// use gogroup::ErrorKind;
/// assert_eq!(ErrorKind::NegativeCounter.code(), 1);
/// assert_eq!(ErrorKind::NegativeCounter.name(), "NEGATIVE_COUNTER");
/// assert_eq!(ErrorKind::from_code(1), Some(ErrorKind::NegativeCounter));
/// assert_eq!(ErrorKind::ALL.len(), 8);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A WaitGroup counter would have dropped below zero. The change was *not* applied.
    NegativeCounter,
    /// A token was cancelled (Go's `context.Canceled`).
    Canceled,
    /// A token's deadline passed (Go's `context.DeadlineExceeded`).
    DeadlineExceeded,
    /// A bounded wait (`wait_timeout`, `wait_until`) gave up before the condition held.
    Timeout,
    /// `set_limit` was called while tasks of the group were still active.
    LimitInUse,
    /// A task panicked (Rust) or raised/threw where a panic is the host's equivalent.
    Panic,
    /// An argument was out of range (for example a counter overflow).
    InvalidArgument,
    /// An error defined by the application: a task's own failure, or a cause given to `cancel_with`.
    Custom,
    // Retired codes: none yet. Never reuse a number.
}

impl ErrorKind {
    /// Every kind, in code order. Bindings walk this to prove their mapping is total.
    ///
    /// ```
    /// for kind in gogroup::ErrorKind::ALL {
    ///     assert_eq!(gogroup::ErrorKind::from_code(kind.code()), Some(kind));
    /// }
    /// ```
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::NegativeCounter,
        ErrorKind::Canceled,
        ErrorKind::DeadlineExceeded,
        ErrorKind::Timeout,
        ErrorKind::LimitInUse,
        ErrorKind::Panic,
        ErrorKind::InvalidArgument,
        ErrorKind::Custom,
    ];

    /// The stable numeric code (starting at 1; 0 is "success" in the C ABI).
    ///
    /// ```
    /// assert_eq!(gogroup::ErrorKind::Custom.code(), 8);
    /// ```
    pub const fn code(self) -> u32 {
        match self {
            ErrorKind::NegativeCounter => 1,
            ErrorKind::Canceled => 2,
            ErrorKind::DeadlineExceeded => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::LimitInUse => 5,
            ErrorKind::Panic => 6,
            ErrorKind::InvalidArgument => 7,
            ErrorKind::Custom => 8,
        }
    }

    /// The stable name, `SCREAMING_SNAKE_CASE` (Node prefixes it with `GOGROUP_`).
    ///
    /// ```
    /// assert_eq!(gogroup::ErrorKind::DeadlineExceeded.name(), "DEADLINE_EXCEEDED");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::NegativeCounter => "NEGATIVE_COUNTER",
            ErrorKind::Canceled => "CANCELED",
            ErrorKind::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::LimitInUse => "LIMIT_IN_USE",
            ErrorKind::Panic => "PANIC",
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::Custom => "CUSTOM",
        }
    }

    /// The kind with this code, if any.
    ///
    /// ```
    /// assert_eq!(gogroup::ErrorKind::from_code(0), None);
    /// ```
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The default message for this kind (Go's exact text where Go has one).
    ///
    /// ```
    /// assert_eq!(gogroup::ErrorKind::Canceled.default_message(), "context canceled");
    /// ```
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorKind::NegativeCounter => NEGATIVE_COUNTER_MESSAGE,
            ErrorKind::Canceled => "context canceled",
            ErrorKind::DeadlineExceeded => "context deadline exceeded",
            ErrorKind::Timeout => "wait timed out",
            ErrorKind::LimitInUse => {
                "errgroup: modify limit while goroutines in the group are still active"
            }
            ErrorKind::Panic => "task panicked",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Custom => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Go's panic text for a negative counter, kept so tests in every runtime can match it.
pub(crate) const NEGATIVE_COUNTER_MESSAGE: &str = "sync: negative WaitGroup counter";

/// An error or cancellation cause, shared by every runtime.
///
/// Cloning is one atomic increment and keeps identity: [`Error::ptr_eq`] tells whether two
/// values are the same error (Go compares errors with `==`; we compare the allocation).
///
/// # Examples
/// ```
/// use gogroup::{Error, ErrorKind};
/// let e = Error::custom("price service down").with_code(503);
/// assert_eq!(e.kind(), ErrorKind::Custom);
/// assert_eq!(e.app_code(), 503);
/// assert_eq!(e.to_string(), "price service down");
/// let same = e.clone();
/// assert!(Error::ptr_eq(&e, &same));
/// assert!(!Error::ptr_eq(&e, &Error::custom("price service down")));
/// ```
#[derive(Clone)]
pub struct Error {
    repr: Arc<Repr>,
}

/// One shared error of a kind, made on first use. Not a `OnceLock`: a `fork` while another
/// thread is inside its initializer would leave the child's copy "being initialized" forever.
/// Threads that race to make it each build one; the first published wins, the others are
/// dropped.
struct Shared(AtomicPtr<Error>);

impl Shared {
    const fn new() -> Shared {
        Shared(AtomicPtr::new(std::ptr::null_mut()))
    }

    fn get(&self, kind: ErrorKind) -> Error {
        let mut p = self.0.load(Ordering::Acquire);
        if p.is_null() {
            // Boxed, so the cell points at the start of an allocation (a leak checker counts the
            // error as reachable, not lost).
            let made = Box::into_raw(Box::new(Error::of_kind(kind)));
            p = match self.0.compare_exchange(
                std::ptr::null_mut(),
                made,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => made,
                Err(winner) => {
                    // SAFETY: `made` came from `Box::into_raw` above and was not published.
                    drop(unsafe { Box::from_raw(made) });
                    winner
                }
            };
        }
        // SAFETY: a published pointer came from `Box::into_raw` and is never freed (the cell
        // keeps its error for the life of the process).
        unsafe { (*p).clone() }
    }
}

struct Repr {
    kind: ErrorKind,
    app_code: i64,
    message: String,
    payload: Option<Box<dyn Any + Send + Sync>>,
}

impl Error {
    /// How many `Error` values share this error (for [`CancelToken::sole_cause`]).
    ///
    /// [`CancelToken::sole_cause`]: crate::CancelToken::sole_cause
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.repr)
    }

    /// A new error of `kind` with `message`.
    ///
    /// ```
    /// let e = gogroup::Error::new(gogroup::ErrorKind::InvalidArgument, "limit too large");
    /// assert_eq!(e.message(), "limit too large");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            repr: Arc::new(Repr {
                kind,
                app_code: 0,
                message: message.into(),
                payload: None,
            }),
        }
    }

    /// The shared "context canceled" error. Every call returns a clone of one value, so this
    /// costs no allocation.
    ///
    /// ```
    /// let a = gogroup::Error::canceled();
    /// assert_eq!(a.to_string(), "context canceled");
    /// assert!(gogroup::Error::ptr_eq(&a, &gogroup::Error::canceled()));
    /// ```
    pub fn canceled() -> Error {
        static CANCELED: Shared = Shared::new();
        CANCELED.get(ErrorKind::Canceled)
    }

    /// The shared "context deadline exceeded" error.
    ///
    /// ```
    /// assert_eq!(gogroup::Error::deadline_exceeded().to_string(), "context deadline exceeded");
    /// ```
    pub fn deadline_exceeded() -> Error {
        static DEADLINE: Shared = Shared::new();
        DEADLINE.get(ErrorKind::DeadlineExceeded)
    }

    /// An application error ([`ErrorKind::Custom`]) with `message`.
    ///
    /// ```
    /// assert_eq!(gogroup::Error::custom("boom").kind(), gogroup::ErrorKind::Custom);
    /// ```
    pub fn custom(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Custom, message)
    }

    /// Wraps any standard error as an application error; the original is kept as the payload and
    /// can be recovered with [`Error::downcast_ref`].
    ///
    /// ```
    /// use std::io;
    /// let e = gogroup::Error::from_std(io::Error::new(io::ErrorKind::NotFound, "no such SKU"));
    /// assert_eq!(e.to_string(), "no such SKU");
    /// assert_eq!(e.downcast_ref::<io::Error>().unwrap().kind(), io::ErrorKind::NotFound);
    /// ```
    pub fn from_std<E: std::error::Error + Send + Sync + 'static>(error: E) -> Error {
        Error::custom(error.to_string()).with_payload(error)
    }

    /// The same error with an application code (for example a C task's nonzero return value).
    ///
    /// Builds a new error: identity is not kept, so set the code before sharing the error.
    ///
    /// ```
    /// assert_eq!(gogroup::Error::custom("x").with_code(-7).app_code(), -7);
    /// ```
    pub fn with_code(self, code: i64) -> Error {
        self.rebuild(|r| r.app_code = code)
    }

    /// The same error carrying an opaque host value (a Python exception, a JS value handle…).
    ///
    /// Core never looks inside; bindings get it back with [`Error::payload`] or
    /// [`Error::downcast_ref`]. Builds a new error: set the payload before sharing the error.
    ///
    /// ```
    /// let e = gogroup::Error::custom("x").with_payload(42_u32);
    /// assert_eq!(e.downcast_ref::<u32>(), Some(&42));
    /// ```
    pub fn with_payload<T: Any + Send + Sync>(self, payload: T) -> Error {
        self.rebuild(|r| r.payload = Some(Box::new(payload)))
    }

    /// What went wrong.
    ///
    /// ```
    /// assert_eq!(gogroup::Error::canceled().kind(), gogroup::ErrorKind::Canceled);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.repr.kind
    }

    /// The numeric code of [`Error::kind`].
    ///
    /// ```
    /// assert_eq!(gogroup::Error::canceled().code(), 2);
    /// ```
    pub fn code(&self) -> u32 {
        self.repr.kind.code()
    }

    /// The application code (0 unless set with [`Error::with_code`]).
    ///
    /// ```
    /// assert_eq!(gogroup::Error::custom("x").app_code(), 0);
    /// ```
    pub fn app_code(&self) -> i64 {
        self.repr.app_code
    }

    /// The human-readable message.
    ///
    /// ```
    /// assert_eq!(gogroup::Error::custom("disk full").message(), "disk full");
    /// ```
    pub fn message(&self) -> &str {
        &self.repr.message
    }

    /// The opaque host payload, if any.
    ///
    /// ```
    /// assert!(gogroup::Error::canceled().payload().is_none());
    /// ```
    pub fn payload(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.repr.payload.as_deref()
    }

    /// The payload as a `T`, if it is one.
    ///
    /// ```
    /// let e = gogroup::Error::custom("x").with_payload(String::from("host object"));
    /// assert_eq!(e.downcast_ref::<String>().unwrap(), "host object");
    /// assert!(e.downcast_ref::<u8>().is_none());
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.payload().and_then(|p| p.downcast_ref::<T>())
    }

    /// Whether `a` and `b` are the same error (clones of one value).
    ///
    /// ```
    /// let e = gogroup::Error::custom("x");
    /// assert!(gogroup::Error::ptr_eq(&e, &e.clone()));
    /// ```
    pub fn ptr_eq(a: &Error, b: &Error) -> bool {
        Arc::ptr_eq(&a.repr, &b.repr)
    }

    /// True for [`ErrorKind::Canceled`] and [`ErrorKind::DeadlineExceeded`].
    ///
    /// ```
    /// assert!(gogroup::Error::deadline_exceeded().is_canceled());
    /// assert!(!gogroup::Error::custom("x").is_canceled());
    /// ```
    pub fn is_canceled(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Canceled | ErrorKind::DeadlineExceeded
        )
    }

    pub(crate) fn of_kind(kind: ErrorKind) -> Error {
        Error::new(kind, kind.default_message())
    }

    pub(crate) fn negative_counter() -> Error {
        Error::of_kind(ErrorKind::NegativeCounter)
    }

    pub(crate) fn limit_in_use(active: usize) -> Error {
        Error::new(
            ErrorKind::LimitInUse,
            format!(
                "errgroup: modify limit while {active} goroutines in the group are still active"
            ),
        )
    }

    pub(crate) fn timeout() -> Error {
        Error::of_kind(ErrorKind::Timeout)
    }

    fn rebuild(self, change: impl FnOnce(&mut Repr)) -> Error {
        let mut repr = match Arc::try_unwrap(self.repr) {
            Ok(repr) => repr,
            Err(shared) => Repr {
                kind: shared.kind,
                app_code: shared.app_code,
                message: shared.message.clone(),
                // A shared payload cannot be moved out; the copy starts without it.
                payload: None,
            },
        };
        change(&mut repr);
        Error {
            repr: Arc::new(repr),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.repr.kind)
            .field("message", &self.repr.message);
        if self.repr.app_code != 0 {
            d.field("app_code", &self.repr.app_code);
        }
        if self.repr.payload.is_some() {
            d.field("payload", &"..");
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::custom(message)
    }
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::custom(message)
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Error {
        Error::from_std(error)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Error {
        Error::custom(error.to_string()).with_payload(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_unique_code_and_name_that_round_trip() {
        for (i, a) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(ErrorKind::from_code(a.code()), Some(*a));
            for b in &ErrorKind::ALL[i + 1..] {
                assert_ne!(a.code(), b.code());
                assert_ne!(a.name(), b.name());
            }
        }
    }

    #[test]
    fn rebuilding_a_shared_error_keeps_kind_and_message() {
        let e = Error::custom("x").with_payload(1_u8);
        let shared = e.clone();
        let coded = e.with_code(3);
        assert_eq!(coded.message(), "x");
        assert_eq!(coded.app_code(), 3);
        assert_eq!(shared.downcast_ref::<u8>(), Some(&1));
    }
}

//! Versions: of the crate (`gogroup_version`) and of the handle ABI (`gogroup_abi_version`).

use std::ffi::c_char;

use crate::boundary::boundary;
use crate::handle::ABI_VERSION;
use crate::result::StaticStr;

/// The crate version with a NUL, e.g. `"0.1.0"`.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the gogroup library, e.g. `"0.1.0"`; equals `GOGROUP_VERSION` of the header
/// it was built with. A static string: never NULL, never freed. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn gogroup_version() -> *const c_char {
    boundary(|| StaticStr(VERSION.as_ptr().cast())).0
}

/// The handle ABI version of the library (`GOGROUP_ABI_VERSION` of its header): handles of
/// copies of gogroup with the same ABI version work with each other's functions. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn gogroup_abi_version() -> u32 {
    boundary(|| ABI_VERSION)
}

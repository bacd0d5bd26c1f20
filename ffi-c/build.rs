//! Build script of the C ABI.
//!
//! 1. Gives the cdylib a SONAME (`libgogroup.so.0.<minor>` while the major version is 0, as
//!    cargo's semver treats 0.x → 0.(x+1) as breaking), so programs linked against it keep
//!    working across compatible updates. rustc sets none by default.
//! 2. With the opt-in `gen-header` feature, regenerates `include/gogroup.h` with the pinned
//!    cbindgen (or writes it to `$GOGROUP_HEADER_OUT`, which `make check-header` diffs against
//!    the committed one). Writing into the source tree only happens behind that feature, because
//!    `cargo package` rejects build scripts that modify sources.

use std::env;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets CARGO_PKG_VERSION_MINOR");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgogroup.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "gen-header")]
    header::generate();
}

#[cfg(feature = "gen-header")]
mod header {
    use std::env;
    use std::path::PathBuf;

    pub(crate) fn generate() {
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        println!("cargo:rerun-if-changed=src/conventions.h");
        println!("cargo:rerun-if-changed=src/inline.h");
        println!("cargo:rerun-if-env-changed=GOGROUP_HEADER_OUT");
        let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let out = env::var_os("GOGROUP_HEADER_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("../include/gogroup.h"));
        // A missing (or hand-edited) output makes cargo run this again.
        println!("cargo:rerun-if-changed={}", out.display());
        let version = env::var("CARGO_PKG_VERSION").expect("set by cargo");
        let part = |name: &str| env::var(name).expect("set by cargo");
        let (major, minor, patch) = (
            part("CARGO_PKG_VERSION_MAJOR"),
            part("CARGO_PKG_VERSION_MINOR"),
            part("CARGO_PKG_VERSION_PATCH"),
        );
        let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
            .expect("ffi-c/cbindgen.toml parses");
        // The version macros come from Cargo.toml, so a version bump makes the header stale.
        let conventions = std::fs::read_to_string(dir.join("src/conventions.h"))
            .expect("ffi-c/src/conventions.h exists");
        config.header = Some(conventions.trim_end().to_string());
        // Header-only inline functions, after every declaration.
        let inline =
            std::fs::read_to_string(dir.join("src/inline.h")).expect("ffi-c/src/inline.h exists");
        config.trailer = Some(inline.trim_end().to_string());
        config.after_includes = Some(format!(
            "\n/* Version of the gogroup that this header describes. */\n\
             #define GOGROUP_VERSION \"{version}\"\n\
             #define GOGROUP_VERSION_MAJOR {major}\n\
             #define GOGROUP_VERSION_MINOR {minor}\n\
             #define GOGROUP_VERSION_PATCH {patch}\n\
             /* (major << 16) | (minor << 8) | patch, for #if comparisons. */\n\
             #define GOGROUP_VERSION_NUMBER (({major}u << 16) | ({minor}u << 8) | {patch}u)\n\
             /* Version of the handle layout and function table shared by every copy of gogroup \
             in a process (see gogroup_abi_version). */\n\
             #define GOGROUP_ABI_VERSION 1u\n\
             /* gogroup_cancel_token_deadline writes this when a token has no deadline. */\n\
             #define GOGROUP_NO_DEADLINE UINT64_MAX\n\
             /* Size of the message buffer a gogroup_task_fn may write into. */\n\
             #define GOGROUP_TASK_MESSAGE_CAP 256u\n"
        ));
        cbindgen::Builder::new()
            .with_crate(&dir)
            .with_config(config)
            .generate()
            .expect("cbindgen generates include/gogroup.h")
            .write_to_file(&out);
    }
}

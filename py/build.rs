//! Lets `cargo test -p gogroup-py` find the interpreter's libpython (pyenv's is not in the
//! loader cache), as toolchain.md §4 explains.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}

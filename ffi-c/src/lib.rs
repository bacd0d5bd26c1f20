//! Placeholder: the gogroup-ffi binding is being written.

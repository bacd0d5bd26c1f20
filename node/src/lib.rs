//! Placeholder: the gogroup-node binding is being written.

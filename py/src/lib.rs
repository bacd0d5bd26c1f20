//! Placeholder: the gogroup-py binding is being written.

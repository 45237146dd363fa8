//! State objects that change by compare-and-swap carry a revision counter, and are held with the ETag they were
//! read or written at.

/// A state object that carries its own revision counter (bumped by the store at each write).
pub trait Revisioned {
    fn revision(&mut self) -> &mut u64;
}

/// A value as last read or written, with the ETag that a conditional write must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
}

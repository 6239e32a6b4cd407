//! Changes of an agent slot's state: each goes through one transition, journaled.

pub mod transitions;

//! Trains: trial merges, bundle pull requests and the records they carry.

pub mod bundle;
pub mod land;
pub mod landing;
mod record;
pub mod trial;
pub mod unrelated_work;

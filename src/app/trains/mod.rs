//! Trains, and the work they carry: what happens to ended work (disposal: landed, retried or
//! failed), landing by hand, merging by hand, trial merges, bundle pull requests and the records they carry.

pub mod bundle;
mod comment;
pub mod dispatch;
pub mod disposal;
pub mod land;
pub mod merge;
mod record;
pub mod trial;
pub mod unrelated_work;
pub mod verify;

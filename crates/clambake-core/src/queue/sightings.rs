//! When this machine first saw each shared reference at the commit it is at, by this machine's
//! clock: an orchestrator is known to be alive by its references moving, never by the time its
//! commits claim, which another machine's clock wrote and which may be far off.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One reference as first seen at its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sighting {
    commit: String,
    since: Timestamp,
}

/// The references seen, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sightings(BTreeMap<String, Sighting>);

impl Sightings {
    /// Notes the references as they are at `now` (by name, each at its commit): one at a new
    /// commit is seen there from `now` on; one gone is forgotten. Returns whether anything
    /// changed.
    pub fn observe<'a>(
        &mut self,
        references: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: Timestamp,
    ) -> bool {
        let before = std::mem::take(&mut self.0);
        for (name, commit) in references {
            let sighting = match before.get(name) {
                Some(seen) if seen.commit == commit => seen.clone(),
                _ => Sighting {
                    commit: commit.to_owned(),
                    since: now,
                },
            };
            self.0.insert(name.to_owned(), sighting);
        }
        self.0 != before
    }

    /// Since when `reference` has been at the commit it was last seen at.
    pub fn since(&self, reference: &str) -> Option<Timestamp> {
        self.0.get(reference).map(|seen| seen.since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_reference_is_seen_from_when_it_moved_here_and_forgotten_when_gone() {
        let mut sightings = Sightings::default();
        let (first, later) = (at("2026-12-01T12:00:00Z"), at("2026-12-01T12:05:00Z"));
        assert!(sightings.observe([("refs/a", "1"), ("refs/b", "1")], first));
        assert!(!sightings.observe([("refs/a", "1"), ("refs/b", "1")], later));
        assert_eq!(sightings.since("refs/a"), Some(first), "still where it was");
        assert!(sightings.observe([("refs/a", "2")], later));
        assert_eq!(sightings.since("refs/a"), Some(later), "moved");
        assert_eq!(sightings.since("refs/b"), None, "gone");
    }
}

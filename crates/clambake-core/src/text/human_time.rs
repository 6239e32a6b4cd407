//! Times as people read them in comments and logs: to the second, in UTC, with how far off
//! they are (`2026-12-01 07:52:10 UTC (in 30s)`), never a nanosecond timestamp.

use std::time::Duration;

use jiff::Timestamp;

/// `2026-12-01 07:52:10 UTC`.
pub fn moment(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `2026-12-01 07:52:10 UTC (in 30s)`, `(5m ago)` or `(now)`, as seen at `now`.
pub fn moment_from(at: Timestamp, now: Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let distance = span(Duration::from_secs(seconds.unsigned_abs()));
    let relative = match seconds {
        0 => "now".to_owned(),
        s if s > 0 => format!("in {distance}"),
        _ => format!("{distance} ago"),
    };
    format!("{} ({relative})", moment(at))
}

/// A duration to the second: `30s`, `2m 30s`, `1h 5m 3s`.
pub fn span(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn moments_are_shown_to_the_second_in_utc() {
        assert_eq!(
            moment(at("2026-12-01T07:52:10.123456789Z")),
            "2026-12-01 07:52:10 UTC"
        );
    }

    #[test]
    fn moments_say_how_far_off_they_are() {
        let now = at("2026-12-01T07:51:40.5Z");
        assert_eq!(
            moment_from(at("2026-12-01T07:52:10.9Z"), now),
            "2026-12-01 07:52:10 UTC (in 30s)"
        );
        assert_eq!(
            moment_from(at("2026-12-01T07:46:40Z"), now),
            "2026-12-01 07:46:40 UTC (5m ago)"
        );
        assert_eq!(moment_from(now, now), "2026-12-01 07:51:40 UTC (now)");
        assert_eq!(
            moment_from(at("2026-12-01T09:00:00Z"), now),
            "2026-12-01 09:00:00 UTC (in 1h 8m 20s)"
        );
    }

    #[test]
    fn spans_drop_fractions_of_a_second() {
        assert_eq!(span(Duration::from_millis(150_999)), "2m 30s");
    }
}

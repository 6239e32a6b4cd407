//! What an agent has said, read back from the stdout log its output is appended to: one stream
//! event a line, parsed as the supervisor parses them live.

use std::collections::VecDeque;
use std::path::Path;

use crate::core::agents::events::{AttemptTotals, parse_line};
use crate::ports::agent_host::{EventWindow, NumberedEvent, Said};

/// Reads the log at `path`; a log not written yet has said nothing.
pub async fn read(path: &Path, window: EventWindow) -> std::io::Result<Said> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(said(&String::from_utf8_lossy(&bytes), window)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Said::default()),
        Err(error) => Err(error),
    }
}

/// What the lines of `text` say: the totals of them all, and the events in `window` (only the
/// latest are kept while reading, however long the log).
fn said(text: &str, window: EventWindow) -> Said {
    let mut totals = AttemptTotals::default();
    let mut events = VecDeque::new();
    for (number, line) in (0..).zip(text.lines()) {
        let event = parse_line(line);
        totals.record(&event);
        if number >= window.from && window.latest > 0 {
            if events.len() == window.latest {
                events.pop_front();
            }
            events.push_back(NumberedEvent {
                number,
                event,
                line: line.to_owned(),
            });
        }
    }
    Said {
        totals,
        events: events.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agents::events::AgentEvent;

    const LOG: &str = concat!(
        r#"{"type":"system","subtype":"init","session_id":"s-1","model":"m"}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"One."}],"usage":{"input_tokens":7,"output_tokens":3}}}"#,
        "\n",
        "not json\n",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Two."}]}}"#,
        "\n",
    );

    fn numbers(said: &Said) -> Vec<u64> {
        said.events.iter().map(|e| e.number).collect()
    }

    #[test]
    fn the_window_keeps_the_latest_events_from_its_start_and_the_totals_count_them_all() {
        let all = said(LOG, EventWindow { from: 0, latest: 2 });
        assert_eq!(numbers(&all), [2, 3]);
        assert_eq!(all.events[1].event, parse_line(LOG.lines().nth(3).unwrap()));
        assert_eq!(all.totals.events, 4);
        assert_eq!(all.totals.turns, 2);
        assert_eq!(all.totals.session_id.as_deref(), Some("s-1"));
        assert_eq!(all.totals.usage.input_tokens, 7);
        let from = said(
            LOG,
            EventWindow {
                from: 1,
                latest: usize::MAX,
            },
        );
        assert_eq!(numbers(&from), [1, 2, 3]);
        assert!(matches!(from.events[1].event, AgentEvent::Text { .. }));
        let none = said(LOG, EventWindow { from: 0, latest: 0 });
        assert!(none.events.is_empty());
        assert_eq!(none.totals, all.totals);
    }

    #[tokio::test]
    async fn a_log_not_written_yet_has_said_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let window = EventWindow { from: 0, latest: 5 };
        let read = read(&dir.path().join("missing.jsonl"), window).await;
        assert_eq!(read.unwrap(), Said::default());
    }
}

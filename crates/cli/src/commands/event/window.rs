//! `-w`'s sliding window. A server can commit an event after a newer one, with the earlier
//! `recorded_at`, so each poll asks again from [`OVERLAP`] before the newest event seen, and
//! the ids already printed in that span are skipped.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use dstack_core::api::events::Event;
use uuid::Uuid;

/// How far back each poll looks before the newest event seen (dstack's 20 s).
pub const OVERLAP: TimeDelta = TimeDelta::seconds(20);

/// What `-w` has printed: the newest time seen and the ids inside the overlap.
#[derive(Debug, Default)]
pub struct Window {
    /// No event before this is printed: `--since`, or the oldest of a truncated first page.
    floor: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    seen: HashMap<Uuid, DateTime<Utc>>,
}

impl Window {
    /// A window that prints nothing recorded before `floor`.
    pub fn new(floor: Option<DateTime<Utc>>) -> Self {
        Self {
            floor,
            ..Self::default()
        }
    }

    /// Raises the floor to `time`: after a first page of only the newest events, older ones
    /// would print out of order.
    pub fn raise_floor(&mut self, time: DateTime<Utc>) {
        self.floor = self.floor.max(Some(time));
    }

    /// Where the next poll starts (`None`: from the first event), forgetting the ids before
    /// it, which that poll cannot return.
    pub fn next_start(&mut self) -> Option<DateTime<Utc>> {
        let start = self.floor.max(self.newest.map(|newest| newest - OVERLAP));
        if let Some(start) = start {
            self.seen.retain(|_, recorded_at| *recorded_at >= start);
        }
        start
    }

    /// Records `event`; true when it is new and not before the floor, so it is to be printed.
    pub fn admit(&mut self, event: &Event) -> bool {
        if self.floor.is_some_and(|floor| event.recorded_at < floor) {
            return false;
        }
        self.newest = self.newest.max(Some(event.recorded_at));
        self.seen.insert(event.id, event.recorded_at).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seconds: i64) -> Event {
        Event {
            id: Uuid::new_v4(),
            message: format!("at {seconds}"),
            recorded_at: DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a time"),
            actor_user_id: None,
            actor_user: None,
            is_actor_user_deleted: None,
            targets: Vec::new(),
        }
    }

    #[test]
    fn polls_overlap_and_print_each_event_once() {
        let mut window = Window::new(None);
        assert_eq!(window.next_start(), None);
        let (old, late, newest) = (event(0), event(50), event(60));
        assert!(window.admit(&old));
        assert!(window.admit(&newest));
        assert_eq!(
            window.next_start(),
            Some(newest.recorded_at - OVERLAP),
            "the next poll looks 20 s back"
        );
        // The next poll returns the newest again, and one committed late inside the overlap.
        assert!(window.admit(&late));
        assert!(!window.admit(&newest));
        assert_eq!(window.next_start(), Some(newest.recorded_at - OVERLAP));
        assert!(
            !window.seen.contains_key(&old.id),
            "forgotten once out of reach"
        );
        assert!(window.seen.contains_key(&late.id));
    }

    #[test]
    fn the_floor_bounds_the_window() {
        let since = event(100).recorded_at;
        let mut window = Window::new(Some(since));
        assert_eq!(window.next_start(), Some(since));
        assert!(!window.admit(&event(99)));
        assert!(window.admit(&event(105)));
        assert_eq!(window.next_start(), Some(since), "not below --since");
        window.raise_floor(event(200).recorded_at);
        assert!(!window.admit(&event(150)));
    }
}

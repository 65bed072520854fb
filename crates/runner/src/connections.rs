//! SSH activity in the container (agents.md §3.10), for the server's inactivity policy of dev
//! environments: established TCP connections to the sshd port, read from `/proc/net/tcp` and
//! `/proc/net/tcp6`. A connection counts once it has lasted [`MIN_CONNECTION`]; shorter ones
//! are taken for the server's own calls.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long a connection must last to count as a user's.
pub const MIN_CONNECTION: Duration = Duration::from_secs(10);
/// How often the runner looks, while the job runs.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(2500);
/// `st` of an established connection in `/proc/net/tcp*`.
const ESTABLISHED: &str = "01";

/// The remote ends (`address:port`, as the kernel writes them) of the established
/// connections whose local port is `port`, from the text of `/proc/net/tcp` or `tcp6`.
pub fn established_to_port(proc_net_tcp: &str, port: u16) -> Vec<String> {
    proc_net_tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && *state == ESTABLISHED).then(|| (*remote).to_owned())
        })
        .collect()
}

/// When connections were first seen, and when the last one that counts was.
#[derive(Debug, Default)]
pub struct ConnectionTracker {
    first_seen: HashMap<String, Instant>,
    last_connection: Option<Instant>,
    last_checked: Option<Instant>,
}

impl ConnectionTracker {
    /// Records the connections open at `now`.
    pub fn observe(&mut self, now: Instant, open: impl IntoIterator<Item = String>) {
        let open: HashSet<String> = open.into_iter().collect();
        self.first_seen.retain(|remote, _| open.contains(remote));
        for remote in open {
            self.first_seen.entry(remote).or_insert(now);
        }
        let active = self
            .first_seen
            .values()
            .any(|&since| now.duration_since(since) > MIN_CONNECTION);
        if active || self.last_connection.is_none() {
            self.last_connection = Some(now);
        }
        self.last_checked = Some(now);
    }

    /// Seconds between the last check and the last connection that counted (or the first
    /// check); 0 before any check.
    pub fn no_connections_secs(&self) -> i64 {
        match (self.last_checked, self.last_connection) {
            (Some(checked), Some(connection)) => {
                i64::try_from(checked.duration_since(connection).as_secs()).unwrap_or(i64::MAX)
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2726 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0200000A:2726 0100000A:D431 01 00000000:00000000 02:0000 00000000     0        0 2 1
   2: 0200000A:2726 0100000A:D432 06 00000000:00000000 02:0000 00000000     0        0 3 1
   3: 0200000A:2AF7 0100000A:D433 01 00000000:00000000 02:0000 00000000     0        0 4 1
";
    const TCP6: &str = "  sl  local_address remote_address st
   0: 00000000000000000000000001000000:2726 00000000000000000000000001000000:C350 01 0
";

    #[test]
    fn only_established_connections_to_the_port_count_ipv6_included() {
        assert_eq!(established_to_port(TCP, 10022), ["0100000A:D431"]);
        assert_eq!(
            established_to_port(TCP6, 10022),
            ["00000000000000000000000001000000:C350"]
        );
        assert!(established_to_port("garbage\nmore garbage", 10022).is_empty());
    }

    #[test]
    fn short_connections_do_not_reset_the_counter_and_long_ones_do() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut tracker = ConnectionTracker::default();
        assert_eq!(tracker.no_connections_secs(), 0);
        tracker.observe(at(0), []);
        tracker.observe(at(5), ["a".to_owned()]);
        tracker.observe(at(10), []);
        assert_eq!(
            tracker.no_connections_secs(),
            10,
            "a 5 s connection counted"
        );
        tracker.observe(at(20), ["b".to_owned()]);
        tracker.observe(at(35), ["b".to_owned()]);
        assert_eq!(tracker.no_connections_secs(), 0);
        tracker.observe(at(50), []);
        assert_eq!(
            tracker.no_connections_secs(),
            15,
            "counts from the last check it was open"
        );
    }
}

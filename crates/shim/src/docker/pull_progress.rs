//! [`PullTracker`]: bytes pulled so far, summed over an image's layers from Docker's pull
//! events.

use std::collections::BTreeMap;

use dstack_agents::shim::ImagePullProgress;

/// What one layer has reported.
#[derive(Debug, Clone, Copy, Default)]
struct Layer {
    downloaded: u64,
    extracted: u64,
    total: u64,
    /// `Already exists` or `Pull complete`: its size will not be learnt or change.
    settled: bool,
}

/// The layers of one pull and what each has reported.
#[derive(Debug, Default)]
pub struct PullTracker {
    layers: BTreeMap<String, Layer>,
}

impl PullTracker {
    /// Takes one event of the pull stream. Events that are not about a layer are ignored.
    pub fn observe(
        &mut self,
        id: Option<&str>,
        status: Option<&str>,
        current: Option<i64>,
        total: Option<i64>,
    ) {
        let (Some(id), Some(status)) = (id, status) else {
            return;
        };
        let current = current.and_then(|n| u64::try_from(n).ok());
        let total = total.and_then(|n| u64::try_from(n).ok());
        let known = matches!(
            status,
            "Pulling fs layer"
                | "Waiting"
                | "Verifying Checksum"
                | "Already exists"
                | "Downloading"
                | "Download complete"
                | "Extracting"
                | "Pull complete"
        );
        if !known {
            return;
        }
        let layer = self.layers.entry(id.to_owned()).or_default();
        match status {
            "Downloading" => {
                layer.downloaded = current.unwrap_or(layer.downloaded);
                layer.total = total.unwrap_or(layer.total);
            }
            "Download complete" => layer.downloaded = layer.total,
            "Extracting" => {
                // Some daemons report extraction in seconds rather than bytes; a total that
                // disagrees with the downloaded size is such a report and is not counted.
                if let (Some(current), Some(total)) = (current, total)
                    && (layer.total == 0 || layer.total == total)
                {
                    layer.extracted = current;
                    layer.downloaded = total;
                    layer.total = total;
                }
            }
            "Pull complete" => {
                layer.downloaded = layer.total;
                layer.extracted = layer.total;
                layer.settled = true;
            }
            "Already exists" => layer.settled = true,
            _ => {}
        }
    }

    /// The sums so far; `None` before any layer has reported.
    pub fn progress(&self) -> Option<ImagePullProgress> {
        if self.layers.is_empty() {
            return None;
        }
        let mut progress = ImagePullProgress {
            is_total_bytes_final: true,
            ..Default::default()
        };
        for layer in self.layers.values() {
            progress.downloaded_bytes += layer.downloaded;
            progress.extracted_bytes += layer.extracted;
            progress.total_bytes += layer.total;
            if layer.total == 0 && !layer.settled {
                progress.is_total_bytes_final = false;
            }
        }
        Some(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(
        downloaded: u64,
        extracted: u64,
        total: u64,
        is_final: bool,
    ) -> Option<ImagePullProgress> {
        Some(ImagePullProgress {
            downloaded_bytes: downloaded,
            extracted_bytes: extracted,
            total_bytes: total,
            is_total_bytes_final: is_final,
        })
    }

    #[test]
    fn nothing_reported_is_no_progress() {
        let mut tracker = PullTracker::default();
        tracker.observe(
            Some("latest"),
            Some("Pulling from library/ubuntu"),
            None,
            None,
        );
        tracker.observe(None, Some("Digest: sha256:abcd"), None, None);
        assert_eq!(tracker.progress(), None);
    }

    #[test]
    fn layers_already_present_are_final_zeros() {
        let mut tracker = PullTracker::default();
        tracker.observe(Some("a"), Some("Already exists"), None, None);
        assert_eq!(tracker.progress(), progress(0, 0, 0, true));
    }

    #[test]
    fn a_full_pull_progresses_and_the_total_is_final_once_every_size_is_known() {
        let mut tracker = PullTracker::default();
        tracker.observe(Some("a"), Some("Pulling fs layer"), None, None);
        tracker.observe(Some("b"), Some("Waiting"), None, None);
        tracker.observe(Some("a"), Some("Downloading"), Some(10), Some(100));
        assert_eq!(tracker.progress(), progress(10, 0, 100, false));
        tracker.observe(Some("b"), Some("Downloading"), Some(5), Some(50));
        assert_eq!(tracker.progress(), progress(15, 0, 150, true));
        tracker.observe(Some("a"), Some("Download complete"), None, None);
        assert_eq!(tracker.progress(), progress(105, 0, 150, true));
        tracker.observe(Some("a"), Some("Extracting"), Some(40), Some(100));
        assert_eq!(tracker.progress(), progress(105, 40, 150, true));
        tracker.observe(Some("a"), Some("Pull complete"), None, None);
        tracker.observe(Some("b"), Some("Pull complete"), None, None);
        assert_eq!(tracker.progress(), progress(150, 150, 150, true));
    }

    #[test]
    fn extraction_reported_in_seconds_does_not_count_as_bytes() {
        let mut tracker = PullTracker::default();
        tracker.observe(Some("a"), Some("Downloading"), Some(100), Some(1000));
        tracker.observe(Some("a"), Some("Extracting"), Some(2), Some(7));
        assert_eq!(tracker.progress(), progress(100, 0, 1000, true));
        tracker.observe(Some("a"), Some("Pull complete"), None, None);
        assert_eq!(tracker.progress(), progress(1000, 1000, 1000, true));
    }
}

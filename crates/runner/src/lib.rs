//! dstack-runner, the container agent: executor, repo setup, logs and metrics.

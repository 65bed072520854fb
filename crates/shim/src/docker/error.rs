//! [`DockerError`]: a failed call to the Docker daemon, with what the daemon said.

/// The text the daemon gave for a failure, without bollard's framing, so that users see
/// Docker's own words (`pull access denied for ...`, `No such image: ...`).
pub fn daemon_message(error: &bollard::errors::Error) -> String {
    use bollard::errors::Error;
    match error {
        Error::DockerResponseServerError { message, .. } => message.trim().to_owned(),
        Error::DockerStreamError { error } => error.trim().to_owned(),
        other => other.to_string(),
    }
}

/// A Docker operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the docker daemon: {}", daemon_message(.0))]
    Connect(#[source] bollard::errors::Error),
    #[error("cannot pull image {image}: {}", daemon_message(.source))]
    Pull {
        image: String,
        source: bollard::errors::Error,
    },
    #[error("pulling image {image} took longer than {minutes} minutes")]
    PullTimeout { image: String, minutes: u64 },
    #[error("pulling image {image} was interrupted by the task's termination")]
    PullInterrupted { image: String },
    #[error("cannot create container {name}: {}", daemon_message(.source))]
    Create {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot start container {name}: {}", daemon_message(.source))]
    Start {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot wait for container {name}: {}", daemon_message(.source))]
    Wait {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot stop container {name}: {}", daemon_message(.source))]
    Stop {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot remove container {name}: {}", daemon_message(.source))]
    Remove {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot inspect container {name}: {}", daemon_message(.source))]
    Inspect {
        name: String,
        source: bollard::errors::Error,
    },
    #[error("cannot list the shim's containers: {}", daemon_message(.0))]
    List(#[source] bollard::errors::Error),
}

//! Running one command on a session channel and collecting what it prints.

use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};

/// What a command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status; `None` when the command was killed by a signal or the server sent none.
    pub status: Option<u32>,
    /// The signal that killed the command, such as `KILL`.
    pub signal: Option<String>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Stdout as text, lossily decoded and trimmed.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_owned()
    }

    /// Stderr as text, lossily decoded and trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }

    /// `exit status N` or `killed by SIGNAL`, for messages.
    pub fn describe_exit(&self) -> String {
        match (&self.status, &self.signal) {
            (Some(status), _) => format!("exit status {status}"),
            (None, Some(signal)) => format!("killed by {signal}"),
            (None, None) => "no exit status".to_owned(),
        }
    }
}

/// Runs `command` on a fresh session channel through the user's shell on the host, feeding
/// it `stdin` and then EOF.
pub(crate) async fn run(
    mut channel: Channel<Msg>,
    command: &str,
    stdin: &[u8],
) -> Result<CommandOutput, russh::Error> {
    channel.exec(true, command).await?;
    if !stdin.is_empty() {
        channel.data(stdin).await?;
    }
    channel.eof().await?;
    let mut output = CommandOutput {
        status: None,
        signal: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    // The channel ends (`None`) after the server's close, which follows the exit status.
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => output.status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                output.signal = Some(match signal_name {
                    Sig::Custom(name) => name,
                    known => format!("{known:?}"),
                });
            }
            _ => {}
        }
    }
    Ok(output)
}

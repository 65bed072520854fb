//! How the CLI prints: borderless tables in dstack's layout, colour only on a terminal,
//! relative dates, prices, and the `[y/n]` prompt.

use std::io::{BufRead, IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::presets::NOTHING;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

/// A table as dstack's rich tables look: no borders, upper-case headers, one space of padding
/// on each side of a cell.
pub fn table<I: IntoIterator<Item = &'static str>>(headers: I) -> Table {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    let headers: Vec<Cell> = headers
        .into_iter()
        .map(|header| Cell::new(header).add_attribute(Attribute::Bold))
        .collect();
    if !headers.is_empty() {
        table.set_header(headers);
    }
    table
}

/// A grey cell, dstack's secondary colour.
pub fn grey(text: impl ToString) -> Cell {
    Cell::new(text).fg(Color::DarkGrey)
}

/// A bold cell.
pub fn bold(text: impl ToString) -> Cell {
    Cell::new(text).add_attribute(Attribute::Bold)
}

/// Writes `text` to stdout. A reader that went away (`dstack ps | head`) is not an error:
/// the rest is dropped instead of panicking as `println!` would.
fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Prints a table, with trailing spaces trimmed from each line.
pub fn print_table(table: &Table) {
    let text: String = table
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect();
    write_stdout(&text);
}

/// Prints `value` as one line of JSON, as dstack's `--json` does.
pub fn print_json<T: serde::Serialize>(value: &T) {
    let json = serde_json::to_string(value).expect("API models always serialize");
    write_stdout(&format!("{json}\n"));
}

/// Prints `value` as JSON indented by 2, as `fleet get --json` does.
pub fn print_json_pretty<T: serde::Serialize>(value: &T) {
    let json = serde_json::to_string_pretty(value).expect("API models always serialize");
    write_stdout(&format!("{json}\n"));
}

fn paint(code: &str, text: &str) -> String {
    if std::io::stdout().is_terminal() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Red text on a terminal (errors).
pub fn red(text: &str) -> String {
    paint("31", text)
}

/// Yellow text on a terminal (warnings).
pub fn yellow(text: &str) -> String {
    paint("33", text)
}

/// Grey text on a terminal (secondary output such as `OK`).
pub fn secondary(text: &str) -> String {
    paint("90", text)
}

/// `$` and up to 4 decimals without trailing zeros: `$2.39`, `$0`.
pub fn format_price(price: f64) -> String {
    let text = format!("{price:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("${text}")
}

/// dstack's relative dates: `now`, `N sec ago`, `1 min ago`, `yesterday`, `N days ago`, ...
pub fn pretty_date(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - time).num_seconds().max(0);
    let days = seconds / 86_400;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match (days, seconds) {
        (0, 0..10) => "now".to_owned(),
        (0, 10..60) => format!("{seconds} sec ago"),
        (0, 60..3600) => plural(seconds / 60, "min"),
        (0, _) => plural(seconds / 3600, "hour"),
        (1, _) => "yesterday".to_owned(),
        (2..7, _) => format!("{days} days ago"),
        (7..31, _) => plural(days / 7, "week"),
        (31..365, _) => plural(days / 30, "month"),
        _ => plural(days / 365, "year"),
    }
}

/// What the user answered at a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `y`.
    Yes,
    /// `n`, or end of input.
    No,
}

/// Asks `<question> [y/n]: ` on stdout until the answer is `y` or `n`; `yes` (from `-y`)
/// answers for the user.
pub fn confirm(question: &str, yes: bool) -> std::io::Result<Answer> {
    if yes {
        return Ok(Answer::Yes);
    }
    let stdin = std::io::stdin();
    loop {
        print!("{question} [y/n]: ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            println!();
            return Ok(Answer::No);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(Answer::Yes),
            "n" | "no" => return Ok(Answer::No),
            _ => println!("Please enter y or n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn prices_drop_trailing_zeros() {
        assert_eq!(format_price(2.39), "$2.39");
        assert_eq!(format_price(0.0), "$0");
        assert_eq!(format_price(127.816), "$127.816");
        assert_eq!(format_price(1.23456), "$1.2346");
    }

    #[test]
    fn dates_read_like_dstacks() {
        let now = Utc::now();
        let ago = |seconds| pretty_date(now - TimeDelta::seconds(seconds), now);
        assert_eq!(ago(3), "now");
        assert_eq!(ago(42), "42 sec ago");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(600), "10 mins ago");
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(86_400 + 5), "yesterday");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(14 * 86_400), "2 weeks ago");
    }
}

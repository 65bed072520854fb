//! Removes ANSI escape sequences (colours, cursor moves, window titles) from job output, for
//! the logs the server stores. The WebSocket stream keeps them for terminals.
//!
//! A sequence may be split across two reads, so the stripper keeps its state between
//! chunks.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// `ESC [` ... up to a final byte in `@`..=`~`.
    Csi,
    /// `ESC ]` ... up to BEL or `ESC \`.
    Osc,
    /// ESC inside an OSC sequence.
    OscEnding,
    /// `ESC (` and its kin take one more byte.
    Charset,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

#[derive(Debug, Default)]
pub struct AnsiStripper {
    escape: Escape,
}

impl AnsiStripper {
    /// The text of `chunk` without escape sequences.
    pub fn strip(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut text = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            self.escape = match (self.escape, byte) {
                (Escape::None, ESC) => Escape::Start,
                (Escape::None, byte) => {
                    text.push(byte);
                    Escape::None
                }
                (Escape::Start, b'[') => Escape::Csi,
                (Escape::Start, b']') => Escape::Osc,
                (Escape::Start, b'(' | b')' | b'*' | b'+') => Escape::Charset,
                (Escape::Csi, b'@'..=b'~') | (Escape::Osc, BEL) | (Escape::OscEnding, b'\\') => {
                    Escape::None
                }
                (Escape::Csi, _) => Escape::Csi,
                (Escape::Osc, ESC) => Escape::OscEnding,
                (Escape::Osc | Escape::OscEnding, _) => Escape::Osc,
                (Escape::Start | Escape::Charset, _) => Escape::None,
            };
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn strip(chunks: &[&[u8]]) -> Vec<u8> {
        let mut stripper = AnsiStripper::default();
        chunks
            .iter()
            .flat_map(|chunk| stripper.strip(chunk))
            .collect()
    }

    #[test]
    fn removes_colours_cursor_moves_titles_and_charsets() {
        assert_eq!(strip(&[b"\x1b[1;31mred\x1b[0m plain\n"]), b"red plain\n");
        assert_eq!(strip(&[b"a\x1b[2Kb\x1b[10;3Hc"]), b"abc");
        assert_eq!(strip(&[b"\x1b]0;title\x07x\x1b]8;;url\x1b\\y"]), b"xy");
        assert_eq!(strip(&[b"\x1b(Bz\x1b=w"]), b"zw");
    }

    #[test]
    fn sequences_split_across_chunks_are_removed() {
        assert_eq!(strip(&[b"ab\x1b", b"[3", b"2mcd"]), b"abcd");
        assert_eq!(strip(&[b"\x1b]0;ti", b"tle\x1b", b"\\done"]), b"done");
    }

    proptest! {
        #[test]
        fn text_without_escapes_is_unchanged(text in "[^\x1b]*") {
            prop_assert_eq!(strip(&[text.as_bytes()]), text.as_bytes());
        }
    }
}

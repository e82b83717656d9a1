//! Text that came from a card, made safe to show.
//!
//! The application label (`50`), the application preferred name (`9F12`) and the cardholder
//! name (`5F20`) are whatever the card says. A hostile card can put terminal escape sequences
//! in them (`ESC [2J` clears the merchant's screen, an OSC sequence retitles the window or
//! writes a hyperlink), C0/C1 controls that move the cursor or end a line, or Unicode bidi
//! overrides that make `LIBATER` read as `RETABIL`. Everything that shows card text (console,
//! receipts, history, the CSV export, logs) goes through [`card_text`] or [`sanitize`], which
//! drop all of these and keep the rest of the text as it is.
//!
//! Spreadsheet formulas in a CSV field are a separate concern of the export, which also
//! applies the formula rule to the result.

/// Card bytes (`ans`, ISO/IEC 8859 in practice, UTF-8 accepted) as safe display text: decoded
/// (invalid UTF-8 becomes U+FFFD), then [`sanitize`]d and trimmed.
pub fn card_text(bytes: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(bytes)).trim().to_owned()
}

/// `text` without terminal escape sequences (ESC or C1 introduced: CSI, OSC, DCS, SOS, PM,
/// APC, and two-byte escapes), control characters (C0, DEL, C1) and bidi embedding, override
/// and isolate characters (U+202A-U+202E, U+2066-U+2069), and the Unicode line and paragraph
/// separators (U+2028, U+2029). Other characters are kept.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.next() {
                Some('[') => skip_control_sequence(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // A two-byte escape (`ESC c`, `ESC 7`, ...): the second character goes too.
                Some(_) | None => {}
            },
            CSI => skip_control_sequence(&mut chars),
            OSC | DCS | SOS | PM | APC => skip_string(&mut chars),
            c if c.is_control() || is_bidi_control(c) || is_line_separator(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` is a bidi embedding, override or isolate character (Unicode UAX #9 §2).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: they end a line like a newline.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Skips the rest of a control sequence (ECMA-48 §5.4): parameter and intermediate bytes
/// (`0x20`-`0x3F`), then one final byte (`0x40`-`0x7E`). Anything else ends it early (and is
/// read as text again, filtered like any other character).
fn skip_control_sequence(chars: &mut core::iter::Peekable<core::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        if ('\u{20}'..='\u{3F}').contains(&c) {
            chars.next();
        } else {
            if ('\u{40}'..='\u{7E}').contains(&c) {
                chars.next();
            }
            return;
        }
    }
}

/// Skips a command string (ECMA-48 §5.6: OSC, DCS, SOS, PM, APC) up to and including its
/// terminator: BEL, ST (`ESC \` or U+009C), or the end of the text.
fn skip_string(chars: &mut core::iter::Peekable<core::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST => return,
            ESC => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

const BEL: char = '\u{07}';
const ESC: char = '\u{1B}';
const DCS: char = '\u{90}';
const SOS: char = '\u{98}';
const CSI: char = '\u{9B}';
const ST: char = '\u{9C}';
const OSC: char = '\u{9D}';
const PM: char = '\u{9E}';
const APC: char = '\u{9F}';

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        assert_eq!(sanitize("VISA\x1b[2J DEBIT"), "VISA DEBIT");
        assert_eq!(sanitize("A\x1b[1;31mRED\x1b[0m"), "ARED");
        assert_eq!(sanitize("\x1b]0;pwned\x07VISA"), "VISA");
        assert_eq!(
            sanitize("\x1b]8;;http://x\x1b\\click\x1b]8;;\x1b\\"),
            "click"
        );
        assert_eq!(sanitize("\u{9b}2JVISA"), "VISA");
        assert_eq!(sanitize("\x1bcVISA"), "VISA");
        assert_eq!(sanitize("a\rb\nc\td\x7fe\u{85}f\0"), "abcdef");
        assert_eq!(sanitize("trailing escape \x1b"), "trailing escape ");
        assert_eq!(sanitize("\x1b[12"), "");
        assert_eq!(sanitize("a\u{2028}b\u{2029}c"), "abc");
    }

    #[test]
    fn bidi_controls_are_removed() {
        assert_eq!(sanitize("VISA \u{202E}TIBED"), "VISA TIBED");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2069}',
        ] {
            assert_eq!(sanitize(&format!("a{c}b")), "ab");
        }
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "VISA DEBIT",
            "Carte Bancaire",
            "Crédit Agricole",
            "银联",
            "A-B/C (D)",
        ] {
            assert_eq!(sanitize(text), text);
        }
    }

    #[test]
    fn card_bytes_are_decoded_and_trimmed() {
        assert_eq!(card_text(b"  VISA\x1b[2J  "), "VISA");
        assert_eq!(card_text(b"VISA\xff"), "VISA\u{FFFD}");
    }

    #[test]
    fn nothing_control_survives_any_input() {
        // Every char from U+0000 to U+00FF and the bidi block, in every pair: the result holds
        // no control and no bidi character.
        let interesting: Vec<char> = (0u32..0x100)
            .chain(0x2060..0x2070)
            .chain(0x2028..0x2030)
            .filter_map(char::from_u32)
            .collect();
        for &a in &interesting {
            for &b in &interesting {
                let text: String = [a, b, 'x'].iter().collect();
                let shown = sanitize(&text);
                assert!(
                    !shown.chars().any(|c| c.is_control() || is_bidi_control(c)),
                    "{text:?} -> {shown:?}"
                );
            }
        }
    }
}

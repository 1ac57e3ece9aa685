//! Go's `strconv.Quote`, used by the `Node::dump` format and error messages.

/// Quotes `s` as Go's `strconv.Quote` does: `\"`, `\\`, the C escapes, `\xNN` for other
/// ASCII control bytes, `\uNNNN`/`\UNNNNNNNN` for non-printable runes; printable non-ASCII
/// characters stay as UTF-8.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space. Rust's std has no general-category table, so the
/// non-printable non-control ranges (spaces other than U+0020, format characters,
/// separators, private use, noncharacters) are listed here.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if c.is_control() {
        return false;
    }
    !matches!(u,
        0x00A0 | 0x00AD | 0x061C | 0x1680 | 0x180E
        | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x206F
        | 0x3000 | 0xD800..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xF0000..=0x10FFFF)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        for (input, want) in [
            ("abc", r#""abc""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\t\n\r", r#""\t\n\r""#),
            ("\u{0}\u{1b}", r#""\x00\x1b""#),
            ("한국어 ♥", "\"한국어 ♥\""),
            ("\u{200b}", r#""\u200b""#),
        ] {
            assert_eq!(go_quote(input), want, "{input:?}");
        }
    }
}

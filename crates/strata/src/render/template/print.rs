//! Go's fmt for template values: `{{.}}` printing (`%v`), `print`/`println` spacing, and
//! `printf`'s verbs (`%v %s %d %q %t %x %X %o %b %c %f %e %g %%` with flags, width and
//! precision).

use std::fmt::Write as _;

use serde_json::Value;

/// Go's name for a value's dynamic type, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Prints a value the way a template action does: strings bare, slices as `[a b]`, maps as
/// `map[k:v]` with sorted keys, nil as `<no value>` (`<nil>` inside a collection).
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        other => sprint_v(other),
    }
}

/// `%v` of one value (nil is `<nil>`).
pub fn sprint_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(sprint_v).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut out = String::from("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:{}", sprint_v(&o[k]));
            }
            out.push(']');
            out
        }
    }
}

/// Go's `%v` of a number: integers as such, floats in the shortest form, with an exponent
/// below 1e-4 and from 1e21 on.
fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    float_v(f)
}

fn float_v(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let abs = f.abs();
    if !(1e-4..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust: 1.5e21, 1e-5; Go: 1.5e+21, 1e-05.
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    format!("{f}")
}

/// `fmt.Sprint`: a space between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&sprint_v(a));
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, a newline after.
pub fn sprintln(args: &[Value]) -> String {
    let items: Vec<String> = args.iter().map(sprint_v).collect();
    items.join(" ") + "\n"
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        spec.width = num(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(num(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        out.push_str(&spec.pad(format_one(verb, &spec, arg)));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), sprint_v(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, s: String) -> String {
        let width = self.width.unwrap_or(0);
        let len = s.chars().count();
        if len >= width {
            return s;
        }
        let fill = width - len;
        if self.minus {
            s + &" ".repeat(fill)
        } else if self.zero
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            let (sign, digits) = match s.strip_prefix(['-', '+']) {
                Some(d) => (&s[..1], d),
                None => ("", s.as_str()),
            };
            format!("{sign}{}{digits}", "0".repeat(fill))
        } else {
            " ".repeat(fill) + &s
        }
    }

    fn sign(&self, negative: bool) -> &'static str {
        match (negative, self.plus, self.space) {
            (true, _, _) => "-",
            (false, true, _) => "+",
            (false, false, true) => " ",
            _ => "",
        }
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> String {
    let bad = || format!("%!{verb}({}={})", type_name(arg), sprint_v(arg));
    let int = arg.as_i64();
    let float = arg.as_f64();
    match verb {
        'v' => match arg {
            Value::String(s) if spec.sharp => quote(s),
            _ => sprint_v(arg),
        },
        's' => {
            let s = match arg {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => return bad(),
                other => sprint_v(other),
            };
            match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'q' => match arg {
            Value::String(s) => quote(s),
            Value::Number(_) if int.is_some() => {
                let c = char::from_u32(int.unwrap_or(0) as u32).unwrap_or('\u{fffd}');
                format!("'{c}'")
            }
            _ => bad(),
        },
        't' => match arg {
            Value::Bool(b) => b.to_string(),
            _ => bad(),
        },
        'd' => match int {
            Some(i) => format!("{}{}", spec.sign(i < 0), i.unsigned_abs()),
            None => bad(),
        },
        'c' => match int.and_then(|i| char::from_u32(i as u32)) {
            Some(c) => c.to_string(),
            None => bad(),
        },
        'x' | 'X' | 'o' | 'b' => match (int, arg) {
            (Some(i), _) => {
                let a = i.unsigned_abs();
                let digits = match verb {
                    'x' => format!("{a:x}"),
                    'X' => format!("{a:X}"),
                    'o' => format!("{a:o}"),
                    _ => format!("{a:b}"),
                };
                let prefix = match (spec.sharp, verb) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0",
                    _ => "",
                };
                format!("{}{prefix}{digits}", spec.sign(i < 0))
            }
            (None, Value::String(s)) if verb == 'x' || verb == 'X' => {
                let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' { hex.to_uppercase() } else { hex }
            }
            _ => bad(),
        },
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => match float {
            Some(f) => {
                let p = spec.precision;
                let body = match verb {
                    'f' | 'F' => format!("{:.*}", p.unwrap_or(6), f.abs()),
                    'e' | 'E' => {
                        let s = format!("{:.*e}", p.unwrap_or(6), f.abs());
                        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                        let (sg, d) = match e.strip_prefix('-') {
                            Some(d) => ('-', d),
                            None => ('+', e),
                        };
                        let s = format!("{m}e{sg}{d:0>2}");
                        if verb == 'E' { s.to_uppercase() } else { s }
                    }
                    _ => float_v(f.abs()),
                };
                format!("{}{body}", spec.sign(f < 0.0))
            }
            None => bad(),
        },
        _ => format!("%!{verb}({}={})", type_name(arg), sprint_v(arg)),
    }
}

/// Go's `strconv.Quote` for the common cases.
pub fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go_fmt() {
        assert_eq!(go_print(&json!(null)), "<no value>");
        assert_eq!(go_print(&json!([1, null, "a"])), "[1 <nil> a]");
        assert_eq!(
            go_print(&json!({"b": {"c": []}, "a": true})),
            "map[a:true b:map[c:[]]]"
        );
        assert_eq!(go_print(&json!(1.5)), "1.5");
        assert_eq!(go_print(&json!(2.0)), "2");
        assert_eq!(go_print(&json!(1e21)), "1e+21");
        assert_eq!(go_print(&json!(0.00001)), "1e-05");
        assert_eq!(sprint(&[json!(1), json!(2), json!("a"), json!(3)]), "1 2a3");
        assert_eq!(sprintln(&[json!("a"), json!(1)]), "a 1\n");
    }

    #[test]
    fn printf_verbs() {
        for (f, args, want) in [
            ("%s-%d", vec![json!("a"), json!(3)], "a-3"),
            ("%5s|%-5s|", vec![json!("ab"), json!("cd")], "   ab|cd   |"),
            (
                "%05d %+d %x %X %o %b",
                vec![
                    json!(42),
                    json!(5),
                    json!(255),
                    json!(255),
                    json!(8),
                    json!(5),
                ],
                "00042 +5 ff FF 10 101",
            ),
            (
                "%.2f %q %v %t",
                vec![json!(2.5061), json!("a\"b"), json!(["x"]), json!(true)],
                "2.51 \"a\\\"b\" [x] true",
            ),
            ("%d %s", vec![json!("x")], "%!d(string=x) %!s(MISSING)"),
            ("%s", vec![json!("a"), json!(1)], "a%!(EXTRA int=1)"),
            ("100%% %c %.1s", vec![json!(65), json!("xyz")], "100% A x"),
            ("%e %g", vec![json!(1234.5), json!(0.5)], "1.234500e+03 0.5"),
        ] {
            assert_eq!(sprintf(f, &args), want, "{f}");
        }
    }
}

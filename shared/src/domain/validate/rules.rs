//! The shape of a model constraint, and checking a request's JSON (as the API takes it) against a table of them.
//!
//! AWS counts a string's length in UTF-16 code units and matches a pattern against the whole value with Java's
//! regular expressions: in Java `.` matches no line terminator (`\n`, `\r`, U+0085, U+2028, U+2029) and `\d`, `\w`
//! are ASCII only, so patterns are translated to say exactly that before they are compiled.
//!
//! Every launcher checks its routes file at each cold start, so compiling a pattern must cost microseconds, not the
//! milliseconds of a regex engine that builds automata ahead of time (that was 70% of a cold start): patterns are
//! compiled with `regex-lite`, which builds none. It has no Unicode classes (`\p{L}`, in tag patterns) and no
//! look-behind (SageMaker's names end in `(?<!-)`): the classes are spelled out ahead of time (`unicode`, kept equal
//! to what `regex-syntax` makes of them by a test), and a trailing look-behind is checked apart.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// One constraint of the service model on the values at `path` (`A.B`, `A[]`, `A.<key>`, `A.<value>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub path: &'static str,
    pub check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Str {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<&'static str>,
    },
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    List {
        min: Option<i64>,
        max: Option<i64>,
    },
    Map {
        min: Option<i64>,
        max: Option<i64>,
    },
    Enum(&'static [&'static str]),
}

/// A value AWS would refuse: which field (with its index or key), the value (shortened), the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub value: String,
    pub rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}: {}", self.field, self.value, self.rule)
    }
}

/// Every value of `value` (the request as JSON, field names as the API spells them) that breaks a rule of `rules`.
pub fn check(rules: &[Rule], value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    walk(rules, value, "", "", &mut out);
    out
}

fn rule_for<'a>(rules: &'a [Rule], path: &str) -> Option<&'a Check> {
    rules.iter().find(|r| r.path == path).map(|r| &r.check)
}

fn join(base: &str, member: &str) -> String {
    if base.is_empty() {
        member.to_string()
    } else {
        format!("{base}.{member}")
    }
}

fn walk(rules: &[Rule], value: &Value, path: &str, field: &str, out: &mut Vec<Violation>) {
    if let Some(check) = rule_for(rules, path) {
        if let Some(rule) = broken(check, value) {
            out.push(Violation {
                field: field.to_string(),
                value: shown(value),
                rule,
            });
        }
    }
    match value {
        Value::Object(members) => {
            let is_map = matches!(rule_for(rules, path), Some(Check::Map { .. }));
            for (k, v) in members {
                if is_map {
                    let key_field = format!("{field}.<key {k}>");
                    walk(
                        rules,
                        &Value::String(k.clone()),
                        &format!("{path}.<key>"),
                        &key_field,
                        out,
                    );
                    walk(
                        rules,
                        v,
                        &format!("{path}.<value>"),
                        &format!("{field}.{k}"),
                        out,
                    );
                } else {
                    walk(rules, v, &join(path, k), &join(field, k), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(
                    rules,
                    v,
                    &format!("{path}[]"),
                    &format!("{field}[{i}]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

/// The rule `value` breaks, said as a person reads it.
fn broken(check: &Check, value: &Value) -> Option<String> {
    match (check, value) {
        (Check::Str { min, max, pattern }, Value::String(s)) => {
            let len = s.encode_utf16().count() as i64;
            if let Some(min) = min.filter(|m| len < *m) {
                return Some(format!("at least {min} characters (UTF-16), it has {len}"));
            }
            if let Some(max) = max.filter(|m| len > *m) {
                return Some(format!("at most {max} characters (UTF-16), it has {len}"));
            }
            let p = (*pattern)?;
            (!full_match(p, s)).then(|| format!("must match the pattern {p}"))
        }
        (Check::Int { min, max }, Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(i64::MAX);
            min.filter(|m| n < *m)
                .map(|m| format!("at least {m}"))
                .or_else(|| max.filter(|m| n > *m).map(|m| format!("at most {m}")))
        }
        (Check::List { min, max }, Value::Array(items)) => {
            count_rule(*min, *max, items.len(), "items")
        }
        (Check::Map { min, max }, Value::Object(m)) => count_rule(*min, *max, m.len(), "entries"),
        (Check::Enum(allowed), Value::String(s)) => (!allowed.contains(&s.as_str())).then(|| {
            format!(
                "one of {} values SageMaker knows ({}, …)",
                allowed.len(),
                allowed[..allowed.len().min(4)].join(", ")
            )
        }),
        _ => None,
    }
}

fn count_rule(min: Option<i64>, max: Option<i64>, n: usize, what: &str) -> Option<String> {
    let n = n as i64;
    min.filter(|m| n < *m)
        .map(|m| format!("at least {m} {what}, it has {n}"))
        .or_else(|| {
            max.filter(|m| n > *m)
                .map(|m| format!("at most {m} {what}, it has {n}"))
        })
}

fn shown(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("[{} items]", a.len()),
        Value::Object(m) => format!("{{{} entries}}", m.len()),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Whether `s` matches the Java pattern `pattern` as a whole. A pattern that cannot be compiled matches everything
/// (a test keeps every pattern of the tables compilable).
/// Patterns come from the static tables, so the cache is keyed by them without copying a key per check.
pub fn full_match(pattern: &'static str, s: &str) -> bool {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<&'static str, Option<Matcher>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    let re = cache.entry(pattern).or_insert_with(|| compile(pattern));
    re.as_ref().is_none_or(|re| re.is_match(s))
}

/// A compiled pattern. Always regex-lite, which builds no automata: a cold start compiles every pattern its routes
/// file meets. A trailing look-behind `(?<!c)`, which regex-lite lacks, is checked apart: matching the whole value,
/// it only says the value does not end with `c`.
#[derive(Debug)]
pub struct Matcher {
    engine: Engine,
    not_ending_with: Option<char>,
}

#[derive(Debug)]
enum Engine {
    /// regex-lite takes the pattern as it is.
    Lite(regex_lite::Regex),
    /// A pattern with Unicode classes (`\p{L}`: tag keys and values), which regex-lite lacks. `unicode::FORMS` holds
    /// what regex-syntax spells it as (a test keeps them equal): an ASCII value, nearly every value, is matched
    /// against the classes' ASCII members (a small pattern, cheap to compile); any other against the classes'
    /// ranges in full, compiled the first time one comes.
    Unicode {
        ascii: regex_lite::Regex,
        full: &'static str,
        compiled: OnceLock<Option<regex_lite::Regex>>,
    },
}

impl Matcher {
    pub fn is_match(&self, s: &str) -> bool {
        let matched = match &self.engine {
            Engine::Lite(re) => re.is_match(s),
            Engine::Unicode { ascii, .. } if s.is_ascii() => ascii.is_match(s),
            Engine::Unicode { full, compiled, .. } => {
                let re = compiled.get_or_init(|| regex_lite::Regex::new(full).ok());
                // A form that cannot be compiled matches everything (a test keeps each compilable).
                re.as_ref().is_none_or(|re| re.is_match(s))
            }
        };
        matched && self.not_ending_with.is_none_or(|c| !s.ends_with(c))
    }
}

/// The Rust regex that means what the Java pattern means, anchored at both ends (`None`: neither form compiles).
pub fn compile(pattern: &str) -> Option<Matcher> {
    let (core, not_ending_with) = split_look_behind(pattern);
    let engine = match super::unicode::FORMS.iter().find(|f| f.java == core) {
        Some(form) => Engine::Unicode {
            ascii: regex_lite::Regex::new(form.ascii).ok()?,
            full: form.full,
            compiled: OnceLock::new(),
        },
        None => Engine::Lite(regex_lite::Regex::new(&anchored(core)).ok()?),
    };
    Some(Matcher {
        engine,
        not_ending_with,
    })
}

/// The pattern as regex-lite (and regex-syntax) read it: translated from Java, anchored at both ends.
pub fn anchored(java: &str) -> String {
    format!("^(?:{})$", java_to_rust(java))
}

/// A pattern ending in a negative look-behind of one character (`…(?<!-)`, SageMaker's names), as the pattern before
/// it and that character: over a whole value, the look-behind only asks the last character.
pub fn split_look_behind(pattern: &str) -> (&str, Option<char>) {
    let Some(rest) = pattern.strip_suffix(')') else {
        return (pattern, None);
    };
    let Some(at) = rest.rfind("(?<!") else {
        return (pattern, None);
    };
    let inner = &rest[at + 4..];
    let c = match (inner.strip_prefix('\\'), inner.chars().count()) {
        (Some(escaped), _)
            if escaped.chars().count() == 1 && !escaped.starts_with(char::is_alphanumeric) =>
        {
            escaped.chars().next()
        }
        (None, 1) if !"()[]{}|\\.*+?^$".contains(inner) => inner.chars().next(),
        _ => None,
    };
    match c {
        // Over `a|b(?<!-)` the look-behind binds only the last alternative: not a question about the whole value.
        Some(c) if !has_top_level_alternation(&pattern[..at]) => (&pattern[..at], Some(c)),
        _ => (pattern, None),
    }
}

/// Whether `p` has a `|` outside every group and class (escapes skipped).
fn has_top_level_alternation(p: &str) -> bool {
    let (mut depth, mut in_class, mut chars) = (0usize, false, p.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Java's `.` (no line terminators), `\d`, `\w`, `\s`, `\S` and `\p{Alnum}` (ASCII), in Rust's syntax (`\S` in a class
/// as a nested class). Groups become
/// non-capturing: only whether the whole value matches is asked, and a capture in a counted repetition (the job
/// name's `(-*[a-zA-Z0-9]){0,62}`) would cost 62 capture slots to compile.
pub(crate) fn java_to_rust(p: &str) -> String {
    const JAVA_SPACE: &str = "\\t\\n\\x0B\\x0C\\r ";
    const DOT: &str = "[^\\n\\r\\x{85}\\x{2028}\\x{2029}]";
    let mut out = String::with_capacity(p.len() * 2);
    let mut in_class = false;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some('w') => out.push_str(if in_class {
                    "0-9A-Za-z_"
                } else {
                    "[0-9A-Za-z_]"
                }),
                // Java's `\s` is ASCII whitespace (Rust's is Unicode's): `\S` takes U+2028 in Java.
                Some('s') => out.push_str(if in_class {
                    JAVA_SPACE
                } else {
                    "[\\t\\n\\x0B\\x0C\\r ]"
                }),
                Some('S') => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                Some('p') if chars.as_str().starts_with("{Alnum}") => {
                    chars.nth("{Alnum}".len() - 1);
                    out.push_str(if in_class { "0-9A-Za-z" } else { "[0-9A-Za-z]" });
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push_str("\\\\"),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '.' if !in_class => out.push_str(DOT),
            '(' if !in_class && !chars.as_str().starts_with('?') => out.push_str("(?:"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: &[Rule] = &[
        Rule {
            path: "Name",
            check: Check::Str {
                min: Some(1),
                max: Some(5),
                pattern: Some("[a-z]+"),
            },
        },
        Rule {
            path: "Env",
            check: Check::Map {
                min: None,
                max: Some(2),
            },
        },
        Rule {
            path: "Env.<key>",
            check: Check::Str {
                min: None,
                max: None,
                pattern: Some("[a-zA-Z_][a-zA-Z0-9_]*"),
            },
        },
        Rule {
            path: "Tags",
            check: Check::List {
                min: None,
                max: Some(1),
            },
        },
        Rule {
            path: "Tags[].Key",
            check: Check::Str {
                min: Some(1),
                max: Some(128),
                pattern: None,
            },
        },
        Rule {
            path: "Count",
            check: Check::Int {
                min: Some(1),
                max: None,
            },
        },
        Rule {
            path: "Mode",
            check: Check::Enum(&["File", "Pipe"]),
        },
    ];

    #[test]
    fn each_kind_of_rule_names_field_value_and_rule() {
        let v = json!({"Name": "ab1", "Env": {"1BAD": "x", "GOOD": "y", "MORE": "z"}, "Tags": [{"Key": ""}, {"Key": "k"}],
                       "Count": 0, "Mode": "Stream"});
        let found: Vec<String> = check(RULES, &v).iter().map(|v| v.field.clone()).collect();
        assert_eq!(
            found,
            [
                "Count",
                "Env",
                "Env.<key 1BAD>",
                "Mode",
                "Name",
                "Tags",
                "Tags[0].Key"
            ],
            "{:#?}",
            check(RULES, &v)
        );
        let name = &check(RULES, &json!({"Name": "toolong"}))[0];
        assert_eq!(name.value, "\"toolong\"");
        assert!(name.rule.contains("at most 5"), "{name}");
        assert!(check(RULES, &json!({"Name": "ok", "Count": 3, "Mode": "File"})).is_empty());
    }

    #[test]
    fn lengths_are_utf16_code_units() {
        // One emoji is two UTF-16 units (and four UTF-8 bytes): "ab😀" is 4 units, over 3.
        let rules = [Rule {
            path: "S",
            check: Check::Str {
                min: None,
                max: Some(3),
                pattern: None,
            },
        }];
        assert_eq!(check(&rules, &json!({"S": "ab😀"})).len(), 1);
        assert!(
            check(&rules, &json!({"S": "éèê"})).is_empty(),
            "three accented letters are three units"
        );
    }

    #[test]
    fn patterns_match_whole_values_with_javas_dot_and_ascii_classes() {
        assert!(full_match(".*", "s3://b/k"));
        for terminator in ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            assert!(
                !full_match(".*", &format!("s3://b/{terminator}k")),
                "{terminator:?}"
            );
        }
        assert!(!full_match("[a-z]+", "abc1"), "a whole match, not a search");
        assert!(
            !full_match("\\d{12}", "١٢٣٤٥٦٧٨٩٠١٢"),
            "\\d is ASCII in Java"
        );
        assert!(full_match(
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            "équipe Ωmega 42"
        ));
    }
}

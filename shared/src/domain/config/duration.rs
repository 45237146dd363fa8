//! Durations in the routes file: `"7d"`, `"12h"`, `"30m"`, `"45s"`, or a number of seconds.

use std::time::Duration;

/// The longest duration a route may name: a hundred years is "never" for a queue.
const MAX_SECONDS: u64 = 100 * 365 * 86_400;

/// `"7d"`, `"12h"`, `"30m"`, `"45s"`, or a number of seconds.
pub fn parse_duration(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(n) if *n > 0 && *n as u64 <= MAX_SECONDS => *n as u64,
        toml::Value::String(s) => {
            let s = s.trim();
            let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = num.parse().map_err(|_| {
                format!("`{s}` is not a duration such as `7d`, `12h`, `30m` or `45s`")
            })?;
            let mult = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86400,
                _ => return Err(format!("`{s}` has an unknown unit: use s, m, h or d")),
            };
            n.checked_mul(mult)
                .filter(|s| *s <= MAX_SECONDS)
                .ok_or_else(|| {
                    format!("`{s}` is longer than hubtune can wait (at most 100 years)")
                })?
        }
        other => {
            return Err(format!(
                "must be a duration string or a positive number of seconds, not {other}"
            ))
        }
    };
    if secs == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_duration_is_an_error_not_a_panic() {
        let e = parse_duration(&toml::Value::String("9999999999999999d".into())).unwrap_err();
        assert!(e.contains("longer than"), "{e}");
        assert!(parse_duration(&toml::Value::Integer(i64::MAX)).is_err());
        assert_eq!(
            parse_duration(&toml::Value::String("7d".into())).unwrap(),
            Duration::from_secs(7 * 86_400)
        );
    }
}

//! Sizes, rates and durations: parse what users type, display what people read.
//!
//! Sizes: `MB` = 10^6 bytes, `MiB` = 2^20 bytes (and k/M/G/T, Ki/Mi/Gi/Ti); a bare number is
//! bytes. Rates: a size or a count per `/s`, `/min` or `/h`, always stored per minute.
//! Durations: `500ms`, `90s`, `15m`, `2h`, `1h30m`, `1.5h`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("'{0}' is not a duration (examples: 500ms, 90s, 15m, 2h, 1h30m)")]
    Duration(String),
    #[error("'{0}' is not a size (examples: 512MiB, 400MB, 2GiB, 1048576)")]
    Size(String),
    #[error("'{0}' is not a rate (examples: 10MB/min, 512KiB/s, 10/h)")]
    Rate(String),
    #[error("'{0}' must be greater than zero")]
    Zero(String),
    #[error("'{0}' is not a duration or a range MIN..MAX (examples: 1s, 1s..3s, 100ms..200ms)")]
    DurationRange(String),
    #[error("'{0}' uses b, bits: sizes are bytes, B (examples: 5MB = 5·10^6 bytes, 5MiB = 5·2^20)")]
    Bits(String),
    #[error(
        "'{0}' has no size unit: memory growth is bytes per time (examples: 10MB/min, 512KiB/s)"
    )]
    RateWithoutBytes(String),
}

impl UnitError {
    /// Every unit error is a value the user typed.
    pub fn is_bad_input(&self) -> bool {
        true
    }
}

/// Parse a duration. Accepts humantime's forms (`1h 30m`, `1h30m`, `90s`, `500ms`) and a
/// decimal number with a single unit (`1.5h`, `0.25s`).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let trimmed = text.trim();
    let err = || UnitError::Duration(text.to_string());
    if trimmed.is_empty() {
        return Err(err());
    }
    if let Ok(d) = humantime::parse_duration(trimmed) {
        return Ok(d);
    }
    // Decimal with one unit, e.g. "1.5h": humantime takes integers only.
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(err)?;
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| err())?;
    let unit_s = match unit.trim() {
        "ms" => 1e-3,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        _ => return Err(err()),
    };
    let seconds = value * unit_s;
    if !(0.0..=1e12).contains(&seconds) {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parse a duration that must be greater than zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, UnitError> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(UnitError::Zero(text.to_string()));
    }
    Ok(d)
}

/// Multiplier of a size suffix: a decimal prefix (`k`, `M`, `G`, `T`, either case) or a
/// binary one (`Ki`, `Mi`, ...), then `B` for bytes or nothing. A lowercase `b` means bits
/// everywhere else (`Mb/s`), so it is refused rather than read as bytes (`Some(None)`).
fn size_multiplier(suffix: &str) -> Option<Option<f64>> {
    let s = suffix.trim();
    let prefix = match s.strip_suffix('B') {
        Some(p) => p,
        None if s.ends_with('b') => return Some(None),
        None => s,
    };
    let m = match prefix.to_ascii_lowercase().as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(Some(m))
}

/// Split "12.5MiB" into (12.5, "MiB").
fn split_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(t.len());
    let (number, rest) = t.split_at(end);
    let value: f64 = number.parse().ok()?;
    value.is_finite().then_some((value, rest))
}

/// A duration or a range `MIN..MAX` (uniformly random in between), as for think times:
/// `1s`, `1s..3s`, `100ms..200ms`. MIN must not exceed MAX.
pub fn parse_duration_range(text: &str) -> Result<(Duration, Duration), UnitError> {
    let err = || UnitError::DurationRange(text.to_string());
    let (lo, hi) = match text.split_once("..") {
        Some((lo, hi)) => (
            parse_duration(lo).map_err(|_| err())?,
            parse_duration(hi).map_err(|_| err())?,
        ),
        None => {
            let d = parse_duration(text).map_err(|_| err())?;
            (d, d)
        }
    };
    if lo > hi {
        return Err(err());
    }
    Ok((lo, hi))
}

/// Parse a size in bytes: `512MiB`, `400MB`, `1.5GiB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Size(text.to_string());
    let (value, suffix) = split_number(text).ok_or_else(err)?;
    let multiplier = size_multiplier(suffix)
        .ok_or_else(err)?
        .ok_or_else(|| UnitError::Bits(text.to_string()))?;
    let bytes = value * multiplier;
    if !(0.0..=1.8e19).contains(&bytes) {
        return Err(err());
    }
    Ok(bytes.round() as u64)
}

/// Parse a size that must be greater than zero.
pub fn parse_positive_size(text: &str) -> Result<u64, UnitError> {
    let b = parse_size(text)?;
    if b == 0 {
        return Err(UnitError::Zero(text.to_string()));
    }
    Ok(b)
}

fn per_minute_factor(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" => Some(60.0),
        "m" | "min" => Some(1.0),
        "h" | "hr" | "hour" => Some(1.0 / 60.0),
        _ => None,
    }
}

/// Parse a memory growth rate to bytes per minute: `10MB/min`, `512KiB/s`, `1GB/h`.
pub fn parse_byte_rate(text: &str) -> Result<f64, UnitError> {
    let err = || UnitError::Rate(text.to_string());
    let (size, unit) = text.split_once('/').ok_or_else(err)?;
    let bytes = match parse_size(size) {
        Ok(bytes) => bytes as f64,
        Err(UnitError::Bits(_)) => return Err(UnitError::Bits(text.to_string())),
        Err(_) => return Err(err()),
    };
    // A bare number would be bytes, but `10/h` is what a count rate looks like: a byte
    // threshold must say bytes.
    if split_number(size).is_some_and(|(_, suffix)| suffix.trim().is_empty()) {
        return Err(UnitError::RateWithoutBytes(text.to_string()));
    }
    Ok(bytes * per_minute_factor(unit).ok_or_else(err)?)
}

/// Parse a count growth rate to counts per minute: `10/h`, `1/min`, `0.5/s`.
pub fn parse_count_rate(text: &str) -> Result<f64, UnitError> {
    let err = || UnitError::Rate(text.to_string());
    let (count, unit) = text.split_once('/').ok_or_else(err)?;
    let (value, rest) = split_number(count).ok_or_else(err)?;
    if !rest.trim().is_empty() || value < 0.0 {
        return Err(err());
    }
    Ok(value * per_minute_factor(unit).ok_or_else(err)?)
}

/// Bytes for people: decimal units, three significant figures (`12.4 MB`, `980 kB`).
pub fn format_bytes(bytes: f64) -> String {
    let sign = if bytes < 0.0 { "-" } else { "" };
    let b = bytes.abs();
    let (value, unit) = if b >= 1e12 {
        (b / 1e12, "TB")
    } else if b >= 1e9 {
        (b / 1e9, "GB")
    } else if b >= 1e6 {
        (b / 1e6, "MB")
    } else if b >= 1e3 {
        (b / 1e3, "kB")
    } else {
        return format!("{sign}{b:.0} B");
    };
    format!("{sign}{} {unit}", three_figures(value))
}

/// A value with three significant figures, without a trailing ".0" for large values.
pub fn three_figures(value: f64) -> String {
    let a = value.abs();
    if a >= 100.0 {
        format!("{value:.0}")
    } else if a >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A byte rate per minute for people: `12.4 MB/min`.
pub fn format_byte_rate(bytes_per_min: f64) -> String {
    format!("{}/min", format_bytes(bytes_per_min))
}

/// A count rate per minute for people, per hour when small: `3.20/h`, `12.0/min`.
pub fn format_count_rate(per_min: f64) -> String {
    if per_min.abs() < 1.0 {
        format!("{}/h", three_figures(per_min * 60.0))
    } else {
        format!("{}/min", three_figures(per_min))
    }
}

/// A duration for people, two units at most: `45 s`, `4 m 10 s`, `12 h 5 m`.
pub fn format_duration_s(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "∞".to_string();
    }
    let s = seconds.max(0.0);
    if s < 10.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as u64;
    let (d, h, m, sec) = (
        total / 86400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} m")
    } else if m > 0 {
        format!("{m} m {sec} s")
    } else {
        format!("{sec} s")
    }
}

/// A memory limit as people set it: `512 MiB` or `2 GiB` when it is a whole number of
/// those (cgroup limits and `--mem-limit 512MiB` usually are), else decimal (`400 MB`).
pub fn format_limit(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format_bytes(bytes as f64)
    }
}

/// `format_duration_s` without a trailing zero unit: `12 m`, not `12 m 0 s`.
pub fn short_duration(seconds: f64) -> String {
    let text = format_duration_s(seconds);
    for zero in [" 0 s", " 0 m", " 0 h"] {
        if let Some(short) = text.strip_suffix(zero) {
            return short.to_string();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_ranges() {
        let ms = Duration::from_millis;
        assert_eq!(
            parse_duration_range("1s..3s").ok(),
            Some((ms(1000), ms(3000)))
        );
        assert_eq!(parse_duration_range("250ms").ok(), Some((ms(250), ms(250))));
        assert!(parse_duration_range("3s..1s").is_err());
        assert!(parse_duration_range("1s..").is_err());
        assert!(parse_duration_range("soon").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0.25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err(), "a bare number has no unit");
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(matches!(
            parse_positive_duration("0s"),
            Err(UnitError::Zero(_))
        ));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("400MB"), Ok(400_000_000));
        assert_eq!(parse_size("400M"), Ok(400_000_000));
        assert_eq!(parse_size("2Gi"), Ok(2 << 30));
        assert_eq!(parse_size("2KB"), Ok(2000));
        // b is bits: refused, not read as bytes.
        assert!(matches!(parse_size("400mb"), Err(UnitError::Bits(_))));
        assert!(matches!(parse_size("400Mb"), Err(UnitError::Bits(_))));
        assert!(matches!(parse_size("1Gib"), Err(UnitError::Bits(_))));
        assert_eq!(parse_size("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("10 kB"), Ok(10_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("10XB").is_err());
        assert!(parse_size("-1MB").is_err());
        assert!(parse_size("").is_err());
        assert!(matches!(
            parse_positive_size("0MB"),
            Err(UnitError::Zero(_))
        ));
    }

    #[test]
    fn rates() {
        assert_eq!(parse_byte_rate("10MB/min"), Ok(10e6));
        assert_eq!(parse_byte_rate("10MiB/min"), Ok(10.0 * 1048576.0));
        assert_eq!(parse_byte_rate("1MB/s"), Ok(60e6));
        assert_eq!(parse_byte_rate("60MB/h"), Ok(1e6));
        assert!(parse_byte_rate("lots").is_err());
        assert!(parse_byte_rate("10MB").is_err());
        assert!(parse_byte_rate("10MB/fortnight").is_err());
        assert_eq!(parse_byte_rate("1000B/s"), Ok(60_000.0));
        assert!(matches!(parse_byte_rate("5Mb/min"), Err(UnitError::Bits(t)) if t == "5Mb/min"));
        // A count rate is not a byte rate.
        assert!(matches!(
            parse_byte_rate("10/h"),
            Err(UnitError::RateWithoutBytes(_))
        ));
        assert_eq!(parse_count_rate("10/h"), Ok(10.0 / 60.0));
        assert_eq!(parse_count_rate("2/min"), Ok(2.0));
        assert_eq!(parse_count_rate("0.5/s"), Ok(30.0));
        assert!(parse_count_rate("ten/h").is_err());
        assert!(parse_count_rate("10MB/h").is_err());
    }

    #[test]
    fn display() {
        assert_eq!(format_bytes(12_400_000.0), "12.4 MB");
        assert_eq!(format_bytes(980_000.0), "980 kB");
        assert_eq!(format_bytes(-2_500_000.0), "-2.50 MB");
        assert_eq!(format_bytes(12.0), "12 B");
        assert_eq!(format_byte_rate(12_400_000.0), "12.4 MB/min");
        assert_eq!(format_count_rate(10.0 / 60.0), "10.0/h");
        assert_eq!(format_count_rate(12.0), "12.0/min");
        assert_eq!(format_duration_s(4.0), "4.0 s");
        assert_eq!(format_duration_s(250.0), "4 m 10 s");
        assert_eq!(format_duration_s(43_500.0), "12 h 5 m");
        assert_eq!(format_duration_s(f64::INFINITY), "∞");
    }
}

//! `--from` and `--to`: RFC 3339 times in UTC (`2026-12-05T10:00:00Z`, fractions allowed) or
//! seconds since the epoch.

/// A time, in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub i128);

/// A `--from` or `--to` that is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a time: give RFC 3339 in UTC (2026-12-05T10:00:00Z) or seconds since the epoch"
)]
pub struct NotATime(String);

pub fn parse_time(text: &str) -> Result<Time, NotATime> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds.abs() < 1e12 {
            return Ok(Time((seconds * 1e9).round() as i128));
        }
    }
    rfc3339(text).ok_or_else(|| NotATime(text.to_owned()))
}

fn rfc3339(s: &str) -> Option<Time> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&min)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i128 = format!("{fraction:0<9}").parse().ok()?;
    let seconds = days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec;
    Some(Time(i128::from(seconds) * 1_000_000_000 + nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_epoch_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(Time(0)));
        assert_eq!(
            parse_time("2026-12-05T10:00:00.5Z"),
            Ok(Time(1_796_464_800_500_000_000))
        );
        assert_eq!(
            parse_time("1796464800"),
            Ok(Time(1_796_464_800_000_000_000))
        );
        assert!(parse_time("2026-13-05T10:00:00Z").is_err());
        assert!(parse_time("2026-12-05T10:00:00+01:00").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("99999999999999-01-01T00:00:00Z").is_err());
    }
}

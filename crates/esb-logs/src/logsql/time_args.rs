//! `_time` arguments: durations (`5m`, `1h30m`), calendar times and periods (`2024-01Z`,
//! RFC 3339), `now` and Unix timestamps, in nanoseconds since the epoch.

/// `a - b` where `i64::MIN` and `i64::MAX` stand for minus and plus infinity.
pub(super) fn sub_ns(a: i64, b: i64) -> i64 {
    if (a == i64::MAX && b >= 0) || (a == i64::MIN && b <= 0) {
        return a;
    }
    a.saturating_sub(b)
}

/// A duration such as `5m`, `1h30m`, `1.5d` or `-2h`, in nanoseconds (saturating).
pub(super) fn parse_duration(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, unit_len) = if rest.starts_with("µs") {
            (1e3, "µs".len())
        } else if rest.starts_with("us") {
            (1e3, 2)
        } else if rest.starts_with("ms") {
            (1e6, 2)
        } else if rest.starts_with("ns") {
            (1.0, 2)
        } else {
            let unit = match rest.as_bytes().first()? {
                b's' => 1e9,
                b'm' => 60e9,
                b'h' => 3600e9,
                b'd' => 86_400e9,
                b'w' => 7.0 * 86_400e9,
                b'y' => 365.0 * 86_400e9,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[unit_len..];
        // `as` saturates, so absurd durations clamp instead of wrapping.
        total = total.saturating_add((num * unit) as i64);
    }
    Some(if negative { -total } else { total })
}

/// Whether a `_time` argument is a time rather than a duration (`2024…`, not `5m`).
pub(super) fn starts_with_year(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b.get(4), None | Some(b'-' | b'+' | b'Z' | b'z'))
}

/// A time as written: when it starts, and the last nanosecond of the period it names
/// (`2024-01` runs to the end of January).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimePoint {
    pub(super) start: i64,
    pub(super) end_incl: i64,
}

impl TimePoint {
    fn instant(t: i64) -> Self {
        TimePoint {
            start: t,
            end_incl: t,
        }
    }
}

pub(super) const NS_PER_SEC: i64 = 1_000_000_000;

pub(super) fn parse_time_text(s: &str, now: i64) -> std::result::Result<TimePoint, String> {
    if s == "now" {
        return Ok(TimePoint::instant(now));
    }
    let (body, offset_secs) = split_zone(s)?;
    let b = body.as_bytes();
    let relative = matches!((b.first(), b.last()), (Some(&f), Some(&l)) if l > b'9' || f == b'-');
    if relative || body.starts_with("now") {
        let d = body.strip_prefix("now").unwrap_or(body);
        let d = parse_duration(d)
            .ok_or_else(|| format!("{d:?} is neither a time nor a duration before now"))?;
        return Ok(TimePoint::instant(sub_ns(now, d.saturating_abs())));
    }
    if body.len() == 4 {
        return parse_calendar(body, offset_secs);
    }
    if !body.contains('-') {
        return parse_unix(body);
    }
    parse_calendar(body, offset_secs)
}

/// Splits off a `Z` or `±hh:mm` suffix: (the rest, offset east of UTC in seconds).
/// Without one the time is UTC.
fn split_zone(s: &str) -> std::result::Result<(&str, i32), String> {
    if s.len() > 6 && s.is_char_boundary(s.len() - 6) {
        let (body, tz) = s.split_at(s.len() - 6);
        let t = tz.as_bytes();
        if matches!(t[0], b'+' | b'-') && t[3] == b':' {
            let digits = |x: &str| {
                x.bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| x.parse::<i32>().ok())
                    .flatten()
            };
            let (Some(h), Some(m)) = (digits(&tz[1..3]), digits(&tz[4..6])) else {
                return Err(format!("cannot parse the time zone offset {tz:?}"));
            };
            let secs = h * 3600 + m * 60;
            return Ok((body, if t[0] == b'+' { secs } else { -secs }));
        }
    }
    Ok((s.strip_suffix('Z').unwrap_or(s), 0))
}

/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh`, `…Thh:mm`, `…Thh:mm:ss` and
/// `…Thh:mm:ss.fffffffff`, at `offset_secs` east of UTC.
fn parse_calendar(body: &str, offset_secs: i32) -> std::result::Result<TimePoint, String> {
    let bad = || {
        format!(
            "expected YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh, YYYY-MM-DDThh:mm or RFC 3339, got {body:?}"
        )
    };
    let b = body.as_bytes();
    let num = |from: usize, len: usize| -> std::result::Result<u32, String> {
        let part = body.get(from..from + len).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let sep = |at: usize, c: u8| {
        if b.get(at) == Some(&c) {
            Ok(())
        } else {
            Err(bad())
        }
    };
    let year = num(0, 4)? as i32;
    let (mut month, mut day, mut hour, mut minute, mut second, mut nanos) = (1, 1, 0, 0, 0, 0);
    // How long the named period is, as the step to its end.
    enum Step {
        Year,
        Month,
        Nanos(i64),
    }
    let step = match body.len() {
        4 => Step::Year,
        7 => Step::Month,
        10 => Step::Nanos(86_400 * NS_PER_SEC),
        13 => Step::Nanos(3600 * NS_PER_SEC),
        16 => Step::Nanos(60 * NS_PER_SEC),
        19 => Step::Nanos(NS_PER_SEC),
        n if n > 20 && b[19] == b'.' && n - 20 <= 9 => match n - 20 {
            3 => Step::Nanos(1_000_000),
            6 => Step::Nanos(1_000),
            _ => Step::Nanos(1),
        },
        _ => return Err(bad()),
    };
    if body.len() >= 7 {
        sep(4, b'-')?;
        month = num(5, 2)?;
    }
    if body.len() >= 10 {
        sep(7, b'-')?;
        day = num(8, 2)?;
    }
    if body.len() >= 13 {
        sep(10, b'T')?;
        hour = num(11, 2)?;
    }
    if body.len() >= 16 {
        sep(13, b':')?;
        minute = num(14, 2)?;
    }
    if body.len() >= 19 {
        sep(16, b':')?;
        second = num(17, 2)?;
    }
    if body.len() > 20 {
        let digits = body.len() - 20;
        nanos = num(20, digits)? * 10u32.pow(9 - digits as u32);
    }
    let start = nanos_at(year, month, day, hour, minute, second, nanos, offset_secs)?;
    let end_excl = match step {
        Step::Year => nanos_at(year + 1, 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX),
        Step::Month if month == 12 => {
            nanos_at(year + 1, 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX)
        }
        Step::Month => nanos_at(year, month + 1, 1, 0, 0, 0, 0, offset_secs).unwrap_or(i64::MAX),
        Step::Nanos(n) => start.saturating_add(n),
    };
    Ok(TimePoint {
        start,
        end_incl: end_excl.saturating_sub(1),
    })
}

#[allow(clippy::too_many_arguments)]
fn nanos_at(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    offset_secs: i32,
) -> std::result::Result<i64, String> {
    let small = |v: u32| u8::try_from(v).map_err(|_| format!("{v} is out of range"));
    let month = time::Month::try_from(small(month)?).map_err(|e| e.to_string())?;
    let date =
        time::Date::from_calendar_date(year, month, small(day)?).map_err(|e| e.to_string())?;
    let clock = time::Time::from_hms_nano(small(hour)?, small(minute)?, small(second)?, nanos)
        .map_err(|e| e.to_string())?;
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).map_err(|e| e.to_string())?;
    let t = time::PrimitiveDateTime::new(date, clock)
        .assume_offset(offset)
        .unix_timestamp_nanos();
    i64::try_from(t).map_err(|_| "the time is outside the years 1677-2262".to_string())
}

/// A Unix timestamp, `1700000000` or `1700000000.123`: seconds, milliseconds,
/// microseconds or nanoseconds depending on its size, as VictoriaLogs reads them.
fn parse_unix(s: &str) -> std::result::Result<TimePoint, String> {
    let bad = || format!("{s:?} is not a Unix timestamp or a date");
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let n: i64 = int_part.parse().map_err(|_| bad())?;
    let (mult, max_frac) = if n.unsigned_abs() <= (i64::MAX / NS_PER_SEC) as u64 {
        (NS_PER_SEC, 9)
    } else if n.unsigned_abs() <= (i64::MAX / 1_000_000) as u64 {
        (1_000_000, 6)
    } else if n.unsigned_abs() <= (i64::MAX / 1_000) as u64 {
        (1_000, 3)
    } else {
        (1, 0)
    };
    let base = n.checked_mul(mult).ok_or_else(bad)?;
    let digits_only = !int_part.is_empty() && int_part.bytes().all(|c| c.is_ascii_digit());
    let Some(frac) = frac else {
        let unit = match int_part.len() {
            _ if !digits_only => 1,
            0..=10 => NS_PER_SEC,
            11..=13 => 1_000_000,
            14..=16 => 1_000,
            _ => 1,
        };
        return Ok(TimePoint {
            start: base,
            end_incl: base.saturating_add(unit - 1),
        });
    };
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let unit = match frac.len() {
        3 => 1_000_000,
        6 => 1_000,
        _ => 1,
    };
    let kept = &frac[..frac.len().min(max_frac)];
    let frac_ns = if kept.is_empty() {
        0
    } else {
        let v: i64 = kept.parse().map_err(|_| bad())?;
        v * (mult / 10i64.pow(kept.len() as u32))
    };
    let start = if int_part.starts_with('-') {
        base.checked_sub(frac_ns)
    } else {
        base.checked_add(frac_ns)
    }
    .ok_or_else(bad)?;
    Ok(TimePoint {
        start,
        end_incl: start.saturating_add(unit - 1),
    })
}

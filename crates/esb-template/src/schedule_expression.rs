//! Schedule expressions as EventBridge reads them: `cron(...)` and `rate(...)` for
//! rules (`Events: Schedule`) and schedules (`Events: ScheduleV2`), `at(...)` for
//! schedules only, evaluated in a time zone (`ScheduleExpressionTimezone`, UTC for
//! rules) the way EventBridge Scheduler documents daylight saving time: a run whose
//! local time does not exist (the hour skipped in spring) is skipped, and a local time
//! that happens twice (the hour repeated in autumn) runs once, the first time.
//!
//! Cron is written here rather than taken from `croner`: EventBridge's dialect is
//! Quartz's without seconds, and croner reads `?` as `*` (so `cron(0 0 ? * ? *)` and
//! `cron(0 0 1 * MON *)`, which EventBridge refuses, would load), has no year range
//! of 1970–2199, and combines a day-of-month and a day-of-week with OR, which
//! EventBridge never needs because one of them must be `?`. The rules EventBridge
//! documents (its "Cron expressions reference") fit in one small evaluator.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
/// EventBridge numbers days of the week 1 (SUN) to 7 (SAT), as Quartz does.
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIRST_YEAR: u32 = 1970;
const LAST_YEAR: u32 = 2199;
/// How far before `after` (in local time) a search starts: more than any offset change,
/// so the local times just before and after a transition are all looked at.
const LOOK_BEHIND_HOURS: i64 = 26;

/// A parsed, valid `ScheduleExpression`. Serialized as the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScheduleExpression {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Cron(Box<Cron>),
    Rate(Duration),
    At(NaiveDateTime),
}

/// The six fields of a cron expression, each as the set of values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    minutes: u64,
    hours: u32,
    day_of_month: DayOfMonth,
    /// Bit `m` for month `m` (1..=12).
    months: u16,
    day_of_week: DayOfWeek,
    /// Bit `y - 1970` for year `y`.
    years: [u64; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: the day of the week decides.
    Any,
    /// Bit `d` for day `d` (1..=31).
    Days(u32),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (MON-FRI) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`: the day of the month decides.
    Any,
    /// Bit `d` for day `d` (1 = SUN ..= 7 = SAT).
    Days(u8),
    /// `6L`: the last FRI of the month.
    Last(u32),
    /// `3#2`: the second TUE of the month.
    Nth(u32, u32),
}

impl ScheduleExpression {
    /// Reads `cron(...)`, `rate(...)` and (when `v2`, EventBridge Scheduler) `at(...)`,
    /// refusing what EventBridge refuses. The error says what is wrong, for a hint.
    pub fn parse(text: &str, v2: bool) -> Result<Self, String> {
        let kind = if let Some(body) = inner(text, "cron") {
            Kind::Cron(Box::new(parse_cron(body)?))
        } else if let Some(body) = inner(text, "rate") {
            Kind::Rate(parse_rate(body)?)
        } else if let Some(body) = inner(text, "at") {
            if !v2 {
                return Err(
                    "at(...) is for ScheduleV2 (EventBridge Scheduler); a Schedule (EventBridge rule) takes cron(...) or rate(...)".into(),
                );
            }
            Kind::At(
                NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
                    .map_err(|_| format!("at({body}) is not at(yyyy-mm-ddThh:mm:ss)"))?,
            )
        } else {
            return Err(format!(
                "{text:?} is not a schedule expression: use cron(minutes hours day-of-month month day-of-week year), rate(value unit){}",
                if v2 {
                    " or at(yyyy-mm-ddThh:mm:ss)"
                } else {
                    ""
                }
            ));
        };
        Ok(Self {
            text: text.to_string(),
            kind,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A `rate(...)` expression's period.
    pub fn rate(&self) -> Option<Duration> {
        match self.kind {
            Kind::Rate(d) => Some(d),
            _ => None,
        }
    }

    /// The first run strictly after `after`: for `cron`, the next minute the fields
    /// allow in `tz`; for `at`, its time in `tz` if still to come; for `rate`, `after`
    /// plus the period (pass the previous run, or the time counting started from).
    /// `None` when no run is left (a past `at`, a year range that has ended).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Rate(period) => after.checked_add_signed(*period),
            Kind::At(local) => to_utc(*local, tz).filter(|t| *t > after),
            Kind::Cron(cron) => cron.next_after(after, tz),
        }
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<ScheduleExpression> for String {
    fn from(e: ScheduleExpression) -> Self {
        e.text
    }
}

impl TryFrom<String> for ScheduleExpression {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text, true)
    }
}

/// An IANA time zone name as EventBridge Scheduler takes it (`America/New_York`,
/// `UTC`...).
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| {
        format!(
            "{name:?} is not an IANA time zone name (e.g. UTC, Europe/London, America/New_York)"
        )
    })
}

/// A local time in `tz` as an instant: `None` when the clocks skip it (spring
/// forward), the earlier of the two when they pass it twice (autumn).
fn to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The text between `name(` and the final `)`.
fn inner<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// `value unit`: a positive whole number, the unit singular exactly when it is 1.
fn parse_rate(body: &str) -> Result<Duration, String> {
    let hint =
        "rate(1 minute), rate(5 minutes), rate(1 hour), rate(2 hours), rate(1 day) or rate(7 days)";
    let parts: Vec<&str> = body.split(' ').collect();
    let [value, unit] = parts.as_slice() else {
        return Err(format!("rate({body}) is not rate(value unit): {hint}"));
    };
    let value: i64 = match value.parse::<u32>() {
        Ok(v) if v > 0 && value.bytes().all(|b| b.is_ascii_digit()) => i64::from(v),
        _ => {
            return Err(format!(
                "rate({body}): the value must be a positive whole number ({hint})"
            ));
        }
    };
    let (singular, minutes) = match *unit {
        "minute" => (true, 1),
        "minutes" => (false, 1),
        "hour" => (true, 60),
        "hours" => (false, 60),
        "day" => (true, 1440),
        "days" => (false, 1440),
        _ => {
            return Err(format!(
                "rate({body}): the unit is minute(s), hour(s) or day(s) ({hint})"
            ));
        }
    };
    if singular != (value == 1) {
        return Err(format!(
            "rate({body}): write the unit singular for 1 and plural otherwise ({hint})"
        ));
    }
    Duration::try_minutes(value * minutes).ok_or_else(|| format!("rate({body}) is too long"))
}

/// One field's allowed range and names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &DAYS,
};
const YEAR: Field = Field {
    name: "year",
    min: FIRST_YEAR,
    max: LAST_YEAR,
    names: &[],
};

fn parse_cron(body: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [min, hour, dom, month, dow, year] = fields.as_slice() else {
        return Err(format!(
            "cron({body}) has {} fields; EventBridge's cron has six: minutes hours day-of-month month day-of-week year, e.g. cron(0 12 * * ? *)",
            fields.len()
        ));
    };
    let (dom, dow) = (dom.to_ascii_uppercase(), dow.to_ascii_uppercase());
    match (dom == "?", dow == "?") {
        (true, true) => {
            return Err(
                "? may stand in only one of day-of-month and day-of-week; give the other a value or *".into(),
            );
        }
        (false, false) => {
            return Err(format!(
                "day-of-month ({dom}) and day-of-week ({dow}) cannot both be given: one of them must be ?, e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)"
            ));
        }
        _ => {}
    }
    let bits = |field: &Field, text: &str, steps: bool| -> Result<u64, String> {
        parse_list(field, &text.to_ascii_uppercase(), steps)
    };
    let minutes = bits(&MINUTE, min, true)?;
    let hours = u32::try_from(bits(&HOUR, hour, true)?).map_err(|e| e.to_string())?;
    let months = u16::try_from(bits(&MONTH, month, true)?).map_err(|e| e.to_string())?;
    let years = parse_years(&year.to_ascii_uppercase())?;
    let day_of_month = if dom == "?" {
        DayOfMonth::Any
    } else {
        parse_day_of_month(&dom)?
    };
    let day_of_week = if dow == "?" {
        DayOfWeek::Any
    } else {
        parse_day_of_week(&dow)?
    };
    Ok(Cron {
        minutes,
        hours,
        day_of_month,
        months,
        day_of_week,
        years,
    })
}

/// `L`, `LW`, `15W`, or a list of values, ranges and steps.
fn parse_day_of_month(text: &str) -> Result<DayOfMonth, String> {
    match text {
        "L" => return Ok(DayOfMonth::Last),
        "LW" => return Ok(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(day) = text.strip_suffix('W') {
        let d = number(&DAY_OF_MONTH, day)?;
        return Ok(DayOfMonth::NearestWeekday(d));
    }
    if text.contains('L') || text.contains('W') {
        return Err(format!(
            "day-of-month {text}: L and W stand alone (L, LW, 15W), not in lists or ranges"
        ));
    }
    let bits = parse_list(&DAY_OF_MONTH, text, true)?;
    Ok(DayOfMonth::Days(
        u32::try_from(bits).map_err(|e| e.to_string())?,
    ))
}

/// `5L`, `L`, `3#2`, or a list of values and ranges (no steps: EventBridge's
/// day-of-week takes `, - * ? L #`).
fn parse_day_of_week(text: &str) -> Result<DayOfWeek, String> {
    // "The last day of the week": every SAT, as in Quartz.
    if text == "L" {
        return Ok(DayOfWeek::Days(1 << 7));
    }
    if let Some(day) = text.strip_suffix('L') {
        return Ok(DayOfWeek::Last(number(&DAY_OF_WEEK, day)?));
    }
    if let Some((day, nth)) = text.split_once('#') {
        if text.contains(',') {
            return Err(format!(
                "day-of-week {text}: with # the field holds one expression only (3#1,6#3 is two)"
            ));
        }
        let day = number(&DAY_OF_WEEK, day)?;
        let nth = match nth.parse::<u32>() {
            Ok(n) if (1..=5).contains(&n) && nth.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(format!(
                    "day-of-week {text}: after # comes which one in the month, 1 to 5"
                ));
            }
        };
        return Ok(DayOfWeek::Nth(day, nth));
    }
    // No day name has an L in it.
    if text.contains('L') {
        return Err(format!(
            "day-of-week {text}: L stands alone or after one day (5L), not in lists or ranges"
        ));
    }
    let bits = parse_list(&DAY_OF_WEEK, text, false)?;
    Ok(DayOfWeek::Days(
        u8::try_from(bits).map_err(|e| e.to_string())?,
    ))
}

/// The year field: `*` or 1970–2199 values, ranges and steps, as a 230-bit set.
fn parse_years(text: &str) -> Result<[u64; 4], String> {
    let mut out = [0u64; 4];
    for item in text.split(',') {
        let (lo, hi, step) = item_range(&YEAR, item, true)?;
        let mut y = lo;
        while y <= hi {
            let i = (y - FIRST_YEAR) as usize;
            if let Some(word) = out.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
            y += step;
        }
    }
    Ok(out)
}

/// A comma-separated list of `*`, values, `a-b` ranges and `/` steps as a bit set
/// (bit `v` for value `v`). Ranges may wrap (`FRI-MON`, `22-2`), as in Quartz.
fn parse_list(field: &Field, text: &str, steps: bool) -> Result<u64, String> {
    let mut out = 0u64;
    for item in text.split(',') {
        let (lo, hi, step) = item_range(field, item, steps)?;
        let span = field.max - field.min + 1;
        let len = if hi >= lo { hi - lo } else { hi + span - lo };
        let mut k = 0;
        while k <= len {
            let v = (lo - field.min + k) % span + field.min;
            out |= 1 << v;
            k += step;
        }
    }
    Ok(out)
}

/// One item of a list: its first and last value (the last may be below the first
/// when the range wraps) and its step.
fn item_range(field: &Field, item: &str, steps: bool) -> Result<(u32, u32, u32), String> {
    let (range, step) = match item.split_once('/') {
        Some(_) if !steps => {
            return Err(format!("{}: / is not allowed in this field", field.name));
        }
        Some((range, step)) => {
            let s = match step.parse::<u32>() {
                Ok(s) if s >= 1 && s <= field.max && step.bytes().all(|b| b.is_ascii_digit()) => s,
                _ => {
                    return Err(format!(
                        "{} {item}: the step after / must be 1 to {}",
                        field.name, field.max
                    ));
                }
            };
            (range, Some(s))
        }
        None => (item, None),
    };
    let (lo, hi) = if range == "*" {
        (field.min, field.max)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (number(field, a)?, number(field, b)?);
        if field.name == "year" && b < a {
            return Err(format!("year {item}: the range ends before it starts"));
        }
        (a, b)
    } else {
        let a = number(field, range)?;
        // `5/15`: from 5 to the end of the field.
        (a, if step.is_some() { field.max } else { a })
    };
    Ok((lo, hi, step.unwrap_or(1)))
}

/// A value of the field: a number in range or (month, day of week) a name.
fn number(field: &Field, text: &str) -> Result<u32, String> {
    if let Some(i) = field.names.iter().position(|n| *n == text) {
        return Ok(field.min + i as u32);
    }
    match text.parse::<u32>() {
        Ok(v)
            if (field.min..=field.max).contains(&v) && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(v)
        }
        _ => {
            let names = if field.names.is_empty() {
                String::new()
            } else {
                format!(
                    " or {}-{}",
                    field.names[0],
                    field.names[field.names.len() - 1]
                )
            };
            Err(format!(
                "{} {text:?} is not a value: {} takes {}-{}{names}",
                field.name, field.name, field.min, field.max
            ))
        }
    }
}

impl Cron {
    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local() - Duration::hours(LOOK_BEHIND_HOURS);
        let start_day = local.date();
        let mut year = start_day.year();
        while year <= LAST_YEAR as i32 {
            if self.has_year(year) {
                for month in 1..=12u32 {
                    if self.months & (1 << month) == 0 {
                        continue;
                    }
                    let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                        continue;
                    };
                    if (year, month) < (start_day.year(), start_day.month()) {
                        continue;
                    }
                    if let Some(t) = self.in_month(first, start_day, after, tz) {
                        return Some(t);
                    }
                }
            }
            year += 1;
        }
        None
    }

    fn has_year(&self, year: i32) -> bool {
        let Ok(i) = usize::try_from(year - FIRST_YEAR as i32) else {
            return false;
        };
        self.years
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// The first run in the month starting at `first`, on or after `start_day`, later
    /// than `after`.
    fn in_month(
        &self,
        first: NaiveDate,
        start_day: NaiveDate,
        after: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        let last = last_day(first);
        for day in 1..=last.day() {
            let date = first.with_day(day)?;
            if date < start_day || !self.day_matches(date, last) {
                continue;
            }
            for hour in 0..24u32 {
                if self.hours & (1 << hour) == 0 {
                    continue;
                }
                for minute in 0..60u32 {
                    if self.minutes & (1 << minute) == 0 {
                        continue;
                    }
                    let local = date.and_hms_opt(hour, minute, 0)?;
                    if let Some(t) = to_utc(local, tz).filter(|t| *t > after) {
                        return Some(t);
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, date: NaiveDate, last: NaiveDate) -> bool {
        let day = date.day();
        // 1 = SUN ..= 7 = SAT.
        let weekday = date.weekday().number_from_sunday();
        let dom = match self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(bits) => bits & (1 << day) != 0,
            DayOfMonth::Last => day == last.day(),
            DayOfMonth::LastWeekday => day == nearest_weekday(last, last.day()),
            DayOfMonth::NearestWeekday(d) => d <= last.day() && day == nearest_weekday(last, d),
        };
        let dow = match self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(bits) => bits & (1 << weekday) != 0,
            DayOfWeek::Last(d) => weekday == d && day + 7 > last.day(),
            DayOfWeek::Nth(d, n) => weekday == d && (day - 1) / 7 + 1 == n,
        };
        dom && dow
    }
}

/// The last day of the month starting at `first`.
fn last_day(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).unwrap_or(first)
}

/// Quartz's `W`: the weekday nearest day `d` of the month ending `last`, never
/// leaving the month (a SAT 1st moves to MON 3rd, a SUN last day back to FRI).
fn nearest_weekday(last: NaiveDate, d: u32) -> u32 {
    let Some(date) = last.with_day(d) else {
        return 0;
    };
    match date.weekday().number_from_sunday() {
        // SAT
        7 if d == 1 => 3,
        7 => d - 1,
        // SUN
        1 if d == last.day() => d - 2,
        1 => d + 1,
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    /// The next `n` runs of `expr` after `from`, in RFC 3339 UTC.
    fn runs(expr: &str, from: &str, tz: &str, n: usize) -> Vec<String> {
        let e = ScheduleExpression::parse(expr, true).expect(expr);
        let tz = parse_timezone(tz).expect("tz");
        let mut t = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            match e.next_after(t, tz) {
                Some(next) => {
                    out.push(next.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn eventbridge_documented_examples() {
        // "Run at 10:00 am (UTC+0) every day".
        assert_eq!(
            runs("cron(0 10 * * ? *)", "2026-03-01T10:00:00Z", "UTC", 2),
            ["2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"]
        );
        // "Run at 12:15 pm (UTC+0) every day".
        assert_eq!(
            runs("cron(15 12 * * ? *)", "2026-03-01T00:00:00Z", "UTC", 1),
            ["2026-03-01T12:15:00Z"]
        );
        // "Run at 6:00 pm (UTC+0) every Monday through Friday" (2026-03-06 is a FRI).
        assert_eq!(
            runs("cron(0 18 ? * MON-FRI *)", "2026-03-06T18:00:00Z", "UTC", 2),
            ["2026-03-09T18:00:00Z", "2026-03-10T18:00:00Z"]
        );
        // "Run at 8:00 am (UTC+0) every first day of the month".
        assert_eq!(
            runs("cron(0 8 1 * ? *)", "2026-01-15T00:00:00Z", "UTC", 2),
            ["2026-02-01T08:00:00Z", "2026-03-01T08:00:00Z"]
        );
        // "Run every 10 min on weekdays".
        assert_eq!(
            runs(
                "cron(0/10 * ? * MON-FRI *)",
                "2026-03-06T23:45:00Z",
                "UTC",
                2
            ),
            ["2026-03-06T23:50:00Z", "2026-03-09T00:00:00Z"]
        );
        // "Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm".
        assert_eq!(
            runs(
                "cron(0/5 8-17 ? * MON-FRI *)",
                "2026-03-06T17:52:00Z",
                "UTC",
                2
            ),
            ["2026-03-06T17:55:00Z", "2026-03-09T08:00:00Z"]
        );
        // "Run at 9 a.m. on the first Monday of every month".
        assert_eq!(
            runs("cron(0 9 ? * 2#1 *)", "2026-03-01T00:00:00Z", "UTC", 2),
            ["2026-03-02T09:00:00Z", "2026-04-06T09:00:00Z"]
        );
        // "Run at 10:15 am (UTC+0) on the last Friday of each month during the years
        // 2019 to 2022".
        assert_eq!(
            runs(
                "cron(15 10 ? * 6L 2019-2022)",
                "2022-10-01T00:00:00Z",
                "UTC",
                4
            ),
            [
                "2022-10-28T10:15:00Z",
                "2022-11-25T10:15:00Z",
                "2022-12-30T10:15:00Z"
            ]
        );
        // "Run every 15 minutes".
        assert_eq!(
            runs("cron(0/15 * * * ? *)", "2026-03-01T00:50:00Z", "UTC", 2),
            ["2026-03-01T01:00:00Z", "2026-03-01T01:15:00Z"]
        );
        // "1/10: the 11th, 21st, and 31st minute...".
        assert_eq!(
            runs("cron(1/10 0 * * ? *)", "2026-03-01T00:00:00Z", "UTC", 6),
            [
                "2026-03-01T00:01:00Z",
                "2026-03-01T00:11:00Z",
                "2026-03-01T00:21:00Z",
                "2026-03-01T00:31:00Z",
                "2026-03-01T00:41:00Z",
                "2026-03-01T00:51:00Z"
            ]
        );
    }

    #[test]
    fn l_w_and_hash() {
        // L: the last day of the month (February 2028 is a leap month).
        assert_eq!(
            runs("cron(0 0 L * ? *)", "2028-01-31T00:00:00Z", "UTC", 3),
            [
                "2028-02-29T00:00:00Z",
                "2028-03-31T00:00:00Z",
                "2028-04-30T00:00:00Z"
            ]
        );
        // 6L: the last Friday of the month (day 6 = FRI).
        assert_eq!(
            runs("cron(0 0 ? * 6L *)", "2026-01-01T00:00:00Z", "UTC", 3),
            [
                "2026-01-30T00:00:00Z",
                "2026-02-27T00:00:00Z",
                "2026-03-27T00:00:00Z"
            ]
        );
        // L alone in day-of-week: the week's last day, SAT.
        assert_eq!(
            runs("cron(0 0 ? * L *)", "2026-03-01T00:00:00Z", "UTC", 2),
            ["2026-03-07T00:00:00Z", "2026-03-14T00:00:00Z"]
        );
        // 15W: 2026-08-15 is a SAT -> FRI 14th; 2026-11-15 a SUN -> MON 16th;
        // 2026-03-15 a SUN -> MON 16th; 2026-04-15 a WED.
        assert_eq!(
            runs("cron(0 0 15W * ? 2026)", "2026-03-01T00:00:00Z", "UTC", 3),
            [
                "2026-03-16T00:00:00Z",
                "2026-04-15T00:00:00Z",
                "2026-05-15T00:00:00Z"
            ]
        );
        assert_eq!(
            runs("cron(0 0 15W AUG ? 2026)", "2026-01-01T00:00:00Z", "UTC", 1),
            ["2026-08-14T00:00:00Z"]
        );
        // 1W never leaves the month: 2026-08-01 is a SAT -> MON 3rd.
        assert_eq!(
            runs("cron(0 0 1W 8 ? 2026)", "2026-01-01T00:00:00Z", "UTC", 1),
            ["2026-08-03T00:00:00Z"]
        );
        // LW: the last weekday; 2026-05-31 is a SUN -> FRI 29th; 2026-02-28 a SAT -> 27th.
        assert_eq!(
            runs("cron(0 0 LW 2,5 ? 2026)", "2026-01-01T00:00:00Z", "UTC", 2),
            ["2026-02-27T00:00:00Z", "2026-05-29T00:00:00Z"]
        );
        // 3#2: the second Tuesday.
        assert_eq!(
            runs("cron(30 14 ? * 3#2 *)", "2026-03-01T00:00:00Z", "UTC", 2),
            ["2026-03-10T14:30:00Z", "2026-04-14T14:30:00Z"]
        );
        // 6#5: a fifth Friday, only in months that have one.
        assert_eq!(
            runs("cron(0 0 ? * FRI#5 2026)", "2026-01-01T00:00:00Z", "UTC", 2),
            ["2026-01-30T00:00:00Z", "2026-05-29T00:00:00Z"]
        );
    }

    #[test]
    fn names_numbers_and_years() {
        // DOW 1 is SUN (not MON as in Unix cron): 2026-03-01 is a Sunday.
        assert_eq!(
            runs("cron(0 0 ? * 1 *)", "2026-02-28T00:00:00Z", "UTC", 1),
            ["2026-03-01T00:00:00Z"]
        );
        assert_eq!(
            runs("cron(0 0 ? * sun *)", "2026-02-28T00:00:00Z", "UTC", 1),
            ["2026-03-01T00:00:00Z"]
        );
        // Wrapping ranges: FRI-MON; NOV-FEB.
        assert_eq!(
            runs("cron(0 0 ? * FRI-MON *)", "2026-03-02T00:00:00Z", "UTC", 4),
            [
                "2026-03-06T00:00:00Z",
                "2026-03-07T00:00:00Z",
                "2026-03-08T00:00:00Z",
                "2026-03-09T00:00:00Z"
            ]
        );
        assert_eq!(
            runs(
                "cron(0 0 1 NOV-FEB ? 2026-2027)",
                "2026-01-15T00:00:00Z",
                "UTC",
                4
            ),
            [
                "2026-02-01T00:00:00Z",
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z"
            ]
        );
        // Years: a list; no runs once they are over.
        assert_eq!(
            runs(
                "cron(0 12 1 1 ? 2027,2029)",
                "2026-06-01T00:00:00Z",
                "UTC",
                3
            ),
            ["2027-01-01T12:00:00Z", "2029-01-01T12:00:00Z"]
        );
        assert_eq!(
            runs(
                "cron(0 0 1 1 ? 2020-2025)",
                "2026-01-01T00:00:00Z",
                "UTC",
                1
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            runs("cron(0 0 1 1 ? 2199)", "2026-01-01T00:00:00Z", "UTC", 1),
            ["2199-01-01T00:00:00Z"]
        );
        // February 30th never comes.
        assert_eq!(
            runs(
                "cron(0 0 30 2 ? 2026-2030)",
                "2026-01-01T00:00:00Z",
                "UTC",
                1
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // 09:00 in New York: 14:00Z in winter, 13:00Z in summer.
        assert_eq!(
            runs(
                "cron(0 9 * * ? *)",
                "2026-03-07T00:00:00Z",
                "America/New_York",
                2
            ),
            ["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"]
        );
        // Spring forward (2026-03-08, 02:00 -> 03:00 in New York): 02:30 does not
        // exist that day, so that run is skipped.
        assert_eq!(
            runs(
                "cron(30 2 * * ? *)",
                "2026-03-07T00:00:00Z",
                "America/New_York",
                2
            ),
            ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"]
        );
        // Fall back (2026-11-01, 02:00 -> 01:00): 01:30 happens twice and runs once,
        // the first time (EDT, 05:30Z).
        assert_eq!(
            runs(
                "cron(30 1 * * ? *)",
                "2026-10-31T12:00:00Z",
                "America/New_York",
                2
            ),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
        );
        // Every 30 minutes through the fall-back hour: the repeated 01:00 and 01:30
        // are not run again.
        assert_eq!(
            runs(
                "cron(0/30 * * * ? *)",
                "2026-11-01T04:45:00Z",
                "America/New_York",
                4
            ),
            [
                "2026-11-01T05:00:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T07:00:00Z",
                "2026-11-01T07:30:00Z"
            ]
        );
        // Asked from inside the repeated hour (06:10Z is the second 01:10).
        assert_eq!(
            runs(
                "cron(0/30 * * * ? *)",
                "2026-11-01T06:10:00Z",
                "America/New_York",
                1
            ),
            ["2026-11-01T07:00:00Z"]
        );
        // Half-hour zones and the other hemisphere.
        assert_eq!(
            runs(
                "cron(0 0 * * ? *)",
                "2026-01-01T00:00:00Z",
                "Asia/Kolkata",
                1
            ),
            ["2026-01-01T18:30:00Z"]
        );
        assert_eq!(
            runs(
                "cron(0 12 * * ? *)",
                "2026-01-01T00:00:00Z",
                "Australia/Sydney",
                1
            ),
            ["2026-01-01T01:00:00Z"]
        );
    }

    #[test]
    fn rate_and_at() {
        let e = ScheduleExpression::parse("rate(5 minutes)", false).expect("rate");
        assert_eq!(e.rate(), Some(Duration::minutes(5)));
        assert_eq!(
            runs("rate(1 minute)", "2026-03-01T00:00:30Z", "UTC", 2),
            ["2026-03-01T00:01:30Z", "2026-03-01T00:02:30Z"]
        );
        // A day is 24 hours, across daylight saving too.
        assert_eq!(
            runs("rate(1 day)", "2026-03-07T12:00:00Z", "America/New_York", 2),
            ["2026-03-08T12:00:00Z", "2026-03-09T12:00:00Z"]
        );
        for (e, d) in [
            ("rate(1 hour)", Duration::hours(1)),
            ("rate(2 hours)", Duration::hours(2)),
            ("rate(7 days)", Duration::days(7)),
        ] {
            assert_eq!(
                ScheduleExpression::parse(e, false).expect(e).rate(),
                Some(d)
            );
        }
        // at: once, in the schedule's time zone.
        assert_eq!(
            runs(
                "at(2026-07-04T09:00:00)",
                "2026-01-01T00:00:00Z",
                "America/New_York",
                2
            ),
            ["2026-07-04T13:00:00Z"]
        );
        assert_eq!(
            runs(
                "at(2026-07-04T09:00:00)",
                "2026-07-04T13:00:00Z",
                "America/New_York",
                1
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            runs("at(2026-07-04T09:00:00)", "2026-01-01T00:00:00Z", "UTC", 1),
            ["2026-07-04T09:00:00Z"]
        );
    }

    #[test]
    fn what_eventbridge_refuses() {
        for (expr, want) in [
            ("rate(1 minutes)", "singular for 1"),
            ("rate(5 minute)", "singular for 1"),
            ("rate(0 minutes)", "positive whole number"),
            ("rate(-1 minutes)", "positive whole number"),
            ("rate(1.5 hours)", "positive whole number"),
            ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
            ("rate(5)", "not rate(value unit)"),
            ("rate(5  minutes)", "not rate(value unit)"),
            ("cron(0 12 * * *)", "has 5 fields"),
            ("cron(0 0 12 * * ? *)", "has 7 fields"),
            ("cron(0 12 * * * *)", "cannot both be given"),
            ("cron(0 12 1 * MON *)", "cannot both be given"),
            ("cron(0 12 ? * ? *)", "only one of"),
            ("cron(60 12 * * ? *)", "minutes \"60\" is not a value"),
            ("cron(0 24 * * ? *)", "hours \"24\" is not a value"),
            ("cron(0 0 0 * ? *)", "day-of-month \"0\""),
            ("cron(0 0 32 * ? *)", "day-of-month \"32\""),
            ("cron(0 0 1 13 ? *)", "month \"13\""),
            ("cron(0 0 1 JANUARY ? *)", "month \"JANUARY\""),
            (
                "cron(0 0 ? * 0 *)",
                "day-of-week \"0\" is not a value: day-of-week takes 1-7 or SUN-SAT",
            ),
            ("cron(0 0 ? * 8 *)", "day-of-week \"8\""),
            ("cron(0 0 1 1 ? 1969)", "year \"1969\""),
            ("cron(0 0 1 1 ? 2200)", "year \"2200\""),
            ("cron(0 0 ? * 1/2 *)", "/ is not allowed"),
            ("cron(0 0 ? * 3#1,6#3 *)", "one expression only"),
            ("cron(0 0 ? * 3#6 *)", "1 to 5"),
            ("cron(0 0 ? * 3#0 *)", "1 to 5"),
            ("cron(0 0 L,15 * ? *)", "stand alone"),
            ("cron(0 0 1-5W * ? *)", "day-of-month \"1-5\""),
            ("cron(0 0 ? * 2-6L *)", "day-of-week \"2-6\""),
            ("cron(0/0 * * * ? *)", "step after / must be 1 to 59"),
            ("cron(0/60 * * * ? *)", "step after / must be 1 to 59"),
            ("cron(a * * * ? *)", "minutes \"A\""),
            ("cron(0 0 1 1 ? 2030-2029)", "ends before it starts"),
            ("cron 0 0 * * ? *", "is not a schedule expression"),
            ("CRON(0 0 * * ? *)", "is not a schedule expression"),
            ("at(2026-07-04 09:00:00)", "not at(yyyy-mm-ddThh:mm:ss)"),
            ("at(2026-02-30T09:00:00)", "not at(yyyy-mm-ddThh:mm:ss)"),
        ] {
            let e = ScheduleExpression::parse(expr, true).expect_err(expr);
            assert!(e.contains(want), "{expr}: {e}");
        }
        let e = ScheduleExpression::parse("at(2026-07-04T09:00:00)", false).expect_err("v1");
        assert!(e.contains("at(...) is for ScheduleV2"), "{e}");
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert!(parse_timezone("Europe/London").is_ok());
    }

    #[test]
    fn serializes_as_written() {
        let e = ScheduleExpression::parse("cron(0 9 ? * MON-FRI *)", false).expect("cron");
        let json = serde_json::to_string(&e).expect("json");
        assert_eq!(json, "\"cron(0 9 ? * MON-FRI *)\"");
        let back: ScheduleExpression = serde_json::from_str(&json).expect("back");
        assert_eq!(back, e);
        assert!(serde_json::from_str::<ScheduleExpression>("\"rate(1 minutes)\"").is_err());
    }
}

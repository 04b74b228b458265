//! Cell types of the Table Schema subset and how a cell's text parses into each.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Datetime,
}

/// A parsed cell, comparable within its type (for minimum/maximum). Text borrows the
/// record, so checking a string column allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    Int(i64),
    Num(f64),
    Bool(bool),
    /// `YYYYMMDD` as a number: it orders like the dates (all comparison needs).
    Date(i64),
    /// Seconds since the same epoch, UTC.
    Datetime(f64),
}

impl Cell<'_> {
    pub fn compare(&self, other: &Cell<'_>) -> Option<Ordering> {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) => Some(a.cmp(b)),
            (Cell::Num(a), Cell::Num(b)) => a.partial_cmp(b),
            (Cell::Date(a), Cell::Date(b)) => Some(a.cmp(b)),
            (Cell::Datetime(a), Cell::Datetime(b)) => a.partial_cmp(b),
            (Cell::Text(a), Cell::Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// The same value without the borrow; text has none (kept as text by the caller).
    pub fn to_static(&self) -> Option<Cell<'static>> {
        Some(match *self {
            Cell::Text(_) => return None,
            Cell::Int(i) => Cell::Int(i),
            Cell::Num(n) => Cell::Num(n),
            Cell::Bool(b) => Cell::Bool(b),
            Cell::Date(d) => Cell::Date(d),
            Cell::Datetime(t) => Cell::Datetime(t),
        })
    }
}

impl FieldType {
    pub fn parse(name: &str) -> Option<FieldType> {
        Some(match name {
            "string" => FieldType::String,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "datetime" => FieldType::Datetime,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
        }
    }

    /// Parses a cell's text; the error says what was expected.
    pub fn parse_cell(self, s: &str) -> Result<Cell<'_>, &'static str> {
        match self {
            FieldType::String => Ok(Cell::Text(s)),
            FieldType::Integer => {
                let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("an integer");
                }
                s.parse()
                    .map(Cell::Int)
                    .map_err(|_| "an integer in the 64-bit range")
            }
            FieldType::Number => {
                let edge = |c: Option<char>| c.is_none_or(char::is_whitespace);
                if edge(s.chars().next()) || edge(s.chars().next_back()) {
                    return Err("a number");
                }
                s.parse::<f64>().map(Cell::Num).map_err(|_| "a number")
            }
            FieldType::Boolean => match s {
                "true" | "True" | "TRUE" | "1" => Ok(Cell::Bool(true)),
                "false" | "False" | "FALSE" | "0" => Ok(Cell::Bool(false)),
                _ => Err("a boolean (true/false, 1/0)"),
            },
            FieldType::Date => date(s).map(Cell::Date).ok_or("a date (YYYY-MM-DD)"),
            FieldType::Datetime => datetime(s)
                .map(Cell::Datetime)
                .ok_or("a datetime (YYYY-MM-DDThh:mm:ss with optional fraction and Z or ±hh:mm)"),
        }
    }
}

/// A short run of ASCII digits (date and time parts) as a number.
fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.bytes().try_fold(0i64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` → `(year, month, day)`, checking the calendar (leap years included).
/// 32-bit arithmetic and no division on the common path: in the sandbox a 64-bit
/// division by a constant stays a division.
fn ymd(s: &str) -> Option<(u32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (
        num(&s[0..4])? as u32,
        num(&s[5..7])? as u32,
        num(&s[8..10])? as u32,
    );
    let days_in_month = match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=days_in_month).contains(&d).then_some((y, m, d))
}

/// A date as a number that orders like the dates: `YYYYMMDD` read as digits.
fn date(s: &str) -> Option<i64> {
    let (y, m, d) = ymd(s)?;
    Some(i64::from(y * 10_000 + m * 100 + d))
}

/// Days since 0000-03-01 (Howard Hinnant's days-from-civil, March starting the year).
fn days(s: &str) -> Option<i64> {
    let (y, m, d) = ymd(s)?;
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe)
}

/// `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]` (also with a space for `T`) → seconds, UTC.
fn datetime(s: &str) -> Option<f64> {
    if s.len() < 19 || !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let days = days(&s[..10])?;
    let t = &s[11..];
    let tb = t.as_bytes();
    if tb.len() < 8 || tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &t[8..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..n]).parse().ok()?;
        rest = &r[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 && matches!(o.as_bytes()[0], b'+' | b'-') && o.as_bytes()[3] == b':' => {
            let (oh, om) = (num(&o[1..3])?, num(&o[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type_strictly() {
        assert_eq!(FieldType::Integer.parse_cell("-42"), Ok(Cell::Int(-42)));
        assert!(FieldType::Integer.parse_cell("4.2").is_err());
        assert!(FieldType::Integer.parse_cell(" 4").is_err());
        assert_eq!(FieldType::Number.parse_cell("1e3"), Ok(Cell::Num(1000.0)));
        assert!(FieldType::Number.parse_cell("abc").is_err());
        assert_eq!(FieldType::Boolean.parse_cell("TRUE"), Ok(Cell::Bool(true)));
        assert!(FieldType::Boolean.parse_cell("yes").is_err());
        assert!(FieldType::Date.parse_cell("2024-02-29").is_ok());
        assert!(FieldType::Date.parse_cell("2023-02-29").is_err());
        assert!(FieldType::Date.parse_cell("2023-13-01").is_err());
        assert!(FieldType::Datetime
            .parse_cell("2024-05-01T10:00:00Z")
            .is_ok());
        assert!(FieldType::Datetime
            .parse_cell("2024-05-01T10:00:00.25+02:00")
            .is_ok());
        assert!(FieldType::Datetime
            .parse_cell("2024-05-01T25:00:00Z")
            .is_err());
    }

    #[test]
    fn dates_and_datetimes_order_correctly() {
        let d = |s| FieldType::Date.parse_cell(s).unwrap();
        assert_eq!(
            d("2023-12-31").compare(&d("2024-01-01")),
            Some(Ordering::Less)
        );
        assert_eq!(
            d("2024-03-01").compare(&d("2024-02-29")),
            Some(Ordering::Greater)
        );
        // The packed date orders as the day count does, across century and leap-year edges.
        let mut previous: Option<(i64, i64)> = None;
        for y in [1899, 1900, 1999, 2000, 2023, 2024, 2100, 2300] {
            for m in 1..=12 {
                for d in 1..=31 {
                    let text = format!("{y:04}-{m:02}-{d:02}");
                    let (Some(packed), Some(count)) = (date(&text), days(&text)) else {
                        continue;
                    };
                    if let Some((p, c)) = previous {
                        assert_eq!(packed.cmp(&p), count.cmp(&c), "{text}");
                    }
                    previous = Some((packed, count));
                }
            }
        }
        assert!(date("1900-02-29").is_none() && date("2000-02-29").is_some());
        let t = |s| FieldType::Datetime.parse_cell(s).unwrap();
        assert_eq!(
            t("2024-05-01T10:00:00+02:00").compare(&t("2024-05-01T08:00:00Z")),
            Some(Ordering::Equal)
        );
    }
}

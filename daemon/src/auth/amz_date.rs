//! SigV4's timestamps: `X-Amz-Date` in ISO 8601 basic form (`20150830T123600Z`, UTC), read into
//! a `SystemTime` and written back for messages (days counted by `arca_proto::civil`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arca_proto::civil::{civil_from_days, days_from_civil};

const SECONDS_PER_DAY: i64 = 86_400;

/// A parsed `X-Amz-Date`: the instant, and the date part the credential scope must repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AmzDate {
    pub(super) time: SystemTime,
    seconds: i64,
}

impl AmzDate {
    /// Reads `YYYYMMDDTHHMMSSZ`; anything else (or a date before 1970) is `None`.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes.get(8) != Some(&b'T') || bytes.get(15) != Some(&b'Z') {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = text.get(range)?;
            digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
        let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
        if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let seconds =
            days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
        let time = UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))?;
        Some(Self { time, seconds })
    }

    /// `YYYYMMDD`, as the credential scope names the day.
    pub(super) fn date(&self) -> String {
        let (year, month, day) = civil_from_days(self.seconds.div_euclid(SECONDS_PER_DAY));
        format!("{year:04}{month:02}{day:02}")
    }
}

/// `YYYYMMDDTHHMMSSZ` of an instant (for the messages of an expired signature).
pub(super) fn format(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_write_back() {
        let date = AmzDate::parse("20150830T123600Z").unwrap();
        assert_eq!(date.time, UNIX_EPOCH + Duration::from_secs(1_440_938_160));
        assert_eq!(date.date(), "20150830");
        assert_eq!(format(date.time), "20150830T123600Z");
        let leap = AmzDate::parse("20240229T235959Z").unwrap();
        assert_eq!(format(leap.time), "20240229T235959Z");
        assert_eq!(format(UNIX_EPOCH), "19700101T000000Z");
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20230229T000000Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "19691231T235959Z",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad:?}");
        }
    }
}

//! The bundling workflow's `schedule`: a cron line for `bundling.schedule_minutes`, which
//! departs on UTC multiples of that many minutes.
//!
//! Cron steps reset every hour and every day, so it departs on such multiples only for a period
//! dividing an hour, or a whole number of hours dividing a day. For any other period the
//! workflow departs at the closest of those that is shorter: a train is never later than the
//! configuration says, only the workflow wakes more often. And
//! GitHub runs a schedule at most every five minutes (often a few minutes late under load).

/// GitHub's shortest interval between two scheduled runs, in minutes.
pub const SHORTEST_MINUTES: u32 = 5;

/// The schedule the bundling workflow runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    /// The cron line, e.g. `*/10 * * * *`.
    pub cron: String,
    /// The period it departs at, in minutes.
    pub period_minutes: u32,
    /// Why it differs from the period asked for, as comment lines; empty when it does not.
    pub caveat: Vec<String>,
}

/// The cron schedule for a train every `minutes` minutes (at least 1).
pub fn schedule(minutes: u32) -> CronSchedule {
    let minutes = minutes.max(1);
    let period = expressible_at_most(minutes.max(SHORTEST_MINUTES));
    let cron = match period {
        60 => "0 * * * *".to_owned(),
        1440 => "0 0 * * *".to_owned(),
        p if p < 60 => format!("*/{p} * * * *"),
        p => format!("0 */{} * * *", p / 60),
    };
    let mut caveat = Vec::new();
    if minutes < SHORTEST_MINUTES {
        caveat.push(format!(
            "bundling.schedule_minutes is {minutes}, but GitHub runs a schedule at most every \
             {SHORTEST_MINUTES} minutes: this runs every {period}."
        ));
    } else if period != minutes {
        caveat.push(format!(
            "bundling.schedule_minutes is {minutes}, which cron cannot step by on UTC \
             multiples: this runs every {period} minutes, the closest that is not less often."
        ));
    }
    CronSchedule {
        cron,
        period_minutes: period,
        caveat,
    }
}

/// The longest period of at most `minutes` that cron steps by on UTC multiples: a divisor of
/// 60, or a number of hours dividing 24.
fn expressible_at_most(minutes: u32) -> u32 {
    let in_an_hour = (1..=60).filter(|p| 60 % p == 0);
    let in_a_day = (1..=24).filter(|h| 24 % h == 0).map(|h| h * 60);
    in_an_hour
        .chain(in_a_day)
        .filter(|p| *p <= minutes)
        .max()
        .expect("1 divides 60")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_cron_can_step_by_is_kept() {
        for (minutes, cron) in [
            (5, "*/5 * * * *"),
            (10, "*/10 * * * *"),
            (30, "*/30 * * * *"),
            (60, "0 * * * *"),
            (120, "0 */2 * * *"),
            (480, "0 */8 * * *"),
            (1440, "0 0 * * *"),
        ] {
            let schedule = schedule(minutes);
            assert_eq!(schedule.cron, cron, "{minutes}");
            assert_eq!(schedule.period_minutes, minutes);
            assert!(schedule.caveat.is_empty(), "{minutes}");
        }
    }

    #[test]
    fn another_period_departs_at_the_closest_that_is_not_less_often() {
        for (minutes, cron, period) in [
            (7, "*/6 * * * *", 6),
            (45, "*/30 * * * *", 30),
            (90, "0 * * * *", 60),
            (300, "0 */4 * * *", 240),
            (2880, "0 0 * * *", 1440),
        ] {
            let schedule = schedule(minutes);
            assert_eq!(
                (schedule.cron.as_str(), schedule.period_minutes),
                (cron, period),
                "{minutes}"
            );
            assert!(
                schedule.caveat.concat().contains("the closest"),
                "{minutes}"
            );
        }
    }

    #[test]
    fn a_period_under_five_minutes_runs_every_five() {
        for minutes in [1, 2, 4] {
            let schedule = schedule(minutes);
            assert_eq!(schedule.cron, "*/5 * * * *");
            assert!(schedule.caveat.concat().contains("at most every 5 minutes"));
        }
    }
}

//! Turns of a conversation (chat messages, transcript segments), speaker roles, and times.
use std::collections::BTreeMap;

/// Who is speaking, as far as the pipeline can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Agent,
    Bot,
    System,
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Bot => "bot",
            Role::System => "system",
            Role::Unknown => "unknown",
        }
    }

    /// Reads a role from an explicit role field or a speaker label ("Customer", "Оператор",
    /// "Support Bot", "agent_2").
    pub fn from_label(label: &str) -> Role {
        let l = label.to_lowercase();
        let words: Vec<&str> = l
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let starts = |prefixes: &[&str]| {
            words
                .iter()
                .any(|w| prefixes.iter().any(|p| w.starts_with(p)))
        };
        if words
            .iter()
            .any(|w| w.ends_with("bot") || w.starts_with("бот") || *w == "ivr")
            || starts(&["assistant", "автоответ", "автоинформ"])
        {
            Role::Bot
        } else if starts(&["system", "систем"]) {
            Role::System
        } else if starts(&[
            "support",
            "service",
            "care",
            "helpdesk",
            "поддержк",
            "техподдерж",
            "сервис",
        ]) {
            // Before the customer words: "Customer Service" is an agent.
            Role::Agent
        } else if starts(&[
            "customer",
            "client",
            "клиент",
            "покупател",
            "user",
            "пользовател",
            "абонент",
            "caller",
            "guest",
            "гость",
            "visitor",
            "посетител",
            "заказчик",
        ]) {
            Role::Customer
        } else if starts(&[
            "agent",
            "operator",
            "оператор",
            "специалист",
            "менеджер",
            "manager",
            "консультант",
            "сотрудник",
            "staff",
            "advisor",
            "адвайзер",
        ]) || words.contains(&"rep")
        {
            Role::Agent
        } else {
            Role::Unknown
        }
    }
}

/// One turn: a chat message or a transcript segment. Times are seconds (of the day for chats
/// with clock times, from the start for transcripts).
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub speaker: String,
    pub role: Role,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
}

/// Fills in roles: an explicit `customer` speaker name wins; otherwise labels; otherwise, with
/// exactly one speaker of unknown role beside known agents/bots, that speaker is the customer.
/// Returns a warning when no customer could be identified.
pub fn assign_roles(turns: &mut [Turn], customer: Option<&str>) -> Option<String> {
    if let Some(c) = customer.map(str::trim).filter(|c| !c.is_empty()) {
        let c = c.to_lowercase();
        for t in turns.iter_mut() {
            if t.speaker.trim().to_lowercase() == c {
                t.role = Role::Customer;
            } else if t.role == Role::Customer || t.role == Role::Unknown {
                t.role = Role::Agent;
            }
        }
        if turns.iter().any(|t| t.role == Role::Customer) {
            return None;
        }
        return Some(format!("customer speaker {c:?} does not occur"));
    }
    for t in turns.iter_mut() {
        if t.role == Role::Unknown {
            t.role = Role::from_label(&t.speaker);
        }
    }
    if turns.iter().any(|t| t.role == Role::Customer) {
        return None;
    }
    let unknown: BTreeMap<&str, usize> =
        turns
            .iter()
            .filter(|t| t.role == Role::Unknown)
            .fold(BTreeMap::new(), |mut m, t| {
                *m.entry(t.speaker.as_str()).or_insert(0) += 1;
                m
            });
    if unknown.len() == 1
        && turns
            .iter()
            .any(|t| t.role == Role::Agent || t.role == Role::Bot)
    {
        let who = unknown
            .keys()
            .next()
            .map(|s| s.to_string())
            .unwrap_or_default();
        for t in turns.iter_mut().filter(|t| t.speaker == who) {
            t.role = Role::Customer;
        }
        return None;
    }
    Some("no customer speaker identified: every speaker of unknown role is analysed as the customer; name the customer to be sure".into())
}

/// Parses a time: seconds as a number ("12.5"), a clock ("HH:MM", "HH:MM:SS", "MM:SS.mmm",
/// "HH:MM:SS,mmm"), or a date and time ("2024-05-01 12:01:33", "2024-05-01T12:01:33Z",
/// "01.05.2024 12:01"), all as seconds (days since 1970 for dates). Time zones are ignored.
pub fn parse_time(s: &str) -> Option<f64> {
    parse_time_with(s, false)
}

/// Like [`parse_time`], but a two-part clock "12:01" is hours and minutes (chat clocks) rather
/// than minutes and seconds (media timestamps).
pub fn parse_clock(s: &str) -> Option<f64> {
    parse_time_with(s, true)
}

fn parse_time_with(s: &str, two_part_is_hours: bool) -> Option<f64> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let (date, clock) = match s.split_once(['T', ' ']) {
        Some((d, c)) if d.contains(['-', '.', '/']) => (Some(d), c),
        _ => (None, s),
    };
    let clock = clock
        .trim_end_matches('Z')
        .split(['+'])
        .next()
        .unwrap_or(clock);
    // "12:01:33-05:00": drop a trailing zone offset after the seconds.
    let clock = match clock.match_indices('-').next() {
        Some((i, _)) if i >= 5 => &clock[..i],
        _ => clock,
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let mut secs = 0f64;
    for (k, p) in parts.iter().enumerate() {
        let p = p.replace(',', ".");
        let v: f64 = if k + 1 == parts.len() {
            p.parse().ok()?
        } else {
            p.parse::<u32>().ok()? as f64
        };
        if !v.is_finite() || v < 0.0 || (k > 0 && v >= 60.0) {
            return None;
        }
        secs = secs * 60.0 + v;
    }
    if parts.len() == 2 && (two_part_is_hours || date.is_some()) {
        secs *= 60.0;
    }
    if let Some(d) = date {
        secs += days_from_date(d)? as f64 * 86_400.0;
    }
    Some(secs)
}

/// Days since 1970-01-01 of "YYYY-MM-DD", "DD.MM.YYYY" or "YYYY/MM/DD".
fn days_from_date(d: &str) -> Option<i64> {
    let nums: Vec<i64> = d
        .split(['-', '.', '/'])
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, day) = match nums.as_slice() {
        [y, m, d] if *y > 999 => (*y, *m, *d),
        [d, m, y] if *y > 999 => (*y, *m, *d),
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(1900..=2200).contains(&y) {
        return None;
    }
    // Civil-from-days inverse (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_clock("12:01"), Some(43_260.0));
        assert_eq!(parse_time("12:01"), Some(721.0));
        assert_eq!(parse_time("00:01:02,500"), Some(62.5));
        assert_eq!(parse_time("00:01:02.500"), Some(62.5));
        assert_eq!(parse_time("1970-01-02T00:00:10Z"), Some(86_410.0));
        assert_eq!(parse_time("02.01.1970 00:00"), Some(86_400.0));
        assert_eq!(parse_time("7.25"), Some(7.25));
        assert_eq!(parse_time("nonsense"), None);
        assert_eq!(parse_clock("12:99"), None);
    }

    #[test]
    fn roles_from_labels() {
        assert_eq!(Role::from_label("Оператор Мария"), Role::Agent);
        assert_eq!(Role::from_label("Клиент"), Role::Customer);
        assert_eq!(Role::from_label("SupportBot"), Role::Bot);
        assert_eq!(Role::from_label("Customer Service"), Role::Agent);
        assert_eq!(Role::from_label("customer_42"), Role::Customer);
        assert_eq!(Role::from_label("Reporter"), Role::Unknown);
        let mut turns = vec![
            Turn {
                speaker: "Anna (Support)".into(),
                role: Role::Unknown,
                start: None,
                end: None,
                text: "hi".into(),
            },
            Turn {
                speaker: "Bob".into(),
                role: Role::Unknown,
                start: None,
                end: None,
                text: "hey".into(),
            },
        ];
        assert_eq!(assign_roles(&mut turns, None), None);
        assert_eq!(turns[1].role, Role::Customer);
    }
}

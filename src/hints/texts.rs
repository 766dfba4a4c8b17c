//! What each hint says to the agent, English and Russian side by side.
use super::{HintKind, Lang};

/// The style a customer prefers, as the texts need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StyleAdvice {
    /// +1 formal, 0 neutral, -1 casual.
    pub register: i8,
    /// The customer used "Вы" (Russian formal address).
    pub vy: bool,
    /// -1 brief, 0 moderate, +1 detailed.
    pub detail: i8,
    /// The customer answers quickly.
    pub fast: bool,
}

/// A duration for a hint ("4 min", "45 s"; "4 мин", "45 с").
fn duration(seconds: f64, lang: Lang) -> String {
    let s = seconds.round().max(0.0) as u64;
    match (s >= 90, lang) {
        (true, Lang::En) => format!("{} min", (s + 30) / 60),
        (true, Lang::Ru) => format!("{} мин", (s + 30) / 60),
        (false, Lang::En) => format!("{s} s"),
        (false, Lang::Ru) => format!("{s} с"),
    }
}

pub fn escalation(lang: Lang, risk: f32, threat: bool) -> String {
    let p = (risk * 100.0).round();
    match (lang, threat) {
        (Lang::En, true) => format!(
            "Escalation risk {p}%: the customer threatens to escalate. Acknowledge the problem, \
             take ownership and offer a concrete next step with a time."
        ),
        (Lang::En, false) => format!(
            "Escalation risk {p}%: acknowledge the problem, take ownership and offer a concrete \
             next step with a time."
        ),
        (Lang::Ru, true) => format!(
            "Риск эскалации {p}%: клиент грозит жалобой или уходом. Признайте проблему, возьмите \
             решение на себя и предложите конкретный шаг со сроком."
        ),
        (Lang::Ru, false) => format!(
            "Риск эскалации {p}%: признайте проблему, возьмите решение на себя и предложите \
             конкретный шаг со сроком."
        ),
    }
}

pub fn fixed(kind: HintKind, lang: Lang) -> &'static str {
    match (kind, lang) {
        (HintKind::CustomerFrustrated, Lang::En) => {
            "The customer is frustrated: acknowledge it first, then the next step; avoid \
             scripted phrases."
        }
        (HintKind::CustomerFrustrated, Lang::Ru) => {
            "Клиент раздражён: сначала признайте это, затем переходите к делу; избегайте \
             шаблонных фраз."
        }
        (HintKind::MissingEmpathy, Lang::En) => {
            "Acknowledge how the customer feels before the procedure (e.g. \"I understand how \
             frustrating this is\")."
        }
        (HintKind::MissingEmpathy, Lang::Ru) => {
            "Признайте чувства клиента, прежде чем переходить к процедуре (например, «Понимаю, \
             как это неприятно»)."
        }
        (HintKind::PositiveMoment, Lang::En) => {
            "The customer sounds satisfied: confirm the issue is resolved and ask if anything \
             else is needed."
        }
        (HintKind::PositiveMoment, Lang::Ru) => {
            "Клиент доволен: подтвердите, что вопрос решён, и спросите, нужна ли ещё помощь."
        }
        (HintKind::AbusiveLanguage, Lang::En) => {
            "Abusive language: stay calm and do not mirror it; follow the abuse policy if it \
             goes on."
        }
        (HintKind::AbusiveLanguage, Lang::Ru) => {
            "Оскорбительные выражения: сохраняйте спокойствие, не отвечайте тем же; при \
             повторении действуйте по регламенту."
        }
        (_, Lang::En) => "",
        (_, Lang::Ru) => "",
    }
}

pub fn tone_informal(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "The customer writes formally: keep a formal register (no slang, emoji or \
             familiar address)."
        }
        Lang::Ru => {
            "Клиент пишет официально и на «Вы»: держите официальный тон, без «ты», сленга и \
             смайлов."
        }
    }
}

pub fn tone_cheerful(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "The customer is upset: an upbeat tone can read as dismissive; keep it calm and \
             sincere."
        }
        Lang::Ru => {
            "Клиент расстроен: бодрый тон может прозвучать как пренебрежение; говорите \
             спокойно и искренне."
        }
    }
}

pub fn unanswered(lang: Lang, question: &str) -> String {
    let q: String = question.chars().take(100).collect();
    match (lang, q.is_empty()) {
        (Lang::En, false) => {
            format!("The customer's question is still open: \"{q}\". Answer it directly.")
        }
        (Lang::En, true) => "The customer's question is still open: answer it directly.".into(),
        (Lang::Ru, false) => {
            format!("Вопрос клиента остался без ответа: «{q}». Ответьте на него прямо.")
        }
        (Lang::Ru, true) => "Вопрос клиента остался без ответа: ответьте на него прямо.".into(),
    }
}

pub fn slow_reply(lang: Lang, waited: f64) -> String {
    let d = duration(waited, lang);
    match lang {
        Lang::En => format!("The customer waited {d} for a reply: thank them for their patience."),
        Lang::Ru => format!("Клиент ждал ответа {d}: поблагодарите за ожидание."),
    }
}

pub fn style(lang: Lang, s: StyleAdvice) -> String {
    let register = match (lang, s.register, s.vy) {
        (Lang::En, 1, _) => "formal: keep a formal register",
        (Lang::En, -1, _) => "casual: a friendly, informal tone fits",
        (Lang::En, _, _) => "neutral: polite and plain",
        (Lang::Ru, 1, true) => "официальный: обращайтесь на «Вы», формально",
        (Lang::Ru, 1, false) => "официальный: держите формальный тон",
        (Lang::Ru, -1, _) => "неформальный: уместен дружелюбный тон",
        (Lang::Ru, _, _) => "нейтральный: вежливо и просто",
    };
    let detail = match (lang, s.detail) {
        (Lang::En, -1) => "; short messages: keep answers brief",
        (Lang::En, 1) => "; detailed messages: explain fully",
        (Lang::Ru, -1) => "; пишет коротко: отвечайте кратко",
        (Lang::Ru, 1) => "; пишет подробно: объясняйте обстоятельно",
        _ => "",
    };
    let pace = match (lang, s.fast) {
        (Lang::En, true) => "; answers quickly: keep the pace",
        (Lang::Ru, true) => "; отвечает быстро: держите темп",
        _ => "",
    };
    match lang {
        Lang::En => format!("Customer's style: {register}{detail}{pace}."),
        Lang::Ru => format!("Стиль клиента: {register}{detail}{pace}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_text_has_both_languages() {
        for kind in [
            HintKind::CustomerFrustrated,
            HintKind::MissingEmpathy,
            HintKind::PositiveMoment,
            HintKind::AbusiveLanguage,
        ] {
            assert!(!fixed(kind, Lang::En).is_empty(), "{kind:?}");
            assert!(fixed(kind, Lang::Ru)
                .chars()
                .any(|c| ('а'..='я').contains(&c)));
        }
        assert_eq!(duration(240.0, Lang::Ru), "4 мин");
        assert_eq!(duration(45.0, Lang::En), "45 s");
    }
}

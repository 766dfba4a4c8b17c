//! `rapport report`: the profile card, one self-contained HTML page per customer (inline CSS,
//! charts drawn here as inline SVG, no script, nothing loaded from the network), in the
//! customer's language; and `--segments`, an overview of the segments.
//!
//! Everything the card shows is what `Profiles.GetProfile` returns (the [`Persona`] beside the
//! stored statistics), so a CRM can draw its own.
use std::{fmt::Write as _, path::PathBuf, sync::Arc};

use clap::{Args, ValueEnum};

use crate::{
    config::ProfileArgs,
    profile::{
        persona::{Contribution, Persona, TraitScore, WeekPoint},
        segments::Segment,
        service::{now, Profiles},
        traits::{TraitModel, TRAITS},
        Seconds, StoredProfile,
    },
    Error, Result,
};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["customer_id", "segments"])))]
pub struct ReportArgs {
    /// The customer whose card to write (as given to IngestMessages).
    pub customer_id: Option<String>,

    /// An overview of the segments instead of one customer's card.
    #[arg(long, conflicts_with = "customer_id")]
    pub segments: bool,

    /// Where to write the HTML page ("-": standard output).
    #[arg(long, short, default_value = "-")]
    pub out: PathBuf,

    /// The page's language; default: the customer's own (Russian for a customer who writes
    /// mostly Russian, English otherwise).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,

    /// Directory holding the trained heads and `traits/traits.json` (the Big Five estimator).
    #[arg(long, env = "RAPPORT_HEADS_DIR", default_value_os_t = crate::model::install::default_heads_dir())]
    pub heads_dir: PathBuf,

    #[command(flatten)]
    pub profile: ProfileArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// The card's language for a customer whose preferred language is `language`.
    pub fn for_customer(language: &str) -> Lang {
        if language == "ru" {
            Lang::Ru
        } else {
            Lang::En
        }
    }

    fn t(self, en: &'static str, ru: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    fn code(self) -> &'static str {
        self.t("en", "ru")
    }
}

pub async fn run(args: ReportArgs) -> Result<()> {
    let heads_dir = &args.heads_dir;
    let mut settings = args.profile.settings()?;
    settings.traits = TraitModel::load(heads_dir)?.map(Arc::new);
    if settings.traits.is_none() {
        tracing::warn!(heads_dir = %heads_dir.display(), "no trait estimator (traits/traits.json): the card carries no Big Five estimates");
    }
    let spec = args.profile.store_spec();
    let store = crate::store::open(&spec).await?;
    let profiles = Profiles::new(store, args.profile.keys()?, settings);
    let html = if args.segments {
        let lifecycle = profiles.segments().await?;
        let clusters = profiles.clusters().await?;
        segments_html(&clusters, &lifecycle, args.lang.unwrap_or(Lang::En), now())
    } else {
        let id = args.customer_id.as_deref().unwrap_or_default();
        let profile = profiles.get(id).await?;
        let persona = profiles.persona(&profile);
        let lang = args
            .lang
            .unwrap_or_else(|| Lang::for_customer(&persona.preferences.language));
        card_html(id, &profile, &persona, lang, now())
    };
    if args.out.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout()
            .lock()
            .write_all(html.as_bytes())
            .map_err(|e| Error::io("<stdout>", e))?;
    } else {
        std::fs::write(&args.out, html).map_err(|e| Error::io(&args.out, e))?;
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// YYYY-MM-DD (UTC) of a Unix time.
fn date(at: Seconds) -> String {
    let days = (at / 86_400.0).floor() as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn pct(x: f64) -> String {
    format!("{:.0}%", (x * 100.0).clamp(0.0, 100.0))
}

fn trait_label(lang: Lang, name: &str) -> &'static str {
    match name {
        "openness" => lang.t("Openness", "Открытость опыту"),
        "conscientiousness" => lang.t("Conscientiousness", "Добросовестность"),
        "extraversion" => lang.t("Extraversion", "Экстраверсия"),
        "agreeableness" => lang.t("Agreeableness", "Доброжелательность"),
        "neuroticism" => lang.t("Neuroticism", "Нейротизм"),
        _ => lang.t("Trait", "Черта"),
    }
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;margin:0;background:#f4f5f7;color:#1d2330;font-size:14px;line-height:1.45}\
main{max-width:1000px;margin:0 auto;padding:20px}\
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:2px solid #2b5fab;margin-bottom:14px}\
h1{font-size:22px;margin:6px 0}h2{font-size:16px;margin:0 0 8px;color:#2b5fab}\
.meta{color:#5a6272;font-size:12px}\
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin-bottom:14px}\
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 14px;margin-bottom:14px}\
.grid section{margin-bottom:0}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;vertical-align:top}\
th{font-weight:600;color:#5a6272;font-size:12px}\
.abst{color:#9aa1ad}.note{font-size:12px;color:#6b7280}\
.letters{display:flex;gap:10px}.letter{flex:1;text-align:center;border:1px solid #dde1e8;border-radius:6px;padding:6px}\
.letter b{display:block;font-size:26px;color:#2b5fab}.letter.abst b{color:#c3c8d0}\
ul{margin:4px 0;padding-left:18px}li{margin:3px 0}\
blockquote{margin:3px 0 3px 4px;padding:2px 8px;border-left:3px solid #c9d4e8;color:#374151;font-style:italic}\
.conf{display:inline-block;min-width:42px;padding:0 5px;border-radius:9px;background:#e7eefb;color:#2b5fab;font-size:12px;text-align:center;margin-right:6px}\
.disclaimer{background:#fff8e6;border-color:#f0d68a}\
svg text{font-family:'DejaVu Sans',Arial,sans-serif}\
";

fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        lang.code(),
        esc(title),
    )
}

/// One customer's card.
pub fn card_html(
    customer_id: &str,
    profile: &StoredProfile,
    persona: &Persona,
    lang: Lang,
    generated_at: Seconds,
) -> String {
    let mut b = String::new();
    let title = format!(
        "{} {}",
        lang.t("Profile card:", "Карточка клиента:"),
        customer_id
    );
    let _ = writeln!(
        b,
        "<header><h1>{}</h1><div class=\"meta\">{}{} {} · {} {} · {} {}</div></header>",
        esc(&title),
        segment_line(profile, lang),
        lang.t("messages", "сообщений"),
        profile.messages,
        lang.t("events", "событий"),
        profile.events,
        lang.t("generated", "создано"),
        date(generated_at),
    );
    // The radar with its table beside DISC and the letters; preferences beside the
    // recommendations.
    let _ = writeln!(
        b,
        "<div class=\"grid\"><section id=\"big-five\"><h2>{}</h2>{}{}</section>",
        lang.t("Big Five (estimates)", "Большая пятёрка (оценки)"),
        radar_svg(&persona.big_five, lang),
        traits_table(persona, lang)
    );
    let _ = writeln!(
        b,
        "<section id=\"disc\"><h2>{}</h2>{}{}</section></div>",
        lang.t("DISC style", "Стиль DISC"),
        disc_svg(persona, lang),
        letters_html(persona, lang),
    );
    let _ = writeln!(
        b,
        "<div class=\"grid\">{}{}</div>",
        preferences_html(persona, lang),
        recommendations_html(persona, lang)
    );
    b.push_str(&evidence_html(profile, persona, lang));
    let _ = writeln!(
        b,
        "<section id=\"timeline\"><h2>{}</h2>{}</section>",
        lang.t(
            "Messages a week and mean sentiment",
            "Сообщений в неделю и средняя тональность"
        ),
        timeline_svg(&persona.timeline, lang)
    );
    b.push_str(&disclaimer_html(persona, lang));
    page(lang, &title, &b)
}

/// "segment X · stage Y · " for the header, where there are.
fn segment_line(profile: &StoredProfile, lang: Lang) -> String {
    let mut s = String::new();
    if !profile.segment.is_empty() {
        let _ = write!(
            s,
            "{} <b>{}</b> · ",
            lang.t("segment", "сегмент"),
            esc(&profile.segment)
        );
    }
    if !profile.derived.segment.is_empty() {
        let _ = write!(
            s,
            "{} {} · ",
            lang.t("stage", "этап"),
            esc(&profile.derived.segment)
        );
    }
    s
}

/// The radar's geometry: centre, radius and the angle of axis `i` (the first straight up).
const RX: f64 = 250.0;
const RY: f64 = 158.0;
const R: f64 = 108.0;

fn radar_point(i: usize, v: f64) -> (f64, f64) {
    radar_xy(i, v.clamp(0.0, 1.0))
}

/// Unclamped: the labels sit outside the outer ring.
fn radar_xy(i: usize, v: f64) -> (f64, f64) {
    let a = -std::f64::consts::FRAC_PI_2 + i as f64 * 2.0 * std::f64::consts::PI / 5.0;
    (RX + R * v * a.cos(), RY + R * v * a.sin())
}

fn polygon_path(values: &[f64]) -> String {
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let (x, y) = radar_point(i, *v);
        let _ = write!(d, "{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" });
    }
    d.push('Z');
    d
}

/// The Big Five radar: grid rings, the interval band (lower..upper, shaded) and the score
/// polygon; an abstained trait is drawn grey at the middle, with its label greyed.
pub fn radar_svg(traits: &[TraitScore], lang: Lang) -> String {
    let get = |name: &str| traits.iter().find(|t| t.name == name);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"radar\" viewBox=\"0 0 500 310\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        esc(lang.t("Big Five radar chart", "Радар Большой пятёрки"))
    );
    for ring in [0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"#d5dae3\" stroke-width=\"1\"/>",
            polygon_path(&[ring; 5])
        );
    }
    for i in 0..5 {
        let (x, y) = radar_point(i, 1.0);
        let _ = write!(
            s,
            "<line x1=\"{RX}\" y1=\"{RY}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#d5dae3\"/>"
        );
    }
    let any = traits.iter().any(|t| !t.abstained);
    // The band: the upper polygon with the lower one cut out (even-odd).
    let lower: Vec<f64> = TRAITS
        .iter()
        .map(|n| get(n).map_or(0.1, |t| t.lower))
        .collect();
    let upper: Vec<f64> = TRAITS
        .iter()
        .map(|n| get(n).map_or(0.9, |t| t.upper))
        .collect();
    let _ = write!(
        s,
        "<path class=\"band\" d=\"{} {}\" fill=\"{}\" fill-opacity=\"0.28\" fill-rule=\"evenodd\" stroke=\"none\"/>",
        polygon_path(&upper),
        polygon_path(&lower),
        if any { "#2b5fab" } else { "#9aa1ad" }
    );
    let scores: Vec<f64> = TRAITS
        .iter()
        .map(|n| get(n).map_or(0.5, |t| t.score))
        .collect();
    let _ = write!(
        s,
        "<path class=\"score\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"{}/>",
        polygon_path(&scores),
        if any { "#1d4f9c" } else { "#9aa1ad" },
        if any { "" } else { " stroke-dasharray=\"5 4\"" }
    );
    for (i, name) in TRAITS.iter().enumerate() {
        let t = get(name);
        let abstained = t.is_none_or(|t| t.abstained);
        let (x, y) = radar_point(i, scores[i]);
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\"/>",
            if abstained { "#c3c8d0" } else { "#1d4f9c" }
        );
        let (lx, ly) = radar_xy(i, 1.1);
        let anchor = if (lx - RX).abs() < 5.0 {
            "middle"
        } else if lx > RX {
            "start"
        } else {
            "end"
        };
        let value = match t {
            Some(t) if !t.abstained => format!("{:.0}", t.score * 100.0),
            _ => lang.t("no estimate", "нет оценки").to_string(),
        };
        let _ = write!(
            s,
            "<text class=\"trait-label{}\" data-trait=\"{name}\" x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-size=\"13\" fill=\"{}\">{}<tspan x=\"{lx:.1}\" dy=\"15\" font-size=\"11\">{}</tspan></text>",
            if abstained { " abstained" } else { "" },
            if ly < RY { ly - 8.0 } else { ly + 4.0 },
            if abstained { "#9aa1ad" } else { "#1d2330" },
            esc(trait_label(lang, name)),
            esc(&value)
        );
    }
    s.push_str("</svg>");
    let level = traits.first().map_or(0.8, |t| t.level);
    let _ = write!(
        s,
        "<div class=\"note\">{} {}{}</div>",
        lang.t(
            "Line: the estimate (percentile, 0-100). Shaded band:",
            "Линия: оценка (процентиль, 0-100). Полоса:"
        ),
        pct(level),
        lang.t(
            " interval. Grey: not enough text for an estimate.",
            " интервал. Серым: текста недостаточно для оценки."
        )
    );
    s
}

/// The DISC quadrant: priority (people ← → task) across, pace (reserved ↓ ↑ assertive) up.
pub fn disc_svg(persona: &Persona, lang: Lang) -> String {
    let d = &persona.disc;
    let (x0, y0, w) = (40.0, 20.0, 240.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"disc-quadrant\" viewBox=\"0 0 320 300\" width=\"320\" height=\"300\" role=\"img\" aria-label=\"DISC\">"
    );
    let half = w / 2.0;
    for (qx, qy, letter, fill) in [
        (x0 + half, y0, "D", "#fbe9e7"),
        (x0, y0, "I", "#fff8e1"),
        (x0, y0 + half, "S", "#e8f5e9"),
        (x0 + half, y0 + half, "C", "#e3f2fd"),
    ] {
        let _ = write!(
            s,
            "<rect x=\"{qx}\" y=\"{qy}\" width=\"{half}\" height=\"{half}\" fill=\"{fill}\" stroke=\"#d5dae3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"40\" fill=\"#000\" fill-opacity=\"0.08\" text-anchor=\"middle\">{letter}</text>",
            qx + half / 2.0,
            qy + half / 2.0 + 14.0
        );
    }
    let axis = |s: &mut String, x: f64, y: f64, anchor: &str, text: &str| {
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"11\" fill=\"#5a6272\" text-anchor=\"{anchor}\">{}</text>",
            esc(text)
        );
    };
    axis(
        &mut s,
        x0 + half,
        y0 - 6.0,
        "middle",
        lang.t("assertive", "напористый"),
    );
    axis(
        &mut s,
        x0 + half,
        y0 + w + 14.0,
        "middle",
        lang.t("reserved", "сдержанный"),
    );
    axis(
        &mut s,
        x0,
        y0 + w + 28.0,
        "start",
        lang.t("← people", "← люди"),
    );
    axis(
        &mut s,
        x0 + w,
        y0 + w + 28.0,
        "end",
        lang.t("task →", "задача →"),
    );
    let has_values = !d.evidence.is_empty();
    if has_values {
        let cx = x0 + d.priority.clamp(0.0, 1.0) * w;
        let cy = y0 + (1.0 - d.pace.clamp(0.0, 1.0)) * w;
        let (fill, label) = if d.abstained {
            ("#c3c8d0", "?".to_string())
        } else {
            ("#1d4f9c", d.style.clone())
        };
        let _ = write!(
            s,
            "<circle class=\"disc-dot\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"12\" fill=\"{fill}\"/>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\" fill=\"#fff\" text-anchor=\"middle\">{}</text>",
            cy + 4.5,
            esc(&label)
        );
    }
    if d.abstained {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#6b7280\" text-anchor=\"middle\">{}</text>",
            x0 + half,
            y0 + w - 12.0,
            esc(lang.t("not enough evidence", "недостаточно данных"))
        );
    }
    s.push_str("</svg>");
    let _ = write!(
        s,
        "<div class=\"note\">{}: {} · {} {}</div>",
        lang.t("Style", "Стиль"),
        if d.abstained {
            lang.t("none (not enough evidence)", "нет (недостаточно данных)")
                .to_string()
        } else {
            esc(&d.style)
        },
        lang.t("confidence", "уверенность"),
        pct(d.confidence)
    );
    s
}

fn letters_html(persona: &Persona, lang: Lang) -> String {
    let mut s = format!(
        "<h2 style=\"margin-top:12px\">{}</h2><div class=\"letters\">",
        lang.t("MBTI-style letters", "Буквы в стиле MBTI")
    );
    for l in &persona.letters {
        let _ = write!(
            s,
            "<div class=\"letter{}\"><b>{}</b>{}<br><span class=\"note\">{} {}</span></div>",
            if l.abstained { " abst" } else { "" },
            if l.abstained {
                "–".to_string()
            } else {
                esc(&l.letter)
            },
            esc(l.axis),
            lang.t("confidence", "уверенность"),
            pct(l.confidence)
        );
    }
    if persona.letters.is_empty() {
        s.push_str(lang.t("No estimates.", "Оценок нет."));
    }
    s.push_str("</div>");
    s
}

fn traits_table(persona: &Persona, lang: Lang) -> String {
    let mut s = format!(
        "<div id=\"traits\"><h2 style=\"margin-top:10px\">{}</h2>",
        lang.t("Trait estimates", "Оценки черт")
    );
    if persona.big_five.is_empty() {
        let _ = write!(
            s,
            "<p class=\"abst\">{}</p></div>",
            lang.t(
                "No trait estimator is loaded (traits/traits.json in the heads directory), so there are no Big Five estimates.",
                "Модель черт не загружена (traits/traits.json в каталоге голов), поэтому оценок Большой пятёрки нет."
            )
        );
        return s;
    }
    let _ = write!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("trait", "черта"),
        lang.t("estimate", "оценка"),
        lang.t("interval", "интервал"),
        lang.t("P(high)", "P(высокая)"),
        lang.t("words", "слов"),
    );
    // A note all the traits share (the language one) is said once, under the table.
    let shared = persona
        .big_five
        .first()
        .map(|t| t.note.clone())
        .filter(|n| !n.is_empty() && persona.big_five.iter().all(|t| &t.note == n));
    for t in &persona.big_five {
        let (est, interval, ph) = if t.abstained {
            (
                lang.t("no estimate", "нет оценки").to_string(),
                "–".to_string(),
                "–".to_string(),
            )
        } else {
            (
                format!("{:.0}", t.score * 100.0),
                format!("{:.0}–{:.0}", t.lower * 100.0, t.upper * 100.0),
                pct(t.p_high),
            )
        };
        let note = if t.note.is_empty() || shared.is_some() {
            String::new()
        } else {
            format!(
                "<tr{}><td></td><td colspan=\"4\" class=\"note\">{}</td></tr>",
                if t.abstained { " class=\"abst\"" } else { "" },
                esc(&note_text(lang, &t.note))
            )
        };
        let _ = write!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td></tr>{note}",
            if t.abstained { " class=\"abst\"" } else { "" },
            esc(trait_label(lang, t.name)),
            esc(&est),
            esc(&interval),
            esc(&ph),
            t.words,
        );
    }
    s.push_str("</table>");
    if let Some(n) = shared {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(&note_text(lang, &n)));
    }
    s.push_str("</div>");
    s
}

/// A trait's note in the page's language: the estimator's two notes (too few words; languages
/// it was not fitted on) are translated, anything else is shown as it is.
fn note_text(lang: Lang, note: &str) -> String {
    if lang == Lang::En {
        return note.to_string();
    }
    if let Some((words, rest)) = note.split_once(" words; estimates start at ") {
        let min = rest.split_whitespace().next().unwrap_or_default();
        return format!("{words} слов; оценки начинаются со {min} слов (EVAL.md, «Traits»)");
    }
    if let Some((share, rest)) =
        note.split_once("% of the messages are in languages the estimator was not fitted on")
    {
        let fitted = rest
            .split_once("(fitted: ")
            .and_then(|(_, f)| f.split_once(')'))
            .map_or("", |(f, _)| f);
        return format!(
            "{share}% сообщений написаны на языках, на которых модель не обучалась (обучена на: \
             {fitted}); интервал поэтому шире"
        );
    }
    note.to_string()
}

fn preferences_html(persona: &Persona, lang: Lang) -> String {
    let p = &persona.preferences;
    let dash = |v: &str| {
        if v.is_empty() {
            "–".to_string()
        } else {
            esc(v)
        }
    };
    let word = |v: &str| -> String {
        let ru = match v {
            "formal" => "официальный",
            "informal" => "неформальный",
            "neutral" => "нейтральный",
            "brief" => "кратко",
            "detailed" => "подробно",
            "moderate" => "умеренно",
            "fast" => "быстро",
            "steady" => "размеренно",
            "slow" => "медленно",
            "email" => "эл. почта",
            "chat" => "чат",
            "call" => "звонок",
            "sms" => "SMS",
            "social" => "соцсети",
            "unspecified" => "не указан",
            "en" => "английский",
            "ru" => "русский",
            other => return dash(other),
        };
        match lang {
            Lang::En => dash(v),
            Lang::Ru => ru.to_string(),
        }
    };
    let address = match p.address.as_str() {
        "vy" => lang.t("«Вы» (formal you)", "на «Вы»"),
        "ty" => lang.t("«ты» (informal you)", "на «ты»"),
        _ => "–",
    };
    let hours = if p.hours.is_empty() {
        "–".to_string()
    } else {
        p.hours
            .iter()
            .map(|h| format!("{h:02}:00"))
            .collect::<Vec<_>>()
            .join(", ")
            + " UTC"
    };
    let mut s = format!(
        "<section id=\"preferences\"><h2>{}</h2><table>",
        lang.t("Communication preferences", "Предпочтения в общении")
    );
    let rows: [(&str, String); 7] = [
        (
            lang.t("Formality", "Формальность"),
            if p.formality.is_empty() {
                "–".to_string()
            } else {
                format!("{} ({:.2})", word(&p.formality), p.formality_score)
            },
        ),
        (lang.t("Address", "Обращение"), esc(address)),
        (
            lang.t("Detail", "Детальность"),
            if p.detail.is_empty() {
                "–".to_string()
            } else {
                format!(
                    "{} ({:.0} {})",
                    word(&p.detail),
                    p.words_per_message,
                    lang.t("words a message", "слов в сообщении")
                )
            },
        ),
        (
            lang.t("Pace", "Темп"),
            if p.pace.is_empty() {
                "–".to_string()
            } else {
                format!(
                    "{} ({} {})",
                    word(&p.pace),
                    lang.t("replies in", "отвечает за"),
                    duration(p.reply_latency_seconds, lang)
                )
            },
        ),
        (lang.t("Channel", "Канал"), word(&p.channel)),
        (lang.t("Hours", "Часы"), hours),
        (lang.t("Language", "Язык"), word(&p.language)),
    ];
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    s.push_str("</table></section>\n");
    s
}

fn duration(seconds: f64, lang: Lang) -> String {
    if seconds < 90.0 {
        format!("{:.0} {}", seconds, lang.t("s", "с"))
    } else if seconds < 5400.0 {
        format!("{:.0} {}", seconds / 60.0, lang.t("min", "мин"))
    } else {
        format!("{:.1} {}", seconds / 3600.0, lang.t("h", "ч"))
    }
}

fn contribution_html(c: &Contribution, lang: Lang) -> String {
    if c.kind == "message" && !c.text.is_empty() {
        format!(
            "<blockquote>{}<span class=\"note\"> — {}</span></blockquote>",
            esc(&c.text),
            esc(&date(c.at))
        )
    } else {
        format!(
            "<span class=\"note\">{} {} = {:.3}</span>",
            esc(lang.t("feature", "признак")),
            esc(&c.name),
            c.value
        )
    }
}

fn recommendations_html(persona: &Persona, lang: Lang) -> String {
    let mut s = format!(
        "<section id=\"recommendations\"><h2>{}</h2>",
        lang.t("Recommendations", "Рекомендации")
    );
    if persona.recommendations.is_empty() {
        let _ = write!(
            s,
            "<p class=\"abst\">{}</p>",
            lang.t(
                "None yet: not enough evidence.",
                "Пока нет: недостаточно данных."
            )
        );
    } else {
        s.push_str("<ul>");
        for r in &persona.recommendations {
            let text = match lang {
                Lang::En => r.text_en,
                Lang::Ru => r.text_ru,
            };
            let _ = write!(
                s,
                "<li><span class=\"conf\" title=\"{}\">{}</span>{}",
                esc(lang.t("confidence", "уверенность")),
                pct(r.confidence),
                esc(text)
            );
            if !r.evidence.is_empty() {
                s.push_str("<div>");
                for c in &r.evidence {
                    s.push_str(&contribution_html(c, lang));
                    s.push(' ');
                }
                s.push_str("</div>");
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>\n");
    s
}

fn evidence_html(profile: &StoredProfile, persona: &Persona, lang: Lang) -> String {
    let mut s = format!(
        "<section id=\"evidence\"><h2>{}</h2><p class=\"note\">{}</p>",
        lang.t("Evidence", "Основания"),
        lang.t(
            "The customer's sentences (redacted) that moved each estimate most.",
            "Фразы клиента (обезличенные), сильнее всего повлиявшие на оценки."
        )
    );
    let mut any = false;
    for t in persona.big_five.iter().filter(|t| !t.abstained) {
        let quotes: Vec<&Contribution> = t
            .evidence
            .iter()
            .filter(|c| c.kind == "message" && !c.text.is_empty())
            .collect();
        if quotes.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(
            s,
            "<h3 style=\"font-size:13px;margin:8px 0 2px\">{} — {}</h3>",
            esc(trait_label(lang, t.name)),
            if t.p_high >= 0.5 {
                lang.t("leans high", "склоняется к высокому")
            } else {
                lang.t("leans low", "склоняется к низкому")
            }
        );
        for c in quotes {
            s.push_str(&contribution_html(c, lang));
        }
    }
    // The sentences behind the mood, whatever the traits say.
    for (key, label) in [
        ("sentiment.score", lang.t("Sentiment", "Тональность")),
        ("style.formality", lang.t("Formality", "Формальность")),
    ] {
        if let Some(items) = profile.state.evidence.get(key).filter(|i| !i.is_empty()) {
            any = true;
            let _ = write!(
                s,
                "<h3 style=\"font-size:13px;margin:8px 0 2px\">{}</h3>",
                esc(label)
            );
            for e in items.iter().take(2) {
                let _ = write!(
                    s,
                    "<blockquote>{}<span class=\"note\"> — {}</span></blockquote>",
                    esc(&e.text),
                    esc(&date(e.at))
                );
            }
        }
    }
    if !any {
        let _ = write!(
            s,
            "<p class=\"abst\">{}</p>",
            lang.t("No snippets yet.", "Фраз пока нет.")
        );
    }
    s.push_str("</section>\n");
    s
}

/// Weekly messages (bars, left scale) and mean sentiment (line, -1..1, right scale); weeks
/// without messages between the first and the last are drawn empty.
pub fn timeline_svg(weeks: &[WeekPoint], lang: Lang) -> String {
    const WEEK: f64 = 7.0 * 86_400.0;
    let (w, h, left, right, top, bottom) = (900.0, 230.0, 44.0, 44.0, 14.0, 40.0);
    let mut s = format!(
        "<svg id=\"timeline-chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        esc(lang.t("Weekly timeline", "Понедельная динамика"))
    );
    if weeks.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#6b7280\" text-anchor=\"middle\">{}</text></svg>",
            w / 2.0,
            h / 2.0,
            esc(lang.t("No messages yet.", "Сообщений пока нет."))
        );
        return s;
    }
    // Every week from the first to the last (the store keeps at most two years).
    let first = weeks.first().map_or(0.0, |p| p.start);
    let last = weeks.last().map_or(0.0, |p| p.start);
    let n = (((last - first) / WEEK).round() as usize + 1).clamp(1, 110);
    let mut slots: Vec<Option<&WeekPoint>> = vec![None; n];
    for p in weeks {
        let i = ((p.start - first) / WEEK).round() as usize;
        if i < n {
            slots[i] = Some(p);
        }
    }
    let max = weeks.iter().map(|p| p.messages).max().unwrap_or(1).max(1) as f64;
    let (pw, ph) = (w - left - right, h - top - bottom);
    let slot = pw / n as f64;
    let bar = (slot * 0.7).max(1.0);
    // Axes and the sentiment zero line.
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9aa1ad\"/>\
         <line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e0a43a\" stroke-dasharray=\"3 3\"/>",
        top + ph,
        left + pw,
        top + ph,
        top + ph / 2.0,
        left + pw,
        top + ph / 2.0
    );
    for (v, y) in [(max, top), (0.0, top + ph)] {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#2b5fab\" text-anchor=\"end\">{v:.0}</text>",
            left - 4.0,
            y + 4.0
        );
    }
    for (v, y) in [("+1", top), ("0", top + ph / 2.0), ("−1", top + ph)] {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#c07d10\">{v}</text>",
            left + pw + 4.0,
            y + 4.0
        );
    }
    let mut line = String::new();
    let label_every = (n / 8).max(1);
    for (i, p) in slots.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let cx = left + slot * (i as f64 + 0.5);
        if let Some(p) = p {
            let bh = ph * p.messages as f64 / max;
            let _ = write!(
                s,
                "<rect class=\"week\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"#8fb0e0\"><title>{} {}: {}</title></rect>",
                top + ph - bh,
                esc(lang.t("week of", "неделя с")),
                date(p.start),
                p.messages
            );
            if p.scored > 0 {
                let y = top + ph / 2.0 - p.sentiment.clamp(-1.0, 1.0) * ph / 2.0;
                let _ = write!(
                    line,
                    "{}{cx:.1},{y:.1} ",
                    if line.is_empty() { "M" } else { "L" }
                );
                let _ = write!(
                    s,
                    "<circle cx=\"{cx:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#e0a43a\"/>"
                );
            }
        }
        if i % label_every == 0 || i == n - 1 {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#5a6272\" text-anchor=\"middle\">{}</text>",
                top + ph + 14.0,
                date(first + i as f64 * WEEK)
            );
        }
    }
    if !line.is_empty() {
        let _ = write!(
            s,
            "<path class=\"sentiment\" d=\"{}\" fill=\"none\" stroke=\"#e0a43a\" stroke-width=\"2\"/>",
            line.trim_end()
        );
    }
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"#8fb0e0\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#1d2330\">{}</text>\
         <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e0a43a\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#1d2330\">{}</text>",
        h - 14.0,
        left + 14.0,
        h - 5.0,
        esc(lang.t("messages a week", "сообщений в неделю")),
        left + 180.0,
        h - 9.0,
        left + 200.0,
        h - 9.0,
        left + 206.0,
        h - 5.0,
        esc(lang.t(
            "mean sentiment (−1..+1)",
            "средняя тональность (−1..+1)"
        ))
    );
    s.push_str("</svg>");
    s
}

/// The shipped estimator's validity on essays `dev` (EVAL.md, "Traits").
const DEV_MEAN_AUC: &str = "0.61";

fn disclaimer_html(persona: &Persona, lang: Lang) -> String {
    let level = persona.big_five.first().map_or(0.8, |t| t.level);
    let version = if persona.traits_version.is_empty() {
        "–".to_string()
    } else {
        esc(&persona.traits_version)
    };
    let body = match lang {
        Lang::En => format!(
            "<p>These are <b>estimates for adapting how we communicate</b> with this customer, made \
             from the wording of their messages. They are <b>not a diagnosis</b>, not a \
             psychological assessment and not a basis for decisions about the person (credit, \
             hiring, pricing, eligibility).</p>\
             <ul><li>Validity is modest and measured: on the essays benchmark's dev split the \
             estimator reaches a mean AUC of {DEV_MEAN_AUC} over the five traits (chance is 0.50).</li>\
             <li>Each interval is meant to hold the person's true standing {} of the time; it \
             narrows as more text comes in. Below 100 words a trait is not estimated.</li>\
             <li>Russian text goes through the same estimator, which was fitted on English only: \
             its intervals are wider.</li>\
             <li>DISC and the MBTI-style letters are derived from these estimates, with the same \
             uncertainty.</li></ul>\
             <p class=\"note\">Estimator version: {version}. Methods and sources: docs/traits.md; \
             measurements: EVAL.md, \"Traits\".</p>",
            pct(level)
        ),
        Lang::Ru => format!(
            "<p>Это <b>оценки, помогающие подстроить общение</b> с клиентом, полученные по \
             формулировкам его сообщений. Это <b>не диагноз</b>, не психологическое заключение и \
             не основание для решений о человеке (кредит, найм, цены, доступ к услугам).</p>\
             <ul><li>Точность скромная и измерена: на проверочной части набора эссе средний AUC \
             по пяти чертам равен {DEV_MEAN_AUC} (случайное угадывание — 0,50).</li>\
             <li>Интервал должен содержать истинное значение в {} случаев и сужается по мере \
             накопления текста. Меньше чем по 100 словам черта не оценивается.</li>\
             <li>Русский текст проходит через ту же модель, обученную только на английском: \
             интервалы для него шире.</li>\
             <li>DISC и буквы в стиле MBTI выведены из этих оценок и так же неопределённы.</li></ul>\
             <p class=\"note\">Версия модели: {version}. Методы и источники: docs/traits.md; \
             измерения: EVAL.md, раздел «Traits».</p>",
            pct(level)
        ),
    };
    format!(
        "<section id=\"about\" class=\"disclaimer\"><h2>{}</h2>{body}</section>\n",
        lang.t(
            "What these estimates are and are not",
            "Что эти оценки значат и чего не значат"
        )
    )
}

/// The overview of the segments: the latest `rapport segment` run's segments (k-means on trait
/// and behaviour features), each with its size, description and centre, then the lifecycle
/// stages (rules on activity, purchases and sentiment) with their counts.
pub fn segments_html(
    clusters: &[Segment],
    lifecycle: &[(String, String, u64)],
    lang: Lang,
    generated_at: Seconds,
) -> String {
    let total: u64 = lifecycle.iter().map(|(_, _, n)| n).sum();
    let mut b = String::new();
    let title = lang.t("Segments", "Сегменты");
    let _ = writeln!(
        b,
        "<header><h1>{}</h1><div class=\"meta\">{total} {} · {} {}</div></header>",
        esc(title),
        lang.t("customers", "клиентов"),
        lang.t("generated", "создано"),
        date(generated_at)
    );
    let _ = write!(
        b,
        "<section id=\"clusters\"><h2>{}</h2>",
        lang.t(
            "Segments (clusters of trait and behaviour features)",
            "Сегменты (кластеры по чертам и поведению)"
        )
    );
    if clusters.is_empty() {
        let _ = write!(
            b,
            "<p class=\"abst\">{}</p>",
            lang.t(
                "No segments yet: `rapport segment` has not been run on this store, or there were too few profiles (at least 10 with messages).",
                "Сегментов пока нет: `rapport segment` ещё не запускали для этого хранилища, или профилей слишком мало (нужно не меньше 10 с сообщениями)."
            )
        );
    } else {
        let max = clusters
            .iter()
            .map(|c| c.customers)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let _ = write!(
            b,
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            lang.t("segment", "сегмент"),
            lang.t("customers", "клиентов"),
            lang.t("description (from the centre)", "описание (по центру)"),
            lang.t(
                "Big Five at the centre (O C E A N)",
                "Большая пятёрка в центре (O C E A N)"
            ),
            lang.t("style at the centre", "стиль в центре"),
        );
        for c in clusters {
            let width = 120.0 * c.customers as f64 / max;
            let at = |i: usize| c.centre.get(i).copied().unwrap_or(f64::NAN);
            let mut bars = String::from(
                "<svg class=\"centre\" width=\"130\" height=\"44\" viewBox=\"0 0 130 44\">",
            );
            for (i, letter) in ["O", "C", "E", "A", "N"].iter().enumerate() {
                let v = at(i);
                let v = if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    0.5
                };
                let x = 4.0 + i as f64 * 25.0;
                let _ = write!(
                    bars,
                    "<rect x=\"{x:.0}\" y=\"2\" width=\"16\" height=\"30\" fill=\"#eef0f3\"/>\
                     <rect x=\"{x:.0}\" y=\"{:.1}\" width=\"16\" height=\"{:.1}\" fill=\"#8fb0e0\"/>\
                     <text x=\"{:.0}\" y=\"43\" font-size=\"10\" fill=\"#5a6272\" text-anchor=\"middle\">{letter}</text>",
                    32.0 - 30.0 * v,
                    30.0 * v,
                    x + 8.0
                );
            }
            bars.push_str("</svg>");
            let style = format!(
                "{} {:+.2}<br>{} {:.2}<br>{} {:.0}<br>{} {:.1}<br>{} {}",
                lang.t("sentiment", "тональность"),
                at(5),
                lang.t("formality", "формальность"),
                at(6),
                lang.t("words/message", "слов/сообщение"),
                at(7).exp_m1(),
                lang.t("messages/week", "сообщений/неделю"),
                at(8).exp_m1(),
                lang.t("reply in", "ответ за"),
                if at(9).is_finite() {
                    duration(at(9).exp_m1(), lang)
                } else {
                    "–".into()
                }
            );
            let _ = write!(
                b,
                "<tr><td><b>{}</b></td><td>{}<br><svg width=\"124\" height=\"10\" viewBox=\"0 0 124 10\"><rect x=\"0\" y=\"1\" width=\"{width:.1}\" height=\"8\" fill=\"#8fb0e0\"/></svg></td><td>{}</td><td>{bars}</td><td class=\"note\">{style}</td></tr>",
                esc(&c.name),
                c.customers,
                esc(&c.description)
            );
        }
        b.push_str("</table>");
    }
    b.push_str("</section>\n");
    let max = lifecycle
        .iter()
        .map(|(_, _, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let _ = write!(
        b,
        "<section id=\"lifecycle\"><h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
        lang.t(
            "Lifecycle stages (rules on activity, purchases and sentiment)",
            "Этапы жизненного цикла (правила по активности, покупкам и тональности)"
        ),
        lang.t("stage", "этап"),
        lang.t("rule", "правило"),
        lang.t("customers", "клиентов")
    );
    for (name, description, n) in lifecycle {
        let width = 200.0 * *n as f64 / max;
        let _ = write!(
            b,
            "<tr><td><b>{}</b></td><td>{}</td><td>{n}</td><td><svg width=\"204\" height=\"14\" viewBox=\"0 0 204 14\"><rect x=\"0\" y=\"2\" width=\"{width:.1}\" height=\"10\" fill=\"#8fb0e0\"/></svg></td></tr>",
            esc(name),
            esc(description)
        );
    }
    b.push_str("</table></section>\n");
    page(lang, title, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date(0.0), "1970-01-01");
        assert_eq!(date(1_700_000_000.0), "2023-11-14");
        assert_eq!(date(951_782_400.0), "2000-02-29");
    }

    #[test]
    fn notes_are_translated() {
        let n = "40 words; estimates start at 100 (EVAL.md, \"Traits\")";
        assert_eq!(note_text(Lang::En, n), n);
        assert!(note_text(Lang::Ru, n).starts_with("40 слов; оценки начинаются со 100 слов"));
        let n = "100% of the messages are in languages the estimator was not fitted on \
                 (fitted: en); the interval is wider for it";
        let ru = note_text(Lang::Ru, n);
        assert!(
            ru.starts_with("100% сообщений") && ru.contains("обучена на: en)"),
            "{ru}"
        );
    }

    #[test]
    fn language_follows_the_customer() {
        assert_eq!(Lang::for_customer("ru"), Lang::Ru);
        assert_eq!(Lang::for_customer("en"), Lang::En);
        assert_eq!(Lang::for_customer(""), Lang::En);
    }
}

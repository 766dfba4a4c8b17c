//! `rapport live eval` and `rapport live bench`: the scripted conversations of `eval/live/`
//! played turn by turn through a real LiveAssist stream.
//! - eval: each expected hint must fire by its `by_turn` (or the turn after), no forbidden hint
//!   may fire; precision and recall per kind and language, and the escalation risk's calibration
//!   (EVAL.md, "Live hints"). Labels and guidelines: eval/live/README.md.
//! - bench: latency per turn (send to answer) with N concurrent sessions (BENCH.md, "Live").
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Args;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::{
    config::{ModelArgs, ProfileArgs},
    grpc::convert::timestamp_to_proto,
    load::InProcessServer,
    profile::service::now,
    profile_bench::percentile,
    proto::v1 as pb,
    Error, Result,
};

/// One scripted conversation (eval/live/README.md has the format).
#[derive(Clone, Debug, Deserialize)]
pub struct Script {
    pub id: String,
    pub language: String,
    pub channel: String,
    pub split: String,
    pub scenario: String,
    #[serde(default)]
    pub history: Vec<HistoryItem>,
    pub turns: Vec<ScriptTurn>,
    #[serde(default)]
    pub expect: Vec<Expect>,
    #[serde(default)]
    pub forbid: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct HistoryItem {
    pub days_ago: f64,
    pub channel: String,
    pub text: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ScriptTurn {
    pub id: String,
    pub role: String,
    /// Chats: seconds from the conversation's start.
    pub at: Option<f64>,
    /// Calls: utterance offsets.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Expect {
    pub kind: String,
    pub by_turn: String,
}

/// Reads every `*.json` of `dir`, in file-name order.
pub fn load_scripts(dir: &Path) -> Result<Vec<Script>> {
    crate::train::data::files_with_extension(dir, "json")?
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::invalid(p.display().to_string(), e.to_string()))
        })
        .collect()
}

fn channel_of(name: &str) -> pb::Channel {
    match name {
        "call" => pb::Channel::CallTranscript,
        "email" => pb::Channel::Email,
        _ => pb::Channel::Chat,
    }
}

/// What the stream answered for one turn.
#[derive(Clone, Debug, Serialize)]
pub struct PlayedTurn {
    pub turn_id: String,
    pub customer: bool,
    pub hints: Vec<String>,
    pub hint_texts: Vec<String>,
    pub hint_signals: Vec<Vec<String>>,
    pub risk: f32,
    pub error: String,
    #[serde(skip)]
    pub latency: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct Played {
    pub id: String,
    /// Hints of `SessionOpened` (from the stored profile).
    pub opened: Vec<String>,
    pub turns: Vec<PlayedTurn>,
    pub closed: Option<String>,
}

fn kind_name(k: i32) -> String {
    pb::HintKind::try_from(k)
        .map(|k| k.as_str_name().trim_start_matches("HINT_KIND_").to_string())
        .unwrap_or_else(|_| format!("UNKNOWN_{k}"))
}

/// Plays `script` on `channel` as conversation `conversation_id` of customer `customer_id`:
/// stores its history in the customer's profile first, then streams the turns one at a time,
/// each sent `pause` after the previous one is answered.
pub async fn play(
    channel: &Channel,
    script: &Script,
    conversation_id: &str,
    customer_id: &str,
    pause: Duration,
) -> Result<Played> {
    let t_now = now();
    if !script.history.is_empty() {
        let messages = script
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| pb::Message {
                id: format!("{conversation_id}-history-{i}"),
                customer_id: customer_id.to_string(),
                channel: channel_of(&h.channel) as i32,
                role: pb::Role::Customer as i32,
                text: h.text.clone(),
                timestamp: timestamp_to_proto(t_now - h.days_ago * 86_400.0),
                ..Default::default()
            })
            .collect();
        pb::profiles_client::ProfilesClient::new(channel.clone())
            .ingest_messages(pb::IngestMessagesRequest {
                customer_id: customer_id.to_string(),
                messages,
                subject: pb::Subject::Customer as i32,
                return_analyses: false,
            })
            .await
            .map_err(|s| Error::Unavailable(format!("history of {}: {s}", script.id)))?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::AssistRequest>(4);
    let mut client = pb::live_assist_client::LiveAssistClient::new(channel.clone());
    let call = tokio::spawn(async move {
        client
            .assist(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let send = |req: pb::assist_request::Kind| {
        let tx = tx.clone();
        async move {
            tx.send(pb::AssistRequest { kind: Some(req) })
                .await
                .map_err(|_| Error::Unavailable("live stream closed".into()))
        }
    };
    send(pb::assist_request::Kind::Start(pb::SessionStart {
        conversation_id: conversation_id.to_string(),
        customer_id: customer_id.to_string(),
        channel: channel_of(&script.channel) as i32,
        languages: vec![script.language.clone()],
        update_profile: false,
    }))
    .await?;
    let mut responses = call
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?
        .map_err(|s| Error::Unavailable(format!("Assist: {s}")))?
        .into_inner();
    let opened = match next(&mut responses).await? {
        pb::assist_response::Kind::Opened(o) => o.hints.iter().map(|h| kind_name(h.kind)).collect(),
        other => {
            return Err(Error::Unavailable(format!(
                "expected opened, got {other:?}"
            )))
        }
    };
    // The conversation happened an hour ago, at its scripted pace.
    let t0 = t_now - 3600.0;
    let mut turns = Vec::with_capacity(script.turns.len());
    for t in &script.turns {
        let offset = t.at.or(t.start).unwrap_or(0.0);
        let customer = t.role == "customer";
        let turn = pb::LiveTurn {
            turn_id: t.id.clone(),
            role: if customer {
                pb::Role::Customer
            } else {
                pb::Role::Agent
            } as i32,
            text: t.text.clone(),
            timestamp: timestamp_to_proto(t0 + offset),
            start_seconds: t.start.unwrap_or(0.0),
            end_seconds: t.end.unwrap_or(0.0),
            language_hint: String::new(),
        };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let started = Instant::now();
        send(pb::assist_request::Kind::Turn(turn)).await?;
        let r = match next(&mut responses).await? {
            pb::assist_response::Kind::Turn(r) => r,
            other => {
                return Err(Error::Unavailable(format!(
                    "expected a turn, got {other:?}"
                )))
            }
        };
        turns.push(PlayedTurn {
            turn_id: r.turn_id,
            customer,
            hints: r.hints.iter().map(|h| kind_name(h.kind)).collect(),
            hint_texts: r.hints.iter().map(|h| h.text.clone()).collect(),
            hint_signals: r.hints.iter().map(|h| h.signals.clone()).collect(),
            risk: r.state.map_or(0.0, |s| s.escalation_risk),
            error: r.error,
            latency: started.elapsed(),
        });
    }
    send(pb::assist_request::Kind::End(pb::SessionEnd {
        reason: "script over".into(),
    }))
    .await?;
    let closed = match next(&mut responses).await? {
        pb::assist_response::Kind::Closed(c) => Some(c.reason),
        _ => None,
    };
    Ok(Played {
        id: script.id.clone(),
        opened,
        turns,
        closed,
    })
}

async fn next(
    responses: &mut tonic::Streaming<pb::AssistResponse>,
) -> Result<pb::assist_response::Kind> {
    match responses.next().await {
        Some(Ok(r)) => r
            .kind
            .ok_or_else(|| Error::Unavailable("empty response".into())),
        Some(Err(s)) => Err(Error::Unavailable(format!("Assist: {s}"))),
        None => Err(Error::Unavailable("stream ended early".into())),
    }
}

/// How one conversation scored.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scored {
    pub id: String,
    pub language: String,
    pub split: String,
    /// (kind, by_turn, the turn it fired at or none).
    pub expected: Vec<(String, String, Option<String>, bool)>,
    /// (kind, turn) of forbidden hints that fired.
    pub forbidden_fired: Vec<(String, String)>,
    /// (risk, label) per labelled customer turn.
    pub risk: Vec<(f32, bool)>,
}

impl Scored {
    pub fn passed(&self) -> bool {
        self.expected.iter().all(|e| e.3) && self.forbidden_fired.is_empty()
    }
}

/// Scores a played conversation against its labels: an expected hint counts when it fires at
/// or before its `by_turn`, or at the turn right after (a hint on the agent's reply to the
/// labelled turn is still in time); hints raised when the session opened count as turn 0.
pub fn score(script: &Script, played: &Played) -> Scored {
    let index = |id: &str| script.turns.iter().position(|t| t.id == id);
    let fired_at = |kind: &str| -> Vec<Option<usize>> {
        let mut v: Vec<Option<usize>> = Vec::new();
        if played.opened.iter().any(|k| k == kind) {
            v.push(None);
        }
        for (i, t) in played.turns.iter().enumerate() {
            if t.hints.iter().any(|k| k == kind) {
                v.push(Some(i));
            }
        }
        v
    };
    let mut s = Scored {
        id: script.id.clone(),
        language: script.language.clone(),
        split: script.split.clone(),
        ..Default::default()
    };
    for e in &script.expect {
        let by = index(&e.by_turn).unwrap_or(usize::MAX);
        let first = fired_at(&e.kind).into_iter().next();
        let ok = first.is_some_and(|f| f.is_none_or(|i| i <= by.saturating_add(1)));
        let at = first.map(|f| f.map_or("open".to_string(), |i| script.turns[i].id.clone()));
        s.expected.push((e.kind.clone(), e.by_turn.clone(), at, ok));
    }
    for kind in &script.forbid {
        for f in fired_at(kind) {
            let at = f.map_or("open".to_string(), |i| script.turns[i].id.clone());
            s.forbidden_fired.push((kind.clone(), at));
        }
    }
    // Escalation labels: 1 from the labelled turn on where escalation is expected, 0 before it
    // and everywhere it is forbidden; conversations that say neither are left out.
    let esc = script.expect.iter().find(|e| e.kind == "ESCALATION_RISK");
    let forbidden = script.forbid.iter().any(|k| k == "ESCALATION_RISK");
    if esc.is_some() || forbidden {
        let from = esc.and_then(|e| index(&e.by_turn));
        for (i, t) in played.turns.iter().enumerate() {
            if t.customer && t.error.is_empty() {
                s.risk.push((t.risk, from.is_some_and(|f| i >= f)));
            }
        }
    }
    s
}

/// Precision, recall and counts per (kind, language).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub tp: u32,
    pub fn_: u32,
    pub fp: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub conversations: usize,
    pub passed: usize,
    pub counts: BTreeMap<String, Counts>,
    /// Expected calibration error of the escalation risk over labelled customer turns (5 bins),
    /// the Brier score, and (bin mean risk, observed rate, turns) per bin.
    pub risk_ece: f64,
    pub risk_brier: f64,
    pub risk_bins: Vec<(f64, f64, usize)>,
    pub scored: Vec<Scored>,
}

pub fn report(scored: Vec<Scored>) -> Report {
    let mut r = Report {
        conversations: scored.len(),
        passed: scored.iter().filter(|s| s.passed()).count(),
        ..Default::default()
    };
    for s in &scored {
        for key in [s.language.clone(), "all".to_string()] {
            for (kind, _, _, ok) in &s.expected {
                let c = r.counts.entry(format!("{kind}/{key}")).or_default();
                if *ok {
                    c.tp += 1;
                } else {
                    c.fn_ += 1;
                }
            }
            // A forbidden kind that fired counts once per conversation.
            let mut kinds: Vec<&String> = s.forbidden_fired.iter().map(|(k, _)| k).collect();
            kinds.dedup();
            for kind in kinds {
                r.counts.entry(format!("{kind}/{key}")).or_default().fp += 1;
            }
        }
    }
    let risk: Vec<(f32, bool)> = scored.iter().flat_map(|s| s.risk.clone()).collect();
    if !risk.is_empty() {
        let n = risk.len() as f64;
        r.risk_brier = risk
            .iter()
            .map(|(p, y)| (*p as f64 - if *y { 1.0 } else { 0.0 }).powi(2))
            .sum::<f64>()
            / n;
        let mut bins = vec![(0.0f64, 0.0f64, 0usize); 5];
        for (p, y) in &risk {
            let b = ((*p as f64 * 5.0) as usize).min(4);
            bins[b].0 += *p as f64;
            bins[b].1 += if *y { 1.0 } else { 0.0 };
            bins[b].2 += 1;
        }
        r.risk_ece = bins
            .iter()
            .filter(|b| b.2 > 0)
            .map(|b| (b.0 - b.1).abs() / n)
            .sum();
        r.risk_bins = bins
            .into_iter()
            .filter(|b| b.2 > 0)
            .map(|(p, y, c)| (p / c as f64, y / c as f64, c))
            .collect();
    }
    r.scored = scored;
    r
}

fn ratio(a: u32, b: u32) -> String {
    if b == 0 {
        "–".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// The report as Markdown tables.
pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "{} conversations, {} pass every label\n\n| kind | language | TP | FN | FP | precision | recall |\n|---|---|---|---|---|---|---|\n",
        r.conversations, r.passed
    );
    for (key, c) in &r.counts {
        let (kind, lang) = key.split_once('/').unwrap_or((key, ""));
        out += &format!(
            "| {kind} | {lang} | {} | {} | {} | {} | {} |\n",
            c.tp,
            c.fn_,
            c.fp,
            ratio(c.tp, c.tp + c.fp),
            ratio(c.tp, c.tp + c.fn_)
        );
    }
    out += &format!(
        "\nEscalation risk over labelled customer turns: ECE {:.3}, Brier {:.3}\n\n| mean risk | observed | turns |\n|---|---|---|\n",
        r.risk_ece, r.risk_brier
    );
    for (p, y, n) in &r.risk_bins {
        out += &format!("| {p:.2} | {y:.2} | {n} |\n");
    }
    let failed: Vec<&Scored> = r.scored.iter().filter(|s| !s.passed()).collect();
    if !failed.is_empty() {
        out += "\nMisses:\n";
        for s in failed {
            for (kind, by, at, ok) in &s.expected {
                if !ok {
                    out += &format!(
                        "- {}: {kind} expected by {by}, fired {}\n",
                        s.id,
                        at.as_deref().unwrap_or("never")
                    );
                }
            }
            for (kind, at) in &s.forbidden_fired {
                out += &format!("- {}: forbidden {kind} fired at {at}\n", s.id);
            }
        }
    }
    out
}

#[derive(clap::Subcommand, Debug)]
pub enum LiveCmd {
    /// Play the scripted conversations through LiveAssist and score the hints (EVAL.md).
    Eval(Box<LiveEvalArgs>),
    /// Latency per turn with concurrent sessions (BENCH.md).
    Bench(Box<LiveBenchArgs>),
}

#[derive(Args, Debug)]
pub struct LiveEvalArgs {
    /// Folder of scripted conversations.
    #[arg(long, default_value = "eval/live/conversations")]
    pub scripts: PathBuf,

    /// "dev", "holdout" or "all".
    #[arg(long, default_value = "all")]
    pub split: String,

    /// Also write the whole report (every turn's hints) as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct LiveBenchArgs {
    #[arg(long, default_value = "eval/live/conversations")]
    pub scripts: PathBuf,

    /// Concurrent sessions, each playing the scripts in turn; repeatable ("--sessions 8
    /// --sessions 64").
    #[arg(long, default_values_t = [8usize, 64])]
    pub sessions: Vec<usize>,

    /// Pause between a session's turns, in milliseconds (0: the next turn as soon as the last
    /// is answered).
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,

    /// Turns each session sends.
    #[arg(long, default_value_t = 60)]
    pub turns: usize,

    #[command(flatten)]
    pub model: ModelArgs,
}

pub async fn run(cmd: LiveCmd) -> Result<()> {
    match cmd {
        LiveCmd::Eval(a) => eval(*a).await,
        LiveCmd::Bench(a) => bench(*a).await,
    }
}

/// A server with its own profile store (for the scripts' histories) in a fresh folder under
/// the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn server(model: ModelArgs) -> Result<(InProcessServer, Scratch)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("rapport-live-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let scratch = Scratch(dir);
    let mut profiles = ProfileArgs::off();
    profiles.store = Some(format!("sqlite:{}", scratch.0.join("live.db").display()));
    Ok((
        InProcessServer::start_with(model, 64, profiles).await?,
        scratch,
    ))
}

async fn eval(args: LiveEvalArgs) -> Result<()> {
    let scripts: Vec<Script> = load_scripts(&args.scripts)?
        .into_iter()
        .filter(|s| args.split == "all" || s.split == args.split)
        .collect();
    if scripts.is_empty() {
        return Err(Error::invalid(
            "scripts",
            format!(
                "no conversation of split {:?} in {}",
                args.split,
                args.scripts.display()
            ),
        ));
    }
    let (server, _dir) = server(args.model).await?;
    let mut scored = Vec::new();
    let mut played_all = Vec::new();
    for s in &scripts {
        let customer = format!("customer-{}", s.id);
        let played = play(&server.channel, s, &s.id, &customer, Duration::ZERO).await?;
        scored.push(score(s, &played));
        played_all.push(played);
    }
    server.stop().await;
    let r = report(scored);
    println!("{}", markdown(&r));
    if let Some(out) = &args.out {
        let json = serde_json::json!({ "report": r, "played": played_all });
        std::fs::write(out, serde_json::to_vec_pretty(&json).expect("serialisable"))
            .map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}

/// [`percentile`] in milliseconds; 0 without any latency (no chat among the scripts).
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    percentile(sorted, p).as_secs_f64() * 1e3
}

async fn bench(args: LiveBenchArgs) -> Result<()> {
    let scripts = load_scripts(&args.scripts)?;
    if scripts.is_empty() {
        return Err(Error::invalid("scripts", "no conversations"));
    }
    let (server, _dir) = server(args.model).await?;
    println!("| sessions | interval | turns | errors | p50 ms | p99 ms | max ms | chat p99 ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &args.sessions {
        let mut tasks = Vec::new();
        for i in 0..n {
            let channel = server.channel.clone();
            let scripts = scripts.clone();
            let (turns, interval) = (args.turns, Duration::from_millis(args.interval_ms));
            tasks.push(tokio::spawn(async move {
                bench_session(&channel, &scripts, i, n, turns, interval).await
            }));
        }
        let (mut all, mut chat, mut errors) = (Vec::new(), Vec::new(), 0usize);
        for t in tasks {
            match t.await {
                Ok(Ok((a, c, e))) => {
                    all.extend(a);
                    chat.extend(c);
                    errors += e;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "bench session failed");
                    errors += 1;
                }
                Err(e) => return Err(Error::Unavailable(e.to_string())),
            }
        }
        all.sort();
        chat.sort();
        println!(
            "| {n} | {} ms | {} | {errors} | {:.1} | {:.1} | {:.1} | {:.1} |",
            args.interval_ms,
            all.len(),
            percentile_ms(&all, 0.5),
            percentile_ms(&all, 0.99),
            all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            percentile_ms(&chat, 0.99),
        );
    }
    server.stop().await;
    Ok(())
}

/// One bench session: plays scripts (from a different one per session) turn by turn until
/// `turns` are sent; returns per-turn latencies (all, chats only) and errors.
async fn bench_session(
    channel: &Channel,
    scripts: &[Script],
    i: usize,
    n: usize,
    turns: usize,
    interval: Duration,
) -> Result<(Vec<Duration>, Vec<Duration>, usize)> {
    let (mut all, mut chat, mut errors) = (Vec::new(), Vec::new(), 0);
    let mut k = i;
    let mut round = 0;
    // Sessions start spread over one interval, as real conversations do not align.
    tokio::time::sleep(interval.mul_f64(i as f64 / n as f64)).await;
    while all.len() < turns {
        let s = &scripts[k % scripts.len()];
        let mut s = s.clone();
        s.history.clear();
        let left = turns - all.len();
        s.turns.truncate(left);
        let played = play(channel, &s, &format!("bench-{i}-{round}"), "", interval).await?;
        for t in played.turns {
            if !t.error.is_empty() {
                errors += 1;
            }
            if s.channel == "chat" {
                chat.push(t.latency);
            }
            all.push(t.latency);
        }
        k += 1;
        round += 1;
    }
    Ok((all, chat, errors))
}

//! The text pipeline through the API: emails as bytes in their own charsets, chat logs and call
//! transcripts in one message, what was cut, personal data redacted, and the errors for bodies
//! that do not fit. A real gRPC channel to an in-process server with a tiny random BERT.
mod common;

use common::server::{message, start_tiny};
use rapport::proto::v1 as pb;
use tonic::Code;

use common::mime::fixture as corpus;

fn raw(id: &str, body: Vec<u8>, channel: pb::Channel, format: pb::TextFormat) -> pb::Message {
    pb::Message {
        id: id.into(),
        raw: body,
        channel: channel as i32,
        format: format as i32,
        ..Default::default()
    }
}

async fn analyze_one(
    client: &mut pb::analyzer_client::AnalyzerClient<tonic::transport::Channel>,
    m: pb::Message,
) -> Result<pb::MessageAnalysis, tonic::Status> {
    client
        .analyze(pb::AnalyzeRequest {
            messages: vec![m],
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().analyses.remove(0))
}

#[tokio::test]
async fn mime_emails_in_8bit_charsets_are_decoded_and_cut() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();
    for (file, kept, subject) in [
        (
            "mime/ru_koi8r_8bit.eml",
            "Подскажите, пожалуйста, можно ли изменить адрес доставки?",
            "Вопрос",
        ),
        ("mime/ru_cp1251_8bit.eml", "", ""),
        ("mime/ru_koi8r_b64.eml", "", ""),
    ] {
        let body = corpus(file);
        assert!(
            std::str::from_utf8(&body).is_err() || file.contains("b64"),
            "{file} carries 8-bit bytes that a string field could not"
        );
        let a = analyze_one(
            &mut client,
            raw(file, body, pb::Channel::Email, pb::TextFormat::Rfc822),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let t = a.text.as_ref().unwrap();
        assert_eq!(a.language.as_ref().unwrap().code, "ru", "{file}: {t:?}");
        assert!(a.sentiment.is_some(), "{file}");
        assert!(a.tokens > 2, "{file}");
        assert!(
            t.redacted.chars().any(|c| ('а'..='я').contains(&c)),
            "{file}: decoded to Cyrillic: {:?}",
            t.redacted
        );
        // Each names its own charset rightly.
        assert!(
            !t.warnings.iter().any(|w| w.contains("looks wrong")),
            "{file}: {:?}",
            t.warnings
        );
        if !kept.is_empty() {
            assert_eq!(t.redacted, kept, "{file}");
            assert_eq!(t.subject, subject);
            let kinds: Vec<i32> = t.cuts.iter().map(|c| c.kind).collect();
            assert_eq!(kinds, [pb::CutKind::Signature as i32], "{file}");
        }
        assert!(a.timings.as_ref().unwrap().prepare_us > 0);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_charset_that_does_not_fit_is_warned_about_and_the_fitting_one_named() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();
    let text = "Здравствуйте! Заказ пришёл без инструкции, а ещё курьер нагрубил.";
    let cp1251 = encoding_rs::WINDOWS_1251.encode(text).0.into_owned();
    let warned = |a: &pb::MessageAnalysis| -> Vec<String> {
        let t = a.text.as_ref().unwrap();
        t.warnings
            .iter()
            .filter(|w| w.contains("looks wrong"))
            .cloned()
            .collect()
    };

    // A body in `raw` whose `charset` is not its own: decoded as the caller said, and warned.
    let mut m = raw(
        "plain",
        cp1251.clone(),
        pb::Channel::Unspecified,
        pb::TextFormat::Unspecified,
    );
    m.charset = "koi8-r".into();
    let a = analyze_one(&mut client, m).await.unwrap();
    let w = warned(&a);
    assert_eq!(w.len(), 1, "{:?}", a.text);
    assert!(
        w[0].starts_with(
            "charset \"koi8-r\" looks wrong for this text: it decodes as gibberish; \"windows-1251\" fits (score "
        ),
        "{}",
        w[0]
    );
    assert_ne!(a.text.as_ref().unwrap().redacted, text);
    // The same bytes with their own charset: read right, nothing to say.
    let mut m = raw(
        "right",
        cp1251,
        pb::Channel::Unspecified,
        pb::TextFormat::Unspecified,
    );
    m.charset = "windows-1251".into();
    let a = analyze_one(&mut client, m).await.unwrap();
    assert_eq!(a.text.as_ref().unwrap().redacted, text);
    assert!(warned(&a).is_empty(), "{:?}", a.text);

    // A MIME part that declares KOI8-R over windows-1251 bytes.
    let eml = common::mime::build_mime(&format!(
        "From: Olga <olga@example.ru>\nSubject: x\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: quoted-printable\n\n\
         {{{{enc:windows-1251:quoted-printable}}}}{text}\n{{{{/enc}}}}"
    ));
    let a = analyze_one(
        &mut client,
        raw("mime", eml, pb::Channel::Email, pb::TextFormat::Rfc822),
    )
    .await
    .unwrap();
    let w = warned(&a);
    assert_eq!(w.len(), 1, "{:?}", a.text);
    assert!(
        w[0].starts_with("charset \"koi8-r\" of a MIME part looks wrong for this text")
            && w[0].contains("\"windows-1251\" fits"),
        "{}",
        w[0]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn email_reply_analyses_only_the_new_words_and_redacts_pii() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();
    let mut m = message(
        "reply",
        "Still no refund. Call me on +7 916 123-45-67 or write to ivan.petrov@mail.ru.\n\
         \n\
         Best regards,\nIvan\n\
         \n\
         On Mon, 3 Nov 2026 at 10:00, Support <help@shop.example> wrote:\n\
         > Your refund was approved and sent to card 4111 1111 1111 1111.\n",
    );
    m.channel = pb::Channel::Email as i32;
    let a = analyze_one(&mut client, m).await.unwrap();
    let t = a.text.unwrap();
    assert!(
        t.redacted.starts_with("Still no refund."),
        "{:?}",
        t.redacted
    );
    assert!(t.redacted.contains("[PHONE]") && t.redacted.contains("[EMAIL]"));
    for secret in ["916", "ivan.petrov", "4111", "approved"] {
        assert!(!t.redacted.contains(secret), "{secret} in {:?}", t.redacted);
    }
    let kinds: Vec<i32> = t.pii.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [pb::PiiKind::Phone as i32, pb::PiiKind::Email as i32]
    );
    for p in &t.pii {
        let placeholder = &t.redacted[p.start as usize..p.end as usize];
        assert!(placeholder.starts_with('[') && placeholder.ends_with(']'));
    }
    // The quote is cut and reported, with its card number redacted too.
    let quote = t
        .cuts
        .iter()
        .find(|c| c.kind == pb::CutKind::Quote as i32)
        .expect("the quoted reply is a cut");
    assert!(quote.text.contains("[CARD]"), "{:?}", quote.text);
    assert!(t
        .cuts
        .iter()
        .any(|c| c.kind == pb::CutKind::Signature as i32));
    assert!(!t.sentences.is_empty());
    for s in &t.sentences {
        assert_eq!(&t.redacted[s.start as usize..s.end as usize], s.text);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn chat_logs_and_transcripts_keep_the_customers_turns_with_figures() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();

    let chat = analyze_one(
        &mut client,
        raw(
            "chat",
            corpus("chat/en_pii.txt"),
            pb::Channel::Chat,
            pb::TextFormat::ChatLog,
        ),
    )
    .await
    .unwrap();
    let t = chat.text.unwrap();
    assert!(!t.redacted.contains("Could you confirm"), "agent turn cut");
    assert!(t.redacted.contains("[PHONE]") && t.redacted.contains("[CARD]"));
    assert_eq!(t.turns.len(), 4);
    assert_eq!(t.turns[0].role, pb::Role::Agent as i32);
    assert_eq!(t.turns[1].role, pb::Role::Customer as i32);
    assert!(t
        .turns
        .iter()
        .all(|turn| !turn.text.contains("7700 900123")));
    let summary = t.chat.unwrap();
    assert_eq!((summary.turns, summary.customer_turns), (4, 2));
    assert!(t.call.is_none());

    let call = analyze_one(
        &mut client,
        pb::Message {
            text: String::from_utf8(corpus("transcript/en_overlap.json")).unwrap(),
            channel: pb::Channel::CallTranscript as i32,
            format: pb::TextFormat::Transcript as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t = call.text.unwrap();
    assert!(t.redacted.contains("I did not ask for a new tariff"));
    let m = t.call.expect("call metrics");
    assert!(m.timed);
    assert_eq!(m.interruptions, 1);
    let customer = m.speakers.iter().find(|s| s.speaker == "Customer").unwrap();
    assert!((customer.talk_ratio - 0.4889).abs() < 1e-3, "{customer:?}");
    assert_eq!(customer.role, pb::Role::Customer as i32);
    assert!(customer.words_per_minute.is_some());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_message_with_nothing_of_the_customers_own_abstains() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();
    let only_agent = pb::Message {
        text: "Agent: Hello, how can I help?\nAgent: Are you still there?".into(),
        channel: pb::Channel::Chat as i32,
        format: pb::TextFormat::ChatLog as i32,
        customer_speaker: "Customer".into(),
        ..Default::default()
    };
    let a = analyze_one(&mut client, only_agent).await.unwrap();
    assert!(a.sentiment.is_none());
    assert_eq!(a.tokens, 0);
    let t = a.text.unwrap();
    assert!(t.redacted.is_empty());
    assert_eq!(t.cuts.len(), 2);
    assert!(
        t.warnings
            .iter()
            .any(|w| w.contains("nothing of the customer")),
        "{:?}",
        t.warnings
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bodies_that_do_not_fit_get_invalid_argument_naming_the_field() {
    let server = start_tiny(&["--max-raw-bytes", "2048"]).await;
    let mut client = server.analyzer();
    let check = |status: tonic::Status, field: &str, needle: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{}", status.message());
        assert!(status.message().contains(needle), "{}", status.message());
    };

    let mut both = message("a", "hello");
    both.raw = b"hello".to_vec();
    check(
        analyze_one(&mut client, both).await.unwrap_err(),
        "messages[0]",
        "not both",
    );
    let big = raw(
        "b",
        vec![b'a'; 4096],
        pb::Channel::Email,
        pb::TextFormat::Rfc822,
    );
    check(
        analyze_one(&mut client, big).await.unwrap_err(),
        "messages[0].raw",
        "limit of 2048",
    );
    let mismatch = raw(
        "c",
        b"From: a@b.c\r\n\r\nhi".to_vec(),
        pb::Channel::Chat,
        pb::TextFormat::Rfc822,
    );
    check(
        analyze_one(&mut client, mismatch).await.unwrap_err(),
        "messages[0].format",
        "does not fit",
    );
    let mut unknown = message("d", "hi");
    unknown.format = 77;
    check(
        analyze_one(&mut client, unknown).await.unwrap_err(),
        "messages[0].format",
        "unknown value 77",
    );
    let mut bad_charset = raw(
        "e",
        b"\xcf\xf0\xe8".to_vec(),
        pb::Channel::Unspecified,
        pb::TextFormat::Unspecified,
    );
    bad_charset.charset = "klingon-8".into();
    check(
        analyze_one(&mut client, bad_charset).await.unwrap_err(),
        "messages[0].charset",
        "klingon-8",
    );
    let negative_times = pb::Message {
        text: r#"[{"speaker":"Customer","start":-5,"end":2,"text":"hello"}]"#.into(),
        channel: pb::Channel::CallTranscript as i32,
        format: pb::TextFormat::TranscriptJson as i32,
        ..Default::default()
    };
    check(
        analyze_one(&mut client, negative_times).await.unwrap_err(),
        "messages[0].text",
        "time -5 is negative or not a number (segments[0].start)",
    );
    // Nothing is poisoned: the next call is served.
    assert!(
        analyze_one(&mut client, message("ok", "Thanks, all good now."))
            .await
            .is_ok()
    );
    server.stop().await.unwrap();
}

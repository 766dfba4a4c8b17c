//! MIME fixtures are readable UTF-8 templates; this produces the real bytes:
//! `{{enc:CHARSET:TRANSFER}}...{{/enc}}` encodes a body with encoding_rs into CHARSET
//! (windows-1251, koi8-r, utf-8) and then TRANSFER (8bit, base64, quoted-printable);
//! `{{hdr:CHARSET:text}}` writes an RFC 2047 encoded word; `{{raw:ff fe}}` writes raw bytes.

/// A corpus fixture's bytes: MIME templates (`.eml`) expanded, other files as they are.
pub fn fixture(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(path);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if path.ends_with(".eml") {
        build_mime(std::str::from_utf8(&bytes).expect("templates are UTF-8"))
    } else {
        bytes
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (n, chunk) in bytes.chunks(3).enumerate() {
        if n > 0 && n % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn quoted_printable(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut col = 0;
    for &b in bytes {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
            col = 0;
            continue;
        }
        let enc = if (b == b' ' || b.is_ascii_graphic()) && b != b'=' {
            vec![b]
        } else {
            format!("={b:02X}").into_bytes()
        };
        if col + enc.len() > 73 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        col += enc.len();
        out.extend_from_slice(&enc);
    }
    out
}

fn encode(charset: &str, text: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("charset");
    let (bytes, _, bad) = enc.encode(text);
    assert!(!bad, "{text:?} is not representable in {charset}");
    bytes.into_owned()
}

/// Expands the template markers of a MIME fixture into real bytes.
pub fn build_mime(template: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.extend_from_slice(rest[..i].replace('\n', "\r\n").as_bytes());
        let after = &rest[i + 2..];
        let close = after.find("}}").expect("}}");
        let tag = &after[..close];
        rest = &after[close + 2..];
        let parts: Vec<&str> = tag.splitn(3, ':').collect();
        match parts[0] {
            "enc" => {
                let end = rest.find("{{/enc}}").expect("{{/enc}}");
                let body = &rest[..end];
                rest = &rest[end + "{{/enc}}".len()..];
                let bytes = encode(parts[1], body);
                match parts[2] {
                    "base64" => out.extend_from_slice(base64(&bytes).as_bytes()),
                    "quoted-printable" => out.extend_from_slice(&quoted_printable(&bytes)),
                    _ => {
                        let crlf: Vec<u8> = bytes
                            .iter()
                            .flat_map(|&b| {
                                if b == b'\n' {
                                    vec![b'\r', b'\n']
                                } else {
                                    vec![b]
                                }
                            })
                            .collect();
                        out.extend_from_slice(&crlf)
                    }
                }
            }
            "hdr" => {
                let bytes = encode(parts[1], parts[2]);
                out.extend_from_slice(format!("=?{}?B?{}?=", parts[1], base64(&bytes)).as_bytes());
            }
            "raw" => {
                for h in parts[1].split_whitespace() {
                    out.push(u8::from_str_radix(h, 16).expect("hex"));
                }
            }
            other => panic!("unknown marker {other}"),
        }
    }
    out.extend_from_slice(rest.replace('\n', "\r\n").as_bytes());
    out
}

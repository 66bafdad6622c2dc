//! Differential conformance: the odd requests of `tests/conformance/requests.txt`, each sent
//! over raw TCP on loopback to our producer, to Go's net/http (`bench/go_producer.go`) and to
//! nginx (`tests/conformance/nginx.conf`), all three serving /number alike. It prints a table of
//! what each one answered, and checks two things: that ours answers what RFC 9112 calls for (the
//! corpus' `expect` column), and that the engine guide's table of deliberate differences
//! (`engine/README.md`) lists exactly the requests where ours differs from both peers,
//! with the answers measured here.
//!
//! Without go or nginx, only ours is checked, and the test says SKIP for the comparison (a
//! failure under REQUIRE_DOCKER=1, as in CI).

mod support;

use support::peers::*;
use support::*;

const CORPUS: &str = include_str!("conformance/requests.txt");
/// The header of the engine guide's table of deliberate differences, in `GUIDE_SECTION`.
const GUIDE_TABLE: &str = "| Request (`tests/conformance/requests.txt`) |";

/// One request of the corpus.
struct Case {
    name: String,
    /// The answers RFC 9112 allows, such as `["400", "505"]`; empty where it leaves the choice.
    expect: Vec<String>,
    bytes: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    CORPUS
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.splitn(3, " | ");
            let mut field = || fields.next().expect("name | expect | bytes").trim();
            let (name, expect, bytes) = (field().to_string(), field(), field());
            let expect = match expect {
                "-" => Vec::new(),
                alternatives => alternatives.split('|').map(String::from).collect(),
            };
            Case {
                name,
                expect,
                bytes: unescape(bytes),
            }
        })
        .collect()
}

/// The bytes a corpus line stands for: `\r \n \t \0 \\ \xHH` escapes, and `{text*N}` repeats.
fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some((repeated, after)) = repetition(rest) {
            bytes.extend(unescape(repeated).repeat(after.0));
            rest = after.1;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c != '\\' {
            bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let (byte, used) = match rest.as_bytes() {
            [b'r', ..] => (b'\r', 1),
            [b'n', ..] => (b'\n', 1),
            [b't', ..] => (b'\t', 1),
            [b'0', ..] => (0, 1),
            [b'\\', ..] => (b'\\', 1),
            [b'x', hex @ ..] if hex.len() >= 2 => {
                let hex = std::str::from_utf8(&hex[..2]).unwrap();
                (u8::from_str_radix(hex, 16).expect("\\xHH"), 3)
            }
            _ => panic!("unknown escape in {text:?}"),
        };
        bytes.push(byte);
        rest = &rest[used..];
    }
    bytes
}

/// `{text*N}` at the start of `text`: the text, N, and what follows.
fn repetition(text: &str) -> Option<(&str, (usize, &str))> {
    let inside = text.strip_prefix('{')?;
    let (inside, after) = inside.split_once('}')?;
    let (repeated, count) = inside.rsplit_once('*')?;
    Some((repeated, (count.parse().ok()?, after)))
}

/// The rows of the engine guide's table of deliberate differences: (request, ours, Go, nginx).
fn guide_differences() -> Vec<Vec<String>> {
    guide_table(GUIDE_TABLE)
        .into_iter()
        .map(|mut cells| {
            cells.resize(4, String::new());
            cells.truncate(4);
            cells
        })
        .collect()
}

#[test]
fn ours_answers_as_rfc_9112_asks_and_differs_from_go_and_nginx_only_where_the_engine_guide_says() {
    let cases = corpus();
    assert!(
        cases.len() >= 100,
        "the corpus has {} requests",
        cases.len()
    );
    let (_producer, ours) = start_producer(&[]);
    let peers = peers();

    let width = cases.iter().map(|c| c.name.len()).max().unwrap();
    let mut table = format!("{:width$} | expect  | ours    ", "request");
    for peer in &peers {
        table.push_str(&format!("| {:7} ", peer.name));
    }
    table.push_str("| ours differs from\n");
    let (mut wrong, mut differs) = (Vec::new(), Vec::new());
    let mut by_peer = vec![0; peers.len()];
    for case in &cases {
        let our_answer = answer(ours, &case.bytes);
        let theirs: Vec<String> = peers
            .iter()
            .map(|p| answer(p.address, &case.bytes))
            .collect();
        let expected = case.expect.is_empty() || case.expect.contains(&our_answer);
        if !expected {
            wrong.push(format!(
                "{}: ours {our_answer}, RFC 9112: {}",
                case.name,
                case.expect.join(" or ")
            ));
        }
        let unlike: Vec<&str> = (peers.iter().zip(&theirs))
            .filter(|(_, answer)| **answer != our_answer)
            .map(|(peer, _)| peer.name)
            .collect();
        for (count, answer) in by_peer.iter_mut().zip(&theirs) {
            *count += usize::from(*answer != our_answer);
        }
        if peers.len() == 2 && unlike.len() == 2 {
            let mut row = vec![case.name.clone(), our_answer.clone()];
            row.extend(theirs.iter().cloned());
            differs.push(row);
        }
        let expect = match case.expect.is_empty() {
            true => "-".to_string(),
            false => case.expect.join("|"),
        };
        let mark = if expected {
            ""
        } else {
            "  <- not what RFC 9112 asks"
        };
        table.push_str(&format!(
            "{:width$} | {expect:7} | {our_answer:7} ",
            case.name
        ));
        for answer in &theirs {
            table.push_str(&format!("| {answer:7} "));
        }
        table.push_str(&format!("| {}{mark}\n", unlike.join(", ")));
    }
    table.push_str(&format!(
        "conformance: {} requests; ours answers as RFC 9112 asks on {} of the {} it has a rule for",
        cases.len(),
        cases.iter().filter(|c| !c.expect.is_empty()).count() - wrong.len(),
        cases.iter().filter(|c| !c.expect.is_empty()).count(),
    ));
    for (at, (peer, count)) in peers.iter().zip(&by_peer).enumerate() {
        let lead = if at == 0 { "; differs from" } else { ", from" };
        table.push_str(&format!("{lead} {} on {count}", peer.name));
    }
    if peers.len() == 2 {
        table.push_str(&format!(", from both on {}", differs.len()));
    }
    say(&format!("{table}\n"));

    assert!(
        wrong.is_empty(),
        "not what RFC 9112 asks:\n{}",
        wrong.join("\n")
    );
    let claim = format!("sends {} odd requests", cases.len());
    assert!(
        GUIDE.contains(&claim),
        "the engine guide should say it {claim}"
    );
    if peers.len() == 2 {
        assert_eq!(
            guide_differences(),
            differs,
            "the engine guide's table ({GUIDE_SECTION}) must list each request where ours differs \
             from both Go and nginx, in corpus order: request | ours | Go | nginx"
        );
    }
}

/// RFC 9112, section 3.2.2: absolute-form reaches the route of its path, and the connection
/// goes on.
#[test]
fn absolute_form_reaches_the_route_of_its_path() {
    let (_producer, address) = start_producer(&[]);
    let (text, _) = exchange(
        address,
        b"GET http://elsewhere:80/number?x=1 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ANSWER_WITHIN,
    );
    assert_eq!(statuses(&text), [200, 200], "{text}");
    assert!(text.contains("{\"number\": ") && text.contains("{\"status\":\"ok\"}"));
}

/// `OPTIONS *` is about the server, not about a resource: the engine answers it (200, no body,
/// as Go does) and the connection goes on to the next request.
#[test]
fn options_asterisk_is_answered_by_the_engine() {
    let (_producer, address) = start_producer(&[]);
    let (text, _) = exchange(
        address,
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ANSWER_WITHIN,
    );
    assert_eq!(statuses(&text), [200, 404], "{text}");
    let (first, _) = text.split_once("\r\n\r\n").unwrap();
    assert!(first.contains("Content-Length: 0"), "{first}");
}

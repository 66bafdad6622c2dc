//! The documents tell the truth about the programs and about each other:
//!
//! - each program's settings table (the README's for the producer and the consumer, the
//!   autoscaling guide's for the autoscaler) has exactly the flags that its `--help` lists, each
//!   with the same variable and the same default, and no row for a flag that does not exist;
//! - every relative link in every Markdown file of the repository reaches a file, and every
//!   `#anchor` to a Markdown file names one of its headings, by GitHub's rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Each program, the document with its settings table, and the heading of the section that holds
/// it ("" for the whole document).
const PROGRAMS: [(&str, &str, &str); 3] = [
    (
        env!("CARGO_BIN_EXE_producer"),
        "README.md",
        "## The producer",
    ),
    (
        env!("CARGO_BIN_EXE_consumer"),
        "README.md",
        "## The consumer",
    ),
    (env!("CARGO_BIN_EXE_autoscaler"), "autoscaler/README.md", ""),
];

/// The settings rows of `--help`: (flag, variable, default), as in "  --port N  PORT  ... [default: 5000]".
fn settings(program: &str) -> Vec<(String, String, Option<String>)> {
    let help = Command::new(program).arg("--help").output().unwrap().stdout;
    let help = String::from_utf8(help).unwrap();
    help.lines()
        .filter(|line| line.starts_with("  --"))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            // After the flag: its value's placeholder (N, D, IP, URL, TEXT, X), if any, then
            // its variable, if any.
            let placeholders = ["N", "D", "IP", "URL", "TEXT", "X"];
            let after = usize::from(placeholders.contains(&words[1])) + 1;
            let is_variable = |w: &&&str| {
                w.len() > 2
                    && w.chars()
                        .all(|c| c.is_ascii_uppercase() || "_=1".contains(c))
            };
            let variable = words
                .get(after)
                .filter(is_variable)
                .map_or(String::new(), |w| w.to_string());
            let default = line
                .rsplit_once("[default: ")
                .map(|(_, rest)| rest.trim_end_matches(']').to_string());
            (words[0].to_string(), variable, default)
        })
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The section of `text` under `heading`, up to the next heading of its level, or all of `text`
/// for "".
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    if heading.is_empty() {
        return text;
    }
    let rest = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"))
        .1;
    let level = heading.split(' ').next().unwrap();
    rest.split(&format!("\n{level} ")).next().unwrap()
}

/// The rows of the one settings table (`| Flag | Env | Default | Description |`) in `text`.
fn table_rows(text: &str) -> Vec<String> {
    let header = "| Flag | Env | Default | Description |";
    let tables: Vec<&str> = text.split(header).skip(1).collect();
    assert_eq!(
        tables.len(),
        1,
        "want one settings table, found {}",
        tables.len()
    );
    tables[0]
        .lines()
        .skip(2) // the rest of the header line, and |---|
        .take_while(|line| line.starts_with('|'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_settings_table_matches_help_row_for_row() {
    for (program, doc, heading) in PROGRAMS {
        let rows = table_rows(section(&read(doc), heading));
        let settings = settings(program);
        assert!(
            settings.len() >= 4,
            "{program}: no settings read from --help"
        );
        let mut expected = BTreeSet::new();
        for (flag, variable, default) in &settings {
            let variable = match variable.as_str() {
                "" => "|".to_string(),
                name => format!("| `{name}` |"),
            };
            let row = match default {
                Some(default) => format!("| `{flag}` {variable} `{default}` |"),
                None => format!("| `{flag}` {variable}"),
            };
            let found: Vec<&String> = rows.iter().filter(|r| r.starts_with(&row)).collect();
            assert_eq!(found.len(), 1, "{doc} {heading}: want one row {row}");
            expected.insert(found[0].clone());
        }
        // The other way: every row is a flag of --help, or its -h, --help or -V, --version.
        for row in &rows {
            let help =
                row.starts_with("| `-h`, `--help` |") || row.starts_with("| `-V`, `--version` |");
            assert!(
                help || expected.contains(row),
                "{doc} {heading}: the row {row} is no flag of {program} --help"
            );
        }
    }
}

/// GitHub's anchor for a heading: lowercase; letters, digits, '-' and '_' kept, spaces to '-',
/// every other character dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The anchors of a Markdown file's headings; a repeated heading gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for line in prose(text) {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(&line[hashes..]);
            let mut anchor = base.clone();
            let mut n = 0;
            while !anchors.insert(anchor.clone()) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
        }
    }
    anchors
}

/// The destinations of the inline links and images of a Markdown text, outside code.
fn links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in prose(text) {
        // Drop code spans: every other piece between backquotes.
        let line: String = line.split('`').step_by(2).collect();
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let end = rest.find([')', ' ']).unwrap_or(rest.len());
            links.push(rest[..end].to_string());
        }
    }
    links
}

/// Every Markdown file of the repository, but in build output, fuzz corpora and venvs.
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let skip = [
                "target",
                "dist",
                "corpus",
                "artifacts",
                ".git",
                ".opera-tosca",
            ];
            if !skip.contains(&name.as_str()) && !name.starts_with(".venv") {
                markdown_files(&path, found);
            }
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut files = Vec::new();
    markdown_files(Path::new(ROOT), &mut files);
    assert!(files.len() >= 10, "found only {files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let name = file.strip_prefix(ROOT).unwrap().display();
            if !target.exists() {
                broken.push(format!("{name}: {link}: no such file"));
            } else if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.contains(anchor) {
                    broken.push(format!("{name}: {link}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(
        slug("Scenario 01: both services on one machine, with Docker Compose"),
        "scenario-01-both-services-on-one-machine-with-docker-compose"
    );
    assert_eq!(
        slug("The tutorial's cluster as virtual machines"),
        "the-tutorials-cluster-as-virtual-machines"
    );
    assert_eq!(
        slug("Autoscaling on request rate (Day 2)"),
        "autoscaling-on-request-rate-day-2"
    );
    assert_eq!(slug("What `make test` runs"), "what-make-test-runs");
    assert_eq!(
        slug("RFC 9112, checked against Go and nginx"),
        "rfc-9112-checked-against-go-and-nginx"
    );
    let text = "# A\n```\n# not a heading\n```\n## A\n";
    assert_eq!(
        anchors(text),
        BTreeSet::from(["a".to_string(), "a-1".to_string()])
    );
    assert_eq!(
        links("[a](b.md#c) `[x](y)` ![i](d.png \"t\")"),
        ["b.md#c", "d.png"]
    );
}

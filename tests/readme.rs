//! The README's settings tables tell the truth: every flag that a program's `--help` lists is a
//! row of its table, with the same variable and the same default.

use std::process::Command;

const PROGRAMS: [&str; 3] = [
    env!("CARGO_BIN_EXE_producer"),
    env!("CARGO_BIN_EXE_consumer"),
    env!("CARGO_BIN_EXE_autoscaler"),
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

#[test]
fn every_setting_is_in_the_readme_as_help_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for program in PROGRAMS {
        let settings = settings(program);
        assert!(
            settings.len() >= 4,
            "{program}: no settings read from --help"
        );
        for (flag, variable, default) in settings {
            let variable = match variable.as_str() {
                "" => "|".to_string(),
                name => format!("| `{name}` |"),
            };
            let row = match &default {
                Some(default) => format!("| `{flag}` {variable} `{default}` |"),
                None => format!("| `{flag}` {variable}"),
            };
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}

//! The code blocks of a runbook, read with pulldown-cmark: the ```` ```console ```` blocks whose
//! commands run, and the blocks that must be a file of the repository word for word.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// How a console block's commands are treated, from the words after `console`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run, each expected to exit with this code (`exit=N`; 0 when not given).
    Run { exit: i32 },
    /// Started and left running (`background`), stopped with SIGTERM once the runbook's
    /// commands are done, and expected to exit 0 then: a clean stop.
    Background,
    /// Not run here (`no-run=WHY`, e.g. systemctl), only checked by `bash -n`.
    NoRun { why: String },
}

/// One command of a console block: the text after `$ ` (continued over lines that end in
/// `\`), and the lines shown after it, which its output must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: usize,
    pub text: String,
    pub shown: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleBlock {
    pub line: usize,
    pub mode: Mode,
    pub commands: Vec<Command>,
}

/// A block that shows a file of the repository (```` ```ini file=contrib/clambake.service ````).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlock {
    pub line: usize,
    pub path: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Blocks {
    pub console: Vec<ConsoleBlock>,
    pub files: Vec<FileBlock>,
}

/// The blocks of `markdown`, in order; a malformed one is an error naming its line.
pub fn blocks(markdown: &str) -> Result<Blocks, String> {
    let mut found = Blocks::default();
    let mut open: Option<(usize, String, String)> = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        let line = markdown[..range.start].lines().count() + 1;
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                open = Some((line, info.to_string(), String::new()));
            }
            Event::Text(text) => {
                if let Some((_, _, body)) = open.as_mut() {
                    body.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some((line, info, body)) = open.take() else {
                    continue;
                };
                let mut words = info.split_whitespace();
                let language = words.next().unwrap_or("");
                let attributes: Vec<&str> = words.collect();
                if language == "console" {
                    found.console.push(ConsoleBlock {
                        line,
                        mode: mode(&attributes).map_err(|e| format!("line {line}: {e}"))?,
                        commands: commands(line, &body)?,
                    });
                } else if let Some(path) = attributes.iter().find_map(|a| a.strip_prefix("file=")) {
                    found.files.push(FileBlock {
                        line,
                        path: path.to_owned(),
                        text: body,
                    });
                } else if language == "sh" || language == "bash" {
                    return Err(format!(
                        "line {line}: commands go in ```console blocks (with `$ `), so that they run"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

fn mode(attributes: &[&str]) -> Result<Mode, String> {
    match attributes {
        [] => Ok(Mode::Run { exit: 0 }),
        ["background"] => Ok(Mode::Background),
        [one] => {
            if let Some(code) = one.strip_prefix("exit=") {
                let exit = code
                    .parse()
                    .map_err(|_| format!("`{one}`: not an exit code"))?;
                Ok(Mode::Run { exit })
            } else if let Some(why) = one.strip_prefix("no-run=").filter(|w| !w.is_empty()) {
                Ok(Mode::NoRun {
                    why: why.to_owned(),
                })
            } else {
                Err(format!(
                    "`{one}`: expected exit=N, background or no-run=WHY"
                ))
            }
        }
        _ => Err(format!("`{}`: one attribute at most", attributes.join(" "))),
    }
}

fn commands(block_line: usize, body: &str) -> Result<Vec<Command>, String> {
    let mut commands: Vec<Command> = Vec::new();
    let mut continued = false;
    for (offset, raw) in body.lines().enumerate() {
        let line = block_line + 1 + offset;
        if continued {
            let command = commands.last_mut().expect("a continued command");
            command.text.push('\n');
            command.text.push_str(raw);
            continued = raw.ends_with('\\');
        } else if let Some(text) = raw.strip_prefix("$ ") {
            commands.push(Command {
                line,
                text: text.to_owned(),
                shown: Vec::new(),
            });
            continued = raw.ends_with('\\');
        } else if !raw.trim().is_empty() {
            let Some(command) = commands.last_mut() else {
                return Err(format!("line {line}: output before any `$ ` command"));
            };
            command.shown.push(raw.trim().to_owned());
        }
    }
    if commands.is_empty() {
        return Err(format!(
            "line {block_line}: a console block without a `$ ` command"
        ));
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_blocks_give_their_commands_output_and_mode() {
        let markdown = "# T\n\n```console\n$ clambake status\nready: none\n$ git log \\\n  --oneline\n```\n\n\
                        ```console exit=1\n$ clambake agent validate\n```\n\n\
                        ```console no-run=systemd\n$ systemctl status clambake\n```\n\n\
                        ```ini file=contrib/x.service\n[Unit]\n```\n\n```toml\n[a]\n```\n";
        let found = blocks(markdown).unwrap();
        assert_eq!(found.console.len(), 3);
        let first = &found.console[0];
        assert_eq!((first.line, &first.mode), (3, &Mode::Run { exit: 0 }));
        assert_eq!(first.commands[0].text, "clambake status");
        assert_eq!(first.commands[0].line, 4);
        assert_eq!(first.commands[0].shown, vec!["ready: none"]);
        assert_eq!(first.commands[1].text, "git log \\\n  --oneline");
        assert!(first.commands[1].shown.is_empty());
        assert_eq!(found.console[1].mode, Mode::Run { exit: 1 });
        assert_eq!(
            found.console[2].mode,
            Mode::NoRun {
                why: "systemd".into()
            }
        );
        assert_eq!(found.files[0].path, "contrib/x.service");
        assert_eq!(found.files[0].text, "[Unit]\n");
    }

    #[test]
    fn malformed_blocks_are_refused_with_their_line() {
        let refused = |markdown: &str| blocks(markdown).unwrap_err();
        assert!(refused("```console\nready\n```\n").contains("line 2: output before"));
        assert!(refused("```console\n```\n").contains("without a `$ ` command"));
        assert!(refused("```console later\n$ ls\n```\n").contains("expected exit=N"));
        assert!(refused("```console exit=x\n$ ls\n```\n").contains("not an exit code"));
        assert!(refused("\n```sh\nls\n```\n").contains("line 2: commands go in ```console"));
    }
}

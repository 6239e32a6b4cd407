//! The files a step writes to talk to the runner: `$GITHUB_ENV` and `$GITHUB_OUTPUT` in
//! GitHub's `NAME=value` / `NAME<<DELIMITER` format, `$GITHUB_PATH` one directory a line.

/// The `NAME=value` pairs of an environment or output file, in order, or why it is malformed.
pub fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let heredoc = line
            .find("<<")
            .filter(|at| line.find('=').is_none_or(|eq| *at < eq));
        if let Some(at) = heredoc {
            let (name, delimiter) = (&line[..at], &line[at + 2..]);
            let mut value = Vec::new();
            loop {
                match lines.next() {
                    Some(line) if line == delimiter => break,
                    Some(line) => value.push(line),
                    None => return Err(format!("`{name}<<{delimiter}` is never closed")),
                }
            }
            pairs.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            pairs.push((name.to_string(), value.to_string()));
        } else {
            return Err(format!("not `NAME=value`: `{line}`"));
        }
    }
    Ok(pairs)
}

/// The directories of a `$GITHUB_PATH` file, in the order written.
pub fn paths(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_multiline_values() {
        let text = "A=1\nB=x=y\n\nNOTES<<EOF\nline one\nline two\nEOF\nC=\n";
        assert_eq!(
            pairs(text).unwrap(),
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "x=y".to_string()),
                ("NOTES".to_string(), "line one\nline two".to_string()),
                ("C".to_string(), String::new()),
            ]
        );
        assert!(pairs("X<<EOF\nnever closed\n").is_err());
        assert!(pairs("no equals sign\n").is_err());
    }
}

//! Matches a request path against the description's path templates.
//!
//! A `{parameter}` matches one path segment, unless the description marks the parameter
//! `x-multi-segment` (GitHub's git refs, `heads/feature-a`), when it takes the rest of the
//! path slashes and all. Values are percent-decoded after matching, so an encoded `%2F`
//! stays inside its segment.

use percent_encoding::percent_decode_str;
use regex::Regex;

/// One path template, compiled.
#[derive(Debug)]
pub struct Route {
    pub template: String,
    regex: Regex,
    names: Vec<String>,
    /// Characters outside parameters: the more, the more specific the template.
    literal_len: usize,
}

impl Route {
    /// Compiles `template`; `multi_segment` says which parameters may span segments.
    pub fn new(template: &str, multi_segment: impl Fn(&str) -> bool) -> Route {
        let mut pattern = String::from("^");
        let mut names = Vec::new();
        let mut literal_len = 0;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = open + rest[open..].find('}').unwrap_or(rest.len() - open);
            pattern.push_str(&regex::escape(&rest[..open]));
            literal_len += open;
            let name = &rest[open + 1..close];
            pattern.push_str(if multi_segment(name) {
                "(.+)"
            } else {
                "([^/]+?)"
            });
            names.push(name.to_string());
            rest = rest.get(close + 1..).unwrap_or("");
        }
        pattern.push_str(&regex::escape(rest));
        pattern.push('$');
        literal_len += rest.len();
        Route {
            template: template.to_string(),
            regex: Regex::new(&pattern).expect("an escaped template is a valid regex"),
            names,
            literal_len,
        }
    }

    /// The template's parameters, each with its raw (still percent-encoded) value.
    fn captures(&self, path: &str) -> Option<Vec<(String, String)>> {
        let captures = self.regex.captures(path)?;
        Some(
            self.names
                .iter()
                .zip(captures.iter().skip(1))
                .map(|(name, value)| (name.clone(), value.map_or("", |m| m.as_str()).to_string()))
                .collect(),
        )
    }
}

/// A path's match: the route and its parameters.
pub struct Match<'r> {
    pub route: &'r Route,
    pub raw_params: Vec<(String, String)>,
}

/// Every route matching `path`, the most specific (most literal characters) first.
pub fn matches<'r>(routes: &'r [Route], path: &str) -> Vec<Match<'r>> {
    let mut found: Vec<Match> = routes
        .iter()
        .filter_map(|route| {
            route
                .captures(path)
                .map(|raw_params| Match { route, raw_params })
        })
        .collect();
    found.sort_by_key(|found| std::cmp::Reverse(found.route.literal_len));
    found
}

/// A raw parameter value, percent-decoded; `None` when the bytes are not UTF-8.
pub fn decode(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(template: &str) -> Route {
        Route::new(template, |name| name == "ref")
    }

    #[test]
    fn a_parameter_takes_one_segment() {
        let issue = route("/repos/{owner}/{repo}/issues/{issue_number}");
        assert_eq!(
            issue.captures("/repos/o/r/issues/7"),
            Some(vec![
                ("owner".into(), "o".into()),
                ("repo".into(), "r".into()),
                ("issue_number".into(), "7".into())
            ])
        );
        assert_eq!(issue.captures("/repos/o/r/issues/7/labels"), None);
        assert_eq!(issue.captures("/repos/o/r/issues/"), None);
    }

    #[test]
    fn a_multi_segment_parameter_takes_slashes() {
        let git_ref = route("/repos/{owner}/{repo}/git/ref/{ref}");
        let captured = git_ref
            .captures("/repos/o/r/git/ref/heads/feature/a")
            .expect("matches");
        assert_eq!(captured[2], ("ref".into(), "heads/feature/a".into()));
    }

    #[test]
    fn two_parameters_share_a_segment() {
        let compare = route("/repos/{owner}/{repo}/compare/{base}...{head}");
        let captured = compare
            .captures("/repos/o/r/compare/main...feature%2Fx")
            .expect("matches");
        assert_eq!(
            captured[2..],
            [
                ("base".into(), "main".into()),
                ("head".into(), "feature%2Fx".into())
            ]
        );
        assert_eq!(decode(&captured[3].1).as_deref(), Some("feature/x"));
    }

    #[test]
    fn the_most_specific_template_comes_first() {
        let routes = [
            route("/repos/{owner}/{repo}"),
            route("/repos/{owner}/hello"),
        ];
        let found = matches(&routes, "/repos/o/hello");
        assert_eq!(found[0].route.template, "/repos/{owner}/hello");
        assert_eq!(found.len(), 2);
    }
}

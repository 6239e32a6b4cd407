//! Checks of one value against single keywords: string lengths, `enum`, `pattern`,
//! `format`, numeric bounds and item counts.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use openapiv3::{StringFormat, StringType, VariantOrUnknownOrEmpty};
use regex::Regex;
use serde_json::Value;

use super::schema::{Violation, at};

pub fn check_string(string: &StringType, text: &str, pointer: &str) -> Vec<Violation> {
    let mut found = check_count(
        text.chars().count(),
        string.min_length,
        string.max_length,
        "characters",
        pointer,
    );
    if !string.enumeration.is_empty()
        && !string
            .enumeration
            .iter()
            .flatten()
            .any(|allowed| allowed == text)
    {
        let allowed: Vec<&str> = string
            .enumeration
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        found.push(at(pointer, format!("{text:?} is not one of {allowed:?}")));
    }
    if let Some(pattern) = &string.pattern {
        match pattern_matches(pattern, text) {
            Ok(true) => {}
            Ok(false) => found.push(at(
                pointer,
                format!("{text:?} does not match the pattern {pattern:?}"),
            )),
            Err(error) => found.push(at(
                pointer,
                format!("the description's pattern {pattern:?} does not compile: {error}"),
            )),
        }
    }
    let format_ok = match &string.format {
        VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => looks_like_date_time(text),
        VariantOrUnknownOrEmpty::Unknown(format) if format == "uri" => looks_like_uri(text),
        _ => true,
    };
    if !format_ok {
        found.push(at(
            pointer,
            format!("{text:?} is not in the declared format"),
        ));
    }
    found
}

/// Whether `text` matches `pattern`; compiled patterns are kept, as the same few recur.
fn pattern_matches(pattern: &str, text: &str) -> Result<bool, regex::Error> {
    static COMPILED: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut compiled = COMPILED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(regex) = compiled.get(pattern) {
        return Ok(regex.is_match(text));
    }
    let regex = Regex::new(pattern)?;
    let matches = regex.is_match(text);
    compiled.insert(pattern.to_string(), regex);
    Ok(matches)
}

/// RFC 3339, as GitHub writes it (`2011-01-26T19:01:12Z`), fractions and offsets allowed.
fn looks_like_date_time(text: &str) -> bool {
    static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            .expect("valid regex")
    });
    DATE_TIME.is_match(text)
}

/// A scheme followed by something; GitHub's URIs are absolute.
fn looks_like_uri(text: &str) -> bool {
    static URI: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$").expect("valid regex"));
    URI.is_match(text)
}

pub fn check_bounds(
    n: f64,
    min: Option<f64>,
    max: Option<f64>,
    exclusive_min: bool,
    exclusive_max: bool,
    pointer: &str,
) -> Vec<Violation> {
    let mut found = Vec::new();
    if let Some(min) = min
        && (n < min || (exclusive_min && n == min))
    {
        found.push(at(pointer, format!("{n} is below the minimum {min}")));
    }
    if let Some(max) = max
        && (n > max || (exclusive_max && n == max))
    {
        found.push(at(pointer, format!("{n} is above the maximum {max}")));
    }
    found
}

pub fn check_count(
    count: usize,
    min: Option<usize>,
    max: Option<usize>,
    what: &str,
    pointer: &str,
) -> Vec<Violation> {
    match (min, max) {
        (Some(min), _) if count < min => {
            vec![at(pointer, format!("has {count} {what}, fewer than {min}"))]
        }
        (_, Some(max)) if count > max => {
            vec![at(pointer, format!("has {count} {what}, more than {max}"))]
        }
        _ => Vec::new(),
    }
}

pub fn check_enum(enumeration: &[Value], value: &Value, pointer: &str) -> Vec<Violation> {
    let allowed = || enumeration.iter().filter(|v| !v.is_null());
    if allowed().next().is_none() || allowed().any(|v| same_value(v, value)) {
        return Vec::new();
    }
    let listed: Vec<String> = allowed().map(Value::to_string).collect();
    vec![at(
        pointer,
        format!("{value} is not one of [{}]", listed.join(", ")),
    )]
}

/// Equality that sees `1` and `1.0` as the same number.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

pub fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].iter().any(|b| same_value(a, b)))
}

/// An integer, also when JSON writes it with a zero fraction (`3.0`).
pub fn as_integer(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
        .map(|n| n as i64)
}

pub fn has_type(typ: &str, value: &Value) -> bool {
    match typ {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => as_integer(value).is_some(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    }
}

/// The JSON type of a value, as the violation messages name it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

//! The functions an expression may call; any other is an error naming it.

use serde_json::Value;

use super::parse::{Expr, number};
use super::{Scope, Status, compare, to_text};

pub fn call(scope: &Scope, name: &str, args: &[Expr]) -> Result<Value, String> {
    let lower = name.to_lowercase();
    let arity = |min: usize, max: usize| {
        if args.len() < min || args.len() > max {
            Err(format!(
                "{name}() takes {min} to {max} arguments, not {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    match lower.as_str() {
        "always" | "success" | "failure" | "cancelled" => {
            arity(0, 0)?;
            let status = match lower.as_str() {
                "always" => return Ok(Value::Bool(true)),
                "success" => Status::Success,
                "failure" => Status::Failure,
                _ => Status::Cancelled,
            };
            return Ok(Value::Bool(scope.status == status));
        }
        "contains" | "startswith" | "endswith" | "format" | "join" | "tojson" | "fromjson" => {}
        _ => {
            return Err(format!(
                "the function {name}() is not emulated by the fake's runner"
            ));
        }
    }
    let values = args
        .iter()
        .map(|arg| scope.eval(arg))
        .collect::<Result<Vec<_>, _>>()?;
    match lower.as_str() {
        "contains" => {
            arity(2, 2)?;
            Ok(Value::Bool(match &values[0] {
                Value::Array(items) => items
                    .iter()
                    .any(|item| compare(super::Op::Eq, item, &values[1])),
                haystack => to_text(haystack)
                    .to_lowercase()
                    .contains(&to_text(&values[1]).to_lowercase()),
            }))
        }
        "startswith" | "endswith" => {
            arity(2, 2)?;
            let (text, affix) = (
                to_text(&values[0]).to_lowercase(),
                to_text(&values[1]).to_lowercase(),
            );
            Ok(Value::Bool(if lower == "startswith" {
                text.starts_with(&affix)
            } else {
                text.ends_with(&affix)
            }))
        }
        "format" => {
            arity(1, usize::MAX)?;
            format(&to_text(&values[0]), &values[1..]).map(Value::String)
        }
        "join" => {
            arity(1, 2)?;
            let separator = values.get(1).map_or(",".to_string(), to_text);
            Ok(Value::String(match &values[0] {
                Value::Array(items) => items
                    .iter()
                    .map(to_text)
                    .collect::<Vec<_>>()
                    .join(&separator),
                other => to_text(other),
            }))
        }
        "tojson" => {
            arity(1, 1)?;
            Ok(Value::String(to_json(&values[0])))
        }
        _ => {
            arity(1, 1)?;
            let text = to_text(&values[0]);
            serde_json::from_str(&text).map_err(|error| format!("fromJSON('{text}'): {error}"))
        }
    }
}

/// `format('{0} {1}', a, b)`, where `{{` and `}}` stand for braces.
fn format(template: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let index: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let arg = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| args.get(i))
                    .ok_or_else(|| format!("format('{template}'): no argument {{{index}}}"))?;
                out.push_str(&to_text(arg));
            }
            '}' => return Err(format!("format('{template}'): a lone `}}`")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `toJSON()`: pretty-printed with two spaces, as GitHub prints it.
pub fn to_json(value: &Value) -> String {
    let normalised = normalise_numbers(value);
    serde_json::to_string_pretty(&normalised).unwrap_or_default()
}

/// Whole numbers printed without a fraction (`1`, not `1.0`), as GitHub prints them.
fn normalise_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(f as i64),
            Some(f) => number(f),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalise_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalise_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

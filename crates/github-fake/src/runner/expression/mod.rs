//! GitHub Actions expressions: `${{ }}` templates, `if:` conditions, and the values they
//! evaluate to, with GitHub's loose equality and truthiness. What cannot be evaluated is an
//! error naming it, never an empty string: a workflow the fake does not understand must fail.

mod functions;
mod parse;

use serde_json::{Map, Value};

use parse::{Expr, Op};

/// How the job stands, for the status functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Cancelled,
}

/// What an expression can see.
pub struct Scope<'a> {
    /// The contexts by name: `github`, `inputs`, `env`, `secrets`, ...
    pub contexts: &'a Map<String, Value>,
    pub status: Status,
}

/// Objects whose every property is known to the fake: naming one it lacks is drift (an input
/// the workflow does not declare, a `github` property the fake does not emulate), so an error.
const STRICT: &[&str] = &[
    "github",
    "github.event",
    "github.event.inputs",
    "inputs",
    "runner",
];

/// Evaluates one expression (without `${{ }}`).
pub fn evaluate(text: &str, scope: &Scope) -> Result<Value, String> {
    let expr = parse::parse(text)?;
    scope.eval(&expr)
}

/// Replaces every `${{ ... }}` in `template` with its value as text.
pub fn expand(template: &str, scope: &Scope) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let inner = &rest[start + 3..];
        let end = closing(inner).ok_or_else(|| format!("unclosed `${{{{` in `{template}`"))?;
        let value = evaluate(&inner[..end], scope)
            .map_err(|error| format!("`${{{{{}}}}}`: {error}", &inner[..end]))?;
        out.push_str(&template_text(&value));
        rest = &inner[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Evaluates an `if:` condition: with or without `${{ }}`, read as `success() && (...)`
/// unless it calls a status function itself.
pub fn condition(text: &str, scope: &Scope) -> Result<bool, String> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix("${{") {
        Some(rest) if closing(rest) == Some(rest.len() - 2) => &rest[..rest.len() - 2],
        _ => trimmed,
    };
    let expr = parse::parse(inner).map_err(|error| format!("`if: {text}`: {error}"))?;
    let value = scope
        .eval(&expr)
        .map_err(|error| format!("`if: {text}`: {error}"))?;
    if expr.calls_status_function() {
        Ok(truthy(&value))
    } else {
        Ok(scope.status == Status::Success && truthy(&value))
    }
}

/// Where the `}}` closing an expression stands in `text`, outside string literals.
fn closing(text: &str) -> Option<usize> {
    let mut in_string = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

impl Scope<'_> {
    fn eval(&self, expr: &Expr) -> Result<Value, String> {
        match expr {
            Expr::Literal(value) => Ok(value.clone()),
            Expr::Context(name) => lookup(self.contexts, name)
                .cloned()
                .ok_or_else(|| format!("unknown context `{name}`")),
            Expr::Property(base, name) => {
                let object = self.eval(base)?;
                self.property(base, &object, name)
            }
            Expr::Index(base, index) => {
                let object = self.eval(base)?;
                match (&object, self.eval(index)?) {
                    (Value::Array(items), index) => {
                        let at = to_number(&index);
                        Ok(if at >= 0.0 && at.fract() == 0.0 {
                            items.get(at as usize).cloned().unwrap_or(Value::Null)
                        } else {
                            Value::Null
                        })
                    }
                    (_, index) => self.property(base, &object, &to_text(&index)),
                }
            }
            Expr::Star(base) => Ok(match self.eval(base)? {
                Value::Array(items) => Value::Array(items),
                Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
                _ => Value::Array(Vec::new()),
            }),
            Expr::Call(name, args) => functions::call(self, name, args),
            Expr::Not(inner) => Ok(Value::Bool(!truthy(&self.eval(inner)?))),
            Expr::Binary(Op::Or, left, right) => {
                let left = self.eval(left)?;
                if truthy(&left) {
                    Ok(left)
                } else {
                    self.eval(right)
                }
            }
            Expr::Binary(Op::And, left, right) => {
                let left = self.eval(left)?;
                if truthy(&left) {
                    self.eval(right)
                } else {
                    Ok(left)
                }
            }
            Expr::Binary(op, left, right) => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                Ok(Value::Bool(compare(*op, &left, &right)))
            }
        }
    }

    /// `object.name`: null where there is no such property, unless `base` is a strict object.
    fn property(&self, base: &Expr, object: &Value, name: &str) -> Result<Value, String> {
        let Value::Object(map) = object else {
            return Ok(Value::Null);
        };
        if let Some(value) = lookup(map, name) {
            return Ok(value.clone());
        }
        match path(base) {
            Some(path)
                if STRICT
                    .iter()
                    .any(|strict| strict.eq_ignore_ascii_case(&path)) =>
            {
                Err(format!("`{path}.{name}` is not known to the fake's runner"))
            }
            _ => Ok(Value::Null),
        }
    }
}

/// A property by name, as GitHub looks them up: ignoring case.
fn lookup<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The dotted path of a chain of plain properties from a context, e.g. `github.event`.
fn path(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Context(name) => Some(name.to_lowercase()),
        Expr::Property(base, name) => Some(format!("{}.{}", path(base)?, name.to_lowercase())),
        _ => None,
    }
}

fn compare(op: Op, left: &Value, right: &Value) -> bool {
    let ordering = match (left, right) {
        (Value::String(a), Value::String(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => None,
        _ => to_number(left).partial_cmp(&to_number(right)),
    };
    match (op, ordering) {
        (Op::Ne, ordering) => ordering != Some(std::cmp::Ordering::Equal),
        (_, None) => false,
        (Op::Eq, Some(ordering)) => ordering.is_eq(),
        (Op::Lt, Some(ordering)) => ordering.is_lt(),
        (Op::Le, Some(ordering)) => ordering.is_le(),
        (Op::Gt, Some(ordering)) => ordering.is_gt(),
        (Op::Ge, Some(ordering)) => ordering.is_ge(),
        (Op::Or | Op::And, _) => unreachable!("logical operators short-circuit before comparing"),
    }
}

/// GitHub's truthiness: false, 0, NaN, '' and null are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// GitHub's coercion to a number, for comparisons between different types.
fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                0.0
            } else if let Some(hex) = s.strip_prefix("0x") {
                i64::from_str_radix(hex, 16).map_or(f64::NAN, |n| n as f64)
            } else {
                s.parse().unwrap_or(f64::NAN)
            }
        }
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

/// A value as text, as functions such as `format()` and `contains()` see it.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Some(f) => f.to_string(),
            None => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(_) => "Array".to_string(),
        Value::Object(_) => "Object".to_string(),
    }
}

/// A value as a `${{ }}` template writes it: objects and arrays as JSON.
fn template_text(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => functions::to_json(value),
        other => to_text(other),
    }
}

#[cfg(test)]
mod tests;

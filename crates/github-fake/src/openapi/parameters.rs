//! Checks an operation's path and query parameters: each value, read from its text by the
//! parameter's schema (`7` as an integer, `true` as a boolean), must satisfy that schema;
//! query parameters the operation does not declare, repeated ones and missing required ones
//! are violations too.
//!
//! GitHub states some bounds in prose only (`per_page`: "The number of results per page
//! (max 100)"), so a "(max N)" in a parameter's description bounds it as a `maximum` would.

use std::sync::LazyLock;

use openapiv3::{
    Parameter, ParameterData, ParameterSchemaOrContent, ReferenceOr, Schema, SchemaKind, Type,
};
use regex::Regex;
use serde_json::Value;

use super::schema::{Checker, Violation};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Other,
}

/// A parameter, with its reference resolved.
pub struct Declared<'a> {
    pub location: Location,
    pub data: &'a ParameterData,
}

impl<'a> Declared<'a> {
    pub fn new(parameter: &'a Parameter) -> Declared<'a> {
        let location = match parameter {
            Parameter::Path { .. } => Location::Path,
            Parameter::Query { .. } => Location::Query,
            Parameter::Header { .. } | Parameter::Cookie { .. } => Location::Other,
        };
        Declared {
            location,
            data: parameter.parameter_data_ref(),
        }
    }

    fn schema(&self) -> Option<&'a ReferenceOr<Schema>> {
        match &self.data.format {
            ParameterSchemaOrContent::Schema(schema) => Some(schema),
            ParameterSchemaOrContent::Content(_) => None,
        }
    }

    /// Whether GitHub lets this path parameter span segments.
    pub fn multi_segment(&self) -> bool {
        self.data.extensions.get("x-multi-segment") == Some(&Value::Bool(true))
    }
}

/// Checks the decoded path parameters and the raw query string of operation `id`.
pub fn check(
    checker: &Checker,
    id: &str,
    declared: &[Declared],
    path_params: &[(String, String)],
    query: Option<&str>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in path_params {
        let context = format!("{id} path parameter `{name}`");
        match declared
            .iter()
            .find(|p| p.location == Location::Path && &p.data.name == name)
        {
            Some(parameter) => {
                found.extend(check_value(checker, parameter, &[value.as_str()], &context))
            }
            None => found.push(format!("{context}: not declared by the operation")),
        }
    }

    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &pairs {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let context = format!("{id} query parameter `{name}`");
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        match declared
            .iter()
            .find(|p| p.location == Location::Query && &p.data.name == name)
        {
            Some(parameter) => found.extend(check_value(checker, parameter, &values, &context)),
            None => found.push(format!("{context}: unknown parameter")),
        }
    }
    for parameter in declared
        .iter()
        .filter(|p| p.location == Location::Query && p.data.required)
    {
        if !seen.contains(&parameter.data.name.as_str()) {
            found.push(format!(
                "{id} query parameter `{}`: required but missing",
                parameter.data.name
            ));
        }
    }
    found
}

/// Checks one parameter's value (or, for an array, values) against its schema.
fn check_value(
    checker: &Checker,
    parameter: &Declared,
    texts: &[&str],
    context: &str,
) -> Vec<String> {
    if takes_date_qualifier(parameter.data) {
        return match texts {
            [single] if is_date_qualifier(single) => Vec::new(),
            _ => vec![format!(
                "{context}: {texts:?} is not a date qualifier of GitHub's search syntax"
            )],
        };
    }
    let Some(schema) = parameter.schema() else {
        return Vec::new();
    };
    let resolved = match checker.resolve(schema, "") {
        Ok(resolved) => resolved,
        Err(violation) => return vec![format!("{context}: {}", violation.message)],
    };
    let value = match (&resolved.schema_kind, texts) {
        (SchemaKind::Type(Type::Array(array)), _) => {
            let item = array.items.as_ref().and_then(|items| match items {
                ReferenceOr::Item(item) => Some(&**item),
                ReferenceOr::Reference { reference } => checker.document.schema(reference).ok(),
            });
            let texts: Vec<&str> = match texts {
                [single] => single.split(',').collect(),
                several => several.to_vec(),
            };
            Value::Array(texts.into_iter().map(|text| typed(item, text)).collect())
        }
        (_, [single]) => typed(Some(resolved), single),
        (_, several) => {
            return vec![format!(
                "{context}: given {} times, but takes one value",
                several.len()
            )];
        }
    };
    let mut found: Vec<String> = checker
        .check(schema, &value, "")
        .iter()
        .map(|v| describe(context, v))
        .collect();
    if let (Some(max), Some(n)) = (prose_maximum(parameter.data), value.as_i64())
        && n > max
    {
        found.push(format!(
            "{context}: {n} is above the maximum {max} its description states"
        ));
    }
    found
}

/// The value a parameter's text stands for under `schema`: a number where the schema wants
/// one and the text is one, else the text as a string (which the schema check then rejects).
fn typed(schema: Option<&Schema>, text: &str) -> Value {
    let kind = schema.map(|schema| &schema.schema_kind);
    let parsed = match kind {
        Some(SchemaKind::Type(Type::Integer(_))) => text.parse::<i64>().ok().map(Value::from),
        Some(SchemaKind::Type(Type::Number(_))) => text.parse::<f64>().ok().map(Value::from),
        Some(SchemaKind::Type(Type::Boolean(_))) => text.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

/// A bound GitHub states in the parameter's description as "(max N)".
fn prose_maximum(data: &ParameterData) -> Option<i64> {
    static MAX: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\(max (\d+)\)").expect("valid regex"));
    MAX.captures(data.description.as_deref()?)?[1].parse().ok()
}

/// Whether the parameter's description sends the reader to GitHub's search syntax for dates
/// (`created` of the run listings): it takes a qualifier such as `>=2026-01-31` or
/// `2026-01-01..2026-01-31`, which the schema's bare `date-time` does not describe.
fn takes_date_qualifier(data: &ParameterData) -> bool {
    data.description
        .as_deref()
        .is_some_and(|description| description.contains("#query-for-dates"))
}

/// `DATE`, `>DATE`, `>=DATE`, `<DATE`, `<=DATE` or `FROM..TO` (an end may be `*`), a date
/// being a day or a time of one.
fn is_date_qualifier(text: &str) -> bool {
    static QUALIFIER: LazyLock<Regex> = LazyLock::new(|| {
        let date = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?";
        Regex::new(&format!(
            r"^((>=|<=|>|<)?{date}|({date}|\*)\.\.({date}|\*))$"
        ))
        .expect("valid regex")
    });
    QUALIFIER.is_match(text)
}

fn describe(context: &str, violation: &Violation) -> String {
    match violation.pointer.is_empty() {
        true => format!("{context}: {}", violation.message),
        false => format!("{context}: {}", violation.render()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Spec;

    /// A one-operation description whose query takes a required `q`, a list of integers
    /// and a boolean.
    fn spec() -> Spec {
        let document = json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/search": {"get": {
                "operationId": "search",
                "parameters": [
                    {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}},
                    {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}},
                    {"name": "exact", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {"200": {"description": "ok"}},
            }}},
        });
        Spec::parse(&document.to_string()).expect("parses")
    }

    #[test]
    fn query_values_are_read_by_their_schema() {
        let spec = spec();
        assert!(
            spec.check_request("GET", "/search", Some("q=a+b&ids=1,2&exact=true"), None)
                .is_ok()
        );
        assert!(
            spec.check_request("GET", "/search", Some("q=a&ids=1&ids=2"), None)
                .is_ok()
        );
        let bad = spec.check_request("GET", "/search", Some("ids=1,x&exact=yes"), None);
        assert_eq!(
            bad.unwrap_err(),
            [
                "search query parameter `ids`: /1: expected integer, got string",
                "search query parameter `exact`: expected boolean, got string",
                "search query parameter `q`: required but missing",
            ]
        );
    }

    #[test]
    fn created_takes_githubs_date_qualifiers() {
        let check = |query: &str| {
            Spec::github().check_request("GET", "/repos/o/r/actions/runs", Some(query), None)
        };
        for good in [
            "created=2026-01-31",
            "created=%3E%3D2026-01-31T10:00:00Z",
            "created=2026-01-01..*",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        assert_eq!(
            check("created=soon").unwrap_err(),
            [
                "actions/list-workflow-runs-for-repo query parameter `created`: [\"soon\"] is not a date qualifier of GitHub's search syntax"
            ]
        );
    }
}

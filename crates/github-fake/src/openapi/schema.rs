//! Checks a JSON value against an OpenAPI 3.0 schema, collecting every violation with the
//! JSON pointer of the value at fault.
//!
//! Follows GitHub's description as it is, not as a strict reading of the standard would:
//! `oneOf` passes when at least one alternative matches (GitHub's alternatives overlap, e.g.
//! objects without `additionalProperties: false`), `discriminator` is ignored (every
//! alternative is tried anyway), `format` is checked loosely for `date-time` and `uri` only,
//! and an `enum` listing `null` admits null.

use indexmap::IndexMap;
use openapiv3::{
    AdditionalProperties, AnySchema, ArrayType, ObjectType, ReferenceOr, Schema, SchemaKind,
    StringType, Type, VariantOrUnknownOrEmpty,
};
use serde_json::{Map, Value};

use super::Document;
use super::keywords::{
    as_integer, check_bounds, check_count, check_enum, check_string, has_duplicates, has_type,
    type_name,
};

/// One violation: where in the checked value, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// A JSON pointer (RFC 6901) into the checked value; empty for the value itself.
    pub pointer: String,
    pub message: String,
}

impl Violation {
    /// `"<pointer>: <message>"`, the root written as `/`.
    pub fn render(&self) -> String {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        format!("{pointer}: {}", self.message)
    }
}

/// Checks values against the schemas of one document, resolving `$ref`s within it.
pub struct Checker<'a> {
    pub document: &'a Document,
}

impl Checker<'_> {
    /// Every violation of `schema` by `value`, which sits at `pointer`.
    pub fn check(
        &self,
        schema: &ReferenceOr<Schema>,
        value: &Value,
        pointer: &str,
    ) -> Vec<Violation> {
        match self.resolve(schema, pointer) {
            Ok(schema) => self.check_schema(schema, value, pointer),
            Err(violation) => vec![violation],
        }
    }

    fn check_boxed(
        &self,
        schema: &ReferenceOr<Box<Schema>>,
        value: &Value,
        pointer: &str,
    ) -> Vec<Violation> {
        match schema {
            ReferenceOr::Item(schema) => self.check_schema(schema, value, pointer),
            ReferenceOr::Reference { reference } => match self.document.schema(reference) {
                Ok(schema) => self.check_schema(schema, value, pointer),
                Err(missing) => vec![dangling(&missing, pointer)],
            },
        }
    }

    /// The schema itself, or the one a `$ref` names.
    pub fn resolve<'s>(
        &'s self,
        schema: &'s ReferenceOr<Schema>,
        pointer: &str,
    ) -> Result<&'s Schema, Violation> {
        match schema {
            ReferenceOr::Item(schema) => Ok(schema),
            ReferenceOr::Reference { reference } => self
                .document
                .schema(reference)
                .map_err(|missing| dangling(&missing, pointer)),
        }
    }

    fn check_schema(&self, schema: &Schema, value: &Value, pointer: &str) -> Vec<Violation> {
        if value.is_null() && (schema.schema_data.nullable || admits_null(&schema.schema_kind)) {
            return Vec::new();
        }
        match &schema.schema_kind {
            SchemaKind::Type(typ) => self.check_type(typ, value, pointer),
            SchemaKind::OneOf { one_of } => {
                self.check_alternatives("oneOf", one_of, value, pointer)
            }
            SchemaKind::AnyOf { any_of } => {
                self.check_alternatives("anyOf", any_of, value, pointer)
            }
            SchemaKind::AllOf { all_of } => all_of
                .iter()
                .flat_map(|part| self.check(part, value, pointer))
                .collect(),
            SchemaKind::Not { not } => match self.check(not, value, pointer).is_empty() {
                true => vec![at(pointer, "matches a schema it must not match".into())],
                false => Vec::new(),
            },
            SchemaKind::Any(any) => self.check_any(any, value, pointer),
        }
    }

    fn check_type(&self, typ: &Type, value: &Value, pointer: &str) -> Vec<Violation> {
        match typ {
            Type::String(string) => match value.as_str() {
                Some(text) => check_string(string, text, pointer),
                None => vec![mismatch("string", value, pointer)],
            },
            Type::Number(number) => match value.as_f64() {
                Some(n) => {
                    let enumeration: Vec<Value> = number
                        .enumeration
                        .iter()
                        .flatten()
                        .map(|&n| n.into())
                        .collect();
                    let mut found = check_bounds(
                        n,
                        number.minimum,
                        number.maximum,
                        number.exclusive_minimum,
                        number.exclusive_maximum,
                        pointer,
                    );
                    found.extend(check_enum(&enumeration, value, pointer));
                    found
                }
                None => vec![mismatch("number", value, pointer)],
            },
            Type::Integer(integer) => match as_integer(value) {
                Some(n) => {
                    let enumeration: Vec<Value> = integer
                        .enumeration
                        .iter()
                        .flatten()
                        .map(|&n| n.into())
                        .collect();
                    let (min, max) = (
                        integer.minimum.map(|m| m as f64),
                        integer.maximum.map(|m| m as f64),
                    );
                    let mut found = check_bounds(
                        n as f64,
                        min,
                        max,
                        integer.exclusive_minimum,
                        integer.exclusive_maximum,
                        pointer,
                    );
                    found.extend(check_enum(&enumeration, &Value::from(n), pointer));
                    found
                }
                None => vec![mismatch("integer", value, pointer)],
            },
            Type::Boolean(boolean) => match value.as_bool() {
                Some(_) => {
                    let enumeration: Vec<Value> = boolean
                        .enumeration
                        .iter()
                        .flatten()
                        .map(|&b| b.into())
                        .collect();
                    check_enum(&enumeration, value, pointer)
                }
                None => vec![mismatch("boolean", value, pointer)],
            },
            Type::Object(object) => match value.as_object() {
                Some(map) => self.check_object(ObjectRules::from(object), map, pointer),
                None => vec![mismatch("object", value, pointer)],
            },
            Type::Array(array) => match value.as_array() {
                Some(items) => self.check_array(ArrayRules::from(array), items, pointer),
                None => vec![mismatch("array", value, pointer)],
            },
        }
    }

    fn check_object(
        &self,
        object: ObjectRules,
        map: &Map<String, Value>,
        pointer: &str,
    ) -> Vec<Violation> {
        let mut found = Vec::new();
        for name in object.required {
            if !map.contains_key(name) {
                found.push(at(pointer, format!("missing required property `{name}`")));
            }
        }
        for (name, value) in map {
            let inner = child(pointer, name);
            match (object.properties.get(name), object.additional_properties) {
                (Some(schema), _) => found.extend(self.check_boxed(schema, value, &inner)),
                (None, Some(AdditionalProperties::Any(false))) => {
                    found.push(at(pointer, format!("unknown property `{name}`")))
                }
                (None, Some(AdditionalProperties::Schema(schema))) => {
                    found.extend(self.check(schema, value, &inner))
                }
                (None, _) => {}
            }
        }
        let count = map.len();
        if object.min.is_some_and(|min| count < min) || object.max.is_some_and(|max| count > max) {
            found.push(at(
                pointer,
                format!("has {count} properties, outside the allowed range"),
            ));
        }
        found
    }

    fn check_array(&self, array: ArrayRules, items: &[Value], pointer: &str) -> Vec<Violation> {
        let mut found = check_count(items.len(), array.min, array.max, "items", pointer);
        if array.unique && has_duplicates(items) {
            found.push(at(pointer, "items are not unique".into()));
        }
        if let Some(schema) = array.items {
            for (index, item) in items.iter().enumerate() {
                found.extend(self.check_boxed(schema, item, &child(pointer, &index.to_string())));
            }
        }
        found
    }

    /// Passes when at least one alternative matches; otherwise reports the closest one.
    /// The closest is the one whose type fits, then the one with the fewest violations.
    fn check_alternatives(
        &self,
        keyword: &str,
        alternatives: &[ReferenceOr<Schema>],
        value: &Value,
        pointer: &str,
    ) -> Vec<Violation> {
        let distance = |found: &[Violation]| {
            let wrong_type = found
                .iter()
                .any(|v| v.pointer == pointer && v.message.starts_with("expected "));
            (wrong_type, found.len())
        };
        let mut closest: Option<Vec<Violation>> = None;
        for alternative in alternatives {
            let found = self.check(alternative, value, pointer);
            if found.is_empty() {
                return found;
            }
            if closest
                .as_ref()
                .is_none_or(|best| distance(&found) < distance(best))
            {
                closest = Some(found);
            }
        }
        let Some(closest) = closest else {
            return Vec::new();
        };
        let details: Vec<String> = closest.iter().map(Violation::render).collect();
        vec![at(
            pointer,
            format!(
                "matches no {keyword} alternative; the closest fails with: {}",
                details.join("; ")
            ),
        )]
    }

    /// A schema outside the predefined shapes: an object without `type`, a type mixed with
    /// `oneOf`, and so on. Each constraint present applies to the values it concerns.
    fn check_any(&self, any: &AnySchema, value: &Value, pointer: &str) -> Vec<Violation> {
        let mut found = Vec::new();
        if let Some(typ) = &any.typ
            && !has_type(typ, value)
        {
            return vec![mismatch(typ, value, pointer)];
        }
        match value {
            Value::String(text) => {
                let string = StringType {
                    format: any
                        .format
                        .as_deref()
                        .map_or(VariantOrUnknownOrEmpty::Empty, |f| {
                            f.parse().map_or_else(
                                |()| VariantOrUnknownOrEmpty::Unknown(f.to_string()),
                                VariantOrUnknownOrEmpty::Item,
                            )
                        }),
                    pattern: any.pattern.clone(),
                    enumeration: Vec::new(),
                    min_length: any.min_length,
                    max_length: any.max_length,
                };
                found.extend(check_string(&string, text, pointer));
            }
            Value::Number(number) => {
                let n = number.as_f64().unwrap_or(f64::NAN);
                let exclusive = (
                    any.exclusive_minimum.unwrap_or(false),
                    any.exclusive_maximum.unwrap_or(false),
                );
                found.extend(check_bounds(
                    n,
                    any.minimum,
                    any.maximum,
                    exclusive.0,
                    exclusive.1,
                    pointer,
                ));
            }
            Value::Object(map) => {
                found.extend(self.check_object(ObjectRules::from(any), map, pointer))
            }
            Value::Array(items) => {
                found.extend(self.check_array(ArrayRules::from(any), items, pointer))
            }
            Value::Null | Value::Bool(_) => {}
        }
        found.extend(check_enum(&any.enumeration, value, pointer));
        if !any.one_of.is_empty() {
            found.extend(self.check_alternatives("oneOf", &any.one_of, value, pointer));
        }
        if !any.any_of.is_empty() {
            found.extend(self.check_alternatives("anyOf", &any.any_of, value, pointer));
        }
        found.extend(
            any.all_of
                .iter()
                .flat_map(|part| self.check(part, value, pointer)),
        );
        if let Some(not) = &any.not
            && self.check(not, value, pointer).is_empty()
        {
            found.push(at(pointer, "matches a schema it must not match".into()));
        }
        found
    }
}

/// The keywords that constrain an object, from a typed or an untyped schema.
struct ObjectRules<'a> {
    properties: &'a IndexMap<String, ReferenceOr<Box<Schema>>>,
    required: &'a [String],
    additional_properties: Option<&'a AdditionalProperties>,
    min: Option<usize>,
    max: Option<usize>,
}

impl<'a> From<&'a ObjectType> for ObjectRules<'a> {
    fn from(object: &'a ObjectType) -> Self {
        ObjectRules {
            properties: &object.properties,
            required: &object.required,
            additional_properties: object.additional_properties.as_ref(),
            min: object.min_properties,
            max: object.max_properties,
        }
    }
}

impl<'a> From<&'a AnySchema> for ObjectRules<'a> {
    fn from(any: &'a AnySchema) -> Self {
        ObjectRules {
            properties: &any.properties,
            required: &any.required,
            additional_properties: any.additional_properties.as_ref(),
            min: any.min_properties,
            max: any.max_properties,
        }
    }
}

/// The keywords that constrain an array, from a typed or an untyped schema.
struct ArrayRules<'a> {
    items: Option<&'a ReferenceOr<Box<Schema>>>,
    min: Option<usize>,
    max: Option<usize>,
    unique: bool,
}

impl<'a> From<&'a ArrayType> for ArrayRules<'a> {
    fn from(array: &'a ArrayType) -> Self {
        ArrayRules {
            items: array.items.as_ref(),
            min: array.min_items,
            max: array.max_items,
            unique: array.unique_items,
        }
    }
}

impl<'a> From<&'a AnySchema> for ArrayRules<'a> {
    fn from(any: &'a AnySchema) -> Self {
        ArrayRules {
            items: any.items.as_ref(),
            min: any.min_items,
            max: any.max_items,
            unique: any.unique_items.unwrap_or(false),
        }
    }
}

/// Whether the schema's `enum` lists `null`, which GitHub writes instead of `nullable`.
fn admits_null(kind: &SchemaKind) -> bool {
    match kind {
        SchemaKind::Type(Type::String(string)) => string.enumeration.contains(&None),
        SchemaKind::Type(Type::Integer(integer)) => integer.enumeration.contains(&None),
        SchemaKind::Type(Type::Number(number)) => number.enumeration.contains(&None),
        SchemaKind::Type(Type::Boolean(boolean)) => boolean.enumeration.contains(&None),
        SchemaKind::Any(any) => any.enumeration.contains(&Value::Null),
        _ => false,
    }
}

fn mismatch(expected: &str, value: &Value, pointer: &str) -> Violation {
    at(
        pointer,
        format!("expected {expected}, got {}", type_name(value)),
    )
}

fn dangling(reference: &str, pointer: &str) -> Violation {
    at(
        pointer,
        format!("the description's $ref {reference:?} resolves to nothing"),
    )
}

pub fn at(pointer: &str, message: String) -> Violation {
    Violation {
        pointer: pointer.to_string(),
        message,
    }
}

/// The pointer to a member or item of the value at `pointer`.
pub fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Spec;
    use super::*;

    /// The rendered violations of `value` against `#/components/schemas/<name>` of a
    /// document holding `schemas`.
    fn violations(schemas: Value, name: &str, value: Value) -> Vec<String> {
        let document = json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
            "components": {"schemas": schemas},
        });
        let spec = Spec::parse(&document.to_string()).expect("parses");
        let schema = ReferenceOr::Reference {
            reference: format!("#/components/schemas/{name}"),
        };
        let found = spec.document.checker().check(&schema, &value, "");
        found.iter().map(Violation::render).collect()
    }

    fn one(schema: Value, value: Value) -> Vec<String> {
        violations(json!({"s": schema}), "s", value)
    }

    #[test]
    fn strings_check_length_pattern_enum_and_format() {
        let name = json!({"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"});
        assert_eq!(one(name.clone(), json!("abc")), Vec::<String>::new());
        assert_eq!(
            one(name.clone(), json!("abcde")),
            ["/: has 5 characters, more than 4"]
        );
        assert_eq!(
            one(name, json!("A1")),
            [r#"/: "A1" does not match the pattern "^[a-z]+$""#]
        );
        let state = json!({"type": "string", "enum": ["open", "closed", null]});
        assert_eq!(one(state.clone(), Value::Null), Vec::<String>::new());
        assert_eq!(
            one(state, json!("shut")),
            [r#"/: "shut" is not one of ["open", "closed"]"#]
        );
        let uri = json!({"type": "string", "format": "uri"});
        assert_eq!(
            one(uri.clone(), json!("https://github.com/o/r")),
            Vec::<String>::new()
        );
        assert_eq!(
            one(uri, json!("github.com/o/r")),
            [r#"/: "github.com/o/r" is not in the declared format"#]
        );
        let when = json!({"type": "string", "format": "date-time"});
        assert_eq!(
            one(when, json!("2024-05-01T10:00:00.123+02:00")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn numbers_check_type_and_bounds() {
        let count = json!({"type": "integer", "minimum": 1, "maximum": 100});
        assert_eq!(one(count.clone(), json!(3.0)), Vec::<String>::new());
        assert_eq!(
            one(count.clone(), json!(3.5)),
            ["/: expected integer, got number"]
        );
        assert_eq!(
            one(count.clone(), json!(0)),
            ["/: 0 is below the minimum 1"]
        );
        assert_eq!(one(count, json!(101)), ["/: 101 is above the maximum 100"]);
        let ratio = json!({"type": "number", "minimum": 0, "exclusiveMinimum": true});
        assert_eq!(one(ratio.clone(), json!(0.5)), Vec::<String>::new());
        assert_eq!(one(ratio, json!(0)), ["/: 0 is below the minimum 0"]);
    }

    #[test]
    fn objects_and_arrays_check_members_with_their_pointers() {
        let schemas = json!({
            "label": {"type": "object", "required": ["name"], "additionalProperties": false,
                      "properties": {"name": {"type": "string"}, "a/b": {"type": "boolean"}}},
            "labels": {"type": "array", "items": {"$ref": "#/components/schemas/label"}, "maxItems": 2, "uniqueItems": true},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        });
        let ok = json!([{"name": "bug"}, {"name": "ui", "a/b": true}]);
        assert_eq!(
            violations(schemas.clone(), "labels", ok),
            Vec::<String>::new()
        );
        let bad = json!([{"name": 1}, {"a/b": "yes", "colour": "red"}]);
        assert_eq!(
            violations(schemas.clone(), "labels", bad),
            [
                "/0/name: expected string, got number",
                "/1: missing required property `name`",
                "/1/a~1b: expected boolean, got string",
                "/1: unknown property `colour`",
            ]
        );
        let repeated = json!([{"name": "bug"}, {"name": "bug"}]);
        assert_eq!(
            violations(schemas.clone(), "labels", repeated),
            ["/: items are not unique"]
        );
        let three = json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]);
        assert_eq!(
            violations(schemas.clone(), "labels", three),
            ["/: has 3 items, more than 2"]
        );
        assert_eq!(
            violations(schemas, "counts", json!({"a": 1, "b": "2"})),
            ["/b: expected integer, got string"]
        );
    }

    #[test]
    fn compositions_and_nullable_follow_github_usage() {
        let schemas = json!({
            "user": {"type": "object", "required": ["login"], "properties": {"login": {"type": "string"}}},
            "nullable-user": {"type": "object", "nullable": true, "required": ["login"], "properties": {"login": {"type": "string"}}},
            "assignee": {"allOf": [{"$ref": "#/components/schemas/user"}], "nullable": true},
            "admin": {"allOf": [{"$ref": "#/components/schemas/user"}, {"type": "object", "required": ["admin"]}]},
            "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "not-zero": {"not": {"type": "integer", "enum": [0]}},
            "untyped": {"properties": {"login": {"type": "string"}}, "required": ["login"]},
            "either": {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        });
        let check = |name: &str, value: Value| violations(schemas.clone(), name, value);
        assert_eq!(check("nullable-user", Value::Null), Vec::<String>::new());
        assert_eq!(check("user", Value::Null), ["/: expected object, got null"]);
        assert_eq!(check("assignee", Value::Null), Vec::<String>::new());
        assert_eq!(
            check("assignee", json!({})),
            ["/: missing required property `login`"]
        );
        assert_eq!(
            check("admin", json!({"login": "o"})),
            ["/: missing required property `admin`"]
        );
        assert_eq!(check("id", json!(7)), Vec::<String>::new());
        let id = check("id", json!(true));
        assert_eq!(
            id,
            [
                "/: matches no anyOf alternative; the closest fails with: /: expected string, got boolean"
            ]
        );
        assert_eq!(check("not-zero", json!(1)), Vec::<String>::new());
        assert_eq!(
            check("not-zero", json!(0)),
            ["/: matches a schema it must not match"]
        );
        assert_eq!(
            check("untyped", json!({"login": 1})),
            ["/login: expected string, got number"]
        );
        assert_eq!(
            check("either", json!({"a": 1, "b": 2})),
            Vec::<String>::new()
        );
        assert_eq!(
            check("either", json!([])),
            ["/: expected object, got array"]
        );
        let dangling = violations(
            json!({"s": {"$ref": "#/components/schemas/gone"}}),
            "s",
            json!(1),
        );
        assert_eq!(
            dangling,
            [r##"/: the description's $ref "#/components/schemas/gone" resolves to nothing"##]
        );
    }
}

//! Checks requests to, and responses from, the fake against GitHub's own OpenAPI
//! description, so the fake cannot drift from what GitHub documents.
//!
//! The description is the subset of `@octokit/openapi` that `scripts/openapi-subset` cuts
//! (the operations Clambake uses and the components they reference), embedded at build time.

mod keywords;
mod parameters;
mod paths;
mod schema;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use indexmap::IndexMap;
use openapiv3::{
    Components, MediaType, OpenAPI, Parameter, PathItem, ReferenceOr, RequestBody, Response,
    Schema, StatusCode,
};
use serde_json::Value;

use parameters::Declared;
use paths::Route;
use schema::{Checker, Violation};

/// The description, as committed by `scripts/openapi-subset`.
const GITHUB_SUBSET: &str = include_str!("../../openapi/api.github.com.subset.json");

/// How many `$ref`s in a row are followed before giving up on a cycle.
const MAX_REF_HOPS: usize = 32;

/// A parsed OpenAPI description with its path templates compiled.
pub struct Spec {
    document: Document,
    routes: Vec<Route>,
}

/// The operation a request was matched to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The description's `operationId`, e.g. `issues/get`.
    pub id: String,
    /// The path parameters by name, percent-decoded: `owner`, `repo`, `issue_number`, ...
    pub path_params: BTreeMap<String, String>,
    method: String,
    template: String,
}

impl Spec {
    /// GitHub's description, parsed on first use.
    pub fn github() -> &'static Spec {
        static GITHUB: LazyLock<Spec> = LazyLock::new(|| {
            Spec::parse(GITHUB_SUBSET).expect("the embedded GitHub description parses")
        });
        &GITHUB
    }

    /// Parses an OpenAPI 3.0 description given as JSON.
    pub fn parse(json: &str) -> Result<Spec, serde_json::Error> {
        let document = Document {
            api: serde_json::from_str(json)?,
        };
        let routes = document
            .path_items()
            .map(|(template, item)| {
                let declared: Vec<Declared> = item
                    .iter()
                    .flat_map(|(_, operation)| document.parameters(item, operation))
                    .collect();
                Route::new(template, |name| {
                    declared
                        .iter()
                        .any(|p| p.data.name == name && p.multi_segment())
                })
            })
            .collect();
        Ok(Spec { document, routes })
    }

    /// Finds the operation for `method` and `path` (as sent, percent-encoded), and checks its
    /// path parameters, its query string and its JSON body; `Err` lists every violation.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Operation, Vec<String>> {
        let method = method.to_ascii_lowercase();
        let candidates = paths::matches(&self.routes, path);
        let Some((found, item, operation)) = candidates.iter().find_map(|found| {
            let item = self.document.path_item(&found.route.template)?;
            Some((found, item, method_operation(item, &method)?))
        }) else {
            let documented: Vec<String> = candidates
                .iter()
                .filter_map(|found| self.document.path_item(&found.route.template))
                .flat_map(|item| item.iter().map(|(m, _)| m.to_ascii_uppercase()))
                .collect();
            let method = method.to_ascii_uppercase();
            return Err(vec![match candidates.first() {
                None => format!("{method} {path}: no operation in the description has this path"),
                Some(found) => format!(
                    "{method} {path}: {} documents only {}",
                    found.route.template,
                    documented.join(", ")
                ),
            }]);
        };
        let id = operation
            .operation_id
            .clone()
            .unwrap_or_else(|| format!("{method} {}", found.route.template));

        let mut violations = Vec::new();
        let mut path_params = BTreeMap::new();
        for (name, raw) in &found.raw_params {
            match paths::decode(raw) {
                Some(value) => {
                    path_params.insert(name.clone(), value);
                }
                None => violations.push(format!(
                    "{id} path parameter `{name}`: not UTF-8 once percent-decoded"
                )),
            }
        }
        let decoded: Vec<(String, String)> = path_params.clone().into_iter().collect();
        let declared = self.document.parameters(item, operation);
        let checker = self.document.checker();
        violations.extend(parameters::check(&checker, &id, &declared, &decoded, query));
        violations.extend(self.check_request_body(&id, operation.request_body.as_ref(), body));

        match violations.is_empty() {
            true => Ok(Operation {
                id,
                path_params,
                method,
                template: found.route.template.clone(),
            }),
            false => Err(violations),
        }
    }

    fn check_request_body(
        &self,
        id: &str,
        declared: Option<&ReferenceOr<RequestBody>>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let context = format!("{id} request body");
        let declared = match declared.map(|declared| self.document.request_body(declared)) {
            None => {
                return match body {
                    Some(_) => vec![format!(
                        "{context}: the operation takes none, but one was sent"
                    )],
                    None => Vec::new(),
                };
            }
            Some(None) => {
                return vec![format!(
                    "{context}: the description's $ref resolves to nothing"
                )];
            }
            Some(Some(declared)) => declared,
        };
        match (body, json_schema(&declared.content)) {
            (None, _) if declared.required => {
                vec![format!("{context}: required, but none was sent")]
            }
            (Some(body), Some(schema)) => {
                self.render(&context, self.document.checker().check(schema, body, ""))
            }
            _ => Vec::new(),
        }
    }

    /// Checks that `status` is one `operation` documents, and `body` against its schema.
    pub fn check_response(
        &self,
        operation: &Operation,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let context = format!("{} response {status}", operation.id);
        let Some(declared) = self
            .document
            .path_item(&operation.template)
            .and_then(|item| method_operation(item, &operation.method))
        else {
            return vec![format!(
                "{context}: the operation is not in this description"
            )];
        };
        let responses = &declared.responses;
        let response = responses
            .responses
            .get(&StatusCode::Code(status))
            .or_else(|| responses.responses.get(&StatusCode::Range(status / 100)))
            .or(responses.default.as_ref());
        let Some(response) = response else {
            return self.check_universal_response(operation, status, body, &context);
        };
        let Some(response) = self.document.response(response) else {
            return vec![format!(
                "{context}: the description's $ref resolves to nothing"
            )];
        };
        match (body, json_schema(&response.content)) {
            (Some(_), None) if response.content.is_empty() => {
                vec![format!("{context}: documents no body, but one was sent")]
            }
            (None, Some(_)) => vec![format!(
                "{context}: documents a JSON body, but none was sent"
            )],
            (Some(body), Some(schema)) => {
                self.render(&context, self.document.checker().check(schema, body, ""))
            }
            _ => Vec::new(),
        }
    }

    /// Checks a status the operation does not document against [`universal_response`].
    fn check_universal_response(
        &self,
        operation: &Operation,
        status: u16,
        body: Option<&Value>,
        context: &str,
    ) -> Vec<String> {
        let universal = match UNDOCUMENTED.contains(&(operation.id.as_str(), status)) {
            true => Some(Universal::BasicError),
            false => universal_response(&operation.method, status),
        };
        match (universal, body) {
            (Some(Universal::NoBody), Some(_)) => {
                vec![format!("{context}: documents no body, but one was sent")]
            }
            (Some(Universal::BasicError), None) => {
                vec![format!(
                    "{context}: documents a JSON body, but none was sent"
                )]
            }
            (Some(Universal::BasicError), Some(body)) => {
                let schema = ReferenceOr::Reference {
                    reference: BASIC_ERROR.to_string(),
                };
                self.render(context, self.document.checker().check(&schema, body, ""))
            }
            (Some(_), _) => Vec::new(),
            (None, _) => {
                let documented = self
                    .document
                    .path_item(&operation.template)
                    .and_then(|item| method_operation(item, &operation.method));
                let documented: Vec<String> = documented
                    .into_iter()
                    .flat_map(|declared| declared.responses.responses.keys())
                    .map(ToString::to_string)
                    .collect();
                vec![format!(
                    "{context}: status not documented (documented: {})",
                    documented.join(", ")
                )]
            }
        }
    }

    fn render(&self, context: &str, violations: Vec<Violation>) -> Vec<String> {
        violations
            .iter()
            .map(|violation| format!("{context}: {}", violation.render()))
            .collect()
    }

    /// Every operation's id, for checking the description's coverage.
    pub fn operation_ids(&self) -> Vec<String> {
        self.document
            .path_items()
            .flat_map(|(_, item)| {
                item.iter()
                    .filter_map(|(_, operation)| operation.operation_id.clone())
            })
            .collect()
    }
}

/// GitHub's error body: `message`, `documentation_url`, ...
const BASIC_ERROR: &str = "#/components/schemas/basic-error";

/// Statuses GitHub answers, with its error body, where the operation's description leaves
/// them out: a dispatch is refused with `422` for a workflow without the `workflow_dispatch`
/// trigger or a disabled one, for unexpected or missing inputs and for a ref that does not
/// exist.
const UNDOCUMENTED: &[(&str, u16)] = &[("actions/create-workflow-dispatch", 422)];

/// What may come with a status that GitHub documents once, in its REST guides, for every
/// operation rather than in each one's responses.
enum Universal {
    NoBody,
    BasicError,
    /// Not GitHub's to describe: a 5xx body may come from a proxy (an HTML page, say).
    Unchecked,
}

/// The statuses any operation may answer with: 304 to a conditional GET; 401 for bad
/// credentials; 403 and 429 for an exhausted rate limit; 404 for a resource that is missing
/// or hidden; and GitHub's own 5xx failures.
fn universal_response(method: &str, status: u16) -> Option<Universal> {
    match status {
        304 if method == "get" => Some(Universal::NoBody),
        401 | 403 | 404 | 429 => Some(Universal::BasicError),
        500..=599 => Some(Universal::Unchecked),
        _ => None,
    }
}

/// The schema of a JSON media type (`application/json`, `application/scim+json`, ...).
fn json_schema(content: &IndexMap<String, MediaType>) -> Option<&ReferenceOr<Schema>> {
    content
        .iter()
        .find(|(media, _)| {
            media
                .split(';')
                .next()
                .is_some_and(|media| media.trim().ends_with("json"))
        })
        .and_then(|(_, media)| media.schema.as_ref())
}

fn method_operation<'a>(item: &'a PathItem, method: &str) -> Option<&'a openapiv3::Operation> {
    item.iter()
        .find(|(m, _)| *m == method)
        .map(|(_, operation)| operation)
}

/// The description, with `$ref`s resolvable within it.
struct Document {
    api: OpenAPI,
}

impl Document {
    fn checker(&self) -> Checker<'_> {
        Checker { document: self }
    }

    fn path_items(&self) -> impl Iterator<Item = (&str, &PathItem)> {
        self.api
            .paths
            .iter()
            .filter_map(|(template, item)| match item {
                ReferenceOr::Item(item) => Some((template.as_str(), item)),
                ReferenceOr::Reference { .. } => None,
            })
    }

    fn path_item(&self, template: &str) -> Option<&PathItem> {
        self.path_items()
            .find(|(t, _)| *t == template)
            .map(|(_, item)| item)
    }

    /// The parameters of `operation`: its path item's, overridden by its own.
    fn parameters<'a>(
        &'a self,
        item: &'a PathItem,
        operation: &'a openapiv3::Operation,
    ) -> Vec<Declared<'a>> {
        let listed = item.parameters.iter().chain(&operation.parameters);
        let all: Vec<Declared> = listed
            .filter_map(|p| self.parameter(p))
            .map(Declared::new)
            .collect();
        let mut unique: Vec<Declared> = Vec::new();
        for parameter in all.into_iter().rev() {
            if !unique
                .iter()
                .any(|u| u.data.name == parameter.data.name && u.location == parameter.location)
            {
                unique.push(parameter);
            }
        }
        unique
    }

    /// The schema a `#/components/schemas/...` reference names.
    /// `Err` holds the reference that names nothing.
    pub fn schema(&self, reference: &str) -> Result<&Schema, String> {
        let table = self.components().map(|c| &c.schemas);
        let named = component_name(reference, "schemas").and_then(|name| table?.get(&name));
        follow(
            named.ok_or_else(|| reference.to_string())?,
            table,
            "schemas",
        )
    }

    fn parameter<'a>(&'a self, item: &'a ReferenceOr<Parameter>) -> Option<&'a Parameter> {
        follow(item, self.components().map(|c| &c.parameters), "parameters").ok()
    }

    fn request_body<'a>(&'a self, item: &'a ReferenceOr<RequestBody>) -> Option<&'a RequestBody> {
        follow(
            item,
            self.components().map(|c| &c.request_bodies),
            "requestBodies",
        )
        .ok()
    }

    fn response<'a>(&'a self, item: &'a ReferenceOr<Response>) -> Option<&'a Response> {
        follow(item, self.components().map(|c| &c.responses), "responses").ok()
    }

    fn components(&self) -> Option<&Components> {
        self.api.components.as_ref()
    }
}

/// Follows `$ref`s of the form `#/components/<kind>/<name>` to an item; `Err` holds the
/// reference that names nothing (or closes a cycle).
fn follow<'a, T>(
    mut current: &'a ReferenceOr<T>,
    table: Option<&'a IndexMap<String, ReferenceOr<T>>>,
    kind: &str,
) -> Result<&'a T, String> {
    for _ in 0..MAX_REF_HOPS {
        match current {
            ReferenceOr::Item(item) => return Ok(item),
            ReferenceOr::Reference { reference } => {
                current = component_name(reference, kind)
                    .and_then(|name| table?.get(&name))
                    .ok_or_else(|| reference.clone())?;
            }
        }
    }
    match current {
        ReferenceOr::Reference { reference } => Err(reference.clone()),
        ReferenceOr::Item(item) => Ok(item),
    }
}

/// The `<name>` in `#/components/<kind>/<name>`, unescaped.
fn component_name(reference: &str, kind: &str) -> Option<String> {
    let name = reference
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}

#[cfg(test)]
mod subset_tests;
#[cfg(test)]
mod tests;

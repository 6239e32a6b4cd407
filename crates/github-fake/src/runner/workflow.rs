//! The workflow file as the runner reads it: its jobs, their steps and settings, the order
//! `needs` puts the jobs in, and the dispatch inputs typed as the workflow declares them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

#[derive(Debug, Deserialize)]
pub struct Workflow {
    pub name: Option<String>,
    #[serde(rename = "on")]
    pub triggers: Option<Yaml>,
    #[serde(default)]
    pub env: IndexMap<String, Yaml>,
    #[serde(default)]
    pub defaults: Defaults,
    pub jobs: IndexMap<String, Job>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Defaults {
    #[serde(default)]
    pub run: RunDefaults,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunDefaults {
    pub shell: Option<String>,
    pub working_directory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Job {
    pub name: Option<String>,
    pub needs: Option<Yaml>,
    #[serde(rename = "if")]
    pub condition: Option<Yaml>,
    #[serde(default)]
    pub env: IndexMap<String, Yaml>,
    #[serde(default)]
    pub defaults: Defaults,
    pub timeout_minutes: Option<Yaml>,
    pub continue_on_error: Option<Yaml>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// What the fake cannot emulate; a job using one of these fails saying so.
    pub strategy: Option<Yaml>,
    pub container: Option<Yaml>,
    pub services: Option<Yaml>,
    pub uses: Option<Yaml>,
    pub outputs: Option<Yaml>,
    pub environment: Option<Yaml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    pub id: Option<String>,
    pub name: Option<String>,
    pub run: Option<String>,
    pub uses: Option<String>,
    #[serde(default)]
    pub with: IndexMap<String, Yaml>,
    #[serde(default)]
    pub env: IndexMap<String, Yaml>,
    #[serde(rename = "if")]
    pub condition: Option<Yaml>,
    pub shell: Option<String>,
    pub working_directory: Option<String>,
    pub timeout_minutes: Option<Yaml>,
    pub continue_on_error: Option<Yaml>,
}

/// Reads a workflow file.
pub fn parse(yaml: &str) -> Result<Workflow, String> {
    serde_yaml_ng::from_str(yaml).map_err(|error| format!("the workflow is not valid: {error}"))
}

impl Workflow {
    /// The job ids in an order where each comes after those it `needs`.
    pub fn job_order(&self) -> Result<Vec<String>, String> {
        let mut order: Vec<String> = Vec::new();
        while order.len() < self.jobs.len() {
            let ready = self.jobs.iter().find(|(id, job)| {
                !order.contains(id) && job.needs().iter().all(|need| order.contains(need))
            });
            match ready {
                Some((id, _)) => order.push(id.clone()),
                None => {
                    let stuck: Vec<&String> =
                        self.jobs.keys().filter(|id| !order.contains(id)).collect();
                    return Err(format!(
                        "the jobs {stuck:?} need jobs that are missing or need each other"
                    ));
                }
            }
        }
        Ok(order)
    }

    /// The `workflow_dispatch` inputs the workflow declares, by name.
    fn declared_inputs(&self) -> Map<String, Value> {
        let declared = self
            .triggers
            .as_ref()
            .and_then(|on| on.get("workflow_dispatch"))
            .and_then(|dispatch| dispatch.get("inputs"))
            .cloned()
            .unwrap_or(Yaml::Null);
        serde_json::to_value(declared)
            .ok()
            .and_then(|value| value.as_object().cloned())
            .unwrap_or_default()
    }

    /// The `inputs` context (typed: a boolean input is a boolean) and `github.event.inputs`
    /// (every value a string), from the dispatch's inputs and the declared defaults. A run
    /// not dispatched (`schedule`) has none: every declared input is null.
    pub fn inputs(&self, given: &BTreeMap<String, Value>, dispatched: bool) -> (Value, Value) {
        let mut typed = Map::new();
        let mut strings = Map::new();
        for (name, declaration) in self.declared_inputs() {
            if !dispatched {
                typed.insert(name.clone(), Value::Null);
                strings.insert(name, Value::Null);
                continue;
            }
            let kind = declaration["type"].as_str().unwrap_or("string").to_string();
            let raw = given
                .get(&name)
                .cloned()
                .or_else(|| declaration.get("default").cloned())
                .unwrap_or(Value::Null);
            let text = match &raw {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let value = match kind.as_str() {
                "boolean" => Value::Bool(text == "true"),
                "number" => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
                _ => Value::String(text.clone()),
            };
            let text = match &value {
                Value::Bool(b) => b.to_string(),
                _ => text,
            };
            typed.insert(name.clone(), value);
            strings.insert(name, Value::String(text));
        }
        (Value::Object(typed), Value::Object(strings))
    }
}

impl Job {
    pub fn needs(&self) -> Vec<String> {
        match &self.needs {
            Some(Yaml::String(one)) => vec![one.clone()],
            Some(Yaml::Sequence(many)) => many
                .iter()
                .filter_map(|need| need.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Why the fake cannot run this job, if it cannot.
    pub fn unsupported(&self) -> Option<&'static str> {
        [
            (self.strategy.is_some(), "strategy"),
            (self.container.is_some(), "container"),
            (self.services.is_some(), "services"),
            (self.uses.is_some(), "uses (a reusable workflow)"),
            (self.outputs.is_some(), "a job's outputs"),
            (self.environment.is_some(), "environments"),
        ]
        .into_iter()
        .find_map(|(used, what)| used.then_some(what))
    }
}

impl Step {
    /// The step's name as GitHub shows it before expressions are expanded: its `name`, or
    /// `Run <first line of the script>`, or `Run <action>`.
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        if let Some(run) = &self.run {
            let first = run
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("");
            return format!("Run {}", first.trim());
        }
        format!("Run {}", self.uses.as_deref().unwrap_or("step"))
    }
}

/// A scalar setting (`env:` value, `with:` value, `timeout-minutes`) as text.
pub fn scalar(value: &Yaml) -> Result<String, String> {
    match value {
        Yaml::Null => Ok(String::new()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, found {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const YAML: &str = r#"
name: Clambake bundling
on:
  schedule:
    - cron: '*/10 * * * *'
  workflow_dispatch:
    inputs:
      force_bundle:
        type: boolean
        default: false
      dispatch_key:
        type: string
        default: ''
jobs:
  second:
    needs: [first]
    steps:
      - run: |

          echo two
          echo more
  first:
    steps:
      - uses: actions/checkout@v5
      - name: Named
        run: echo one
"#;

    #[test]
    fn jobs_run_after_what_they_need_and_steps_get_github_names() {
        let workflow = parse(YAML).unwrap();
        assert_eq!(workflow.job_order().unwrap(), ["first", "second"]);
        let names: Vec<String> = workflow.jobs["first"]
            .steps
            .iter()
            .chain(&workflow.jobs["second"].steps)
            .map(Step::display_name)
            .collect();
        assert_eq!(names, ["Run actions/checkout@v5", "Named", "Run echo two"]);
    }

    #[test]
    fn a_cycle_in_needs_is_an_error() {
        let workflow = parse("on: push\njobs:\n  a:\n    needs: b\n  b:\n    needs: a\n").unwrap();
        assert!(workflow.job_order().is_err());
    }

    #[test]
    fn inputs_are_typed_as_declared_and_event_inputs_are_strings() {
        let workflow = parse(YAML).unwrap();
        let given = BTreeMap::from([("force_bundle".to_string(), json!("true"))]);
        let (typed, strings) = workflow.inputs(&given, true);
        assert_eq!(typed, json!({ "force_bundle": true, "dispatch_key": "" }));
        assert_eq!(
            strings,
            json!({ "force_bundle": "true", "dispatch_key": "" })
        );
        let (typed, _) = workflow.inputs(&BTreeMap::new(), true);
        assert_eq!(typed["force_bundle"], json!(false));
        let (typed, strings) = workflow.inputs(&given, false);
        assert_eq!(typed, json!({ "force_bundle": null, "dispatch_key": null }));
        assert_eq!(strings, typed, "a scheduled run has no inputs");
    }
}

use serde_json::{Map, Value, json};

use super::*;

fn contexts() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "inputs": { "issue": "12", "force_bundle": true, "empty": "" },
        "github": {
            "token": "t0ken",
            "ref_name": "main",
            "event": { "inputs": { "force_bundle": "true" } },
        },
        "secrets": { "CLAMBAKE_TOKEN": "" },
        "env": { "NAME": "World" },
        "steps": { "clambake": { "outputs": { "answer": "42" }, "outcome": "success" } },
    }) else {
        unreachable!()
    };
    map
}

fn eval(text: &str) -> Result<Value, String> {
    let contexts = contexts();
    evaluate(
        text,
        &Scope {
            contexts: &contexts,
            status: Status::Success,
        },
    )
}

fn expand_with(template: &str, status: Status) -> Result<String, String> {
    let contexts = contexts();
    expand(
        template,
        &Scope {
            contexts: &contexts,
            status,
        },
    )
}

fn cond(text: &str, status: Status) -> bool {
    let contexts = contexts();
    condition(
        text,
        &Scope {
            contexts: &contexts,
            status,
        },
    )
    .unwrap()
}

#[test]
fn templates_expand_the_workflows_idioms() {
    let ok = |t| expand_with(t, Status::Success).unwrap();
    assert_eq!(ok("--issue ${{ inputs.issue }}"), "--issue 12");
    assert_eq!(ok("${{ secrets.CLAMBAKE_TOKEN || github.token }}"), "t0ken");
    assert_eq!(ok("${{ secrets.MISSING }}"), "");
    assert_eq!(
        ok("bundle ${{ inputs.force_bundle && '--force' || '' }}"),
        "bundle --force"
    );
    assert_eq!(
        ok("${{ github.event.inputs.force_bundle == 'true' }}"),
        "true"
    );
    assert_eq!(ok("${{ inputs.empty && '--force' || '' }}x"), "x");
    assert_eq!(
        ok("${{ format('{0}-{1}{{}}', inputs.issue, 3) }}"),
        "12-3{}"
    );
    assert_eq!(ok("${{ steps.clambake.outputs.answer }}"), "42");
    assert_eq!(ok("${{ env.NAME }} ${{ env.UNSET }}!"), "World !");
    assert_eq!(ok("${{ '}}' }}"), "}}");
    assert_eq!(ok("${{ toJSON(inputs.force_bundle) }}"), "true");
}

#[test]
fn what_the_fake_does_not_know_fails_loudly() {
    for text in [
        "${{ inputs.undeclared }}",
        "${{ github.not_emulated }}",
        "${{ vars.X }}",
        "${{ hashFiles('Cargo.lock') }}",
        "${{ inputs.issue ==  }}",
        "${{ inputs.issue",
    ] {
        let error = expand_with(text, Status::Success).unwrap_err();
        assert!(!error.is_empty(), "{text}");
    }
    let error = expand_with("${{ vars.X }}", Status::Success).unwrap_err();
    assert!(error.contains("vars"), "{error}");
}

#[test]
fn loose_equality_and_truthiness_follow_github() {
    let yes = |t: &str| assert_eq!(eval(t).unwrap(), Value::Bool(true), "{t}");
    yes("'ABC' == 'abc'");
    yes("1 == '1'");
    yes("true == 1");
    yes("null == 0");
    yes("'' == 0");
    yes("'x' != 0");
    yes("!''");
    yes("!0");
    yes("!null");
    yes("2 > '10' == false");
    yes("contains('Hello', 'ell')");
    yes("contains(fromJSON('[1, 2]'), '2')");
    yes("startsWith(github.ref_name, 'MA')");
    yes("(1 == 2) || (3 == 3)");
    assert_eq!(eval("0 || 'fallback'").unwrap(), json!("fallback"));
    assert_eq!(eval("'a' && ''").unwrap(), json!(""));
}

#[test]
fn conditions_depend_on_the_job_status() {
    assert!(cond("inputs.force_bundle", Status::Success));
    assert!(!cond("inputs.force_bundle", Status::Failure));
    assert!(cond("${{ always() }}", Status::Failure));
    assert!(cond("always()", Status::Cancelled));
    assert!(cond("failure()", Status::Failure));
    assert!(!cond("failure()", Status::Cancelled));
    assert!(cond("cancelled()", Status::Cancelled));
    assert!(!cond("success()", Status::Failure));
    assert!(cond("${{ !cancelled() }}", Status::Failure));
}

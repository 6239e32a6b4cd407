//! `run --serve`: the metrics, the state API (agreeing with `status --json`), the token off
//! loopback, and the dashboard in a real headless Chromium.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::{TestRepo, wait_for, write_script};

/// A free port on loopback, for the run to bind.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One GET with the given extra header lines: the status code, the headers and the body.
fn get(port: u16, path: &str, headers: &str) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_owned(), body.to_owned()))
}

/// The value of the sample `name` (with its labels, as written) in a metrics text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// A run in the background, stopped with SIGTERM when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// An agent for the `command` runtime that reports a turn, waits for `go` to exist, then
/// commits and reports success at $0.25 over 2 turns.
fn waiting_agent(dir: &Path) -> (std::path::PathBuf, String) {
    let script = write_script(
        dir,
        "agent.sh",
        r#"echo '{"type":"system","subtype":"init","session_id":"s-serve","model":"scripted"}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"Working on it."}],"usage":{"input_tokens":7,"output_tokens":3}}}'
while [ ! -e "$1" ]; do sleep 0.05; done
echo "$RANDOM$$" > "work-$$.txt" && git add . && git commit -qm 'Some work'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.25}'
"#,
    );
    let go = dir.join("go");
    let template = format!("{} {}", script.display(), go.display());
    (go, template)
}

/// The dashboard's colours for an agent's row and a queued issue's row (dashboard.html).
const AGENT_ROW: [u8; 3] = [0xd9, 0xf2, 0xe3];
const QUEUED_ROW: [u8; 3] = [0xfd, 0xf0, 0xd5];

/// How many pixels of a PNG screenshot have exactly `colour`.
fn pixels_of(png_bytes: &[u8], colour: [u8; 3]) -> usize {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .filter(|pixel| pixel[..3] == colour)
        .count()
}

fn chromium(args: &[&str]) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--timeout=5000",
        ])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("chromium is installed (scripts/test installs it)")
}

#[test]
fn a_served_run_shows_its_agents_queue_and_metrics_in_the_api_and_a_real_browser() {
    let repo = TestRepo::new();
    let scripts = tempfile::tempdir().unwrap();
    let (go, template) = waiting_agent(scripts.path());
    let port = free_port();
    repo.init(&["--agents", "1"]).success();
    repo.configure(&[
        ("agents.runtime", "command"),
        ("agents.command", template.as_str()),
        ("bundling.trigger", "on_land"),
        ("serve.address", format!("127.0.0.1:{port}").as_str()),
    ]);
    let first = repo.create_issue("Add <b>greeting</b>", "route:ready");
    let second = repo.create_issue("Add farewell", "route:ready");
    let _run = Running(
        repo.clambake_command(&["run", "--no-view", "--serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let state = wait_for("the state API to show agent001 running", || {
        let (status, _, body) =
            get(port, "/api/v1/state", "").ok_or_else(|| "not up".to_owned())?;
        let state: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let agents = &state["live"]["agents"];
        if status == 200 && agents[0]["state"] == "running" && agents[0]["issue"] == first {
            Ok(state)
        } else {
            Err(body)
        }
    });
    assert_eq!(state["live"]["agents"].as_array().unwrap().len(), 1);
    let status = repo.clambake(&["status", "--json"]).success().json();
    assert_eq!(state["status"], status, "the API agrees with status --json");
    assert_eq!(state["status"]["stages"]["ready"][0]["number"], second);

    let agent = format!("{{agent=\"agent001\",issue=\"{first}\"}}");
    // The agent's shell has a `sleep` child only now and then: wait for a sample that has it.
    let metrics = wait_for("the agent's process tree in /metrics", || {
        let (_, _, metrics) = get(port, "/metrics", "").ok_or_else(|| "not up".to_owned())?;
        match sample(&metrics, &format!("clambake_agent_processes{agent}")) {
            Some(processes) if processes >= 2.0 => Ok(metrics),
            _ => Err(metrics),
        }
    });
    assert_eq!(
        sample(&metrics, "clambake_agents_active"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clambake_transitions_total{event=\"Assign\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clambake_transitions_total{event=\"StartWork\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, &format!("clambake_agent_tokens{agent}")),
        Some(10.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, &format!("clambake_agent_processes{agent}")).unwrap() >= 2.0,
        "{metrics}"
    );
    assert!(
        sample(&metrics, &format!("clambake_agent_memory_bytes{agent}")).unwrap() > 0.0,
        "{metrics}"
    );
    assert!(
        sample(&metrics, &format!("clambake_agent_open_files{agent}")).unwrap() > 0.0,
        "{metrics}"
    );
    assert!(
        sample(&metrics, &format!("clambake_agent_cpu_seconds{agent}")).is_some(),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clambake_forge_requests{kind=\"mutation\"}"),
        Some(0.0),
        "the local forge counts nothing: {metrics}"
    );

    // The dashboard in a real browser: the running agent, the queue, the title as text.
    let url = format!("http://127.0.0.1:{port}/");
    let dom = String::from_utf8(chromium(&["--dump-dom", &url]).stdout).unwrap();
    let agents = dom
        .split("id=\"agents\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(agents.contains("<td>agent001</td>"), "{dom}");
    assert!(agents.contains(&format!("<td>#{first}</td>")), "{dom}");
    assert!(agents.contains("<td>running</td>"), "{dom}");
    assert!(
        agents.contains(&format!("href=\"/logs/{first}/1\"")),
        "{dom}"
    );
    let queue = dom
        .split("id=\"queue\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(queue.contains(&format!("<td>#{second}</td>")), "{dom}");
    assert!(queue.contains("<td>Add farewell</td>"), "{dom}");
    assert!(
        queue.contains("Add &lt;b&gt;greeting&lt;/b&gt;"),
        "a title is text, not markup: {dom}"
    );
    let shots = tempfile::tempdir().unwrap();
    let shot = |name: &str, url: &str| {
        let path = shots.path().join(name);
        chromium(&[
            &format!("--screenshot={}", path.display()),
            "--window-size=1200,900",
            url,
        ]);
        std::fs::read(&path).unwrap()
    };
    let dashboard = shot("dashboard.png", &url);
    // A row is about 20 pixels high and several hundred wide: one agent, two queued issues.
    assert!(
        pixels_of(&dashboard, AGENT_ROW) > 3_000,
        "the agent's row shows"
    );
    assert!(
        pixels_of(&dashboard, QUEUED_ROW) > 2 * 3_000,
        "the queued issues' rows show"
    );
    let (status, _, log) = get(port, &format!("/logs/{first}/1"), "").unwrap();
    assert_eq!(status, 200);
    assert!(log.contains("Working on it."), "{log}");

    // Both attempts finish: they are counted.
    std::fs::write(&go, "").unwrap();
    let metrics = wait_for("both attempts in the metrics", || {
        let (_, _, metrics) = get(port, "/metrics", "").ok_or_else(|| "not up".to_owned())?;
        match sample(&metrics, "clambake_attempts_total{outcome=\"success\"}") {
            Some(2.0) => Ok(metrics),
            _ => Err(metrics),
        }
    });
    assert_eq!(
        sample(&metrics, "clambake_cost_usd_total"),
        Some(0.5),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clambake_turns_total"),
        Some(4.0),
        "{metrics}"
    );
    for (kind, tokens) in [("input", 14.0), ("output", 6.0), ("cache_read", 0.0)] {
        assert_eq!(
            sample(
                &metrics,
                &format!("clambake_tokens_total{{kind=\"{kind}\"}}")
            ),
            Some(tokens),
            "{metrics}"
        );
    }
    assert_eq!(
        sample(&metrics, "clambake_attempt_duration_seconds_count"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clambake_transitions_total{event=\"Assign\"}"),
        Some(2.0),
        "{metrics}"
    );
    let trains = wait_for("the trains in the metrics", || {
        let (_, _, metrics) = get(port, "/metrics", "").ok_or_else(|| "not up".to_owned())?;
        match sample(&metrics, "clambake_trains_total") {
            Some(n) if n >= 1.0 => Ok(metrics),
            _ => Err(metrics),
        }
    });
    // No agent works now: the screenshot has no agent's row.
    let idle = wait_for("the dashboard without agents", || {
        let state: serde_json::Value =
            serde_json::from_str(&get(port, "/api/v1/state", "").ok_or("not up")?.2)
                .map_err(|e| e.to_string())?;
        match state["live"]["agents"].as_array() {
            Some(agents) if agents.is_empty() => Ok(shot("idle.png", &url)),
            _ => Err(state.to_string()),
        }
    });
    assert_eq!(
        pixels_of(&idle, AGENT_ROW),
        0,
        "no agent's row when none works"
    );
    for name in [
        "clambake_bundled_fraction",
        "clambake_bundle_size_count",
        "clambake_stuck_agent_minutes_count",
        "clambake_agents_active",
    ] {
        assert!(sample(&trains, name).is_some(), "{name}: {trains}");
    }
    for (sample_name, value) in [
        ("clambake_recoveries_total{kind=\"stuck_stopped\"}", 0.0),
        (
            "clambake_recovery_failures_total{kind=\"force_reset\"}",
            0.0,
        ),
        ("clambake_set_aside_total{reason=\"parked\"}", 0.0),
    ] {
        assert_eq!(
            sample(&trains, sample_name),
            Some(value),
            "{sample_name}: {trains}"
        );
    }
}

#[test]
fn off_loopback_the_server_needs_a_token_and_checks_it_on_every_request() {
    let repo = TestRepo::new();
    let port = free_port();
    repo.init(&["--agents", "1"]).success();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("serve.enabled", "true"),
        ("serve.address", format!("0.0.0.0:{port}").as_str()),
    ]);
    let refused = repo
        .clambake_command(&["run", "--no-view", "--once"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("CLAMBAKE_SERVE_TOKEN"), "{said}");
    assert!(said.contains(&format!("0.0.0.0:{port}")), "{said}");

    let token = "s3cret-serve-token-for-the-test";
    let logs = tempfile::tempdir().unwrap();
    let stderr = logs.path().join("stderr");
    let run = Running(
        repo.clambake_command(&["run", "--no-view", "-v"])
            .env("CLAMBAKE_SERVE_TOKEN", token)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    let bearer = format!("Authorization: Bearer {token}\r\n");
    wait_for("the server to answer", || {
        get(port, "/metrics", &bearer)
            .filter(|(status, _, _)| *status == 200)
            .ok_or_else(|| "not up".to_owned())
    });
    for path in [
        "/metrics",
        "/api/v1/state",
        "/",
        "/api/v1/events",
        "/logs/1/1",
    ] {
        let (status, _, _) = get(port, path, "").unwrap();
        assert_eq!(status, 401, "{path} without the token");
        let (status, _, _) = get(port, path, "Authorization: Bearer wrong-token\r\n").unwrap();
        assert_eq!(status, 401, "{path} with a wrong token");
    }
    let (status, head, page) = get(port, &format!("/?token={token}"), "").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<title>Clambake</title>"));
    assert!(head.contains("clambake_token="), "{head}");
    let cookie = format!("Cookie: clambake_token={token}\r\n");
    let (status, _, _) = get(port, "/api/v1/state", &cookie).unwrap();
    assert_eq!(status, 200, "the page's cookie is accepted");
    drop(run);
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(log.contains(&format!("0.0.0.0:{port}")), "{log}");
    assert!(!log.contains(token), "the token is never logged: {log}");
}

/// On GitHub the metrics count the run's requests as the fake saw them, and show the rate limit
/// its headers left.
#[test]
fn on_github_the_metrics_count_the_runs_requests_and_the_rate_limit_left() {
    let gh = crate::github_support::GithubRepo::start(1);
    let repo = &gh.repo;
    let port = free_port();
    repo.configure(&[
        ("agents.real_processes", "false"),
        ("serve.address", format!("127.0.0.1:{port}").as_str()),
    ]);
    repo.create_issue("Add greeting", "route:ready");
    gh.fake()
        .set_rate_limit(4_000, std::time::Duration::from_secs(3_600));
    let before = gh.fake().requests().len();
    let _run = Running(
        repo.clambake_command(&["run", "--no-view", "--serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Between passes the recorded usage and the fake's log agree; wait for such a moment once
    // the issue is landed (mutations made).
    wait_for("the metrics to agree with the fake's requests", || {
        let (_, _, metrics) = get(port, "/metrics", "").ok_or("not up")?;
        let made = &gh.fake().requests()[before..];
        let charged = made.iter().filter(|r| r.charged).count() as f64;
        let mutations = made.iter().filter(|r| r.mutation).count() as f64;
        let counted = |kind: &str| {
            sample(
                &metrics,
                &format!("clambake_forge_requests{{kind=\"{kind}\"}}"),
            )
        };
        let agrees = sample(&metrics, "clambake_attempts_total{outcome=\"success\"}") == Some(1.0)
            && counted("mutation") == Some(mutations)
            && counted("fresh_read")
                .zip(counted("mutation"))
                .map(|(r, m)| r + m)
                == Some(charged)
            && sample(&metrics, "clambake_forge_rate_limit_remaining") == Some(4_000.0 - charged);
        if agrees {
            Ok(())
        } else {
            Err(format!(
                "{charged} charged, {mutations} mutations:\n{metrics}"
            ))
        }
    });
    gh.assert_no_violations();
}

//! The crate against the real library, agent and CLI of this repository:
//! init, one event of each kind (all 18 upstream golden records), shutdown,
//! with a live agent and with none; `atomcode-telemetry dump --pretty` must
//! equal the goldens (or, for the few the privacy firewall reduces,
//! tests/compat/expected/) once the per-process envelope values (ids, ts, os,
//! arch) are set to the goldens' fixed ones. Also the opt-out reasons,
//! refusals, scopes, durable emits and the first-run notice.
//!
//! Environment: ATC_BUILD (the C build directory; default ../../build) and
//! ATC_GOLDEN (default ../../tests/compat). Run with --test-threads=1: the
//! tests set process environment variables.

use atomcode_telemetry::*;
use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

fn build_dir() -> PathBuf {
    std::env::var_os("ATC_BUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build"))
}

fn golden_dir() -> PathBuf {
    std::env::var_os("ATC_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compat"))
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A private ATOMCODE_HOME for one test, removed on drop.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        let p = std::env::temp_dir().join(format!(
            "atc-rust.{}.{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        let mut perm = fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o700);
        fs::set_permissions(&p, perm).unwrap();
        std::env::set_var("ATOMCODE_HOME", &p);
        std::env::set_var("ATOMCODE_TELEMETRYD", "/bin/false");
        std::env::set_var("ATOMCODE_TELEMETRY_ENDPOINT", "http://127.0.0.1:9/v1/events");
        std::env::set_var("LANG", "en_US.UTF-8");
        for v in ["ATOMCODE_TELEMETRY", "DO_NOT_TRACK", "ATOMCODE_OFFLINE"] {
            std::env::remove_var(v);
        }
        Home(p)
    }

    fn files(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Ok(rd) = fs::read_dir(self.0.join("telemetry/queue")) {
            for e in rd.flatten() {
                v.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        v.sort();
        v
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn enabled_cfg(home: &Home) -> ResolvedConfig {
    resolve(
        &TelemetryConfig::default(),
        &CliOverride::default(),
        home.0.clone(),
        &ProcessEnv,
    )
}

/// The agent of this build, in the foreground, stopped by PID.
struct Agent(Child);

impl Agent {
    fn start(home: &Home) -> Agent {
        fs::write(home.0.join("telemetryd.conf"), "[queue]\nroll_interval_ms = 50\n").unwrap();
        let child = Command::new(build_dir().join("atomcode-telemetryd"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start atomcode-telemetryd");
        let agent = Agent(child);
        let sock = home.0.join("telemetry.sock");
        let t0 = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not exit on SIGTERM");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(build_dir().join("atomcode-telemetry"))
        .args(args)
        .output()
        .expect("run atomcode-telemetry");
    assert!(out.status.success(), "atomcode-telemetry {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Set the per-process envelope values of pretty records to the goldens'.
fn normalize(pretty: &str) -> String {
    let fixed: HashMap<&str, String> = [
        ("device_id", format!("\"{NIL}\"")),
        ("launch_id", format!("\"{NIL}\"")),
        ("session_id", format!("\"{NIL}\"")),
        ("ts", "0".to_string()),
        ("os", "\"macos\"".to_string()),
        ("arch", "\"aarch64\"".to_string()),
    ]
    .into_iter()
    .collect();
    let mut out = String::new();
    for line in pretty.lines() {
        let mut l = line.to_string();
        if let Some(rest) = line.strip_prefix("  \"") {
            if let Some((key, _)) = rest.split_once("\": ") {
                if let Some(v) = fixed.get(key) {
                    let comma = if line.ends_with(',') { "," } else { "" };
                    l = format!("  \"{key}\": {v}{comma}");
                }
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Every upstream golden record: its file, the event, and its scope.
fn goldens() -> Vec<(&'static str, Event, Option<CurrentContext>)> {
    let full = CurrentContext {
        turn: Some(3),
        round: Some(2),
        request: Some(7),
        provider: Some(s("openai")),
        provider_host: resolve_provider_host("openai", None),
        model: Some(s("gpt-4o")),
        repo_origin: Some(RepoOrigin {
            host: RepoHost::Gitcode,
            has_git: true,
        }),
        mode: Some(SessionMode::Tui),
        session_id: None,
        surface: Some(s("code_review")),
    };
    vec![
        ("codingplan_official_build_required", Event::CodingplanOfficialBuildRequired, None),
        (
            "install_completed",
            Event::InstallCompleted { invite_code: s("INVITE"), install_uuid: Uuid::nil() },
            None,
        ),
        (
            "llm_chat",
            Event::LlmChat {
                duration_ms: 1234,
                tool_calls_count: 2,
                input_tokens: 900,
                output_tokens: 120,
                cached_tokens: 768,
                had_error: false,
                context_window: 128000,
                system_tokens: 400,
                tool_def_tokens: 300,
                tool_result_tokens: 100,
                message_tokens: 100,
                messages_count: 6,
                error_kind: None,
                error_data: None,
            },
            None,
        ),
        (
            "llm_chat_error",
            Event::LlmChat {
                duration_ms: 30000,
                tool_calls_count: 0,
                input_tokens: 0,
                output_tokens: 0,
                cached_tokens: 0,
                had_error: true,
                context_window: 128000,
                system_tokens: 0,
                tool_def_tokens: 0,
                tool_result_tokens: 0,
                message_tokens: 0,
                messages_count: 6,
                error_kind: Some(LlmErrorKind::NetworkError),
                error_data: Some(s(r#"{"message":"connection reset by peer"}"#)),
            },
            None,
        ),
        (
            "login_success",
            Event::LoginSuccess { invite_code: Some(s("INVITE")), install_uuid: Some(Uuid::nil()) },
            None,
        ),
        (
            "login_success_organic",
            Event::LoginSuccess { invite_code: None, install_uuid: None },
            None,
        ),
        (
            "mcp_connect",
            Event::McpConnect {
                server_name: s("t"),
                transport: McpTransport::Stdio,
                success: true,
                duration_ms: Some(150),
                error_kind: None,
                error_data: Some(s(r#"{"config_source":"driver","duration_ms":150,"server_name":"t","tool_count":0,"transport":"stdio"}"#)),
            },
            None,
        ),
        (
            "mcp_connect_error",
            Event::McpConnect {
                server_name: s("t"),
                transport: McpTransport::Stdio,
                success: false,
                duration_ms: Some(20),
                error_kind: Some(McpErrorKind::ExecutionFailed),
                error_data: Some(s(r#"{"config_source":"driver","duration_ms":20,"message":"Failed to spawn MCP server: <CWD>/no-such-server","server_name":"t","transport":"stdio"}"#)),
            },
            None,
        ),
        ("open_atomcode", Event::OpenAtomcode { dangerously_skip_permissions: true }, None),
        (
            "open_atomcode_full_envelope",
            Event::OpenAtomcode { dangerously_skip_permissions: true },
            Some(full),
        ),
        (
            "panic",
            Event::Panic {
                location: s("~/p/src/main.rs:10:5"),
                message_head: s("index out of bounds"),
                thread: s("main"),
                backtrace_top_5: vec![s("core::panicking::panic_bounds_check")],
                error_kind: Some(s("panic")),
                error_data: Some(s(r#"{"last_event":null,"last_tool_name":null,"session_duration_secs":12,"turns_completed":null}"#)),
            },
            None,
        ),
        (
            "take_codingplan",
            Event::TakeCodingplan { type_: CodingplanResult::Success, error_kind: None, error_data: None },
            None,
        ),
        (
            "take_codingplan_error",
            Event::TakeCodingplan {
                type_: CodingplanResult::Fail,
                error_kind: Some(CodingplanErrorKind::AuthError),
                error_data: Some(s(r#"{"message":"Not logged in","step":"login"}"#)),
            },
            None,
        ),
        ("telemetry_disabled", Event::TelemetryDisabled, None),
        (
            "tool_call",
            Event::ToolCall {
                name: s("bash"),
                success: true,
                duration_ms: 42,
                error_kind: None,
                error_data: None,
            },
            None,
        ),
        (
            "tool_call_denied",
            Event::ToolCall {
                name: s("write_file"),
                success: false,
                duration_ms: 0,
                error_kind: Some(ToolErrorKind::DeniedByUser),
                error_data: None,
            },
            None,
        ),
        (
            "use_command",
            Event::UseCommand { type_: s("session"), success: Some(true), error_kind: None, error_data: None },
            None,
        ),
        (
            "use_command_not_found",
            Event::UseCommand {
                type_: s("nope"),
                success: Some(false),
                error_kind: Some(UseCommandErrorKind::NotFound),
                error_data: Some(s(r#"{"command":"nope","duration_ms":0,"message":"Unknown command: nope"}"#)),
            },
            None,
        ),
    ]
}

/// Track every golden event; the expected dump, in the same order.
fn track_goldens(tel: &Telemetry) -> String {
    let mut want = String::new();
    for (name, ev, ctx) in goldens() {
        let full = name == "open_atomcode_full_envelope";
        if full {
            tel.set_account_id(Some(s("42")));
        }
        match ctx {
            Some(c) => CurrentContext::scope_blocking(c, || tel.try_track(&ev)),
            None => tel.try_track(&ev),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        if full {
            tel.set_account_id(None);
        }
        // What the privacy firewall stores instead, for the few it reduces.
        let reduced = golden_dir().join("expected").join(format!("{name}.json"));
        let file = if reduced.exists() { reduced } else { golden_dir().join(format!("{name}.json")) };
        want.push_str(&fs::read_to_string(file).unwrap());
    }
    want
}

fn check_dump(want: &str, n: usize) {
    let got = normalize(&cli(&["dump", "--last", &n.to_string(), "--pretty"]));
    for (i, (a, b)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(a, b, "dump differs from the goldens at line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "dump length");
}

#[test]
fn goldens_without_agent() {
    let home = Home::new();
    let tel = Telemetry::init(enabled_cfg(&home), s("0.0.0"));
    assert!(tel.is_enabled());
    assert_eq!(tel.disabled_reason(), None);
    let want = track_goldens(&tel);
    block_on(tel.shutdown(Duration::from_millis(500)));
    let st = tel.stats();
    assert_eq!(st.tracked, 18);
    assert_eq!(st.fallback, 18, "{st:?}");
    assert_eq!(st.rejected + st.lost, 0);
    drop(tel);
    check_dump(&want, 18);
}

#[test]
fn goldens_with_live_agent() {
    let home = Home::new();
    let agent = Agent::start(&home);
    let tel = Telemetry::init(enabled_cfg(&home), s("0.0.0"));
    let want = track_goldens(&tel);
    block_on(tel.shutdown(Duration::from_secs(5)));
    let st = tel.stats();
    assert_eq!(st.acked, 18, "{st:?}");
    assert_eq!(st.fallback + st.rejected + st.lost, 0, "{st:?}");
    drop(tel);
    agent.stop();
    check_dump(&want, 18);
}

struct Map(HashMap<&'static str, &'static str>);

impl EnvLookup for Map {
    fn var(&self, k: &str) -> Option<String> {
        self.0.get(k).map(|v| v.to_string())
    }
}

fn env(kv: &[(&'static str, &'static str)]) -> Map {
    Map(kv.iter().copied().collect())
}

#[test]
fn disabled_is_inert_with_upstream_reasons() {
    let home = Home::new();
    let cases: Vec<(Map, bool, Option<bool>, &str)> = vec![
        (env(&[("ATOMCODE_OFFLINE", "on")]), false, None, "offline"),
        (env(&[("ATOMCODE_TELEMETRY", "0")]), false, Some(true), "env:ATOMCODE_TELEMETRY=0"),
        (env(&[("DO_NOT_TRACK", "1")]), true, None, "env:DO_NOT_TRACK=1"),
        (env(&[]), true, Some(true), "cli:--no-telemetry"),
        (env(&[]), false, Some(false), "config"),
    ];
    for (e, cli_off, enabled, reason) in cases {
        let cfg = TelemetryConfig { enabled, endpoint: None };
        let r = resolve(&cfg, &CliOverride { disabled: cli_off }, home.0.clone(), &e);
        assert_eq!(r.state.reason(), Some(reason));
        let tel = Telemetry::init(r, s("1.0.0"));
        assert!(!tel.is_enabled());
        assert_eq!(tel.disabled_reason(), Some(reason));
        tel.track(Event::TelemetryDisabled);
        assert_eq!(tel.track_durable_sync(Event::TelemetryDisabled), Err(TelemetryError::Disabled));
        assert_eq!(tel.first_run_notice(), None);
        block_on(tel.shutdown(Duration::from_millis(500)));
    }
    // The library's own resolution gives the same strings.
    std::env::set_var("ATOMCODE_TELEMETRY", "0");
    let tel = Telemetry::init_from_env("1.0.0", false);
    assert_eq!(tel.disabled_reason(), Some("env:ATOMCODE_TELEMETRY=0"));
    std::env::remove_var("ATOMCODE_TELEMETRY");
    let tel2 = Telemetry::init_from_env("1.0.0", true);
    assert_eq!(tel2.disabled_reason(), Some("cli:--no-telemetry"));
    fs::write(home.0.join("config.toml"), "[telemetry]\nenabled = false\n").unwrap();
    let tel3 = Telemetry::init_from_env("1.0.0", false);
    assert_eq!(tel3.disabled_reason(), Some("config"));
    // Upstream's resolve (which did not read config.toml) said enabled.
    let tel4 = Telemetry::init(enabled_cfg(&home), s("1.0.0"));
    assert!(!tel4.is_enabled());
    assert_eq!(tel4.disabled_reason(), Some("config"));
    drop((tel, tel2, tel3, tel4));
    assert!(home.files().is_empty(), "a disabled handle wrote {:?}", home.files());
    assert!(!home.0.join("device_id").exists());
}

#[test]
fn refusals_say_why() {
    let home = Home::new();
    let tel = Telemetry::init(enabled_cfg(&home), s("1.0.0"));
    let long = "x".repeat(300);
    match tel.try_track(&Event::InstallCompleted { invite_code: long, install_uuid: Uuid::nil() }) {
        Err(TelemetryError::Rejected(r)) => {
            assert_eq!(r.code, "too_long");
            assert_eq!(r.field, "invite_code");
            assert_eq!(r.event_id, "install_completed");
            assert!(r.rule.contains("at most 256 bytes"), "{}", r.rule);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        tel.try_track(&Event::UseCommand {
            type_: s("a\0b"),
            success: None,
            error_kind: None,
            error_data: None,
        }),
        Err(TelemetryError::Invalid("string with a NUL byte"))
    );
    // The builder is reusable after a refusal.
    tel.try_track(&Event::TelemetryDisabled).unwrap();
    block_on(tel.shutdown(Duration::from_millis(200)));
    assert_eq!(tel.stats().fallback, 1);
}

#[test]
fn scopes_override_the_envelope() {
    let home = Home::new();
    let tel = Telemetry::init(enabled_cfg(&home), s("1.0.0"));
    let sid = Uuid::parse_str("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
    tel.set_default_mode(Some(SessionMode::Ide));
    tel.track(Event::TelemetryDisabled);
    CurrentContext::scope_blocking(
        CurrentContext {
            mode: Some(SessionMode::Vscode),
            session_id: Some(sid),
            ..Default::default()
        },
        || {
            assert_eq!(CurrentContext::current().mode, Some(SessionMode::Vscode));
            tel.track(Event::TelemetryDisabled);
            CurrentContext::scope_blocking(
                CurrentContext { mode: Some(SessionMode::Webui), ..Default::default() },
                || tel.track(Event::TelemetryDisabled),
            );
            tel.track(Event::TelemetryDisabled);
        },
    );
    block_on(CurrentContext::scope(
        CurrentContext {
            mode: Some(SessionMode::AtomcodeAir),
            turn: Some(9),
            ..Default::default()
        },
        || async {
            YieldOnce(false).await;
            tel.track(Event::TelemetryDisabled);
        },
    ));
    assert_eq!(CurrentContext::current(), CurrentContext::default());
    block_on(tel.shutdown(Duration::from_millis(200)));
    drop(tel);
    let dump = cli(&["dump"]);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].contains("\"mode\":\"ide\""), "{}", lines[0]);
    assert!(lines[1].contains("\"mode\":\"vscode\""));
    assert!(lines[1].contains(&format!("\"session_id\":\"{sid}\"")));
    assert!(lines[2].contains("\"mode\":\"webui\""));
    assert!(lines[3].contains("\"mode\":\"vscode\""));
    assert!(lines[4].contains("\"mode\":\"atomcode_desktop\""));
    assert!(lines[4].contains("\"turn\":9"));
    assert!(!lines[0].contains(&sid.to_string()));
}

#[test]
fn durable_is_ready_on_return() {
    let home = Home::new();
    let tel = Telemetry::init(enabled_cfg(&home), s("1.0.0"));
    tel.track_durable_sync(Event::LoginSuccess { invite_code: Some(s("ABC12345")), install_uuid: None })
        .unwrap();
    block_on(tel.track_durable(Event::TelemetryDisabled)).unwrap();
    let ready: Vec<String> = home.files().into_iter().filter(|f| f.ends_with(".ndjson")).collect();
    assert!(!ready.is_empty(), "{:?}", home.files());
    let text: String = ready
        .iter()
        .map(|f| fs::read_to_string(home.0.join("telemetry/queue").join(f)).unwrap())
        .collect();
    assert!(text.contains("\"invite_code\":\"ABC12345\""));
    assert!(text.contains("\"event_id\":\"telemetry_disabled\""));
}

#[test]
fn first_run_notice_once() {
    let _home = Home::new();
    let tel = Telemetry::init_from_env("1.0.0", false);
    let n = tel.first_run_notice().expect("the notice, the first time");
    assert!(n.contains("AtomCode collects anonymous usage telemetry"), "{n}");
    assert_eq!(tel.first_run_notice(), None);
}

#[test]
fn install_completed_once_per_install() {
    let home = Home::new();
    let dir = home.0.clone();
    let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let write = |code: &str, u: &str, at: u64| {
        fs::write(
            dir.join("pending_invite"),
            format!("invite_code = {code}\ninstall_uuid={u}\nattempted_at={at}\n"),
        )
        .unwrap()
    };
    let tel = Telemetry::init(enabled_cfg(&home), s("1.0.0"));
    // Invalid or stale invites: nothing.
    write("bad!code", uuid, now);
    tel.maybe_emit_install_completed_sync(&dir);
    write("ABC12345", "not-a-uuid", now);
    tel.maybe_emit_install_completed_sync(&dir);
    write("ABC12345", uuid, 1_000_000);
    tel.maybe_emit_install_completed_sync(&dir);
    assert!(!dir.join("referral_state.json").exists());
    // A valid one: one durable record, then remembered.
    write("ABC12345", uuid, now);
    block_on(tel.maybe_emit_install_completed(&dir));
    let state = fs::read_to_string(dir.join("referral_state.json")).unwrap();
    assert!(state.contains(&format!("\"install_completed_install_uuid\":\"{uuid}\"")), "{state}");
    tel.maybe_emit_install_completed_sync(&dir);
    // Another install: sent again.
    write("XYZ98765", "11111111-2222-4333-8444-555555555555", now);
    tel.maybe_emit_install_completed_sync(&dir);
    drop(tel);
    let dump = cli(&["dump"]);
    assert_eq!(dump.matches("\"event_id\":\"install_completed\"").count(), 2, "{dump}");
    assert!(dump.contains("\"invite_code\":\"ABC12345\""));
    assert!(dump.contains(&format!("\"install_uuid\":\"{uuid}\"")));
    // Disabled: no state file written.
    fs::remove_file(dir.join("referral_state.json")).unwrap();
    let off = Telemetry::init(
        resolve(&TelemetryConfig::default(), &CliOverride { disabled: true }, dir.clone(), &ProcessEnv),
        s("1.0.0"),
    );
    off.maybe_emit_install_completed_sync(&dir);
    assert!(!dir.join("referral_state.json").exists());
}

#[test]
fn uuid_and_provider_host() {
    let u = Uuid::parse_str("0F8FAD5B-D9CB-469F-A165-70867728950E").unwrap();
    assert_eq!(u.to_string(), "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert!(Uuid::parse_str("nope").is_err());
    assert_eq!(Uuid::nil().to_string(), NIL);
    assert_eq!(
        resolve_provider_host("openai", Some("https://user:pass@api.example.com:8443/v1/foo?bar=baz")),
        Some(s("api.example.com"))
    );
    assert_eq!(resolve_provider_host("claude", Some("not a url")), Some(s("api.anthropic.com")));
    assert_eq!(resolve_provider_host("ollama", None), Some(s("localhost")));
    assert_eq!(resolve_provider_host("unknown", None), None);
    assert_eq!(
        resolve_provider_host("unknown", Some("https://api.example.com")),
        Some(s("api.example.com"))
    );
}

/// A future that is pending once (so a scope is entered on two polls).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A minimal executor: poll until ready (no runtime needed).
fn block_on<F: Future>(f: F) -> F::Output {
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = Box::pin(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

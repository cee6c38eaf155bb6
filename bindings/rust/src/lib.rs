//! AtomCode telemetry through the `atomcode-telemetryd` sidecar.
//!
//! The API is upstream's `atomcode-telemetry` crate's (`Telemetry::init`,
//! `track`, `track_durable`, `shutdown(timeout)`, `CurrentContext` scopes,
//! the `Event` enum), implemented over libatomcode-telemetry (C, linked
//! through pkg-config): `track` hands the event to the local agent over a
//! Unix socket and returns in microseconds; with no agent the library
//! writes the same on-disk queue upstream uses. No upload happens in the
//! process, so `shutdown` only waits for the agent's confirmation.
//! See docs/INTEGRATING.md in the repository.

mod config;
mod context;
mod event;
mod ffi;
mod invite;
#[allow(dead_code)]
pub mod schema;

pub use config::{
    resolve, CliOverride, EnvLookup, ProcessEnv, ResolvedConfig, TelemetryConfig,
    TelemetryState, DEFAULT_ENDPOINT,
};
pub use context::CurrentContext;
pub use event::{
    CodingplanErrorKind, CodingplanResult, Event, LlmErrorKind, McpErrorKind, McpTransport,
    RepoHost, RepoOrigin, SessionMode, ToolErrorKind, UseCommandErrorKind, Uuid, UuidError,
};

use event::Value;
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::path::Path;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SCHEMA_VERSION: u32 = 1;

/// Why an event was refused (`atc_last_error`): the protocol's code, the
/// field, the event and the schema's rule for that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub field: String,
    pub event_id: String,
    pub rule: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.event_id, self.code)?;
        if !self.field.is_empty() {
            write!(f, " (field {})", self.field)?;
        }
        if !self.rule.is_empty() {
            write!(f, ": {}", self.rule)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelemetryError {
    /// Telemetry is disabled; nothing was done.
    Disabled,
    /// The schema refused the event.
    Rejected(Refusal),
    /// Neither the agent nor the on-disk queue took it.
    QueueUnavailable,
    /// A bad argument (a scope value, a string with a NUL byte).
    Invalid(&'static str),
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TelemetryError::Disabled => f.write_str("telemetry disabled"),
            TelemetryError::Rejected(r) => write!(f, "telemetry event rejected: {r}"),
            TelemetryError::QueueUnavailable => f.write_str("telemetry queue unavailable"),
            TelemetryError::Invalid(w) => write!(f, "invalid telemetry argument: {w}"),
        }
    }
}

impl std::error::Error for TelemetryError {}

/// What happened to this process's events (`atc_get_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub tracked: u64,
    pub sent: u64,
    pub buffered: u64,
    pub acked: u64,
    pub fallback: u64,
    pub rejected: u64,
    pub lost: u64,
    pub reconnects: u64,
    pub spawns: u64,
}

struct Handle(*mut ffi::Atc);

// The C handle has its own mutex; every function may be called from any
// thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// The telemetry handle. Inert when disabled: `track` does nothing.
pub struct Telemetry {
    h: Handle,
    enabled: bool,
    reason: Option<String>,
    started: Instant,
    // The last scope's C strings must live while the call runs only; the
    // mutex keeps account/session updates ordered with the C setters.
    setters: Mutex<()>,
}

/// The reusable C builder of this thread.
struct Builder(*mut ffi::AtcEvent);

impl Drop for Builder {
    fn drop(&mut self) {
        unsafe { ffi::atc_event_free(self.0) };
    }
}

thread_local! {
    static BUILDER: RefCell<Option<Builder>> = RefCell::new(None);
}

fn cstr(s: &str) -> Result<CString, TelemetryError> {
    CString::new(s).map_err(|_| TelemetryError::Invalid("string with a NUL byte"))
}

fn text(a: &[c_char]) -> String {
    let bytes: Vec<u8> = a.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn error_info() -> ffi::AtcErrorInfo {
    ffi::AtcErrorInfo {
        size: std::mem::size_of::<ffi::AtcErrorInfo>(),
        err: 0,
        code: [0; 32],
        field: [0; 64],
        event_id: [0; 48],
        rule: [0; 256],
        refused: 0,
    }
}

fn refusal(ei: &ffi::AtcErrorInfo) -> Refusal {
    Refusal {
        code: text(&ei.code),
        field: text(&ei.field),
        event_id: text(&ei.event_id),
        rule: text(&ei.rule),
    }
}

/// Fill the thread's builder with `event`; Err with the builder's refusal.
fn build(b: *mut ffi::AtcEvent, event: &Event) -> Result<(), TelemetryError> {
    let id = cstr(event.event_id())?;
    let mut rc = unsafe { ffi::atc_event_reset(b, id.as_ptr()) };
    for (name, value) in event.fields() {
        if rc != ffi::ATC_OK {
            break;
        }
        let f = cstr(name)?;
        rc = unsafe {
            match value {
                Value::Str(s) => {
                    let v = cstr(s)?;
                    ffi::atc_event_str(b, f.as_ptr(), v.as_ptr())
                }
                Value::Owned(s) => {
                    let v = cstr(&s)?;
                    ffi::atc_event_str(b, f.as_ptr(), v.as_ptr())
                }
                Value::UInt(n) => ffi::atc_event_uint(b, f.as_ptr(), n),
                Value::Bool(x) => ffi::atc_event_bool(b, f.as_ptr(), x as c_int),
                Value::StrV(list) => {
                    let owned = list
                        .iter()
                        .map(|s| cstr(s))
                        .collect::<Result<Vec<CString>, _>>()?;
                    let ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
                    ffi::atc_event_strv(b, f.as_ptr(), ptrs.as_ptr(), ptrs.len())
                }
            }
        };
    }
    match rc {
        ffi::ATC_OK => Ok(()),
        ffi::ATC_E_SCHEMA => {
            let mut ei = error_info();
            unsafe { ffi::atc_last_error_event(b, &mut ei) };
            Err(TelemetryError::Rejected(refusal(&ei)))
        }
        _ => Err(TelemetryError::Invalid("event builder")),
    }
}

/// The C strings of one scope, alive while the call runs.
struct ScopeStrings {
    strs: Vec<CString>,
}

impl ScopeStrings {
    fn put(&mut self, s: Option<&str>) -> Result<*const c_char, TelemetryError> {
        match s {
            None => Ok(ptr::null()),
            Some(s) => {
                self.strs.push(cstr(s)?);
                Ok(self.strs.last().map_or(ptr::null(), |c| c.as_ptr()))
            }
        }
    }
}

fn scope_of(
    ctx: &CurrentContext,
    keep: &mut ScopeStrings,
) -> Result<ffi::AtcScope, TelemetryError> {
    let session = ctx.session_id.map(|u| u.to_string());
    Ok(ffi::AtcScope {
        size: std::mem::size_of::<ffi::AtcScope>(),
        mode: keep.put(ctx.mode.map(|m| m.as_str()))?,
        session_id: keep.put(session.as_deref())?,
        provider: keep.put(ctx.provider.as_deref())?,
        provider_host: keep.put(ctx.provider_host.as_deref())?,
        model: keep.put(ctx.model.as_deref())?,
        surface: keep.put(ctx.surface.as_deref())?,
        repo_host: keep.put(ctx.repo_origin.map(|r| r.host.as_str()))?,
        repo_has_git: ctx.repo_origin.map_or(0, |r| r.has_git as c_int),
        turn: ctx.turn.map_or(-1, |t| t.min(i64::MAX as u64) as i64),
        round: ctx.round.map_or(-1, |r| r as i64),
        request: ctx.request.map_or(-1, |r| r.min(i64::MAX as u64) as i64),
    })
}

/// `provider_host` from a vendor type and a base URL (upstream's rules).
pub fn resolve_provider_host(vendor: &str, base_url: Option<&str>) -> Option<String> {
    if let Some(url) = base_url {
        if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
            let auth = rest.split(|c| c == '/' || c == '?' || c == '#').next().unwrap_or("");
            let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
            let host = if host.starts_with('[') {
                host.split(']').next().map(|h| &h[1..]).unwrap_or("")
            } else {
                host.split(':').next().unwrap_or("")
            };
            if !host.is_empty() && !host.contains(' ') {
                return Some(host.to_ascii_lowercase());
            }
        }
    }
    match vendor {
        "claude" => Some("api.anthropic.com".into()),
        "openai" => Some("api.openai.com".into()),
        "ollama" => Some("localhost".into()),
        _ => None,
    }
}

impl Telemetry {
    /// Upstream's entry point: an inert handle when `cfg` is disabled (with
    /// its reason), else a handle of the C library, which resolves the
    /// opt-out once more (environment and config.toml) and may still say
    /// disabled. Never fails.
    pub fn init(cfg: ResolvedConfig, app_version: String) -> Arc<Self> {
        if let TelemetryState::Disabled(r) = cfg.state {
            return Arc::new(Self::inert(Some(r.to_string())));
        }
        Arc::new(Self::open(&app_version, false))
    }

    /// Resolve everything in the library (environment, config.toml and
    /// this invocation's `--no-telemetry`).
    pub fn init_from_env(app_version: &str, no_telemetry: bool) -> Arc<Self> {
        Arc::new(Self::open(app_version, no_telemetry))
    }

    fn inert(reason: Option<String>) -> Self {
        Telemetry {
            h: Handle(ptr::null_mut()),
            enabled: false,
            reason,
            started: Instant::now(),
            setters: Mutex::new(()),
        }
    }

    fn open(app_version: &str, no_telemetry: bool) -> Self {
        let version = match CString::new(app_version) {
            Ok(v) => v,
            Err(_) => return Self::inert(Some("error".into())),
        };
        let opt = ffi::AtcOptions {
            size: std::mem::size_of::<ffi::AtcOptions>(),
            app_version: version.as_ptr(),
            mode: ptr::null(),
            no_telemetry: no_telemetry as c_int,
            provider: ptr::null(),
            provider_base_url: ptr::null(),
            model: ptr::null(),
            account_id: ptr::null(),
            session_id: ptr::null(),
            surface: ptr::null(),
            cwd: ptr::null(),
            close_timeout_ms: 0,
            // Upstream sets repo_origin per scope, never by itself.
            flags: ffi::ATC_F_NO_REPO_ORIGIN,
            durable_timeout_ms: 0,
        };
        let mut h: *mut ffi::Atc = ptr::null_mut();
        if unsafe { ffi::atc_open(&opt, &mut h) } != ffi::ATC_OK || h.is_null() {
            return Self::inert(Some("error".into()));
        }
        let mut reason: *const c_char = ptr::null();
        let enabled = unsafe { ffi::atc_enabled(h, &mut reason) } != 0;
        let reason = if enabled || reason.is_null() {
            None
        } else {
            Some(unsafe { CStr::from_ptr(reason) }.to_string_lossy().into_owned())
        };
        Telemetry {
            h: Handle(h),
            enabled,
            reason,
            started: Instant::now(),
            setters: Mutex::new(()),
        }
    }

    fn emit(&self, event: &Event, durable: bool) -> Result<(), TelemetryError> {
        if !self.enabled {
            return Err(TelemetryError::Disabled);
        }
        BUILDER.with(|cell| {
            // A panic hook may track while this thread was inside track:
            // then it gets a builder of its own.
            let mut own = None;
            let mut guard = cell.try_borrow_mut().ok();
            let slot = match guard.as_mut() {
                Some(g) => &mut **g,
                None => &mut own,
            };
            if slot.is_none() {
                let mut b: *mut ffi::AtcEvent = ptr::null_mut();
                let id = cstr(event.event_id())?;
                if unsafe { ffi::atc_event_new(id.as_ptr(), &mut b) } != ffi::ATC_OK {
                    return Err(TelemetryError::Invalid("event builder"));
                }
                *slot = Some(Builder(b));
            }
            let b = slot.as_ref().map_or(ptr::null_mut(), |b| b.0);
            build(b, event)?;
            let mut keep = ScopeStrings { strs: Vec::new() };
            let scope = CurrentContext::with_current(|c| match c {
                Some(c) if *c != CurrentContext::default() => scope_of(c, &mut keep).map(Some),
                _ => Ok(None),
            })?;
            let sp = scope.as_ref().map_or(ptr::null(), |s| s as *const ffi::AtcScope);
            let rc = unsafe {
                if durable {
                    ffi::atc_track_durable(self.h.0, b, sp)
                } else {
                    ffi::atc_track(self.h.0, b, sp)
                }
            };
            self.result(rc)
        })
    }

    fn result(&self, rc: c_int) -> Result<(), TelemetryError> {
        match rc {
            ffi::ATC_OK => Ok(()),
            ffi::ATC_E_DISABLED => Err(TelemetryError::Disabled),
            ffi::ATC_E_SCHEMA | ffi::ATC_E_JSON => Err(TelemetryError::Rejected(
                self.last_error().unwrap_or(Refusal {
                    code: "internal".into(),
                    field: String::new(),
                    event_id: String::new(),
                    rule: String::new(),
                }),
            )),
            ffi::ATC_E_IO => Err(TelemetryError::QueueUnavailable),
            ffi::ATC_E_NOMEM => Err(TelemetryError::Invalid("out of memory")),
            _ => Err(TelemetryError::Invalid("argument")),
        }
    }

    /// Non-blocking emit, as upstream: never fails, never waits.
    pub fn track(&self, event: Event) {
        let _ = self.emit(&event, false);
    }

    /// `track` that says whether the event was taken, and why not.
    pub fn try_track(&self, event: &Event) -> Result<(), TelemetryError> {
        self.emit(event, false)
    }

    /// Emit and return once the event is on disk: confirmed by the agent,
    /// or written by the library to a synced, ready queue segment. Waits up
    /// to 500 ms for the agent, plus one fsync.
    pub async fn track_durable(&self, event: Event) -> Result<(), TelemetryError> {
        self.emit(&event, true)
    }

    /// `track_durable` for synchronous code.
    pub fn track_durable_sync(&self, event: Event) -> Result<(), TelemetryError> {
        self.emit(&event, true)
    }

    /// Wait at most `timeout` for the agent to confirm everything sent;
    /// what it has not confirmed then is written to the queue. No upload
    /// happens here: the agent uploads.
    pub async fn shutdown(&self, timeout: Duration) {
        self.shutdown_blocking(timeout)
    }

    /// `shutdown` for synchronous code (exit paths, panic hooks).
    pub fn shutdown_blocking(&self, timeout: Duration) {
        if self.enabled {
            let ms = timeout.as_millis().min(u32::MAX as u128) as u32;
            unsafe { ffi::atc_flush(self.h.0, ms) };
        }
    }

    /// Account of the signed-in user (`None` after logout). Set it before
    /// emitting `LoginSuccess` so that event carries it.
    pub fn set_account_id(&self, id: Option<String>) {
        self.set(|h| {
            let v = id.as_deref().map(CString::new);
            match v {
                Some(Ok(c)) => unsafe { ffi::atc_set_account(h, c.as_ptr()) },
                _ => unsafe { ffi::atc_set_account(h, ptr::null()) },
            };
        });
    }

    /// The launch-level mode, used when no scope sets one.
    pub fn set_default_mode(&self, mode: Option<SessionMode>) {
        self.set(|h| {
            let c = mode.map(|m| CString::new(m.as_str()).unwrap_or_default());
            unsafe { ffi::atc_set_mode(h, c.as_ref().map_or(ptr::null(), |c| c.as_ptr())) };
        });
    }

    /// The process-level session id (a scope's wins).
    pub fn set_session_id(&self, id: Uuid) {
        self.set(|h| {
            let c = CString::new(id.to_string()).unwrap_or_default();
            unsafe { ffi::atc_set_session(h, c.as_ptr()) };
        });
    }

    fn set(&self, f: impl FnOnce(*mut ffi::Atc)) {
        if self.enabled {
            let _g = self.setters.lock();
            f(self.h.0);
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Why telemetry is off (upstream's reason strings), `None` when on.
    pub fn disabled_reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The last refused event's details (the agent's refusals once
    /// `shutdown`/flush read them).
    pub fn last_error(&self) -> Option<Refusal> {
        if !self.enabled {
            return None;
        }
        let mut ei = error_info();
        if unsafe { ffi::atc_last_error(self.h.0, &mut ei) } == 1 {
            Some(refusal(&ei))
        } else {
            None
        }
    }

    pub fn stats(&self) -> Stats {
        if !self.enabled {
            return Stats::default();
        }
        let mut st = ffi::AtcStats {
            emitted: 0,
            sent: 0,
            buffered: 0,
            acked: 0,
            fallback: 0,
            rejected: 0,
            lost: 0,
            reconnects: 0,
            spawns: 0,
        };
        unsafe { ffi::atc_get_stats_size(self.h.0, &mut st, std::mem::size_of::<ffi::AtcStats>()) };
        Stats {
            tracked: st.emitted,
            sent: st.sent,
            buffered: st.buffered,
            acked: st.acked,
            fallback: st.fallback,
            rejected: st.rejected,
            lost: st.lost,
            reconnects: st.reconnects,
            spawns: st.spawns,
        }
    }

    /// Upstream's install attribution: when `<atomcode_dir>/pending_invite`
    /// is valid and fresh and `referral_state.json` does not name its
    /// install, track `install_completed` durably, then remember it there.
    pub async fn maybe_emit_install_completed(&self, atomcode_dir: &Path) {
        self.maybe_emit_install_completed_sync(atomcode_dir)
    }

    /// `maybe_emit_install_completed` for synchronous code.
    pub fn maybe_emit_install_completed_sync(&self, atomcode_dir: &Path) {
        if !self.enabled {
            return;
        }
        if let Some(inv) = invite::load(atomcode_dir) {
            if invite::already_sent(atomcode_dir, &inv.install_uuid) {
                return;
            }
            let uuid = inv.install_uuid;
            let ev = Event::InstallCompleted {
                invite_code: inv.invite_code,
                install_uuid: uuid,
            };
            if self.emit(&ev, true).is_ok() {
                invite::remember(atomcode_dir, &uuid);
            }
        }
    }

    /// Upstream's first-run notice, once per user: `Some(text)` to be
    /// written to stderr as it is, else `None` (already shown, or disabled).
    pub fn first_run_notice(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let mut buf = vec![0 as c_char; ffi::ATC_NOTICE_MAX];
        let rc = unsafe { ffi::atc_first_run_notice(self.h.0, buf.as_mut_ptr(), buf.len()) };
        if rc != ffi::ATC_OK && rc != ffi::ATC_E_IO {
            return None;
        }
        let s = text(&buf);
        if s.is_empty() {
            None
        } else {
            Some(s)
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if !self.h.0.is_null() {
            unsafe { ffi::atc_close(self.h.0) };
        }
    }
}

/// A static sentence for a C error code (for logs).
pub fn strerror(code: i32) -> String {
    unsafe { CStr::from_ptr(ffi::atc_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

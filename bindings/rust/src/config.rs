//! Opt-out resolution with upstream's shape (`resolve`, `ResolvedConfig`,
//! reason strings). The C library resolves the same rules again at
//! `Telemetry::init`; a state disabled here is never overridden there.

use std::path::PathBuf;

pub const DEFAULT_ENDPOINT: &str = "https://acs.atomgit.com/api/v1/events";

/// The `[telemetry]` table of config.toml.
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    pub enabled: Option<bool>,
    pub endpoint: Option<String>,
}

/// `--no-telemetry` of this invocation.
#[derive(Debug, Clone, Default)]
pub struct CliOverride {
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelemetryState {
    Enabled,
    /// With upstream's reason: `offline`, `env:ATOMCODE_TELEMETRY=0`,
    /// `env:DO_NOT_TRACK=1`, `cli:--no-telemetry`, `config`.
    Disabled(&'static str),
}

impl TelemetryState {
    pub fn is_enabled(&self) -> bool {
        matches!(self, TelemetryState::Enabled)
    }
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            TelemetryState::Disabled(r) => Some(r),
            TelemetryState::Enabled => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    pub state: TelemetryState,
    pub endpoint: String,
    pub atomcode_dir: PathBuf,
}

/// Where environment variables come from (tests pass a map).
pub trait EnvLookup {
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

fn offline_forced(env: &impl EnvLookup) -> bool {
    env.var("ATOMCODE_OFFLINE").map_or(false, |v| {
        let v = v.trim().to_ascii_lowercase();
        v == "1" || v == "true" || v == "on"
    })
}

/// First match wins: offline, `ATOMCODE_TELEMETRY=0`, `DO_NOT_TRACK=1`,
/// `--no-telemetry`, `enabled = false`; else enabled.
pub fn resolve(
    cfg: &TelemetryConfig,
    cli: &CliOverride,
    atomcode_dir: PathBuf,
    env: &impl EnvLookup,
) -> ResolvedConfig {
    let state = if offline_forced(env) {
        TelemetryState::Disabled("offline")
    } else if env.var("ATOMCODE_TELEMETRY").as_deref() == Some("0") {
        TelemetryState::Disabled("env:ATOMCODE_TELEMETRY=0")
    } else if env.var("DO_NOT_TRACK").as_deref() == Some("1") {
        TelemetryState::Disabled("env:DO_NOT_TRACK=1")
    } else if cli.disabled {
        TelemetryState::Disabled("cli:--no-telemetry")
    } else if cfg.enabled == Some(false) {
        TelemetryState::Disabled("config")
    } else {
        TelemetryState::Enabled
    };
    let endpoint = env
        .var("ATOMCODE_TELEMETRY_ENDPOINT")
        .or_else(|| cfg.endpoint.clone())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    ResolvedConfig {
        state,
        endpoint,
        atomcode_dir,
    }
}

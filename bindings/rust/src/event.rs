//! Upstream's event schema (schema_version 1) as Rust types: the `Event`
//! enum has one variant per event id, with upstream's field names and
//! types. Field names come from `schema.rs`, generated from the C schema
//! tables, so a renamed field breaks this file's build, not the wire.

use crate::schema::*;
use std::fmt;
use std::str::FromStr;

/// A UUID as 16 bytes; written lowercase and hyphenated. Convert from the
/// `uuid` crate with `Uuid::from_bytes(u.into_bytes())`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid([u8; 16]);

impl Uuid {
    pub const fn nil() -> Self {
        Uuid([0; 16])
    }
    pub const fn from_bytes(b: [u8; 16]) -> Self {
        Uuid(b)
    }
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
    /// Parse the hyphenated form (either case).
    pub fn parse_str(s: &str) -> Result<Self, UuidError> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(UuidError);
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if b[i] != b'-' {
                    return Err(UuidError);
                }
                i += 1;
                continue;
            }
            let hi = hex(b[i]).ok_or(UuidError)?;
            let lo = hex(b[i + 1]).ok_or(UuidError)?;
            out[n] = hi << 4 | lo;
            n += 1;
            i += 2;
        }
        Ok(Uuid(out))
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Not a hyphenated UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UuidError;

impl fmt::Display for UuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UUID")
    }
}

impl std::error::Error for UuidError {}

impl FromStr for Uuid {
    type Err = UuidError;
    fn from_str(s: &str) -> Result<Self, UuidError> {
        Uuid::parse_str(s)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i == 4 || i == 6 || i == 8 || i == 10 {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Enums written in snake_case on the wire.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident => $s:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($var),+ }
        impl $name {
            /// The value as written on the wire.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// The session surface (`mode`).
    SessionMode {
        Headless => "headless", Tui => "tui", Ide => "ide", Vscode => "vscode",
        Jetbrains => "jetbrains", Webui => "webui", AtomcodeAir => "atomcode_desktop",
        Channel => "channel",
    }
);
wire_enum!(
    /// Where the working directory's git origin is hosted.
    RepoHost {
        Gitcode => "gitcode", Atomgit => "atomgit", Github => "github",
        Gitlab => "gitlab", Other => "other", None => "none",
    }
);
wire_enum!(LlmErrorKind {
    NetworkError => "network_error", AuthError => "auth_error",
    RateLimited => "rate_limited", ServerError => "server_error",
    StreamInterrupted => "stream_interrupted", StreamTimeout => "stream_timeout",
    ContextOverflow => "context_overflow", Other => "other",
});
wire_enum!(ToolErrorKind {
    NotFound => "not_found", InvalidArgs => "invalid_args",
    ExecutionFailed => "execution_failed", DeniedByUser => "denied_by_user",
    BlockedByHook => "blocked_by_hook", LoopDetected => "loop_detected",
    SkillNotFound => "skill_not_found", SkillDisabled => "skill_disabled",
    SkillEmptyTemplate => "skill_empty_template", Warning => "warning", Other => "other",
});
wire_enum!(McpErrorKind {
    NetworkError => "network_error", AuthError => "auth_error",
    ServerError => "server_error", ExecutionFailed => "execution_failed",
    Timeout => "timeout", Other => "other",
});
wire_enum!(CodingplanErrorKind {
    AuthError => "auth_error", AuthExpired => "auth_expired",
    ExecutionFailed => "execution_failed", NetworkError => "network_error",
    ServerError => "server_error", Other => "other",
});
wire_enum!(UseCommandErrorKind {
    ExecutionFailed => "execution_failed", InvalidArgs => "invalid_args",
    NotFound => "not_found", Other => "other",
});
wire_enum!(McpTransport {
    Stdio => "stdio", Sse => "sse", StreamableHttp => "streamable_http",
});
wire_enum!(CodingplanResult { Success => "success", Fail => "fail" });

/// `repo_origin`: the host class of the git origin; the URL is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoOrigin {
    pub host: RepoHost,
    pub has_git: bool,
}

/// One telemetry event: upstream's eleven variants and fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    OpenAtomcode {
        /// Written only when true.
        dangerously_skip_permissions: bool,
    },
    LlmChat {
        duration_ms: u32,
        tool_calls_count: u32,
        input_tokens: u32,
        output_tokens: u32,
        cached_tokens: u32,
        had_error: bool,
        context_window: u32,
        system_tokens: u32,
        tool_def_tokens: u32,
        tool_result_tokens: u32,
        message_tokens: u32,
        messages_count: u32,
        error_kind: Option<LlmErrorKind>,
        error_data: Option<String>,
    },
    ToolCall {
        name: String,
        success: bool,
        duration_ms: u32,
        error_kind: Option<ToolErrorKind>,
        error_data: Option<String>,
    },
    UseCommand {
        type_: String,
        success: Option<bool>,
        error_kind: Option<UseCommandErrorKind>,
        error_data: Option<String>,
    },
    McpConnect {
        server_name: String,
        transport: McpTransport,
        success: bool,
        duration_ms: Option<u32>,
        error_kind: Option<McpErrorKind>,
        error_data: Option<String>,
    },
    LoginSuccess {
        invite_code: Option<String>,
        install_uuid: Option<Uuid>,
    },
    InstallCompleted {
        invite_code: String,
        install_uuid: Uuid,
    },
    TakeCodingplan {
        type_: CodingplanResult,
        error_kind: Option<CodingplanErrorKind>,
        error_data: Option<String>,
    },
    Panic {
        location: String,
        message_head: String,
        thread: String,
        backtrace_top_5: Vec<String>,
        error_kind: Option<String>,
        error_data: Option<String>,
    },
    TelemetryDisabled,
    CodingplanOfficialBuildRequired,
}

/// A payload value for the C builder.
pub(crate) enum Value<'a> {
    Str(&'a str),
    Owned(String),
    UInt(u64),
    Bool(bool),
    StrV(&'a [String]),
}

impl Event {
    /// The wire `event_id`.
    pub fn event_id(&self) -> &'static str {
        match self {
            Event::OpenAtomcode { .. } => EV_OPEN_ATOMCODE,
            Event::LlmChat { .. } => EV_LLM_CHAT,
            Event::ToolCall { .. } => EV_TOOL_CALL,
            Event::UseCommand { .. } => EV_USE_COMMAND,
            Event::McpConnect { .. } => EV_MCP_CONNECT,
            Event::LoginSuccess { .. } => EV_LOGIN_SUCCESS,
            Event::InstallCompleted { .. } => EV_INSTALL_COMPLETED,
            Event::TakeCodingplan { .. } => EV_TAKE_CODINGPLAN,
            Event::Panic { .. } => EV_PANIC,
            Event::TelemetryDisabled => EV_TELEMETRY_DISABLED,
            Event::CodingplanOfficialBuildRequired => EV_CODINGPLAN_OFFICIAL_BUILD_REQUIRED,
        }
    }

    /// The payload fields that are present, as (name, value).
    pub(crate) fn fields(&self) -> Vec<(&'static str, Value<'_>)> {
        use Value::*;
        let mut v: Vec<(&'static str, Value<'_>)> = Vec::with_capacity(14);
        fn opt<'a>(
            v: &mut Vec<(&'static str, Value<'a>)>,
            name: &'static str,
            x: Option<Value<'a>>,
        ) {
            if let Some(x) = x {
                v.push((name, x));
            }
        }
        match self {
            Event::OpenAtomcode {
                dangerously_skip_permissions,
            } => {
                if *dangerously_skip_permissions {
                    v.push((F_DANGEROUSLY_SKIP_PERMISSIONS, Bool(true)));
                }
            }
            Event::LlmChat {
                duration_ms,
                tool_calls_count,
                input_tokens,
                output_tokens,
                cached_tokens,
                had_error,
                context_window,
                system_tokens,
                tool_def_tokens,
                tool_result_tokens,
                message_tokens,
                messages_count,
                error_kind,
                error_data,
            } => {
                v.push((F_DURATION_MS, UInt(*duration_ms as u64)));
                v.push((F_TOOL_CALLS_COUNT, UInt(*tool_calls_count as u64)));
                v.push((F_INPUT_TOKENS, UInt(*input_tokens as u64)));
                v.push((F_OUTPUT_TOKENS, UInt(*output_tokens as u64)));
                v.push((F_CACHED_TOKENS, UInt(*cached_tokens as u64)));
                v.push((F_HAD_ERROR, Bool(*had_error)));
                v.push((F_CONTEXT_WINDOW, UInt(*context_window as u64)));
                v.push((F_SYSTEM_TOKENS, UInt(*system_tokens as u64)));
                v.push((F_TOOL_DEF_TOKENS, UInt(*tool_def_tokens as u64)));
                v.push((F_TOOL_RESULT_TOKENS, UInt(*tool_result_tokens as u64)));
                v.push((F_MESSAGE_TOKENS, UInt(*message_tokens as u64)));
                v.push((F_MESSAGES_COUNT, UInt(*messages_count as u64)));
                opt(&mut v, F_ERROR_KIND, error_kind.map(|k| Str(k.as_str())));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::ToolCall {
                name,
                success,
                duration_ms,
                error_kind,
                error_data,
            } => {
                v.push((F_NAME, Str(name)));
                v.push((F_SUCCESS, Bool(*success)));
                v.push((F_DURATION_MS, UInt(*duration_ms as u64)));
                opt(&mut v, F_ERROR_KIND, error_kind.map(|k| Str(k.as_str())));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::UseCommand {
                type_,
                success,
                error_kind,
                error_data,
            } => {
                v.push((F_TYPE, Str(type_)));
                opt(&mut v, F_SUCCESS, success.map(Bool));
                opt(&mut v, F_ERROR_KIND, error_kind.map(|k| Str(k.as_str())));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::McpConnect {
                server_name,
                transport,
                success,
                duration_ms,
                error_kind,
                error_data,
            } => {
                v.push((F_SERVER_NAME, Str(server_name)));
                v.push((F_TRANSPORT, Str(transport.as_str())));
                v.push((F_SUCCESS, Bool(*success)));
                opt(&mut v, F_DURATION_MS, duration_ms.map(|d| UInt(d as u64)));
                opt(&mut v, F_ERROR_KIND, error_kind.map(|k| Str(k.as_str())));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::LoginSuccess {
                invite_code,
                install_uuid,
            } => {
                opt(&mut v, F_INVITE_CODE, invite_code.as_deref().map(Str));
                opt(&mut v, F_INSTALL_UUID, install_uuid.map(|u| Owned(u.to_string())));
            }
            Event::InstallCompleted {
                invite_code,
                install_uuid,
            } => {
                v.push((F_INVITE_CODE, Str(invite_code)));
                v.push((F_INSTALL_UUID, Owned(install_uuid.to_string())));
            }
            Event::TakeCodingplan {
                type_,
                error_kind,
                error_data,
            } => {
                v.push((F_TYPE, Str(type_.as_str())));
                opt(&mut v, F_ERROR_KIND, error_kind.map(|k| Str(k.as_str())));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::Panic {
                location,
                message_head,
                thread,
                backtrace_top_5,
                error_kind,
                error_data,
            } => {
                v.push((F_LOCATION, Str(location)));
                v.push((F_MESSAGE_HEAD, Str(message_head)));
                v.push((F_THREAD, Str(thread)));
                v.push((F_BACKTRACE_TOP_5, StrV(backtrace_top_5)));
                opt(&mut v, F_ERROR_KIND, error_kind.as_deref().map(Str));
                opt(&mut v, F_ERROR_DATA, error_data.as_deref().map(Str));
            }
            Event::TelemetryDisabled | Event::CodingplanOfficialBuildRequired => {}
        }
        v
    }
}

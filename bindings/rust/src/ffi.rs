//! The C API of libatomcode-telemetry (include/atomcode/telemetry.h, API 2),
#![allow(dead_code)]
//! declared by hand: the structs mirror the header field for field.

use std::os::raw::{c_char, c_int, c_uint};

pub const ATC_OK: c_int = 0;
pub const ATC_E_INVAL: c_int = 1;
pub const ATC_E_NOMEM: c_int = 2;
pub const ATC_E_DISABLED: c_int = 3;
pub const ATC_E_JSON: c_int = 4;
pub const ATC_E_SCHEMA: c_int = 5;
pub const ATC_E_IO: c_int = 6;

pub const ATC_F_NO_SPAWN: c_uint = 0x01;
pub const ATC_F_NO_REPO_ORIGIN: c_uint = 0x02;
pub const ATC_F_NO_AGENT: c_uint = 0x04;

pub const ATC_NOTICE_MAX: usize = 512;

#[repr(C)]
pub struct Atc {
    _private: [u8; 0],
}

#[repr(C)]
pub struct AtcEvent {
    _private: [u8; 0],
}

#[repr(C)]
pub struct AtcOptions {
    pub size: usize,
    pub app_version: *const c_char,
    pub mode: *const c_char,
    pub no_telemetry: c_int,
    pub provider: *const c_char,
    pub provider_base_url: *const c_char,
    pub model: *const c_char,
    pub account_id: *const c_char,
    pub session_id: *const c_char,
    pub surface: *const c_char,
    pub cwd: *const c_char,
    pub close_timeout_ms: c_uint,
    pub flags: c_uint,
    pub durable_timeout_ms: c_uint,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct AtcStats {
    pub emitted: u64,
    pub sent: u64,
    pub buffered: u64,
    pub acked: u64,
    pub fallback: u64,
    pub rejected: u64,
    pub lost: u64,
    pub reconnects: u64,
    pub spawns: u64,
}

#[repr(C)]
pub struct AtcErrorInfo {
    pub size: usize,
    pub err: c_int,
    pub code: [c_char; 32],
    pub field: [c_char; 64],
    pub event_id: [c_char; 48],
    pub rule: [c_char; 256],
    pub refused: u64,
}

#[repr(C)]
pub struct AtcScope {
    pub size: usize,
    pub mode: *const c_char,
    pub session_id: *const c_char,
    pub provider: *const c_char,
    pub provider_host: *const c_char,
    pub model: *const c_char,
    pub surface: *const c_char,
    pub repo_host: *const c_char,
    pub repo_has_git: c_int,
    pub turn: i64,
    pub round: i64,
    pub request: i64,
}

extern "C" {
    pub fn atc_open(opt: *const AtcOptions, out: *mut *mut Atc) -> c_int;
    pub fn atc_enabled(h: *mut Atc, reason: *mut *const c_char) -> c_int;
    pub fn atc_set_mode(h: *mut Atc, mode: *const c_char) -> c_int;
    pub fn atc_set_account(h: *mut Atc, account_id: *const c_char) -> c_int;
    pub fn atc_set_session(h: *mut Atc, session_id: *const c_char) -> c_int;
    pub fn atc_flush(h: *mut Atc, timeout_ms: c_uint) -> c_int;
    pub fn atc_close(h: *mut Atc) -> c_int;
    pub fn atc_get_stats_size(h: *mut Atc, st: *mut AtcStats, size: usize);
    pub fn atc_strerror(e: c_int) -> *const c_char;
    pub fn atc_first_run_notice(h: *mut Atc, buf: *mut c_char, len: usize) -> c_int;
    pub fn atc_last_error(h: *mut Atc, out: *mut AtcErrorInfo) -> c_int;
    pub fn atc_event_new(event_id: *const c_char, out: *mut *mut AtcEvent) -> c_int;
    pub fn atc_event_reset(ev: *mut AtcEvent, event_id: *const c_char) -> c_int;
    pub fn atc_event_free(ev: *mut AtcEvent);
    pub fn atc_event_str(ev: *mut AtcEvent, field: *const c_char, value: *const c_char) -> c_int;
    pub fn atc_event_uint(ev: *mut AtcEvent, field: *const c_char, value: u64) -> c_int;
    pub fn atc_event_bool(ev: *mut AtcEvent, field: *const c_char, value: c_int) -> c_int;
    pub fn atc_event_strv(
        ev: *mut AtcEvent,
        field: *const c_char,
        values: *const *const c_char,
        n: usize,
    ) -> c_int;
    pub fn atc_last_error_event(ev: *const AtcEvent, out: *mut AtcErrorInfo) -> c_int;
    pub fn atc_track(h: *mut Atc, ev: *const AtcEvent, scope: *const AtcScope) -> c_int;
    pub fn atc_track_durable(h: *mut Atc, ev: *const AtcEvent, scope: *const AtcScope) -> c_int;
}

//! Upstream's install attribution: `<atomcode_dir>/pending_invite`
//! (`invite_code`, `install_uuid`, `attempted_at` lines, at most 30 days
//! old) yields one durable `install_completed` per install, remembered in
//! `referral_state.json`.

use crate::event::Uuid;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

const MAX_AGE_S: i64 = 30 * 24 * 3600;

pub(crate) struct Invite {
    pub invite_code: String,
    pub install_uuid: Uuid,
}

pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A valid, fresh pending invite, else None.
pub(crate) fn load(dir: &Path) -> Option<Invite> {
    let text = fs::read_to_string(dir.join("pending_invite")).ok()?;
    let (mut code, mut uuid, mut at) = (None, None, None);
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            match k.trim() {
                "invite_code" => code = Some(v.to_string()),
                "install_uuid" => uuid = Uuid::parse_str(v).ok(),
                "attempted_at" => at = v.parse::<i64>().ok(),
                _ => {}
            }
        }
    }
    let code = code?;
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if now_s() - at? > MAX_AGE_S {
        return None;
    }
    Some(Invite {
        invite_code: code,
        install_uuid: uuid?,
    })
}

/// Does referral_state.json already record this install?
pub(crate) fn already_sent(dir: &Path, uuid: &Uuid) -> bool {
    let text = match fs::read_to_string(dir.join("referral_state.json")) {
        Ok(t) => t,
        Err(_) => return false,
    };
    let key = "\"install_completed_install_uuid\"";
    let rest = match text.find(key) {
        Some(i) => text[i + key.len()..].trim_start(),
        None => return false,
    };
    let rest = match rest.strip_prefix(':') {
        Some(r) => r.trim_start(),
        None => return false,
    };
    let rest = match rest.strip_prefix('"') {
        Some(r) => r,
        None => return false,
    };
    match rest.split_once('"') {
        Some((v, _)) => Uuid::parse_str(v).map_or(false, |u| u == *uuid),
        None => false,
    }
}

pub(crate) fn remember(dir: &Path, uuid: &Uuid) {
    let _ = fs::write(
        dir.join("referral_state.json"),
        format!(
            "{{\"install_completed_install_uuid\":\"{uuid}\",\"install_completed_at\":{}}}",
            now_s()
        ),
    );
}

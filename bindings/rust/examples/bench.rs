//! Timings of the crate for `make bench` (tests/bench/bench.c runs it with
//! ATOMCODE_HOME set to a home whose agent is up):
//!
//!   bench track N   N track() calls of an llm_chat event; prints the
//!                   p50, p99 and p99.9 latency in ns
//!   bench life N    N short-CLI lifetimes in this process: init, 3 tracks,
//!                   shutdown(500 ms); prints p50, p99 and max in ns
//!   bench cli       one short CLI: init, 3 tracks, shutdown(500 ms), exit
//!                   (the driver times the whole process)

use atomcode_telemetry::{Event, Telemetry};
use std::time::{Duration, Instant};

fn llm() -> Event {
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
    }
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn short_cli() {
    let tel = Telemetry::init_from_env("4.22.3", false);
    tel.track(Event::OpenAtomcode {
        dangerously_skip_permissions: false,
    });
    tel.track(llm());
    tel.track(llm());
    tel.shutdown_blocking(Duration::from_millis(500));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    match args.get(1).map(String::as_str) {
        Some("track") => {
            let tel = Telemetry::init_from_env("4.22.3", false);
            if !tel.is_enabled() {
                eprintln!("bench: telemetry disabled");
                std::process::exit(1);
            }
            let mut lat = Vec::with_capacity(n);
            for i in 0..n + 1000 {
                let ev = llm();
                let t0 = Instant::now();
                tel.track(ev);
                let dt = t0.elapsed().as_nanos() as u64;
                if i >= 1000 {
                    lat.push(dt);
                }
            }
            tel.shutdown_blocking(Duration::from_millis(1000));
            let st = tel.stats();
            let (p50, p99, p999) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 0.999));
            println!("{p50} {p99} {p999} {} {}", st.acked, st.fallback);
        }
        Some("life") => {
            let mut lat = Vec::with_capacity(n);
            for i in 0..n + 10 {
                let t0 = Instant::now();
                short_cli();
                if i >= 10 {
                    lat.push(t0.elapsed().as_nanos() as u64);
                }
            }
            let max = lat.iter().copied().max().unwrap_or(0);
            println!("{} {} {max}", pct(&mut lat, 0.5), pct(&mut lat, 0.99));
        }
        Some("cli") => short_cli(),
        _ => {
            eprintln!("usage: bench track N | life N | cli");
            std::process::exit(2);
        }
    }
}

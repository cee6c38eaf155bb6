//! Finds libatomcode-telemetry with `pkg-config atomcode-telemetry` and links
//! it. ATOMCODE_TELEMETRY_STATIC=1 links the static library (and its
//! private dependencies) instead. Only the standard library is used.

use std::env;
use std::process::Command;

fn pkg_config(args: &[&str]) -> String {
    let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let out = Command::new(&pc)
        .args(args)
        .arg("atomcode-telemetry")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {pc}: {e}; install pkg-config"));
    if !out.status.success() {
        panic!(
            "{pc} {args:?} atomcode-telemetry failed: {}\n\
             install libatomcode-telemetry (make install) or set PKG_CONFIG_PATH",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("pkg-config output is not UTF-8")
}

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=ATOMCODE_TELEMETRY_STATIC");
    let stat = env::var("ATOMCODE_TELEMETRY_STATIC").map_or(false, |v| v == "1");
    let libs = if stat {
        pkg_config(&["--libs", "--static"])
    } else {
        pkg_config(&["--libs"])
    };
    for tok in libs.split_whitespace() {
        if let Some(dir) = tok.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            if !stat {
                // An uninstalled or non-system prefix: find the .so at run time.
                println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
            }
        } else if let Some(lib) = tok.strip_prefix("-l") {
            if lib == "atomcode-telemetry" && stat {
                println!("cargo:rustc-link-lib=static={lib}");
            } else {
                println!("cargo:rustc-link-lib={lib}");
            }
        }
    }
    if stat {
        println!("cargo:rustc-link-lib=pthread");
    }
}

//! The `servers` list of adapters that drive a pool of servers (VMs, emulators):
//! entries as URLs or port ranges, expanded and checked. Pure Rust, so adapter model
//! crates test it natively.

/// Most ports one range entry may name.
pub const MAX_RANGE: u32 = 1024;

/// Expand a run config's `servers` entries, each `http(s)://host:port` or
/// `http(s)://host:A-B` (every port from A to B), into base URLs without a trailing
/// slash. The error names the entry and what would be valid.
pub fn expand(entries: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in entries {
        for url in expand_one(entry)? {
            if out.contains(&url) {
                return Err(format!("servers: `{url}` is listed twice"));
            }
            out.push(url);
        }
    }
    Ok(out)
}

fn expand_one(entry: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| {
        Err(format!(
            "servers: `{entry}` {why} (e.g. `http://127.0.0.1:5000`, or `http://127.0.0.1:5000-5007` for eight servers on consecutive ports)"
        ))
    };
    let trimmed = entry.trim_end_matches('/');
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((s @ ("http" | "https"), rest)) => (s, rest),
        _ => return bad("is not an http(s) URL"),
    };
    if rest.contains(['/', '?', '#', '@', ' ']) {
        return bad("has a path or other parts: name `host:port` only");
    }
    let Some((host, ports)) = rest.rsplit_once(':') else {
        return bad("has no port");
    };
    if host.is_empty() {
        return bad("has no host");
    }
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    let (lo, hi) = match ports.split_once('-') {
        None => match port(ports) {
            Some(p) => (p, p),
            None => return bad("has no valid port"),
        },
        Some((a, b)) => match (port(a), port(b)) {
            (Some(a), Some(b)) if a <= b => (a, b),
            (Some(_), Some(_)) => return bad("has a port range whose end is below its start"),
            _ => return bad("has no valid port range"),
        },
    };
    if u32::from(hi - lo) + 1 > MAX_RANGE {
        return bad(&format!("names more than {MAX_RANGE} ports"));
    }
    Ok((lo..=hi)
        .map(|p| format!("{scheme}://{host}:{p}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn urls_and_port_ranges_expand_in_order() {
        assert_eq!(
            expand(&s(&["http://10.0.0.2:5000/", "http://127.0.0.1:6000-6002"])).unwrap(),
            s(&[
                "http://10.0.0.2:5000",
                "http://127.0.0.1:6000",
                "http://127.0.0.1:6001",
                "http://127.0.0.1:6002"
            ])
        );
        assert_eq!(expand(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_entries_are_named_with_what_would_be_valid() {
        for (entry, why) in [
            ("127.0.0.1:5000", "is not an http(s) URL"),
            ("http://h:5000/api", "has a path"),
            ("http://h", "has no port"),
            ("http://:5000", "has no host"),
            ("http://h:x", "no valid port"),
            ("http://h:0", "no valid port"),
            ("http://h:5010-5000", "end is below its start"),
            ("http://h:1-2000", "more than 1024 ports"),
        ] {
            let e = expand(&s(&[entry])).unwrap_err();
            assert!(
                e.starts_with(&format!("servers: `{entry}` {why}")) || e.contains(why),
                "{entry}: {e}"
            );
            assert!(e.contains("http://127.0.0.1:5000-5007"), "{e}");
        }
        let e = expand(&s(&["http://h:1-3", "http://h:2"])).unwrap_err();
        assert_eq!(e, "servers: `http://h:2` is listed twice");
    }
}

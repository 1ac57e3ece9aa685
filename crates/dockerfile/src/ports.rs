//! `EXPOSE` port specs, read as Docker reads them (go-connections' `nat.ParsePortSpec`):
//! `[[ip:]hostPort:]containerPort[-end][/proto]`; only the container ports are exposed, a
//! range expands to each of its ports, the protocol is lower-cased, and the messages of bad
//! specs are Docker's own (`Invalid containerPort: abc`).

/// The exposed ports (`"80/tcp"`, …) one `EXPOSE` word stands for, in order.
pub fn expose_ports(spec: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (ip, host) = match n {
        1 => ("".to_string(), ""),
        2 => ("".to_string(), parts[0]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container) = split_proto(container);
    let bare_ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(&ip);
    if !ip.is_empty() && bare_ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("Invalid ip address: {bare_ip}"));
    }
    if container.is_empty() {
        return Err(format!("No port specified: {spec}<empty>"));
    }
    let (start, end) =
        port_range(container).ok_or_else(|| format!("Invalid containerPort: {container}"))?;
    if !host.is_empty() {
        let (hs, he) = port_range(host).ok_or_else(|| format!("Invalid hostPort: {host}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "Invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
    }
    let lower = proto.to_ascii_lowercase();
    if !matches!(lower.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    Ok((start..=end).map(|p| format!("{p}/{lower}")).collect())
}

/// `80/udp` → (`udp`, `80`); no or an empty protocol is `tcp`.
fn split_proto(raw: &str) -> (&str, &str) {
    let mut it = raw.split('/');
    let port = it.next().unwrap_or("");
    match it.next() {
        Some(p) if !p.is_empty() => (p, port),
        _ => ("tcp", port),
    }
}

/// `80` or `8000-8002` as 16-bit numbers, start not after end (Go's `ParseUint(s, 10, 16)`:
/// digits only).
fn port_range(s: &str) -> Option<(u32, u32)> {
    let num = |t: &str| -> Option<u32> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u16>().ok().map(u32::from)
    };
    match s.split_once('-') {
        None => num(s).map(|p| (p, p)),
        Some((a, rest)) => {
            // Go splits on every '-' and reads the first two parts only.
            let b = rest.split('-').next().unwrap_or("");
            let (a, b) = (num(a)?, num(b)?);
            (b >= a).then_some((a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_specs_read_as_docker_reads_them() {
        // Each row checked against Docker 20.10's `EXPOSE`.
        for (spec, want) in [
            ("80", Ok(vec!["80/tcp"])),
            ("8000-8002", Ok(vec!["8000/tcp", "8001/tcp", "8002/tcp"])),
            ("1-2/udp", Ok(vec!["1/udp", "2/udp"])),
            ("80/UDP", Ok(vec!["80/udp"])),
            ("0", Ok(vec!["0/tcp"])),
            ("127.0.0.1:80:81", Ok(vec!["81/tcp"])),
            ("8080:80", Ok(vec!["80/tcp"])),
            (":80", Ok(vec!["80/tcp"])),
            ("53/sctp", Ok(vec!["53/sctp"])),
            ("abc", Err("Invalid containerPort: abc")),
            ("65536", Err("Invalid containerPort: 65536")),
            ("9-7", Err("Invalid containerPort: 9-7")),
            ("80/foo", Err("Invalid proto: foo")),
            ("x:80:80", Err("Invalid ip address: x")),
            ("a:80", Err("Invalid hostPort: a")),
        ] {
            let got = expose_ports(spec);
            let want = want
                .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(str::to_string);
            assert_eq!(got, want, "{spec}");
        }
    }
}

//! Parsing link speeds given on the command line (`10mbit`, `2MB/s`, ...) into bytes per second.
//!
//! Prefixes are decimal (k = 10^3, M = 10^6, G = 10^9). Bit units: `bit`, `kbit`, `mbit`, `gbit`
//! (any case, optional `/s`) and `bps`, `kbps`, `mbps`, `gbps`. Byte units: `B/s`, `kB/s`, `MB/s`,
//! `GB/s` or `MBps` (the `B` must be upper case: `mb/s` is rejected as ambiguous), or spelled out
//! as `byte/s`, `kbyte/s`, `mbyte/s`, `gbyte/s`. A plain number is Mbit/s.

/// Bytes per second of a link speed such as `10mbit`, `1.5gbit`, `800kbit`, `2MB/s` or `25`
/// (Mbit/s). The value must be finite and positive.
pub fn parse_bandwidth(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("bad bandwidth '{s}': expected a number with a unit such as 10mbit or 2MB/s")
    })?;
    let per_second = unit_bytes_per_second(unit.trim())
        .ok_or_else(|| format!("bad bandwidth unit in '{s}': use bit, kbit, mbit, gbit (or kbps, mbps, gbps), B/s, kB/s, MB/s, GB/s, or no unit for Mbit/s"))?;
    let bytes = value * per_second;
    if bytes.is_finite() && bytes > 0.0 {
        Ok(bytes)
    } else {
        Err(format!("bad bandwidth '{s}': must be positive and finite"))
    }
}

/// Bytes per second of one `unit`, or `None` when the unit is unknown or ambiguous.
fn unit_bytes_per_second(unit: &str) -> Option<f64> {
    if unit.is_empty() {
        return Some(1e6 / 8.0);
    }
    // Byte units are told apart from bit units by an upper-case `B` before `/s` or `ps`.
    let byte_unit = unit
        .strip_suffix("B/s")
        .or_else(|| unit.strip_suffix("Bps"));
    if let Some(prefix) = byte_unit {
        return prefix_factor(prefix);
    }
    let lower = unit.to_ascii_lowercase();
    let lower = lower.strip_suffix("/s").unwrap_or(&lower);
    if let Some(prefix) = lower.strip_suffix("byte") {
        return prefix_factor(prefix);
    }
    if lower.ends_with("b") {
        return None; // `mb`, `mb/s`: bits or bytes? Say which.
    }
    let prefix = lower
        .strip_suffix("bit")
        .or_else(|| lower.strip_suffix("bps"))?;
    prefix_factor(prefix).map(|f| f / 8.0)
}

/// The decimal factor of an SI prefix (`""`, `k`, `M`, `G`; any case).
fn prefix_factor(prefix: &str) -> Option<f64> {
    match prefix.to_ascii_lowercase().as_str() {
        "" => Some(1.0),
        "k" => Some(1e3),
        "m" => Some(1e6),
        "g" => Some(1e9),
        _ => None,
    }
}

/// A bandwidth for people: `12.5 Mbit/s`.
pub fn format_bandwidth(bytes_per_s: f64) -> String {
    let bits = bytes_per_s * 8.0;
    let (v, unit) = if bits >= 1e9 {
        (bits / 1e9, "Gbit/s")
    } else if bits >= 1e6 {
        (bits / 1e6, "Mbit/s")
    } else {
        (bits / 1e3, "kbit/s")
    };
    let v = format!("{v:.3}");
    let v = v.trim_end_matches('0').trim_end_matches('.');
    format!("{v} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bit_and_byte_units() {
        let cases = [
            ("10mbit", 1.25e6),
            ("10Mbit", 1.25e6),
            ("10mbit/s", 1.25e6),
            ("10Mbps", 1.25e6),
            ("1.5gbit", 1.875e8),
            ("800kbit", 1e5),
            ("800 kbit", 1e5),
            ("8000bit", 1e3),
            ("2MB/s", 2e6),
            ("2MBps", 2e6),
            ("2mbyte/s", 2e6),
            ("500kB/s", 5e5),
            ("500KB/s", 5e5),
            ("1GB/s", 1e9),
            ("64B/s", 64.0),
            ("10", 1.25e6),
            (" 1e3 ", 1.25e8),
            ("0.5", 62_500.0),
        ];
        for (s, want) in cases {
            let got = parse_bandwidth(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!((got - want).abs() <= 1e-9 * want, "{s}: {got} != {want}");
        }
    }

    #[test]
    fn rejects_garbage_and_ambiguity() {
        for s in [
            "",
            "fast",
            "10mb",
            "10mb/s",
            "10 furlongs",
            "0mbit",
            "-5mbit",
            "1e999",
            "inf",
            "nan",
            "mbit",
            "10tbit",
        ] {
            assert!(parse_bandwidth(s).is_err(), "{s} should be rejected");
        }
        let err = parse_bandwidth("10mb/s").unwrap_err();
        assert!(err.contains("MB/s") && err.contains("mbit"), "{err}");
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_bandwidth(1.25e6), "10 Mbit/s");
        assert_eq!(format_bandwidth(1.875e8), "1.5 Gbit/s");
        assert_eq!(format_bandwidth(1e5), "800 kbit/s");
    }
}

//! Helpers the workspace's tests share, so that each exists once: a free loopback port and
//! seeded inputs for a model. A dev-dependency only; nothing here is for production code.
//!
//! It depends on `graph` and `engine` alone, so that any crate above them (runtime, server,
//! client, cli) can use it in its tests without a cycle.
#![forbid(unsafe_code)]

use loadpart_engine::Tensor;
use loadpart_graph::{OnnxModel, Shapes};

/// A free loopback port: bound, noted and released, for a server that must come back on the
/// same port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Deterministic, seed-dependent values in [-0.5, 0.5] for every (float) input of `model` at
/// `batch`, by name: every seed gives new values, and the same seed the same ones in every
/// process.
pub fn seeded_inputs(model: &OnnxModel, batch: usize, seed: u32) -> Vec<(String, Tensor)> {
    let shapes = Shapes::infer(model, batch).expect("the model's shapes");
    model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.get(name).expect("an input with a shape");
            let data = (0..ty.elements())
                .map(|i| {
                    // murmur3's finalizer over (index, seed).
                    let mut h = (i as u32).wrapping_add(seed.wrapping_mul(0x9E37_79B9));
                    h ^= h >> 16;
                    h = h.wrapping_mul(0x85EB_CA6B);
                    h ^= h >> 13;
                    h = h.wrapping_mul(0xC2B2_AE35);
                    h ^= h >> 16;
                    h as f32 / u32::MAX as f32 - 0.5
                })
                .collect();
            let t = Tensor::f32(ty.dims.clone(), data).expect("a tensor of the input's shape");
            (name.clone(), t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_different_values_in_range() {
        let m = loadpart_graph::zoo::generate("chain").unwrap();
        let (a, b) = (seeded_inputs(&m, 2, 1), seeded_inputs(&m, 2, 2));
        assert_eq!(a.len(), m.inputs().len());
        assert_eq!(a[0].1.shape[0], 2);
        let (va, vb) = (a[0].1.as_f32().unwrap(), b[0].1.as_f32().unwrap());
        assert_ne!(va, vb);
        assert_eq!(va, seeded_inputs(&m, 2, 1)[0].1.as_f32().unwrap());
        assert!(va.iter().all(|v| (-0.5..=0.5).contains(v)));
        assert_ne!(free_port(), 0);
    }
}

/// A test CA and a server certificate it signed, for `localhost` and 127.0.0.1, as PEM files.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate: what clients trust.
    pub ca: std::path::PathBuf,
    /// The server's certificate chain.
    pub cert: std::path::PathBuf,
    /// The server's private key.
    pub key: std::path::PathBuf,
}

/// Makes a CA and a server certificate in `dir` with the `openssl` command (EC P-256, valid
/// one day). `Err` names what failed, e.g. no `openssl` on the PATH: tests skip with it.
pub fn test_pki(dir: &std::path::Path) -> Result<TestPki, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let run = |args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("running openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=loadpart test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(&ca)?;
    let mut csr = vec!["req", "-nodes", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    run(&csr)?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| format!("writing server.ext: {e}"))?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ])?;
    Ok(TestPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    })
}

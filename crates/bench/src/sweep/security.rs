//! A sweep with `security = true`: what TLS and device tokens cost. The server gets a throwaway
//! CA's certificate (made with the `openssl` command, as the tests make theirs) and a tokens
//! file with one random token for the measured device and one per load-generator identity;
//! every client connects over TLS with its own token, as a deployment would.

use std::path::PathBuf;

use anyhow::{Context, Result};
use loadpart_client::{Access, Token};
use loadpart_server::{ServerConfig, TlsFiles};
use rand::Rng;

use crate::loadgen::Identity;

/// The PKI and tokens of one model's run; its files are removed when it is dropped.
pub struct Security {
    dir: PathBuf,
    tls: TlsFiles,
    ca: PathBuf,
    tokens: PathBuf,
    measured: Token,
    load: Vec<Identity>,
}

impl Security {
    /// Makes a CA, a server certificate for `localhost` and 127.0.0.1, and tokens for the
    /// measured device and `load_devices` load-generator identities.
    pub fn new(load_devices: usize) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("loadpart-bench-pki-{}", std::process::id()));
        let pki = loadpart_testkit::test_pki(&dir)
            .map_err(|e| anyhow::anyhow!(e))
            .context("security = true needs the `openssl` command to make a throwaway CA")?;
        let mut lines = String::from("# Throwaway tokens of one `loadpart bench run`.\n");
        let mut token = |name: &str| -> Result<Token> {
            let t = random_token();
            lines.push_str(&format!("{name} {t}\n"));
            Ok(Token::new(t)?)
        };
        let measured = token("measured")?;
        let load = (0..load_devices.max(1))
            .map(|i| {
                let name = format!("load-{i}");
                Ok(Identity {
                    token: Some(token(&name)?),
                    name,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tokens = dir.join("tokens.txt");
        std::fs::write(&tokens, lines).with_context(|| format!("writing {}", tokens.display()))?;
        Ok(Self {
            dir,
            tls: TlsFiles {
                cert: pki.cert,
                key: pki.key,
            },
            ca: pki.ca,
            tokens,
            measured,
            load,
        })
    }

    /// Turns TLS and token checks on in the server's configuration.
    pub fn apply(&self, config: &mut ServerConfig) {
        config.tls = Some(self.tls.clone());
        config.tokens = Some(self.tokens.clone());
    }

    /// How the measured device (and the harness's direct client) connects.
    pub fn measured(&self) -> Access {
        Access {
            tls_ca: Some(self.ca.clone()),
            // The test bed's load generator reaches the server at 127.0.0.2, which the
            // certificate does not name; every client checks for `localhost`.
            tls_domain: Some("localhost".into()),
            token: Some(self.measured.clone()),
            device: None,
        }
    }

    /// How the load generator connects: the first identity's token by default (measuring the
    /// capacity sends as it), each identity's own on its requests.
    pub fn load_access(&self) -> Access {
        Access {
            token: self.load.first().and_then(|i| i.token.clone()),
            ..self.measured()
        }
    }

    /// The load generator's identities, each with its own token.
    pub fn load_identities(&self) -> Vec<Identity> {
        self.load.clone()
    }
}

impl Drop for Security {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 32 random alphanumeric characters (190 bits).
fn random_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_valid() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(Token::new(&a).is_ok());
    }
}

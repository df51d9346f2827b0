//! Device tokens: a table of `NAME TOKEN` lines read from a file, checked on every call of the
//! inference and loadpart services by a tonic interceptor ([`Authenticator`]).
//!
//! A request carries `authorization: Bearer TOKEN` in its gRPC metadata. A missing, malformed or
//! unknown token gets UNAUTHENTICATED with one fixed message, which names no device and no
//! token. The token is compared with every entry of the table, each comparison in time that
//! depends only on the stored token's length, and the whole table is always walked, so the
//! answer's timing tells nothing about which prefix matched or which entry. The device's name
//! goes into the request's extensions ([`DeviceName`]) for handlers, metrics and log lines.
//!
//! [`Tokens::reload`] re-reads the file (on SIGHUP in `loadpart serve`) and swaps the table
//! atomically; a bad file keeps the old table and is reported as an error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use prometheus_client::metrics::counter::Counter;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading the token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("token file {path} holds no token")]
    Empty { path: PathBuf },
}

/// Shortest token accepted in a file: a short token is a guessable one.
pub const MIN_TOKEN_LEN: usize = 16;

/// The name a token authenticates, put in the request's extensions by [`Authenticator`].
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceName(pub Arc<str>);

impl fmt::Debug for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceName({:?})", &*self.0)
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One table of tokens, as read from a file.
#[derive(Clone, Default)]
pub struct TokenTable {
    entries: Vec<(DeviceName, Vec<u8>)>,
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: a token never reaches a log line.
        f.debug_struct("TokenTable")
            .field(
                "devices",
                &self.entries.iter().map(|(n, _)| &*n.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenTable {
    /// Parses `NAME TOKEN` lines; blank lines and lines starting with `#` are skipped. Names and
    /// tokens must each be unique, a token at least [`MIN_TOKEN_LEN`] bytes, and nothing may
    /// follow the token. `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, TokenFileError> {
        let mut entries: Vec<(DeviceName, Vec<u8>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| TokenFileError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                reason: reason.to_string(),
            };
            let mut words = line.split_whitespace();
            let (Some(name), Some(token), None) = (words.next(), words.next(), words.next()) else {
                return Err(bad("expected `NAME TOKEN`"));
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(bad(&format!(
                    "the token is shorter than {MIN_TOKEN_LEN} characters"
                )));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("the token must be printable ASCII"));
            }
            if entries.iter().any(|(n, _)| &*n.0 == name) {
                return Err(bad(&format!("device {name:?} appears twice")));
            }
            if entries.iter().any(|(_, t)| t == token.as_bytes()) {
                return Err(bad("this token is already given to another device"));
            }
            entries.push((DeviceName(Arc::from(name)), token.as_bytes().to_vec()));
        }
        if entries.is_empty() {
            return Err(TokenFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Self { entries })
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Devices in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty (a parsed table never is).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The device whose token is `presented`, comparing with every entry (no early exit).
    pub fn device(&self, presented: &[u8]) -> Option<DeviceName> {
        let mut found = None;
        for (name, token) in &self.entries {
            if ct_eq(presented, token) {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// Equality in time that depends on `stored`'s length only: every byte of `stored` is compared,
/// and differences are folded together without a branch.
fn ct_eq(presented: &[u8], stored: &[u8]) -> bool {
    let mut diff = u8::from(presented.len() != stored.len());
    for (i, s) in stored.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(!s);
        diff |= p ^ s;
    }
    std::hint::black_box(diff) == 0
}

/// The server's token table and the file it came from; [`Tokens::reload`] swaps it.
#[derive(Debug)]
pub struct Tokens {
    path: PathBuf,
    table: RwLock<Arc<TokenTable>>,
}

impl Tokens {
    /// Reads the table at `path`.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        Ok(Self {
            path: path.to_path_buf(),
            table: RwLock::new(Arc::new(TokenTable::read(path)?)),
        })
    }

    /// The file the table is read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table now.
    pub fn current(&self) -> Arc<TokenTable> {
        self.table.read().clone()
    }

    /// Re-reads the file; on success the new table replaces the old one at once (requests in
    /// flight keep the table they were checked against) and its size is returned. On error the
    /// old table stays.
    pub fn reload(&self) -> Result<usize, TokenFileError> {
        let table = TokenTable::read(&self.path)?;
        let n = table.len();
        *self.table.write() = Arc::new(table);
        Ok(n)
    }

    /// Reloads and logs the outcome (never the tokens): what SIGHUP does.
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(n) => tracing::info!(file = %self.path.display(), devices = n, "tokens reloaded"),
            Err(e) => tracing::warn!(error = %e, "tokens not reloaded; the old table stays"),
        }
    }
}

/// The message of every refusal: the same whatever was wrong, naming no device.
pub const UNAUTHENTICATED_MESSAGE: &str = "missing or invalid bearer token";

/// The interceptor on the inference and loadpart services: with tokens configured, checks
/// `authorization: Bearer TOKEN` and puts the [`DeviceName`] in the request's extensions;
/// without, lets every request through unchanged.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    tokens: Option<Arc<Tokens>>,
    /// Refusals so far (the `loadpart_unauthenticated_total` metric).
    refused: Counter,
}

impl Authenticator {
    /// Checks against `tokens`, or nothing when `None`.
    pub fn new(tokens: Option<Arc<Tokens>>) -> Self {
        Self {
            tokens,
            refused: Counter::default(),
        }
    }

    /// Counts each refusal in `refused` (shared with the metrics).
    pub fn counting(mut self, refused: Counter) -> Self {
        self.refused = refused;
        self
    }

    /// The device `meta`'s bearer token belongs to.
    pub fn check(&self, meta: &tonic::metadata::MetadataMap) -> Result<Option<DeviceName>, Status> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        let presented = meta
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        let table = tokens.current();
        // An absent token is compared too (as an empty one), so that it takes the same time.
        match table.device(presented.unwrap_or("").as_bytes()) {
            Some(name) if presented.is_some() => Ok(Some(name)),
            _ => {
                self.refused.inc();
                Err(Status::unauthenticated(UNAUTHENTICATED_MESSAGE))
            }
        }
    }
}

/// The token of `Bearer TOKEN` (the scheme case-insensitive, as HTTP says).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(name) = self.check(request.metadata())? {
            request.extensions_mut().insert(name);
        }
        Ok(request)
    }
}

/// The authenticated device of a request, if tokens are configured.
pub fn device_of<T>(request: &Request<T>) -> Option<&DeviceName> {
    request.extensions().get::<DeviceName>()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaa-1";
    const B: &str = "bbbbbbbbbbbbbbbb-2";

    fn table() -> TokenTable {
        TokenTable::parse(
            &format!("# devices\n\nphone-1 {A}\n  phone-2\t{B}  \n"),
            Path::new("t"),
        )
        .unwrap()
    }

    #[test]
    fn parses_and_finds_devices() {
        let t = table();
        assert_eq!(t.len(), 2);
        assert_eq!(&*t.device(A.as_bytes()).unwrap().0, "phone-1");
        assert_eq!(&*t.device(B.as_bytes()).unwrap().0, "phone-2");
        assert!(t.device(b"").is_none());
        assert!(t.device(&A.as_bytes()[..A.len() - 1]).is_none());
        assert!(t.device(format!("{A}x").as_bytes()).is_none());
        assert!(!format!("{t:?}").contains(A), "Debug must not show tokens");
    }

    #[test]
    fn bad_files_name_the_line() {
        let p = Path::new("tokens.txt");
        let e = TokenTable::parse("a aaaaaaaaaaaaaaaaaa\nb\n", p).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = TokenTable::parse("a short\n", p).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = TokenTable::parse(&format!("a {A}\na {B}\n"), p).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = TokenTable::parse(&format!("a {A}\nb {A}\n"), p).unwrap_err();
        assert!(e.to_string().contains("another device"), "{e}");
        assert!(!e.to_string().contains(A), "{e}");
        let e = TokenTable::parse(&format!("a {A} extra\n"), p).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = TokenTable::parse("# nothing\n", p).unwrap_err();
        assert!(matches!(e, TokenFileError::Empty { .. }), "{e}");
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abd", b"abc"));
        assert!(!ct_eq(b"ab", b"abc"));
        assert!(!ct_eq(b"abcd", b"abc"));
        assert!(!ct_eq(b"", b"abc"));
        // A presented byte past the end is taken as the stored byte's complement, never equal.
        assert!(!ct_eq(&[0xff], &[0xff, 0x00]));
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn interceptor_checks_and_reload_swaps() {
        let dir = std::env::temp_dir().join(format!("loadpart-auth-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens");
        std::fs::write(&path, format!("phone-1 {A}\n")).unwrap();
        let tokens = Arc::new(Tokens::load(&path).unwrap());
        let refused = Counter::default();
        let mut auth = Authenticator::new(Some(tokens.clone())).counting(refused.clone());
        let with = |v: &str| {
            let mut r = Request::new(());
            r.metadata_mut().insert("authorization", v.parse().unwrap());
            r
        };
        let r = auth.call(with(&format!("Bearer {A}"))).unwrap();
        assert_eq!(&*device_of(&r).unwrap().0, "phone-1");
        let e = auth.call(Request::new(())).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert_eq!(e.message(), UNAUTHENTICATED_MESSAGE);
        let e = auth.call(with(&format!("Bearer {B}"))).unwrap_err();
        assert_eq!(e.message(), UNAUTHENTICATED_MESSAGE);
        assert_eq!(refused.get(), 2, "both refusals counted");

        std::fs::write(&path, format!("phone-2 {B}\n")).unwrap();
        assert_eq!(tokens.reload().unwrap(), 1);
        assert!(auth.call(with(&format!("Bearer {A}"))).is_err());
        let r = auth.call(with(&format!("Bearer {B}"))).unwrap();
        assert_eq!(&*device_of(&r).unwrap().0, "phone-2");

        // A bad file keeps the old table.
        std::fs::write(&path, "phone-3 short\n").unwrap();
        assert!(tokens.reload().is_err());
        assert!(auth.call(with(&format!("Bearer {B}"))).is_ok());

        // No tokens: everything passes, with no device.
        let mut open = Authenticator::new(None);
        let r = open.call(Request::new(())).unwrap();
        assert!(device_of(&r).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

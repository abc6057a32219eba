//! Push and pull against an in-process registry that answers every
//! request with a `Bearer` challenge, as ghcr.io and Docker Hub do: the
//! token exchange, the scopes asked for, the upload protocol, and the
//! digest checks on the way back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::*;

/// The token the fake token service hands out.
const TOKEN: &str = "token-for-alice";

/// `alice:s3cret`, base64.
const ALICE: &str = "YWxpY2U6czNjcmV0";

/// What the fake registry holds and saw.
#[derive(Default)]
struct State {
    /// Blobs and manifests by path, as `/v2/p/blobs/sha256:...`.
    stored: BTreeMap<String, Vec<u8>>,
    /// The `scope` of every token request, with its `Authorization`.
    token_requests: Vec<(String, Option<String>)>,
    /// Blob paths whose served bytes are replaced by these.
    tampered: BTreeMap<String, Vec<u8>>,
}

/// A registry on 127.0.0.1 that wants `Bearer token-for-alice`, and the
/// token service at `/token` that gives it to alice.
struct TokenRegistry {
    host: String,
    state: Arc<Mutex<State>>,
    /// Options that reach it over plain HTTP with alice's credentials.
    options: RegistryOptions,
    /// Holds the Docker config the options name.
    _docker_config: tempfile::TempDir,
}

impl TokenRegistry {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let host = listener.local_addr().expect("address").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let (thread_state, realm) = (state.clone(), format!("http://{host}/token"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &thread_state, &realm);
            }
        });

        let docker_config = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            docker_config.path().join("config.json"),
            format!(r#"{{"auths": {{"{host}": {{"auth": "{ALICE}"}}}}}}"#),
        )
        .expect("write docker config");
        let options = RegistryOptions {
            sources: Sources {
                insecure_sources: vec![host.clone()],
                ..Sources::default()
            },
            docker_config: Some(docker_config.path().to_path_buf()),
        };
        Self {
            host,
            state,
            options,
            _docker_config: docker_config,
        }
    }

    fn reference(&self, tag: &str) -> Reference {
        Reference::parse(&format!("registry://{}/policies/p:{tag}", self.host)).expect("reference")
    }
}

/// Answers one request; every connection carries one.
fn serve(stream: TcpStream, state: &Mutex<State>, realm: &str) {
    let mut reader = BufReader::new(stream);
    // A TLS handshake (an insecure source is tried over HTTPS first) is
    // cut off, as plain-HTTP servers answer it.
    if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
        return;
    }
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut state = state.lock().expect("state lock");

    let (status, extra, reply) = if path == "/token" {
        let scope = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let authorization = headers.get("authorization").cloned();
        state.token_requests.push((scope, authorization));
        (
            200,
            String::new(),
            format!(r#"{{"token": "{TOKEN}"}}"#).into_bytes(),
        )
    } else if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
        let challenge = format!(
            "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:policies/p:pull\"\r\n"
        );
        (
            401,
            challenge,
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"token wanted"}]}"#.to_vec(),
        )
    } else if path == "/v2/" {
        (200, String::new(), b"{}".to_vec())
    } else if method == "POST" && path == "/v2/policies/p/blobs/uploads/" {
        (
            202,
            "Location: /v2/policies/p/blobs/uploads/u1?_state=x\r\n".to_owned(),
            Vec::new(),
        )
    } else if method == "PUT" && path == "/v2/policies/p/blobs/uploads/u1" {
        let digest = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "digest")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if sha256_digest(&body) == digest {
            state
                .stored
                .insert(format!("/v2/policies/p/blobs/{digest}"), body);
            (201, String::new(), Vec::new())
        } else {
            (
                400,
                String::new(),
                br#"{"errors":[{"code":"DIGEST_INVALID","message":"no"}]}"#.to_vec(),
            )
        }
    } else if method == "PUT" && path.starts_with("/v2/policies/p/manifests/") {
        let by_digest = format!("/v2/policies/p/manifests/{}", sha256_digest(&body));
        state.stored.insert(by_digest, body.clone());
        state.stored.insert(path.to_owned(), body);
        (201, String::new(), Vec::new())
    } else if let Some(stored) = state.stored.get(path) {
        let served = state.tampered.get(path).unwrap_or(stored).clone();
        (
            200,
            String::new(),
            if method == "HEAD" { Vec::new() } else { served },
        )
    } else {
        (
            404,
            String::new(),
            br#"{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"#.to_vec(),
        )
    };

    let mut stream = reader.into_inner();
    let head = format!(
        "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&reply);
    }
}

#[test]
fn a_push_and_a_pull_through_bearer_tokens_round_trip_the_module() {
    let registry = TokenRegistry::start();
    let options = &registry.options;
    let module = b"\0asm\x01\0\0\0 a module".to_vec();
    let annotations = BTreeMap::from([("io.kubewarden.policy.title".to_owned(), "p".to_owned())]);

    let digest = push(&module, &annotations, &registry.reference("v1"), options).expect("push");
    let pulled = pull(&registry.reference("v1"), options).expect("pull by tag");
    assert_eq!(pulled, module);

    let pinned = Reference::parse(&registry.reference("v1").pinned(&digest)).expect("pinned");
    assert_eq!(pull(&pinned, options).expect("pull by digest"), module);

    let state = registry.state.lock().expect("state lock");
    let manifest = &state.stored["/v2/policies/p/manifests/v1"];
    assert_eq!(sha256_digest(manifest), digest);
    assert_eq!(manifest, &policy_manifest(b"{}", &module, &annotations));
    // One token per connection, for the scope the operation needs, asked
    // for with alice's credentials.
    let alice = Some(format!("Basic {ALICE}"));
    assert_eq!(
        state.token_requests,
        vec![
            ("repository:policies/p:pull,push".to_owned(), alice.clone()),
            ("repository:policies/p:pull".to_owned(), alice.clone()),
            ("repository:policies/p:pull".to_owned(), alice),
        ]
    );
}

#[test]
fn a_module_that_does_not_hash_to_its_layer_digest_is_refused() {
    let registry = TokenRegistry::start();
    let options = &registry.options;
    let module = b"\0asm\x01\0\0\0".to_vec();
    push(
        &module,
        &BTreeMap::new(),
        &registry.reference("v1"),
        options,
    )
    .expect("push");
    registry.state.lock().expect("state lock").tampered.insert(
        format!("/v2/policies/p/blobs/{}", sha256_digest(&module)),
        b"\0asm\x01\0\0\0 tampered".to_vec(),
    );

    let error = pull(&registry.reference("v1"), options).expect_err("tampered layer");
    let expected = format!(
        "the module of {}/policies/p:v1 does not match its digest: expected {}, got {}",
        registry.host,
        sha256_digest(&module),
        sha256_digest(b"\0asm\x01\0\0\0 tampered")
    );
    assert_eq!(error.to_string(), expected);
}

#[test]
fn a_missing_tag_is_reported_with_the_registry_message() {
    let registry = TokenRegistry::start();
    let error = pull(&registry.reference("absent"), &registry.options).expect_err("no such tag");
    assert_eq!(
        error.to_string(),
        format!(
            "fetching the manifest failed: http://{}/v2/policies/p/manifests/absent answered \
             404: NOT_FOUND: unknown",
            registry.host
        )
    );
}

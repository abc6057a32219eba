//! One registry, reached over HTTP(S) as the distribution API expects.
//!
//! A [`Connection`] picks the scheme (HTTPS; for an insecure source, HTTPS
//! without certificate checks and then plain HTTP, as kwctl tries them),
//! trusts the host's authorities from `sources.yaml` when it lists any, and
//! answers an authentication challenge once per request: `Basic` with the
//! Docker credentials, `Bearer` with a token fetched from the realm the
//! registry names.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use url::Url;

use super::credentials::Credentials;
use super::{RegistryError, Sources};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest body read from a registry: manifests and policy modules
/// are far smaller.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// What came back from one request.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, resolved against the request's URL.
    pub location: Option<String>,
    /// The `WWW-Authenticate` header: how to authenticate, on a 401.
    pub challenge: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The registry's own error messages, from the distribution API's
    /// `{"errors": [{"code", "message"}]}` body, else the start of the body.
    #[must_use]
    pub fn explanation(&self) -> String {
        #[derive(Deserialize)]
        struct Errors {
            errors: Vec<ErrorEntry>,
        }
        #[derive(Deserialize)]
        struct ErrorEntry {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        }
        if let Ok(parsed) = serde_json::from_slice::<Errors>(&self.body) {
            let messages: Vec<String> = parsed
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect();
            if !messages.is_empty() {
                return messages.join("; ");
            }
        }
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect::<String>().trim().to_owned()
    }
}

/// A request to send: method, URL, headers, body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, `POST`, `PUT`.
    pub method: &'a str,
    /// The absolute URL.
    pub url: &'a str,
    /// The `Accept` header, if any.
    pub accept: Option<&'a str>,
    /// The `Content-Type` header and the body, if any.
    pub body: Option<(&'a str, &'a [u8])>,
}

/// A registry reached on one scheme, with the authorization it asked for.
pub struct Connection {
    agent: ureq::Agent,
    /// `https://host[:port]` or `http://host[:port]`.
    base: String,
    credentials: Option<Credentials>,
    /// `repository:<name>:<actions>`, the scope a token is asked for.
    scope: String,
    /// The `Authorization` header value earned from a challenge.
    authorization: Option<String>,
}

impl Connection {
    /// Reaches `host` for `scope`, trying the schemes its sources allow.
    ///
    /// # Errors
    ///
    /// [`RegistryError`] when no scheme reaches a registry, an authority is
    /// not a certificate, or the registry refuses the credentials.
    pub fn open(
        host: &str,
        sources: &Sources,
        credentials: Option<Credentials>,
        scope: String,
    ) -> Result<Self, RegistryError> {
        let authorities = sources.authorities(host)?;
        let mut candidates = Vec::new();
        if sources.is_insecure(host) {
            candidates.push(("https", tls_config(host, &authorities, true)?));
            candidates.push(("http", TlsConfig::default()));
        } else {
            candidates.push(("https", tls_config(host, &authorities, false)?));
        }

        let mut last_error = None;
        for (scheme, tls) in candidates {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(CONNECT_TIMEOUT))
                .timeout_global(Some(REQUEST_TIMEOUT))
                .tls_config(tls)
                .build()
                .into();
            let mut connection = Self {
                agent,
                base: format!("{scheme}://{host}"),
                credentials: credentials.clone(),
                scope: scope.clone(),
                authorization: None,
            };
            // `/v2/` answers 200 or 401 on every distribution registry; a
            // challenge there is answered now, so later requests carry it.
            let url = connection.url("/v2/");
            match connection.send(Request {
                method: "GET",
                url: &url,
                accept: None,
                body: None,
            }) {
                Ok(reply) if reply.status == 200 => return Ok(connection),
                Ok(reply) => {
                    return Err(RegistryError::Status {
                        action: "checking the registry api",
                        url,
                        status: reply.status,
                        explanation: reply.explanation(),
                    });
                }
                Err(error @ RegistryError::Unreachable { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| RegistryError::Unreachable {
            url: host.to_owned(),
            reason: "no scheme to try".to_owned(),
        }))
    }

    /// `path` on this registry, as an absolute URL.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request`; on a 401, answers the challenge and sends it once
    /// more.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Unreachable`] when nothing answers, and the
    /// challenge's errors.
    pub fn send(&mut self, request: Request<'_>) -> Result<Reply, RegistryError> {
        let reply = self.send_once(request)?;
        match &reply.challenge {
            Some(challenge) if reply.status == 401 => {
                self.authorization = Some(self.answer(challenge)?);
                let reply = self.send_once(request)?;
                if reply.status == 401 {
                    return Err(RegistryError::Unauthorized {
                        url: request.url.to_owned(),
                        explanation: reply.explanation(),
                    });
                }
                Ok(reply)
            }
            _ => Ok(reply),
        }
    }

    /// One round trip.
    fn send_once(&self, request: Request<'_>) -> Result<Reply, RegistryError> {
        let unreachable = |reason: String| RegistryError::Unreachable {
            url: request.url.to_owned(),
            reason,
        };
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(request.url);
        if let Some(authorization) = &self.authorization {
            builder = builder.header("Authorization", authorization);
        }
        if let Some(accept) = request.accept {
            builder = builder.header("Accept", accept);
        }
        let (content_type, body) = request.body.unwrap_or(("", &[]));
        if request.body.is_some() {
            builder = builder.header("Content-Type", content_type);
        }
        let http_request = builder.body(body).map_err(|e| unreachable(e.to_string()))?;
        let mut response = self
            .agent
            .run(http_request)
            .map_err(|e| unreachable(e.to_string()))?;

        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let challenge = header("www-authenticate");
        let location = header("location")
            .and_then(|l| Url::parse(request.url).ok()?.join(&l).ok())
            .map(String::from);
        let status = response.status().as_u16();
        let body = if request.method == "HEAD" {
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| unreachable(e.to_string()))?
        };
        Ok(Reply {
            status,
            location,
            challenge,
            body,
        })
    }

    /// The `Authorization` header value that answers `challenge`.
    fn answer(&self, challenge: &str) -> Result<String, RegistryError> {
        let parsed = Challenge::parse(challenge).ok_or_else(|| RegistryError::Challenge {
            registry: self.base.clone(),
            challenge: challenge.to_owned(),
        })?;
        match parsed {
            Challenge::Basic => self
                .credentials
                .as_ref()
                .map(Credentials::basic)
                .ok_or_else(|| RegistryError::NoCredentials {
                    registry: self.base.clone(),
                }),
            Challenge::Bearer { realm, service } => self.fetch_token(&realm, service.as_deref()),
        }
    }

    /// Asks the token service at `realm` for a token for this scope.
    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String, RegistryError> {
        let token_error = |reason: String| RegistryError::Token {
            realm: realm.to_owned(),
            reason,
        };
        let mut url = Url::parse(realm).map_err(|e| token_error(e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &self.scope);
        }
        let mut request = self.agent.get(url.as_str());
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", &credentials.basic());
        }
        let mut response = request.call().map_err(|e| token_error(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| token_error(e.to_string()))?;
        if status != 200 {
            return Err(token_error(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }

        #[derive(Deserialize)]
        struct TokenReply {
            token: Option<String>,
            access_token: Option<String>,
        }
        let reply: TokenReply =
            serde_json::from_slice(&body).map_err(|e| token_error(e.to_string()))?;
        reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .map(|token| format!("Bearer {token}"))
            .ok_or_else(|| token_error("the reply holds no token".to_owned()))
    }
}

/// The TLS settings for `host`: its listed authorities, else the WebPKI
/// roots; no checks at all for an insecure source.
fn tls_config(
    host: &str,
    authorities: &[Vec<u8>],
    insecure: bool,
) -> Result<TlsConfig, RegistryError> {
    let mut builder = TlsConfig::builder().disable_verification(insecure);
    if !authorities.is_empty() {
        let mut certificates = Vec::new();
        for bytes in authorities {
            certificates.extend(certificates_in(host, bytes)?);
        }
        builder = builder.root_certs(RootCerts::Specific(Arc::new(certificates)));
    }
    Ok(builder.build())
}

/// The certificates in one authority: PEM text, or one DER certificate.
fn certificates_in(host: &str, bytes: &[u8]) -> Result<Vec<Certificate<'static>>, RegistryError> {
    let refused = |reason: String| RegistryError::Authority {
        host: host.to_owned(),
        reason,
    };
    if !bytes.starts_with(b"-----") {
        return Ok(vec![Certificate::from_der(bytes).to_owned()]);
    }
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(bytes) {
        if let PemItem::Certificate(certificate) = item.map_err(|e| refused(e.to_string()))? {
            certificates.push(certificate.to_owned());
        }
    }
    if certificates.is_empty() {
        return Err(refused("no certificate in the PEM text".to_owned()));
    }
    Ok(certificates)
}

/// A `WWW-Authenticate` challenge this host can answer.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="...",service="..."`: a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// Parses one challenge; `None` for a scheme other than these two.
    fn parse(header: &str) -> Option<Self> {
        let (scheme, parameters) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Self::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        for (key, value) in parameters_of(parameters) {
            match key.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "service" => service = Some(value),
                _ => {}
            }
        }
        Some(Self::Bearer {
            realm: realm?,
            service,
        })
    }
}

/// `key="value",key=value` pairs, quotes removed, commas inside quotes kept.
fn parameters_of(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_owned(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        pairs.push((key, value));
        rest = remainder.trim_start_matches(',').trim();
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_name_their_realm_and_service() {
        let challenge = Challenge::parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/p:pull""#,
        );
        assert_eq!(
            challenge,
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
            })
        );
    }

    #[test]
    fn a_scope_with_a_comma_inside_quotes_stays_whole() {
        let pairs = parameters_of(r#"realm="r",scope="repository:a:pull,push",service=s"#);
        assert_eq!(
            pairs,
            vec![
                ("realm".to_owned(), "r".to_owned()),
                ("scope".to_owned(), "repository:a:pull,push".to_owned()),
                ("service".to_owned(), "s".to_owned()),
            ]
        );
    }

    #[test]
    fn basic_and_unknown_schemes() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
    }

    #[test]
    fn registry_errors_are_explained_by_their_messages() {
        let reply = Reply {
            status: 404,
            location: None,
            challenge: None,
            body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                .to_vec(),
        };
        assert_eq!(reply.explanation(), "MANIFEST_UNKNOWN: manifest unknown");
        let plain = Reply {
            status: 502,
            location: None,
            challenge: None,
            body: b" bad gateway \n".to_vec(),
        };
        assert_eq!(plain.explanation(), "bad gateway");
    }

    #[test]
    fn an_authority_without_a_certificate_is_refused() {
        let error = certificates_in("r:1", b"-----BEGIN NOTHING-----\n-----END NOTHING-----\n")
            .expect_err("no certificate");
        assert!(
            error
                .to_string()
                .starts_with("the certificate authority for r:1"),
            "{error}"
        );
    }
}

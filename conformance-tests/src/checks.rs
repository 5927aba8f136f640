//! The checks. Each looks at the gateway only through HTTP.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::SetupError;
use crate::report::{Outcome, Report, Status};

/// One HTTP exchange as the checks see it.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

struct Target {
    base: String,
    http: reqwest::Client,
}

impl Target {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<&'static str>,
    ) -> Result<Answer, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, &[], None).await
    }
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
}

type Verdict = Result<(), String>;

/// Checks an error answer: status, JSON body with exactly `error`,
/// `message`, `request_id`, the expected code, and the id equal to the
/// `x-request-id` header.
fn error_body(answer: &Answer, status: StatusCode, code: &str) -> Verdict {
    if answer.status != status {
        return Err(format!("status {} instead of {status}", answer.status));
    }
    let Some(body) = sdk::parse_error(status.as_u16(), &answer.body) else {
        return Err(format!(
            "body is not the error body: {}",
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(120)
                .collect::<String>()
        ));
    };
    if body.code != code {
        return Err(format!("error code {:?} instead of {code:?}", body.code));
    }
    match header(answer, sdk::REQUEST_ID_HEADER) {
        Some(id) if id == body.request_id && !id.is_empty() => Ok(()),
        other => Err(format!(
            "request_id {:?} does not match the x-request-id header {other:?}",
            body.request_id
        )),
    }
}

async fn healthz(t: &Target) -> Verdict {
    let a = t.get("/healthz").await?;
    let body: serde_json::Value =
        serde_json::from_slice(&a.body).map_err(|e| format!("not JSON: {e}"))?;
    if a.status == StatusCode::OK && body["status"] == "ok" {
        Ok(())
    } else {
        Err(format!("{} {body}", a.status))
    }
}

async fn readyz(t: &Target) -> Verdict {
    let a = t.get("/readyz").await?;
    if a.status == StatusCode::OK {
        Ok(())
    } else {
        Err(format!("status {}", a.status))
    }
}

async fn not_found(t: &Target) -> Verdict {
    let a = t.get("/conformance/does-not-exist").await?;
    error_body(&a, StatusCode::NOT_FOUND, "not_found")
}

async fn method_not_allowed(t: &Target) -> Verdict {
    let a = t.send(Method::DELETE, "/healthz", &[], None).await?;
    error_body(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")?;
    match header(&a, "allow") {
        Some(allow) if allow.contains("GET") => Ok(()),
        other => Err(format!("Allow header {other:?}")),
    }
}

async fn malformed_json(t: &Target) -> Verdict {
    let a = t
        .send(
            Method::POST,
            "/csp-report",
            &[("content-type", "application/csp-report")],
            Some("{\"csp-report\": "),
        )
        .await?;
    error_body(&a, StatusCode::BAD_REQUEST, "malformed_json")
}

/// The headers every answer must carry, success or error.
fn security_headers_of(a: &Answer) -> Verdict {
    let csp = header(a, "content-security-policy").ok_or("no Content-Security-Policy")?;
    if !csp.contains("frame-ancestors 'none'") {
        return Err(format!("CSP lacks frame-ancestors 'none': {csp}"));
    }
    if csp.contains("'unsafe-inline'") || csp.contains("'unsafe-eval'") {
        return Err(format!("CSP allows unsafe script: {csp}"));
    }
    if header(a, "x-content-type-options") != Some("nosniff") {
        return Err("X-Content-Type-Options is not nosniff".to_owned());
    }
    if header(a, "referrer-policy").is_none() {
        return Err("no Referrer-Policy".to_owned());
    }
    Ok(())
}

async fn security_headers(t: &Target) -> Verdict {
    security_headers_of(&t.get("/healthz").await?).map_err(|e| format!("on 200: {e}"))?;
    security_headers_of(&t.get("/conformance/missing").await?).map_err(|e| format!("on 404: {e}"))
}

async fn hsts(t: &Target) -> Result<Status, String> {
    if !t.base.starts_with("https://") {
        return Ok(Status::Skip);
    }
    let a = t.get("/healthz").await?;
    let value = header(&a, "strict-transport-security").ok_or("no Strict-Transport-Security")?;
    let max_age = value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| format!("no max-age in {value:?}"))?;
    if max_age >= 180 * 24 * 3600 {
        Ok(Status::Pass)
    } else {
        Err(format!("max-age {max_age} is under 180 days"))
    }
}

async fn request_ids(t: &Target) -> Verdict {
    let kept = t
        .send(
            Method::GET,
            "/healthz",
            &[("x-request-id", "conformance-42")],
            None,
        )
        .await?;
    if header(&kept, sdk::REQUEST_ID_HEADER) != Some("conformance-42") {
        return Err("a well-formed client request id is not echoed".to_owned());
    }
    let forged = t
        .send(
            Method::GET,
            "/healthz",
            &[("x-request-id", "x\" level=error msg=\"forged")],
            None,
        )
        .await?;
    match header(&forged, sdk::REQUEST_ID_HEADER) {
        Some(id) if !id.contains('"') && !id.contains(' ') && !id.is_empty() => Ok(()),
        other => Err(format!("a hostile request id came back as {other:?}")),
    }
}

async fn metrics(t: &Target) -> Result<Status, String> {
    let a = t.get("/metrics").await?;
    if matches!(a.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
        return Ok(Status::Skip);
    }
    let text = String::from_utf8_lossy(&a.body);
    if a.status == StatusCode::OK && text.contains("http_requests_total{") {
        Ok(Status::Pass)
    } else {
        Err(format!("status {} without http_requests_total", a.status))
    }
}

async fn jwks(t: &Target) -> Verdict {
    let a = t.get("/jwks").await?;
    if a.status != StatusCode::OK {
        return Err(format!("status {}", a.status));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&a.body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = body["keys"].as_array().ok_or("no keys array")?;
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if key.get(private).is_some() {
                return Err(format!("a published key has the private member {private}"));
            }
        }
        if !matches!(key["alg"].as_str(), Some("ES256" | "EdDSA")) {
            return Err(format!("a published key has alg {}", key["alg"]));
        }
    }
    Ok(())
}

async fn par_requires_client_authentication(t: &Target) -> Verdict {
    let a = t
        .send(
            Method::POST,
            "/par",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("response_type=code&client_id=conformance&scope=openid"),
        )
        .await?;
    if a.status != StatusCode::UNAUTHORIZED {
        return Err(format!("status {} instead of 401", a.status));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&a.body).map_err(|e| format!("not JSON: {e}"))?;
    if body["error"] != "invalid_client" || !body["error_description"].is_string() {
        return Err(format!("body {body}"));
    }
    Ok(())
}

async fn admin_is_protected(t: &Target) -> Verdict {
    let a = t.get("/admin/clients").await?;
    match a.status {
        StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => Ok(()),
        other => Err(format!(
            "GET /admin/clients without a token answered {other}"
        )),
    }
}

async fn signin_refuses_cross_site(t: &Target) -> Verdict {
    // Every JSON sign-in endpoint, passkey and smart ID card (whether or
    // not card sign-in is configured, the origin check comes first).
    for path in [
        "/signin/passkey/begin",
        "/signin/passkey/finish",
        "/signin/passkey/register/begin",
        "/signin/card/challenge",
        "/signin/card/finish",
    ] {
        let cross = t
            .send(
                Method::POST,
                path,
                &[
                    ("content-type", "application/json"),
                    ("origin", "https://attacker.example"),
                ],
                Some("{}"),
            )
            .await?;
        if cross.status != StatusCode::FORBIDDEN {
            return Err(format!(
                "a cross-site POST {path} answered {} instead of 403",
                cross.status
            ));
        }
        let form = t
            .send(
                Method::POST,
                path,
                &[("content-type", "application/x-www-form-urlencoded")],
                Some("a=b"),
            )
            .await?;
        if form.status != StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return Err(format!(
                "a form-encoded POST {path} answered {} instead of 415",
                form.status
            ));
        }
    }
    Ok(())
}

async fn consent_endpoints_need_a_token(t: &Target) -> Verdict {
    let fill = t
        .send(
            Method::POST,
            "/v1/formfill",
            &[("content-type", "application/json")],
            Some("{}"),
        )
        .await?;
    if fill.status != StatusCode::UNAUTHORIZED || header(&fill, "www-authenticate").is_none() {
        return Err(format!(
            "POST /v1/formfill without a token answered {} (want 401 with WWW-Authenticate)",
            fill.status
        ));
    }
    let receipt = t.get("/v1/consents/none/receipt").await?;
    if receipt.status != StatusCode::UNAUTHORIZED {
        return Err(format!(
            "GET /v1/consents/.../receipt without a token answered {} (want 401)",
            receipt.status
        ));
    }
    let page = t.get("/account/consents").await?;
    if page.status != StatusCode::SEE_OTHER {
        return Err(format!(
            "GET /account/consents signed out answered {} (want 303 to sign-in)",
            page.status
        ));
    }
    Ok(())
}

/// The payment API's operations, as its OpenAPI document lists them.
async fn payments_openapi(t: &Target) -> Result<Vec<(String, String)>, String> {
    let a = t.get("/v1/openapi.json").await?;
    if a.status != StatusCode::OK {
        return Err(format!("GET /v1/openapi.json answered {}", a.status));
    }
    let doc: serde_json::Value = serde_json::from_slice(&a.body)
        .map_err(|e| format!("/v1/openapi.json is not JSON: {e}"))?;
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1"))
    {
        return Err(format!(
            "not an OpenAPI 3.1 document: openapi = {}",
            doc["openapi"]
        ));
    }
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if operation["responses"]["401"].is_null() {
                return Err(format!("{method} {path} documents no 401"));
            }
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    for needed in [
        "/v1/bills",
        "/v1/payments/{id}/refunds",
        "/v1/reports/daily",
    ] {
        if !operations.iter().any(|(_, p)| p == needed) {
            return Err(format!("the document lacks {needed}"));
        }
    }
    Ok(operations)
}

async fn payments_need_an_api_key(t: &Target) -> Verdict {
    let operations = payments_openapi(t).await?;
    for (method, path) in operations {
        let path = path.replace("{id}", "bill_00000000000000000000000000000000");
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        for credential in [None, Some("Bearer gw_test_0000000000000000_forged")] {
            let headers: Vec<(&'static str, &str)> = match credential {
                Some(c) => vec![("authorization", c), ("content-type", "application/json")],
                None => vec![("content-type", "application/json")],
            };
            let a = t.send(method.clone(), &path, &headers, Some("{}")).await?;
            if a.status != StatusCode::UNAUTHORIZED || header(&a, "www-authenticate").is_none() {
                return Err(format!(
                    "{method} {path} with {} answered {} (want 401 with WWW-Authenticate)",
                    if credential.is_some() {
                        "a forged key"
                    } else {
                        "no key"
                    },
                    a.status
                ));
            }
        }
    }
    Ok(())
}

async fn payment_callbacks_need_a_signature(t: &Target) -> Verdict {
    for provider in ["fps", "pps", "stripe-card", "fps-sandbox"] {
        let path = format!("/callbacks/{provider}");
        let a = t
            .send(
                Method::POST,
                &path,
                &[("content-type", "application/json")],
                Some("{\"notification_id\":\"N1\",\"reference\":\"F1\",\"amount\":\"1.00\",\"currency\":\"HKD\",\"status\":\"CREDITED\",\"payer_bank\":\"004\"}"),
            )
            .await?;
        // Unknown providers are 404 not_found; known ones refuse the
        // missing signature, 401 invalid_signature; both with the error body.
        let verdict = match a.status {
            StatusCode::UNAUTHORIZED => error_body(&a, a.status, "invalid_signature"),
            _ => error_body(&a, StatusCode::NOT_FOUND, "not_found"),
        };
        verdict.map_err(|e| format!("an unsigned POST {path}: {e}"))?;
    }
    let page = t.get("/pay/bill_00000000000000000000000000000000").await?;
    error_body(&page, StatusCode::NOT_FOUND, "not_found")
        .map_err(|e| format!("an unknown bill's pay page: {e}"))
}

async fn signin_page(t: &Target) -> Verdict {
    for (path, lang) in [
        ("/signin?lang=en", "en"),
        ("/signin?lang=zh-HK", "zh-Hant-HK"),
    ] {
        let a = t.get(path).await?;
        if a.status != StatusCode::OK {
            return Err(format!("GET {path} answered {}", a.status));
        }
        if !header(&a, "content-type").is_some_and(|v| v.starts_with("text/html")) {
            return Err(format!("GET {path} is not HTML"));
        }
        if header(&a, "cache-control") != Some("no-store") {
            return Err(format!("GET {path} may be cached"));
        }
        let csp = header(&a, "content-security-policy").unwrap_or("");
        if !csp.contains("script-src 'self'") || csp.contains("unsafe-inline") {
            return Err(format!("GET {path}: CSP {csp:?}"));
        }
        let html = String::from_utf8_lossy(&a.body);
        if !html.contains(&format!("<html lang=\"{lang}\">")) {
            return Err(format!("GET {path} is not marked as {lang}"));
        }
        if html.contains("<script>") {
            return Err(format!("GET {path} has an inline script"));
        }
    }
    Ok(())
}

fn outcome(id: &'static str, title: &'static str, verdict: Verdict) -> Outcome {
    match verdict {
        Ok(()) => Outcome {
            id,
            title,
            status: Status::Pass,
            detail: String::new(),
        },
        Err(detail) => Outcome {
            id,
            title,
            status: Status::Fail,
            detail,
        },
    }
}

fn optional(
    id: &'static str,
    title: &'static str,
    verdict: Result<Status, String>,
    skip_reason: &str,
) -> Outcome {
    match verdict {
        Ok(Status::Skip) => Outcome {
            id,
            title,
            status: Status::Skip,
            detail: skip_reason.to_owned(),
        },
        Ok(_) => outcome(id, title, Ok(())),
        Err(e) => outcome(id, title, Err(e)),
    }
}

/// Runs every check against the gateway at `base_url`.
pub async fn run(base_url: &str) -> Result<Report, SetupError> {
    let base = base_url.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(SetupError::BadBaseUrl {
            url: base_url.to_owned(),
        });
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SetupError::Unreachable {
            url: base.clone(),
            reason: e.to_string(),
        })?;
    let t = Target { base, http };
    // One probe first, so that an unreachable target is a setup error, not
    // a page of failures.
    t.get("/healthz")
        .await
        .map_err(|reason| SetupError::Unreachable {
            url: t.base.clone(),
            reason,
        })?;

    let outcomes = vec![
        outcome(
            "ops.healthz",
            "GET /healthz answers 200 {\"status\":\"ok\"}",
            healthz(&t).await,
        ),
        outcome("ops.readyz", "GET /readyz answers 200", readyz(&t).await),
        outcome(
            "errors.not_found",
            "an unknown route gets 404 and the error body",
            not_found(&t).await,
        ),
        outcome(
            "errors.method_not_allowed",
            "a wrong method gets 405, the error body and Allow",
            method_not_allowed(&t).await,
        ),
        outcome(
            "errors.malformed_json",
            "malformed JSON gets 400 malformed_json",
            malformed_json(&t).await,
        ),
        outcome(
            "headers.security",
            "CSP with frame-ancestors 'none', nosniff and Referrer-Policy on every answer",
            security_headers(&t).await,
        ),
        optional(
            "headers.hsts",
            "HSTS of at least 180 days over TLS",
            hsts(&t).await,
            "the target is plain HTTP",
        ),
        outcome(
            "request_id.echo",
            "safe client request ids are echoed, hostile ones replaced",
            request_ids(&t).await,
        ),
        outcome(
            "oidc.jwks",
            "GET /jwks publishes only public ES256/EdDSA keys",
            jwks(&t).await,
        ),
        outcome(
            "oidc.par_client_auth",
            "POST /par without client authentication is 401 invalid_client",
            par_requires_client_authentication(&t).await,
        ),
        outcome(
            "signin.cross_site",
            "the passkey and smart-ID-card endpoints refuse cross-site and non-JSON requests",
            signin_refuses_cross_site(&t).await,
        ),
        outcome(
            "consent.tokens",
            "form filling and receipts need the department's access token; the consents page needs a sign-in",
            consent_endpoints_need_a_token(&t).await,
        ),
        outcome(
            "payments.api_keys",
            "every operation of the payment API's OpenAPI 3.1 document needs a valid API key",
            payments_need_an_api_key(&t).await,
        ),
        outcome(
            "payments.callbacks",
            "unsigned provider callbacks and unknown bills are refused",
            payment_callbacks_need_a_signature(&t).await,
        ),
        outcome(
            "signin.page",
            "the sign-in page is HTML in English and Chinese, not cached, without inline scripts",
            signin_page(&t).await,
        ),
        outcome(
            "admin.protected",
            "the operators' API is not reachable without the operator token",
            admin_is_protected(&t).await,
        ),
        optional(
            "ops.metrics",
            "GET /metrics exposes request counters",
            metrics(&t).await,
            "/metrics is not exposed at this URL",
        ),
    ];
    Ok(Report {
        target: t.base,
        outcomes,
    })
}

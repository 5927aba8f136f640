//! The departments' payment API under `/v1`, and provider callbacks.
//!
//! Departments authenticate with an API key (`Authorization: Bearer
//! gw_test_…` or `gw_live_…`); a bill made with a test key is a test bill.
//! Creating calls (`POST /v1/bills`, `POST /v1/payments/{id}/refunds`)
//! need an `Idempotency-Key`: a retry with the same key and body gets the
//! first answer again (with `Idempotent-Replayed: true`), the same key with
//! another body gets `422 idempotency_key_reused`, and a retry while the
//! first is still running gets `409 idempotency_in_progress`. Only
//! successful answers are kept: after a refusal the key may be used again.
//!
//! Provider callbacks (`POST /callbacks/{provider}`) are verified by the
//! provider's adapter before anything in them is read.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use payment_core::Money;
use payment_core::adapters::NotificationError;
use payment_core::bill::{BillRequest, Method};
use payment_core::idempotency::{Begin, IdempotencyKey, IdempotencyStore, StoredResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::payments::{PayError, Payments, Recorded, StoredBill, refund_view};
use crate::state::AppState;
use crate::store::payments::BillFilter;

/// The `Idempotency-Key` header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Maps a payment error to its answer.
pub fn pay_error(error: PayError) -> ApiError {
    let code = |status, code, message: String| ApiError::new(status, code, message);
    match error {
        PayError::Bill(e) => code(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_bill",
            e.to_string(),
        ),
        PayError::NotFound(what) => code(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        ),
        PayError::DuplicateReference => code(
            StatusCode::CONFLICT,
            "duplicate_reference",
            "a bill with this reference exists already".into(),
        ),
        PayError::State(message) => code(StatusCode::CONFLICT, "invalid_state", message),
        PayError::MethodUnavailable(method) => code(
            StatusCode::UNPROCESSABLE_ENTITY,
            "method_unavailable",
            format!("{method} is not available for this bill"),
        ),
        PayError::Refund(message) => {
            code(StatusCode::UNPROCESSABLE_ENTITY, "invalid_refund", message)
        }
        PayError::Notification(NotificationError::TooLarge) => code(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            NotificationError::TooLarge.to_string(),
        ),
        PayError::Notification(
            e @ (NotificationError::MissingSignature
            | NotificationError::BadSignature
            | NotificationError::Stale { .. }),
        ) => code(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()),
        PayError::Notification(e) => code(
            StatusCode::BAD_REQUEST,
            "malformed_notification",
            e.to_string(),
        ),
        PayError::Contradiction(message) => code(StatusCode::CONFLICT, "contradiction", message),
        PayError::Routing(payment_core::routing::RoutingError::Provider(
            payment_core::adapters::ProviderError::Declined { code: reason, .. },
        ))
        | PayError::Provider(payment_core::adapters::ProviderError::Declined {
            code: reason,
            ..
        }) => code(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            format!("the payment was declined ({reason}); no money was taken"),
        ),
        PayError::Routing(payment_core::routing::RoutingError::Provider(
            payment_core::adapters::ProviderError::Invalid { detail, .. },
        )) => code(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payment_method",
            format!("the provider refused the request: {detail}"),
        ),
        PayError::Routing(payment_core::routing::RoutingError::Provider(e))
            if e.may_have_moved_money() =>
        {
            tracing::warn!(error = %e, "a payment's outcome is unknown");
            code(
                StatusCode::GATEWAY_TIMEOUT,
                "outcome_unknown",
                "the provider did not answer in time; the payment may have gone through, and its outcome will follow".into(),
            )
        }
        PayError::Routing(e) => {
            tracing::warn!(error = %e, "no provider could start a payment");
            code(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "no payment provider can take this payment now; try again shortly".into(),
            )
        }
        PayError::Provider(e) => {
            tracing::warn!(error = %e, "payment provider failed");
            code(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                "the payment provider failed; try again shortly".into(),
            )
        }
        PayError::Store(detail) => ApiError::unavailable(detail),
    }
}

fn payments(state: &AppState) -> Result<&Payments, ApiError> {
    state
        .payments()
        .ok_or_else(|| ApiError::unavailable("payments are not configured correctly"))
}

/// The department of the request's API key (as the department limit
/// authenticated it, else from the header), with the key's mode.
#[derive(Debug)]
pub struct ApiDepartment(pub String, pub &'static str);

impl axum::extract::FromRequestParts<AppState> for ApiDepartment {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        if let Some(d) = parts.extensions.get::<crate::api_keys::Department>() {
            return Ok(ApiDepartment(d.client_id.clone(), d.mode.as_str()));
        }
        let (client_id, mode) = department(state, &parts.headers).await?;
        Ok(ApiDepartment(client_id, mode))
    }
}

/// The department of the request's API key, with the key's mode.
async fn department(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, &'static str), ApiError> {
    match super::receipts::department_key(state, headers).await? {
        Some(department) => Ok((department.client_id, department.mode.as_str())),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "api_key_required",
            "send one of the department's API keys: Authorization: Bearer gw_…",
        )
        .with_header(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        )),
    }
}

/// The JSON body, refused with a clear message when malformed.
fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("the request body is not valid: {e}"),
        )
    })
}

/// Runs a creating call under its `Idempotency-Key`.
async fn idempotent<F>(
    state: &AppState,
    department: &str,
    operation: &str,
    headers: &HeaderMap,
    body: &[u8],
    run: F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<(StatusCode, Value), ApiError>>,
{
    let (key, hash) = idempotency_key(department, operation, headers, body)?;
    let db = state.db();
    match db
        .begin(&key, &hash, state.now())
        .await
        .map_err(ApiError::unavailable)?
    {
        Begin::Proceed => {}
        Begin::Replay(stored) => return Ok(replayed(stored)),
        Begin::InProgress => return Err(in_progress()),
        Begin::Mismatch => return Err(key_reused()),
    }
    match run.await {
        Ok((status, value)) => {
            let body = value.to_string().into_bytes();
            db.complete(
                &key,
                &StoredResponse {
                    status: status.as_u16(),
                    body: body.clone(),
                },
            )
            .await
            .map_err(ApiError::unavailable)?;
            Ok((status, [(CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(error) => {
            if let Err(e) = db.abandon(&key).await {
                tracing::warn!(error = %e, "could not release an idempotency key");
            }
            Err(error)
        }
    }
}

/// The idempotency key of a creating call and its request's hash.
fn idempotency_key(
    department: &str,
    operation: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(IdempotencyKey, Vec<u8>), ApiError> {
    let raw = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "send an Idempotency-Key header (a unique id per new request, reused on retries)",
            )
        })?
        .to_str()
        .unwrap_or("");
    let key = IdempotencyKey::new(department, operation, raw).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            e.to_string(),
        )
    })?;
    // The request's canonical form: its JSON with keys sorted and no
    // spacing, so that a retry serialised differently still matches.
    let canonical = serde_json::from_slice::<Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    let mut hashed = operation.as_bytes().to_vec();
    hashed.push(0);
    hashed.extend_from_slice(&canonical);
    let hash = ring::digest::digest(&ring::digest::SHA256, &hashed);
    Ok((key, hash.as_ref().to_vec()))
}

fn replayed(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

fn in_progress() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_in_progress",
        "a request with this Idempotency-Key is still running; retry shortly",
    )
}

fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used with another request",
    )
}

/// `POST /v1/bills`: the bill, its idempotency key and the answer are
/// stored in one transaction (one commit per bill).
pub async fn create_bill(
    State(state): State<AppState>,
    api: ApiDepartment,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, mode) = api;
    let payments = payments(&state)?;
    let (key, hash) = idempotency_key(&department, "create_bill", &headers, &body)?;
    let db = state.db();
    let answer = |stored: &StoredBill| payments.bill_view(stored, &[]).to_string().into_bytes();
    let fresh = match serde_json::from_slice::<BillRequest>(&body) {
        Ok(request) => payments
            .new_bill(&department, mode, request, state.now())
            .map_err(pay_error),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("the request body is not valid: {e}"),
        )),
    };
    // `None`: a good bill whose key was used before.
    let refused = match fresh {
        Ok(stored) => {
            let response = answer(&stored);
            let new = crate::store::bill_batch::NewBill {
                key: key.clone(),
                request_hash: hash.clone(),
                bill: stored.row,
                status: 201,
                body: response.clone(),
            };
            match state.bill_writer().insert_bill_once(new).await {
                Ok(true) => {
                    return Ok((
                        StatusCode::CREATED,
                        [(CONTENT_TYPE, "application/json")],
                        response,
                    )
                        .into_response());
                }
                Ok(false) => None,
                Err(crate::store::payments::InsertError::Conflict) => {
                    return Err(pay_error(PayError::DuplicateReference));
                }
                Err(crate::store::payments::InsertError::Store(e)) => {
                    return Err(ApiError::unavailable(e));
                }
            }
        }
        Err(error) => Some(error),
    };
    // The key was used before (or the request is refused): what the key's
    // record says comes first, so that a retry of a success is answered
    // with it even if the rules changed since.
    match db
        .begin(&key, &hash, state.now())
        .await
        .map_err(ApiError::unavailable)?
    {
        Begin::Replay(stored) => Ok(replayed(stored)),
        Begin::InProgress => Err(in_progress()),
        Begin::Mismatch => Err(key_reused()),
        Begin::Proceed => {
            // Not used before: the request itself was refused; free the key.
            if let Err(e) = db.abandon(&key).await {
                tracing::warn!(error = %e, "could not release an idempotency key");
            }
            Err(refused.unwrap_or_else(in_progress))
        }
    }
}

async fn bill_with_attempts(
    state: &AppState,
    payments: &Payments,
    stored: &StoredBill,
) -> Result<Value, ApiError> {
    let attempts = state
        .db()
        .attempts_of(&stored.row.id)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(payments.bill_view(stored, &attempts))
}

/// `GET /v1/bills/{id}`.
pub async fn get_bill(
    State(state): State<AppState>,
    api: ApiDepartment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let payments = payments(&state)?;
    let stored = payments
        .bill(state.db(), &id, Some(&department))
        .await
        .map_err(pay_error)?;
    let stored = payments
        .expire_if_overdue(state.db(), stored, state.now())
        .await
        .map_err(pay_error)?;
    Ok(Json(bill_with_attempts(&state, payments, &stored).await?).into_response())
}

/// `POST /v1/bills/{id}/cancel`.
pub async fn cancel_bill(
    State(state): State<AppState>,
    api: ApiDepartment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let payments = payments(&state)?;
    let stored = payments
        .cancel_bill(state.db(), &department, &id, state.now())
        .await
        .map_err(pay_error)?;
    Ok(Json(bill_with_attempts(&state, payments, &stored).await?).into_response())
}

/// The query of `GET /v1/bills`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    reference: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// A date (`YYYY-MM-DD`, Hong Kong) or an RFC 3339 time, as Unix seconds.
fn instant(text: &str) -> Result<i64, ApiError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| {
            d.midnight()
                .assume_offset(payment_core::HONG_KONG)
                .unix_timestamp()
        })
        .map_err(|_| bad_query("from and to are dates (YYYY-MM-DD) or RFC 3339 times"))
}

fn cursor_of(created_at: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}:{id}"))
}

fn read_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || bad_query("the cursor is not one this API returned");
    if cursor.len() > 200 {
        return Err(bad());
    }
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    if !crate::payments::is_id(id, "bill_") {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

/// `GET /v1/bills?reference=&status=&from=&to=&limit=&cursor=`: newest
/// first; `next_cursor` fetches the next page.
pub async fn list_bills(
    State(state): State<AppState>,
    api: ApiDepartment,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let payments = payments(&state)?;
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "open" | "paid" | "cancelled" | "expired")
    {
        return Err(bad_query("status is open, paid, cancelled or expired"));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad_query("limit is 1 to 100"));
    }
    let filter = BillFilter {
        reference: query.reference.clone(),
        status: query.status.clone(),
        from: query.from.as_deref().map(instant).transpose()?,
        to: query.to.as_deref().map(instant).transpose()?,
        before: query.cursor.as_deref().map(read_cursor).transpose()?,
    };
    let rows = state
        .db()
        .list_bills(&department, &filter, i64::from(limit) + 1)
        .await
        .map_err(ApiError::unavailable)?;
    let more = rows.len() > limit as usize;
    let mut data = Vec::new();
    let mut last = None;
    for row in rows.into_iter().take(limit as usize) {
        last = Some(cursor_of(row.created_at, &row.id));
        let stored = StoredBill::read(row).map_err(pay_error)?;
        data.push(payments.bill_view(&stored, &[]));
    }
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "has_more": more,
        "next_cursor": if more { last } else { None },
    }))
    .into_response())
}

/// `GET /v1/payments/{id}`.
pub async fn get_payment(
    State(state): State<AppState>,
    api: ApiDepartment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let payments = payments(&state)?;
    let (stored, attempt) = payments
        .payment(state.db(), &department, &id)
        .await
        .map_err(pay_error)?;
    let refunds = state
        .db()
        .refunds_of(&attempt.id)
        .await
        .map_err(ApiError::unavailable)?;
    let mut view = payments.payment_view(&stored, &attempt);
    view["refunds"] = refunds.iter().map(refund_view).collect();
    Ok(Json(view).into_response())
}

/// The body of `POST /v1/payments/{id}/refunds`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much; all that is left when absent.
    #[serde(default)]
    amount: Option<Money>,
    /// The department's reason.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/payments/{id}/refunds`.
pub async fn create_refund(
    State(state): State<AppState>,
    api: ApiDepartment,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let payments = payments(&state)?;
    let operation = format!("refund:{id}");
    idempotent(&state, &department, &operation, &headers, &body, async {
        let request: RefundBody = if body.is_empty() {
            RefundBody {
                amount: None,
                reason: None,
            }
        } else {
            body_json(&body)?
        };
        if request
            .reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control))
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_refund",
                "the reason is at most 500 printable characters",
            ));
        }
        let refund = payments
            .refund(
                state.db(),
                &department,
                &id,
                request.amount,
                request.reason,
                state.now(),
            )
            .await
            .map_err(pay_error)?;
        Ok((StatusCode::CREATED, refund_view(&refund)))
    })
    .await
}

/// `GET /v1/refunds/{id}`.
pub async fn get_refund(
    State(state): State<AppState>,
    api: ApiDepartment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let refund = if crate::payments::is_id(&id, "re_") {
        state
            .db()
            .refund(&id)
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    }
    .filter(|r| r.department == department)
    .ok_or_else(|| pay_error(PayError::NotFound("refund")))?;
    Ok(Json(refund_view(&refund)).into_response())
}

/// The query of `GET /v1/reports/daily`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    date: String,
    format: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    payments: u64,
    collected: i64,
    refunded: i64,
    fees: i64,
    held: i64,
}

impl Totals {
    fn net(&self) -> i64 {
        self.collected - self.refunded - self.fees
    }

    fn json(&self) -> Value {
        let m = |c: i64| {
            let text = crate::payments::format_cents(c);
            Value::String(text)
        };
        json!({
            "payments": self.payments,
            "collected": m(self.collected),
            "refunded": m(self.refunded),
            "fees": m(self.fees),
            "net": m(self.net()),
            "held_for_refund": m(self.held),
        })
    }
}

/// `GET /v1/reports/daily?date=YYYY-MM-DD[&format=csv]`: what the
/// department's ledger says for one Hong Kong day, by method: collected,
/// refunded, fees, net (collected − refunded − fees), and money taken that
/// no bill needed (`held_for_refund`, not in `net`). CSV with
/// `format=csv` or `Accept: text/csv`.
pub async fn daily_report(
    State(state): State<AppState>,
    api: ApiDepartment,
    headers: HeaderMap,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(&query.date, &format)
        .map_err(|_| bad_query("date is a Hong Kong date, YYYY-MM-DD"))?;
    let csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(bad_query("format is json or csv")),
        None => headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    let lines = state
        .db()
        .ledger_of_day(&department, &date.to_string())
        .await
        .map_err(ApiError::unavailable)?;
    let mut by_method: std::collections::BTreeMap<String, Totals> = Method::ALL
        .iter()
        .map(|m| (m.as_str().to_owned(), Totals::default()))
        .collect();
    for line in &lines {
        let totals = by_method.entry(line.method.clone()).or_default();
        match (line.kind.as_str(), line.side.as_str()) {
            ("payment", "credit") if line.account.starts_with("department_payable:") => {
                totals.payments += 1;
                totals.collected += line.amount_cents;
            }
            ("payment", "credit") => totals.held += line.amount_cents,
            ("refund", "debit") if line.account.starts_with("department_payable:") => {
                totals.refunded += line.amount_cents;
            }
            ("refund", "debit") => totals.held -= line.amount_cents,
            ("fee", "debit") => totals.fees += line.amount_cents,
            _ => {}
        }
    }
    let mut total = Totals::default();
    for t in by_method.values() {
        total.payments += t.payments;
        total.collected += t.collected;
        total.refunded += t.refunded;
        total.fees += t.fees;
        total.held += t.held;
    }
    if csv {
        let mut out =
            String::from("date,method,payments,collected,refunded,fees,net,held_for_refund\r\n");
        let f = crate::payments::format_cents;
        for (method, t) in by_method
            .iter()
            .chain(std::iter::once((&"total".to_owned(), &total)))
        {
            let _ = write!(
                out,
                "{date},{method},{},{},{},{},{},{}\r\n",
                t.payments,
                f(t.collected),
                f(t.refunded),
                f(t.fees),
                f(t.net()),
                f(t.held)
            );
        }
        return Ok((
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"report-{date}.csv\""),
                ),
            ],
            out,
        )
            .into_response());
    }
    let methods: serde_json::Map<String, Value> = by_method
        .iter()
        .map(|(m, t)| (m.clone(), t.json()))
        .collect();
    Ok(Json(json!({
        "object": "daily_report",
        "date": date.to_string(),
        "currency": "HKD",
        "methods": methods,
        "total": total.json(),
    }))
    .into_response())
}

/// The query of `GET /v1/webhooks/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    status: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/webhooks/events?status=failed`: the department's webhook
/// events, newest first, with their delivery state.
pub async fn list_events(
    State(state): State<AppState>,
    api: ApiDepartment,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "pending" | "delivered" | "failed")
    {
        return Err(bad_query("status is pending, delivered or failed"));
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad_query("limit is 1 to 200"));
    }
    let events = state
        .db()
        .webhook_events_of(&department, query.status.as_deref(), i64::from(limit))
        .await
        .map_err(ApiError::unavailable)?;
    let data: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.event_type,
                "status": e.status,
                "attempts": e.attempts,
                "last_error": e.last_error,
                "created": e.created_at,
                "delivered": e.delivered_at,
                "next_attempt": if e.status == "pending" { Some(e.next_attempt_at) } else { None },
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })).into_response())
}

/// `POST /v1/webhooks/events/{id}/redeliver`: sends an event again.
pub async fn redeliver(
    State(state): State<AppState>,
    api: ApiDepartment,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ApiDepartment(department, _) = api;
    let queued = crate::payments::is_id(&id, "evt_")
        && state
            .db()
            .redeliver_webhook(&department, &id, state.now().unix_timestamp())
            .await
            .map_err(ApiError::unavailable)?;
    if !queued {
        return Err(pay_error(PayError::NotFound("event")));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status": "pending" })),
    )
        .into_response())
}

/// The request's headers as the adapters take them (names lowercase).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_ascii_lowercase(), v.to_owned()))
        })
        .collect()
}

/// `POST /callbacks/{provider}`: a provider's notification.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let payments = payments(&state)?;
    let (recorded, _) = payments
        .notify(
            state.db(),
            &provider,
            &header_pairs(&headers),
            &body,
            state.now(),
        )
        .await
        .map_err(pay_error)?;
    let outcome = match recorded {
        Recorded::Applied => "applied",
        Recorded::NeedsRefund => "needs_refund",
        Recorded::Duplicate => "duplicate",
        Recorded::Ignored => "ignored",
    };
    Ok(Json(json!({ "received": true, "outcome": outcome })).into_response())
}

/// `POST /pay/return/{payment}`: the citizen's browser comes back from a
/// provider's page with its signed result (PPS posts it as a form). The
/// result is verified and recorded like any callback; the citizen then
/// goes to the bill's pay page, which shows the outcome.
pub async fn provider_return(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(payment_id): Path<String>,
    Query(query): Query<crate::pages::pay::LangQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let lang = crate::pages::language(query.lang.as_deref(), &headers);
    let payments = payments(&state)?;
    let attempt = if crate::payments::is_id(&payment_id, "pay_") {
        state
            .db()
            .attempt(&payment_id)
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    }
    .ok_or_else(|| pay_error(PayError::NotFound("payment")))?;
    let (_, recorded) = payments
        .notify(
            state.db(),
            &attempt.provider,
            &header_pairs(&headers),
            &body,
            state.now(),
        )
        .await
        .map_err(pay_error)?;
    // The signed result names its payment; the citizen goes to its bill.
    let bill_id = recorded.map_or(attempt.bill_id, |r| r.bill_id);
    Ok(
        axum::response::Redirect::to(&format!("/pay/{bill_id}?lang={}", lang.tag()))
            .into_response(),
    )
}

/// `GET /pay/return/{payment}`: a provider that sends the citizen back by
/// a plain redirect (3-D Secure by redirect, a wallet's page). Nothing in
/// the URL is trusted: the outcome comes from the provider's signed
/// notification; the citizen waits for it on the gateway's page.
pub async fn provider_return_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(payment_id): Path<String>,
    Query(query): Query<crate::pages::pay::LangQuery>,
) -> Result<Response, ApiError> {
    let lang = crate::pages::language(query.lang.as_deref(), &headers);
    let attempt = if crate::payments::is_id(&payment_id, "pay_") {
        state
            .db()
            .attempt(&payment_id)
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    }
    .ok_or_else(|| pay_error(PayError::NotFound("payment")))?;
    Ok(axum::response::Redirect::to(&format!(
        "/pay/{}/payment/{}?lang={}",
        attempt.bill_id,
        attempt.id,
        lang.tag()
    ))
    .into_response())
}

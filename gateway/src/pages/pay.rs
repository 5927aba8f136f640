//! The citizens' pay pages: a bill and its methods, the FPS QR code (which
//! updates itself when the money lands), the receipt, a signed-in
//! citizen's payment history, and the built-in PPS sandbox page.
//!
//! A citizen need not be signed in to pay: forms carry a CSRF token bound
//! to a `pay` cookie (`SameSite=Strict`, `HttpOnly`) that the bill page
//! sets. Nothing here shows more than the pay URL's holder already knows
//! (the bill's id is 128 random bits).

use askama::Template;
use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use eid_core::oidc::ClientStore;
use eid_core::oidc::grant::handle_hash;
use payment_core::Money;
use payment_core::adapters::NextStep;
use payment_core::adapters::pps::sandbox::PpsOutcome;
use payment_core::bill::Method;
use serde::Deserialize;
use serde_json::json;

use super::i18n::{Lang, Messages};
use super::language;
use crate::http::error::ApiError;
use crate::payments::{PayError, StoredBill, is_id};
use crate::state::AppState;
use crate::store::payments::AttemptRow;

/// The words of the pay pages.
#[derive(Debug)]
pub struct PayText {
    title: &'static str,
    department: &'static str,
    reference: &'static str,
    amount: &'static str,
    due: &'static str,
    choose: &'static str,
    fps: &'static str,
    fps_hint: &'static str,
    pps: &'static str,
    pps_hint: &'static str,
    card: &'static str,
    ewallet: &'static str,
    continue_fps: &'static str,
    paid: &'static str,
    cancelled: &'static str,
    expired: &'static str,
    receipt_link: &'static str,
    back: &'static str,
    fps_title: &'static str,
    fps_scan: &'static str,
    fps_phone: &'static str,
    fps_save: &'static str,
    fps_expires: &'static str,
    fps_waiting: &'static str,
    fps_check: &'static str,
    fps_sandbox: &'static str,
    attempt_failed: &'static str,
    attempt_expired: &'static str,
    try_again: &'static str,
    receipt_title: &'static str,
    receipt_number: &'static str,
    paid_at: &'static str,
    method: &'static str,
    receipt_verify: &'static str,
    print: &'static str,
    history_title: &'static str,
    history_none: &'static str,
    history_sign_in: &'static str,
    status_succeeded: &'static str,
    status_pending: &'static str,
    status_other: &'static str,
    pps_title: &'static str,
    pps_sandbox_note: &'static str,
    pps_approve: &'static str,
    pps_decline: &'static str,
    pps_cancel: &'static str,
    pps_done: &'static str,
    pps_return: &'static str,
    refused: &'static str,
    return_to: &'static str,
    card_title: &'static str,
    card_number: &'static str,
    card_expiry_month: &'static str,
    card_expiry_year: &'static str,
    card_cvc: &'static str,
    card_pay: &'static str,
    card_working: &'static str,
    card_invalid: &'static str,
    card_declined: &'static str,
    card_failed: &'static str,
    card_note: &'static str,
    card_needs_script: &'static str,
    waiting_title: &'static str,
    waiting: &'static str,
}

static EN: PayText = PayText {
    title: "Pay a bill",
    department: "Department",
    reference: "Reference",
    amount: "Amount",
    due: "Pay by",
    choose: "Choose how to pay",
    fps: "FPS (any banking app)",
    fps_hint: "Scan a QR code with your banking or e-wallet app.",
    pps: "PPS",
    pps_hint: "Pay from your PPS account on the PPS page.",
    card: "Credit or debit card",
    ewallet: "E-wallet",
    continue_fps: "Continue with the FPS code you opened",
    paid: "This bill has been paid. Thank you.",
    cancelled: "The department has cancelled this bill, so it cannot be paid. If you think this is wrong, contact the department.",
    expired: "This bill is past its due date and can no longer be paid here. Contact the department for a new bill.",
    receipt_link: "View and print your receipt",
    back: "Back to the bill",
    fps_title: "Pay by FPS",
    fps_scan: "Scan this code with your banking or e-wallet app, check the amount and the payee, and confirm.",
    fps_phone: "On this phone? Save the code to your photos, then choose \u{201c}scan from album\u{201d} in your banking app.",
    fps_save: "Save the FPS code",
    fps_expires: "The code can be used until",
    fps_waiting: "Waiting for your payment. This page updates itself when it arrives.",
    fps_check: "Check again",
    fps_sandbox: "Pay with the sandbox bank (test bills only)",
    attempt_failed: "The payment did not go through. No money was taken.",
    attempt_expired: "The code expired before a payment arrived. If you paid, the money will be matched or returned.",
    try_again: "Try again",
    receipt_title: "Receipt",
    receipt_number: "Receipt number",
    paid_at: "Paid on",
    method: "Paid by",
    receipt_verify: "To check this receipt, open its address on the gateway (shown below) or give the receipt number to the department: it can confirm the payment in its records.",
    print: "Print this receipt",
    history_title: "Your payments",
    history_none: "You have no payments made while signed in.",
    history_sign_in: "Sign in to see the payments you made while signed in.",
    status_succeeded: "Paid",
    status_pending: "Waiting",
    status_other: "Not completed",
    pps_title: "PPS (sandbox)",
    pps_sandbox_note: "This is the gateway's PPS sandbox: no real money moves.",
    pps_approve: "Pay",
    pps_decline: "Pay with too little in the account (declined)",
    pps_cancel: "Cancel",
    pps_done: "PPS has finished. Return to the gateway to see the result.",
    pps_return: "Return to the gateway",
    refused: "That could not be done. Please go back to the bill and try again.",
    return_to: "Return to",
    card_title: "Pay by card",
    card_number: "Card number",
    card_expiry_month: "Expiry month (MM)",
    card_expiry_year: "Expiry year (YY)",
    card_cvc: "Security code (CVC)",
    card_pay: "Pay",
    card_working: "Working… Your bank may ask you to confirm.",
    card_invalid: "Please check the card details.",
    card_declined: "Your card was declined. No money was taken. Try another card or another way to pay.",
    card_failed: "The payment could not be made. No money was taken. Please try again.",
    card_note: "Your card details go straight to the card acquirer; the gateway never sees them.",
    card_needs_script: "Card payments need JavaScript. Please turn it on, or choose another way to pay.",
    waiting_title: "Confirming your payment",
    waiting: "Waiting for the confirmation of your payment. This page updates itself.",
};

static ZH: PayText = PayText {
    title: "繳付帳單",
    department: "部門",
    reference: "參考編號",
    amount: "金額",
    due: "繳費限期",
    choose: "選擇付款方式",
    fps: "轉數快（任何銀行應用程式）",
    fps_hint: "用銀行或電子錢包應用程式掃描二維碼。",
    pps: "繳費靈",
    pps_hint: "在繳費靈網頁以繳費靈戶口付款。",
    card: "信用卡或扣帳卡",
    ewallet: "電子錢包",
    continue_fps: "繼續使用已開啟的轉數快二維碼",
    paid: "此帳單已繳付，謝謝。",
    cancelled: "部門已取消此帳單，因此不能繳付。如有疑問，請聯絡有關部門。",
    expired: "此帳單已過繳費限期，不能再在此繳付。請聯絡部門索取新帳單。",
    receipt_link: "查看及列印收據",
    back: "返回帳單",
    fps_title: "以轉數快付款",
    fps_scan: "請用銀行或電子錢包應用程式掃描此二維碼，核對金額及收款人後確認付款。",
    fps_phone: "正在使用這部手機？請把二維碼儲存到相簿，然後在銀行應用程式選擇「從相簿掃描」。",
    fps_save: "儲存轉數快二維碼",
    fps_expires: "二維碼有效至",
    fps_waiting: "正在等待你的付款。款項到達後，此頁會自動更新。",
    fps_check: "再次查看",
    fps_sandbox: "以測試銀行付款（只限測試帳單）",
    attempt_failed: "付款未能完成，沒有扣除任何款項。",
    attempt_expired: "二維碼在收到付款前已過期。如你已付款，款項會被核對或退回。",
    try_again: "再試一次",
    receipt_title: "收據",
    receipt_number: "收據編號",
    paid_at: "付款日期",
    method: "付款方式",
    receipt_verify: "如要核實此收據，請在閘道開啟下列網址，或把收據編號交給有關部門，部門可在紀錄中確認付款。",
    print: "列印收據",
    history_title: "你的付款紀錄",
    history_none: "你登入後未有付款紀錄。",
    history_sign_in: "請登入以查看你登入時所作的付款。",
    status_succeeded: "已付款",
    status_pending: "等待中",
    status_other: "未完成",
    pps_title: "繳費靈（測試）",
    pps_sandbox_note: "這是閘道的繳費靈測試頁，不涉及真實款項。",
    pps_approve: "付款",
    pps_decline: "以餘額不足的戶口付款（會被拒絕）",
    pps_cancel: "取消",
    pps_done: "繳費靈已完成。請返回閘道查看結果。",
    pps_return: "返回閘道",
    refused: "未能完成。請返回帳單再試。",
    return_to: "返回",
    card_title: "以信用卡付款",
    card_number: "卡號",
    card_expiry_month: "到期月份（月月）",
    card_expiry_year: "到期年份（年年）",
    card_cvc: "保安碼",
    card_pay: "付款",
    card_working: "處理中…你的銀行或會要求你確認。",
    card_invalid: "請核對信用卡資料。",
    card_declined: "你的信用卡被拒絕，沒有扣除任何款項。請使用另一張卡或其他付款方式。",
    card_failed: "未能付款，沒有扣除任何款項。請再試一次。",
    card_note: "你的信用卡資料直接交到收單機構，閘道不會看到。",
    card_needs_script: "信用卡付款需要使用 JavaScript。請開啟，或選擇其他付款方式。",
    waiting_title: "正在確認你的付款",
    waiting: "正在等待付款確認。此頁會自動更新。",
};

fn text(lang: Lang) -> &'static PayText {
    match lang {
        Lang::En => &EN,
        Lang::ZhHk => &ZH,
    }
}

fn method_name(t: &PayText, method: &str) -> &'static str {
    match method {
        "fps" => t.fps,
        "pps" => t.pps,
        "card" => t.card,
        _ => t.ewallet,
    }
}

/// `HK$1,234.50`.
pub fn hkd(amount: Money) -> String {
    let text = amount.to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("HK${grouped}.{cents}")
}

fn hong_kong_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(payment_core::HONG_KONG))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn pay_cookie(tls: bool) -> &'static str {
    if tls { "__Host-eid_pay" } else { "eid_pay" }
}

/// The pay pages' CSRF token: derived from the `pay` cookie.
fn csrf_of_cookie(value: &str) -> String {
    handle_hash(&format!("pay-csrf:{value}"))
}

/// The CSRF token for this browser, and the cookie to set when it has none.
fn csrf(headers: &HeaderMap, tls: bool) -> Result<(String, Option<String>), ApiError> {
    if let Some(value) =
        crate::signin::cookie(headers, pay_cookie(tls)).filter(|v| crate::signin::is_handle(v))
    {
        return Ok((csrf_of_cookie(value), None));
    }
    let value = crate::signin::random_handle()
        .ok_or_else(|| ApiError::unavailable("the random generator failed"))?;
    let cookie = format!(
        "{}={value}; Path=/pay; HttpOnly; SameSite=Strict; Max-Age=86400{}",
        pay_cookie(tls),
        if tls { "; Secure" } else { "" },
    );
    // `__Host-` cookies must have Path=/.
    let cookie = if tls {
        cookie.replacen("Path=/pay", "Path=/", 1)
    } else {
        cookie
    };
    Ok((csrf_of_cookie(&value), Some(cookie)))
}

fn csrf_ok(headers: &HeaderMap, tls: bool, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    crate::signin::cookie(headers, pay_cookie(tls))
        .filter(|v| crate::signin::is_handle(v))
        .is_some_and(|v| bool::from(csrf_of_cookie(v).as_bytes().ct_eq(given.as_bytes())))
}

fn refused(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "csrf", text(lang).refused)
}

fn payments(state: &AppState) -> Result<&crate::payments::Payments, ApiError> {
    state
        .payments()
        .ok_or_else(|| ApiError::unavailable("payments are not configured correctly"))
}

fn not_found(lang: Lang) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        match lang {
            Lang::En => "There is no such bill. Check the link the department gave you.",
            Lang::ZhHk => "找不到此帳單。請核對部門提供的連結。",
        },
    )
}

/// A pay page's bill (`404` in the page's language), with the payments.
async fn load_bill<'s>(
    state: &'s AppState,
    lang: Lang,
    bill_id: &str,
) -> Result<(&'s crate::payments::Payments, StoredBill), ApiError> {
    let payments = payments(state)?;
    let stored = payments
        .bill(state.db(), bill_id, None)
        .await
        .map_err(page_error(lang))?;
    Ok((payments, stored))
}

fn page_error(lang: Lang) -> impl Fn(PayError) -> ApiError {
    move |e| match e {
        PayError::NotFound(_) => not_found(lang),
        other => crate::http::payments::pay_error(other),
    }
}

/// The language query of the pay pages.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
}

struct MethodChoice {
    value: &'static str,
    name: &'static str,
    hint: &'static str,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct BillPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    lang: &'static str,
    switch_url: String,
    csrf: String,
    bill_id: String,
    department: String,
    description: String,
    reference: String,
    amount: String,
    due: String,
    status: String,
    methods: Vec<MethodChoice>,
    open_fps: String,
}

async fn department_name(state: &AppState, client_id: &str) -> String {
    state
        .db()
        .get_client(client_id)
        .await
        .ok()
        .flatten()
        .map_or_else(|| client_id.to_owned(), |c| c.name)
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(cookie) = cookie
        && let Ok(value) = HeaderValue::from_str(&cookie)
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// `GET /pay/{bill}`: the bill, and how to pay it.
pub async fn bill_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let t = text(lang);
    let (payments, stored) = load_bill(&state, lang, &bill_id).await?;
    let stored = payments
        .expire_if_overdue(state.db(), stored, state.now())
        .await
        .map_err(page_error(lang))?;
    let (csrf, cookie) = csrf(&headers, state.config().tls.is_some())?;
    let now = state.now().unix_timestamp();
    let open_fps = state
        .db()
        .attempts_of(&bill_id)
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .rev()
        .find(|a| a.method == "fps" && a.state == "pending" && a.expires_at > now + 60)
        .map(|a| a.id)
        .unwrap_or_default();
    let methods = stored
        .bill
        .methods
        .iter()
        .filter(|m| payments.offers(**m) && matches!(m, Method::Fps | Method::Pps | Method::Card))
        .map(|m| MethodChoice {
            value: m.as_str(),
            name: method_name(t, m.as_str()),
            hint: match m {
                Method::Fps => t.fps_hint,
                Method::Pps => t.pps_hint,
                _ => t.card_note,
            },
        })
        .collect();
    let page = BillPage {
        m: lang.messages(),
        t,
        lang: lang.tag(),
        switch_url: format!("/pay/{bill_id}?lang={}", lang.other().tag()),
        csrf,
        department: department_name(&state, &stored.row.department).await,
        description: match lang {
            Lang::En => stored.bill.description.en.clone(),
            Lang::ZhHk => stored.bill.description.zh.clone(),
        },
        reference: stored.bill.reference.clone(),
        amount: hkd(stored.bill.amount),
        due: stored.bill.due_date.to_string(),
        status: stored.row.status.clone(),
        methods,
        open_fps,
        bill_id,
    };
    // A provider's page (PPS) is reached by a redirect after the form:
    // browsers apply form-action to it.
    let pps_origin = state
        .config()
        .payments
        .pps
        .as_ref()
        .and_then(|p| p.pay_url.as_deref())
        .and_then(super::helper_origin);
    Ok(with_cookie(
        super::render_with_origins(&page, None, pps_origin.as_deref()),
        cookie,
    ))
}

/// The form of `POST /pay/{bill}/start`.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    csrf: String,
    method: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /pay/{bill}/start`: starts an attempt by the chosen method.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Form(form): Form<StartForm>,
) -> Result<Response, ApiError> {
    let lang = language(form.lang.as_deref(), &headers);
    if !csrf_ok(&headers, state.config().tls.is_some(), &form.csrf) {
        return Err(refused(lang));
    }
    let method: Method = form.method.parse().map_err(|_| refused(lang))?;
    let payments = payments(&state)?;
    let citizen = state
        .sessions()
        .current(&headers)
        .await
        .map(|c| c.citizen_id);
    let attempt = payments
        .start(
            state.db(),
            &bill_id,
            method,
            crate::payments::StartOptions {
                payment_method: None,
                citizen: citizen.as_deref(),
                lang: Some(lang.tag()),
                wallet: None,
            },
            state.now(),
        )
        .await
        .map_err(page_error(lang))?;
    let next: NextStep = attempt
        .next_step
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(NextStep::None);
    Ok(match next {
        NextStep::Redirect { url } => Redirect::to(&url).into_response(),
        _ => Redirect::to(&format!(
            "/pay/{bill_id}/fps/{}?lang={}",
            attempt.id,
            lang.tag()
        ))
        .into_response(),
    })
}

#[derive(Template)]
#[template(path = "pay_fps.html")]
struct FpsPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    lang: &'static str,
    switch_url: String,
    csrf: String,
    bill_id: String,
    payment_id: String,
    amount: String,
    reference: String,
    svg: String,
    expires: String,
    state: String,
    sandbox: bool,
}

async fn bill_attempt(
    state: &AppState,
    lang: Lang,
    bill_id: &str,
    payment_id: &str,
) -> Result<(StoredBill, AttemptRow), ApiError> {
    let (_, stored) = load_bill(state, lang, bill_id).await?;
    let attempt = if is_id(payment_id, "pay_") {
        state
            .db()
            .attempt(payment_id)
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    }
    .filter(|a| a.bill_id == bill_id)
    .ok_or_else(|| not_found(lang))?;
    Ok((stored, attempt))
}

fn qr_payload(attempt: &AttemptRow) -> Option<String> {
    match attempt
        .next_step
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
    {
        Some(NextStep::ShowQr { payload }) => Some(payload),
        _ => None,
    }
}

/// `GET /pay/{bill}/fps/{payment}`: the FPS code, until the money lands.
pub async fn fps_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((bill_id, payment_id)): Path<(String, String)>,
    Query(query): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let (stored, attempt) = bill_attempt(&state, lang, &bill_id, &payment_id).await?;
    if attempt.state == "succeeded" {
        return Ok(
            Redirect::to(&format!("/pay/{bill_id}/receipt?lang={}", lang.tag())).into_response(),
        );
    }
    // FPS shows its code; other methods wait for the acquirer's word.
    let svg = match qr_payload(&attempt) {
        Some(payload) => payment_core::fps_render::svg(&payload, 280)
            .map_err(|e| ApiError::unavailable(format!("QR: {e}")))?,
        None => String::new(),
    };
    let (csrf, cookie) = csrf(&headers, state.config().tls.is_some())?;
    let page = FpsPage {
        m: lang.messages(),
        t: text(lang),
        lang: lang.tag(),
        switch_url: format!(
            "/pay/{bill_id}/fps/{payment_id}?lang={}",
            lang.other().tag()
        ),
        csrf,
        amount: hkd(stored.bill.amount),
        reference: stored.bill.reference.clone(),
        svg,
        expires: hong_kong_time(attempt.expires_at),
        state: attempt.state.clone(),
        sandbox: stored.row.mode == "test"
            && attempt.method == "fps"
            && state.payments().is_some_and(|p| p.fps_bank().is_some()),
        bill_id,
        payment_id,
    };
    Ok(with_cookie(super::render(&page), cookie))
}

/// `GET /pay/{bill}/fps/{payment}/qr.png`: the code as an image to save.
pub async fn fps_png(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((bill_id, payment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let lang = language(None, &headers);
    let (_, attempt) = bill_attempt(&state, lang, &bill_id, &payment_id).await?;
    let payload = qr_payload(&attempt).ok_or_else(|| not_found(lang))?;
    let png = payment_core::fps_render::png(&payload, 8)
        .map_err(|e| ApiError::unavailable(format!("QR: {e}")))?;
    Ok((
        [
            (CONTENT_TYPE, "image/png"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"fps-code.png\"",
            ),
        ],
        png,
    )
        .into_response())
}

/// The form of the sandbox bank button.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /pay/{bill}/fps/{payment}/sandbox`: the sandbox bank's customer
/// pays the code (test bills, with the built-in sandbox bank only).
pub async fn fps_sandbox_pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((bill_id, payment_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let lang = language(form.lang.as_deref(), &headers);
    if !csrf_ok(&headers, state.config().tls.is_some(), &form.csrf) {
        return Err(refused(lang));
    }
    let (stored, attempt) = bill_attempt(&state, lang, &bill_id, &payment_id).await?;
    let bank = state
        .payments()
        .and_then(|p| p.fps_bank())
        .filter(|_| stored.row.mode == "test")
        .ok_or_else(|| not_found(lang))?;
    let payload = qr_payload(&attempt).ok_or_else(|| not_found(lang))?;
    bank.pay(&payload, state.now()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sandbox_refused",
            e.to_string(),
        )
    })?;
    Ok(Redirect::to(&format!(
        "/pay/{bill_id}/fps/{payment_id}?lang={}",
        lang.tag()
    ))
    .into_response())
}

/// The query of `GET /pay/{bill}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    payment: Option<String>,
}

/// `GET /pay/{bill}/status?payment=`: what the FPS page polls.
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, ApiError> {
    let lang = language(None, &headers);
    let (_, stored) = load_bill(&state, lang, &bill_id).await?;
    let payment = match &query.payment {
        Some(id) => Some(bill_attempt(&state, lang, &bill_id, id).await?.1.state),
        None => None,
    };
    let mut response =
        Json(json!({ "bill": stored.row.status, "payment": payment })).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "pay_receipt.html")]
struct ReceiptPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    lang: &'static str,
    switch_url: String,
    department: String,
    description: String,
    reference: String,
    amount: String,
    paid_at: String,
    method: &'static str,
    number: String,
    address: String,
    return_url: String,
}

/// `GET /pay/{bill}/receipt`: the printable receipt of a paid bill.
pub async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let t = text(lang);
    let (_, stored) = load_bill(&state, lang, &bill_id).await?;
    let payment_core::payment::BillState::Paid { attempt } = stored.payments.state else {
        return Ok(Redirect::to(&format!("/pay/{bill_id}?lang={}", lang.tag())).into_response());
    };
    let row = state
        .db()
        .attempts_of(&bill_id)
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .find(|a| a.idx == attempt as i64)
        .ok_or_else(|| not_found(lang))?;
    let page = ReceiptPage {
        m: lang.messages(),
        t,
        lang: lang.tag(),
        switch_url: format!("/pay/{bill_id}/receipt?lang={}", lang.other().tag()),
        department: department_name(&state, &stored.row.department).await,
        description: match lang {
            Lang::En => stored.bill.description.en.clone(),
            Lang::ZhHk => stored.bill.description.zh.clone(),
        },
        reference: stored.bill.reference.clone(),
        amount: hkd(stored.payments.collected()),
        paid_at: hong_kong_time(row.updated_at),
        method: method_name(t, &row.method),
        number: row.id.clone(),
        address: format!("{}/pay/{bill_id}/receipt", state.config().public_url()),
        return_url: stored.bill.return_url.clone(),
    };
    Ok(super::render(&page))
}

struct HistoryRow {
    bill_id: String,
    reference: String,
    amount: String,
    method: &'static str,
    when: String,
    status: &'static str,
    paid: bool,
}

#[derive(Template)]
#[template(path = "pay_history.html")]
struct HistoryPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    lang: &'static str,
    switch_url: String,
    signed_in: bool,
    rows: Vec<HistoryRow>,
}

/// `GET /account/payments`: the payments a signed-in citizen made.
pub async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let t = text(lang);
    let citizen = state.sessions().current(&headers).await;
    let mut rows = Vec::new();
    if let Some(citizen) = &citizen {
        let attempts = state
            .db()
            .attempts_of_citizen(&citizen.citizen_id, 100)
            .await
            .map_err(ApiError::unavailable)?;
        for a in attempts {
            let Some(bill) = state
                .db()
                .bill(&a.bill_id)
                .await
                .map_err(ApiError::unavailable)?
            else {
                continue;
            };
            let Ok(stored) = StoredBill::read(bill) else {
                continue;
            };
            rows.push(HistoryRow {
                reference: stored.bill.reference.clone(),
                amount: hkd(stored.bill.amount),
                method: method_name(t, &a.method),
                when: hong_kong_time(a.created_at),
                status: match a.state.as_str() {
                    "succeeded" => t.status_succeeded,
                    "pending" | "created" => t.status_pending,
                    _ => t.status_other,
                },
                paid: a.state == "succeeded",
                bill_id: a.bill_id,
            });
        }
    }
    let page = HistoryPage {
        m: lang.messages(),
        t,
        lang: lang.tag(),
        switch_url: format!("/account/payments?lang={}", lang.other().tag()),
        signed_in: citizen.is_some(),
        rows,
    };
    Ok(super::render(&page))
}

#[derive(Template)]
#[template(path = "pps_sandbox.html")]
struct PpsPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    switch_url: String,
    amount: String,
    merchant: String,
    account: String,
    query: String,
    done: bool,
    return_url: String,
    fields: Vec<(String, String)>,
    choices: Vec<(&'static str, &'static str)>,
}

/// `GET /sandbox/pps?…`: the PPS sandbox page (with `payments.pps.sandbox`).
pub async fn pps_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let lang = language(None, &headers);
    let sandbox = state
        .payments()
        .and_then(|p| p.pps_sandbox())
        .ok_or_else(|| not_found(lang))?;
    let query = query.unwrap_or_default();
    let request = sandbox
        .open(&format!("/sandbox/pps?{query}"), state.now())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "pps_refused", e.to_string()))?;
    let page = PpsPage {
        m: lang.messages(),
        t: text(lang),
        switch_url: format!("/sandbox/pps?{query}"),
        amount: hkd(request.amount),
        merchant: request.merchant_code,
        account: request.bill_account,
        query,
        done: false,
        return_url: String::new(),
        fields: Vec::new(),
        choices: {
            let t = text(lang);
            vec![
                ("approve", t.pps_approve),
                ("decline", t.pps_decline),
                ("cancel", t.pps_cancel),
            ]
        },
    };
    Ok(super::render(&page))
}

/// The form of `POST /sandbox/pps`.
#[derive(Debug, Deserialize)]
pub struct PpsForm {
    query: String,
    outcome: String,
}

/// `POST /sandbox/pps`: the citizen decides; the page then offers the
/// signed result to post back to the gateway, as PPS does.
pub async fn pps_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<PpsForm>,
) -> Result<Response, ApiError> {
    let lang = language(None, &headers);
    let sandbox = state
        .payments()
        .and_then(|p| p.pps_sandbox())
        .ok_or_else(|| not_found(lang))?;
    let outcome = match form.outcome.as_str() {
        "approve" => PpsOutcome::Approve,
        "decline" => PpsOutcome::Decline,
        _ => PpsOutcome::Cancel,
    };
    let (return_url, result) = sandbox
        .finish(
            &format!("/sandbox/pps?{}", form.query),
            outcome,
            state.now(),
        )
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "pps_refused", e.to_string()))?;
    let fields = form_urlencoded::parse(result.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let page = PpsPage {
        m: lang.messages(),
        t: text(lang),
        switch_url: "/sandbox/pps".into(),
        amount: String::new(),
        merchant: String::new(),
        account: String::new(),
        query: String::new(),
        done: true,
        return_url,
        fields,
        choices: Vec::new(),
    };
    Ok(super::render(&page))
}

/// `GET /static/pay.js`.
pub async fn script() -> Response {
    super::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/pay.js"),
    )
}

#[derive(Template)]
#[template(path = "pay_card.html")]
struct CardPage<'a> {
    m: &'a Messages,
    t: &'a PayText,
    lang: &'static str,
    switch_url: String,
    csrf: String,
    bill_id: String,
    amount: String,
    reference: String,
    api_base: String,
    publishable_key: String,
    js_url: String,
}

/// `GET /pay/{bill}/card`: the card form. The card is tokenised in the
/// browser at the acquirer (with its publishable key) and only the token
/// reaches the gateway; the acquirer's script runs 3-D Secure.
pub async fn card_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let (_, stored) = load_bill(&state, lang, &bill_id).await?;
    let stripe = state
        .config()
        .payments
        .card
        .clone()
        .filter(|_| stored.bill.allows(Method::Card) && stored.row.status == "open")
        .ok_or_else(|| not_found(lang))?;
    let (csrf, cookie) = csrf(&headers, state.config().tls.is_some())?;
    let api = super::helper_origin(&stripe.api_base).unwrap_or_default();
    let script = super::helper_origin(&stripe.js_url).unwrap_or_default();
    let page = CardPage {
        m: lang.messages(),
        t: text(lang),
        lang: lang.tag(),
        switch_url: format!("/pay/{bill_id}/card?lang={}", lang.other().tag()),
        csrf,
        amount: hkd(stored.bill.amount),
        reference: stored.bill.reference.clone(),
        api_base: stripe.api_base.trim_end_matches('/').to_owned(),
        publishable_key: stripe.publishable_key.clone(),
        js_url: stripe.js_url.clone(),
        bill_id,
    };
    let mut response = super::render(&page);
    // The acquirer's script (and its 3-D Secure frames) and API, nothing else.
    let policy = crate::http::headers::CONTENT_SECURITY_POLICY
        .replacen(
            "script-src 'self';",
            &format!("script-src 'self' {script};"),
            1,
        )
        .replacen(
            "default-src 'self';",
            &format!("default-src 'self'; connect-src 'self' {api}; frame-src {script} {api};"),
            1,
        );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(with_cookie(response, cookie))
}

/// The form `card.js` posts to `POST /pay/{bill}/card`.
#[derive(Debug, Deserialize)]
pub struct CardForm {
    csrf: String,
    payment_method: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /pay/{bill}/card`: starts a card payment with the browser's
/// token; answers JSON for `card.js`: where to wait, and the client
/// secret when 3-D Secure is needed.
pub async fn card_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(bill_id): Path<String>,
    Form(form): Form<CardForm>,
) -> Result<Response, ApiError> {
    let lang = language(form.lang.as_deref(), &headers);
    let t = text(lang);
    if !csrf_ok(&headers, state.config().tls.is_some(), &form.csrf) {
        return Err(refused(lang));
    }
    let payments = payments(&state)?;
    let citizen = state
        .sessions()
        .current(&headers)
        .await
        .map(|c| c.citizen_id);
    let started = payments
        .start(
            state.db(),
            &bill_id,
            Method::Card,
            crate::payments::StartOptions {
                payment_method: Some(form.payment_method),
                citizen: citizen.as_deref(),
                lang: Some(lang.tag()),
                wallet: None,
            },
            state.now(),
        )
        .await;
    let attempt = match started {
        Ok(attempt) => attempt,
        Err(PayError::NotFound(_)) => return Err(not_found(lang)),
        Err(error) => {
            let api = crate::http::payments::pay_error(error);
            if api.code == "outcome_unknown"
                && let Some(open) = state
                    .db()
                    .attempts_of(&bill_id)
                    .await
                    .map_err(ApiError::unavailable)?
                    .into_iter()
                    .rev()
                    .find(|a| a.state == "created" && a.method == "card")
            {
                // The card may have been charged: the citizen waits for the
                // outcome instead of being told to try again.
                return Ok(Json(json!({
                    "payment": open.id,
                    "client_secret": null,
                    "wait_url": format!("/pay/{bill_id}/payment/{}?lang={}", open.id, lang.tag()),
                }))
                .into_response());
            }
            let message = match api.code {
                "payment_declined" => t.card_declined,
                "invalid_payment_method" => t.card_invalid,
                _ => t.card_failed,
            };
            return Err(ApiError::new(api.status, api.code, message));
        }
    };
    let client_secret = match attempt
        .next_step
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
    {
        Some(NextStep::AcquirerAction { client_secret }) => Some(client_secret),
        _ => None,
    };
    Ok(Json(json!({
        "payment": attempt.id,
        "client_secret": client_secret,
        "wait_url": format!("/pay/{bill_id}/payment/{}?lang={}", attempt.id, lang.tag()),
    }))
    .into_response())
}

/// `GET /static/card.js`.
pub async fn card_script() -> Response {
    super::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/card.js"),
    )
}

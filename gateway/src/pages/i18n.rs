//! The pages' words, in English and Traditional Chinese (Hong Kong). Every
//! string a page shows comes from here, so a missing translation is a
//! compile error, not English on a Chinese page.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese, Hong Kong.
    ZhHk,
}

impl Lang {
    /// From a language tag: `en...` is English; `zh-HK`, `zh-TW`,
    /// `zh-Hant...`, `zh-MO` and plain `zh` are Traditional Chinese.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        if tag == "en" || tag.starts_with("en-") {
            Some(Lang::En)
        } else if tag == "zh"
            || tag.starts_with("zh-hk")
            || tag.starts_with("zh-tw")
            || tag.starts_with("zh-mo")
            || tag.starts_with("zh-hant")
        {
            Some(Lang::ZhHk)
        } else {
            None
        }
    }

    /// The tag used in URLs (`en`, `zh-HK`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHk => "zh-HK",
        }
    }

    /// The same language for the e-ME profile's labels and previews.
    pub fn eme(self) -> eid_core::profile::Lang {
        match self {
            Lang::En => eid_core::profile::Lang::En,
            Lang::ZhHk => eid_core::profile::Lang::ZhHk,
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhHk,
            Lang::ZhHk => Lang::En,
        }
    }

    /// The words.
    pub fn messages(self) -> &'static Messages {
        match self {
            Lang::En => &EN,
            Lang::ZhHk => &ZH_HK,
        }
    }
}

/// Everything the pages say.
#[derive(Debug)]
pub struct Messages {
    /// `lang` attribute of the page.
    pub html_lang: &'static str,
    /// The product's name.
    pub product: &'static str,
    /// The skip link.
    pub skip_to_content: &'static str,
    /// The other language's tag.
    pub other_lang_code: &'static str,
    /// The other language's name, in that language.
    pub other_lang_name: &'static str,
    /// Footer.
    pub footer: &'static str,
    /// Sign-in page title.
    pub signin_title: &'static str,
    /// Step-up notice.
    pub step_up_notice: &'static str,
    /// Sign-in introduction.
    pub signin_intro: &'static str,
    /// Sign-in button.
    pub signin_button: &'static str,
    /// Heading over registration.
    pub new_here: &'static str,
    /// Registration introduction.
    pub register_intro: &'static str,
    /// Registration button.
    pub register_button: &'static str,
    /// While the device is asked.
    pub working: &'static str,
    /// Generic failure.
    pub failed: &'static str,
    /// Cancelled or timed out on the device.
    pub cancelled: &'static str,
    /// No WebAuthn in the browser.
    pub unsupported: &'static str,
    /// Signed in (no department waiting).
    pub signed_in: &'static str,
    /// JavaScript is off.
    pub needs_script: &'static str,
    /// Heading of the passkey explanation.
    pub about_passkeys_title: &'static str,
    /// The passkey explanation.
    pub about_passkeys: &'static str,
    /// Account page title.
    pub account_title: &'static str,
    /// Heading of the passkey list.
    pub passkeys_heading: &'static str,
    /// Between a label and its value (`: ` or the full-width `：`).
    pub label_separator: &'static str,
    /// Label: created.
    pub created: &'static str,
    /// Label: last used.
    pub last_used: &'static str,
    /// Never used.
    pub never: &'static str,
    /// Label of the name field.
    pub rename_label: &'static str,
    /// Rename button.
    pub rename_button: &'static str,
    /// Remove button.
    pub remove_button: &'static str,
    /// Why the only passkey cannot be removed.
    pub only_one_note: &'static str,
    /// Add another passkey.
    pub add_passkey_button: &'static str,
    /// Heading of sign-out.
    pub sign_out_heading: &'static str,
    /// Sign out here.
    pub sign_out_button: &'static str,
    /// Sign out everywhere.
    pub sign_out_everywhere_button: &'static str,
    /// Notice after a rename.
    pub done_renamed: &'static str,
    /// Notice after a removal.
    pub done_removed: &'static str,
    /// Notice when a change was refused.
    pub done_refused: &'static str,
    /// Link to a consent's signed receipt.
    pub consents_receipt: &'static str,
    /// Consents page title.
    pub consents_title: &'static str,
    /// Consents page introduction.
    pub consents_intro: &'static str,
    /// No grants yet.
    pub consents_none: &'static str,
    /// Label: fields shared.
    pub consents_fields: &'static str,
    /// Label: when given.
    pub consents_given: &'static str,
    /// Label: expiry.
    pub consents_until: &'static str,
    /// Revoke button.
    pub consents_revoke: &'static str,
    /// A live grant.
    pub consent_state_live: &'static str,
    /// A revoked grant.
    pub consent_state_revoked: &'static str,
    /// An expired grant.
    pub consent_state_expired: &'static str,
    /// After a revocation.
    pub done_consent_revoked: &'static str,
    /// Between list items.
    pub list_separator: &'static str,
    /// Link from the account page.
    pub consents_link: &'static str,
    /// Consent page title.
    pub consent_title: &'static str,
    /// Label: the department.
    pub consent_department: &'static str,
    /// Label: the form.
    pub consent_form: &'static str,
    /// Label: the purpose.
    pub consent_purpose: &'static str,
    /// Label: how long it is kept.
    pub consent_retention: &'static str,
    /// Unit after the retention.
    pub consent_days: &'static str,
    /// Heading over the fields.
    pub consent_fields: &'static str,
    /// How unticking works.
    pub consent_untick_hint: &'static str,
    /// Marks a required field.
    pub consent_required: &'static str,
    /// A field the profile does not hold.
    pub consent_missing: &'static str,
    /// Approve button.
    pub consent_approve: &'static str,
    /// Decline button.
    pub consent_decline: &'static str,
    /// Profile page title.
    pub profile_title: &'static str,
    /// Profile page introduction.
    pub profile_intro: &'static str,
    /// A field without a value.
    pub not_given: &'static str,
    /// Marks a value from the card.
    pub verified_card: &'static str,
    /// Save button.
    pub save_button: &'static str,
    /// After a save.
    pub done_saved: &'static str,
    /// A save was refused.
    pub profile_errors: &'static str,
    /// Next to the HKID box.
    pub hkid_keep_note: &'static str,
    /// How to remove a detail.
    pub remove_hint: &'static str,
    /// Address part.
    pub address_flat: &'static str,
    /// Address part.
    pub address_floor: &'static str,
    /// Address part.
    pub address_block: &'static str,
    /// Address part.
    pub address_building: &'static str,
    /// Address part.
    pub address_street: &'static str,
    /// Address part.
    pub address_district: &'static str,
    /// Link from the account page.
    pub profile_link: &'static str,
    /// Heading of the smart-ID-card part.
    pub card_heading: &'static str,
    /// Card sign-in introduction.
    pub card_intro: &'static str,
    /// Card sign-in through the browser's certificate prompt.
    pub card_tls_button: &'static str,
    /// Card sign-in through the card-reader app.
    pub card_helper_button: &'static str,
    /// The card sign-in failed.
    pub card_failed: &'static str,
    /// No certificate came with the request.
    pub card_none: &'static str,
    /// Card sign-in is switched off.
    pub card_unavailable: &'static str,
    /// The card-reader app did not answer.
    pub card_helper_missing: &'static str,
    /// The account holds a card identity.
    pub card_bound_status: &'static str,
    /// The account holds no card identity.
    pub card_unbound_status: &'static str,
    /// Bind through the browser's certificate prompt.
    pub card_bind_button: &'static str,
    /// Bind through the card-reader app.
    pub card_bind_helper_button: &'static str,
    /// Binding needs a passkey sign-in first.
    pub card_bind_needs_passkey: &'static str,
    /// After binding.
    pub done_card_bound: &'static str,
    /// The card belongs to another account.
    pub done_card_in_use: &'static str,
    /// The account holds another card.
    pub done_account_has_card: &'static str,
    /// After a card sign-in without a department waiting.
    pub done_card_signed_in: &'static str,
    /// The account has no passkey.
    pub no_passkeys: &'static str,
    /// Label of the field whose suggestions offer passkeys (conditional UI).
    pub autofill_label: &'static str,
    /// Step-up that links the card to the passkey account.
    pub step_up_bind_notice: &'static str,
    /// Step-up needed but no card sign-in here.
    pub step_up_unavailable: &'static str,
}

/// English.
pub static EN: Messages = Messages {
    html_lang: "en",
    product: "eID Gateway",
    skip_to_content: "Skip to main content",
    other_lang_code: "zh-HK",
    other_lang_name: "繁體中文",
    footer: "Your passkey stays on your device; the gateway never sees it.",
    signin_title: "Sign in",
    step_up_notice: "The service you came from needs a higher level of assurance. Sign in with your smart ID card to continue.",
    signin_intro: "Sign in with the passkey you created on this device or on another of your devices.",
    signin_button: "Sign in with a passkey",
    new_here: "New here?",
    register_intro: "Create an account with a passkey. Your device's screen lock (fingerprint, face or PIN) protects it.",
    register_button: "Create an account with a passkey",
    working: "Waiting for your device…",
    failed: "Sign-in did not succeed. Please try again.",
    cancelled: "The passkey request was cancelled or timed out. Please try again.",
    unsupported: "This browser cannot use passkeys. Please use an up-to-date browser.",
    signed_in: "You are signed in.",
    needs_script: "Passkeys need JavaScript. Please turn it on and reload this page.",
    about_passkeys_title: "About passkeys",
    about_passkeys: "A passkey replaces a password. Your device makes it, and it works only on this gateway, so it cannot be phished or reused elsewhere.",
    account_title: "Your passkeys and sessions",
    passkeys_heading: "Passkeys",
    label_separator: ": ",
    created: "Created",
    last_used: "Last used",
    never: "never",
    rename_label: "Name",
    rename_button: "Rename",
    remove_button: "Remove this passkey",
    only_one_note: "This is your only passkey, so it cannot be removed. Add another first.",
    add_passkey_button: "Add a passkey on this device",
    sign_out_heading: "Sign out",
    sign_out_button: "Sign out on this device",
    sign_out_everywhere_button: "Sign out on all devices",
    done_renamed: "The passkey was renamed.",
    done_removed: "The passkey was removed.",
    done_refused: "That change could not be made. Please try again.",
    consents_receipt: "Download the signed receipt",
    consents_title: "Details you have shared",
    consents_intro: "Each department below may receive the listed details from your e-ME profile, for the stated purpose, until the date shown. Revoke a consent to stop it at once.",
    consents_none: "You have not shared details with any department.",
    consents_fields: "Details",
    consents_given: "Agreed on",
    consents_until: "Valid until",
    consents_revoke: "Revoke this consent",
    consent_state_live: "In force",
    consent_state_revoked: "Revoked",
    consent_state_expired: "Expired",
    done_consent_revoked: "The consent was revoked. The department receives nothing more under it.",
    list_separator: ", ",
    consents_link: "Details you have shared",
    consent_title: "Share details from your e-ME profile?",
    consent_department: "Department",
    consent_form: "Form",
    consent_purpose: "Purpose",
    consent_retention: "Kept for",
    consent_days: "days",
    consent_fields: "Details asked for",
    consent_untick_hint: "Untick any detail you do not want to share. Details the service requires cannot be unticked: decline instead if you do not want to share them.",
    consent_required: "required",
    consent_missing: "not in your profile",
    consent_approve: "Share the ticked details",
    consent_decline: "Do not share",
    profile_title: "Your e-ME profile",
    profile_intro: "Departments receive these details only when you agree, field by field, for the purpose they state. Details marked as verified come from your smart ID card and cannot be changed here.",
    not_given: "Not given",
    verified_card: "Verified from your smart ID card",
    save_button: "Save changes",
    done_saved: "Your profile was saved.",
    profile_errors: "Some details were not accepted and nothing was saved. See the notes below.",
    hkid_keep_note: "For your security the number is not shown in full. Leave the box empty to keep:",
    remove_hint: "To remove a detail, empty its box and save.",
    address_flat: "Flat or room",
    address_floor: "Floor",
    address_block: "Block",
    address_building: "Building or estate",
    address_street: "Street and number",
    address_district: "District",
    profile_link: "Your e-ME profile",
    card_heading: "Smart ID card",
    card_intro: "Sign in with the certificate on your smart ID card, using a card reader. This gives the highest level of assurance.",
    card_tls_button: "Sign in with my smart ID card",
    card_helper_button: "Sign in with the card-reader app",
    card_failed: "Your smart ID card could not be used to sign in. Check that the card is in the reader and try again.",
    card_none: "No card certificate was presented. Put the card in the reader, then try again.",
    card_unavailable: "Smart ID card sign-in is not available on this gateway.",
    card_helper_missing: "The card-reader app did not answer. Check that it is installed and running, then try again.",
    card_bound_status: "Your account is linked to your smart ID card, so signing in with a passkey reaches a higher level of assurance.",
    card_unbound_status: "Link your smart ID card to your account: signing in with a passkey then reaches a higher level of assurance.",
    card_bind_button: "Link my smart ID card",
    card_bind_helper_button: "Link with the card-reader app",
    card_bind_needs_passkey: "To link a card, sign out and sign in again with your passkey.",
    done_card_bound: "Your smart ID card is now linked to this account.",
    done_card_in_use: "This card is linked to another account.",
    done_account_has_card: "This account is already linked to another card.",
    done_card_signed_in: "You signed in with your smart ID card. If you lost your passkeys, add a new one below.",
    no_passkeys: "You have no passkey yet. Add one to sign in without the card.",
    autofill_label: "Or pick your passkey from this field's suggestions",
    step_up_bind_notice: "The service you came from needs a higher level of assurance. Use your smart ID card to continue: it will be linked to the account you are signed in to.",
    step_up_unavailable: "The service you came from needs a sign-in with a smart ID card, which this gateway does not offer.",
};

/// Traditional Chinese (Hong Kong).
pub static ZH_HK: Messages = Messages {
    html_lang: "zh-Hant-HK",
    product: "電子身份閘道",
    skip_to_content: "跳至主要內容",
    other_lang_code: "en",
    other_lang_name: "English",
    footer: "您的通行密鑰只保存在您的裝置上，閘道不會取得。",
    signin_title: "登入",
    step_up_notice: "您正使用的服務需要較高的身份認證級別，請以智能身份證登入以繼續。",
    signin_intro: "請使用您在此裝置或您其他裝置上建立的通行密鑰登入。",
    signin_button: "使用通行密鑰登入",
    new_here: "第一次使用？",
    register_intro: "使用通行密鑰建立帳戶。您裝置的螢幕鎖（指紋、面容或密碼）會保護它。",
    register_button: "使用通行密鑰建立帳戶",
    working: "正在等待您的裝置……",
    failed: "登入未能完成，請再試一次。",
    cancelled: "通行密鑰要求已取消或逾時，請再試一次。",
    unsupported: "此瀏覽器無法使用通行密鑰，請使用最新版本的瀏覽器。",
    signed_in: "您已登入。",
    needs_script: "通行密鑰需要啟用瀏覽器的程式碼功能，請啟用後重新載入此頁。",
    about_passkeys_title: "關於通行密鑰",
    about_passkeys: "通行密鑰取代密碼。它由您的裝置產生，只能在本閘道使用，因此不會被釣魚網站騙取，也不能在別處重用。",
    account_title: "您的通行密鑰及登入工作階段",
    passkeys_heading: "通行密鑰",
    label_separator: "：",
    created: "建立日期",
    last_used: "上次使用",
    never: "從未使用",
    rename_label: "名稱",
    rename_button: "更改名稱",
    remove_button: "移除此通行密鑰",
    only_one_note: "這是您唯一的通行密鑰，因此不能移除。請先新增另一個。",
    add_passkey_button: "在此裝置新增通行密鑰",
    sign_out_heading: "登出",
    sign_out_button: "在此裝置登出",
    sign_out_everywhere_button: "在所有裝置登出",
    done_renamed: "通行密鑰名稱已更改。",
    done_removed: "通行密鑰已移除。",
    done_refused: "未能作出該項更改，請再試一次。",
    consents_receipt: "下載已簽署的收據",
    consents_title: "您已分享的資料",
    consents_intro: "下列部門可在所示日期前，按所述用途取得您「我的資料」中列出的資料。撤回同意即時停止分享。",
    consents_none: "您未曾與任何部門分享資料。",
    consents_fields: "資料",
    consents_given: "同意日期",
    consents_until: "有效至",
    consents_revoke: "撤回此同意",
    consent_state_live: "生效中",
    consent_state_revoked: "已撤回",
    consent_state_expired: "已過期",
    done_consent_revoked: "已撤回同意，該部門不會再據此取得任何資料。",
    list_separator: "、",
    consents_link: "您已分享的資料",
    consent_title: "分享您「我的資料」中的資料？",
    consent_department: "部門",
    consent_form: "表格",
    consent_purpose: "用途",
    consent_retention: "保存期",
    consent_days: "日",
    consent_fields: "要求的資料",
    consent_untick_hint: "請取消勾選您不想分享的資料。服務必需的資料不能取消；如不想分享，請選擇不分享。",
    consent_required: "必需",
    consent_missing: "您的資料中沒有此項",
    consent_approve: "分享已勾選的資料",
    consent_decline: "不分享",
    profile_title: "您的「我的資料」",
    profile_intro: "部門只會在您逐項同意後，按其說明的用途取得這些資料。標示為已核實的資料來自您的智能身份證，不能在此更改。",
    not_given: "未提供",
    verified_card: "已由您的智能身份證核實",
    save_button: "儲存更改",
    done_saved: "您的資料已儲存。",
    profile_errors: "部分資料未被接受，所有更改均未儲存。請參閱下列說明。",
    hkid_keep_note: "為保障您的安全，號碼不會完整顯示。如要保留現有號碼，請留空：",
    remove_hint: "如要刪除某項資料，請清空該欄後儲存。",
    address_flat: "室",
    address_floor: "樓層",
    address_block: "座",
    address_building: "大廈或屋苑",
    address_street: "街道及門牌號數",
    address_district: "地區",
    profile_link: "您的「我的資料」",
    card_heading: "智能身份證",
    card_intro: "使用讀卡器，以您智能身份證上的數碼證書登入。這可達到最高的身份認證級別。",
    card_tls_button: "以智能身份證登入",
    card_helper_button: "以讀卡程式登入",
    card_failed: "未能以您的智能身份證登入。請確定身份證已放入讀卡器，然後再試一次。",
    card_none: "未有提供身份證證書。請把身份證放入讀卡器，然後再試一次。",
    card_unavailable: "本閘道未有提供智能身份證登入。",
    card_helper_missing: "讀卡程式沒有回應。請確定已安裝並正在執行，然後再試一次。",
    card_bound_status: "您的帳戶已連結智能身份證，以通行密鑰登入時可達到較高的身份認證級別。",
    card_unbound_status: "將智能身份證連結至您的帳戶後，以通行密鑰登入時便可達到較高的身份認證級別。",
    card_bind_button: "連結我的智能身份證",
    card_bind_helper_button: "以讀卡程式連結",
    card_bind_needs_passkey: "如要連結智能身份證，請先登出，再以通行密鑰登入。",
    done_card_bound: "您的智能身份證已連結至此帳戶。",
    done_card_in_use: "此智能身份證已連結至另一個帳戶。",
    done_account_has_card: "此帳戶已連結另一張智能身份證。",
    done_card_signed_in: "您已以智能身份證登入。如您遺失了通行密鑰，可在下方新增一個。",
    no_passkeys: "您尚未有通行密鑰。新增一個，便可無需身份證登入。",
    autofill_label: "或在此欄的建議中選擇您的通行密鑰",
    step_up_bind_notice: "您正使用的服務需要較高的身份認證級別。請使用您的智能身份證以繼續，身份證將連結至您已登入的帳戶。",
    step_up_unavailable: "您正使用的服務需要以智能身份證登入，但本閘道未有提供智能身份證登入。",
};

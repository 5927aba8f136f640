//! Results of a suite run and their renderings.

use serde::Serialize;

/// The verdict on one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The deployment behaves as required.
    Pass,
    /// It does not; `detail` says how.
    Fail,
    /// The check does not apply to this deployment; `detail` says why.
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Stable identifier, `group.name`.
    pub id: &'static str,
    /// What is required, in a sentence.
    pub title: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was observed (for failures and skips).
    pub detail: String,
}

/// The results of one run against one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The base URL checked.
    pub target: String,
    /// Every check, in the order run.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// How many checks ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }

    /// `true` when no check failed.
    pub fn success(&self) -> bool {
        self.count(Status::Fail) == 0
    }

    /// One line per check and the closing `N passed, N failed, N skipped`.
    pub fn to_text(&self) -> String {
        let mut out = format!("conformance of {}\n", self.target);
        for o in &self.outcomes {
            let tag = match o.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
            };
            out.push_str(&format!("{tag} {:<28} {}", o.id, o.title));
            if !o.detail.is_empty() {
                out.push_str(&format!(" -- {}", o.detail));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "conformance: {} passed, {} failed, {} skipped\n",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        out
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// JUnit XML: one test case per check.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuite name=\"gateway-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            self.outcomes.len(),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        for o in &self.outcomes {
            out.push_str(&format!(
                "  <testcase classname=\"{}\" name=\"{}\">",
                xml(o.id.split('.').next().unwrap_or(o.id)),
                xml(o.id)
            ));
            match o.status {
                Status::Pass => {}
                Status::Fail => out.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml(o.title),
                    xml(&o.detail)
                )),
                Status::Skip => out.push_str(&format!("<skipped message=\"{}\"/>", xml(&o.detail))),
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("</testsuite>\n");
        out
    }
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            target: "http://gw".to_owned(),
            outcomes: vec![
                Outcome {
                    id: "ops.healthz",
                    title: "healthz answers",
                    status: Status::Pass,
                    detail: String::new(),
                },
                Outcome {
                    id: "headers.hsts",
                    title: "HSTS on TLS",
                    status: Status::Fail,
                    detail: "missing <strict-transport-security> & more".to_owned(),
                },
                Outcome {
                    id: "headers.tls",
                    title: "TLS only",
                    status: Status::Skip,
                    detail: "plain \"http\"\u{1b}".to_owned(),
                },
            ],
        }
    }

    #[test]
    fn text_ends_with_counts() {
        let text = sample().to_text();
        assert!(text.ends_with("conformance: 1 passed, 1 failed, 1 skipped\n"));
        assert!(text.contains("FAIL headers.hsts"));
        assert!(!sample().success());
    }

    #[test]
    fn junit_is_escaped() {
        let xml = sample().to_junit();
        assert!(xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""));
        assert!(xml.contains("missing &lt;strict-transport-security&gt; &amp; more"));
        assert!(xml.contains("plain &quot;http&quot;\"/>"));
        assert!(!xml.contains('\u{1b}'));
    }

    #[test]
    fn json_round_trips_the_statuses() {
        let value: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("json");
        assert_eq!(value["outcomes"][1]["status"], "fail");
        assert_eq!(value["outcomes"][2]["status"], "skip");
    }
}

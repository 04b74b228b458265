//! The workspace dashboard: pass/fail counts and runs over a chosen range (an hour to
//! 90 days, two weeks by default) as an inline SVG chart, and the latest runs.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use validibot_store::runs::stats;

use super::runs::{run_table, visible_runs, Wanted};
use super::{layout, workspace_for, WebUser};
use crate::{ApiError, AppState};
use validibot_store::accounts::Permission;
use validibot_types::clock::now_us;
use validibot_types::{ErrorCategory, RunStatus};

/// A time range the dashboard covers: `count` bars of `bucket_us` each, ending now.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    param: &'static str,
    label: &'static str,
    bucket_us: i64,
    count: i64,
}

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 60 * MINUTE_US;
const DAY_US: i64 = 24 * HOUR_US;

const RANGES: [Range; 6] = [
    Range {
        param: "1h",
        label: "last hour",
        bucket_us: 5 * MINUTE_US,
        count: 12,
    },
    Range {
        param: "24h",
        label: "last 24 hours",
        bucket_us: HOUR_US,
        count: 24,
    },
    Range {
        param: "7d",
        label: "last 7 days",
        bucket_us: DAY_US,
        count: 7,
    },
    Range {
        param: "14d",
        label: "last 14 days",
        bucket_us: DAY_US,
        count: 14,
    },
    Range {
        param: "30d",
        label: "last 30 days",
        bucket_us: DAY_US,
        count: 30,
    },
    Range {
        param: "90d",
        label: "last 90 days",
        bucket_us: DAY_US,
        count: 90,
    },
];

impl Range {
    /// `?range=`; the default (and anything unknown) is two weeks.
    fn parse(param: Option<&str>) -> Range {
        RANGES
            .into_iter()
            .find(|r| Some(r.param) == param)
            .unwrap_or(RANGES[3])
    }

    /// The first bar's start: bars end at the end of the current bucket (UTC).
    fn start(self, now: i64) -> i64 {
        (now / self.bucket_us + 1) * self.bucket_us - self.count * self.bucket_us
    }

    /// A bar's axis label: the day of the month, the hour, or hh:mm.
    fn tick(self, at: i64) -> String {
        let t = validibot_types::clock::rfc3339(at);
        match self.bucket_us {
            b if b >= DAY_US => t[8..10].to_owned(),
            b if b >= HOUR_US => t[11..13].to_owned(),
            _ => t[11..16].to_owned(),
        }
    }
}

/// Per bar (oldest first): `[pass, fail, error]`.
type Buckets = Vec<[u32; 3]>;

fn bucket(rows: &[(i64, String, Option<String>)], range: Range, start: i64) -> Buckets {
    let mut bars = vec![[0u32; 3]; range.count as usize];
    for (created, status, category) in rows {
        if *created < start {
            continue;
        }
        let index = (created - start) / range.bucket_us;
        if index >= range.count {
            continue;
        }
        let status = RunStatus::parse(status).unwrap_or(RunStatus::Pending);
        let category = category.as_deref().and_then(ErrorCategory::parse);
        let slot = match status.result(category) {
            "PASS" => 0,
            "FAIL" => 1,
            "UNKNOWN" => continue,
            _ => 2,
        };
        bars[index as usize][slot] += 1;
    }
    bars
}

/// Stacked bars, one per bucket; each bar has a text title for screen readers and hover.
fn chart(bars: &Buckets, range: Range, start: i64) -> Markup {
    let max = bars
        .iter()
        .map(|d| d.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h) = (560.0, 160.0);
    let step = w / range.count as f64;
    let bar = (step * 0.75).min(28.0);
    // At most ~15 labels, so 90 days stay readable.
    let every = (range.count as usize).div_ceil(15);
    html! {
        svg.chart viewBox={"0 0 " (w) " " (h + 20.0)} role="img" aria-labelledby="chart-title" {
            title id="chart-title" { "Runs over the " (range.label) ": passed, failed, errors" }
            @for (i, d) in bars.iter().enumerate() {
                @let x = i as f64 * step + (step - bar) / 2.0;
                @let at = start + i as i64 * range.bucket_us;
                @let when = validibot_types::clock::rfc3339(at);
                @let mut y = h;
                g {
                    title { (when[..16].replace('T', " ")) " UTC: " (d[0]) " passed, " (d[1]) " failed, " (d[2]) " errors" }
                    @for (slot, class) in [(0usize, "pass"), (1, "fail"), (2, "err")] {
                        @let height = h * d[slot] as f64 / max as f64;
                        @if height > 0.0 {
                            rect class=(class) x=(x) y={(y - height)} width=(bar) height=(height) {}
                            ({ y -= height; "" })
                        }
                    }
                    @if i % every == 0 {
                        text x={(x + bar / 2.0)} y={(h + 14.0)} text-anchor="middle" { (range.tick(at)) }
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct DashboardQuery {
    range: Option<String>,
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, Response> {
    let range = Range::parse(q.range.as_deref());
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let recent = visible_runs(
        &state,
        &user,
        &workspace,
        role,
        Wanted {
            limit: 10,
            ..Wanted::default()
        },
    )
    .await?;
    let render = async {
        let start = range.start(now_us());
        let own_by = (!role.allows(Permission::ResultsViewAll)).then_some(&user.user.id);
        let rows: Vec<(i64, String, Option<String>)> =
            stats::created_since(&state.db, &workspace.id, start, own_by)
                .await?
                .into_iter()
                .map(|r| (r.created_at, r.status, r.error_category))
                .collect();
        let days = bucket(&rows, range, start);
        let total = |slot: usize| days.iter().map(|d| d[slot]).sum::<u32>();
        let body = html! {
            h1 { "Dashboard" }
            nav.ranges aria-label="Time range" {
                "Show the "
                @for r in RANGES {
                    @if r == range { strong aria-current="true" { (r.label) } } @else { a href={"?range=" (r.param)} { (r.label) } }
                    " "
                }
            }
            section.stats aria-label=(range.label) {
                div.stat { span.n id="count-pass" { (total(0)) } " passed" }
                div.stat { span.n id="count-fail" { (total(1)) } " failed" }
                div.stat { span.n id="count-error" { (total(2)) } " errors" }
            }
            section.card {
                h2 { "Runs over time" }
                (chart(&days, range, start))
                p.legend { span.key.pass {} "passed " span.key.fail {} "failed " span.key.err {} "error, timed out or canceled" }
            }
            section.card {
                h2 { "Latest runs" }
                (run_table(&ws, &recent, role))
            }
        };
        Ok::<_, ApiError>(layout::page("Dashboard", Some(&user), Some(&ws), body))
    };
    render
        .await
        .map(|m| Html(m.into_string()).into_response())
        .map_err(|e| super::error_page(&user, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_land_in_their_bucket_and_result() {
        let range = Range::parse(None);
        let now = 100 * DAY_US + 5;
        let start = range.start(now);
        assert_eq!(start, 87 * DAY_US);
        let today = 100 * DAY_US;
        let rows = vec![
            (today + 5, "SUCCEEDED".to_owned(), None),
            (
                today - 1,
                "FAILED".to_owned(),
                Some("VALIDATION_FAILED".to_owned()),
            ),
            (
                today - 1,
                "FAILED".to_owned(),
                Some("RUNTIME_ERROR".to_owned()),
            ),
            (today - 20 * DAY_US, "SUCCEEDED".to_owned(), None),
            (today, "RUNNING".to_owned(), None),
        ];
        let days = bucket(&rows, range, start);
        assert_eq!(days[13], [1, 0, 0]);
        assert_eq!(days[12], [0, 1, 1]);
        assert_eq!(days.iter().flatten().sum::<u32>(), 3);
        // The last hour: 5-minute bars, labelled hh:mm.
        let hour = Range::parse(Some("1h"));
        let start = hour.start(now);
        let bars = bucket(&[(now - 1, "SUCCEEDED".into(), None)], hour, start);
        assert_eq!((bars.len(), bars[11]), (12, [1, 0, 0]));
        assert_eq!(hour.tick(start), "23:05");
        assert_eq!(Range::parse(Some("nonsense")).param, "14d");
    }
}

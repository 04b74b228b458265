//! The workspace dashboard: pass/fail counts and runs per day over two weeks as an
//! inline SVG chart, and the latest runs.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use validibot_store::runs::stats;

use super::runs::{run_table, visible_runs};
use super::{layout, workspace_for, WebUser};
use crate::{ApiError, AppState};
use validibot_store::accounts::Permission;
use validibot_types::clock::now_us;
use validibot_types::{ErrorCategory, RunStatus};

const DAYS: i64 = 14;
const DAY_US: i64 = 86_400_000_000;

/// Per day (oldest first): `[pass, fail, error]`.
type Buckets = Vec<[u32; 3]>;

fn bucket(rows: &[(i64, String, Option<String>)], today_start: i64) -> Buckets {
    let mut days = vec![[0u32; 3]; DAYS as usize];
    for (created, status, category) in rows {
        let age = (today_start + DAY_US - 1 - created) / DAY_US;
        if !(0..DAYS).contains(&age) {
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
        days[(DAYS - 1 - age) as usize][slot] += 1;
    }
    days
}

/// Stacked bars, one per day; each bar has a text title for screen readers and hover.
fn chart(days: &Buckets, first_day_us: i64) -> Markup {
    let max = days
        .iter()
        .map(|d| d.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, bar) = (560.0, 160.0, 28.0);
    let step = w / DAYS as f64;
    html! {
        svg.chart viewBox={"0 0 " (w) " " (h + 20.0)} role="img" aria-labelledby="chart-title" {
            title id="chart-title" { "Runs per day over the last " (DAYS) " days: passed, failed, errors" }
            @for (i, d) in days.iter().enumerate() {
                @let x = i as f64 * step + (step - bar) / 2.0;
                @let date = validibot_types::clock::rfc3339(first_day_us + i as i64 * DAY_US);
                @let mut y = h;
                g {
                    title { (date[..10]) ": " (d[0]) " passed, " (d[1]) " failed, " (d[2]) " errors" }
                    @for (slot, class) in [(0usize, "pass"), (1, "fail"), (2, "err")] {
                        @let height = h * d[slot] as f64 / max as f64;
                        @if height > 0.0 {
                            rect class=(class) x=(x) y={(y - height)} width=(bar) height=(height) {}
                            ({ y -= height; "" })
                        }
                    }
                    text x={(x + bar / 2.0)} y={(h + 14.0)} text-anchor="middle" { (date[8..10]) }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let recent = visible_runs(&state, &user, &workspace, role, None, None, 10).await?;
    let render = async {
        let today_start = now_us() / DAY_US * DAY_US;
        let first_day = today_start - (DAYS - 1) * DAY_US;
        let own_by = (!role.allows(Permission::ResultsViewAll)).then_some(&user.user.id);
        let rows: Vec<(i64, String, Option<String>)> =
            stats::created_since(&state.db, &workspace.id, first_day, own_by)
                .await?
                .into_iter()
                .map(|r| (r.created_at, r.status, r.error_category))
                .collect();
        let days = bucket(&rows, today_start);
        let total = |slot: usize| days.iter().map(|d| d[slot]).sum::<u32>();
        let body = html! {
            h1 { "Dashboard" }
            section.stats aria-label="Last 14 days" {
                div.stat { span.n id="count-pass" { (total(0)) } " passed" }
                div.stat { span.n id="count-fail" { (total(1)) } " failed" }
                div.stat { span.n id="count-error" { (total(2)) } " errors" }
            }
            section.card {
                h2 { "Runs over time" }
                (chart(&days, first_day))
                p.legend { span.key.pass {} "passed " span.key.fail {} "failed " span.key.err {} "error, timed out or canceled" }
            }
            section.card {
                h2 { "Latest runs" }
                (run_table(&ws, &recent))
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
    #[test]
    fn runs_land_in_their_day_and_result() {
        let today = 100 * super::DAY_US;
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
            (today - 20 * super::DAY_US, "SUCCEEDED".to_owned(), None),
            (today, "RUNNING".to_owned(), None),
        ];
        let days = super::bucket(&rows, today);
        assert_eq!(days[13], [1, 0, 0]);
        assert_eq!(days[12], [0, 1, 1]);
        assert_eq!(days.iter().flatten().sum::<u32>(), 3);
    }
}

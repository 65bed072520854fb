//! Applying a run configuration (api.md §4.2): repo, plan, confirmation, submission, then the
//! wait for provisioning and the logs until the run finishes.

use std::process::ExitCode;
use std::time::Duration;

use dstack_core::api::common::ApplyAction;
use dstack_core::api::repos::{InitRepoRequest, RepoInfo, RunRepoData};
use dstack_core::api::runs::{
    ApplyRunPlanInput, ApplyRunPlanRequest, GetRunPlanRequest, Run, RunPlan, RunSpec,
};
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::status::{JobStatus, RunStatus};
use indicatif::ProgressBar;
use serde_json::{Value, json};

use super::{ApplyArgs, files, plan_table, repo};
use crate::api::{ApiError, ProjectClient};
use crate::commands::logs::{self, Cursor, LogSource};
use crate::commands::offers_table::offers_table;
use crate::commands::run_table::{Dates, runs_table};
use crate::commands::{block_on, exiting};
use crate::output::{Answer, confirm, format_price, grey, print_table, red, secondary, yellow};
use crate::repo::RemoteRepo;

/// The id of the repo a run without `repos:` uses.
const VIRTUAL_REPO_ID: &str = "none";

/// How many offers the plan shows.
const PLAN_OFFERS: u32 = 3;

pub fn apply(
    client: &ProjectClient,
    args: &ApplyArgs,
    file_name: &str,
    mut configuration: AnyRunConfiguration,
) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.name {
        set_name(&mut configuration, name)?;
    }
    let base_dir = std::path::absolute(&args.file)?
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    files::resolve_local_paths(&mut configuration, &base_dir);
    let repo = repo::prepare(client, &args.repo, &configuration, &base_dir)?;
    let planning = spinner("Getting apply plan...");
    let (plan, has_fleets) = block_on(get_plan(client, file_name, configuration, repo.as_ref()))??;
    planning.finish_and_clear();
    print_plan(&plan);
    let job_plan = plan.job_plans.first();
    if job_plan.is_none_or(|job| job.offers.is_empty()) {
        if has_fleets {
            println!(
                "{}",
                yellow(
                    "No matching instance offers available. Possible reasons: https://dstack.ai/docs/guides/troubleshooting/#no-offers"
                )
            );
        } else {
            println!(
                "{}",
                red(
                    "The project has no fleets. Create one before submitting a run.\nSee https://dstack.ai/docs/guides/troubleshooting/#no-fleets"
                )
            );
        }
        println!();
    }
    let name = plan.run_spec.run_name.clone();
    let question = match (&plan.current_resource, plan.action) {
        (Some(_), ApplyAction::Update) => "Update the run?".to_owned(),
        (Some(current), ApplyAction::Create) if !current.status.is_finished() => {
            "Stop and override the run?".to_owned()
        }
        _ => match &name {
            Some(name) => format!("Submit the run {name}?"),
            None => "Submit a new run?".to_owned(),
        },
    };
    if confirm(&question, args.yes)? == Answer::No {
        return Ok(exiting());
    }
    let applying = spinner("Applying plan...");
    if let Some(current) = &plan.current_resource
        && plan.action == ApplyAction::Create
        && !current.status.is_finished()
    {
        let name = current.run_spec.run_name.clone().unwrap_or_default();
        block_on(stop_and_wait(client, &name))??;
    }
    if let Some(repo) = &repo
        && let Some((hash, code)) = repo.code()
    {
        block_on(client.upload_code(repo.repo_id(), &hash, code))??;
    }
    let request = ApplyRunPlanRequest {
        plan: ApplyRunPlanInput {
            run_spec: plan.run_spec.clone(),
            current_resource: plan.current_resource.clone(),
        },
        force: args.force,
    };
    let run = block_on(client.apply_run_plan(&request))??;
    applying.finish_and_clear();
    let run_name = run.run_spec.run_name.clone().unwrap_or_default();
    if args.detach {
        println!("Run {run_name} submitted, detaching...");
        return Ok(ExitCode::SUCCESS);
    }
    block_on(follow(client, &run_name))?
}

/// Stops the run the new one replaces and waits until it is finished or gone.
async fn stop_and_wait(client: &ProjectClient, name: &str) -> Result<(), ApiError> {
    client.stop_runs(&[name.to_owned()], false).await?;
    loop {
        match client.get_run(name).await {
            Ok(run) if !run.status.is_finished() => tokio::time::sleep(STOP_POLL).await,
            Ok(_) | Err(ApiError::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// How often a stopped run is checked while the new one waits for it.
const STOP_POLL: Duration = Duration::from_secs(1);

fn set_name(configuration: &mut AnyRunConfiguration, name: &str) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(&*configuration)?;
    value["name"] = json!(name);
    *configuration = serde_json::from_value(value)?;
    Ok(())
}

/// A spinner on stderr; hidden when stderr is not a terminal.
fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Registers the virtual repo when the run has no git repo, uploads the `files:`, then asks
/// for the plan; also whether the project has fleets, which the CLI asks only when there are
/// no offers.
async fn get_plan(
    client: &ProjectClient,
    file_name: &str,
    configuration: AnyRunConfiguration,
    repo: Option<&RemoteRepo>,
) -> anyhow::Result<(RunPlan, bool)> {
    let (repo_id, repo_data, repo_code_hash) = match repo {
        Some(repo) => (
            repo.repo_id().to_owned(),
            repo.run_repo_data(),
            repo.code().map(|(hash, _)| hash),
        ),
        None => {
            client
                .init_repo(&InitRepoRequest {
                    repo_id: VIRTUAL_REPO_ID.to_owned(),
                    repo_info: RepoInfo::Virtual,
                    repo_creds: None,
                })
                .await?;
            (VIRTUAL_REPO_ID.to_owned(), RunRepoData::Virtual, None)
        }
    };
    let file_archives = files::upload(client, &configuration).await?;
    let run_name = configuration_name(&configuration);
    let repo_dir = repo::repo_specs(&configuration)
        .first()
        .map(|spec| spec.path.clone());
    let run_spec = RunSpec {
        run_name,
        repo_id: Some(repo_id),
        repo_data: Some(repo_data),
        repo_code_hash,
        repo_dir,
        file_archives,
        working_dir: None,
        configuration_path: Some(file_name.to_owned()),
        configuration,
        profile: Some(serde_json::from_value(json!({"name": "default"}))?),
        ssh_key_pub: None,
    };
    let plan = client
        .get_run_plan(&GetRunPlanRequest {
            run_spec,
            max_offers: Some(PLAN_OFFERS),
            full_offers: false,
            unallocated_resources: false,
            for_offers_only: false,
            reverse_offers: false,
        })
        .await?;
    let no_offers = plan
        .job_plans
        .first()
        .is_none_or(|job| job.offers.is_empty());
    let has_fleets = if no_offers {
        !client.list_fleets().await?.is_empty()
    } else {
        true
    };
    Ok((plan, has_fleets))
}

fn configuration_name(configuration: &AnyRunConfiguration) -> Option<String> {
    serde_json::to_value(configuration)
        .ok()
        .and_then(|value| value["name"].as_str().map(str::to_owned))
}

/// The plan rows and offers as dstack prints them.
fn print_plan(plan: &RunPlan) {
    let spec = plan.effective_run_spec.as_ref().unwrap_or(&plan.run_spec);
    let configuration = serde_json::to_value(&spec.configuration).unwrap_or(Value::Null);
    let profile = serde_json::to_value(&spec.profile).unwrap_or(Value::Null);
    let setting = |key: &str| {
        let own = &configuration[key];
        if own.is_null() { &profile[key] } else { own }
    };
    let kind = configuration["type"].as_str().unwrap_or_default();
    let type_row = if kind == "task" {
        format!(
            "task (nodes={})",
            configuration["nodes"].as_u64().unwrap_or(1)
        )
    } else {
        kind.to_owned()
    };
    let mut rows = vec![
        ("Project", plan.project_name.clone()),
        ("User", plan.user.clone()),
        ("Type", type_row),
    ];
    if let Some(job_plan) = plan.job_plans.first() {
        let requirements = &job_plan.job_spec.requirements;
        rows.push(("Resources", requirements.resources.to_string()));
        let spot = match requirements.spot {
            Some(true) => "spot",
            Some(false) => "on-demand",
            None => "auto",
        };
        rows.push(("Spot policy", spot.to_owned()));
        rows.push((
            "Max price",
            requirements
                .max_price
                .map_or_else(|| "off".to_owned(), format_price),
        ));
        let retry = job_plan.job_spec.retry.as_ref().map_or_else(
            || "off".to_owned(),
            |retry| {
                let events: Vec<String> = retry.on_events.iter().map(ToString::to_string).collect();
                format!("{}[{}]", seconds(retry.duration as i64), events.join(", "))
            },
        );
        rows.push(("Retry policy", retry));
    }
    rows.push((
        "Idle duration",
        match setting("idle_duration") {
            Value::Null => "5m".to_owned(),
            value => duration_setting(value, "-"),
        },
    ));
    rows.push((
        "Max duration",
        duration_setting(setting("max_duration"), "off"),
    ));
    if kind == "dev-environment" {
        rows.push((
            "Inactivity duration",
            duration_setting(setting("inactivity_duration"), "off"),
        ));
    }
    print_table(&plan_table(&rows));
    println!();
    if let Some(job_plan) = plan.job_plans.first()
        && !job_plan.offers.is_empty()
    {
        let (table, footer) = offers_table(
            &job_plan.offers,
            job_plan.total_offers,
            job_plan.max_price,
            true,
        );
        print_table(&table);
        if let Some(footer) = footer {
            println!("{}", grey(footer).content());
        }
        println!();
    }
}

/// A duration field as the plan shows it: `off` (or `off_text`) for unset, off or `-1`.
fn duration_setting(value: &Value, off_text: &str) -> String {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(secs) if secs >= 0 => seconds(secs),
            _ => off_text.to_owned(),
        },
        Value::Bool(true) => "on".to_owned(),
        _ => off_text.to_owned(),
    }
}

fn seconds(secs: i64) -> String {
    dstack_core::duration::Duration::from_secs(secs).to_string()
}

/// Statuses the wait for provisioning continues through.
fn still_provisioning(run: &Run) -> bool {
    let run_waiting = matches!(
        run.status,
        RunStatus::Submitted
            | RunStatus::Pending
            | RunStatus::Provisioning
            | RunStatus::Terminating
    );
    let job_waiting = run
        .jobs
        .first()
        .and_then(|job| job.job_submissions.last())
        .is_some_and(|submission| {
            matches!(
                submission.status,
                JobStatus::Submitted | JobStatus::Provisioning | JobStatus::Pulling
            )
        });
    run_waiting || job_waiting
}

/// What Ctrl-C did to the wait.
enum Interrupted {
    /// One Ctrl-C: stop watching, leave the run alone.
    Detach,
    /// Ctrl-C again within the grace period: stop the run, then leave.
    Stop,
}

/// How long after the first Ctrl-C a second one stops the run.
const SECOND_INTERRUPT: Duration = Duration::from_secs(3);

/// Waits for provisioning with a spinner and the runs table, streams the logs, and ends with
/// the final status. Ctrl-C detaches; a second Ctrl-C stops the run.
async fn follow(client: &ProjectClient, run_name: &str) -> anyhow::Result<ExitCode> {
    let outcome = tokio::select! {
        outcome = watch(client, run_name) => return outcome,
        _ = tokio::signal::ctrl_c() => {
            println!("\nDetaching... press Ctrl-C again to stop the run {run_name}");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Interrupted::Stop,
                () = tokio::time::sleep(SECOND_INTERRUPT) => Interrupted::Detach,
            }
        }
    };
    match outcome {
        Interrupted::Detach => println!("Detached"),
        Interrupted::Stop => {
            client.stop_runs(&[run_name.to_owned()], false).await?;
            println!("Stopped");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch(client: &ProjectClient, run_name: &str) -> anyhow::Result<ExitCode> {
    let bar = spinner(&format!("Launching {run_name}..."));
    let mut polls = 0;
    let run = loop {
        let run = logs::get_run(client, run_name).await?;
        if !still_provisioning(&run) {
            break run;
        }
        let table = runs_table(
            std::slice::from_ref(&run),
            false,
            Dates::Relative(chrono::Utc::now()),
        );
        bar.set_message(format!("Launching {run_name}...\n{table}"));
        polls += 1;
        // dstack polls every second at first, then every 5 seconds.
        let interval = if polls <= 5 { 1 } else { 5 };
        tokio::time::sleep(Duration::from_secs(interval)).await;
    };
    bar.finish_and_clear();
    print_table(&runs_table(
        std::slice::from_ref(&run),
        run.status == RunStatus::Failed,
        Dates::Relative(chrono::Utc::now()),
    ));
    println!("{run_name} provisioning completed ({})", run.status);
    let run = if matches!(run.status, RunStatus::Running | RunStatus::Done) {
        let submission = logs::submission_of(&run, 0, 0)?;
        let source = LogSource {
            run_name,
            submission,
            diagnose: false,
        };
        logs::follow(client, &source, &mut Cursor::default()).await?
    } else {
        run
    };
    Ok(finished(&run))
}

/// Prints how the run ended; exit 0 only when it is done.
fn finished(run: &Run) -> ExitCode {
    let submission = run
        .latest_job_submission
        .as_ref()
        .or_else(|| run.jobs.first().and_then(|job| job.job_submissions.last()));
    let status = submission
        .map(|s| s.status_message.as_str())
        .filter(|message| !message.is_empty())
        .unwrap_or(if run.status_message.is_empty() {
            run.status.as_str()
        } else {
            &run.status_message
        });
    let message = capitalized(status);
    if run.status == RunStatus::Done {
        println!("{message}");
        return ExitCode::SUCCESS;
    }
    let error = run
        .error
        .as_deref()
        .map(|error| format!(" ({error})"))
        .unwrap_or_default();
    println!("{}", red(&format!("{message}{error}")));
    if let Some(reason) = submission.and_then(|s| s.termination_reason_message.as_deref()) {
        println!("{}", red(reason));
    }
    let no_capacity = submission.is_some_and(|s| {
        s.termination_reason
            .is_some_and(|reason| reason.as_str() == "failed_to_start_due_to_no_capacity")
    });
    if !no_capacity {
        let name = run.run_spec.run_name.as_deref().unwrap_or_default();
        println!(
            "{}",
            secondary(&format!("Check `dstack logs -d {name}` for more details."))
        );
    }
    ExitCode::FAILURE
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

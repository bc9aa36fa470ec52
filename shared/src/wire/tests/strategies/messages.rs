//! proptest strategies for every message and its parts.

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::model::*;
use crate::wire::api::*;
use crate::wire::*;

pub fn task_message() -> impl Strategy<Value = TaskMessage> {
    let lease = (1u32..3600, ms(), 0u32..600, option::of(ms())).prop_map(
        |(ack_wait_s, issued_at_ms, progress_every_s, deadline_ms)| Lease {
            ack_wait_s,
            issued_at_ms,
            progress_every_s,
            deadline_ms,
        },
    );
    let assigned =
        option::of((node_id(), gpu_ref()).prop_map(|(node, gpu)| AssignedGpu { node, gpu }));
    (task_spec(), 1u32..10, lease, assigned).prop_map(|(spec, attempt, lease, assigned)| {
        TaskMessage {
            spec,
            attempt,
            lease,
            assigned,
        }
    })
}

pub fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::IdleBaseline),
        Just(Phase::Warmup),
        Just(Phase::Measure),
        Just(Phase::Cooldown),
        Just(Phase::Unknown),
    ]
}

pub fn failure_class() -> impl Strategy<Value = FailureClass> {
    prop_oneof![
        Just(FailureClass::Transient),
        Just(FailureClass::Deterministic),
        Just(FailureClass::Unknown),
    ]
}

pub fn task_event() -> impl Strategy<Value = TaskEvent> {
    let event = prop_oneof![
        Just(EventKind::Claimed),
        Just(EventKind::Started),
        phase().prop_map(|phase| EventKind::Phase { phase }),
        (phase(), any::<u64>(), any::<u64>()).prop_map(|(phase, elapsed_ms, planned_ms)| {
            EventKind::Progress {
                phase,
                elapsed_ms,
                planned_ms,
            }
        }),
        Just(EventKind::Finished),
        (text(), failure_class()).prop_map(|(reason, class)| EventKind::Failed { reason, class }),
        Just(EventKind::Unknown),
    ];
    (uuid(), uuid(), 1u32..10, node_id(), ms(), event).prop_map(
        |(campaign_id, task_id, attempt, node, at_ms, event)| TaskEvent {
            campaign_id,
            task_id,
            attempt,
            node,
            at_ms,
            event,
        },
    )
}

pub fn gpu_summary() -> impl Strategy<Value = GpuSummary> {
    let power = (watts(), watts(), watts(), watts(), watts()).prop_map(
        |(mean_w, peak_w, p50_w, p95_w, p99_w)| PowerStats {
            mean_w,
            peak_w,
            p50_w,
            p95_w,
            p99_w,
        },
    );
    let coverage = (any::<u64>(), any::<u64>(), 0.0f64..=1.0, any::<u64>()).prop_map(
        |(samples, expected_samples, covered_fraction, max_gap_ms)| SampleCoverage {
            samples,
            expected_samples,
            covered_fraction,
            max_gap_ms,
        },
    );
    (
        (0u32..16, text(), option::of(0.0f64..1e7), 0.0f64..1e7),
        (
            power,
            coverage,
            option::of(celsius()),
            option::of(celsius()),
        ),
    )
        .prop_map(
            |((index, uuid, energy_counter_j, energy_integral_j), (power, coverage, t, m))| {
                GpuSummary {
                    index,
                    uuid,
                    energy_counter_j,
                    energy_integral_j,
                    power,
                    coverage,
                    max_gpu_temp_c: t,
                    max_memory_temp_c: m,
                }
            },
        )
}

pub fn cpu_figures() -> impl Strategy<Value = CpuFigures> {
    (pct(), pct(), 0.0f64..1e7).prop_map(|(m, p, c)| CpuFigures {
        utilisation_mean_pct: m,
        utilisation_peak_pct: p,
        context_switches_per_s: c,
    })
}

pub fn task_summary() -> impl Strategy<Value = TaskSummary> {
    let timing = (phase(), ms(), ms()).prop_map(|(phase, start_ms, end_ms)| PhaseTiming {
        phase,
        start_ms,
        end_ms,
    });
    let platform = (
        watts(),
        watts(),
        name(),
        any::<u64>(),
        btree_map(text(), celsius(), 0..4),
    )
        .prop_map(
            |(power_mean_w, power_peak_w, power_source, samples, max_temps_c)| PlatformSummary {
                power_mean_w,
                power_peak_w,
                power_source,
                samples,
                max_temps_c,
            },
        );
    let cpu = (cpu_figures(), option::of(cpu_figures()))
        .prop_map(|(host, workload)| CpuSummary { host, workload });
    let fom = (name(), 0u32..8, -1e9f64..1e9, name(), any::<bool>()).prop_map(
        |(workload, instance, value, unit, higher_is_better)| FigureOfMerit {
            workload,
            instance,
            value,
            unit,
            higher_is_better,
        },
    );
    let epw = (name(), 0.0f64..1e6, name()).prop_map(|(workload, joules_per_unit, work_unit)| {
        EnergyPerWork {
            workload,
            joules_per_unit,
            work_unit,
        }
    });
    (
        vec(timing, 0..5),
        vec(gpu_summary(), 0..4),
        option::of(platform),
        option::of(cpu),
        vec(fom, 0..4),
        vec(epw, 0..3),
    )
        .prop_map(
            |(phases, gpus, platform, cpu, figures_of_merit, energy_per_work)| TaskSummary {
                phases,
                gpus,
                platform,
                cpu,
                figures_of_merit,
                energy_per_work,
            },
        )
}

pub fn task_result() -> impl Strategy<Value = TaskResult> {
    let outcome = prop_oneof![
        Just(Outcome::Succeeded),
        (text(), failure_class()).prop_map(|(reason, class)| Outcome::Failed { reason, class }),
        Just(Outcome::Cancelled),
        Just(Outcome::Unknown),
    ];
    (
        (uuid(), uuid(), 1u32..10, node_id()),
        (outcome, ms(), ms(), option::of(task_summary())),
    )
        .prop_map(
            |(
                (campaign_id, task_id, attempt, node),
                (outcome, started_at_ms, finished_at_ms, summary),
            )| {
                TaskResult {
                    campaign_id,
                    task_id,
                    attempt,
                    node,
                    outcome,
                    started_at_ms,
                    finished_at_ms,
                    summary,
                }
            },
        )
}

pub fn running_task() -> impl Strategy<Value = RunningTask> {
    (uuid(), 1u32..10).prop_map(|(task_id, attempt)| RunningTask { task_id, attempt })
}

pub fn heartbeat() -> impl Strategy<Value = Heartbeat> {
    (
        inventory(),
        ms(),
        any::<u64>(),
        1u64..60_000,
        vec(running_task(), 0..4),
        any::<bool>(),
    )
        .prop_map(
            |(inventory, at_ms, seq, interval_ms, running, draining)| Heartbeat {
                inventory,
                at_ms,
                seq,
                interval_ms,
                running,
                draining,
            },
        )
}

pub fn live_sample() -> impl Strategy<Value = LiveSample> {
    let gpu = (
        (0u32..16, watts(), celsius(), pct()),
        (
            any::<u64>(),
            any::<u64>(),
            option::of(uuid()),
            option::of(phase()),
        ),
    )
        .prop_map(
            |(
                (index, power_w, temp_c, util_pct),
                (mem_used_mib, mem_total_mib, task_id, phase),
            )| LiveGpu {
                index,
                power_w,
                temp_c,
                util_pct,
                mem_used_mib,
                mem_total_mib,
                task_id,
                phase,
            },
        );
    (node_id(), ms(), vec(gpu, 0..8), option::of(watts())).prop_map(
        |(node, at_ms, gpus, platform_power_w)| LiveSample {
            node,
            at_ms,
            gpus,
            platform_power_w,
        },
    )
}

pub fn campaign_state() -> impl Strategy<Value = CampaignState> {
    prop_oneof![
        Just(CampaignState::Pending),
        Just(CampaignState::Running),
        Just(CampaignState::Cancelling),
        Just(CampaignState::Finished),
        Just(CampaignState::Cancelled),
        Just(CampaignState::Unknown),
    ]
}

pub fn task_state() -> impl Strategy<Value = TaskState> {
    prop_oneof![
        Just(TaskState::Pending),
        Just(TaskState::Dispatched),
        Just(TaskState::Running),
        Just(TaskState::Succeeded),
        Just(TaskState::Failed),
        Just(TaskState::Cancelled),
        Just(TaskState::Unknown),
    ]
}

pub fn source() -> impl Strategy<Value = CampaignSource> {
    let catalog = (name(), text()).prop_map(|(file_name, toml)| CatalogSource { file_name, toml });
    (name(), text(), vec(catalog, 0..3)).prop_map(|(file_name, toml, catalogs)| CampaignSource {
        file_name,
        toml,
        catalogs,
    })
}

pub fn campaign_record() -> impl Strategy<Value = CampaignRecord> {
    let failure =
        (text(), failure_class()).prop_map(|(reason, class)| TaskFailure { reason, class });
    let row = (
        (uuid(), any::<u32>(), name(), name(), 0u32..10),
        (
            task_state(),
            0u32..10,
            option::of(node_id()),
            option::of(failure),
        ),
    )
        .prop_map(
            |((id, seq, configuration, target, repetition), (state, attempt, node, last_error))| {
                TaskRow {
                    id,
                    seq,
                    configuration,
                    target,
                    repetition,
                    state,
                    attempt,
                    node,
                    last_error,
                }
            },
        );
    (
        (uuid(), name(), ms(), source()),
        (campaign_state(), option::of(ms()), vec(row, 0..6)),
    )
        .prop_map(
            |((id, name, submitted_at_ms, source), (state, finished_at_ms, tasks))| {
                CampaignRecord {
                    id,
                    name,
                    submitted_at_ms,
                    source,
                    state,
                    finished_at_ms,
                    tasks,
                }
            },
        )
}

/// A reply carrying `value`, or any error, or the unknown arm.
pub fn reply<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = ApiReply<T>> {
    let code = prop_oneof![
        Just(ApiErrorCode::InvalidRequest),
        Just(ApiErrorCode::InvalidCampaign),
        Just(ApiErrorCode::NotFound),
        Just(ApiErrorCode::Conflict),
        Just(ApiErrorCode::Unavailable),
        Just(ApiErrorCode::Internal),
        Just(ApiErrorCode::Unknown),
    ];
    prop_oneof![
        3 => value.prop_map(|value| ApiReply::Ok { value }),
        1 => (code, text()).prop_map(|(code, message)| ApiReply::Err { error: ApiError { code, message } }),
        1 => Just(ApiReply::Unknown),
    ]
}

pub fn submit_accepted() -> impl Strategy<Value = SubmitAccepted> {
    (uuid(), name(), any::<u32>(), vec(text(), 0..3)).prop_map(
        |(campaign_id, name, tasks, warnings)| SubmitAccepted {
            campaign_id,
            name,
            tasks,
            warnings,
        },
    )
}

pub fn counts() -> impl Strategy<Value = TaskCounts> {
    vec(any::<u32>(), 7).prop_map(|c| TaskCounts {
        pending: c[0],
        dispatched: c[1],
        running: c[2],
        succeeded: c[3],
        failed: c[4],
        cancelled: c[5],
        unknown: c[6],
    })
}

pub fn status_report() -> impl Strategy<Value = StatusReport> {
    let current = (
        uuid(),
        1u32..10,
        name(),
        option::of(phase()),
        option::of(0.0f64..=1.0),
    )
        .prop_map(
            |(task_id, attempt, configuration, phase, progress)| CurrentTask {
                task_id,
                attempt,
                configuration,
                phase,
                progress,
            },
        );
    let node = (node_id(), counts(), vec(current, 0..3)).prop_map(|(node, counts, current)| {
        NodeProgress {
            node,
            counts,
            current,
        }
    });
    let campaign = (
        (uuid(), name(), campaign_state(), ms()),
        (option::of(ms()), counts(), vec(node, 0..3)),
    )
        .prop_map(
            |((id, name, state, submitted_at_ms), (finished_at_ms, counts, nodes))| {
                CampaignStatus {
                    id,
                    name,
                    state,
                    submitted_at_ms,
                    finished_at_ms,
                    counts,
                    nodes,
                }
            },
        );
    vec(campaign, 0..3).prop_map(|campaigns| StatusReport { campaigns })
}

pub fn cancel_ack() -> impl Strategy<Value = CancelAck> {
    (uuid(), campaign_state(), any::<u32>()).prop_map(|(campaign_id, state, cancelled_tasks)| {
        CancelAck {
            campaign_id,
            state,
            cancelled_tasks,
        }
    })
}

pub fn report_page() -> impl Strategy<Value = ReportPage> {
    (
        option::of(campaign_record()),
        vec(task_result(), 0..3),
        any::<u32>(),
        option::of(any::<u32>()),
    )
        .prop_map(|(record, results, total_results, next_offset)| ReportPage {
            record,
            results,
            total_results,
            next_offset,
        })
}

pub fn node_list() -> impl Strategy<Value = NodeList> {
    let entry = (
        inventory(),
        ms(),
        any::<bool>(),
        any::<bool>(),
        vec(running_task(), 0..3),
    )
        .prop_map(
            |(inventory, last_seen_ms, stale, draining, running)| NodeEntry {
                inventory,
                last_seen_ms,
                stale,
                draining,
                running,
            },
        );
    vec(entry, 0..3).prop_map(|nodes| NodeList { nodes })
}

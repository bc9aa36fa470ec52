//! proptest strategies for the domain types messages carry (tasks, inventories) and the small
//! value generators every strategy shares. Floats are finite: NaN never equals itself and is never
//! sent.

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;

use crate::mig::{
    CiProfile, GiProfile, PlacedCi, PlacedGi, PlacedLayout, ProfileTable, TableSource,
};
use crate::model::{
    Configuration, GpuInventory, GpuRef, InstanceRole, IpmiStatus, MetricSpec, MigAssignment,
    NodeInventory, ReadySpec, Runtime, Sharing, SimProfile, Target, TaskSpec, Timing, WorkloadSpec,
};
use crate::subjects::NodeId;

pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

pub fn node_id() -> impl Strategy<Value = NodeId> {
    "[A-Za-z0-9_-]{1,24}".prop_map(|s| NodeId::parse(&s).unwrap())
}

/// Free text, any printable characters (names, messages, TOML).
pub fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

pub fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9./ +_-]{0,20}"
}

pub fn ms() -> impl Strategy<Value = u64> {
    1_600_000_000_000u64..2_000_000_000_000
}

pub fn watts() -> impl Strategy<Value = f64> {
    0.0f64..5_000.0
}

pub fn celsius() -> impl Strategy<Value = f64> {
    -10.0f64..120.0
}

pub fn pct() -> impl Strategy<Value = f64> {
    0.0f64..=100.0
}

pub fn runtime() -> impl Strategy<Value = Runtime> {
    prop_oneof![
        Just(Runtime::Docker),
        Just(Runtime::Kubernetes),
        Just(Runtime::Process),
        Just(Runtime::Unknown),
    ]
}

pub fn gpu_ref() -> impl Strategy<Value = GpuRef> {
    (0u32..16, "(GPU-[0-9a-f-]{8,36})?", name()).prop_map(|(index, uuid, model)| GpuRef {
        index,
        uuid,
        model,
    })
}

pub fn placed_layout() -> impl Strategy<Value = PlacedLayout> {
    let ci = (0u32..8, 1u8..8, 0u8..7).prop_map(|(profile_id, compute_slices, start)| PlacedCi {
        profile_id,
        compute_slices,
        start,
    });
    let gi = (0u32..20, name(), 0u8..8, 1u8..9, 1u8..8, vec(ci, 0..4)).prop_map(
        |(profile_id, profile, start, size, compute_slices, compute_instances)| PlacedGi {
            profile_id,
            profile,
            start,
            size,
            compute_slices,
            compute_instances,
        },
    );
    vec(gi, 0..4).prop_map(|instances| PlacedLayout { instances })
}

pub fn sharing() -> impl Strategy<Value = Sharing> {
    let role = prop_oneof![
        Just(InstanceRole::Protagonist),
        Just(InstanceRole::Neighbour),
        Just(InstanceRole::Fill),
        Just(InstanceRole::Unknown),
    ];
    let assignment = (0u32..8, 0u32..8, name(), role).prop_map(
        |(gpu_instance, compute_instance, workload, role)| MigAssignment {
            gpu_instance,
            compute_instance,
            workload,
            role,
        },
    );
    prop_oneof![
        Just(Sharing::Exclusive),
        (1u32..64).prop_map(|concurrency| Sharing::TimeSlicing { concurrency }),
        (1u32..48, 1u32..=100).prop_map(|(concurrency, active_thread_percentage)| Sharing::Mps {
            concurrency,
            active_thread_percentage
        }),
        (placed_layout(), vec(assignment, 0..4)).prop_map(|(layout, assignments)| Sharing::Mig {
            layout,
            assignments
        }),
        vec(0u32..=100, 0..8).prop_map(|levels| Sharing::UsageGrid { levels }),
        Just(Sharing::Unknown),
    ]
}

pub fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (node_id(), gpu_ref()).prop_map(|(n, gpu)| Target::Gpu {
            node: n.into(),
            gpu
        }),
        (node_id(), vec(gpu_ref(), 1..8)).prop_map(|(n, gpus)| Target::Node {
            node: n.into(),
            gpus
        }),
        name().prop_map(|model| Target::Any { model }),
        Just(Target::Unknown),
    ]
}

pub fn timing() -> impl Strategy<Value = Timing> {
    (
        0u32..600,
        0u32..600,
        1u32..3600,
        0u32..600,
        0.0f64..10.0,
        1u32..1000,
    )
        .prop_map(
            |(
                idle_baseline_s,
                warmup_s,
                measure_s,
                cooldown_max_s,
                cooldown_temp_delta_c,
                sample_ms,
            )| {
                Timing {
                    idle_baseline_s,
                    warmup_s,
                    measure_s,
                    cooldown_max_s,
                    cooldown_temp_delta_c,
                    sample_ms,
                }
            },
        )
}

pub fn workload() -> impl Strategy<Value = WorkloadSpec> {
    let metric =
        (text(), name(), any::<bool>()).prop_map(|(regex, unit, higher_is_better)| MetricSpec {
            regex,
            unit,
            higher_is_better,
        });
    let ready = (option::of(text()), 0u32..3600).prop_map(|(log_regex, timeout_s)| ReadySpec {
        log_regex,
        timeout_s,
    });
    (
        (name(), option::of(name()), vec(text(), 0..4)),
        (
            btree_map("[A-Z_]{1,12}", text(), 0..3),
            option::of(metric),
            option::of(ready),
        ),
        (
            option::of(0u64..65_536),
            option::of(name()),
            btree_map("[a-z]{1,8}", any::<i64>(), 0..3),
        ),
        (0.0f64..=1.0, 0.0f64..1e6),
    )
        .prop_map(
            |(
                (name, image, command),
                (env, metric, ready),
                (shm_size_mb, ipc, ulimits),
                (i, f),
            )| {
                WorkloadSpec {
                    name,
                    image,
                    command,
                    env,
                    metric,
                    ready,
                    shm_size_mb,
                    ipc,
                    ulimits,
                    sim: SimProfile {
                        intensity: i,
                        fom: f,
                    },
                }
            },
        )
}

pub fn task_spec() -> impl Strategy<Value = TaskSpec> {
    let configuration = (name(), name(), sharing(), runtime(), vec(name(), 0..3)).prop_map(
        |(name, sweep, sharing, runtime, workloads)| Configuration {
            name,
            sweep,
            sharing,
            runtime,
            workloads,
        },
    );
    (
        (uuid(), any::<u32>(), uuid(), name()),
        (
            configuration,
            target(),
            0u32..10,
            timing(),
            vec(workload(), 0..3),
        ),
    )
        .prop_map(
            |(
                (id, seq, campaign_id, campaign),
                (configuration, target, repetition, timing, workloads),
            )| {
                TaskSpec {
                    id,
                    seq,
                    campaign_id,
                    campaign,
                    configuration,
                    target,
                    repetition,
                    timing,
                    workloads,
                }
            },
        )
}

pub fn profile_table() -> impl Strategy<Value = ProfileTable> {
    let ci = (0u32..8, 1u8..8, 1u8..8, vec(0u8..7, 0..7)).prop_map(
        |(id, compute_slices, max_count, placements)| CiProfile {
            id,
            compute_slices,
            max_count,
            placements,
        },
    );
    let gi = (
        (0u32..32, name(), 1u8..8, 1u8..9),
        (
            0u64..200_000,
            1u8..8,
            vec(0u8..8, 0..8),
            any::<bool>(),
            vec(ci, 0..3),
        ),
    )
        .prop_map(
            |(
                (id, name, compute_slices, placement_size),
                (memory_mib, max_count, placements, me, cis),
            )| {
                GiProfile {
                    id,
                    name,
                    compute_slices,
                    placement_size,
                    memory_mib,
                    max_count,
                    placements,
                    media_extensions: me,
                    compute_instance_profiles: cis,
                }
            },
        );
    let source = prop_oneof![
        Just(TableSource::BuiltIn),
        Just(TableSource::Driver),
        Just(TableSource::Unknown),
    ];
    (name(), 1u8..9, 1u8..8, vec(gi, 0..4), source).prop_map(
        |(model, memory_slices, compute_slices, gpu_instance_profiles, source)| ProfileTable {
            model,
            memory_slices,
            compute_slices,
            gpu_instance_profiles,
            source,
        },
    )
}

pub fn gpu_inventory() -> impl Strategy<Value = GpuInventory> {
    (
        (0u32..16, text(), text(), option::of(name()), 0u64..200_000),
        (name(), name(), 0.0f64..1500.0, any::<bool>(), any::<bool>()),
        (
            option::of(profile_table()),
            option::of(placed_layout()),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (index, uuid, name, model_id, memory_mib),
                (driver_version, cuda_version, power_limit_w, mig_capable, mig_enabled),
                (profile_table, current_layout, mps_capable, simulated),
            )| GpuInventory {
                index,
                uuid,
                name,
                model_id,
                memory_mib,
                driver_version,
                cuda_version,
                power_limit_w,
                mig_capable,
                mig_enabled,
                profile_table,
                current_layout,
                mps_capable,
                simulated,
            },
        )
}

pub fn inventory() -> impl Strategy<Value = NodeInventory> {
    let ipmi = prop_oneof![
        Just(IpmiStatus::Absent),
        Just(IpmiStatus::Reachable),
        Just(IpmiStatus::Unreachable),
        Just(IpmiStatus::Unknown),
    ];
    (
        (node_id(), text(), name(), 1u32..512, any::<u64>()),
        (vec(runtime(), 0..4), ipmi, vec(gpu_inventory(), 0..3)),
    )
        .prop_map(
            |((node, hostname, agent_version, cpus, memory_mib), (runtimes, ipmi, gpus))| {
                NodeInventory {
                    node_id: node.into(),
                    hostname,
                    agent_version,
                    cpus,
                    memory_mib,
                    runtimes,
                    ipmi,
                    gpus,
                }
            },
        )
}

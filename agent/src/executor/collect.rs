//! What a run collects for its summary and its telemetry: sampler records per GPU, figures of
//! merit per instance, host CPU intervals and the instances' CPU counters at the window's edges.
//! Pure bookkeeping: records in, [`SummaryInputs`] and telemetry [`Point`]s out.

use std::collections::BTreeMap;

use wattsweep_shared::model::TaskSpec;
use wattsweep_shared::summary::{
    CounterReading, CpuCounters, CpuInputs, GpuInputs, HostCpuSample, PowerSample, StatusSample,
    SummaryInputs, SummaryOptions, WorkloadCpuWindow,
};
use wattsweep_shared::wire::{FigureOfMerit, Phase as WirePhase, PhaseTiming};

use crate::runtime::logwatch::FomSample;
use crate::runtime::{CpuUsage, LaunchSpec};
use crate::telemetry::gpu_points::{GpuTags, record_point};
use crate::telemetry::point::{Point, measurement, tag};
use crate::telemetry::sampler::{PowerSource, Record};

/// One GPU the run samples.
#[derive(Debug, Clone)]
pub(super) struct SampledGpu {
    pub index: u32,
    pub uuid: String,
    pub model: String,
}

/// Everything collected so far.
#[derive(Debug)]
pub(super) struct Collector {
    node: String,
    gpus: BTreeMap<u32, (SampledGpu, GpuInputs)>,
    foms: BTreeMap<u32, Vec<FomSample>>,
    host_cpu: Vec<HostCpuSample>,
    cpu_start: BTreeMap<u32, CpuCounters>,
    cpu_end: BTreeMap<u32, CpuCounters>,
    notices: Vec<String>,
    task_tags: [(&'static str, String); 3],
}

fn ns_to_us(t_ns: u64) -> u64 {
    t_ns / 1_000
}

impl Collector {
    pub fn new(node: &str, task: &TaskSpec, gpus: &[SampledGpu]) -> Self {
        Self {
            node: node.to_string(),
            gpus: gpus
                .iter()
                .map(|g| {
                    let inputs = GpuInputs {
                        index: g.index,
                        uuid: g.uuid.clone(),
                        energy_counter: Some(Vec::new()),
                        ..GpuInputs::default()
                    };
                    (g.index, (g.clone(), inputs))
                })
                .collect(),
            foms: BTreeMap::new(),
            host_cpu: Vec::new(),
            cpu_start: BTreeMap::new(),
            cpu_end: BTreeMap::new(),
            notices: Vec::new(),
            task_tags: [
                (tag::CAMPAIGN, task.campaign_id.to_string()),
                (tag::TASK, task.id.to_string()),
                (tag::CONFIG, task.configuration.name.clone()),
            ],
        }
    }

    fn tagged(&self, mut p: Point) -> Point {
        for (k, v) in &self.task_tags {
            p = p.tag(*k, v.as_str());
        }
        p
    }

    /// Keep a sampler record; returns its telemetry point (none for GPUs the run does not hold).
    pub fn record(&mut self, r: &Record) -> Option<Point> {
        let gpu = match r {
            Record::Power { gpu, .. }
            | Record::Status { gpu, .. }
            | Record::Energy { gpu, .. }
            | Record::Notice { gpu, .. } => *gpu,
        };
        let (info, inputs) = self.gpus.get_mut(&gpu)?;
        match r {
            Record::Power {
                t_ns,
                watts,
                source: PowerSource::Buffer,
                ..
            } => inputs.power.push(PowerSample {
                timestamp_us: ns_to_us(*t_ns),
                watts: *watts,
            }),
            Record::Power { .. } => {}
            Record::Status { t_ns, status, .. } => inputs.status.push(StatusSample {
                timestamp_us: ns_to_us(*t_ns),
                gpu_temp_c: status.temperature_c,
                memory_temp_c: status.memory_temperature_c,
            }),
            Record::Energy { t_ns, mj, .. } => {
                if let Some(c) = inputs.energy_counter.as_mut() {
                    c.push(CounterReading {
                        timestamp_us: ns_to_us(*t_ns),
                        millijoules: *mj,
                    });
                }
            }
            Record::Notice { message, .. } => self.notices.push(format!("GPU {gpu}: {message}")),
        }
        let tags = GpuTags {
            node: self.node.clone(),
            uuid: info.uuid.clone(),
            model: info.model.clone(),
        };
        let point = record_point(r, &tags);
        Some(self.tagged(point))
    }

    /// Energy-counter readings taken so far, per GPU.
    pub fn energy_reads(&self) -> usize {
        self.gpus
            .values()
            .map(|(_, i)| i.energy_counter.as_ref().map_or(0, Vec::len))
            .sum()
    }

    /// Sampler notices so far.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Keep a figure of merit of `instance`.
    pub fn fom(&mut self, instance: u32, sample: FomSample) {
        self.foms.entry(instance).or_default().push(sample);
    }

    /// Figure-of-merit samples of `instance` so far.
    pub fn fom_count(&self, instance: u32) -> usize {
        self.foms.get(&instance).map_or(0, Vec::len)
    }

    /// Keep one host CPU interval; returns its telemetry point.
    pub fn host_cpu(&mut self, s: HostCpuSample, phase: &str) -> Point {
        self.host_cpu.push(s);
        let p = Point::new(measurement::CPU, s.end_ns)
            .tag(tag::NODE, self.node.as_str())
            .tag(tag::PHASE, phase)
            .field("utilisation_pct", s.utilisation_pct)
            .field("context_switches_per_s", s.context_switches_per_s);
        self.tagged(p)
    }

    /// Keep an instance's CPU counters at the start (`start`) or end of the measured window.
    pub fn instance_cpu(&mut self, instance: u32, at_ns: i64, usage: CpuUsage, start: bool) {
        let c = CpuCounters {
            unix_ns: at_ns,
            cpu_seconds: usage.cpu_s,
            context_switches: usage.context_switches.unwrap_or(0),
        };
        if start {
            self.cpu_start.insert(instance, c);
        } else {
            self.cpu_end.insert(instance, c);
        }
    }

    /// The summary inputs of the run.
    pub fn summary_inputs(
        &self,
        phases: &[PhaseTiming],
        sample_ms: u32,
        specs: &[LaunchSpec],
        logical_cpus: u32,
    ) -> SummaryInputs {
        let window = phases
            .iter()
            .find(|p| p.phase == WirePhase::Measure)
            .map(|p| (ms_to_ns(p.start_ms), ms_to_ns(p.end_ms)));
        let mut figures = Vec::new();
        for s in specs {
            let (Some(metric), Some((start, end))) = (&s.workload.metric, window) else {
                continue;
            };
            let inside: Vec<f64> = self
                .foms
                .get(&s.instance)
                .into_iter()
                .flatten()
                .filter(|f| f.at_ns >= start && f.at_ns <= end)
                .map(|f| f.value)
                .collect();
            if inside.is_empty() {
                continue;
            }
            figures.push(FigureOfMerit {
                workload: s.workload.name.clone(),
                instance: s.instance,
                value: inside.iter().sum::<f64>() / inside.len() as f64,
                unit: metric.unit.clone(),
                higher_is_better: metric.higher_is_better,
            });
        }
        let workloads = specs
            .iter()
            .filter_map(|s| {
                Some(WorkloadCpuWindow {
                    workload: format!("{}#{}", s.workload.name, s.instance),
                    start: *self.cpu_start.get(&s.instance)?,
                    end: *self.cpu_end.get(&s.instance)?,
                })
            })
            .collect();
        SummaryInputs {
            phases: phases.to_vec(),
            sample_period_ms: u64::from(sample_ms.max(1)),
            // A GPU whose counter was never read (it has none) is summarised from its samples.
            gpus: self
                .gpus
                .values()
                .map(|(_, i)| {
                    let mut i = i.clone();
                    if i.energy_counter.as_ref().is_some_and(Vec::is_empty) {
                        i.energy_counter = None;
                    }
                    i
                })
                .collect(),
            platform: None,
            cpu: (logical_cpus > 0).then(|| CpuInputs {
                logical_cpus,
                host: self.host_cpu.clone(),
                workloads,
            }),
            figures_of_merit: figures,
            options: SummaryOptions::default(),
        }
    }
}

fn ms_to_ns(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;
    use wattsweep_shared::model::{
        Configuration, MetricSpec, Runtime, Sharing, Target, Timing, WorkloadSpec,
    };

    use super::*;
    use crate::gpu::GpuStatus;
    use crate::runtime::GpuBinding;
    use crate::telemetry::sampler::Phase;

    fn task() -> TaskSpec {
        TaskSpec {
            id: Uuid::from_u128(1),
            seq: 0,
            campaign_id: Uuid::from_u128(2),
            campaign: "c".into(),
            configuration: Configuration {
                name: "ts/burn/c2".into(),
                sweep: "ts".into(),
                sharing: Sharing::Exclusive,
                runtime: Runtime::Process,
                workloads: vec!["burn".into()],
            },
            target: Target::Unknown,
            repetition: 0,
            timing: Timing::default(),
            workloads: vec![],
        }
    }

    fn spec(instance: u32, metric: bool) -> LaunchSpec {
        LaunchSpec {
            task_id: Uuid::nil(),
            attempt: 1,
            instance,
            workload: WorkloadSpec {
                name: "burn".into(),
                metric: metric.then(|| MetricSpec {
                    regex: "(x)".into(),
                    unit: "GFLOP/s".into(),
                    higher_is_better: true,
                }),
                ..WorkloadSpec::default()
            },
            gpu: GpuBinding::None,
            mps: None,
            substitutions: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    #[test]
    fn records_become_inputs_and_tagged_points() {
        let gpu = SampledGpu {
            index: 0,
            uuid: "GPU-0".into(),
            model: "h100-80gb".into(),
        };
        let mut c = Collector::new("node1", &task(), &[gpu]);
        let p = c
            .record(&Record::Power {
                gpu: 0,
                t_ns: 5_000_000,
                watts: 100.0,
                source: PowerSource::Buffer,
                phase: Phase::Measure,
            })
            .unwrap();
        assert_eq!(
            p.tags.get(tag::CONFIG).map(String::as_str),
            Some("ts/burn/c2")
        );
        assert_eq!(p.tags.get(tag::PHASE).map(String::as_str), Some("measure"));
        c.record(&Record::Energy {
            gpu: 0,
            t_ns: 6_000_000,
            mj: 42,
            phase: Phase::Measure,
        });
        c.record(&Record::Status {
            gpu: 0,
            t_ns: 7_000_000,
            status: GpuStatus {
                temperature_c: Some(40.0),
                ..GpuStatus::default()
            },
            phase: Phase::Measure,
        });
        assert!(
            c.record(&Record::Notice {
                gpu: 3,
                t_ns: 0,
                message: "x".into()
            })
            .is_none()
        );
        assert_eq!(c.energy_reads(), 1);
        let phases = [PhaseTiming {
            phase: WirePhase::Measure,
            start_ms: 1_000,
            end_ms: 2_000,
        }];
        for (at_ns, v) in [
            (999_000_000, 1.0),
            (1_500_000_000, 10.0),
            (1_600_000_000, 20.0),
        ] {
            c.fom(0, FomSample { value: v, at_ns });
        }
        c.fom(
            1,
            FomSample {
                value: 5.0,
                at_ns: 3_000_000_000,
            },
        );
        let inputs = c.summary_inputs(
            &phases,
            20,
            &[spec(0, true), spec(1, true), spec(2, false)],
            0,
        );
        assert_eq!(inputs.gpus[0].power[0].timestamp_us, 5_000);
        assert_eq!(
            inputs.gpus[0].energy_counter.as_ref().unwrap()[0].millijoules,
            42
        );
        assert_eq!(inputs.gpus[0].status[0].gpu_temp_c, Some(40.0));
        // Only the samples inside the window count; instance 1 reported none there.
        assert_eq!(inputs.figures_of_merit.len(), 1);
        assert_eq!(inputs.figures_of_merit[0].value, 15.0);
        assert!(inputs.cpu.is_none());
    }
}

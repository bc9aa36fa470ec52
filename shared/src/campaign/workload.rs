//! `[workloads.NAME]` tables, inline or from catalog files, checked into [`WorkloadSpec`]s.
//!
//! A workload that reaches an agent must start and be measurable there: its regular expressions
//! compile, its figure of merit has a capture group, its container settings are ones Docker accepts.

use serde_spanned::Spanned;

use super::check::{self, Ctx};
use super::error::ErrorKind;
use super::raw::RawWorkload;
use crate::model::{MetricSpec, ReadySpec, SimProfile, WorkloadSpec};

/// Container IPC modes a workload may ask for.
const IPC_MODES: &[(&str, ())] = &[("host", ()), ("private", ()), ("shareable", ())];

/// Resource limits Docker (and `setrlimit`) know.
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Validate one workload; `name` has been checked by the caller.
pub(crate) fn workload(
    ctx: &mut Ctx<'_, '_>,
    name: &str,
    raw: &RawWorkload,
) -> Option<WorkloadSpec> {
    let mut ok = true;
    let mut spec = WorkloadSpec {
        name: name.to_owned(),
        ..WorkloadSpec::default()
    };

    if let Some(image) = &raw.image {
        let v = image.get_ref();
        if v.is_empty() || v.chars().any(char::is_whitespace) {
            ctx.err(
                ErrorKind::Value,
                image.span(),
                format!("`image` \"{v}\" must be a non-empty image reference without spaces"),
            );
            ok = false;
        }
        spec.image = Some(v.clone());
    }
    if let Some(command) = &raw.command {
        if command.get_ref().is_empty() {
            ctx.err(
                ErrorKind::Value,
                command.span(),
                "`command` needs at least the program to run",
            );
            ok = false;
        }
        spec.command = command
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect();
    }
    for (key, value) in raw.env.iter().flatten() {
        let k = key.get_ref();
        let valid = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            ctx.err(
                ErrorKind::Value,
                key.span(),
                format!("environment variable name \"{k}\" must be letters, digits and `_`, not starting with a digit"),
            );
            ok = false;
        }
        if value.get_ref().contains('\0') {
            ctx.err(
                ErrorKind::Value,
                value.span(),
                format!("value of `{k}` contains a NUL character"),
            );
            ok = false;
        }
        spec.env.insert(k.clone(), value.get_ref().clone());
    }
    if let Some(metric) = &raw.metric {
        let m = metric.get_ref();
        match compile(ctx, &m.regex, "metric.regex") {
            Some(re) if re.captures_len() < 2 => {
                ctx.err(
                    ErrorKind::Value,
                    m.regex.span(),
                    "`metric.regex` needs a capture group around the number, e.g. '(\\d+(?:\\.\\d+)?) Gflop/s'",
                );
                ok = false;
            }
            Some(_) => {}
            None => ok = false,
        }
        if m.unit.get_ref().trim().is_empty() {
            ctx.err(
                ErrorKind::Value,
                m.unit.span(),
                "`metric.unit` must not be empty",
            );
            ok = false;
        }
        spec.metric = Some(MetricSpec {
            regex: m.regex.get_ref().clone(),
            unit: m.unit.get_ref().clone(),
            higher_is_better: m.higher_is_better.unwrap_or(true),
        });
    }
    if let Some(ready) = &raw.ready {
        let r = ready.get_ref();
        if let Some(re) = &r.log_regex {
            ok &= compile(ctx, re, "ready.log_regex").is_some();
        }
        let timeout_s = match &r.timeout_s {
            Some(t) => check::int_in(ctx, t, "ready.timeout_s", 1, i64::from(u32::MAX)),
            None => Some(600),
        };
        ok &= timeout_s.is_some();
        spec.ready = Some(ReadySpec {
            log_regex: r.log_regex.as_ref().map(|s| s.get_ref().clone()),
            timeout_s: timeout_s.unwrap_or(600),
        });
    }
    if let Some(shm) = &raw.shm_size_mb {
        let v = *shm.get_ref();
        match u64::try_from(v) {
            Ok(v) if v >= 1 => spec.shm_size_mb = Some(v),
            _ => {
                ctx.err(
                    ErrorKind::Value,
                    shm.span(),
                    format!("`shm_size_mb` must be at least 1, got {v}"),
                );
                ok = false;
            }
        }
    }
    if let Some(ipc) = &raw.ipc {
        ok &= check::choice(ctx, ipc, "ipc", IPC_MODES).is_some();
        spec.ipc = Some(ipc.get_ref().clone());
    }
    for (key, value) in raw.ulimits.iter().flatten() {
        if !ULIMITS.contains(&key.get_ref().as_str()) {
            ctx.err(
                ErrorKind::Value,
                key.span(),
                format!(
                    "unknown ulimit \"{}\"; allowed: {}",
                    key.get_ref(),
                    ULIMITS.join(", ")
                ),
            );
            ok = false;
        }
        if *value.get_ref() < -1 {
            ctx.err(
                ErrorKind::Value,
                value.span(),
                format!(
                    "ulimit `{}` must be -1 (unlimited) or at least 0, got {}",
                    key.get_ref(),
                    value.get_ref()
                ),
            );
            ok = false;
        }
        spec.ulimits.insert(key.get_ref().clone(), *value.get_ref());
    }
    if let Some(sim) = &raw.sim {
        let s = sim.get_ref();
        let mut profile = SimProfile::default();
        if let Some(i) = &s.intensity {
            let v = *i.get_ref();
            if (0.0..=1.0).contains(&v) {
                profile.intensity = v;
            } else {
                ctx.err(
                    ErrorKind::Value,
                    i.span(),
                    format!("`sim.intensity` must be between 0 and 1, got {v}"),
                );
                ok = false;
            }
        }
        if let Some(f) = &s.fom {
            match check::positive(ctx, f, "sim.fom") {
                Some(v) => profile.fom = v,
                None => ok = false,
            }
        }
        spec.sim = profile;
    }
    ok.then_some(spec)
}

/// Compile a regular expression, reporting the compiler's reason at the string.
fn compile(ctx: &mut Ctx<'_, '_>, re: &Spanned<String>, key: &str) -> Option<regex::Regex> {
    match regex::Regex::new(re.get_ref()) {
        Ok(r) => Some(r),
        Err(e) => {
            ctx.err(
                ErrorKind::Value,
                re.span(),
                format!("`{key}` does not compile: {}", regex_reason(&e)),
            );
            None
        }
    }
}

/// The regex crate's syntax errors draw a caret diagram over several lines; keep the reason line.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.as_str());
    reason.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_reason_is_one_line() {
        let unclosed = String::from("(\\d+");
        let Err(e) = regex::Regex::new(&unclosed) else {
            panic!("an unclosed group compiles");
        };
        assert_eq!(regex_reason(&e), "unclosed group");
    }
}

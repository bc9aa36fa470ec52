//! Raw NVML calls that `nvml-wrapper` 0.13 does not wrap safely: MIG profile info (v3/v2/v1 structs),
//! possible placements, remaining capacity, GPU- and compute-instance listing, creation with a
//! placement, destruction, and the GI/CI ids of MIG devices.
//!
//! This is the agent's only module with `unsafe` code. Every symbol comes from the library that
//! `Nvml::init()` opened (`Nvml::lib()`), so all calls go through one `dlopen`. Instance handles
//! (`nvmlGpuInstance_t`, `nvmlComputeInstance_t`) never leave this module: callers get plain data and
//! name instances by their driver ids. (The wrapper's own `possible_placements` returns an empty
//! vector because it never sets the length of its buffer; we do not use it.)
#![allow(unsafe_code)]

use std::mem;
use std::os::raw::{c_char, c_uint};
use std::ptr;

use nvml_wrapper::Device;
use nvml_wrapper::error::{NvmlError, nvml_sym, nvml_try};
use nvml_wrapper_sys::bindings::{
    NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, nvmlComputeInstance_t, nvmlComputeInstanceInfo_t,
    nvmlComputeInstancePlacement_t, nvmlComputeInstanceProfileInfo_t,
    nvmlComputeInstanceProfileInfo_v2_t, nvmlDevice_t, nvmlGpuInstance_t, nvmlGpuInstanceInfo_t,
    nvmlGpuInstancePlacement_t, nvmlGpuInstanceProfileInfo_t, nvmlGpuInstanceProfileInfo_v2_t,
    nvmlGpuInstanceProfileInfo_v3_t,
};

pub use super::raw::{RawCi, RawCiProfile, RawGi, RawGiProfile, RawPlacement};

/// `NVML_ERROR_ARGUMENT_VERSION_MISMATCH`: the driver does not know this struct version.
const ARGUMENT_VERSION_MISMATCH: u32 = 25;

/// The version word NVML expects in a versioned struct (`NVML_STRUCT_VERSION`).
fn struct_version<T>(version: u32) -> c_uint {
    (mem::size_of::<T>() as u32) | (version << 24)
}

/// A driver-filled, NUL-terminated name buffer as a string, without the `MIG ` prefix.
fn name_of(raw: &[c_char]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let name = String::from_utf8_lossy(&bytes);
    name.strip_prefix("MIG ")
        .unwrap_or(&name)
        .trim()
        .to_string()
}

/// `nvmlValueType_t` members, by the names the header gives them.
mod value_type {
    use nvml_wrapper_sys::bindings as b;
    pub const DOUBLE: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_DOUBLE;
    pub const UNSIGNED_LONG: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_UNSIGNED_LONG;
    pub const UNSIGNED_LONG_LONG: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
    pub const SIGNED_LONG_LONG: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_SIGNED_LONG_LONG;
    pub const SIGNED_INT: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_SIGNED_INT;
    pub const UNSIGNED_SHORT: u32 = b::nvmlValueType_enum_NVML_VALUE_TYPE_UNSIGNED_SHORT;
}

/// Room for power samples in one read: the H100's buffer holds ~120 (2.4 s at 20 ms).
const SAMPLE_CAPACITY: usize = 256;

/// Power samples newer than `since_us` as `(timestamp µs, milliwatts)`, in ONE driver call with a
/// buffer of [`SAMPLE_CAPACITY`] (the wrapper asks for the count first, doubling the cost: each
/// call is ~85 µs of CPU on an H100). `Ok(None)` when the buffer was too small: the caller falls
/// back to the two-call path.
pub fn power_samples(
    dev: &Device<'_>,
    since_us: u64,
) -> Result<Option<Vec<(u64, f64)>>, NvmlError> {
    use nvml_wrapper_sys::bindings::{
        nvmlSample_t, nvmlSamplingType_enum_NVML_TOTAL_POWER_SAMPLES, nvmlValueType_t,
    };
    let sym = nvml_sym(dev.nvml().lib().nvmlDeviceGetSamples.as_ref())?;
    // SAFETY: plain old data (an integer and a union of integers/floats): all-zero is valid.
    let zero: nvmlSample_t = unsafe { mem::zeroed() };
    let mut buf = vec![zero; SAMPLE_CAPACITY];
    let mut count = SAMPLE_CAPACITY as c_uint;
    let mut val_type: nvmlValueType_t = 0;
    // SAFETY: `buf` has room for `count` samples and `count` says so; `val_type` is writable; the
    // driver writes at most `count` samples and updates `count`.
    let code = unsafe {
        sym(
            handle(dev),
            nvmlSamplingType_enum_NVML_TOTAL_POWER_SAMPLES,
            since_us,
            &mut val_type,
            &mut count,
            buf.as_mut_ptr(),
        )
    };
    match nvml_try(code) {
        Ok(()) => {}
        Err(NvmlError::InsufficientSize(_)) => return Ok(None),
        Err(NvmlError::NotFound) => return Ok(Some(Vec::new())),
        Err(e) => return Err(e),
    }
    buf.truncate((count as usize).min(SAMPLE_CAPACITY));
    let out = buf
        .iter()
        .map(|s| {
            let v = &s.sampleValue;
            // SAFETY: the driver says which member of the union it wrote (`val_type`); each arm
            // reads only that member, and every member is a plain number.
            let mw = unsafe {
                match val_type {
                    value_type::DOUBLE => v.dVal,
                    value_type::UNSIGNED_LONG => v.ulVal as f64,
                    value_type::UNSIGNED_LONG_LONG => v.ullVal as f64,
                    value_type::SIGNED_LONG_LONG => v.sllVal as f64,
                    value_type::SIGNED_INT => f64::from(v.siVal),
                    value_type::UNSIGNED_SHORT => f64::from(v.usVal),
                    _ => f64::from(v.uiVal),
                }
            };
            (s.timeStamp, mw)
        })
        .collect();
    Ok(Some(out))
}

/// The raw device handle of a wrapper device.
fn handle(dev: &Device<'_>) -> nvmlDevice_t {
    // SAFETY: the handle is only passed to functions of the same loaded library, while `dev` (and so
    // the `Nvml` it borrows) is alive; it is never dereferenced here.
    unsafe { dev.handle() }
}

/// `nvmlDeviceGetGpuInstanceProfileInfoV` with the v2 struct.
fn gi_profile_info_v2(
    sym: GiInfoV,
    dh: nvmlDevice_t,
    index: u32,
) -> Result<RawGiProfile, NvmlError> {
    // SAFETY: the struct is plain old data (integers and a char array): all-zero is valid.
    let mut v2: nvmlGpuInstanceProfileInfo_v2_t = unsafe { mem::zeroed() };
    v2.version = struct_version::<nvmlGpuInstanceProfileInfo_v2_t>(2);
    // SAFETY: `v2` is a live, writable v2 struct with its version word set; the device handle
    // belongs to the library `sym` comes from.
    nvml_try(unsafe { sym(dh, index, &mut v2) })?;
    Ok(RawGiProfile {
        id: v2.id,
        name: name_of(&v2.name),
        slice_count: v2.sliceCount,
        instance_count: v2.instanceCount,
        memory_mib: v2.memorySizeMB,
    })
}

/// `nvmlDeviceGetGpuInstanceProfileInfoV` with the v3 struct.
fn gi_profile_info_v3(
    sym: GiInfoV,
    dh: nvmlDevice_t,
    index: u32,
) -> Result<RawGiProfile, NvmlError> {
    // SAFETY: plain old data, all-zero is valid.
    let mut v3: nvmlGpuInstanceProfileInfo_v3_t = unsafe { mem::zeroed() };
    v3.version = struct_version::<nvmlGpuInstanceProfileInfo_v3_t>(3);
    let ptr =
        (&mut v3 as *mut nvmlGpuInstanceProfileInfo_v3_t).cast::<nvmlGpuInstanceProfileInfo_v2_t>();
    // SAFETY: `ptr` points to a live, writable v3 struct whose `version` word tells the driver its
    // layout and size (the binding is typed for v2, the C function takes either); the driver
    // writes at most that many bytes.
    nvml_try(unsafe { sym(dh, index, ptr) })?;
    Ok(RawGiProfile {
        id: v3.id,
        name: name_of(&v3.name),
        slice_count: v3.sliceCount,
        instance_count: v3.instanceCount,
        memory_mib: v3.memorySizeMB,
    })
}

type GiInfoV = unsafe extern "C" fn(
    nvmlDevice_t,
    c_uint,
    *mut nvmlGpuInstanceProfileInfo_v2_t,
) -> nvml_wrapper_sys::bindings::nvmlReturn_t;

/// GPU-instance profile info for profile *index* `index` (`NVML_GPU_INSTANCE_PROFILE_*`): the v2
/// struct (what `nvidia-smi` reads; it carries the name), the v3 struct if the driver refuses v2 or
/// leaves the name empty, then the unversioned v1 call (no name) on old drivers.
pub fn gi_profile_info(dev: &Device<'_>, index: u32) -> Result<RawGiProfile, NvmlError> {
    let lib = dev.nvml().lib();
    let dh = handle(dev);
    if let Ok(sym) = nvml_sym(lib.nvmlDeviceGetGpuInstanceProfileInfoV.as_ref()) {
        let v2 = match gi_profile_info_v2(*sym, dh, index) {
            Ok(p) if !p.name.is_empty() => return Ok(p),
            Ok(p) => Some(p),
            Err(NvmlError::UnexpectedVariant(ARGUMENT_VERSION_MISMATCH)) => None,
            Err(e) => return Err(e),
        };
        return match (gi_profile_info_v3(*sym, dh, index), v2) {
            (Ok(p), _) if !p.name.is_empty() => Ok(p),
            (_, Some(p)) | (Ok(p), None) => Ok(with_synthetic_name(p)),
            (Err(e), None) => Err(e),
        };
    }
    let sym = nvml_sym(lib.nvmlDeviceGetGpuInstanceProfileInfo.as_ref())?;
    // SAFETY: plain old data, all-zero is valid.
    let mut v1: nvmlGpuInstanceProfileInfo_t = unsafe { mem::zeroed() };
    // SAFETY: `v1` is a live, writable struct of the layout this unversioned call fills.
    nvml_try(unsafe { sym(dh, index, &mut v1) })?;
    Ok(with_synthetic_name(RawGiProfile {
        id: v1.id,
        name: String::new(),
        slice_count: v1.sliceCount,
        instance_count: v1.instanceCount,
        memory_mib: v1.memorySizeMB,
    }))
}

/// A name in the driver's style (`3g.40gb`) for a profile the driver gave none.
fn with_synthetic_name(mut p: RawGiProfile) -> RawGiProfile {
    p.name = format!("{}g.{}gb", p.slice_count, p.memory_mib.div_ceil(1024));
    p
}

/// Every placement the driver allows for GPU-instance profile `profile_id`
/// (`nvmlDeviceGetGpuInstancePossiblePlacements_v2`, as `nvidia-smi mig -lgipp` shows them).
pub fn gi_possible_placements(
    dev: &Device<'_>,
    profile_id: u32,
) -> Result<Vec<RawPlacement>, NvmlError> {
    let sym = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlDeviceGetGpuInstancePossiblePlacements_v2
            .as_ref(),
    )?;
    let dh = handle(dev);
    let mut count: c_uint = 0;
    // SAFETY: a NULL placement array asks only for the count, written to the live `count`.
    nvml_try(unsafe { sym(dh, profile_id, ptr::null_mut(), &mut count) })?;
    let zero = nvmlGpuInstancePlacement_t { start: 0, size: 0 };
    let mut buf = vec![zero; count as usize];
    // SAFETY: `buf` has room for `count` placements and `count` says so; the driver writes at most
    // that many and updates `count`.
    nvml_try(unsafe { sym(dh, profile_id, buf.as_mut_ptr(), &mut count) })?;
    buf.truncate(count as usize);
    Ok(buf
        .into_iter()
        .map(|p| RawPlacement {
            start: p.start,
            size: p.size,
        })
        .collect())
}

/// How many more instances of GPU-instance profile `profile_id` fit now.
pub fn gi_remaining_capacity(dev: &Device<'_>, profile_id: u32) -> Result<u32, NvmlError> {
    let sym = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlDeviceGetGpuInstanceRemainingCapacity
            .as_ref(),
    )?;
    let mut count: c_uint = 0;
    // SAFETY: `count` is a live, writable integer.
    nvml_try(unsafe { sym(handle(dev), profile_id, &mut count) })?;
    Ok(count)
}

/// Info of a GPU-instance handle.
fn gi_info(dev: &Device<'_>, gi: nvmlGpuInstance_t) -> Result<RawGi, NvmlError> {
    let sym = nvml_sym(dev.nvml().lib().nvmlGpuInstanceGetInfo.as_ref())?;
    // SAFETY: plain old data (a pointer and integers): all-zero is valid.
    let mut info: nvmlGpuInstanceInfo_t = unsafe { mem::zeroed() };
    // SAFETY: `gi` came from the driver for this device and is still alive; `info` is writable.
    nvml_try(unsafe { sym(gi, &mut info) })?;
    Ok(RawGi {
        id: info.id,
        profile_id: info.profileId,
        placement: RawPlacement {
            start: info.placement.start,
            size: info.placement.size,
        },
    })
}

/// The GPU instances of profile `profile_id` that exist (at most `max` of them: the profile's
/// instance count).
pub fn gpu_instances(dev: &Device<'_>, profile_id: u32, max: u32) -> Result<Vec<RawGi>, NvmlError> {
    let sym = nvml_sym(dev.nvml().lib().nvmlDeviceGetGpuInstances.as_ref())?;
    let mut handles: Vec<nvmlGpuInstance_t> = vec![ptr::null_mut(); max.max(1) as usize];
    let mut count = handles.len() as c_uint;
    // SAFETY: `handles` has room for `count` handles; the driver writes at most that many.
    nvml_try(unsafe { sym(handle(dev), profile_id, handles.as_mut_ptr(), &mut count) })?;
    handles.truncate(count as usize);
    handles.into_iter().map(|gi| gi_info(dev, gi)).collect()
}

/// The handle of GPU instance `gi_id`.
fn gi_by_id(dev: &Device<'_>, gi_id: u32) -> Result<nvmlGpuInstance_t, NvmlError> {
    let sym = nvml_sym(dev.nvml().lib().nvmlDeviceGetGpuInstanceById.as_ref())?;
    let mut gi: nvmlGpuInstance_t = ptr::null_mut();
    // SAFETY: `gi` is a live, writable handle slot.
    nvml_try(unsafe { sym(handle(dev), gi_id, &mut gi) })?;
    Ok(gi)
}

/// Compute-instance profile info for profile *index* `index` inside a GPU instance (v2, then v1).
fn ci_profile_info(
    dev: &Device<'_>,
    gi: nvmlGpuInstance_t,
    index: u32,
) -> Result<(u32, u32, u32), NvmlError> {
    let lib = dev.nvml().lib();
    let eng = NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED;
    if let Ok(sym) = nvml_sym(lib.nvmlGpuInstanceGetComputeInstanceProfileInfoV.as_ref()) {
        // SAFETY: plain old data, all-zero is valid.
        let mut v2: nvmlComputeInstanceProfileInfo_v2_t = unsafe { mem::zeroed() };
        v2.version = struct_version::<nvmlComputeInstanceProfileInfo_v2_t>(2);
        // SAFETY: `gi` is a live GPU-instance handle; `v2` is writable with its version word set.
        match nvml_try(unsafe { sym(gi, index, eng, &mut v2) }) {
            Ok(()) => return Ok((v2.id, v2.sliceCount, v2.instanceCount)),
            Err(NvmlError::UnexpectedVariant(ARGUMENT_VERSION_MISMATCH)) => {}
            Err(e) => return Err(e),
        }
    }
    let sym = nvml_sym(lib.nvmlGpuInstanceGetComputeInstanceProfileInfo.as_ref())?;
    // SAFETY: plain old data, all-zero is valid.
    let mut v1: nvmlComputeInstanceProfileInfo_t = unsafe { mem::zeroed() };
    // SAFETY: `gi` is a live GPU-instance handle; `v1` is writable.
    nvml_try(unsafe { sym(gi, index, eng, &mut v1) })?;
    Ok((v1.id, v1.sliceCount, v1.instanceCount))
}

/// Placements allowed for compute-instance profile `profile_id` inside a GPU instance.
fn ci_possible_placements(
    dev: &Device<'_>,
    gi: nvmlGpuInstance_t,
    profile_id: u32,
) -> Result<Vec<RawPlacement>, NvmlError> {
    let sym = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlGpuInstanceGetComputeInstancePossiblePlacements
            .as_ref(),
    )?;
    let mut count: c_uint = 0;
    // SAFETY: a NULL placement array asks only for the count, written to the live `count`.
    nvml_try(unsafe { sym(gi, profile_id, ptr::null_mut(), &mut count) })?;
    let zero = nvmlComputeInstancePlacement_t { start: 0, size: 0 };
    let mut buf = vec![zero; count as usize];
    // SAFETY: `buf` has room for `count` placements and `count` says so.
    nvml_try(unsafe { sym(gi, profile_id, buf.as_mut_ptr(), &mut count) })?;
    buf.truncate(count as usize);
    Ok(buf
        .into_iter()
        .map(|p| RawPlacement {
            start: p.start,
            size: p.size,
        })
        .collect())
}

/// Compute-instance profiles available inside GPU instance `gi_id`, for profile indexes
/// `0..max_index` (indexes the driver rejects are skipped; other errors are returned).
pub fn ci_profiles(
    dev: &Device<'_>,
    gi_id: u32,
    max_index: u32,
) -> Result<Vec<RawCiProfile>, NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    let mut out: Vec<RawCiProfile> = Vec::new();
    for index in 0..max_index {
        let (id, slice_count, instance_count) = match ci_profile_info(dev, gi, index) {
            Ok(v) => v,
            Err(NvmlError::NotSupported | NvmlError::InvalidArg | NvmlError::NotFound) => continue,
            Err(e) => return Err(e),
        };
        if out.iter().any(|p| p.id == id) {
            continue;
        }
        let placements = ci_possible_placements(dev, gi, id)?;
        out.push(RawCiProfile {
            id,
            slice_count,
            instance_count,
            placements,
        });
    }
    Ok(out)
}

/// Info of a compute-instance handle.
fn ci_info(dev: &Device<'_>, ci: nvmlComputeInstance_t) -> Result<RawCi, NvmlError> {
    let sym = nvml_sym(dev.nvml().lib().nvmlComputeInstanceGetInfo_v2.as_ref())?;
    // SAFETY: plain old data (pointers and integers): all-zero is valid.
    let mut info: nvmlComputeInstanceInfo_t = unsafe { mem::zeroed() };
    // SAFETY: `ci` came from the driver and is alive; `info` is writable.
    nvml_try(unsafe { sym(ci, &mut info) })?;
    Ok(RawCi {
        id: info.id,
        profile_id: info.profileId,
        placement: RawPlacement {
            start: info.placement.start,
            size: info.placement.size,
        },
    })
}

/// The compute instances that exist inside GPU instance `gi_id`, for each `(profile id, max count)`.
pub fn compute_instances(
    dev: &Device<'_>,
    gi_id: u32,
    profiles: &[(u32, u32)],
) -> Result<Vec<RawCi>, NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    let sym = nvml_sym(dev.nvml().lib().nvmlGpuInstanceGetComputeInstances.as_ref())?;
    let mut out = Vec::new();
    for &(profile_id, max) in profiles {
        let mut handles: Vec<nvmlComputeInstance_t> = vec![ptr::null_mut(); max.max(1) as usize];
        let mut count = handles.len() as c_uint;
        // SAFETY: `gi` is alive; `handles` has room for `count` handles.
        nvml_try(unsafe { sym(gi, profile_id, handles.as_mut_ptr(), &mut count) })?;
        handles.truncate(count as usize);
        for ci in handles {
            out.push(ci_info(dev, ci)?);
        }
    }
    Ok(out)
}

/// Create a GPU instance of `profile_id` at `placement`; returns its GI id.
pub fn create_gpu_instance(
    dev: &Device<'_>,
    profile_id: u32,
    placement: RawPlacement,
) -> Result<u32, NvmlError> {
    let sym = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlDeviceCreateGpuInstanceWithPlacement
            .as_ref(),
    )?;
    let p = nvmlGpuInstancePlacement_t {
        start: placement.start,
        size: placement.size,
    };
    let mut gi: nvmlGpuInstance_t = ptr::null_mut();
    // SAFETY: `p` is a live placement read by the driver; `gi` is a writable handle slot.
    nvml_try(unsafe { sym(handle(dev), profile_id, &p, &mut gi) })?;
    Ok(gi_info(dev, gi)?.id)
}

/// Destroy GPU instance `gi_id`.
pub fn destroy_gpu_instance(dev: &Device<'_>, gi_id: u32) -> Result<(), NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    let sym = nvml_sym(dev.nvml().lib().nvmlGpuInstanceDestroy.as_ref())?;
    // SAFETY: `gi` was just looked up by id and is alive; it is not used after this call.
    nvml_try(unsafe { sym(gi) })
}

/// Create a compute instance of `profile_id` at `placement` inside GPU instance `gi_id`; returns
/// its CI id.
pub fn create_compute_instance(
    dev: &Device<'_>,
    gi_id: u32,
    profile_id: u32,
    placement: RawPlacement,
) -> Result<u32, NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    let sym = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlGpuInstanceCreateComputeInstanceWithPlacement
            .as_ref(),
    )?;
    let p = nvmlComputeInstancePlacement_t {
        start: placement.start,
        size: placement.size,
    };
    let mut ci: nvmlComputeInstance_t = ptr::null_mut();
    // SAFETY: `gi` is alive; `p` is read by the driver; `ci` is a writable handle slot.
    nvml_try(unsafe { sym(gi, profile_id, &p, &mut ci) })?;
    Ok(ci_info(dev, ci)?.id)
}

/// Placements allowed for compute-instance profile `profile_id` inside GPU instance `gi_id`.
pub fn ci_placements_in(
    dev: &Device<'_>,
    gi_id: u32,
    profile_id: u32,
) -> Result<Vec<RawPlacement>, NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    ci_possible_placements(dev, gi, profile_id)
}

/// Destroy compute instance `ci_id` of GPU instance `gi_id`.
pub fn destroy_compute_instance(dev: &Device<'_>, gi_id: u32, ci_id: u32) -> Result<(), NvmlError> {
    let gi = gi_by_id(dev, gi_id)?;
    let by_id = nvml_sym(
        dev.nvml()
            .lib()
            .nvmlGpuInstanceGetComputeInstanceById
            .as_ref(),
    )?;
    let mut ci: nvmlComputeInstance_t = ptr::null_mut();
    // SAFETY: `gi` is alive; `ci` is a writable handle slot.
    nvml_try(unsafe { by_id(gi, ci_id, &mut ci) })?;
    let destroy = nvml_sym(dev.nvml().lib().nvmlComputeInstanceDestroy.as_ref())?;
    // SAFETY: `ci` was just looked up and is alive; it is not used after this call.
    nvml_try(unsafe { destroy(ci) })
}

/// The (GPU-instance id, compute-instance id) of a MIG device handle.
pub fn mig_device_ids(mig: &Device<'_>) -> Result<(u32, u32), NvmlError> {
    let lib = mig.nvml().lib();
    let gi_sym = nvml_sym(lib.nvmlDeviceGetGpuInstanceId.as_ref())?;
    let ci_sym = nvml_sym(lib.nvmlDeviceGetComputeInstanceId.as_ref())?;
    let (mut gi, mut ci): (c_uint, c_uint) = (0, 0);
    // SAFETY: `gi` is a live, writable integer; the handle belongs to this library.
    nvml_try(unsafe { gi_sym(handle(mig), &mut gi) })?;
    // SAFETY: as above for `ci`.
    nvml_try(unsafe { ci_sym(handle(mig), &mut ci) })?;
    Ok((gi, ci))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_versions_match_the_nvml_header_macro() {
        // NVML_STRUCT_VERSION(GpuInstanceProfileInfo, 2) = sizeof | 2 << 24; the v2 struct is
        // 11 u32 + padding + u64 + char[96] = 152 bytes.
        assert_eq!(
            struct_version::<nvmlGpuInstanceProfileInfo_v2_t>(2),
            152 | (2 << 24)
        );
        assert_eq!(mem::size_of::<nvmlGpuInstanceProfileInfo_v3_t>(), 152);
        assert_eq!(
            struct_version::<nvmlComputeInstanceProfileInfo_v2_t>(2),
            136 | (2 << 24)
        );
    }

    #[test]
    fn names_lose_the_mig_prefix_and_stop_at_nul() {
        let mut raw = [0 as c_char; 96];
        for (i, b) in b"MIG 1g.10gb+me\0junk".iter().enumerate() {
            raw[i] = *b as c_char;
        }
        assert_eq!(name_of(&raw), "1g.10gb+me");
        assert_eq!(name_of(&[0 as c_char; 4]), "");
    }
}

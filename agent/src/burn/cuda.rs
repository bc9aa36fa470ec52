//! The only code of the duty burn that talks to the NVIDIA driver, through cudarc's driver API
//! loaded at run time (no CUDA toolkit at build or run time).
//!
//! cudarc's safe API covers the context, stream and memory; loading PTX with the JIT log and
//! launching a kernel have no safe form there, so those few raw calls live here, each with the
//! reason it is sound.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaEvent, CudaSlice, CudaStream, DevicePtrMut, DriverError, sys,
};

use super::error::{BurnError, visible_devices};
use super::kernel::{self, Geometry};
use super::runner::DEPTH;

/// What the burn runs on, for its start-up line.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Index among the visible devices.
    pub index: usize,
    /// Device name as the driver reports it (a MIG instance reports its parent's name).
    pub name: String,
    /// Device UUID, hex with dashes.
    pub uuid: String,
    /// Compute capability, major and minor.
    pub compute_capability: (i32, i32),
    /// Streaming multiprocessors the grid is sized for.
    pub sm_count: u32,
    /// Device memory, bytes.
    pub total_mem_bytes: usize,
}

/// A loaded module, unloaded on drop while its context is still alive.
struct Module {
    ctx: Arc<CudaContext>,
    raw: sys::CUmodule,
}

impl Drop for Module {
    fn drop(&mut self) {
        if self.ctx.bind_to_thread().is_ok() {
            // SAFETY: `raw` was returned by cuModuleLoadDataEx in `ctx`, which is current and kept
            // alive by the Arc; it is unloaded exactly once, here. The only function taken from it
            // lives in the same `Gpu` and is never used after the module drops.
            let _ = unsafe { sys::cuModuleUnload(self.raw) };
        }
    }
}

/// One GPU with the burn kernel loaded and its output buffer allocated.
pub struct Gpu {
    // Field order is drop order: the function and module go before the buffer, stream and context.
    func: sys::CUfunction,
    _module: Module,
    out_ptr: sys::CUdeviceptr,
    _out: CudaSlice<f32>,
    /// One completion event per kernel that may be in flight, used round-robin.
    events: Vec<CudaEvent>,
    /// Indices into `events` of the kernels in flight, oldest first.
    in_flight: VecDeque<usize>,
    next_event: usize,
    stream: Arc<CudaStream>,
    ctx: Arc<CudaContext>,
    info: DeviceInfo,
    geometry: Geometry,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("info", &self.info)
            .field("geometry", &self.geometry)
            .finish_non_exhaustive()
    }
}

impl Gpu {
    /// Load the driver, open device `index` (of those `CUDA_VISIBLE_DEVICES` leaves visible) and
    /// JIT-compile the kernel for it.
    pub fn open(index: usize) -> Result<Self, BurnError> {
        // SAFETY: only tries to dlopen libcuda under its usual names; the driver library may be
        // loaded into any process, and nothing from it is called here.
        if !unsafe { sys::is_culib_present() } {
            return Err(BurnError::NoDriver);
        }
        let visible = visible_devices();
        let count = match CudaContext::device_count() {
            Ok(n) => usize::try_from(n).unwrap_or(0),
            Err(DriverError(sys::CUresult::CUDA_ERROR_NO_DEVICE)) => 0,
            Err(source) => return Err(BurnError::Init { visible, source }),
        };
        if count == 0 {
            return Err(BurnError::NoDevice { visible });
        }
        if index >= count {
            return Err(BurnError::DeviceOutOfRange {
                index,
                count,
                visible,
            });
        }
        let call = |call: &'static str| {
            move |source: DriverError| BurnError::Cuda {
                call,
                device: index,
                source,
            }
        };
        let ctx = CudaContext::new(index).map_err(call("cuDevicePrimaryCtxRetain"))?;
        let sm_count = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(call("cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)"))?;
        let info = DeviceInfo {
            index,
            name: ctx.name().map_err(call("cuDeviceGetName"))?,
            uuid: ctx
                .uuid()
                .map(|u| format_uuid(&u.bytes))
                .map_err(call("cuDeviceGetUuid"))?,
            compute_capability: ctx
                .compute_capability()
                .map_err(call("cuDeviceGetAttribute(COMPUTE_CAPABILITY)"))?,
            sm_count: u32::try_from(sm_count).unwrap_or(1),
            total_mem_bytes: ctx.total_mem().map_err(call("cuDeviceTotalMem"))?,
        };
        let module = load_module(&ctx, index)?;
        let func = get_function(&module).map_err(call("cuModuleGetFunction"))?;
        let geometry = Geometry::for_sms(info.sm_count);
        let stream = ctx.default_stream();
        let len = usize::try_from(geometry.threads()).unwrap_or(usize::MAX);
        let mut out = stream.alloc_zeros::<f32>(len).map_err(call("cuMemAlloc"))?;
        let (out_ptr, write_done) = out.device_ptr_mut(&stream);
        drop(write_done);
        let events = (0..DEPTH)
            .map(|_| ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(call("cuEventCreate"))?;
        Ok(Self {
            func,
            _module: module,
            out_ptr,
            _out: out,
            events,
            in_flight: VecDeque::with_capacity(DEPTH),
            next_event: 0,
            stream,
            ctx,
            info,
            geometry,
        })
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The launch geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Queue the kernel for `iters` rounds and return at once. At most [`DEPTH`] kernels may be
    /// in flight: with that many, this first waits for the oldest.
    pub fn launch(&mut self, iters: u32) -> Result<(), BurnError> {
        if self.in_flight.len() >= self.events.len() {
            self.wait_oldest()?;
        }
        let device = self.info.index;
        let err = |call: &'static str| {
            move |source: DriverError| BurnError::Cuda {
                call,
                device,
                source,
            }
        };
        self.ctx.bind_to_thread().map_err(err("cuCtxSetCurrent"))?;
        let mut out = self.out_ptr;
        let mut rounds = iters;
        let mut seed = 1.0f32;
        let mut params: [*mut c_void; 3] = [
            (&raw mut out).cast(),
            (&raw mut rounds).cast(),
            (&raw mut seed).cast(),
        ];
        // SAFETY: `func` comes from the module loaded in `ctx` (current, alive) and its PTX
        // signature is (u64 out, u32 iters, f32 seed); `params` holds pointers to three live locals
        // of exactly those types (the driver copies them before returning); `out` addresses
        // `geometry.threads()` floats (kept alive by `_out` until the stream is drained), one for
        // each thread of the grid launched, the only memory the kernel writes.
        let launched = unsafe {
            sys::cuLaunchKernel(
                self.func,
                self.geometry.blocks,
                1,
                1,
                self.geometry.threads_per_block,
                1,
                1,
                0,
                self.stream.cu_stream(),
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        launched.result().map_err(err("cuLaunchKernel"))?;
        let slot = self.next_event;
        self.next_event = (slot + 1) % self.events.len();
        if let Some(event) = self.events.get(slot) {
            event.record(&self.stream).map_err(err("cuEventRecord"))?;
        }
        self.in_flight.push_back(slot);
        Ok(())
    }

    /// Wait until the oldest kernel in flight has finished (at once if none is).
    pub fn wait_oldest(&mut self) -> Result<(), BurnError> {
        let Some(slot) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let device = self.info.index;
        match self.events.get(slot) {
            Some(event) => event.synchronize().map_err(|source| BurnError::Cuda {
                call: "cuEventSynchronize",
                device,
                source,
            }),
            None => Ok(()),
        }
    }

    /// Wait for every kernel in flight.
    pub fn drain(&mut self) -> Result<(), BurnError> {
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        Ok(())
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // The module and buffer must outlive every kernel that uses them.
        let _ = self.stream.synchronize();
    }
}

/// Load the embedded PTX, keeping the JIT's error and info logs for the message if it fails.
fn load_module(ctx: &Arc<CudaContext>, device: usize) -> Result<Module, BurnError> {
    const LOG_BYTES: usize = 16 * 1024;
    ctx.bind_to_thread().map_err(|source| BurnError::Cuda {
        call: "cuCtxSetCurrent",
        device,
        source,
    })?;
    let mut image = kernel::ptx().into_bytes();
    image.push(0);
    let mut error_log = vec![0u8; LOG_BYTES];
    let mut info_log = vec![0u8; LOG_BYTES];
    let mut options = [
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        sys::CUjit_option::CU_JIT_INFO_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
    ];
    // The driver API passes the buffer sizes by value in the pointer-sized option slots.
    let mut values: [*mut c_void; 4] = [
        error_log.as_mut_ptr().cast(),
        std::ptr::without_provenance_mut(LOG_BYTES),
        info_log.as_mut_ptr().cast(),
        std::ptr::without_provenance_mut(LOG_BYTES),
    ];
    let mut raw: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: `image` is NUL-terminated PTX text that outlives the call; `options` and `values`
    // are arrays of the 4 entries announced, pairing each log buffer with its true length; both
    // buffers live until after the call returns; the context is current (bound above).
    let loaded = unsafe {
        sys::cuModuleLoadDataEx(
            &raw mut raw,
            image.as_ptr().cast(),
            4,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    match loaded.result() {
        Ok(()) => Ok(Module {
            ctx: Arc::clone(ctx),
            raw,
        }),
        Err(source) => Err(BurnError::Jit {
            device,
            source,
            log: jit_log(&error_log, &info_log),
        }),
    }
}

/// The kernel's entry point in a loaded module.
fn get_function(module: &Module) -> Result<sys::CUfunction, DriverError> {
    let mut name = kernel::ENTRY.as_bytes().to_vec();
    name.push(0);
    let mut func: sys::CUfunction = std::ptr::null_mut();
    // SAFETY: `module.raw` is a module loaded in the current context and alive for this call;
    // `name` is a NUL-terminated entry name; `func` is a valid place for the handle.
    unsafe { sys::cuModuleGetFunction(&raw mut func, module.raw, name.as_ptr().cast()) }
        .result()?;
    Ok(func)
}

/// Both JIT logs as text, up to their NUL terminators.
fn jit_log(error: &[u8], info: &[u8]) -> String {
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).trim().to_owned()
    };
    match (text(error), text(info)) {
        (e, i) if e.is_empty() && i.is_empty() => "(the driver left the JIT log empty)".to_owned(),
        (e, i) if i.is_empty() => e,
        (e, i) if e.is_empty() => i,
        (e, i) => format!("{e}\n{i}"),
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the form nvidia-smi prints after `GPU-` or `MIG-`.
fn format_uuid(bytes: &[std::ffi::c_char; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{:02x}", *b as u8));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_formatted_like_nvidia_smi() {
        let bytes: [std::ffi::c_char; 16] =
            std::array::from_fn(|i| (i as u8).wrapping_mul(17) as std::ffi::c_char);
        assert_eq!(format_uuid(&bytes), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn jit_log_keeps_what_the_driver_wrote() {
        let mut err = vec![0u8; 32];
        err[..9].copy_from_slice(b"ptxas bad");
        let info = vec![0u8; 32];
        assert_eq!(jit_log(&err, &info), "ptxas bad");
        assert_eq!(jit_log(&info, &info), "(the driver left the JIT log empty)");
    }
}

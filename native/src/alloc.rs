//! Allocation counters for `remotemedia.metrics`: bytes in use now and their
//! high-water mark since the last reset, for two kinds of memory.
//!
//! - Rust allocations of this module (Vec buffers handed to numpy with
//!   `PyArray1::from_vec`, resampler state, scratch space): a counting
//!   `#[global_allocator]` around `std::alloc::System`.
//! - numpy data buffers (any array allocated while the counting handler is
//!   installed, by Python code or by this module's `PyArray::zeros`): a
//!   numpy memory handler (NEP 49, numpy >= 1.22) that wraps numpy's default
//!   handler. numpy keeps its handler in a context variable, so it is
//!   installed per thread (or asyncio task) by `numpy_memory_install`.
//!
//! Counters are relaxed atomics: a few nanoseconds per allocation. The two
//! kinds never overlap: a numpy buffer is not a Rust allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

use numpy::npyffi::PY_ARRAY_API;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// `System`, counting bytes in use and their high-water mark.
pub struct CountingAllocator;

#[inline]
fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Relaxed) + n;
    // Cheap load first: most allocations do not raise the peak.
    if now > PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
}

#[inline]
fn shrank(n: usize) {
    CURRENT.fetch_sub(n, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only updates counters afterwards.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let old = layout.size();
            if new_size >= old {
                grew(new_size - old);
            } else {
                shrank(old - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// `(current_bytes, peak_bytes)` held by Rust allocations of this module
/// (peak since the last `native_memory_reset_peak`).
#[pyfunction]
fn native_memory_stats() -> (usize, usize) {
    (CURRENT.load(Relaxed), PEAK.load(Relaxed))
}

/// Sets the peak to the current value and returns the peak it replaced, in
/// bytes (read and reset in one step, so no allocation falls between them).
#[pyfunction]
fn native_memory_reset_peak() -> usize {
    PEAK.swap(CURRENT.load(Relaxed), Relaxed)
}

// ------------------------------------------------------------- numpy buffers

static NP_CURRENT: AtomicUsize = AtomicUsize::new(0);
static NP_PEAK: AtomicUsize = AtomicUsize::new(0);

#[inline]
fn np_grew(n: usize) {
    let now = NP_CURRENT.fetch_add(n, Relaxed) + n;
    if now > NP_PEAK.load(Relaxed) {
        NP_PEAK.fetch_max(now, Relaxed);
    }
}

/// numpy's `PyDataMemAllocator` (numpy/ndarraytypes.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct DataMemAllocator {
    ctx: *mut c_void,
    malloc: Option<unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    calloc: Option<unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void>,
    realloc: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void>,
    free: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, usize)>,
}

/// numpy's `PyDataMem_Handler`.
#[repr(C)]
struct DataMemHandler {
    name: [c_char; 127],
    version: u8,
    allocator: DataMemAllocator,
}

/// The allocator that the counting handler forwards to (numpy's default one).
struct Inner(DataMemAllocator);
// SAFETY: numpy's default allocator is a table of plain C functions with a
// null context, usable from any thread.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

static INNER: OnceLock<Inner> = OnceLock::new();
/// Our handler (leaked, lives as long as the process) and its capsule.
static HANDLER: OnceLock<(usize, usize)> = OnceLock::new();

const CAPSULE_NAME: &[u8] = b"mem_handler\0";
const HANDLER_NAME: &[u8] = b"remotemedia_counting_allocator";
const DEFAULT_NAME: &[u8] = b"default_allocator";
/// Every block carries its size in front of it, so realloc and free know
/// what they release; 16 bytes keep numpy's alignment.
const HEADER: usize = 16;

fn inner() -> &'static DataMemAllocator {
    &INNER.get().expect("installed before use").0
}

unsafe fn finish(raw: *mut c_void, size: usize) -> *mut c_void {
    if raw.is_null() {
        return raw;
    }
    unsafe { (raw as *mut usize).write(size) };
    np_grew(size);
    unsafe { (raw as *mut u8).add(HEADER) as *mut c_void }
}

unsafe extern "C" fn np_malloc(_ctx: *mut c_void, size: usize) -> *mut c_void {
    let a = inner();
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    unsafe { finish((a.malloc.unwrap())(a.ctx, total), size) }
}

unsafe extern "C" fn np_calloc(_ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    let a = inner();
    let Some(size) = nelem.checked_mul(elsize) else {
        return std::ptr::null_mut();
    };
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    unsafe { finish((a.calloc.unwrap())(a.ctx, total, 1), size) }
}

unsafe extern "C" fn np_realloc(
    ctx: *mut c_void,
    ptr: *mut c_void,
    new_size: usize,
) -> *mut c_void {
    if ptr.is_null() {
        return unsafe { np_malloc(ctx, new_size) };
    }
    let a = inner();
    let Some(total) = new_size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    let raw = unsafe { (ptr as *mut u8).sub(HEADER) } as *mut c_void;
    let old = unsafe { (raw as *const usize).read() };
    let moved = unsafe { (a.realloc.unwrap())(a.ctx, raw, total) };
    if moved.is_null() {
        return moved; // the old block is still valid and still counted
    }
    NP_CURRENT.fetch_sub(old, Relaxed);
    unsafe { finish(moved, new_size) }
}

unsafe extern "C" fn np_free(_ctx: *mut c_void, ptr: *mut c_void, _size: usize) {
    if ptr.is_null() {
        return;
    }
    let a = inner();
    let raw = unsafe { (ptr as *mut u8).sub(HEADER) } as *mut c_void;
    let old = unsafe { (raw as *const usize).read() };
    unsafe { (a.free.unwrap())(a.ctx, raw, old + HEADER) };
    NP_CURRENT.fetch_sub(old, Relaxed);
}

unsafe fn handler_of(capsule: *mut ffi::PyObject) -> *mut DataMemHandler {
    unsafe {
        ffi::PyCapsule_GetPointer(capsule, CAPSULE_NAME.as_ptr() as *const c_char)
            as *mut DataMemHandler
    }
}

fn name_is(h: &DataMemHandler, name: &[u8]) -> bool {
    h.name.len() > name.len()
        && h.name[..name.len()]
            .iter()
            .zip(name)
            .all(|(&c, &n)| c as u8 == n)
        && h.name[name.len()] == 0
}

/// Makes the counting handler numpy's handler in the current context (this
/// thread, or this asyncio task), when the current one is numpy's default.
/// Returns whether the counting handler is in place. Needs numpy >= 1.22.
#[pyfunction]
fn numpy_memory_install(py: Python<'_>) -> PyResult<bool> {
    // SAFETY: numpy's C API is imported by rust-numpy; feature version 15 is
    // numpy 1.22, the first with memory handlers.
    if unsafe { PY_ARRAY_API.PyArray_GetNDArrayCFeatureVersion(py) } < 15 {
        return Ok(false);
    }
    let current = unsafe { PY_ARRAY_API.PyDataMem_GetHandler(py) };
    if current.is_null() {
        return Err(PyErr::fetch(py));
    }
    let current = unsafe { Bound::from_owned_ptr(py, current) };
    let h = unsafe { handler_of(current.as_ptr()) };
    if h.is_null() {
        return Err(PyErr::fetch(py));
    }
    if let Some(&(ours, _)) = HANDLER.get() {
        if h as usize == ours {
            return Ok(true);
        }
    }
    // SAFETY: a valid capsule of numpy's handler type.
    let h = unsafe { &*h };
    if !name_is(h, DEFAULT_NAME) || h.version != 1 {
        return Ok(false); // someone else's handler: leave it alone
    }
    let _ = INNER.set(Inner(h.allocator));
    let &(_, capsule) = HANDLER.get_or_init(|| {
        let mut name = [0 as c_char; 127];
        for (d, &s) in name.iter_mut().zip(HANDLER_NAME) {
            *d = s as c_char;
        }
        let handler = Box::leak(Box::new(DataMemHandler {
            name,
            version: 1,
            allocator: DataMemAllocator {
                ctx: std::ptr::null_mut(),
                malloc: Some(np_malloc),
                calloc: Some(np_calloc),
                realloc: Some(np_realloc),
                free: Some(np_free),
            },
        }));
        let ptr = handler as *mut DataMemHandler as *mut c_void;
        // SAFETY: the handler lives forever; the capsule reference is never released.
        let capsule =
            unsafe { ffi::PyCapsule_New(ptr, CAPSULE_NAME.as_ptr() as *const c_char, None) };
        (ptr as usize, capsule as usize)
    });
    if capsule == 0 {
        return Err(PyErr::fetch(py));
    }
    let previous = unsafe { PY_ARRAY_API.PyDataMem_SetHandler(py, capsule as *mut ffi::PyObject) };
    if previous.is_null() {
        return Err(PyErr::fetch(py));
    }
    unsafe { ffi::Py_DecRef(previous) };
    Ok(true)
}

/// `(current_bytes, peak_bytes)` of numpy data buffers allocated through the
/// counting handler (peak since the last reset).
#[pyfunction]
fn numpy_memory_stats() -> (usize, usize) {
    (NP_CURRENT.load(Relaxed), NP_PEAK.load(Relaxed))
}

/// Both counters in one call, resetting both peaks to their current values:
/// `(numpy_current, numpy_peak, native_current, native_peak)`, the peaks
/// being those reached since the previous reset.
#[pyfunction]
fn memory_reset_peaks() -> (usize, usize, usize, usize) {
    let np_cur = NP_CURRENT.load(Relaxed);
    let np_peak = NP_PEAK.swap(np_cur, Relaxed).max(np_cur);
    let cur = CURRENT.load(Relaxed);
    let peak = PEAK.swap(cur, Relaxed).max(cur);
    (np_cur, np_peak, cur, peak)
}

/// The peaks of the node calls in flight, for `remotemedia.metrics.memory.CountingTracker`:
/// its per-call bookkeeping in one call per event (the Python version took a lock, a
/// tuple and several slice writes per event, on every node call of every run).
///
/// A call record is a Python list; the four slot indices name its counter levels:
/// numpy at the start and the highest seen, Rust allocations at the start and the
/// highest seen. On every `enter` and `exit` the peaks reached since the last event
/// are read (and reset), and folded into every call in flight, so each call ends with
/// the highest level seen during its own span however many calls overlap it.
/// Every method runs with the GIL held from start to end (no Python code runs in it:
/// the slots hold ints), which serialises the events of all threads.
#[pyclass(module = "remotemedia_runtime")]
pub struct PeakTracker {
    active: Vec<Py<PyList>>,
    py_base: usize,
    py_peak: usize,
    nat_base: usize,
    nat_peak: usize,
}

/// Raises `call[slot]` (an int) to `level` where `level` is higher.
fn raise_slot(call: &Bound<'_, PyList>, slot: usize, level: usize) -> PyResult<()> {
    if level > call.get_item(slot)?.extract::<usize>()? {
        call.set_item(slot, level)?;
    }
    Ok(())
}

impl PeakTracker {
    fn fold(&self, py: Python<'_>, np_peak: usize, nat_peak: usize) -> PyResult<()> {
        for call in &self.active {
            let call = call.bind(py);
            raise_slot(call, self.py_peak, np_peak)?;
            raise_slot(call, self.nat_peak, nat_peak)?;
        }
        Ok(())
    }
}

#[pymethods]
impl PeakTracker {
    #[new]
    fn new(py_base: usize, py_peak: usize, nat_base: usize, nat_peak: usize) -> Self {
        Self {
            active: Vec::new(),
            py_base,
            py_peak,
            nat_base,
            nat_peak,
        }
    }

    /// Records the counters' levels at the start of `call` (its four slots) and adds it to the calls in flight.
    fn enter(&mut self, py: Python<'_>, call: &Bound<'_, PyList>) -> PyResult<()> {
        let (np_cur, np_peak, nat_cur, nat_peak) = memory_reset_peaks();
        self.fold(py, np_peak, nat_peak)?;
        call.set_item(self.py_base, np_cur)?;
        call.set_item(self.py_peak, np_cur)?;
        call.set_item(self.nat_base, nat_cur)?;
        call.set_item(self.nat_peak, nat_cur)?;
        self.active.push(call.clone().unbind());
        Ok(())
    }

    /// Folds the peaks reached since the last event into `call` (and the calls still in flight), and
    /// removes it from the calls in flight; a call that is not in flight is left alone.
    fn exit(&mut self, py: Python<'_>, call: &Bound<'_, PyList>) -> PyResult<()> {
        let Some(index) = self
            .active
            .iter()
            .rposition(|c| c.as_ptr() == call.as_ptr())
        else {
            return Ok(());
        };
        drop(self.active.remove(index));
        let (_, np_peak, _, nat_peak) = memory_reset_peaks();
        raise_slot(call, self.py_peak, np_peak)?;
        raise_slot(call, self.nat_peak, nat_peak)?;
        self.fold(py, np_peak, nat_peak)
    }

    /// The calls in flight.
    fn __len__(&self) -> usize {
        self.active.len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PeakTracker>()?;
    m.add_function(wrap_pyfunction!(native_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(native_memory_reset_peak, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_memory_install, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(memory_reset_peaks, m)?)?;
    Ok(())
}

//! FMI 2.0 Co-Simulation through the FMU's shared library (the standard's C API).

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::path::Path;

use libloading::{Library, Symbol};

use super::{CoSimulation, Status};

type Component = *mut c_void;

#[repr(C)]
struct CallbackFunctions {
    /// Declared variadic by the standard; the message arrives as its format
    /// string (arguments are not expanded), which is enough for a log line.
    logger: extern "C" fn(*mut c_void, *const c_char, c_int, *const c_char, *const c_char),
    allocate_memory: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    free_memory: unsafe extern "C" fn(*mut c_void),
    step_finished: Option<extern "C" fn(*mut c_void, c_int)>,
    component_environment: *mut c_void,
}

extern "C" {
    fn calloc(n: usize, size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

extern "C" fn logger(
    _env: *mut c_void,
    _name: *const c_char,
    status: c_int,
    category: *const c_char,
    message: *const c_char,
) {
    super::log_line(status, category, message);
}

type Instantiate = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *const c_char,
    *const c_char,
    *const CallbackFunctions,
    c_int,
    c_int,
) -> Component;
type Setup = unsafe extern "C" fn(Component, c_int, f64, f64, c_int, f64) -> c_int;
type Plain = unsafe extern "C" fn(Component) -> c_int;
type Free = unsafe extern "C" fn(Component);
type Reals = unsafe extern "C" fn(Component, *const c_uint, usize, *mut f64) -> c_int;
type SetReals = unsafe extern "C" fn(Component, *const c_uint, usize, *const f64) -> c_int;
type DoStep = unsafe extern "C" fn(Component, f64, f64, c_int) -> c_int;

pub struct Fmi2 {
    // Kept alive for as long as the instance; never unloaded before `free_instance`.
    lib: Library,
    component: Component,
    _callbacks: Box<CallbackFunctions>,
}

impl Fmi2 {
    /// Loads the library and instantiates it as Co-Simulation.
    pub fn instantiate(library: &Path, guid: &str, resources: &Path) -> Result<Self, String> {
        let lib = super::load_library(library)?;
        let callbacks = Box::new(CallbackFunctions {
            logger,
            allocate_memory: calloc,
            free_memory: free,
            step_finished: None,
            component_environment: std::ptr::null_mut(),
        });
        let name = CString::new("validibot").unwrap();
        let guid = CString::new(guid).map_err(|_| "guid contains NUL")?;
        let uri = CString::new(format!("file://{}", resources.display()))
            .map_err(|_| "path contains NUL")?;
        let component = unsafe {
            let f: Symbol<Instantiate> = super::symbol(&lib, b"fmi2Instantiate\0")?;
            f(
                name.as_ptr(),
                1,
                guid.as_ptr(),
                uri.as_ptr(),
                &*callbacks,
                0,
                0,
            )
        };
        if component.is_null() {
            return Err("fmi2Instantiate returned no instance".into());
        }
        Ok(Fmi2 {
            lib,
            component,
            _callbacks: callbacks,
        })
    }

    fn symbol<T>(&self, name: &[u8]) -> Result<Symbol<'_, T>, String> {
        super::symbol(&self.lib, name)
    }

    fn plain(&self, name: &[u8]) -> Result<Status, String> {
        let f: Symbol<Plain> = self.symbol(name)?;
        Ok(super::status(unsafe { f(self.component) }))
    }
}

impl CoSimulation for Fmi2 {
    fn initialize(
        &mut self,
        start: f64,
        stop: f64,
        tolerance: Option<f64>,
    ) -> Result<Status, String> {
        let setup: Symbol<Setup> = self.symbol(b"fmi2SetupExperiment\0")?;
        let s = super::status(unsafe {
            setup(
                self.component,
                tolerance.is_some() as c_int,
                tolerance.unwrap_or(0.0),
                start,
                1,
                stop,
            )
        });
        if s.failed() {
            return Ok(s);
        }
        self.plain(b"fmi2EnterInitializationMode\0")
    }
    fn exit_initialization(&mut self) -> Result<Status, String> {
        self.plain(b"fmi2ExitInitializationMode\0")
    }
    fn set_float(&mut self, vr: u32, value: f64) -> Result<Status, String> {
        let f: Symbol<SetReals> = self.symbol(b"fmi2SetReal\0")?;
        Ok(super::status(unsafe { f(self.component, &vr, 1, &value) }))
    }
    fn get_floats(&mut self, vrs: &[u32], out: &mut [f64]) -> Result<Status, String> {
        let f: Symbol<Reals> = self.symbol(b"fmi2GetReal\0")?;
        Ok(super::status(unsafe {
            f(self.component, vrs.as_ptr(), vrs.len(), out.as_mut_ptr())
        }))
    }
    fn do_step(&mut self, t: f64, h: f64) -> Result<Status, String> {
        let f: Symbol<DoStep> = self.symbol(b"fmi2DoStep\0")?;
        Ok(super::status(unsafe { f(self.component, t, h, 1) }))
    }
    fn terminate(&mut self) -> Result<Status, String> {
        self.plain(b"fmi2Terminate\0")
    }
}

impl Drop for Fmi2 {
    fn drop(&mut self) {
        if let Ok(f) = self.symbol::<Free>(b"fmi2FreeInstance\0") {
            unsafe { f(self.component) };
        }
    }
}

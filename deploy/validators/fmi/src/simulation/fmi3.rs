//! FMI 3.0 Co-Simulation through the FMU's shared library (the standard's C API).

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

use libloading::{Library, Symbol};

use super::{CoSimulation, Status};

type Instance = *mut c_void;
type LogMessage = extern "C" fn(*mut c_void, c_int, *const c_char, *const c_char);

extern "C" fn log_message(
    _env: *mut c_void,
    status: c_int,
    category: *const c_char,
    message: *const c_char,
) {
    super::log_line(status, category, message);
}

type Instantiate = unsafe extern "C" fn(
    *const c_char, // instanceName
    *const c_char, // instantiationToken
    *const c_char, // resourcePath
    bool,          // visible
    bool,          // loggingOn
    bool,          // eventModeUsed
    bool,          // earlyReturnAllowed
    *const u32,    // requiredIntermediateVariables
    usize,
    *mut c_void, // instanceEnvironment
    Option<LogMessage>,
    *const c_void, // intermediateUpdate (none)
) -> Instance;
type EnterInit = unsafe extern "C" fn(Instance, bool, f64, f64, bool, f64) -> c_int;
type Plain = unsafe extern "C" fn(Instance) -> c_int;
type Free = unsafe extern "C" fn(Instance);
type GetF64 = unsafe extern "C" fn(Instance, *const u32, usize, *mut f64, usize) -> c_int;
type SetF64 = unsafe extern "C" fn(Instance, *const u32, usize, *const f64, usize) -> c_int;
type DoStep = unsafe extern "C" fn(
    Instance,
    f64,
    f64,
    bool,
    *mut bool,
    *mut bool,
    *mut bool,
    *mut f64,
) -> c_int;

pub struct Fmi3 {
    lib: Library,
    instance: Instance,
}

impl Fmi3 {
    pub fn instantiate(library: &Path, token: &str, resources: &Path) -> Result<Self, String> {
        let lib = super::load_library(library)?;
        let name = CString::new("validibot").unwrap();
        let token = CString::new(token).map_err(|_| "instantiationToken contains NUL")?;
        // 3.0 passes a directory path ending in a separator, not a URI.
        let path =
            CString::new(format!("{}/", resources.display())).map_err(|_| "path contains NUL")?;
        let instance = unsafe {
            let f: Symbol<Instantiate> = super::symbol(&lib, b"fmi3InstantiateCoSimulation\0")?;
            f(
                name.as_ptr(),
                token.as_ptr(),
                path.as_ptr(),
                false,
                false,
                false,
                false,
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
                Some(log_message),
                std::ptr::null(),
            )
        };
        if instance.is_null() {
            return Err("fmi3InstantiateCoSimulation returned no instance".into());
        }
        Ok(Fmi3 { lib, instance })
    }

    fn symbol<T>(&self, name: &[u8]) -> Result<Symbol<'_, T>, String> {
        super::symbol(&self.lib, name)
    }
}

impl CoSimulation for Fmi3 {
    fn initialize(
        &mut self,
        start: f64,
        stop: f64,
        tolerance: Option<f64>,
    ) -> Result<Status, String> {
        let f: Symbol<EnterInit> = self.symbol(b"fmi3EnterInitializationMode\0")?;
        Ok(super::status(unsafe {
            f(
                self.instance,
                tolerance.is_some(),
                tolerance.unwrap_or(0.0),
                start,
                true,
                stop,
            )
        }))
    }
    fn exit_initialization(&mut self) -> Result<Status, String> {
        let f: Symbol<Plain> = self.symbol(b"fmi3ExitInitializationMode\0")?;
        Ok(super::status(unsafe { f(self.instance) }))
    }
    fn set_float(&mut self, vr: u32, value: f64) -> Result<Status, String> {
        let f: Symbol<SetF64> = self.symbol(b"fmi3SetFloat64\0")?;
        Ok(super::status(unsafe {
            f(self.instance, &vr, 1, &value, 1)
        }))
    }
    fn get_floats(&mut self, vrs: &[u32], out: &mut [f64]) -> Result<Status, String> {
        let f: Symbol<GetF64> = self.symbol(b"fmi3GetFloat64\0")?;
        Ok(super::status(unsafe {
            f(
                self.instance,
                vrs.as_ptr(),
                vrs.len(),
                out.as_mut_ptr(),
                out.len(),
            )
        }))
    }
    fn do_step(&mut self, t: f64, h: f64) -> Result<Status, String> {
        let f: Symbol<DoStep> = self.symbol(b"fmi3DoStep\0")?;
        let (mut event, mut terminate, mut early, mut last) = (false, false, false, t);
        let s = super::status(unsafe {
            f(
                self.instance,
                t,
                h,
                true,
                &mut event,
                &mut terminate,
                &mut early,
                &mut last,
            )
        });
        Ok(if terminate && !s.failed() {
            Status::Terminated(last)
        } else {
            s
        })
    }
    fn terminate(&mut self) -> Result<Status, String> {
        let f: Symbol<Plain> = self.symbol(b"fmi3Terminate\0")?;
        Ok(super::status(unsafe { f(self.instance) }))
    }
}

impl Drop for Fmi3 {
    fn drop(&mut self) {
        if let Ok(f) = self.symbol::<Free>(b"fmi3FreeInstance\0") {
            unsafe { f(self.instance) };
        }
    }
}

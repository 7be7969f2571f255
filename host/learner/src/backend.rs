//! Choosing the compute device, in one place: `cpu` is burn's flex backend; `wgpu` a GPU
//! through wgpu (Vulkan/Metal/DX12, or Mesa's software Vulkan adapter where there is no
//! GPU); `auto` takes wgpu only when a hardware adapter exists, else the CPU.

use std::fmt;

use burn::tensor::Device;

/// The `--backend` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// wgpu on a hardware adapter if one exists, else the CPU backend.
    #[default]
    Auto,
    /// burn's flex CPU backend.
    Cpu,
    /// wgpu on the default adapter (a software one is accepted).
    Wgpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "cpu" => Ok(BackendChoice::Cpu),
            "wgpu" => Ok(BackendChoice::Wgpu),
            other => Err(format!(
                "unknown backend `{other}` (valid: auto, cpu, wgpu)"
            )),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Wgpu => "wgpu",
        })
    }
}

/// The device chosen and how to describe it.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The (non-autodiff) device.
    pub device: Device,
    /// `cpu` or `wgpu`.
    pub backend: &'static str,
    /// Human-readable description (adapter name, type, API).
    pub description: String,
    /// Whether this is a hardware GPU.
    pub hardware_gpu: bool,
}

/// Why a backend could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// wgpu was asked for but no adapter could be opened.
    #[error(
        "no wgpu adapter could be opened ({0}); install a GPU driver, or Mesa's software Vulkan driver (Debian: mesa-vulkan-drivers), or use --backend cpu"
    )]
    NoAdapter(String),
    /// This build has no wgpu support.
    #[error("this steprl was built without the `wgpu` feature; use --backend cpu")]
    NotBuilt,
}

fn cpu() -> Selected {
    Selected {
        device: Device::flex(),
        backend: "cpu",
        description: "CPU (burn flex backend)".into(),
        hardware_gpu: false,
    }
}

/// Open the device for `choice`.
pub fn select(choice: BackendChoice) -> Result<Selected, BackendError> {
    match choice {
        BackendChoice::Cpu => Ok(cpu()),
        BackendChoice::Wgpu => open_wgpu(),
        BackendChoice::Auto => match open_wgpu() {
            Ok(s) if s.hardware_gpu => Ok(s),
            Ok(s) => {
                let mut c = cpu();
                c.description = format!(
                    "{} — chosen because the only wgpu adapter is a software one ({})",
                    c.description, s.description
                );
                Ok(c)
            }
            Err(e) => {
                let mut c = cpu();
                c.description = format!("{} — no GPU adapter ({e})", c.description);
                Ok(c)
            }
        },
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Selected, BackendError> {
    use burn::tensor::DeviceKind;
    use burn::tensor::wgpu::wgpu;
    match Device::wgpu_options()
        .device_kind(DeviceKind::DefaultDevice)
        .init_with_setup()
    {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let hardware_gpu = info.device_type != wgpu::DeviceType::Cpu;
            Ok(Selected {
                device,
                backend: "wgpu",
                description: format!(
                    "wgpu adapter `{}` ({:?}, {:?}{})",
                    info.name,
                    info.device_type,
                    info.backend,
                    if hardware_gpu { "" } else { ", software" }
                ),
                hardware_gpu,
            })
        }
        Err(e) => Err(BackendError::NoAdapter(format!("{e:?}"))),
    }
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Selected, BackendError> {
    Err(BackendError::NotBuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_unknown_names_list_the_valid_ones() {
        assert_eq!("cpu".parse::<BackendChoice>(), Ok(BackendChoice::Cpu));
        assert_eq!("auto".parse::<BackendChoice>(), Ok(BackendChoice::Auto));
        let e = "cuda".parse::<BackendChoice>().unwrap_err();
        assert!(e.contains("auto, cpu, wgpu"), "{e}");
    }

    #[test]
    fn cpu_is_always_available_and_says_so() {
        let s = select(BackendChoice::Cpu).unwrap();
        assert_eq!(s.backend, "cpu");
        assert!(s.description.contains("flex"));
        assert!(!s.hardware_gpu);
    }
}

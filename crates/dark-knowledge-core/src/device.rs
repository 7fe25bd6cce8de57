//! Turning a device name (`cpu`, `wgpu`, …) into a burn [`Device`]: the one place binaries,
//! examples and tests choose where tensors live. Library code never picks a device.

use burn::tensor::Device;

use crate::error::{Error, Result};

/// Device names accepted by [`device_from_name`] in this build.
pub fn device_names() -> Vec<&'static str> {
    [
        ("cpu", cfg!(any(feature = "flex", feature = "ndarray"))),
        ("flex", cfg!(feature = "flex")),
        ("ndarray", cfg!(feature = "ndarray")),
        ("wgpu", cfg!(feature = "wgpu")),
        ("wgpu:N", cfg!(feature = "wgpu")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// The burn device for `name`, without autodiff (the trainer adds it where needed).
///
/// - `cpu`: the default CPU backend of this build (`flex` when compiled in, else `ndarray`);
/// - `flex`, `ndarray`: that CPU backend (Cargo features `flex`, `ndarray`);
/// - `wgpu`: the default wgpu adapter (Vulkan, Metal, DX12; Mesa's software Vulkan without
///   a GPU), Cargo feature `wgpu`;
/// - `wgpu:N`: the wgpu adapter of the `N`-th discrete GPU (0-based), Cargo feature `wgpu`.
///
/// Names are case-insensitive.
///
/// # Errors
/// [`Error::UnknownDevice`] for another name or a backend not compiled into this build,
/// listing the names this build accepts.
pub fn device_from_name(name: &str) -> Result<Device> {
    let lower = name.trim().to_ascii_lowercase();
    #[cfg(feature = "wgpu")]
    if let Some(index) = lower
        .strip_prefix("wgpu:")
        .and_then(|n| n.parse::<usize>().ok())
    {
        return Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index)));
    }
    match lower.as_str() {
        #[cfg(feature = "flex")]
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(all(feature = "ndarray", not(feature = "flex")))]
        "cpu" => Ok(ndarray_device()),
        #[cfg(feature = "ndarray")]
        "ndarray" => Ok(ndarray_device()),
        #[cfg(feature = "wgpu")]
        "wgpu" | "gpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        _ => Err(Error::UnknownDevice {
            name: name.to_string(),
            allowed: format!(
                "this build accepts {} (other backends need their Cargo feature: flex, ndarray, wgpu)",
                device_names().join(", ")
            ),
        }),
    }
}

/// Several devices from a comma-separated list of [`device_from_name`] names, e.g.
/// `wgpu:0,wgpu:1` for data-parallel training on two GPUs, or `cpu,cpu` for two workers on
/// the one CPU device.
///
/// # Errors
/// [`Error::UnknownDevice`] for a name [`device_from_name`] refuses, or an empty list.
pub fn devices_from_names(list: &str) -> Result<Vec<Device>> {
    let devices = list
        .split(',')
        .filter(|n| !n.trim().is_empty())
        .map(device_from_name)
        .collect::<Result<Vec<_>>>()?;
    if devices.is_empty() {
        return Err(Error::UnknownDevice {
            name: list.to_string(),
            allowed: format!(
                "one or more of {}, separated by commas",
                device_names().join(", ")
            ),
        });
    }
    Ok(devices)
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // burn 0.22 deprecates ndarray; it stays available as a feature.
fn ndarray_device() -> Device {
    Device::ndarray()
}

/// Why the wgpu backend cannot run on this machine, or `None` when it can.
///
/// Checks that the backend is compiled in and, on Linux, that a Vulkan loader and an
/// installable client driver exist (`apt-get install mesa-vulkan-drivers` gives the software
/// one), then runs one small computation. GPU tests call this and skip with its reason.
pub fn wgpu_unavailable_reason() -> Option<String> {
    #[cfg(not(feature = "wgpu"))]
    {
        Some("the `wgpu` Cargo feature is not enabled in this build".to_string())
    }
    #[cfg(feature = "wgpu")]
    {
        #[cfg(target_os = "linux")]
        if let Some(reason) = linux_vulkan_missing() {
            return Some(reason);
        }
        let probe = std::panic::catch_unwind(|| {
            let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
            let t = burn::tensor::Tensor::<1>::from_floats([1.0f32, 2.0, 3.0], &device);
            t.sum().into_scalar::<f32>()
        });
        match probe {
            Ok(v) if (v - 6.0).abs() < 1e-6 => None,
            Ok(v) => Some(format!("the wgpu device computed 1+2+3 = {v}")),
            Err(_) => Some("initialising the wgpu device failed (no usable adapter)".to_string()),
        }
    }
}

#[cfg(all(feature = "wgpu", target_os = "linux"))]
fn linux_vulkan_missing() -> Option<String> {
    use std::path::Path;
    let lib_dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    let has_loader = lib_dirs
        .iter()
        .any(|d| Path::new(d).join("libvulkan.so.1").exists());
    if !has_loader {
        return Some(
            "no Vulkan loader (libvulkan.so.1) found; install `libvulkan1 mesa-vulkan-drivers`"
                .to_string(),
        );
    }
    let icd_dirs = [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ];
    let has_icd = std::env::var_os("VK_ICD_FILENAMES").is_some()
        || std::env::var_os("VK_DRIVER_FILES").is_some()
        || icd_dirs.iter().any(|d| {
            std::fs::read_dir(d)
                .map(|mut it| it.any(|e| e.is_ok()))
                .unwrap_or(false)
        });
    if !has_icd {
        return Some(
            "no Vulkan driver (ICD) found; install `mesa-vulkan-drivers` for a software one"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_device_names_list_the_accepted_ones() {
        let err = device_from_name("tpu").unwrap_err().to_string();
        assert!(err.contains("tpu"), "{err}");
        for name in device_names() {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn device_lists_split_on_commas_and_refuse_bad_or_empty_lists() {
        assert!(devices_from_names(" , ").is_err());
        let err = devices_from_names("cpu,tpu").unwrap_err().to_string();
        assert!(err.contains("tpu"), "{err}");
        #[cfg(not(feature = "wgpu"))]
        assert!(
            devices_from_names("wgpu:1").is_err(),
            "wgpu is not in this build"
        );
        #[cfg(feature = "flex")]
        assert_eq!(
            devices_from_names("cpu, flex").unwrap(),
            [Device::flex(), Device::flex()]
        );
    }

    #[cfg(feature = "flex")]
    #[test]
    fn cpu_is_a_working_device() {
        let device = device_from_name(" CPU ").unwrap();
        let t = burn::tensor::Tensor::<1>::from_floats([1.0f32, 2.0], &device);
        assert_eq!(t.sum().into_scalar::<f32>(), 3.0);
        assert!(!device.is_autodiff());
    }
}

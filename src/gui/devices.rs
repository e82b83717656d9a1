//! What the settings and the status bar show about the terminal's devices and link, refreshed
//! off the UI thread: a poller thread (`gui-poll`) lists the PC/SC readers with their card
//! state and the cameras every second, and asks the engine for its link status
//! ([`Command::Status`]) every [`STATUS_EVERY`], so an idle terminal's status bar stays
//! current. It sends only what changed to the UI thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::{Command, ServiceHandle};
use crate::reader::PcscReader;

/// A PC/SC reader and whether a card is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reader {
    pub(crate) name: String,
    pub(crate) card_present: bool,
}

/// A video device that may serve as the QR camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Camera {
    /// `/dev/video0`.
    pub(crate) path: String,
    /// The driver's name for it.
    pub(crate) name: String,
}

/// The devices seen by one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Devices {
    /// The readers, or why PC/SC could not list them.
    pub(crate) readers: Result<Vec<Reader>, String>,
    pub(crate) cameras: Vec<Camera>,
}

impl Devices {
    /// Polls the PC/SC service and `/sys/class/video4linux`.
    pub(crate) fn poll() -> Self {
        let readers = PcscReader::list()
            .map(|list| {
                list.into_iter()
                    .map(|r| Reader {
                        name: r.name,
                        card_present: r.card_present,
                    })
                    .collect()
            })
            .map_err(|e| e.to_string());
        Self {
            readers,
            cameras: cameras_in(Path::new(VIDEO4LINUX)),
        }
    }
}

/// The video capture devices listed under `sys` (`/sys/class/video4linux`), by device path,
/// sorted; none when the directory is missing.
pub(crate) fn cameras_in(sys: &Path) -> Vec<Camera> {
    let Ok(entries) = std::fs::read_dir(sys) else {
        return Vec::new();
    };
    let mut cameras: Vec<Camera> = entries
        .flatten()
        .filter_map(|e| {
            let device = e.file_name().to_string_lossy().into_owned();
            if !device.starts_with("video") {
                return None;
            }
            let name = std::fs::read_to_string(e.path().join("name"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_else(|_| device.clone());
            Some(Camera {
                path: format!("/dev/{device}"),
                name,
            })
        })
        .collect();
    cameras.sort_by(|a, b| a.path.cmp(&b.path));
    cameras
}

/// The poller thread; stops when told or when the window is gone.
pub(crate) struct Poller {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Poller {
    /// Starts polling: `show` gets the devices whenever they change (on the poller's thread:
    /// it must hand them to the UI thread) and answers `false` once the window is gone.
    pub(crate) fn spawn(
        handle: ServiceHandle,
        mut show: impl FnMut(Devices) -> bool + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("gui-poll".into())
            .spawn(move || {
                let mut last: Option<Devices> = None;
                let mut status_at = Instant::now() + STATUS_EVERY;
                while !stopped.load(Ordering::Relaxed) {
                    let devices = Devices::poll();
                    if last.as_ref() != Some(&devices) {
                        last = Some(devices.clone());
                        if !show(devices) {
                            return;
                        }
                    }
                    if Instant::now() >= status_at {
                        status_at = Instant::now() + STATUS_EVERY;
                        if handle.send(Command::Status).is_err() {
                            return;
                        }
                    }
                    let until = Instant::now() + POLL_EVERY;
                    while Instant::now() < until && !stopped.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("the GUI's device poller panicked");
        }
    }
}

const VIDEO4LINUX: &str = "/sys/class/video4linux";
/// How often the readers and cameras are listed.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often the status bar asks the engine for the link status while idle.
pub(crate) const STATUS_EVERY: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_are_the_video_devices_by_path_and_none_without_the_directory() {
        let dir = tempfile::tempdir().expect("temporary directory");
        assert!(cameras_in(&dir.path().join("missing")).is_empty());
        for (device, name) in [("video2", Some("USB Camera\n")), ("video0", None)] {
            let d = dir.path().join(device);
            std::fs::create_dir(&d).expect("created");
            if let Some(name) = name {
                std::fs::write(d.join("name"), name).expect("written");
            }
        }
        std::fs::create_dir(dir.path().join("v4l-subdev0")).expect("created");
        let cameras = cameras_in(dir.path());
        assert_eq!(
            cameras,
            [
                Camera {
                    path: "/dev/video0".into(),
                    name: "video0".into()
                },
                Camera {
                    path: "/dev/video2".into(),
                    name: "USB Camera".into()
                },
            ]
        );
    }
}

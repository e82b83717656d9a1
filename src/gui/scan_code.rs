//! The scan screen's controller: the customer's code read by the camera (or from an image file
//! or a folder of frames), then sent to the engine as the sale's payment
//! (`docs/qr-customer-code.md`).
//!
//! Each scan runs on a thread of its own: it opens the source, runs the [`Scanner`] (source and
//! decoder threads, the acceptance check of [`crate::qr::acceptance`]), and reports what
//! happens to the UI thread, where a report of a scan the screen has left is dropped (the
//! adapter's `scan` number). The camera's preview is a grey picture of at most
//! [`PREVIEW_WIDTH`] pixels, taken on the source thread at most every [`PREVIEW_INTERVAL`].
//! A single image is one still frame: it is decoded once, and a code that passes its format's
//! check is taken (the two-frame agreement is for a camera's moving picture).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer, SharedString};

use super::{AppAdapter, MainWindow, ResultAdapter, ScanCodeAdapter, ScanState, Screen};
use crate::camera::{Frame, FrameSource, SourceError};
use crate::engine::{Command, ServiceHandle};
use crate::qr::scanner::{ScanEvent, Scanner, Verdict};
use crate::qr::{GreyImage, Pipeline, acceptance};

/// The widest preview picture, in pixels.
pub(crate) const PREVIEW_WIDTH: usize = 320;
/// The shortest time between two preview pictures.
pub(crate) const PREVIEW_INTERVAL: Duration = Duration::from_millis(66);
/// The pace of a folder's frames, like a camera's.
const FOLDER_FRAME_INTERVAL: Duration = Duration::from_millis(66);
/// How often a scan's thread looks for a stop.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Where a scan reads its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The camera with this index (`/dev/videoN`).
    Camera(u32),
    /// An image file, or a folder of frames.
    Path(PathBuf),
}

/// A scan's thread and its stop flag.
struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The screen's state: the sale's amount, and the scan in progress.
pub(crate) struct ScanController {
    window: slint::Weak<MainWindow>,
    handle: ServiceHandle,
    /// The settings, for the camera chosen there (none yet: the first camera).
    preferences: RefCell<Option<super::settings::Shared>>,
    amount: Cell<u64>,
    running: RefCell<Option<Running>>,
    /// The last scan's thread, stopped but maybe not ended: the next scan waits for it, so
    /// that the camera is free.
    stopping: RefCell<Option<JoinHandle<()>>>,
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) -> Rc<ScanController> {
    let controller = Rc::new(ScanController {
        window: window.as_weak(),
        handle,
        preferences: RefCell::new(None),
        amount: Cell::new(0),
        running: RefCell::new(None),
        stopping: RefCell::new(None),
    });
    let adapter = window.global::<ScanCodeAdapter>();
    let c = Rc::clone(&controller);
    adapter.on_scan_image(move |path| {
        let path = path.trim();
        if !path.is_empty() {
            c.start(Source::Path(PathBuf::from(path)));
        }
    });
    let c = Rc::clone(&controller);
    adapter.on_retry_camera(move || c.start(Source::Camera(c.camera_index())));
    let c = Rc::clone(&controller);
    adapter.on_back(move || {
        c.stop();
        if let Some(w) = c.window.upgrade() {
            w.global::<AppAdapter>().set_screen(Screen::Sale);
        }
    });
    let c = Rc::clone(&controller);
    adapter.on_accepted(move |scan, text| c.accepted(scan, &text));
    controller
}

impl ScanController {
    /// Opens the screen for a sale of `amount` (`total` formatted) and starts the camera.
    pub(crate) fn open(&self, total: &str, amount: u64) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        self.amount.set(amount);
        window
            .global::<ScanCodeAdapter>()
            .set_amount_text(total.into());
        window
            .global::<ResultAdapter>()
            .set_amount_text(total.into());
        window.global::<AppAdapter>().set_screen(Screen::ScanCode);
        self.start(Source::Camera(self.camera_index()));
    }

    /// Scans with the camera chosen in `preferences` from now on.
    pub(super) fn follow(&self, preferences: super::settings::Shared) {
        *self.preferences.borrow_mut() = Some(preferences);
    }

    /// The camera of the settings (`/dev/videoN`), else the first.
    fn camera_index(&self) -> u32 {
        self.preferences
            .borrow()
            .as_ref()
            .and_then(|p| p.borrow().camera.as_deref().and_then(camera_index))
            .unwrap_or(0)
    }

    /// Stops the scan in progress, if any, and starts one on `source`.
    fn start(&self, source: Source) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        self.stop();
        let adapter = window.global::<ScanCodeAdapter>();
        let scan = adapter.get_scan().wrapping_add(1);
        adapter.set_scan(scan);
        adapter.set_has_preview(false);
        adapter.set_state(match source {
            Source::Camera(_) => ScanState::Starting,
            Source::Path(_) => ScanState::Reading,
        });
        adapter.set_detail(SharedString::new());
        let stop = Arc::new(AtomicBool::new(false));
        let report = Report {
            window: self.window.clone(),
            scan,
        };
        let previous = self.stopping.borrow_mut().take();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("scan-code".into())
            .spawn(move || {
                if let Some(previous) = previous {
                    // A scan thread that panicked has nothing left to release.
                    let _ = previous.join();
                }
                run(&source, &report, &flag);
            });
        match thread {
            Ok(thread) => *self.running.borrow_mut() = Some(Running { stop, thread }),
            Err(e) => {
                adapter.set_state(ScanState::CameraLost);
                adapter.set_detail(e.to_string().into());
            }
        }
    }

    /// Stops the scan in progress (its thread ends on its own, after its current frame).
    fn stop(&self) {
        if let Some(running) = self.running.borrow_mut().take() {
            running.stop.store(true, Ordering::SeqCst);
            *self.stopping.borrow_mut() = Some(running.thread);
        }
        if let Some(w) = self.window.upgrade() {
            let adapter = w.global::<ScanCodeAdapter>();
            adapter.set_scan(adapter.get_scan().wrapping_add(1));
        }
    }

    /// Scan `scan` accepted `text`: pays the sale with it, if the screen still shows that scan.
    fn accepted(&self, scan: i32, text: &str) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        if window.global::<ScanCodeAdapter>().get_scan() != scan
            || window.global::<AppAdapter>().get_screen() != Screen::ScanCode
        {
            return;
        }
        self.stop();
        let command = Command::CustomerCode {
            text: text.to_owned(),
            amount: self.amount.get(),
        };
        if super::send(&self.handle, command) {
            super::result::working(&window, "Processing");
            window.global::<AppAdapter>().set_screen(Screen::Result);
        } else {
            super::sale::engine_stopped(&window);
        }
    }
}

/// `N` of `/dev/videoN`.
fn camera_index(path: &str) -> Option<u32> {
    path.strip_prefix("/dev/video")?.parse().ok()
}

/// What a scan's thread tells the screen (through the UI thread's event loop).
#[derive(Clone)]
struct Report {
    window: slint::Weak<MainWindow>,
    scan: i32,
}

impl Report {
    /// Runs `f` on the UI thread if the screen still shows this scan; `false` once the window
    /// is gone.
    fn post(&self, f: impl FnOnce(&ScanCodeAdapter<'_>) + Send + 'static) -> bool {
        let scan = self.scan;
        self.window
            .upgrade_in_event_loop(move |w| {
                let adapter = w.global::<ScanCodeAdapter>();
                if adapter.get_scan() == scan {
                    f(&adapter);
                }
            })
            .is_ok()
    }

    fn state(&self, state: ScanState, detail: String) -> bool {
        self.post(move |a| {
            a.set_state(state);
            a.set_detail(detail.into());
        })
    }

    fn preview(&self, image: &GreyImage) -> bool {
        let buffer = preview_picture(image);
        self.post(move |a| {
            a.set_preview(Image::from_rgb8(buffer));
            a.set_has_preview(true);
        })
    }

    fn accepted(&self, payload: &[u8]) -> bool {
        let text = String::from_utf8_lossy(payload).into_owned();
        let scan = self.scan;
        self.window
            .upgrade_in_event_loop(move |w| {
                w.global::<ScanCodeAdapter>()
                    .invoke_accepted(scan, text.into());
            })
            .is_ok()
    }
}

/// A scan's thread: reads `source` until a code is accepted, the source ends, or `stop`.
fn run(source: &Source, report: &Report, stop: &AtomicBool) {
    let frames: Box<dyn FrameSource> = match source {
        Source::Camera(index) => match crate::camera::open_camera(*index) {
            Ok(camera) => camera,
            Err(SourceError::NoCamera) => {
                report.state(ScanState::NoCamera, String::new());
                return;
            }
            Err(SourceError::Lost(reason)) => {
                report.state(ScanState::CameraLost, reason);
                return;
            }
        },
        Source::Path(path) if path.is_dir() => {
            match crate::camera::FolderSource::from_folder(path) {
                Ok(folder) => Box::new(folder.paced(FOLDER_FRAME_INTERVAL)),
                Err(e) => {
                    report.state(ScanState::ImageUnreadable, e.to_string());
                    return;
                }
            }
        }
        Source::Path(path) => {
            scan_still(path, report);
            return;
        }
    };
    if stop.load(Ordering::SeqCst) {
        return;
    }
    let from_camera = matches!(source, Source::Camera(_));
    if from_camera {
        report.state(ScanState::Scanning, String::new());
    }
    let previewed = Previewed {
        inner: frames,
        report: report.clone(),
        last: None,
    };
    let scanner = match Scanner::start(
        Box::new(previewed),
        Box::new(Pipeline::default()),
        Box::new(acceptance::customer_code),
    ) {
        Ok(scanner) => scanner,
        Err(e) => {
            report.state(ScanState::CameraLost, e.to_string());
            return;
        }
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            scanner.stop();
            return;
        }
        let event = match scanner.events().recv_timeout(STOP_POLL) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let shown = match event {
            ScanEvent::Accepted { payload, .. } => {
                report.accepted(&payload);
                return;
            }
            ScanEvent::Rejected { .. } => report.state(ScanState::NotAPaymentCode, String::new()),
            ScanEvent::NoCamera => report.state(ScanState::NoCamera, String::new()),
            ScanEvent::SourceLost(reason) if from_camera => {
                report.state(ScanState::CameraLost, reason)
            }
            ScanEvent::SourceLost(reason) => report.state(ScanState::ImageUnreadable, reason),
            ScanEvent::SourceEnded if from_camera => {
                report.state(ScanState::CameraLost, "no more frames".to_owned())
            }
            ScanEvent::SourceEnded => report.state(ScanState::NoCodeFound, String::new()),
        };
        if !shown {
            scanner.stop();
            return;
        }
    }
}

/// One image: decoded once; its code is taken if it passes its format's check.
fn scan_still(path: &Path, report: &Report) {
    let image = match crate::camera::load_grey(path) {
        Ok(image) => image,
        Err(e) => {
            report.state(ScanState::ImageUnreadable, e.to_string());
            return;
        }
    };
    report.preview(&image);
    let Some(decoded) = Pipeline::default().decode(&image).decoded else {
        report.state(ScanState::NoCodeFound, String::new());
        return;
    };
    let verdict = crate::qr::decoder::guarded(|| acceptance::customer_code(&decoded.payload));
    match verdict {
        Some(Verdict::Valid | Verdict::NoCheck) => {
            report.accepted(&decoded.payload);
        }
        Some(Verdict::Invalid) | None => {
            report.state(ScanState::NotAPaymentCode, String::new());
        }
    }
}

/// A frame source that also sends a preview picture of its frames to the screen.
struct Previewed {
    inner: Box<dyn FrameSource>,
    report: Report,
    last: Option<Instant>,
}

impl FrameSource for Previewed {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let frame = self.inner.next_frame()?;
        if let Some(frame) = &frame
            && self.last.is_none_or(|t| t.elapsed() >= PREVIEW_INTERVAL)
        {
            self.last = Some(Instant::now());
            self.report.preview(&frame.image);
        }
        Ok(frame)
    }
}

/// `image` made at most [`PREVIEW_WIDTH`] wide (block mean), as an RGB picture.
pub(crate) fn preview_picture(image: &GreyImage) -> SharedPixelBuffer<Rgb8Pixel> {
    let factor = image.width().div_ceil(PREVIEW_WIDTH).max(1);
    let small = if factor > 1 {
        image.downscaled(factor)
    } else {
        image.clone()
    };
    let width = u32::try_from(small.width()).unwrap_or(0);
    let height = u32::try_from(small.height()).unwrap_or(0);
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(width, height);
    for (pixel, &luma) in buffer.make_mut_slice().iter_mut().zip(small.pixels()) {
        *pixel = Rgb8Pixel::new(luma, luma, luma);
    }
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_index_is_that_of_its_device_path() {
        assert_eq!(camera_index("/dev/video0"), Some(0));
        assert_eq!(camera_index("/dev/video12"), Some(12));
        assert_eq!(camera_index("/dev/media0"), None);
        assert_eq!(camera_index("/dev/video"), None);
    }

    #[test]
    fn a_preview_is_at_most_its_width_and_keeps_the_picture() {
        let mut pixels = vec![0u8; 1280 * 720];
        // The right half white.
        for row in pixels.chunks_mut(1280) {
            row[640..].fill(255);
        }
        let image = GreyImage::new(1280, 720, pixels).expect("a frame");
        let preview = preview_picture(&image);
        assert_eq!((preview.width(), preview.height()), (320, 180));
        let row = &preview.as_slice()[..320];
        assert_eq!(row[0], Rgb8Pixel::new(0, 0, 0));
        assert_eq!(row[319], Rgb8Pixel::new(255, 255, 255));
        let small = GreyImage::new(100, 50, vec![7; 5000]).expect("a frame");
        assert_eq!(preview_picture(&small).width(), 100);
    }
}

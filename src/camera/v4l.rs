//! A V4L2 camera through `nokhwa`, on a capture thread of its own (feature `camera`).
//!
//! The capture thread opens the camera, asks for 1280 × 720 (the closest the camera has) in a
//! format whose luma is cheap to reach (YUYV, NV12, grey; MJPEG is decoded with `image`), and
//! hands each frame's luma plane over a one-frame channel. No camera at open time is
//! [`SourceError::NoCamera`]; a capture error later (the camera unplugged) is
//! [`SourceError::Lost`].

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use nokhwa::pixel_format::LumaFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{Frame, FrameSource, SourceError};
use crate::qr::GreyImage;

/// A camera being captured on its own thread.
pub struct Camera {
    frames: Receiver<Result<GreyImage, SourceError>>,
    description: String,
    sequence: u64,
}

impl Camera {
    /// Opens camera `index` (0 is `/dev/video0`'s camera) and starts capturing.
    pub fn open(index: u32) -> Result<Self, SourceError> {
        let cameras = nokhwa::query(ApiBackend::Video4Linux).unwrap_or_default();
        if cameras.is_empty() {
            return Err(SourceError::NoCamera);
        }
        let (opened_tx, opened_rx) = sync_channel(1);
        let (frames_tx, frames) = sync_channel(1);
        std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || capture(index, &opened_tx, &frames_tx))
            .map_err(|e| SourceError::Lost(format!("cannot start the capture thread: {e}")))?;
        let description = opened_rx
            .recv()
            .map_err(|_| SourceError::Lost("the capture thread stopped".into()))??;
        Ok(Self {
            frames,
            description,
            sequence: 0,
        })
    }
}

impl FrameSource for Camera {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let image = self
            .frames
            .recv()
            .map_err(|_| SourceError::Lost("the capture thread stopped".into()))??;
        let sequence = self.sequence;
        self.sequence += 1;
        Ok(Some(Frame {
            image,
            sequence,
            captured: Instant::now(),
        }))
    }
}

/// The capture thread: open, report, then forward frames until the receiver goes away.
fn capture(
    index: u32,
    opened: &SyncSender<Result<String, SourceError>>,
    frames: &SyncSender<Result<GreyImage, SourceError>>,
) {
    let wanted = CameraFormat::new(Resolution::new(1280, 720), FrameFormat::YUYV, 30);
    let request = RequestedFormat::new::<LumaFormat>(RequestedFormatType::Closest(wanted));
    let camera =
        nokhwa::Camera::with_backend(CameraIndex::Index(index), request, ApiBackend::Video4Linux)
            .and_then(|mut camera| camera.open_stream().map(|()| camera));
    let mut camera = match camera {
        Ok(camera) => camera,
        Err(e) => {
            // A camera that is listed but cannot be opened (busy, no permission) is lost.
            let _ = opened.send(Err(SourceError::Lost(format!("camera {index}: {e}"))));
            return;
        }
    };
    let format = camera.camera_format();
    let description = format!("camera {index}: {} {format}", camera.info().human_name());
    if opened.send(Ok(description)).is_err() {
        return;
    }
    loop {
        let frame = camera
            .frame()
            .map_err(|e| SourceError::Lost(format!("camera {index}: {e}")))
            .and_then(|buffer| {
                let resolution = buffer.resolution();
                to_grey(
                    buffer.source_frame_format(),
                    resolution.width() as usize,
                    resolution.height() as usize,
                    buffer.buffer(),
                )
            });
        let failed = frame.is_err();
        if frames.send(frame).is_err() || failed {
            let _ = camera.stop_stream();
            return;
        }
    }
}

/// The luma plane of a camera buffer.
fn to_grey(
    format: FrameFormat,
    width: usize,
    height: usize,
    data: &[u8],
) -> Result<GreyImage, SourceError> {
    let lost = |e: &dyn std::fmt::Display| SourceError::Lost(format!("bad {format} frame: {e}"));
    match format {
        FrameFormat::YUYV => GreyImage::from_yuyv(width, height, data).map_err(|e| lost(&e)),
        FrameFormat::NV12 => GreyImage::from_nv12(width, height, data).map_err(|e| lost(&e)),
        FrameFormat::GRAY => GreyImage::new(width, height, data.to_vec()).map_err(|e| lost(&e)),
        FrameFormat::RAWRGB => GreyImage::from_rgb(width, height, data).map_err(|e| lost(&e)),
        FrameFormat::RAWBGR => {
            let rgb: Vec<u8> = data
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect();
            GreyImage::from_rgb(width, height, &rgb).map_err(|e| lost(&e))
        }
        FrameFormat::MJPEG => {
            let path = std::path::Path::new("camera frame");
            super::files::grey_from_bytes(path, data).map_err(|e| lost(&e))
        }
    }
}

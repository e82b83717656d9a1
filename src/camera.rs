//! Where frames come from, behind one trait ([`FrameSource`]): image files (one image, or a
//! folder of frames) and, with the `camera` feature, a V4L2 camera through `nokhwa`.
//!
//! "No camera found" and "the camera went away" are states a frame source reports
//! ([`SourceError::NoCamera`], [`SourceError::Lost`]), not crashes: the scanner turns them into
//! events the screen shows, and offers image files instead.

use std::time::Instant;

use thiserror::Error;

use crate::qr::GreyImage;

pub mod files;
#[cfg(feature = "camera")]
pub mod v4l;

pub use files::{FolderSource, ImageError, load_grey};

/// One frame: its luma plane, its number in the source's sequence, and when it was captured.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The luma plane.
    pub image: GreyImage,
    /// 0 for the first frame of the source, then 1, 2...
    pub sequence: u64,
    /// When the source delivered it.
    pub captured: Instant,
}

/// Why a source has no frame to give.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// There is no camera (none attached, or the build has no camera support).
    #[error("no camera found")]
    NoCamera,
    /// The source worked, then stopped giving frames (camera unplugged, file unreadable).
    #[error("the frame source was lost: {0}")]
    Lost(String),
}

/// A source of frames, read on its own thread by the scanner.
pub trait FrameSource: Send {
    /// A short description for logs and screens ("camera 0: HD Webcam 1280x720 YUYV").
    fn describe(&self) -> String;
    /// The next frame, blocking until it is there. `Ok(None)`: the source has ended (the last
    /// file was read); `Err`: it cannot go on.
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
}

/// The first camera, or [`SourceError::NoCamera`] when there is none (or the build has no
/// `camera` feature).
pub fn open_camera(index: u32) -> Result<Box<dyn FrameSource>, SourceError> {
    #[cfg(feature = "camera")]
    {
        v4l::Camera::open(index).map(|c| Box::new(c) as Box<dyn FrameSource>)
    }
    #[cfg(not(feature = "camera"))]
    {
        let _ = index;
        Err(SourceError::NoCamera)
    }
}

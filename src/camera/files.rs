//! Image files as frames: PNG and JPEG, read with the `image` crate and reduced to luma.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::qr::GreyImage;

/// An image file that could not be turned into a grey frame.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a PNG or JPEG image this build can decode.
    #[error("{path} is not a readable PNG or JPEG image: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// The image is decodable but has no usable size.
    #[error("{path}: {source}")]
    Size {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::qr::grey::FrameError,
    },
}

/// Reads an image file into bytes (kept apart from decoding so callers can time each).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Decodes PNG or JPEG bytes into a grey frame.
pub fn grey_from_bytes(path: &Path, bytes: &[u8]) -> Result<GreyImage, ImageError> {
    let decoded = image::load_from_memory(bytes).map_err(|source| ImageError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let luma = decoded.into_luma8();
    let (w, h) = (luma.width(), luma.height());
    let size = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    GreyImage::new(size(w), size(h), luma.into_raw()).map_err(|source| ImageError::Size {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a PNG or JPEG file as a grey frame.
pub fn load_grey(path: &Path) -> Result<GreyImage, ImageError> {
    grey_from_bytes(path, &read_bytes(path)?)
}

/// Image files as a frame source: the files given, in order (a folder's PNG and JPEG files in
/// name order), each read when asked for. A file that cannot be read ends the source with
/// [`SourceError::Lost`](super::SourceError::Lost), like a camera that is unplugged.
pub struct FolderSource {
    files: Vec<PathBuf>,
    next: usize,
    pace: Option<std::time::Duration>,
}

impl FolderSource {
    /// The given files, in order.
    pub fn from_files(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            next: 0,
            pace: None,
        }
    }

    /// The PNG and JPEG files of a folder, in name order.
    pub fn from_folder(folder: &Path) -> Result<Self, ImageError> {
        let read = |source| ImageError::Read {
            path: folder.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(read)? {
            let path = entry.map_err(read)?.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
                files.push(path);
            }
        }
        files.sort();
        Ok(Self::from_files(files))
    }

    /// Waits this long before each frame, like a camera's frame interval.
    pub fn paced(mut self, interval: std::time::Duration) -> Self {
        self.pace = Some(interval);
        self
    }
}

impl super::FrameSource for FolderSource {
    fn describe(&self) -> String {
        format!("{} image files", self.files.len())
    }

    fn next_frame(&mut self) -> Result<Option<super::Frame>, super::SourceError> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        if let Some(pace) = self.pace {
            std::thread::sleep(pace);
        }
        let image = load_grey(path).map_err(|e| super::SourceError::Lost(e.to_string()))?;
        let sequence = u64::try_from(self.next).unwrap_or(u64::MAX);
        self.next += 1;
        Ok(Some(super::Frame {
            image,
            sequence,
            captured: std::time::Instant::now(),
        }))
    }
}

//! The decoder's input: an 8-bit grey (luma) buffer, and the conversions into it.
//!
//! Cameras mostly deliver YUYV (4:2:2, interleaved) or NV12 (4:2:0, a luma plane followed by
//! interleaved chroma); both carry full-resolution luma, which is all a QR decoder needs, so the
//! conversion only copies the Y samples. RGB sources (image files, MJPEG decoded elsewhere) go
//! through the BT.601 luma weights.

use thiserror::Error;

/// An 8-bit grey image, row-major, one byte per pixel, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct GreyImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for GreyImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GreyImage({}x{})", self.width, self.height)
    }
}

/// A buffer that does not hold the frame its header announces.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The buffer is shorter or longer than width × height × bytes per pixel.
    #[error("a {format} frame of {width}x{height} needs {expected} bytes, got {actual}")]
    WrongLength {
        /// The pixel format.
        format: &'static str,
        /// Frame width in pixels.
        width: usize,
        /// Frame height in pixels.
        height: usize,
        /// Bytes the format needs.
        expected: usize,
        /// Bytes the buffer has.
        actual: usize,
    },
    /// A dimension is zero, too large, or odd where the format needs it even.
    #[error("a {format} frame cannot be {width}x{height}")]
    BadSize {
        /// The pixel format.
        format: &'static str,
        /// Frame width in pixels.
        width: usize,
        /// Frame height in pixels.
        height: usize,
    },
}

/// The largest side accepted (a 16K frame); it keeps width × height × 4 far from overflow.
const MAX_SIDE: usize = 16_384;

fn check_size(
    format: &'static str,
    width: usize,
    height: usize,
    even: bool,
) -> Result<(), FrameError> {
    let odd = even && (!width.is_multiple_of(2) || (format == "NV12" && !height.is_multiple_of(2)));
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || odd {
        return Err(FrameError::BadSize {
            format,
            width,
            height,
        });
    }
    Ok(())
}

fn check_len(
    format: &'static str,
    width: usize,
    height: usize,
    expected: usize,
    actual: usize,
) -> Result<(), FrameError> {
    if expected != actual {
        return Err(FrameError::WrongLength {
            format,
            width,
            height,
            expected,
            actual,
        });
    }
    Ok(())
}

impl GreyImage {
    /// A grey image from its pixels (row-major, `width * height` bytes).
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, FrameError> {
        check_size("grey", width, height, false)?;
        check_len("grey", width, height, width * height, pixels.len())?;
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// The luma plane of a YUYV (YUY2) frame: `Y0 U Y1 V` for each pair of pixels.
    pub fn from_yuyv(width: usize, height: usize, data: &[u8]) -> Result<Self, FrameError> {
        check_size("YUYV", width, height, true)?;
        check_len("YUYV", width, height, width * height * 2, data.len())?;
        let pixels = data.iter().step_by(2).copied().collect();
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// The luma plane of an NV12 frame: `width * height` Y bytes, then interleaved U/V at half
    /// resolution (which the decoder does not need).
    pub fn from_nv12(width: usize, height: usize, data: &[u8]) -> Result<Self, FrameError> {
        check_size("NV12", width, height, true)?;
        let luma = width * height;
        check_len("NV12", width, height, luma + luma / 2, data.len())?;
        Ok(Self {
            width,
            height,
            pixels: data[..luma].to_vec(),
        })
    }

    /// Packed 8-bit RGB, converted with the BT.601 luma weights (integer arithmetic).
    pub fn from_rgb(width: usize, height: usize, data: &[u8]) -> Result<Self, FrameError> {
        check_size("RGB", width, height, false)?;
        check_len("RGB", width, height, width * height * 3, data.len())?;
        let pixels = data
            .chunks_exact(3)
            .map(|p| luma_601(p[0], p[1], p[2]))
            .collect();
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at (x, y); the caller keeps x and y inside the image.
    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// The image with every pixel inverted (light codes on a dark background).
    pub fn inverted(&self) -> Self {
        Self {
            width: self.width,
            height: self.height,
            pixels: self.pixels.iter().map(|p| 255 - p).collect(),
        }
    }

    /// The image doubled in each direction, by bilinear interpolation (pixel centres kept):
    /// modules of 2-3 pixels become 4-6, which the decoders' finder-pattern scans need.
    pub fn upscaled(&self) -> Self {
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 {
            return self.clone();
        }
        let mut pixels = vec![0u8; 4 * w * h];
        let at = |x: usize, y: usize| u32::from(self.pixels[y * w + x]);
        for oy in 0..2 * h {
            // Output pixel centre oy + 0.5 maps to input (oy + 0.5) / 2 - 0.5: between rows
            // y0 and y0 + 1 with weight 1/4 or 3/4.
            let (y0, y1, wy) = neighbours(oy, h);
            for ox in 0..2 * w {
                let (x0, x1, wx) = neighbours(ox, w);
                let top = at(x0, y0) * (4 - wx) + at(x1, y0) * wx;
                let bottom = at(x0, y1) * (4 - wx) + at(x1, y1) * wx;
                let value = (top * (4 - wy) + bottom * wy + 8) / 16;
                pixels[oy * 2 * w + ox] = u8::try_from(value).unwrap_or(u8::MAX);
            }
        }
        Self {
            width: 2 * w,
            height: 2 * h,
            pixels,
        }
    }

    /// The image smoothed by a 3 × 3 box (edges repeat): sensor noise averaged out before a
    /// decoder thresholds it.
    pub fn smoothed(&self) -> Self {
        let (w, h) = (self.width, self.height);
        if w < 3 || h < 3 {
            return self.clone();
        }
        // Horizontal sums of three, then vertical.
        let mut rows = vec![0u16; w * h];
        for (out, row) in rows.chunks_exact_mut(w).zip(self.pixels.chunks_exact(w)) {
            for x in 0..w {
                let left = row[x.saturating_sub(1)];
                let right = row[(x + 1).min(w - 1)];
                out[x] = u16::from(left) + u16::from(row[x]) + u16::from(right);
            }
        }
        let mut pixels = vec![0u8; w * h];
        for y in 0..h {
            let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for x in 0..w {
                let sum = rows[up * w + x] + rows[y * w + x] + rows[down * w + x];
                pixels[y * w + x] = u8::try_from((sum + 4) / 9).unwrap_or(u8::MAX);
            }
        }
        Self {
            width: w,
            height: h,
            pixels,
        }
    }

    /// The image shrunk by an integer factor, each output pixel the mean of a `factor` ×
    /// `factor` block (trailing rows and columns that do not fill a block are dropped).
    pub fn downscaled(&self, factor: usize) -> Self {
        if factor <= 1 || self.width < factor || self.height < factor {
            return self.clone();
        }
        let (w, h) = (self.width / factor, self.height / factor);
        let area = u32::try_from(factor * factor).unwrap_or(u32::MAX);
        let mut sums = vec![0u32; w];
        let mut pixels = Vec::with_capacity(w * h);
        for by in 0..h {
            sums.fill(0);
            for row in self
                .pixels
                .chunks_exact(self.width)
                .skip(by * factor)
                .take(factor)
            {
                for (sum, block) in sums.iter_mut().zip(row.chunks_exact(factor)) {
                    *sum += block.iter().map(|&p| u32::from(p)).sum::<u32>();
                }
            }
            pixels.extend(
                sums.iter()
                    .map(|s| u8::try_from(s / area).unwrap_or(u8::MAX)),
            );
        }
        Self {
            width: w,
            height: h,
            pixels,
        }
    }
}

/// For output index `o` of a doubled axis of `n` input pixels: the two input pixels around its
/// centre and the second one's weight in quarters.
fn neighbours(o: usize, n: usize) -> (usize, usize, u32) {
    let i = o / 2;
    if o.is_multiple_of(2) {
        // Centre at i - 1/4: 3/4 of pixel i, 1/4 of pixel i - 1.
        let before = i.saturating_sub(1);
        (before, i, 3)
    } else {
        // Centre at i + 1/4: 3/4 of pixel i, 1/4 of pixel i + 1.
        (i, (i + 1).min(n - 1), 1)
    }
}

/// BT.601 luma: 0.299 R + 0.587 G + 0.114 B, in 8.8 fixed point.
pub fn luma_601(r: u8, g: u8, b: u8) -> u8 {
    let y = (77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8;
    u8::try_from(y).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_keeps_the_luma_samples_in_order() {
        // Two rows of four pixels: Y0 U Y1 V Y2 U Y3 V.
        let data = [10, 99, 20, 98, 30, 97, 40, 96, 50, 1, 60, 2, 70, 3, 80, 4];
        let grey = GreyImage::from_yuyv(4, 2, &data).expect("valid frame");
        assert_eq!(grey.pixels(), &[10, 20, 30, 40, 50, 60, 70, 80]);
        assert_eq!(grey.get(1, 1), 60);
    }

    #[test]
    fn nv12_takes_the_y_plane_and_skips_chroma() {
        let mut data: Vec<u8> = (1..=8).collect();
        data.extend([200, 201, 202, 203]);
        let grey = GreyImage::from_nv12(4, 2, &data).expect("valid frame");
        assert_eq!(grey.pixels(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn short_or_odd_frames_are_refused() {
        assert!(matches!(
            GreyImage::from_yuyv(4, 2, &[0; 15]),
            Err(FrameError::WrongLength {
                expected: 16,
                actual: 15,
                ..
            })
        ));
        assert!(matches!(
            GreyImage::from_yuyv(3, 2, &[0; 12]),
            Err(FrameError::BadSize { .. })
        ));
        assert!(matches!(
            GreyImage::from_nv12(4, 3, &[0; 18]),
            Err(FrameError::BadSize { .. })
        ));
        assert!(matches!(
            GreyImage::new(0, 5, vec![]),
            Err(FrameError::BadSize { .. })
        ));
    }

    #[test]
    fn rgb_uses_bt601_weights() {
        let grey = GreyImage::from_rgb(4, 1, &[255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0])
            .expect("valid frame");
        assert_eq!(grey.pixels(), &[255, 0, 77, 149]);
    }

    #[test]
    fn downscale_averages_blocks() {
        let grey = GreyImage::new(4, 2, vec![0, 100, 10, 10, 200, 100, 10, 10]).expect("valid");
        let half = grey.downscaled(2);
        assert_eq!((half.width(), half.height()), (2, 1));
        assert_eq!(half.pixels(), &[100, 10]);
        assert_eq!(grey.inverted().get(0, 0), 255);
    }

    #[test]
    fn upscale_doubles_with_bilinear_weights() {
        // One row: 0 then 200. The doubled row's centres sit at -1/4, 1/4, 3/4 and 5/4.
        let grey = GreyImage::new(2, 1, vec![0, 200]).expect("valid");
        let double = grey.upscaled();
        assert_eq!((double.width(), double.height()), (4, 2));
        assert_eq!(&double.pixels()[..4], &[0, 50, 150, 200]);
        assert_eq!(&double.pixels()[4..], &[0, 50, 150, 200]);
        // A flat image stays flat.
        let flat = GreyImage::new(3, 3, vec![77; 9]).expect("valid").upscaled();
        assert!(flat.pixels().iter().all(|&p| p == 77));
    }

    #[test]
    fn smoothing_averages_three_by_three() {
        // A single bright pixel spreads a ninth of itself around it.
        let mut pixels = vec![0u8; 25];
        pixels[12] = 180;
        let smooth = GreyImage::new(5, 5, pixels).expect("valid").smoothed();
        assert_eq!(smooth.get(2, 2), 20);
        assert_eq!(smooth.get(1, 1), 20);
        assert_eq!(smooth.get(0, 0), 0);
        let flat = GreyImage::new(4, 4, vec![90; 16])
            .expect("valid")
            .smoothed();
        assert!(flat.pixels().iter().all(|&p| p == 90));
    }
}

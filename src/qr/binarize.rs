//! Local thresholding for phone-camera frames (the idea of ZXing's hybrid binarizer).
//!
//! A single global threshold fails under uneven light, and rqrr's own threshold is a running mean
//! along each row, which smears across a shadow's edge. Here the image is cut into 8 × 8 blocks;
//! each pixel is compared with the mean of the 5 × 5 blocks around its block. A block with almost
//! no contrast (a flat background or the inside of a large module) takes a threshold from its
//! neighbours instead of its own mean, so flat areas do not turn into noise.

use super::grey::GreyImage;

/// Block side in pixels.
const BLOCK: usize = 8;
/// Below this spread (max − min) a block is considered flat.
const MIN_DYNAMIC_RANGE: u32 = 12;

/// A binary image: `true` is dark (a QR module), row-major.
#[derive(Clone, Debug)]
pub struct Bitmap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `true` for dark pixels.
    pub dark: Vec<bool>,
}

impl Bitmap {
    /// The bitmap with dark and light swapped (for light-on-dark codes).
    pub fn inverted(&self) -> Self {
        Self {
            width: self.width,
            height: self.height,
            dark: self.dark.iter().map(|d| !d).collect(),
        }
    }
}

/// Binarizes with a threshold local to each 8 × 8 block (see the module documentation).
/// Images smaller than 5 × 5 blocks fall back to one global mean.
pub fn hybrid(image: &GreyImage) -> Bitmap {
    let (w, h) = (image.width(), image.height());
    let bw = w.div_ceil(BLOCK);
    let bh = h.div_ceil(BLOCK);
    let pixels = image.pixels();
    if bw < 5 || bh < 5 {
        let sum: u64 = pixels.iter().map(|&p| u64::from(p)).sum();
        let mean = sum / u64::try_from(pixels.len().max(1)).unwrap_or(1);
        let dark = pixels.iter().map(|&p| u64::from(p) < mean).collect();
        return Bitmap {
            width: w,
            height: h,
            dark,
        };
    }
    // Per-block mean, with flat blocks handled as in ZXing: assume background (half the minimum),
    // unless the neighbours already seen suggest the block lies inside a dark area.
    let mut means = vec![0u32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (x0, y0) = (bx * BLOCK, by * BLOCK);
            let (x1, y1) = ((x0 + BLOCK).min(w), (y0 + BLOCK).min(h));
            let (mut sum, mut min, mut max, mut n) = (0u32, 255u32, 0u32, 0u32);
            for row in pixels[y0 * w..y1 * w].chunks_exact(w) {
                for &p in &row[x0..x1] {
                    let p = u32::from(p);
                    sum += p;
                    min = min.min(p);
                    max = max.max(p);
                    n += 1;
                }
            }
            let mut mean = sum / n.max(1);
            if max - min <= MIN_DYNAMIC_RANGE {
                mean = min / 2;
                if by > 0 && bx > 0 {
                    let up = means[(by - 1) * bw + bx];
                    let left = means[by * bw + bx - 1];
                    let diag = means[(by - 1) * bw + bx - 1];
                    let neighbours = (up + 2 * left + diag) / 4;
                    if min < neighbours {
                        mean = neighbours;
                    }
                }
            }
            means[by * bw + bx] = mean;
        }
    }
    // Threshold per block: the mean of the 5 × 5 block means around it (clamped at the edges).
    let mut dark = vec![false; w * h];
    for by in 0..bh {
        let cy = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let cx = bx.clamp(2, bw - 3);
            let mut sum = 0u32;
            for row in means[(cy - 2) * bw..(cy + 3) * bw].chunks_exact(bw) {
                sum += row[cx - 2..cx + 3].iter().sum::<u32>();
            }
            let threshold = sum / 25;
            let (x0, y0) = (bx * BLOCK, by * BLOCK);
            let (x1, y1) = ((x0 + BLOCK).min(w), (y0 + BLOCK).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    dark[y * w + x] = u32::from(pixels[y * w + x]) <= threshold;
                }
            }
        }
    }
    Bitmap {
        width: w,
        height: h,
        dark,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkerboard of 6 px squares under a light gradient from 60 to 250 (dark squares a
    /// third of the light): a global threshold (about 103) loses the dim end, the local one
    /// keeps every square.
    #[test]
    fn local_threshold_survives_a_light_gradient() {
        let (w, h) = (256, 64);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let light = 60 + 190 * x / w;
                let dark_square = (x / 6 + y / 6) % 2 == 0;
                let value = if dark_square { light / 3 } else { light };
                pixels.push(u8::try_from(value).expect("below 256"));
            }
        }
        let image = GreyImage::new(w, h, pixels).expect("valid");
        let bitmap = hybrid(&image);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(
                    bitmap.dark[y * w + x],
                    (x / 6 + y / 6) % 2 == 0,
                    "at ({x}, {y})"
                );
            }
        }
        assert!(!bitmap.inverted().dark[0]);
    }

    #[test]
    fn a_flat_image_is_all_light() {
        let image = GreyImage::new(64, 64, vec![180; 64 * 64]).expect("valid");
        assert!(hybrid(&image).dark.iter().all(|d| !d));
    }
}

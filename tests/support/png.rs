//! Screenshots of the window tests written as PNG files, for a person to look at.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;

/// Writes `rgba` (8-bit RGBA, `width` x `height`) to `path` as a PNG.
pub fn save_png(rgba: &[u8], width: u32, height: u32, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(rgba)
        .unwrap();
}

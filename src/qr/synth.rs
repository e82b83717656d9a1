//! Synthetic camera frames for `softpos bench qr` and the tests: a QR code drawn with `qrcode`
//! on a cluttered 1280 × 720 scene, seen through a camera's defects. Deterministic: frame `i`
//! of seed `s` is the same on every machine (ChaCha8, stream `i`).
//!
//! Every frame has a random module size (2-10 px, smaller when the code would not fit), a
//! payload of 20-400 bytes (EMVCo-like text, a URL or binary bytes), a small tilt and a mild
//! level of sensor noise and blur. Each frame is then given one main degradation
//! ([`Degradation`]) at a strong level; `Mixed` frames get two of them.

use std::f64::consts::PI;
use std::fmt;

use qrcode::{Color, EcLevel, QrCode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::grey::GreyImage;

/// Frame width.
pub const WIDTH: usize = 1280;
/// Frame height.
pub const HEIGHT: usize = 720;

/// The main defect of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Degradation {
    /// Defocus or motion: a Gaussian blur of σ 0.8-2 px.
    Blur,
    /// Sensor noise: Gaussian, σ 10-28 grey levels.
    Noise,
    /// The code turned by up to 30°.
    Rotation,
    /// The phone held at an angle: corners moved by up to 18 % of the code's side.
    Perspective,
    /// A washed-out print or a dim screen: 25-55 grey levels between dark and light modules.
    LowContrast,
    /// A shadow or a lamp: light falling off to 25-45 % across the frame, plus a hot spot.
    UnevenLight,
    /// Two of the above.
    Mixed,
}

impl Degradation {
    /// Every kind, in report order.
    pub const ALL: [Degradation; 7] = [
        Degradation::Blur,
        Degradation::Noise,
        Degradation::Rotation,
        Degradation::Perspective,
        Degradation::LowContrast,
        Degradation::UnevenLight,
        Degradation::Mixed,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Degradation::Blur => "blur",
            Degradation::Noise => "noise",
            Degradation::Rotation => "rotation",
            Degradation::Perspective => "perspective",
            Degradation::LowContrast => "low-contrast",
            Degradation::UnevenLight => "uneven-light",
            Degradation::Mixed => "mixed",
        }
    }
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One generated frame and what it should decode to.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The frame.
    pub image: GreyImage,
    /// The payload encoded in the code.
    pub payload: Vec<u8>,
    /// Its main defect.
    pub degradation: Degradation,
    /// Pixels per module before perspective.
    pub module_px: f64,
}

/// Frame `index` of the set `seed`.
pub fn frame(seed: u64, index: u64) -> Sample {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let degradation = Degradation::ALL[rng.gen_range(0..Degradation::ALL.len())];
    let mut effects = vec![degradation];
    if degradation == Degradation::Mixed {
        let first = rng.gen_range(0..6);
        let second = (first + rng.gen_range(1..6)) % 6;
        effects = vec![Degradation::ALL[first], Degradation::ALL[second]];
    }
    let payload = payload(&mut rng);
    let (image, module_px) = render(&mut rng, &payload, &effects, WIDTH, HEIGHT);
    Sample {
        image,
        payload,
        degradation,
        module_px,
    }
}

/// A `width` × `height` frame of `payload` with the given defects (and the mild ones every
/// frame has), drawn from `seed`: for test images with a chosen payload.
pub fn picture(
    seed: u64,
    payload: &[u8],
    effects: &[Degradation],
    width: usize,
    height: usize,
) -> GreyImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    render(&mut rng, payload, effects, width, height).0
}

/// Draws the frame; returns it and the module size in pixels.
fn render(
    rng: &mut ChaCha8Rng,
    payload: &[u8],
    effects: &[Degradation],
    width: usize,
    height: usize,
) -> (GreyImage, f64) {
    let has = |d: Degradation| effects.contains(&d);
    let ec = match rng.gen_range(0..20) {
        0..=2 => EcLevel::L,
        3..=16 => EcLevel::M,
        _ => EcLevel::Q,
    };
    let code = QrCode::with_error_correction_level(payload, ec)
        .or_else(|_| QrCode::with_error_correction_level(payload, EcLevel::L))
        .expect("400 bytes always fit a QR code");
    let modules = code.width();
    let colors = code.to_colors();

    // Geometry: module size, angle, position, corner jitter.
    let quiet = 4.0;
    let side_modules = f64::from(u32::try_from(modules).unwrap_or(177)) + 2.0 * quiet;
    let wanted = 2.0 * 5f64.powf(rng.gen_range(0.0..1.0)); // 2-10 px, log-uniform
    let fits = (width.min(height) as f64 - 80.0) / (side_modules * 1.45);
    let module_px = wanted.min(fits);
    let side = side_modules * module_px;
    let max_angle = if has(Degradation::Rotation) {
        30.0
    } else {
        6.0
    };
    let angle = rng.gen_range(-max_angle..=max_angle) * PI / 180.0;
    let jitter = if has(Degradation::Perspective) {
        rng.gen_range(0.08..0.18)
    } else {
        0.02
    };
    let half_diag = side * 0.5 * (angle.cos().abs() + angle.sin().abs()) * (1.0 + jitter);
    let cx = rng.gen_range(half_diag..(width as f64 - half_diag).max(half_diag + 1.0));
    let cy = rng.gen_range(half_diag..(height as f64 - half_diag).max(half_diag + 1.0));
    let (sin, cos) = angle.sin_cos();
    let mut corners = [(0.0, 0.0); 4];
    for (corner, (u, v)) in
        corners
            .iter_mut()
            .zip([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)])
    {
        let (dx, dy) = (u * side, v * side);
        let jx = rng.gen_range(-1.0..=1.0) * jitter * side;
        let jy = rng.gen_range(-1.0..=1.0) * jitter * side;
        *corner = (cx + dx * cos - dy * sin + jx, cy + dx * sin + dy * cos + jy);
    }
    let to_code = invert(square_to_quad(&corners));

    // Albedo: the scene, then the paper and the modules.
    let (dark, light) = if has(Degradation::LowContrast) {
        let spread = rng.gen_range(25.0..55.0);
        let mid = rng.gen_range(90.0..170.0);
        (mid - spread / 2.0, mid + spread / 2.0)
    } else {
        (rng.gen_range(15.0..60.0), rng.gen_range(170.0..235.0))
    };
    let mut scene = vec![rng.gen_range(60.0..160.0); width * height];
    for _ in 0..rng.gen_range(6..14) {
        let (w, h) = (rng.gen_range(8..width / 2), rng.gen_range(8..height / 2));
        let (x0, y0) = (rng.gen_range(0..width - w), rng.gen_range(0..height - h));
        let value = rng.gen_range(20.0..230.0);
        for row in scene.chunks_exact_mut(width).skip(y0).take(h) {
            row[x0..x0 + w].fill(value);
        }
    }
    let n = side_modules;
    let module_at = |u: f64, v: f64| -> Option<bool> {
        if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
            return None;
        }
        let (mx, my) = (u * n - quiet, v * n - quiet);
        if mx < 0.0 || my < 0.0 || mx >= n - 2.0 * quiet || my >= n - 2.0 * quiet {
            return Some(false);
        }
        // Truncation is intended: the module index of a point inside the code.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (mx, my) = (mx as usize, my as usize);
        Some(colors[my * modules + mx] == Color::Dark)
    };
    let (min_x, max_x) = bounds(corners.iter().map(|c| c.0), width);
    let (min_y, max_y) = bounds(corners.iter().map(|c| c.1), height);
    for y in min_y..max_y {
        for x in min_x..max_x {
            // 2 × 2 supersampling: module edges are anti-aliased like a lens would.
            let (mut inside, mut darkness) = (0u8, 0u8);
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (u, v) = apply(&to_code, x as f64 + ox, y as f64 + oy);
                if let Some(is_dark) = module_at(u, v) {
                    inside += 1;
                    darkness += u8::from(is_dark);
                }
            }
            if inside > 0 {
                let paper = (f64::from(darkness) * dark + f64::from(inside - darkness) * light)
                    / f64::from(inside);
                let i = y * width + x;
                scene[i] = (scene[i] * f64::from(4 - inside) + paper * f64::from(inside)) / 4.0;
            }
        }
    }

    // Light falling on the scene.
    if has(Degradation::UnevenLight) {
        let floor = rng.gen_range(0.25..0.45);
        let direction = rng.gen_range(0.0..2.0 * PI);
        let (dx, dy) = (direction.cos(), direction.sin());
        let (sx, sy) = (
            rng.gen_range(0.0..width as f64),
            rng.gen_range(0.0..height as f64),
        );
        let spot = rng.gen_range(0.2..0.5);
        for (i, value) in scene.iter_mut().enumerate() {
            let (x, y) = ((i % width) as f64, (i / width) as f64);
            let t = ((x - width as f64 / 2.0) * dx + (y - height as f64 / 2.0) * dy) / width as f64
                + 0.5;
            let d2 = ((x - sx).powi(2) + (y - sy).powi(2)) / (250.0f64).powi(2);
            *value *= floor + (1.0 - floor) * t.clamp(0.0, 1.0) + spot * (-d2).exp();
        }
    }
    let sigma = if has(Degradation::Blur) {
        rng.gen_range(0.8..2.0)
    } else {
        rng.gen_range(0.3..0.6)
    };
    gaussian_blur(&mut scene, width, height, sigma);
    let noise = if has(Degradation::Noise) {
        rng.gen_range(10.0..28.0)
    } else {
        rng.gen_range(1.0..4.0)
    };
    let pixels = scene
        .iter()
        .map(|&v| {
            let value = v + noise * standard_normal(rng);
            // Rounded and clamped into 0..=255 first.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let byte = value.round().clamp(0.0, 255.0) as u8;
            byte
        })
        .collect();
    let image = GreyImage::new(width, height, pixels).expect("the caller's frame size");
    (image, module_px)
}

/// 20-400 bytes: EMVCo-like text (digits and upper case), a URL, or binary bytes.
fn payload(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let len = rng.gen_range(20..=400);
    match rng.gen_range(0..10) {
        0..=4 => {
            // EMVCo MPM-like: TLV-ish digits and upper-case letters, a CRC-like tail.
            let mut text = b"000201010212".to_vec();
            const SET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .-";
            while text.len() < len {
                text.push(SET[rng.gen_range(0..SET.len())]);
            }
            text.truncate(len);
            text
        }
        5..=7 => {
            let mut text = b"https://pay.example/".to_vec();
            const SET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_/?=&";
            while text.len() < len {
                text.push(SET[rng.gen_range(0..SET.len())]);
            }
            text.truncate(len);
            text
        }
        _ => (0..len).map(|_| rng.r#gen::<u8>()).collect(),
    }
}

type Matrix = [[f64; 3]; 3];

/// The homography taking the unit square (0,0), (1,0), (1,1), (0,1) to `q` (Heckbert).
fn square_to_quad(q: &[(f64, f64); 4]) -> Matrix {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = *q;
    let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let det = dx1 * dy2 - dx2 * dy1;
    let g = (sx * dy2 - dx2 * sy) / det;
    let h = (dx1 * sy - sx * dy1) / det;
    [
        [x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
        [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
        [g, h, 1.0],
    ]
}

fn invert(m: Matrix) -> Matrix {
    let [[a, b, c], [d, e, f], [g, h, i]] = m;
    let co = [e * i - f * h, f * g - d * i, d * h - e * g];
    let det = a * co[0] + b * co[1] + c * co[2];
    [
        [co[0] / det, (c * h - b * i) / det, (b * f - c * e) / det],
        [co[1] / det, (a * i - c * g) / det, (c * d - a * f) / det],
        [co[2] / det, (b * g - a * h) / det, (a * e - b * d) / det],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    let w = m[2][0] * x + m[2][1] * y + m[2][2];
    (
        (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
        (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
    )
}

/// The pixel range covering `values`, clamped to `0..limit`.
fn bounds(values: impl Iterator<Item = f64> + Clone, limit: usize) -> (usize, usize) {
    let min = values.clone().fold(f64::MAX, f64::min).floor().max(0.0);
    let max = values.fold(f64::MIN, f64::max).ceil().max(0.0);
    // Both are clamped to be non-negative and are bounded by the frame size.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (min, max) = (min as usize, max as usize);
    (min.min(limit), max.min(limit))
}

/// A separable Gaussian blur, edges clamped.
fn gaussian_blur(image: &mut [f64], width: usize, height: usize, sigma: f64) {
    // The radius is a few pixels.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let radius = (sigma * 3.0).ceil() as usize;
    let kernel: Vec<f64> = (0..=2 * radius)
        .map(|i| (-((i as f64 - radius as f64).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut out = vec![0.0; image.len()];
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0.0;
            for (k, weight) in kernel.iter().enumerate() {
                let sx = (x + k).saturating_sub(radius).min(width - 1);
                sum += weight * image[y * width + sx];
            }
            out[y * width + x] = sum;
        }
    }
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0.0;
            for (k, weight) in kernel.iter().enumerate() {
                let sy = (y + k).saturating_sub(radius).min(height - 1);
                sum += weight * out[sy * width + x];
            }
            image[y * width + x] = sum;
        }
    }
}

/// A standard normal sample (Box-Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_and_differ_by_index() {
        let a = frame(7, 3);
        let b = frame(7, 3);
        let c = frame(7, 4);
        assert_eq!(a.image, b.image);
        assert_eq!(a.payload, b.payload);
        assert_ne!(a.payload, c.payload);
        assert_eq!((a.image.width(), a.image.height()), (WIDTH, HEIGHT));
        assert!((20..=400).contains(&a.payload.len()));
    }

    #[test]
    fn the_square_maps_onto_its_quad() {
        let quad = [(10.0, 20.0), (110.0, 25.0), (120.0, 130.0), (5.0, 118.0)];
        let m = square_to_quad(&quad);
        for ((u, v), (x, y)) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
            .into_iter()
            .zip(quad)
        {
            let (px, py) = apply(&m, u, v);
            assert!((px - x).abs() < 1e-9 && (py - y).abs() < 1e-9);
            let (bu, bv) = apply(&invert(m), x, y);
            assert!((bu - u).abs() < 1e-9 && (bv - v).abs() < 1e-9);
        }
    }
}

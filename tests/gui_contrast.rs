//! The theme's text colours against the backgrounds they are drawn on reach WCAG 2.1 AA
//! contrast: 4.5:1 for body text (success criterion 1.4.3). The colours are read from
//! `ui/theme.slint`, the one place they are defined; the pairs are those the screens use.
//! Disabled controls are exempt (1.4.3, "incidental").

use std::collections::HashMap;

/// (text colour, background), by the theme's names or `#rrggbb`.
const PAIRS: &[(&str, &str)] = &[
    ("text", "background"),
    ("text", "surface"),
    ("text", "surface-pressed"),
    // Buttons: Continue, Tap card, Settle now; the result screen's banners.
    ("text", "accent"),
    ("text", "danger"),
    ("text", "warning-dark"),
    ("text-muted", "background"),
    ("text-muted", "surface"),
    ("accent-text", "background"),
    ("accent-text", "surface"),
    ("danger-text", "background"),
    // The status bar's "Not attested".
    ("danger-text", "surface"),
    ("warning", "background"),
    // The development banner and the receipt paper.
    ("#000000", "warning"),
    ("#101010", "#fdfdf8"),
];

#[test]
fn every_text_colour_reaches_aa_contrast_on_its_background() {
    let theme = theme_colours();
    let colour = |name: &str| -> [u8; 3] {
        let hex = if name.starts_with('#') {
            name
        } else {
            theme
                .get(name)
                .unwrap_or_else(|| panic!("no colour {name} in ui/theme.slint"))
        };
        parse_hex(hex).unwrap_or_else(|| panic!("{name}: {hex} is not #rrggbb"))
    };
    for (fg, bg) in PAIRS {
        let ratio = contrast(colour(fg), colour(bg));
        assert!(ratio >= 4.5, "{fg} on {bg}: {ratio:.2}:1, below 4.5:1");
    }
}

/// Published examples: black on white is 21:1, and `#767676` on white is the lightest grey
/// that reaches 4.5:1 (WebAIM contrast checker).
#[test]
fn the_contrast_formula_matches_published_values() {
    assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 0.01);
    let grey = contrast([0x76, 0x76, 0x76], [255, 255, 255]);
    assert!((4.5..4.6).contains(&grey), "{grey}");
    assert!(contrast([0x77, 0x77, 0x77], [255, 255, 255]) < 4.5);
}

/// The `out property <color> name: #rrggbb;` lines of `ui/theme.slint`.
fn theme_colours() -> HashMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/theme.slint"))
        .expect("ui/theme.slint");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("out property <color> "))
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            Some((
                name.trim().to_owned(),
                value.trim().trim_end_matches(';').to_owned(),
            ))
        })
        .collect()
}

fn parse_hex(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#')?;
    if digits.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// WCAG 2.1 relative luminance.
fn luminance(rgb: [u8; 3]) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2])
}

/// WCAG 2.1 contrast ratio, 1 to 21.
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (light, dark) = if la > lb { (la, lb) } else { (lb, la) };
    (light + 0.05) / (dark + 0.05)
}

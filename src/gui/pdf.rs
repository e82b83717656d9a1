//! Printable documents (the end-of-day report, a receipt) as PDF: lines of text in the PDF
//! standard font Courier (no font file embedded), on as many A4 pages as they need, and a QR
//! code drawn as squares under them, written with `pdf-writer`.
//!
//! The standard fonts cover Latin-1 (WinAnsiEncoding); a character outside it prints as `?`.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A PDF of `lines`, in a monospaced font, top to bottom over A4 pages.
pub(crate) fn text_document(lines: &[String]) -> Vec<u8> {
    document(lines, None)
}

/// A PDF of `lines` and, under them, the QR code `qr` (its width in modules and its dark
/// modules as column and row), on a page of its own when the last page has no room left.
pub(crate) fn document(lines: &[String], qr: Option<&(u32, Vec<(u32, u32)>)>) -> Vec<u8> {
    let mut pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(LINES_PER_PAGE).collect()
    };
    // Where the QR code's top goes on the last page, below its text.
    let last_lines = pages.last().map_or(0, |p| p.len());
    #[allow(clippy::cast_precision_loss)] // At most LINES_PER_PAGE.
    let mut qr_top = A4.1 - MARGIN - LEADING * (last_lines as f32 + 1.0);
    if qr.is_some() && qr_top - QR_SIDE < MARGIN {
        pages.push(&[]);
        qr_top = A4.1 - MARGIN;
    }
    let last_page = pages.len() - 1;
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    // Each page takes two ids: the page and its content stream.
    let page_id = |i: usize| Ref::new(4 + 2 * i32::try_from(i).unwrap_or(i32::MAX / 4));
    let font_name = Name(b"F1");
    pdf.catalog(catalog).pages(tree);
    let count = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_id))
        .count(count);
    pdf.type1_font(font)
        .base_font(Name(b"Courier"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, page_lines) in pages.iter().enumerate() {
        let id = page_id(i);
        let contents = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, A4.0, A4.1))
            .contents(contents);
        page.resources().fonts().pair(font_name, font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(font_name, FONT_SIZE);
        content.set_leading(LEADING);
        content.next_line(MARGIN, A4.1 - MARGIN);
        for line in page_lines.iter() {
            content.show(Str(&win_ansi(line)));
            content.next_line_using_leading();
        }
        content.end_text();
        if let (Some((modules, dark)), true) = (qr, i == last_page) {
            #[allow(clippy::cast_precision_loss)] // A QR code is at most 177 modules wide.
            let unit = QR_SIDE / *modules as f32;
            content.set_fill_gray(0.0);
            for (col, row) in dark {
                #[allow(clippy::cast_precision_loss)]
                let (x, y) = (*col as f32, *row as f32);
                content.rect(MARGIN + x * unit, qr_top - (y + 1.0) * unit, unit, unit);
            }
            content.fill_nonzero();
        }
        let data = content.finish();
        pdf.stream(contents, &data);
    }
    pdf.finish()
}

/// `text` in WinAnsiEncoding (Latin-1 for the characters it shares), `?` for anything else.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '·' => 0xB7,
            c if (' '..='~').contains(&c) => c as u8,
            c if ('\u{A0}'..='\u{FF}').contains(&c) => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

/// A4 in points.
const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const FONT_SIZE: f32 = 10.0;
const LEADING: f32 = 13.0;
/// What fits between the margins.
const LINES_PER_PAGE: usize = 56;
/// The QR code's side on paper, in points (about 5 cm).
const QR_SIDE: f32 = 144.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_with_the_text_on_as_many_pages_as_needed() {
        let lines: Vec<String> = (0..120).map(|i| format!("line {i}: EUR 1.00")).collect();
        let pdf = text_document(&lines);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 3"), "three pages for 120 lines");
        assert!(text.contains("(line 119: EUR 1.00)"), "{text}");
        assert!(text.contains("/BaseFont /Courier"));
        assert!(text_document(&[]).starts_with(b"%PDF-"));
    }

    #[test]
    fn a_qr_code_goes_under_the_text_or_on_a_page_of_its_own() {
        let qr = (21, vec![(0, 0), (20, 20)]);
        let short = document(&["TOTAL EUR 1.00".to_owned()], Some(&qr));
        let text = String::from_utf8_lossy(&short);
        assert!(text.contains("/Count 1"));
        // Two squares, filled.
        assert_eq!(text.matches(" re").count(), 2, "{text}");
        let full: Vec<String> = (0..LINES_PER_PAGE).map(|i| format!("{i}")).collect();
        let text = String::from_utf8_lossy(&document(&full, Some(&qr))).into_owned();
        assert!(text.contains("/Count 2"));
    }

    #[test]
    fn characters_outside_latin_1_print_as_question_marks() {
        assert_eq!(win_ansi("Zürich 5 €"), b"Z\xfcrich 5 \x80");
        assert_eq!(win_ansi("结算"), b"??");
    }
}

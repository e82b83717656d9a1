//! The merchant's-code screen's controller: the code the engine asks to show (drawn again with
//! each new token), the short code, a countdown to the payment's expiry, and Cancel, which
//! stops the engine's wait and tells the host.

use std::time::{SystemTime, UNIX_EPOCH};

use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer};

use super::{AppAdapter, Currency, MainWindow, MerchantCodeAdapter, ResultAdapter, Screen};
use crate::engine::merchant_code::raster;
use crate::engine::{Command, Event, ServiceHandle};

/// What the screen shows for one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// The amount.
    pub(crate) amount: String,
    /// The code's modules with the quiet zone, one grey pixel each (row by row).
    pub(crate) pixels: Vec<u8>,
    /// The side of `pixels`.
    pub(crate) side: u32,
    /// The short code.
    pub(crate) short_code: String,
    /// Seconds until the payment expires.
    pub(crate) seconds_left: i32,
}

/// What `event` shows on this screen; `None` for the events of other screens, or a code that
/// cannot be drawn (the engine's own text: it always can).
pub(super) fn for_event(event: &Event, currency: &Currency) -> Option<Show> {
    let Event::ShowMerchantCode {
        text,
        short_code,
        amount,
        expires_at,
        ..
    } = event
    else {
        return None;
    };
    let (pixels, side) = match raster(text, 1) {
        Ok(drawn) => drawn,
        Err(e) => {
            tracing::error!(error = %e, "the merchant's code cannot be drawn");
            return None;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Some(Show {
        amount: currency.format(*amount),
        pixels,
        side: u32::try_from(side).ok()?,
        short_code: short_code.clone(),
        seconds_left: i32::try_from(expires_at.saturating_sub(now)).unwrap_or(i32::MAX),
    })
}

/// Shows `show` (UI thread).
pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<MerchantCodeAdapter>();
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(show.side, show.side);
    for (pixel, grey) in buffer.make_mut_slice().iter_mut().zip(&show.pixels) {
        *pixel = Rgb8Pixel::new(*grey, *grey, *grey);
    }
    adapter.set_code(Image::from_rgb8(buffer));
    adapter.set_amount_text(show.amount.into());
    adapter.set_short_code(show.short_code.into());
    adapter.set_seconds_left(show.seconds_left);
    window
        .global::<AppAdapter>()
        .set_screen(Screen::MerchantCode);
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) {
    window
        .global::<MerchantCodeAdapter>()
        .on_cancel(move || handle.cancel());
}

/// Sends the sale of `amount` (`total` formatted) paid with the merchant's code; the result
/// screen says "Processing" until the engine shows the code.
pub(super) fn start(window: &MainWindow, handle: &ServiceHandle, total: &str, amount: u64) {
    window
        .global::<ResultAdapter>()
        .set_amount_text(total.into());
    if super::send(handle, Command::MerchantCode { amount }) {
        super::result::working(window, "Processing");
        window.global::<AppAdapter>().set_screen(Screen::Result);
    } else {
        super::sale::engine_stopped(window);
    }
}

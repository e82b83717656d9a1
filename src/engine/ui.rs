//! What the screen shows for each engine event: the EMV Contactless Book A user-interface
//! request (message identifier, reader status, hold time, value), in one table.
//!
//! An approved sale shows, in Book A order: `15` Present card (ready to read, with the
//! amount), `16` Processing (processing), `17` Card read OK, remove card (card read
//! successfully), `09` Enter PIN when asked, `1B` Authorising, please wait, then `03` Approved
//! (held). A decline shows `07` Not authorised; an operation that ended before anything
//! reached the host, or was reversed, never shows `07`.

use std::time::Duration;

use emv::kernel::{UiMessage, UiRequest, UiStatus, UiValue};

use super::Event;

/// How long a final message (approved, not authorised, ...) stays up.
pub const RESULT_HOLD: Duration = Duration::from_secs(3);
/// How long a "present card again" message stays up before the reader is ready again.
pub const RETRY_HOLD: Duration = Duration::from_secs(1);

impl Event {
    /// The Book A user-interface request to show for this event (`currency`: ISO 4217 numeric
    /// of the amount). `None` when the screen does not change.
    pub fn ui_request(&self, currency: u16) -> Option<UiRequest> {
        use UiMessage as M;
        use UiStatus as S;
        let request = match self {
            // The approval that follows is shown; the screen adds its own warning.
            Self::OfflineAtMerchantRisk { .. } => return None,
            // No EMV card message: the screen shows the code itself.
            Self::ShowMerchantCode { .. } | Self::RequestSent { .. } => return None,
            Self::PresentCard { amount } => UiRequest::new(M::PresentCard, S::ReadyToRead)
                .with_value(UiValue::Amount {
                    value: *amount,
                    currency,
                }),
            Self::CardRead { .. } => UiRequest::new(M::Processing, S::Processing),
            Self::RemoveCard => UiRequest::new(M::CardReadOk, S::CardReadSuccessfully),
            Self::EnterPin => UiRequest::new(M::EnterPin, S::CardReadSuccessfully),
            Self::WrongPin | Self::PinRequired | Self::TryAgain { .. } => {
                UiRequest::new(M::PresentCardAgain, S::ReadyToRead).held(RETRY_HOLD)
            }
            Self::Authorising => UiRequest::new(M::Authorising, S::CardReadSuccessfully),
            Self::Approved { .. } => UiRequest::new(M::Approved, S::Idle).held(RESULT_HOLD),
            Self::Declined { .. } => UiRequest::new(M::NotAuthorised, S::Idle).held(RESULT_HOLD),
            Self::SendingPending { .. } | Self::Reversing => {
                UiRequest::new(M::Processing, S::Processing)
            }
            Self::Aborted {
                cancelled: true, ..
            } => UiRequest::new(M::ClearDisplay, S::Idle),
            Self::Aborted { .. } | Self::Reversed { .. } => {
                UiRequest::new(M::ProcessingError, S::ProcessingError).held(RESULT_HOLD)
            }
        };
        Some(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_card_asks_ready_to_read_with_the_amount() {
        let ui = Event::PresentCard { amount: 1234 }.ui_request(978);
        let ui = ui.unwrap_or_else(|| panic!("no request"));
        assert_eq!(ui.message.id(), 0x15);
        assert_eq!(ui.status.code(), 0x02);
        assert_eq!(ui.value.qualifier(), 0x10);
        assert_eq!(
            ui.value,
            UiValue::Amount {
                value: 1234,
                currency: 978
            }
        );
    }

    #[test]
    fn nothing_but_a_decline_shows_not_authorised() {
        let not_declines = [
            Event::Aborted {
                reason: "x".into(),
                cancelled: true,
            },
            Event::Aborted {
                reason: "x".into(),
                cancelled: false,
            },
            Event::Reversed {
                reason: "x".into(),
                acknowledged: true,
            },
            Event::Reversing,
            Event::SendingPending { count: 2 },
        ];
        for event in not_declines {
            let ui = event.ui_request(978).map(|u| u.message);
            assert_ne!(ui, Some(UiMessage::NotAuthorised), "{event:?}");
        }
        let declined = Event::Declined {
            reason: "51".into(),
        }
        .ui_request(978);
        assert_eq!(declined.map(|u| u.message.id()), Some(0x07));
    }

    #[test]
    fn results_are_held_in_units_of_100_ms() {
        let ui = Event::Approved {
            auth_code: None,
            offline: false,
        }
        .ui_request(978);
        assert_eq!(ui.map(|u| u.hold_time_units()), Some(30));
    }
}

//! One builder per request type of the dialect (`docs/iso8583.md` §4), field by field. The
//! terminal's engine and the simulator's test clients both build their requests here.
//!
//! The builders take everything as arguments, the transmission time (DE 7) included
//! ([`super::transmission_date_time`]); the MAC (DE 61, DE 64/128, [`super::mac`]) is added
//! last by the link that sends the message.

use super::{BatchTotals, Message, Mti};

/// The terminal-wide fields of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal<'a> {
    /// DE 41, card acceptor terminal ID (8 characters).
    pub terminal_id: &'a str,
    /// DE 42, card acceptor ID (merchant ID; space padded to 15 characters).
    pub merchant_id: &'a str,
    /// DE 49, ISO 4217 numeric currency code (`978` EUR).
    pub currency: u16,
}

/// The card's fields of a financial request. Holds the PAN and track 2 in clear, so it has no
/// `Debug`.
#[derive(Clone, Copy, Default)]
pub struct CardData<'a> {
    /// DE 2, the PAN digits.
    pub pan: &'a str,
    /// DE 22, POS entry mode ([`POS_ENTRY_CONTACTLESS_CHIP`]).
    pub entry_mode: &'a str,
    /// DE 14, expiry `YYMM` (left out unless four characters).
    pub expiry_yymm: Option<&'a str>,
    /// DE 23 from tag `5F34` (one BCD byte).
    pub pan_sequence_number: Option<u8>,
    /// DE 35, track 2 equivalent data.
    pub track2: Option<&'a str>,
    /// DE 55, ICC data (BER-TLV).
    pub icc_data: Option<&'a [u8]>,
}

/// An online PIN: DE 62 (16-byte format-4 PIN block) and DE 63 (the PIN key's KSN). No
/// `Debug`.
#[derive(Clone, Copy)]
pub struct PinData<'a> {
    /// The encrypted PIN block.
    pub pin_block: &'a [u8],
    /// The KSN of the PIN pad's DUKPT key that encrypted it.
    pub ksn: &'a [u8],
}

/// The original transaction a void, reversal or completion names (DE 90) and whose fields it
/// repeats (DE 3, DE 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Original<'a> {
    /// The original's MTI (a repeat is named by its original MTI).
    pub mti: Mti,
    /// The original's DE 11.
    pub stan: u32,
    /// The original's DE 7.
    pub transmission: &'a str,
    /// The original's DE 3.
    pub processing: &'a str,
    /// The original's DE 4.
    pub amount: u64,
}

impl<'a> Original<'a> {
    /// The original as `message` names it, if its DE 11, DE 7, DE 3 and DE 4 are there and
    /// numeric.
    pub fn of(message: &'a Message) -> Option<Self> {
        Some(Self {
            mti: message.mti(),
            stan: message.text(11)?.parse().ok()?,
            transmission: message.text(7)?,
            processing: message.text(3)?,
            amount: message.text(4)?.parse().ok()?,
        })
    }

    /// DE 90, original data elements (`n42`): MTI ‖ DE 11 ‖ DE 7 ‖ acquiring and forwarding
    /// institution IDs (11 zeros each).
    pub fn data_elements(&self) -> String {
        format!(
            "{}{:06}{:0>10.10}{}",
            self.mti.original(),
            self.stan,
            self.transmission,
            "0".repeat(22)
        )
    }
}

/// A financial request with card data: 0100 authorization, 0200 purchase or refund, 0220/0221
/// advice of an offline approval. DE 2-4, 7, 11-14, 22, 23, 35, 41, 42, 49 and 55, and DE 62/63
/// with an online PIN.
#[allow(clippy::too_many_arguments)] // One argument per data element group of §4.
pub fn financial(
    terminal: &Terminal<'_>,
    mti: Mti,
    processing: &str,
    amount: u64,
    stan: u32,
    transmission: &str,
    card: &CardData<'_>,
    pin: Option<&PinData<'_>>,
) -> Message {
    let mut m = base(terminal, mti, processing, amount, stan, transmission)
        .with(2, card.pan)
        .with(22, card.entry_mode);
    if let Some(expiry) = card.expiry_yymm.filter(|e| e.len() == 4) {
        m.set(14, expiry);
    }
    if let Some(psn) = card.pan_sequence_number {
        m.set(23, psn_field(psn));
    }
    if let Some(track2) = card.track2 {
        m.set(35, track2);
    }
    if let Some(icc) = card.icc_data {
        m.set(55, icc.to_vec());
    }
    if let Some(pin) = pin {
        m.set(62, pin.pin_block.to_vec());
        m.set(63, pin.ksn.to_vec());
    }
    m
}

/// A zero-amount account verification ("card check", §4): a 0100 with DE 3 `000000`, DE 4
/// zero and DE 25 `51`. The host answers `85` when nothing declines the card.
pub fn account_verification(
    terminal: &Terminal<'_>,
    stan: u32,
    transmission: &str,
    card: &CardData<'_>,
    pin: Option<&PinData<'_>>,
) -> Message {
    financial(
        terminal,
        Mti::AUTHORIZATION_REQUEST,
        PROCESSING_PURCHASE,
        0,
        stan,
        transmission,
        card,
        pin,
    )
    .with(25, POS_CONDITION_ACCOUNT_VERIFICATION)
}

/// A completion of a pre-authorization: a 0220 (0221 repeat) for `amount` naming the 0100 in
/// DE 90.
#[allow(clippy::too_many_arguments)] // One argument per data element group of §4.
pub fn completion(
    terminal: &Terminal<'_>,
    mti: Mti,
    amount: u64,
    stan: u32,
    transmission: &str,
    pan: &str,
    entry_mode: &str,
    original: &Original<'_>,
) -> Message {
    base(
        terminal,
        mti,
        PROCESSING_PURCHASE,
        amount,
        stan,
        transmission,
    )
    .with(2, pan)
    .with(22, entry_mode)
    .with(90, original.data_elements())
}

/// A void of `original`: a 0200 with DE 3 `020000` (`220000` for a refund) and the original's
/// amount, naming it in DE 90.
pub fn void(
    terminal: &Terminal<'_>,
    stan: u32,
    transmission: &str,
    original: &Original<'_>,
) -> Message {
    let processing = if original.processing.starts_with(REFUND_PREFIX) {
        PROCESSING_VOID_REFUND
    } else {
        PROCESSING_VOID_PURCHASE
    };
    Message::new(Mti::FINANCIAL_REQUEST)
        .with(3, processing)
        .with(4, format!("{:012}", original.amount))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, terminal.terminal_id)
        .with(42, merchant(terminal.merchant_id))
        .with(49, format!("{:03}", terminal.currency))
        .with(90, original.data_elements())
}

/// A reversal of `original`: `mti` 0400 (0401 repeat) or 0420 (0421) with the original's DE 3
/// and DE 4 and the reversal's own DE 11 and DE 7 (the same for every repeat, §7).
pub fn reversal(
    terminal: &Terminal<'_>,
    mti: Mti,
    stan: u32,
    transmission: &str,
    original: &Original<'_>,
) -> Message {
    Message::new(mti)
        .with(3, original.processing)
        .with(4, format!("{:012}", original.amount))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, terminal.terminal_id)
        .with(42, merchant(terminal.merchant_id))
        .with(49, format!("{:03}", terminal.currency))
        .with(90, original.data_elements())
}

/// A network management request (0800): `code` is DE 70 ([`NETWORK_SIGN_ON`],
/// [`NETWORK_SIGN_OFF`], [`NETWORK_ECHO`]).
pub fn network(terminal_id: &str, stan: u32, transmission: &str, code: &str) -> Message {
    Message::new(Mti::NETWORK_REQUEST)
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, terminal_id)
        .with(70, code)
}

/// A 0500 reconciliation request: DE 7, DE 11, DE 41, DE 60 `batch` (6 digits), the totals in
/// DE 74-77 (10 digits) and 86-89 (16 digits), and the net in DE 97.
pub fn reconciliation(
    terminal_id: &str,
    stan: u32,
    transmission: &str,
    batch: u32,
    totals: &BatchTotals,
) -> Message {
    let mut m = Message::new(Mti::RECONCILIATION_REQUEST)
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, terminal_id)
        .with(60, format!("{batch:06}"));
    totals.write_into(&mut m);
    m
}

fn base(
    terminal: &Terminal<'_>,
    mti: Mti,
    processing: &str,
    amount: u64,
    stan: u32,
    transmission: &str,
) -> Message {
    Message::new(mti)
        .with(3, processing)
        .with(4, format!("{amount:012}"))
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(12, transmission.get(4..).unwrap_or("000000"))
        .with(13, transmission.get(..4).unwrap_or("0101"))
        .with(41, terminal.terminal_id)
        .with(42, merchant(terminal.merchant_id))
        .with(49, format!("{:03}", terminal.currency))
}

/// DE 23 from `5F34` (one BCD byte).
fn psn_field(psn: u8) -> String {
    format!("{:03}", u16::from(psn >> 4) * 10 + u16::from(psn & 0x0F))
}

/// DE 42 is `ans15`, left-justified and space padded.
fn merchant(id: &str) -> String {
    format!("{id:<15.15}")
}

/// DE 3 purchase.
pub const PROCESSING_PURCHASE: &str = "000000";
/// DE 3 refund.
pub const PROCESSING_REFUND: &str = "200000";
/// DE 3 void of a purchase.
pub const PROCESSING_VOID_PURCHASE: &str = "020000";
/// DE 3 void of a refund.
pub const PROCESSING_VOID_REFUND: &str = "220000";
/// DE 22: contactless chip, PIN can be entered.
pub const POS_ENTRY_CONTACTLESS_CHIP: &str = "071";
/// DE 25 `51`: account verification, no funds moved (a card check).
pub const POS_CONDITION_ACCOUNT_VERIFICATION: &str = "51";
/// DE 70 sign-on.
pub const NETWORK_SIGN_ON: &str = "001";
/// DE 70 sign-off.
pub const NETWORK_SIGN_OFF: &str = "002";
/// DE 70 echo test.
pub const NETWORK_ECHO: &str = "301";
/// The transaction type digits (first two of DE 3) of a refund.
const REFUND_PREFIX: &str = "20";

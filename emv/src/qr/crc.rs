//! The checksum of an EMVCo merchant-presented code (EMV QRCPS MPM §4.7.3, data object `63`):
//! CRC-16/CCITT-FALSE (also catalogued as CRC-16/IBM-3740: polynomial `0x1021`, initial value
//! `0xFFFF`, no reflection, no final XOR), over the UTF-8 bytes of the whole code up to and
//! including the CRC object's ID and length (`6304`), written as four upper-case hex digits.

use crc::{CRC_16_IBM_3740, Crc};

/// The CRC object's ID and length, which the checksum covers.
pub const CRC_PREFIX: &str = "6304";

/// CRC-16/CCITT-FALSE of `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    CCITT_FALSE.checksum(bytes)
}

/// Appends the CRC object (`6304` and the checksum of everything before it, `6304` included)
/// to `payload`, which must hold every other object of the code.
pub fn append_crc(payload: &mut String) {
    payload.push_str(CRC_PREFIX);
    let crc = crc16(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
}

/// The checksum a whole code (ending in `6304` and four hex digits) states, and the one its
/// contents give, or `None` when it does not end in a CRC object.
pub fn stated_and_computed(code: &str) -> Option<(u16, u16)> {
    let split = code.len().checked_sub(4)?;
    let (covered, stated) = (code.get(..split)?, code.get(split..)?);
    if !covered.ends_with(CRC_PREFIX) || !stated.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let stated = u16::from_str_radix(stated, 16).ok()?;
    Some((stated, crc16(covered.as_bytes())))
}

const CCITT_FALSE: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

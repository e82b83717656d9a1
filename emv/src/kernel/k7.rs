//! Kernel 7, UnionPay QuickPass qUICS (EMV Contactless Book C-7; shared docs §2.1 "Kernel 7
//! differences"). The flow is the one of Kernel 3 ([`super::k3`], `Scheme::UnionPay`); what
//! differs lives here:
//! - the FCI must carry a PDOL (checked at kernel activation);
//! - fDDA only, and `9F69` byte 1 (the fDDA version) must be `01`;
//! - the TTQ uses the qPBOC layout: byte 1 `40` contactless debit/credit, `20` qUICS, `10`
//!   contact, `08` offline only, `04` online PIN, `02` signature; byte 4 `80` fDDA version 01.
//!   The bits the kernel reads (online PIN, signature, byte 2 CVM required / online cryptogram
//!   required) sit where Kernel 3 has them, so CVM selection is shared.

/// qUICS fDDA: only version `01` of the card authentication related data is supported.
pub(crate) fn fdda_version_supported(card_authentication_related_data: &[u8]) -> bool {
    card_authentication_related_data.first() == Some(&FDDA_VERSION_01)
}

/// TTQ byte 4 b8 in the qPBOC layout: fDDA version 01 supported.
pub(crate) const TTQ4_FDDA_01: u8 = 0x80;

const FDDA_VERSION_01: u8 = 0x01;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fdda_version_01() {
        assert!(fdda_version_supported(&[0x01, 0xAA]));
        assert!(!fdda_version_supported(&[0x00, 0xAA]));
        assert!(!fdda_version_supported(&[]));
        assert_eq!(TTQ4_FDDA_01, 0x80);
    }
}

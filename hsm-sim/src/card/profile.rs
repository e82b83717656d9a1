//! Card personalizations: what each virtual card holds (EMV Book 3 §5, Annex A; shared docs
//! `emv-qr-facts.md` §1-2 and §5).
//!
//! Every profile is a test card: Luhn-valid test PANs, expiry 2812, PSN 01, and an ICC master
//! key derived from the simulated issuer's IMK-AC ([`crate::hsm::test_keys`]) so that the host
//! verifies its cryptograms. Values marked **[M]** follow common card dumps and were not checked
//! against a scheme specification.

use core::fmt;

use emv::crypto::cryptogram::CryptogramVersion;
use emv::tlv::{self, Tag};

mod catalogue;

pub(crate) use catalogue::afl_of;
use catalogue::*;
pub use catalogue::{HOSTILE_CARDHOLDER_NAME, HOSTILE_LABEL};

/// A card personalization (a profile). Build one with [`Profile::by_name`] or list them with
/// [`Profile::all`]. `Debug` masks the PAN.
#[derive(Clone)]
pub struct Profile {
    name: &'static str,
    description: &'static str,
    scheme: Scheme,
    consumer_device: bool,
    fault: Option<Fault>,
    aid: &'static [u8],
    label: &'static str,
    pan: &'static str,
    expiry: &'static str,
    effective: &'static str,
    psn: u8,
    initial_atc: u16,
    aip: [u8; 2],
    pdol: &'static [u8],
    cdol1: &'static [u8],
    issuer_country: [u8; 2],
    form_factor: Option<[u8; 4]>,
    card_cvm_limit: Option<[u8; 6]>,
    offline_spending_limit: Option<u64>,
    icc_key_number: usize,
    legacy_oda: Option<LegacyOda>,
}

/// The contact-era ODA method of a legacy profile (`legacy-sda`, `legacy-dda`).
///
/// Contactless Kernels 2, 3 and 7 never run SDA or DDA (shared docs §2.3: fDDA or CDA only),
/// so a payment tap of these cards ends with "ODA not performed". They exist for paths that
/// legitimately run the contact methods (a tester's report, the `emv::oda` SDA/DDA code):
/// the card data verify with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyOda {
    /// SDA (EMV Book 2 §5): AIP byte 1 `40`; the records hold the issuer certificate and the
    /// signed static application data `93` (data authentication code `DAC1`).
    Sda,
    /// DDA (EMV Book 2 §6): AIP byte 1 `20`, the DDOL `9F49` = `9F3704`; no fDDA data in GPO;
    /// INTERNAL AUTHENTICATE (Book 3 §6.5.9) answers `80` with the signed dynamic data.
    Dda,
}

/// The payment scheme, which fixes the kernel the terminal uses and the card's flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Visa qVSDC (EMV Book C-3, Kernel 3): cryptogram in the GPO response.
    Visa,
    /// Mastercard M/Chip (EMV Book C-2, Kernel 2): GENERATE AC after the records.
    Mastercard,
    /// UnionPay qUICS (EMV Book C-7, Kernel 7): cryptogram in the GPO response.
    UnionPay,
}

/// A deliberate defect, for the terminal's error-path tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The GPO response's `77` template ends inside a tag (a lone `9F` counted in its length).
    TruncatedTlv,
    /// Record SFI 1 #1 ends with a `5A` whose length (`20`) runs past the end of the record.
    LengthPastEnd,
    /// Record SFI 1 #1 holds `5A` twice (EMV Book 3 §10.2: the terminal must terminate).
    DuplicateTags,
    /// SELECT of the AID listed in the PPSE answers `6A82`.
    SelectNotFound,
    /// GET PROCESSING OPTIONS answers `6985` (conditions of use not satisfied).
    GpoConditionsNotSatisfied,
    /// The card answers GPO and then leaves the field: the in-process transport returns
    /// `TransportError::CardRemoved`, and over vpcd the connection is closed.
    VanishAfterGpo,
    /// ODA (Visa, fDDA): the issuer public key certificate (`90`) expired at the end of
    /// December 2020, otherwise correctly signed. EMV Book 2 §5.3 step 9: the certificate
    /// expiration date is earlier than today, so ODA fails.
    ExpiredIssuerCertificate,
    /// ODA (UnionPay, fDDA): `8F` names CA public key index `D1`, which no terminal holds for
    /// the RID; the certificates are signed by the simulator CA `D0`. EMV Book 2 §5.2 / §6.2:
    /// the CA public key cannot be retrieved, so ODA fails.
    UnknownCaIndex,
    /// ODA (Mastercard, CDA): a record flagged for ODA changed after the issuer signed the ICC
    /// public key certificate over the static data (the effective date `5F25` reads 200101
    /// instead of the signed 210101). EMV Book 2 §6.4 step 7: the hash does not match.
    TamperedRecord,
    /// ODA (Visa, fDDA): the signed dynamic application data (`9F4B`) covers another card
    /// unpredictable number than the one `9F69` returns. EMV Book 2 §6.5.2 step 7: the hash
    /// does not match.
    BadFddaSignature,
    /// ODA (Mastercard, CDA): the transaction data hash code inside the CDA signature covers
    /// CDOL1 data with another amount (`9F02`) than the terminal sent. EMV Book 2 §6.6.2: the
    /// transaction data hash code the terminal computes does not match the signed one.
    CdaWrongAmount,
    /// Card risk management (Visa, `visa-offline`): the card answers a TC (`9F27` = `40`) even
    /// when the reader's TTQ asks for an online cryptogram (byte 2 bit 8), as long as the
    /// amount fits its available offline spending amount. The TC and the fDDA signature are
    /// otherwise real; EMV Book C-3 §5.4 forbids it, so the terminal must not trust it beyond
    /// its own offline limits.
    TcDespiteOnlineRequest,
    /// Hostile card text (`hostile-text`, otherwise the Visa card): the application label
    /// (`50`) and preferred name (`9F12`) carry terminal escape sequences, C0/C1 controls and a
    /// bidi override, and the cardholder name (`5F20`) is a spreadsheet formula. The terminal
    /// must show none of it as such (console, receipts, history, CSV export).
    HostileText,
}

impl Fault {
    /// Whether the fault is in the offline data authentication data only (the `oda-*`
    /// profiles): the card otherwise behaves like its good twin.
    pub fn is_oda_fault(self) -> bool {
        matches!(
            self,
            Self::ExpiredIssuerCertificate
                | Self::UnknownCaIndex
                | Self::TamperedRecord
                | Self::BadFddaSignature
                | Self::CdaWrongAmount
        )
    }
}

/// One record of the card's files, as READ RECORD returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Short file identifier (1-30).
    pub sfi: u8,
    /// Record number in the file (1-255).
    pub number: u8,
    /// Whether the record takes part in offline data authentication (AFL byte 4).
    pub offline_data_authentication: bool,
    /// The whole READ RECORD response data: the `70` template.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Record {
    // Records hold the PAN and track 2: print the location and size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Record(SFI {} #{}, {} bytes)",
            self.sfi,
            self.number,
            self.bytes.len()
        )
    }
}

impl Profile {
    /// The names of every profile, in the order [`Profile::all`] returns them.
    pub fn names() -> &'static [&'static str] {
        NAMES
    }

    /// Every profile.
    pub fn all() -> Vec<Self> {
        NAMES
            .iter()
            .filter_map(|name| Self::by_name(name))
            .collect()
    }

    /// The profile called `name` (`visa`, `mastercard`, `unionpay`, `wallet`, or a fault
    /// profile such as `gpo-6985`), or `None`.
    pub fn by_name(name: &str) -> Option<Self> {
        let profile = match name {
            "visa" => visa(),
            "visa-offline" => visa_offline(),
            "mastercard" => mastercard(),
            "unionpay" => unionpay(),
            "wallet" => wallet(),
            "wallet-mastercard" => mastercard_wallet(),
            "legacy-sda" => legacy(LegacyOda::Sda),
            "legacy-dda" => legacy(LegacyOda::Dda),
            "truncated-tlv" => faulty("truncated-tlv", Fault::TruncatedTlv),
            "length-past-end" => faulty("length-past-end", Fault::LengthPastEnd),
            "duplicate-tags" => faulty("duplicate-tags", Fault::DuplicateTags),
            "select-6a82" => faulty("select-6a82", Fault::SelectNotFound),
            "gpo-6985" => faulty("gpo-6985", Fault::GpoConditionsNotSatisfied),
            "vanish-after-gpo" => faulty("vanish-after-gpo", Fault::VanishAfterGpo),
            "oda-expired-issuer-cert" => {
                faulty("oda-expired-issuer-cert", Fault::ExpiredIssuerCertificate)
            }
            "oda-unknown-ca-index" => faulty("oda-unknown-ca-index", Fault::UnknownCaIndex),
            "oda-tampered-record" => faulty("oda-tampered-record", Fault::TamperedRecord),
            "oda-bad-fdda-signature" => faulty("oda-bad-fdda-signature", Fault::BadFddaSignature),
            "oda-cda-wrong-amount" => faulty("oda-cda-wrong-amount", Fault::CdaWrongAmount),
            "tc-despite-online" => faulty("tc-despite-online", Fault::TcDespiteOnlineRequest),
            "hostile-text" => faulty("hostile-text", Fault::HostileText),
            _ => return None,
        };
        Some(profile)
    }

    /// The profile name (what `hsm-sim card --profile` takes).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A one-line description.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The payment scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The deliberate defect, if this is a fault profile.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// Whether the card is a phone wallet that performs consumer-device CVM.
    pub fn is_consumer_device(&self) -> bool {
        self.consumer_device
    }

    /// The application identifier (`4F`/`84`).
    pub fn aid(&self) -> &'static [u8] {
        self.aid
    }

    /// The registered application provider identifier: the first five bytes of the AID.
    pub fn rid(&self) -> &'static [u8] {
        self.aid.get(..5).unwrap_or(self.aid)
    }

    /// The application label (`50`).
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The full PAN digits. Test PANs only; still, never log them: use [`Profile::masked_pan`].
    pub fn pan_digits(&self) -> &'static str {
        self.pan
    }

    /// The PAN masked as first 6 + last 4 (PCI DSS 3.4.1), e.g. `476173******0119`.
    pub fn masked_pan(&self) -> String {
        mask_pan(self.pan)
    }

    /// Expiry date as `YYMM` (`5F24` holds `YYMMDD` with the last day of the month).
    pub fn expiry(&self) -> &'static str {
        self.expiry
    }

    /// The PAN sequence number (`5F34`).
    pub fn pan_sequence_number(&self) -> u8 {
        self.psn
    }

    /// The ATC before the first tap in this process; the first GPO answers with this plus one.
    pub fn initial_atc(&self) -> u16 {
        self.initial_atc
    }

    /// The application interchange profile (`82`).
    pub fn aip(&self) -> [u8; 2] {
        self.aip
    }

    /// The PDOL (`9F38`), empty if the card has none.
    pub fn pdol(&self) -> &'static [u8] {
        self.pdol
    }

    /// CDOL1 (`8C`), empty for cards that make their cryptogram in the GPO response.
    pub fn cdol1(&self) -> &'static [u8] {
        self.cdol1
    }

    /// The cryptogram version the card uses (also in its IAD, `9F10`).
    ///
    /// Visa and the wallet use CVN 18 (`12`), Mastercard CVN 16 (`10`), UnionPay the EMV common
    /// session key.
    pub fn cryptogram_version(&self) -> CryptogramVersion {
        match self.scheme {
            Scheme::Visa => CryptogramVersion::VisaCvn18,
            Scheme::Mastercard => CryptogramVersion::MastercardCvn16,
            Scheme::UnionPay => CryptogramVersion::EmvCsk,
        }
    }

    /// The kernel identifier (`9F2A`) the PPSE lists: 2 Mastercard, 3 Visa, 7 UnionPay
    /// (EMV Book B Table 3-6).
    pub fn kernel_id(&self) -> u8 {
        match self.scheme {
            Scheme::Visa => 0x03,
            Scheme::Mastercard => 0x02,
            Scheme::UnionPay => 0x07,
        }
    }

    /// Track 2 equivalent data (`57`): PAN `D` YYMM service code `201` discretionary data,
    /// `F`-padded to whole bytes (EMV Book 3 Annex A).
    pub fn track2(&self) -> Vec<u8> {
        let digits = format!("{}D{}201{}", self.pan, self.expiry, TRACK2_DISCRETIONARY);
        nibbles(&digits)
    }

    /// The card's records, in AFL order: the card data (flagged for offline data
    /// authentication), then the certificate records of SFI 3 signed with the simulator PKI
    /// (EMV Book 2 §5.3, §6.3). The certificates are signed once per profile and process.
    pub fn records(&self) -> Vec<Record> {
        super::engine::personalized_records(self).to_vec()
    }

    /// Builds the records, signing the certificates (a few milliseconds).
    ///
    /// Fault `oda-tampered-record`: the certificates are signed over the records of the
    /// effective date [`SIGNED_EFFECTIVE_DATE`], and the card then serves records with
    /// [`TAMPERED_EFFECTIVE_DATE`].
    pub(crate) fn build_records(&self) -> Vec<Record> {
        let signed = self.data_records();
        let certificates = match super::oda::certificate_records(self, &signed) {
            Ok(certificates) => certificates,
            Err(e) => {
                tracing::warn!(profile = self.name, "no ODA records: {e}");
                Vec::new()
            }
        };
        let mut records = if self.fault == Some(Fault::TamperedRecord) {
            Self {
                effective: TAMPERED_EFFECTIVE_DATE,
                ..self.clone()
            }
            .data_records()
        } else {
            signed
        };
        records.extend(certificates);
        records
    }

    fn data_records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        let pan = nibbles(self.pan);
        let expiry = nibbles(&format!("{}{}", self.expiry, last_day(self.expiry)));
        let effective = nibbles(self.effective);
        // The PAN leads the card-data record; the faults change it (a duplicate 5A, or a 5A
        // moved to the end of the record with a length that runs past it).
        let mut pan_objects = tlv::encode_primitive(Tag::new(0x5A), &pan);
        let mut trailer = Vec::new();
        match self.fault {
            Some(Fault::DuplicateTags) => {
                pan_objects.extend(tlv::encode_primitive(Tag::new(0x5A), &pan))
            }
            Some(Fault::LengthPastEnd) => {
                trailer = [&[0x5A, 0x20][..], &pan].concat();
                pan_objects.clear();
            }
            _ => {}
        }
        match self.scheme {
            Scheme::Visa | Scheme::UnionPay => {
                let mut body = pan_objects;
                body.extend(tlv::encode_primitive(Tag::new(0x5F24), &expiry));
                body.extend(tlv::encode_primitive(Tag::new(0x5F25), &effective));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x5F28),
                    &self.issuer_country,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F07),
                    &APPLICATION_USAGE_CONTROL,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F08),
                    &APPLICATION_VERSION,
                ));
                if self.fault == Some(Fault::HostileText) {
                    body.extend(tlv::encode_primitive(
                        Tag::new(0x5F20),
                        HOSTILE_CARDHOLDER_NAME.as_bytes(),
                    ));
                }
                body.extend(trailer);
                records.push(record(1, 1, true, &body));
            }
            Scheme::Mastercard => {
                records.push(record(
                    1,
                    1,
                    true,
                    &tlv::encode_primitive(Tag::new(0x57), &self.track2()),
                ));
                let mut body = pan_objects;
                body.extend(tlv::encode_primitive(Tag::new(0x5F24), &expiry));
                body.extend(tlv::encode_primitive(Tag::new(0x5F25), &effective));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x5F28),
                    &self.issuer_country,
                ));
                body.extend(tlv::encode_primitive(Tag::new(0x5F34), &[self.psn]));
                body.extend(tlv::encode_primitive(Tag::new(0x8C), self.cdol1));
                body.extend(tlv::encode_primitive(Tag::new(0x8D), MASTERCARD_CDOL2));
                body.extend(tlv::encode_primitive(Tag::new(0x8E), MASTERCARD_CVM_LIST));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F07),
                    &APPLICATION_USAGE_CONTROL,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F08),
                    &MASTERCARD_APPLICATION_VERSION,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F0D),
                    &MASTERCARD_IAC_DEFAULT,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F0E),
                    &MASTERCARD_IAC_DENIAL,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F0F),
                    &MASTERCARD_IAC_ONLINE,
                ));
                body.extend(tlv::encode_primitive(
                    Tag::new(0x9F42),
                    &self.issuer_country_currency(),
                ));
                body.extend(trailer);
                records.push(record(2, 1, true, &body));
            }
        }
        records
    }

    /// The application file locator (`94`) built from [`Profile::records`]: one 4-byte entry per
    /// SFI (SFI << 3, first, last, number of ODA records), EMV Book 3 §10.2.
    pub fn afl(&self) -> Vec<u8> {
        afl_of(&self.records())
    }

    /// The application currency code (`9F42`): the currency of the issuer's country.
    fn issuer_country_currency(&self) -> [u8; 2] {
        match self.issuer_country {
            [0x01, 0x56] => [0x01, 0x56],
            [0x08, 0x26] => [0x08, 0x26],
            _ => [0x08, 0x40],
        }
    }

    /// Which of its scheme's simulator ICC key pairs the card uses.
    pub(crate) fn icc_key_number(&self) -> usize {
        self.icc_key_number
    }

    /// The contact-era ODA method of a legacy profile, `None` for the others.
    pub fn legacy_oda(&self) -> Option<LegacyOda> {
        self.legacy_oda
    }

    /// The form factor indicator (`9F6E`), Visa only.
    pub(crate) fn form_factor(&self) -> Option<[u8; 4]> {
        self.form_factor
    }

    /// The card's own CVM limit as a BCD amount (`9F02` format), if it has one.
    pub(crate) fn card_cvm_limit(&self) -> Option<[u8; 6]> {
        self.card_cvm_limit
    }

    /// The card's initial available offline spending amount (`9F5D`, Visa VCPS; shared docs
    /// §2.1) in minor units, if the card approves offline at all.
    pub fn offline_spending_limit(&self) -> Option<u64> {
        self.offline_spending_limit
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field("pan", &self.masked_pan())
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

/// Masks a PAN for display with the workspace's one masker (`emv::pan::MaskedPan`): at most
/// the first 6 and the last 4 digits, at least 4 hidden (PCI DSS 3.4.1).
pub fn mask_pan(pan: &str) -> String {
    emv::pan::MaskedPan::from_digits(pan).to_string()
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn track2_is_packed_and_padded() {
        let visa = Profile::by_name("visa").unwrap();
        assert_eq!(
            visa.track2(),
            hex!("4761739001010119D28122010000000000000F")
        );
    }

    #[test]
    fn pans_are_masked() {
        assert_eq!(mask_pan("4761739001010119"), "476173******0119");
        assert_eq!(mask_pan("476173900101"), "4761****0101");
        assert_eq!(mask_pan("12345"), "****5");
        assert!(!format!("{:?}", Profile::by_name("visa").unwrap()).contains("9001010"));
    }

    #[test]
    fn every_name_has_a_profile_with_a_luhn_valid_pan() {
        assert_eq!(Profile::all().len(), Profile::names().len());
        for profile in Profile::all() {
            assert!(luhn(profile.pan_digits()), "{}", profile.name());
            assert_eq!(
                Profile::by_name(profile.name()).map(|p| p.name()),
                Some(profile.name())
            );
        }
        assert!(Profile::by_name("amex").is_none());
    }

    #[test]
    fn afl_lists_every_record() {
        // Card data flagged for ODA, then the three certificate records of SFI 3.
        let mc = Profile::by_name("mastercard").unwrap();
        assert_eq!(mc.afl(), hex!("08010101 10010101 18010300"));
        assert_eq!(
            Profile::by_name("visa").unwrap().afl(),
            hex!("08010101 18010300")
        );
    }

    #[test]
    fn expiry_is_the_last_day_of_the_month() {
        assert_eq!(last_day("2812"), "31");
        assert_eq!(last_day("2802"), "29");
        assert_eq!(last_day("2702"), "28");
        assert_eq!(last_day("2811"), "30");
    }

    fn luhn(pan: &str) -> bool {
        let sum: u32 = pan
            .chars()
            .rev()
            .filter_map(|c| c.to_digit(10))
            .enumerate()
            .map(|(i, d)| {
                if i % 2 == 1 {
                    if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
                } else {
                    d
                }
            })
            .sum();
        sum.is_multiple_of(10)
    }
}

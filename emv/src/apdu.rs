//! Command and response APDUs (ISO/IEC 7816-4 §5) and status words.
//!
//! Commands are values built by small named functions, one per EMV command, each citing its
//! specification section. The byte layout lives in one place, [`Command::serialize`].
//!
//! A command's data field may be marked sensitive at construction (for example a VERIFY with a
//! PIN block, or a GENERATE AC whose CDOL data carries the amount and unpredictable number in a
//! trace that we do not want to keep). Sensitive data is zeroized on drop and its `Debug` form
//! is redacted, so a trace made from `{:?}` never shows it.

use core::fmt;

use zeroize::Zeroizing;

/// A command APDU, short form (Lc and Le of one byte each), as contactless EMV uses.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// The data field (Lc is its length).
    pub data: Data,
    /// Expected response length: `None` for no Le, `Some(0)` for "up to 256 bytes".
    pub le: Option<u8>,
}

/// A command's data field, plain or sensitive.
#[derive(Clone, PartialEq, Eq)]
pub enum Data {
    /// Data that may be traced in full.
    Plain(Vec<u8>),
    /// Data that must never be traced or logged; zeroized on drop.
    Sensitive(Zeroizing<Vec<u8>>),
}

impl Data {
    /// The bytes of the data field.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Plain(bytes) => bytes,
            Self::Sensitive(bytes) => bytes,
        }
    }

    /// Whether the data field is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(bytes) => write!(f, "{}", hex::encode_upper(bytes)),
            Self::Sensitive(bytes) => write!(f, "REDACTED({} bytes)", bytes.len()),
        }
    }
}

impl Command {
    /// A command with a plain data field.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8>) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Data::Plain(data),
            le,
        }
    }

    /// A command whose data field must never be traced.
    pub fn new_sensitive(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8>) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Data::Sensitive(Zeroizing::new(data)),
            le,
        }
    }

    /// EMV Book 1 §11.3 SELECT by name (P1 `04`, first or only occurrence).
    pub fn select_by_name(name: &[u8]) -> Self {
        Self::new(0x00, INS_SELECT, 0x04, 0x00, name.to_vec(), Some(0))
    }

    /// EMV Book 1 §11.3 SELECT by name, next occurrence (P2 `02`).
    pub fn select_next_by_name(name: &[u8]) -> Self {
        Self::new(0x00, INS_SELECT, 0x04, 0x02, name.to_vec(), Some(0))
    }

    /// EMV Book 3 §6.5.8 GET PROCESSING OPTIONS, with the PDOL related data already wrapped in
    /// the command template `83`.
    pub fn get_processing_options(command_template: Vec<u8>) -> Self {
        Self::new(
            0x80,
            INS_GET_PROCESSING_OPTIONS,
            0x00,
            0x00,
            command_template,
            Some(0),
        )
    }

    /// EMV Book 3 §6.5.11 READ RECORD: `record` in short file `sfi` (1-30).
    pub fn read_record(sfi: u8, record: u8) -> Self {
        Self::new(
            0x00,
            INS_READ_RECORD,
            record,
            (sfi << 3) | 0x04,
            Vec::new(),
            Some(0),
        )
    }

    /// EMV Book 3 §6.5.5 GENERATE APPLICATION CRYPTOGRAM. `reference_control` is P1: the
    /// cryptogram type requested (`00` AAC, `40` TC, `80` ARQC), or'ed with `10` to request CDA.
    pub fn generate_ac(reference_control: u8, cdol_data: Vec<u8>) -> Self {
        Self::new(
            0x80,
            INS_GENERATE_AC,
            reference_control,
            0x00,
            cdol_data,
            Some(0),
        )
    }

    /// EMV Book 3 §6.5.9 INTERNAL AUTHENTICATE with the DDOL related data.
    pub fn internal_authenticate(ddol_data: Vec<u8>) -> Self {
        Self::new(
            0x00,
            INS_INTERNAL_AUTHENTICATE,
            0x00,
            0x00,
            ddol_data,
            Some(0),
        )
    }

    /// EMV Book 3 §6.5.7 GET DATA for a primitive data object such as the ATC (`9F36`).
    pub fn get_data(tag: u16) -> Self {
        let [p1, p2] = tag.to_be_bytes();
        Self::new(0x80, INS_GET_DATA, p1, p2, Vec::new(), Some(0))
    }

    /// ISO/IEC 7816-4 §7.6.1 GET RESPONSE, to fetch `length` bytes after a `61xx` status.
    pub fn get_response(length: u8) -> Self {
        Self::new(0x00, INS_GET_RESPONSE, 0x00, 0x00, Vec::new(), Some(length))
    }

    /// The same command with another Le, for a resend after a `6Cxx` status.
    pub fn with_le(&self, le: u8) -> Self {
        Self {
            le: Some(le),
            ..self.clone()
        }
    }

    /// The command's bytes: `CLA INS P1 P2 [Lc data] [Le]` (ISO/IEC 7816-4 §5.1, short form).
    ///
    /// Data longer than 255 bytes cannot be sent in short form; it is truncated by no caller in
    /// this crate because every command builder above takes data from DOLs that are bounded
    /// below 256 bytes. [`Command::try_serialize`] reports the error instead.
    pub fn serialize(&self) -> Vec<u8> {
        self.try_serialize().unwrap_or_default()
    }

    /// The command's bytes, or an error when the data field does not fit the short form.
    pub fn try_serialize(&self) -> Result<Vec<u8>, ApduError> {
        let data = self.data.as_bytes();
        let mut out = Vec::with_capacity(data.len() + 6);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !data.is_empty() {
            let lc = u8::try_from(data.len()).map_err(|_| ApduError::DataTooLong(data.len()))?;
            out.push(lc);
            out.extend_from_slice(data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        Ok(out)
    }

    /// Whether the data field is sensitive (never to be traced).
    pub fn is_sensitive(&self) -> bool {
        matches!(self.data, Data::Sensitive(_))
    }

    /// A one-line description for traces: the header, Lc and either the data in hex or
    /// `REDACTED` for sensitive data.
    pub fn trace_line(&self) -> String {
        format!(
            "{:02X} {:02X} {:02X} {:02X} Lc={} {:?}{}",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.as_bytes().len(),
            self.data,
            self.le
                .map(|le| format!(" Le={le:02X}"))
                .unwrap_or_default(),
        )
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.trace_line())
    }
}

/// A response APDU: the data field and the status word.
///
/// Response data may hold a PAN or track 2, so `Debug` prints only its length and the status
/// word. Print response data through the tag dictionary, which masks sensitive values.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The response data field (may be empty).
    pub data: Zeroizing<Vec<u8>>,
    /// The status word SW1-SW2.
    pub status: StatusWord,
}

impl Response {
    /// A response from its data and status word.
    pub fn new(data: Vec<u8>, status: StatusWord) -> Self {
        Self {
            data: Zeroizing::new(data),
            status,
        }
    }

    /// Parses `data ‖ SW1 ‖ SW2`. Fewer than two bytes is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ApduError> {
        let split = bytes
            .len()
            .checked_sub(2)
            .ok_or(ApduError::ResponseTooShort(bytes.len()))?;
        let (data, sw) = bytes.split_at(split);
        Ok(Self::new(
            data.to_vec(),
            StatusWord::from(u16::from_be_bytes([sw[0], sw[1]])),
        ))
    }

    /// `data ‖ SW1 ‖ SW2`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.status.code().to_be_bytes());
        out
    }

    /// Whether the status word is `9000`.
    pub fn is_success(&self) -> bool {
        self.status == StatusWord::Success
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Response({} bytes, SW {:04X})",
            self.data.len(),
            self.status.code()
        )
    }
}

/// Errors in building or parsing an APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    /// A response must carry at least SW1 and SW2.
    #[error("response APDU of {0} bytes is shorter than a status word")]
    ResponseTooShort(usize),
    /// Short-form APDUs carry at most 255 data bytes.
    #[error("command data of {0} bytes does not fit a short APDU")]
    DataTooLong(usize),
}

/// Status words SW1-SW2 that the kernel acts on (ISO/IEC 7816-4 §5.6, EMV Book 3 Annex A4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusWord {
    /// `9000` normal processing.
    Success,
    /// `61xx`: `xx` more bytes are available with GET RESPONSE.
    BytesRemaining(u8),
    /// `6283` selected file deactivated (application blocked).
    SelectedFileDeactivated,
    /// `6300` authentication failed.
    AuthenticationFailed,
    /// `63Cx` verification failed, `x` tries left.
    VerificationFailed(u8),
    /// `6700` wrong length.
    WrongLength,
    /// `6983` authentication method blocked.
    AuthenticationMethodBlocked,
    /// `6984` referenced data invalidated.
    ReferencedDataInvalidated,
    /// `6985` conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `6986` command not allowed (no current EF).
    CommandNotAllowed,
    /// `6A81` function not supported.
    FunctionNotSupported,
    /// `6A82` file or application not found.
    FileNotFound,
    /// `6A83` record not found.
    RecordNotFound,
    /// `6A86` incorrect parameters P1-P2.
    IncorrectP1P2,
    /// `6A88` referenced data not found.
    ReferencedDataNotFound,
    /// `6Cxx` wrong Le: resend with Le = `xx`.
    WrongLe(u8),
    /// `6D00` instruction not supported.
    InstructionNotSupported,
    /// `6E00` class not supported.
    ClassNotSupported,
    /// `6F00` no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other status word.
    Other(u16),
}

impl StatusWord {
    /// The two-byte code.
    pub fn code(self) -> u16 {
        match self {
            Self::Success => 0x9000,
            Self::BytesRemaining(n) => 0x6100 | u16::from(n),
            Self::SelectedFileDeactivated => 0x6283,
            Self::AuthenticationFailed => 0x6300,
            Self::VerificationFailed(n) => 0x63C0 | u16::from(n & 0x0F),
            Self::WrongLength => 0x6700,
            Self::AuthenticationMethodBlocked => 0x6983,
            Self::ReferencedDataInvalidated => 0x6984,
            Self::ConditionsNotSatisfied => 0x6985,
            Self::CommandNotAllowed => 0x6986,
            Self::FunctionNotSupported => 0x6A81,
            Self::FileNotFound => 0x6A82,
            Self::RecordNotFound => 0x6A83,
            Self::IncorrectP1P2 => 0x6A86,
            Self::ReferencedDataNotFound => 0x6A88,
            Self::WrongLe(n) => 0x6C00 | u16::from(n),
            Self::InstructionNotSupported => 0x6D00,
            Self::ClassNotSupported => 0x6E00,
            Self::NoPreciseDiagnosis => 0x6F00,
            Self::Other(code) => code,
        }
    }
}

impl From<u16> for StatusWord {
    fn from(code: u16) -> Self {
        let [sw1, sw2] = code.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Self::Success,
            (0x61, n) => Self::BytesRemaining(n),
            (0x62, 0x83) => Self::SelectedFileDeactivated,
            (0x63, 0x00) => Self::AuthenticationFailed,
            (0x63, n) if n & 0xF0 == 0xC0 => Self::VerificationFailed(n & 0x0F),
            (0x67, 0x00) => Self::WrongLength,
            (0x69, 0x83) => Self::AuthenticationMethodBlocked,
            (0x69, 0x84) => Self::ReferencedDataInvalidated,
            (0x69, 0x85) => Self::ConditionsNotSatisfied,
            (0x69, 0x86) => Self::CommandNotAllowed,
            (0x6A, 0x81) => Self::FunctionNotSupported,
            (0x6A, 0x82) => Self::FileNotFound,
            (0x6A, 0x83) => Self::RecordNotFound,
            (0x6A, 0x86) => Self::IncorrectP1P2,
            (0x6A, 0x88) => Self::ReferencedDataNotFound,
            (0x6C, n) => Self::WrongLe(n),
            (0x6D, 0x00) => Self::InstructionNotSupported,
            (0x6E, 0x00) => Self::ClassNotSupported,
            (0x6F, 0x00) => Self::NoPreciseDiagnosis,
            _ => Self::Other(code),
        }
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.code())
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.code())
    }
}

const INS_SELECT: u8 = 0xA4;
const INS_GET_PROCESSING_OPTIONS: u8 = 0xA8;
const INS_READ_RECORD: u8 = 0xB2;
const INS_GENERATE_AC: u8 = 0xAE;
const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;
const INS_GET_DATA: u8 = 0xCA;
const INS_GET_RESPONSE: u8 = 0xC0;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn status_words_round_trip() {
        for code in 0..=u16::MAX {
            assert_eq!(StatusWord::from(code).code(), code, "{code:04X}");
        }
    }

    /// The SELECT PPSE command from EMV Book B §3.3.2.2 (see shared docs §1.1).
    #[test]
    fn select_ppse_bytes() {
        let cmd = Command::select_by_name(b"2PAY.SYS.DDF01");
        assert_eq!(
            cmd.serialize(),
            hex!("00A404000E325041592E5359532E444446303100")
        );
    }

    #[test]
    fn read_record_encodes_sfi_in_p2() {
        assert_eq!(Command::read_record(2, 3).serialize(), hex!("00B2031400"));
    }

    #[test]
    fn sensitive_data_is_redacted_in_debug() {
        let cmd = Command::new_sensitive(0x00, 0x20, 0x00, 0x80, vec![0x24, 0x12, 0x34], None);
        let shown = format!("{cmd:?}");
        assert!(shown.contains("REDACTED"), "{shown}");
        assert!(!shown.contains("1234"), "{shown}");
    }

    #[test]
    fn response_parsing() {
        let r = Response::from_bytes(&hex!("6F009000")).unwrap();
        assert!(r.is_success());
        assert_eq!(&r.data[..], &hex!("6F00"));
        assert_eq!(
            Response::from_bytes(&[0x90]),
            Err(ApduError::ResponseTooShort(1))
        );
        assert!(!format!("{r:?}").contains("6F00"));
    }

    #[test]
    fn oversized_data_is_an_error() {
        let cmd = Command::new(0x80, 0xAE, 0x80, 0x00, vec![0; 256], Some(0));
        assert_eq!(cmd.try_serialize(), Err(ApduError::DataTooLong(256)));
    }
}

//! Entry Point (EMV Contactless Book B v2.x): pre-processing, the PPSE, the candidate list and
//! kernel selection. Pure functions: the driver in [`crate::kernel`] sends the commands.
//!
//! - [`pre_process`] (Book B §3.1.1) runs per AID-kernel combination before the PPSE. The three
//!   limit comparisons differ (shared docs §0.2) and have one function each:
//!   [`transaction_limit_reached`] (amount ≥ limit), [`floor_limit_exceeded`] (amount > limit),
//!   [`cvm_required_limit_reached`] (amount ≥ limit).
//! - [`parse_ppse`] reads the PPSE FCI `6F{84, A5{BF0C{61{4F, 50, 87, 9F2A, 9F29}*}}}` (§3.3.2).
//! - [`build_candidates`] matches directory entries against the configuration, resolves the
//!   requested kernel (§3.3.2.5) and orders by priority, ties by PPSE order (§3.3.2.6).

use crate::config::{AidConfig, TerminalConfig};
use crate::kernel::{KernelId, TransactionRequest};
use crate::tlv::{self, Tag, TlvError};

/// The pre-processing indicators of one AID-kernel combination (Book B §3.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Indicators {
    /// §3.1.1.2: the amount is one currency unit and the combination supports status check.
    pub status_check_requested: bool,
    /// §3.1.1.3: the amount is zero (and zero amounts are allowed).
    pub zero_amount: bool,
    /// The combination may not be used for this transaction.
    pub contactless_application_not_allowed: bool,
    /// §3.1.1.5: amount > reader contactless floor limit.
    pub floor_limit_exceeded: bool,
    /// §3.1.1.6: amount ≥ reader CVM required limit.
    pub cvm_required_limit_exceeded: bool,
    /// §3.1.1.7: the TTQ to send (Kernels 3 and 7), with byte 2 b8/b7 set from the above.
    pub ttq: Option<[u8; 4]>,
}

/// Book B §3.1.1.4: the transaction limit is reached when amount **≥** limit.
pub fn transaction_limit_reached(amount: u64, limit: Option<u64>) -> bool {
    limit.is_some_and(|limit| amount >= limit)
}

/// Book B §3.1.1.5: the floor limit is exceeded when amount **>** limit.
pub fn floor_limit_exceeded(amount: u64, limit: Option<u64>) -> bool {
    limit.is_some_and(|limit| amount > limit)
}

/// Book B §3.1.1.6: the CVM required limit is reached when amount **≥** limit.
pub fn cvm_required_limit_reached(amount: u64, limit: Option<u64>) -> bool {
    limit.is_some_and(|limit| amount >= limit)
}

/// Book B §3.1.1: pre-processing of one combination for `amount` (minor units).
/// `currency_exponent` fixes what "one unit of currency" is for the status check.
pub fn pre_process(aid: &AidConfig, amount: u64, currency_exponent: u8) -> Indicators {
    let mut ind = Indicators {
        // §3.1.1.1: copy the TTQ, clear byte 2 b8 (online cryptogram) and b7 (CVM required).
        ttq: aid.ttq.map(|ttq| {
            let mut ttq = ttq.0;
            ttq[1] &= !(TTQ2_ONLINE_CRYPTOGRAM_REQUIRED | TTQ2_CVM_REQUIRED);
            ttq
        }),
        ..Indicators::default()
    };
    let one_unit = 10u64
        .checked_pow(u32::from(currency_exponent))
        .unwrap_or(u64::MAX);
    if aid.status_check && amount == one_unit {
        ind.status_check_requested = true;
    }
    if amount == 0 {
        if aid.zero_amount_allowed {
            ind.zero_amount = true;
        } else {
            ind.contactless_application_not_allowed = true;
        }
    }
    // Kernel 2 has two limits (DF8124 without, DF8125 with on-device CVM) and picks one after
    // GPO (Book C-2); here only an amount above both is refused.
    let limit = match (aid.transaction_limit, aid.transaction_limit_on_device_cvm) {
        (Some(plain), Some(on_device)) => Some(plain.max(on_device)),
        (plain, _) => plain,
    };
    if transaction_limit_reached(amount, limit) {
        ind.contactless_application_not_allowed = true;
    }
    if floor_limit_exceeded(amount, aid.floor_limit) {
        ind.floor_limit_exceeded = true;
    }
    if cvm_required_limit_reached(amount, aid.cvm_required_limit) {
        ind.cvm_required_limit_exceeded = true;
    }
    // §3.1.1.7: reflect the indicators in the TTQ.
    if let Some(ttq) = ind.ttq.as_mut() {
        if ind.floor_limit_exceeded || ind.status_check_requested {
            ttq[1] |= TTQ2_ONLINE_CRYPTOGRAM_REQUIRED;
        }
        if ind.zero_amount {
            if ttq[0] & TTQ1_OFFLINE_ONLY == 0 {
                ttq[1] |= TTQ2_ONLINE_CRYPTOGRAM_REQUIRED;
            } else {
                ind.contactless_application_not_allowed = true;
            }
        }
        if ind.cvm_required_limit_exceeded {
            ttq[1] |= TTQ2_CVM_REQUIRED;
        }
    }
    ind
}

/// Pre-processes every configured combination, in configuration order; `None` when every
/// combination is not allowed (Book B §3.1.1.13: Outcome Try Another Interface).
pub fn pre_process_all(
    config: &TerminalConfig,
    request: &TransactionRequest,
) -> Option<Vec<Indicators>> {
    let all: Vec<Indicators> = config
        .aids
        .iter()
        .map(|aid| pre_process(aid, request.amount, config.terminal.currency_exponent))
        .collect();
    if all
        .iter()
        .all(|ind| ind.contactless_application_not_allowed)
    {
        None
    } else {
        Some(all)
    }
}

/// One directory entry (`61`) of the PPSE (Book B §3.3.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// `4F` ADF name.
    pub adf_name: Vec<u8>,
    /// `50` application label.
    pub label: Option<String>,
    /// `87` application priority indicator, low nibble (1 highest; 0 or absent lowest).
    pub priority: Option<u8>,
    /// `9F2A` kernel identifier, as sent.
    pub kernel_identifier: Option<Vec<u8>>,
    /// `9F29` extended selection.
    pub extended_selection: Option<Vec<u8>>,
    /// Position in the PPSE (for ties).
    pub position: usize,
}

/// Parses the PPSE FCI (Book B §3.3.2.3-4). Entries whose `4F` is absent or not 5-16 bytes are
/// skipped (§3.3.2.5 A); unknown tags are ignored.
pub fn parse_ppse(fci: &[u8]) -> Result<Vec<DirectoryEntry>, EntryPointError> {
    let fci = tlv::parse_one(fci, Tag::new(0x6F))?;
    let directory = fci
        .find(Tag::new(0xA5))
        .and_then(|a5| a5.children().iter().find(|t| t.tag() == Tag::new(0xBF0C)))
        .ok_or(EntryPointError::NoDirectory)?;
    let mut entries = Vec::new();
    for (position, template) in directory
        .children()
        .iter()
        .filter(|t| t.tag() == Tag::new(0x61))
        .enumerate()
    {
        let field = |tag: u32| {
            template
                .children()
                .iter()
                .find(|t| t.tag() == Tag::new(tag))
                .and_then(|t| t.bytes())
        };
        let Some(adf_name) = field(0x4F).filter(|n| (5..=16).contains(&n.len())) else {
            continue;
        };
        entries.push(DirectoryEntry {
            adf_name: adf_name.to_vec(),
            label: field(0x50).map(crate::display::card_text),
            priority: field(0x87).and_then(|p| p.first()).map(|p| p & 0x0F),
            kernel_identifier: field(0x9F2A).map(<[u8]>::to_vec),
            extended_selection: field(0x9F29).map(<[u8]>::to_vec),
            position,
        });
    }
    Ok(entries)
}

/// One candidate: a directory entry matched with a configured combination (Book B §3.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The name to SELECT: the ADF name, plus `9F29` when extended selection applies.
    pub select_name: Vec<u8>,
    /// The card's ADF name.
    pub adf_name: Vec<u8>,
    /// The label to show.
    pub label: String,
    /// Priority (1 highest, 15 lowest; absent counts as lowest).
    pub priority: Option<u8>,
    /// The selected kernel.
    pub kernel: KernelId,
    /// Index of the combination in [`TerminalConfig::aids`].
    pub config_index: usize,
    /// The pre-processing indicators of the combination.
    pub indicators: Indicators,
    /// PPSE position, for ties.
    pub position: usize,
}

/// Builds the ordered candidate list (Book B §3.3.2.5-6). Empty means End Application.
pub fn build_candidates(
    entries: &[DirectoryEntry],
    config: &TerminalConfig,
    indicators: &[Indicators],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for entry in entries {
        let Some(requested) = requested_kernel(entry) else {
            continue;
        };
        for (config_index, aid) in config.aids.iter().enumerate() {
            let matches = entry.adf_name == aid.aid.0
                || (aid.partial_match && entry.adf_name.starts_with(&aid.aid.0));
            let kernel = KernelId::from_byte(aid.kernel_id);
            // §3.3.2.5 D: requested kernel 0 (default) or equal to the combination's kernel.
            let kernel_ok = requested == 0 || requested == aid.kernel_id;
            let Some(ind) = indicators.get(config_index) else {
                continue;
            };
            if !matches || !kernel_ok || ind.contactless_application_not_allowed {
                continue;
            }
            let mut select_name = entry.adf_name.clone();
            if aid.extended_selection
                && let Some(ext) = &entry.extended_selection
            {
                select_name.extend_from_slice(ext);
            }
            out.push(Candidate {
                select_name,
                adf_name: entry.adf_name.clone(),
                label: entry.label.clone().unwrap_or_else(|| aid.label.clone()),
                priority: entry.priority.filter(|&p| p != 0),
                kernel,
                config_index,
                indicators: *ind,
                position: entry.position,
            });
            break;
        }
    }
    // §3.3.2.6: by priority (absent or 0 lowest), then PPSE order. The sort is stable.
    out.sort_by_key(|c| (c.priority.unwrap_or(0x10), c.position));
    out
}

/// Book B §3.3.2.5 C: the requested kernel ID of an entry, `0` for "use the AID's default",
/// or `None` to skip the entry (a domestic kernel ID shorter than 3 bytes).
fn requested_kernel(entry: &DirectoryEntry) -> Option<u8> {
    let Some(id) = entry
        .kernel_identifier
        .as_deref()
        .filter(|id| !id.is_empty())
    else {
        return Some(default_kernel_for(&entry.adf_name));
    };
    let first = *id.first()?;
    match first & 0xC0 {
        0x00 | 0x40 => Some(first & 0x3F),
        _ if id.len() < 3 => None,
        // Domestic kernels are not supported: match none of ours.
        _ => Some(0xFF),
    }
}

/// Book B Table 3-6: the default kernel by RID.
fn default_kernel_for(adf_name: &[u8]) -> u8 {
    match adf_name.get(..5) {
        Some([0xA0, 0x00, 0x00, 0x00, 0x04]) => 2,
        Some([0xA0, 0x00, 0x00, 0x00, 0x03]) => 3,
        Some([0xA0, 0x00, 0x00, 0x00, 0x25]) => 4,
        Some([0xA0, 0x00, 0x00, 0x00, 0x65]) => 5,
        Some([0xA0, 0x00, 0x00, 0x01, 0x52]) => 6,
        Some([0xA0, 0x00, 0x00, 0x03, 0x33]) => 7,
        _ => 0,
    }
}

/// Errors of the Entry Point's own parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryPointError {
    /// The PPSE FCI is not valid BER-TLV or not a `6F` template.
    #[error("PPSE: {0}")]
    Tlv(#[from] TlvError),
    /// The FCI has no `A5`/`BF0C` directory.
    #[error("PPSE without a directory (A5/BF0C)")]
    NoDirectory,
}

/// TTQ byte 1 b4: offline-only reader (Book C-3 Table 5-3).
pub const TTQ1_OFFLINE_ONLY: u8 = 0x08;
/// TTQ byte 2 b8: online cryptogram required.
pub const TTQ2_ONLINE_CRYPTOGRAM_REQUIRED: u8 = 0x80;
/// TTQ byte 2 b7: CVM required.
pub const TTQ2_CVM_REQUIRED: u8 = 0x40;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn lloyds_ppse_parses() {
        let ppse = hex!(
            "6f2b840e325041592e5359532e4444463031a519bf0c1661144f07a00000000310109f0a08000105010000
             0000"
        );
        let entries = parse_ppse(&ppse).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].adf_name, hex!("A0000000031010"));
        assert_eq!(entries[0].priority, None);
    }

    #[test]
    fn requested_kernel_rules() {
        let entry = |aid: &[u8], kid: Option<&[u8]>| DirectoryEntry {
            adf_name: aid.to_vec(),
            label: None,
            priority: None,
            kernel_identifier: kid.map(<[u8]>::to_vec),
            extended_selection: None,
            position: 0,
        };
        assert_eq!(
            requested_kernel(&entry(&hex!("A0000000041010"), None)),
            Some(2)
        );
        assert_eq!(
            requested_kernel(&entry(&hex!("A0000000031010"), Some(&[]))),
            Some(3)
        );
        assert_eq!(
            requested_kernel(&entry(&hex!("A0000000031010"), Some(&[0x03]))),
            Some(3)
        );
        assert_eq!(
            requested_kernel(&entry(&hex!("A0000000031010"), Some(&[0x83]))),
            None
        );
        assert_eq!(
            requested_kernel(&entry(&hex!("A0000003330101"), None)),
            Some(7)
        );
    }
}

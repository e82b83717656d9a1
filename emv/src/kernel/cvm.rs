//! Cardholder verification: from the CTQ for Kernels 3 and 7 (Book C-3 §5.7, C-7), from the
//! CVM list `8E` or on-device CVM for Kernel 2 (EMV Book 3 §10.5 and Annex C3, Book C-2).

use super::k3::Scheme;
use super::outcome::Cvm;

/// "Not applicable", for outcomes decided before CVM processing.
pub(crate) fn na() -> Cvm {
    Cvm::NotApplicable
}

/// Kernels 3/7: the CVM from the CTQ and the TTQ; `None` when a CVM is required and none is
/// shared (the kernel declines).
pub(crate) fn from_ctq(_scheme: Scheme, ttq: [u8; 4], ctq: Option<[u8; 2]>) -> Option<Cvm> {
    let online_pin = ttq[0] & TTQ1_ONLINE_PIN != 0;
    let signature = ttq[0] & TTQ1_SIGNATURE != 0;
    if let Some(ctq) = ctq {
        if ctq[1] & CTQ2_CONSUMER_DEVICE_CVM_PERFORMED != 0 {
            return Some(Cvm::ConsumerDevice);
        }
        if ctq[0] & CTQ1_ONLINE_PIN_REQUIRED != 0 && online_pin {
            return Some(Cvm::OnlinePin);
        }
        if ctq[0] & CTQ1_SIGNATURE_REQUIRED != 0 && signature {
            return Some(Cvm::Signature);
        }
    }
    if ttq[1] & TTQ2_CVM_REQUIRED == 0 {
        return Some(Cvm::NoCvm);
    }
    // CVM required by the reader, nothing agreed through the CTQ: signature if the reader
    // supports it, else online PIN (Book C-3 §5.7.1.2).
    if signature {
        Some(Cvm::Signature)
    } else if online_pin {
        Some(Cvm::OnlinePin)
    } else {
        None
    }
}

/// `9F34` for a CVM decided without a CVM list. Consumer device CVM is coded `01 00 02` as
/// Mastercard does for on-device CVM (Book C-2 §3.4.3); no CVM `1F 00 02`.
pub(crate) fn results_for(cvm: Option<Cvm>) -> [u8; 3] {
    match cvm {
        Some(Cvm::OnlinePin) => [0x02, 0x00, 0x00],
        Some(Cvm::Signature) => [0x1E, 0x00, 0x00],
        Some(Cvm::ConsumerDevice) => [0x01, 0x00, 0x02],
        Some(Cvm::NoCvm) => [0x1F, 0x00, 0x02],
        _ => [0x3F, 0x00, 0x01],
    }
}

/// The result of Kernel 2 CVM selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CvmSelection {
    pub(crate) cvm: Cvm,
    pub(crate) results: [u8; 3],
    /// Bits to set in TVR byte 3.
    pub(crate) tvr3: u8,
    /// Bits to set in TVR byte 1 (ICC data missing).
    pub(crate) tvr1: u8,
}

/// What Kernel 2 CVM selection needs.
pub(crate) struct MastercardCvmInput<'a> {
    pub(crate) aip: [u8; 2],
    pub(crate) kernel_configuration: u8,
    pub(crate) cvm_required: bool,
    /// `DF8118` or `DF8119`, depending on `cvm_required`.
    pub(crate) capability: u8,
    pub(crate) cvm_list: Option<&'a [u8]>,
    pub(crate) amount: u64,
    /// Whether the card's application currency (`9F42`) is the transaction currency.
    pub(crate) same_currency: bool,
    pub(crate) transaction_type: u8,
}

/// Book C-2 §3.4 CVM selection: on-device CVM when both sides support it, else the CVM list.
pub(crate) fn mastercard(input: &MastercardCvmInput<'_>) -> CvmSelection {
    let done = |cvm, results, tvr3| CvmSelection {
        cvm,
        results,
        tvr3,
        tvr1: 0,
    };
    if input.aip[0] & AIP1_ON_DEVICE_CVM != 0 && input.kernel_configuration & KC_ON_DEVICE_CVM != 0
    {
        return if input.cvm_required {
            done(Cvm::ConsumerDevice, [0x01, 0x00, 0x02], 0)
        } else {
            done(Cvm::NoCvm, [0x3F, 0x00, 0x00], 0)
        };
    }
    if input.aip[0] & AIP1_CARDHOLDER_VERIFICATION == 0 {
        return done(Cvm::NoCvm, [0x3F, 0x00, 0x00], 0);
    }
    let Some(list) = input.cvm_list.filter(|l| l.len() >= 10 && l.len() % 2 == 0) else {
        // Book 3 §10.5: a CVM list absent or empty: ICC data missing, no CVM.
        let mut selection = done(Cvm::NoCvm, [0x3F, 0x00, 0x00], 0);
        selection.tvr1 = 0x20;
        return selection;
    };
    let amount_field = |range: core::ops::Range<usize>| {
        list.get(range)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_be_bytes(b)))
    };
    let (x, y) = (amount_field(0..4), amount_field(4..8));
    let mut tvr3 = 0;
    let mut last_failed = None;
    for rule in list.get(8..).unwrap_or(&[]).chunks_exact(2) {
        let &[code, condition] = rule else { continue };
        let method = code & 0x3F;
        let supported = supports(method, input.capability);
        let amount_ok = |f: &dyn Fn(u64) -> bool| input.same_currency && f(input.amount);
        let satisfied = match condition {
            0x00 => true,
            0x02 => !matches!(input.transaction_type, 0x01 | 0x09 | 0x17),
            0x03 => supported,
            0x05 => input.transaction_type == 0x09,
            0x06 => amount_ok(&|a| a < x),
            0x07 => amount_ok(&|a| a > x),
            0x08 => amount_ok(&|a| a < y),
            0x09 => amount_ok(&|a| a > y),
            _ => false,
        };
        if !satisfied {
            continue;
        }
        let recognised = matches!(method, 0x00..=0x05 | 0x1E | 0x1F);
        if !recognised {
            tvr3 |= TVR3_UNRECOGNISED_CVM;
        } else if method == 0x00 {
            last_failed = Some((code, condition));
            break;
        } else if supported {
            return match method {
                0x02 => done(
                    Cvm::OnlinePin,
                    [code, condition, 0x00],
                    tvr3 | TVR3_ONLINE_PIN,
                ),
                0x1E => done(Cvm::Signature, [code, condition, 0x00], tvr3),
                _ => done(Cvm::NoCvm, [code, condition, 0x02], tvr3),
            };
        }
        last_failed = Some((code, condition));
        if code & CVM_APPLY_NEXT_IF_FAILS == 0 {
            break;
        }
    }
    let results = last_failed.map_or([0x3F, 0x00, 0x01], |(c, k)| [c, k, 0x01]);
    done(Cvm::NoCvm, results, tvr3 | TVR3_CVM_NOT_SUCCESSFUL)
}

/// Whether the reader can do CVM `method` with this capability byte (Book 4 Annex A2 byte 2).
fn supports(method: u8, capability: u8) -> bool {
    match method {
        0x01 => capability & 0x80 != 0,
        0x02 => capability & 0x40 != 0,
        0x1E => capability & 0x20 != 0,
        0x04 => capability & 0x10 != 0,
        0x1F => capability & 0x08 != 0,
        _ => false,
    }
}

const TTQ1_ONLINE_PIN: u8 = 0x04;
const TTQ1_SIGNATURE: u8 = 0x02;
const TTQ2_CVM_REQUIRED: u8 = 0x40;
const CTQ1_ONLINE_PIN_REQUIRED: u8 = 0x80;
const CTQ1_SIGNATURE_REQUIRED: u8 = 0x40;
const CTQ2_CONSUMER_DEVICE_CVM_PERFORMED: u8 = 0x80;
/// AIP byte 1 b2: on-device cardholder verification supported (Book C-2 Table A.?).
const AIP1_ON_DEVICE_CVM: u8 = 0x02;
/// AIP byte 1 b5: cardholder verification is supported (EMV Book 3 Annex C1).
const AIP1_CARDHOLDER_VERIFICATION: u8 = 0x10;
/// `DF811B` b6: on-device cardholder verification supported.
const KC_ON_DEVICE_CVM: u8 = 0x20;
/// CVM code b7: apply the next rule if this one fails (Book 3 Annex C3).
const CVM_APPLY_NEXT_IF_FAILS: u8 = 0x40;
const TVR3_CVM_NOT_SUCCESSFUL: u8 = 0x80;
const TVR3_UNRECOGNISED_CVM: u8 = 0x40;
const TVR3_ONLINE_PIN: u8 = 0x04;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    /// The CVM list of the Mastercard trace (tests/data/kernel/mastercard_mchip.txt):
    /// X = Y = 0, rules 42 03 (online PIN if supported, next if fails), 1E 03, 1F 03.
    const MC_LIST: [u8; 14] = hex!("000000000000000042031E031F03");

    fn input(capability: u8, cvm_required: bool) -> MastercardCvmInput<'static> {
        MastercardCvmInput {
            aip: hex!("1980"),
            kernel_configuration: 0x80,
            cvm_required,
            capability,
            cvm_list: Some(&MC_LIST),
            amount: 1_000,
            same_currency: true,
            transaction_type: 0x00,
        }
    }

    #[test]
    fn below_the_cvm_limit_the_list_gives_no_cvm() {
        let s = mastercard(&input(0x08, false));
        assert_eq!((s.cvm, s.results, s.tvr3), (Cvm::NoCvm, hex!("1F0302"), 0));
    }

    #[test]
    fn above_the_cvm_limit_the_list_gives_online_pin() {
        let s = mastercard(&input(0x60, true));
        assert_eq!(
            (s.cvm, s.results, s.tvr3),
            (Cvm::OnlinePin, hex!("420300"), 0x04)
        );
    }

    #[test]
    fn signature_only_reader_gets_signature() {
        let s = mastercard(&input(0x20, true));
        assert_eq!((s.cvm, s.results), (Cvm::Signature, hex!("1E0300")));
    }

    #[test]
    fn no_supported_rule_fails_cvm() {
        let s = mastercard(&input(0x00, true));
        assert_eq!(
            (s.cvm, s.results, s.tvr3),
            (Cvm::NoCvm, hex!("3F0001"), 0x80)
        );
    }

    #[test]
    fn on_device_cvm_wins_when_both_support_it() {
        let mut i = input(0x60, true);
        i.aip = hex!("1B80");
        i.kernel_configuration = 0xA0;
        assert_eq!(mastercard(&i).cvm, Cvm::ConsumerDevice);
        i.cvm_required = false;
        assert_eq!(mastercard(&i).cvm, Cvm::NoCvm);
    }

    #[test]
    fn amount_conditions_use_x() {
        // X = 50.00: no CVM under X (1F 06), else online PIN always (02 00).
        let list = hex!("00001388 00000000 1F06 0200");
        let mut i = input(0x48, true);
        i.cvm_list = Some(&list);
        i.amount = 1_000;
        assert_eq!(mastercard(&i).results, hex!("1F0602"));
        i.amount = 6_000;
        assert_eq!(mastercard(&i).cvm, Cvm::OnlinePin);
        i.same_currency = false;
        i.amount = 1_000;
        assert_eq!(
            mastercard(&i).cvm,
            Cvm::OnlinePin,
            "amount conditions need the same currency"
        );
    }

    #[test]
    fn ctq_decides_for_visa() {
        let ttq = hex!("26004000");
        assert_eq!(
            from_ctq(Scheme::Visa, ttq, Some(hex!("0080"))),
            Some(Cvm::ConsumerDevice)
        );
        assert_eq!(
            from_ctq(Scheme::Visa, ttq, Some(hex!("8000"))),
            Some(Cvm::OnlinePin)
        );
        assert_eq!(
            from_ctq(Scheme::Visa, ttq, Some(hex!("4000"))),
            Some(Cvm::Signature)
        );
        assert_eq!(
            from_ctq(Scheme::Visa, ttq, Some(hex!("0000"))),
            Some(Cvm::NoCvm)
        );
        let required = hex!("26404000");
        assert_eq!(from_ctq(Scheme::Visa, required, None), Some(Cvm::Signature));
        assert_eq!(from_ctq(Scheme::Visa, hex!("20404000"), None), None);
    }
}

//! The issuer's demo accounts and the limits its rules apply (`docs/hsm-sim.md`).

use crate::card::{Profile, Scheme};
use crate::host::ledger::{AccountSeed, AccountStatus};

/// The issuer's demo accounts, seeded on first start (`docs/hsm-sim.md`): one per virtual
/// card PAN ([`crate::card::Profile::all`]; fault profiles share the Visa card's), plus test
/// accounts for the decline codes. PIN [`DEMO_PIN`] for all.
pub fn demo_accounts() -> Vec<AccountSeed> {
    let seed = |pan: &str, scheme: &str, balance: i64, status, expiry: &str| AccountSeed {
        pan: pan.to_owned(),
        scheme: scheme.to_owned(),
        balance,
        status,
        daily_limit: 500_000,
        expiry: expiry.to_owned(),
    };
    let mut accounts: Vec<AccountSeed> = Vec::new();
    for card in Profile::all() {
        if accounts.iter().any(|a| a.pan == card.pan_digits()) {
            continue;
        }
        let scheme = match card.scheme() {
            Scheme::Visa => "visa",
            Scheme::Mastercard => "mastercard",
            _ => "unionpay",
        };
        accounts.push(seed(
            card.pan_digits(),
            scheme,
            1_000_000,
            AccountStatus::Active,
            card.expiry(),
        ));
    }
    accounts.extend([
        seed(
            "4761739001010200",
            "visa",
            1_000_000,
            AccountStatus::Blocked,
            "2812",
        ),
        seed(
            "4761739001010309",
            "visa",
            1_000_000,
            AccountStatus::Lost,
            "2812",
        ),
        seed(
            "4761739001010408",
            "visa",
            500,
            AccountStatus::Active,
            "2812",
        ),
        seed(
            "4761739001010507",
            "visa",
            1_000_000,
            AccountStatus::Active,
            "2001",
        ),
        // The simulated wallet's card (`crate::host::wallets::WALLET_ACCOUNT_PAN`).
        seed(
            crate::host::wallets::WALLET_ACCOUNT_PAN,
            "visa",
            1_000_000,
            AccountStatus::Active,
            "2812",
        ),
    ]);
    accounts
}

/// The demo cards' PIN (documented in `docs/hsm-sim.md`; test data only).
pub const DEMO_PIN: &str = "1234";

/// The contactless CVM limit above which the issuer wants a PIN or a consumer-device CVM
/// (minor units): 50.00.
pub const CONTACTLESS_CVM_LIMIT: i64 = 5_000;

/// Wrong PINs in a row after which the account answers `75`.
pub const PIN_TRY_LIMIT: i64 = 3;

//! The host's merchant-code service (`hsm_sim::host::merchant_code`): the rotating token, its
//! window and grace, one use per token, the other merchant's code, the customer's consent and
//! the terminal's 0200 that completes it and its reversal, cancel and expiry.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use hsm_sim::host::merchant_code::{
    Charged, GRACE_SECS, MerchantCodes, PayAttempt, REQUEST_LIFETIME_SECS, Refusal, Status,
    TokenInput, TokenKey, WINDOW_SECS, parse_short_code, short_code,
};

/// A time at the start of a window.
const T0: u64 = 1_800_000_000 - 1_800_000_000 % WINDOW_SECS;

fn service() -> MerchantCodes {
    MerchantCodes::new(TokenKey::from_bytes(&[7; 32]), 300)
}

fn attempt<'a>(reference: &'a str, token: &'a str) -> PayAttempt<'a> {
    PayAttempt {
        reference: Some(reference),
        terminal_id: Some("T0000001"),
        amount: Some(1250),
        token,
        wallet: "W-ALICE",
    }
}

fn ok(_: &Charged) -> Result<(), Refusal> {
    Ok(())
}

#[test]
fn the_token_is_twelve_digits_bound_to_its_inputs_and_window() {
    let key = TokenKey::from_bytes(&[1; 32]);
    let input = TokenInput {
        terminal_id: "T0000001",
        reference: "R1",
        amount: 1250,
        currency: 978,
    };
    let token = key.token(&input, 100);
    assert_eq!(token.len(), 12);
    assert!(token.bytes().all(|b| b.is_ascii_digit()));
    assert!(key.check(&input, 100, &token));
    assert!(!key.check(&input, 101, &token));
    for other in [
        TokenInput {
            terminal_id: "T0000002",
            ..input
        },
        TokenInput {
            reference: "R2",
            ..input
        },
        TokenInput {
            amount: 1251,
            ..input
        },
        TokenInput {
            currency: 840,
            ..input
        },
    ] {
        assert_ne!(key.token(&other, 100), token);
    }
    assert_ne!(TokenKey::from_bytes(&[2; 32]).token(&input, 100), token);
    assert_eq!(short_code("123456789012"), "1234 5678 9012");
    assert_eq!(
        parse_short_code("1234 5678-9012").as_deref(),
        Some("123456789012")
    );
    assert_eq!(parse_short_code("1234 5678 901"), None);
}

#[test]
fn the_code_rotates_every_window_and_pays_once() {
    let codes = service();
    let first = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token0 = first.token.clone().unwrap();
    assert_eq!(first.rotates_at, T0 + WINDOW_SECS);
    let same = codes
        .snapshot("T0000001", &first.reference, T0 + WINDOW_SECS - 1)
        .unwrap();
    assert_eq!(same.token.as_deref(), Some(token0.as_str()));
    let next = codes
        .snapshot("T0000001", &first.reference, T0 + WINDOW_SECS)
        .unwrap();
    let token1 = next.token.unwrap();
    assert_ne!(token1, token0);

    let mut rx = codes.subscribe("T0000001", &first.reference).unwrap();
    let charged = codes
        .pay(
            &attempt(&first.reference, &token1),
            T0 + WINDOW_SECS + 1,
            ok,
        )
        .unwrap();
    assert_eq!(charged.amount, 1250);
    assert!(rx.has_changed().unwrap());
    assert!(
        matches!(&*rx.borrow_and_update(), Status::Confirmed { wallet, .. } if wallet == "W-ALICE")
    );
    assert_eq!(
        codes.pay(
            &attempt(&first.reference, &token1),
            T0 + WINDOW_SECS + 2,
            ok
        ),
        Err(Refusal::AlreadyPaid)
    );
    // The terminal's 0200 names the payment: only its own terminal, with its own amount.
    let now = T0 + WINDOW_SECS + 3;
    assert_eq!(
        codes.resolve("T0000002", &first.reference, 1250, "000001/1203120000", now),
        Err(Refusal::Unknown)
    );
    assert_eq!(
        codes.resolve("T0000001", &first.reference, 1251, "000001/1203120000", now),
        Err(Refusal::AmountMismatch)
    );
    assert_eq!(
        codes
            .resolve("T0000001", &first.reference, 1250, "000001/1203120000", now)
            .as_deref(),
        Ok("W-ALICE")
    );
    codes.complete("T0000001", &first.reference, "00", now);
    assert!(matches!(&*rx.borrow_and_update(), Status::Paid { wallet, .. } if wallet == "W-ALICE"));
    // A retransmission of the same 0200 resolves again (the ledger answers it idempotently);
    // another 0200 for the same payment does not: it is charged once.
    assert!(
        codes
            .resolve("T0000001", &first.reference, 1250, "000001/1203120000", now)
            .is_ok()
    );
    assert_eq!(
        codes.resolve("T0000001", &first.reference, 1250, "000002/1203120005", now),
        Err(Refusal::AlreadyPaid)
    );
}

#[test]
fn only_a_confirmed_payment_can_be_completed_and_a_decline_is_final() {
    let codes = service();
    let p = codes.create("T0000001", 800, 978, T0).unwrap();
    assert_eq!(
        codes.resolve("T0000001", &p.reference, 800, "000001/1203120000", T0 + 1),
        Err(Refusal::NotConfirmed)
    );
    codes.complete("T0000001", &p.reference, "00", T0 + 1);
    assert_eq!(
        codes
            .snapshot("T0000001", &p.reference, T0 + 1)
            .unwrap()
            .status,
        Status::Pending,
        "an answer for an unconfirmed payment changes nothing"
    );
    let token = p.token.unwrap();
    codes
        .pay(&attempt800(&p.reference, &token), T0 + 2, ok)
        .unwrap();
    codes.complete("T0000001", &p.reference, "51", T0 + 3);
    let status = codes
        .snapshot("T0000001", &p.reference, T0 + 3)
        .unwrap()
        .status;
    assert_eq!(status, Status::Declined { code: "51".into() });
    assert!(status.is_final());
    assert_eq!(
        codes.resolve("T0000001", &p.reference, 800, "000001/1203120000", T0 + 4),
        Err(Refusal::NotConfirmed)
    );
}

#[test]
fn a_reversal_of_the_completing_0200_leaves_the_payment_reversed_and_unpayable() {
    let codes = service();
    let p = codes.create("T0000001", 800, 978, T0).unwrap();
    let token = p.token.unwrap();
    // Nothing named the payment yet: a reversal of any request leaves it alone.
    assert_eq!(codes.reverse("T0000001", "000001/1203120000"), None);
    codes
        .pay(&attempt800(&p.reference, &token), T0 + 1, ok)
        .unwrap();
    codes
        .resolve("T0000001", &p.reference, 800, "000001/1203120000", T0 + 2)
        .unwrap();
    codes.complete("T0000001", &p.reference, "00", T0 + 2);
    // Another terminal's reversal, or a reversal of another request, changes nothing.
    assert_eq!(codes.reverse("T0000002", "000001/1203120000"), None);
    assert_eq!(codes.reverse("T0000001", "000002/1203120000"), None);
    let paid = codes.snapshot("T0000001", &p.reference, T0 + 3).unwrap();
    assert!(matches!(paid.status, Status::Paid { .. }), "{paid:?}");
    assert_eq!(
        codes.reverse("T0000001", "000001/1203120000"),
        Some(p.reference.clone())
    );
    let status = codes
        .snapshot("T0000001", &p.reference, T0 + 3)
        .unwrap()
        .status;
    assert_eq!(status, Status::Reversed);
    assert!(status.is_final());
    // Reversed once: a repeated reversal finds nothing more to undo, and neither the same 0200
    // again nor a wallet can revive it.
    assert_eq!(codes.reverse("T0000001", "000001/1203120000"), None);
    assert_eq!(
        codes.resolve("T0000001", &p.reference, 800, "000001/1203120000", T0 + 4),
        Err(Refusal::NotConfirmed)
    );
    assert_eq!(
        codes.pay(&attempt800(&p.reference, &token), T0 + 4, ok),
        Err(Refusal::Reversed)
    );
}

fn attempt800<'a>(reference: &'a str, token: &'a str) -> PayAttempt<'a> {
    PayAttempt {
        amount: Some(800),
        ..attempt(reference, token)
    }
}

#[test]
fn a_photographed_code_is_useless_a_minute_later() {
    let codes = service();
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    // Within the grace after its window: still accepted (here refused by the account, which
    // spends the token).
    let declined = codes.pay(
        &attempt(&p.reference, &token),
        T0 + WINDOW_SECS + GRACE_SECS - 1,
        |_| Err(Refusal::Declined("insufficient funds".into())),
    );
    assert_eq!(
        declined,
        Err(Refusal::Declined("insufficient funds".into()))
    );
    // The same token again: replayed.
    assert_eq!(
        codes.pay(&attempt(&p.reference, &token), T0 + WINDOW_SECS + 2, ok),
        Err(Refusal::ReplayedToken)
    );
    // A minute later the photographed token is expired, not merely wrong.
    let codes = service();
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    assert_eq!(
        codes.pay(&attempt(&p.reference, &token), T0 + 60, ok),
        Err(Refusal::ExpiredToken)
    );
    assert_eq!(
        codes.pay(&attempt(&p.reference, "000000000000"), T0 + 1, ok),
        Err(Refusal::BadToken)
    );
    // The payment itself is still open: the current token pays.
    let fresh = codes
        .snapshot("T0000001", &p.reference, T0 + 60)
        .unwrap()
        .token
        .unwrap();
    assert!(
        codes
            .pay(&attempt(&p.reference, &fresh), T0 + 61, ok)
            .is_ok()
    );
}

#[test]
fn a_code_for_another_merchant_or_amount_is_refused() {
    let codes = service();
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    let mut other = attempt(&p.reference, &token);
    other.terminal_id = Some("T0000009");
    assert_eq!(codes.pay(&other, T0 + 1, ok), Err(Refusal::OtherMerchant));
    let mut more = attempt(&p.reference, &token);
    more.amount = Some(99_999);
    assert_eq!(codes.pay(&more, T0 + 1, ok), Err(Refusal::AmountMismatch));
    // Another terminal cannot see or cancel it.
    assert_eq!(
        codes.snapshot("T0000009", &p.reference, T0).unwrap_err(),
        Refusal::Unknown
    );
    assert_eq!(
        codes.cancel("T0000009", &p.reference, T0).unwrap_err(),
        Refusal::Unknown
    );
    assert_eq!(
        codes.pay(&attempt("NOPE", &token), T0 + 1, ok),
        Err(Refusal::Unknown)
    );
}

#[test]
fn paid_after_cancel_and_after_expiry_are_refused() {
    let codes = service();
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    let cancelled = codes.cancel("T0000001", &p.reference, T0 + 2).unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(cancelled.token, None);
    let mut charged = false;
    assert_eq!(
        codes.pay(&attempt(&p.reference, &token), T0 + 3, |_| {
            charged = true;
            Ok(())
        }),
        Err(Refusal::Cancelled)
    );
    assert!(!charged, "nothing is charged after a cancel");

    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let later = T0 + 300;
    let token = codes
        .snapshot("T0000001", &p.reference, later - 1)
        .unwrap()
        .token
        .unwrap();
    assert_eq!(
        codes
            .snapshot("T0000001", &p.reference, later)
            .unwrap()
            .status,
        Status::Expired
    );
    assert_eq!(
        codes.pay(&attempt(&p.reference, &token), later, ok),
        Err(Refusal::Expired)
    );
    // A confirmed payment is cancelled (its money moves only with the terminal's 0200)...
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    codes
        .pay(&attempt(&p.reference, &token), T0 + 1, ok)
        .unwrap();
    assert_eq!(
        codes
            .cancel("T0000001", &p.reference, T0 + 2)
            .unwrap()
            .status,
        Status::Cancelled
    );
    assert_eq!(
        codes.resolve("T0000001", &p.reference, 1250, "000001/1203120000", T0 + 3),
        Err(Refusal::Cancelled)
    );
    // ... but cancelling a paid payment leaves it paid.
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let token = p.token.unwrap();
    codes
        .pay(&attempt(&p.reference, &token), T0 + 1, ok)
        .unwrap();
    codes.complete("T0000001", &p.reference, "00", T0 + 2);
    assert!(matches!(
        codes
            .cancel("T0000001", &p.reference, T0 + 3)
            .unwrap()
            .status,
        Status::Paid { .. }
    ));
}

#[test]
fn a_typed_short_code_finds_its_payment() {
    let codes = service();
    let _other = codes.create("T0000002", 500, 978, T0).unwrap();
    let p = codes.create("T0000001", 1250, 978, T0).unwrap();
    let typed = short_code(p.token.as_deref().unwrap());
    let token = parse_short_code(&typed).unwrap();
    let charged = codes
        .pay(
            &PayAttempt {
                reference: None,
                terminal_id: None,
                amount: None,
                token: &token,
                wallet: "W-BOB",
            },
            T0 + 4,
            ok,
        )
        .unwrap();
    assert_eq!(charged.reference, p.reference);
    assert_eq!(charged.terminal_id, "T0000001");
}

#[test]
fn a_request_to_pay_is_answered_once_by_its_wallet_and_expires() {
    let codes = service();
    let r = codes
        .request("T0000001", 2_000, 978, "DEVICE-A", "Market stall", T0)
        .unwrap();
    assert_eq!(r.token, None, "a request has no token to scan or guess");
    assert_eq!(r.expires_at, T0 + REQUEST_LIFETIME_SECS);
    let inbox = codes.inbox("DEVICE-A", T0 + 1);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].merchant, "Market stall");
    assert_eq!(inbox[0].amount, 2_000);
    assert!(codes.inbox("DEVICE-B", T0 + 1).is_empty());
    // Only its wallet answers it, and only once.
    assert_eq!(
        codes.answer(&r.reference, "DEVICE-B", true, T0 + 2),
        Err(Refusal::Unknown)
    );
    codes
        .answer(&r.reference, "DEVICE-A", true, T0 + 2)
        .unwrap();
    assert_eq!(
        codes.answer(&r.reference, "DEVICE-A", false, T0 + 3),
        Err(Refusal::AlreadyPaid)
    );
    assert_eq!(
        codes
            .resolve("T0000001", &r.reference, 2_000, "000001/1203120000", T0 + 3)
            .as_deref(),
        Ok("DEVICE-A")
    );
    // A refused request is final; an unanswered one expires.
    let refused = codes
        .request("T0000001", 500, 978, "DEVICE-A", "Market stall", T0)
        .unwrap();
    codes
        .answer(&refused.reference, "DEVICE-A", false, T0 + 1)
        .unwrap();
    let status = codes
        .snapshot("T0000001", &refused.reference, T0 + 1)
        .unwrap()
        .status;
    assert_eq!(status, Status::Refused);
    assert!(status.is_final());
    let late = codes
        .request("T0000001", 500, 978, "DEVICE-A", "Market stall", T0)
        .unwrap();
    let after = T0 + REQUEST_LIFETIME_SECS;
    assert!(codes.inbox("DEVICE-A", after).is_empty());
    assert_eq!(
        codes.answer(&late.reference, "DEVICE-A", true, after),
        Err(Refusal::Expired)
    );
    // A request cannot be paid with a token, even one of its own inputs.
    let key = TokenKey::from_bytes(&[7; 32]);
    let forged = key.token(
        &TokenInput {
            terminal_id: "T0000001",
            reference: &late.reference,
            amount: 500,
            currency: 978,
        },
        T0 / WINDOW_SECS,
    );
    assert_eq!(
        codes.pay(&attempt800(&late.reference, &forged), T0 + 1, ok),
        Err(Refusal::Unknown)
    );
}

//! Criterion benchmark of the transaction engine's own costs: one transaction's journal
//! commits (created → card-read → sent → answered → done, each a synchronous SQLite commit in
//! WAL mode) and the STAN counter. The end-to-end tap-to-approval figures (card, kernel, TLS,
//! host, journal) come from `softpos bench pay` (docs/engine.md).
#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented items.

use criterion::{Criterion, criterion_group, criterion_main};
use emv::pan::Pan;
use softpos::journal::{Journal, TxKind, TxState};

fn journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = Journal::open(dir.path()).expect("journal");
    let pan = Pan::from_digits("4761739001010119").expect("PAN");
    c.bench_function("journal: one sale's five state commits", |b| {
        b.iter(|| {
            let id = journal
                .create(TxKind::Sale, 1_234, 0, 978, None)
                .expect("create");
            journal
                .card_read(id, &pan, Some("VISA"), false)
                .expect("card");
            let stan = journal.next_stan().expect("stan");
            journal
                .sent(id, "0200", Some("000000"), stan, "1121120000")
                .expect("sent");
            journal
                .answered(id, "00", Some("123456"), None)
                .expect("answered");
            journal
                .finish(id, TxState::Done, true, "approved")
                .expect("done");
        });
    });
    c.bench_function("journal: next STAN", |b| {
        b.iter(|| journal.next_stan().expect("stan"));
    });
}

criterion_group!(benches, journal);
criterion_main!(benches);

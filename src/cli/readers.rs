//! `softpos readers`: the PC/SC readers and their cards.

use std::process::ExitCode;

use crate::reader::PcscReader;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    let readers = PcscReader::list()?;
    if readers.is_empty() {
        println!("no readers");
    }
    for r in readers {
        let card = if r.card_present {
            format!("card present, ATR {}", hex::encode_upper(&r.atr))
        } else {
            "no card".to_owned()
        };
        println!("{}\t{}", r.name, card);
    }
    Ok(ExitCode::SUCCESS)
}

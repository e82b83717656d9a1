//! `hsm-sim` console commands for the hsm area: test-key tools for payment testers. They take
//! clear keys on the command line and print keys, PINs and cryptograms in hex, so they are for
//! test keys only; each prints a reminder on stderr.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use emv::crypto::cryptogram::{self, ArpcMethod, CryptoError, CryptogramInput, CryptogramVersion};
use emv::crypto::dukpt::{self, KeyType, KeyUsage, Ksn};
use emv::crypto::key::{AesKey, TdesKey16};
use emv::crypto::pin_block::{self, OsFill, Pin, danger::FixedFill};
use emv::crypto::tdes_dukpt::{self, TdesKsn, TdesVariant};
use zeroize::Zeroizing;

/// The hsm commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// DUKPT test-key tool: print the initial key and the working keys of a KSN (AES DUKPT
    /// X9.24-3 for a 12-byte KSN, TDES DUKPT X9.24-1 for a 10-byte KSN).
    Dukpt {
        /// Base derivation key, hex (AES: 16/24/32 bytes; TDES: 16 bytes).
        #[arg(long, value_name = "HEX")]
        bdk: String,
        /// Key serial number, hex (12 bytes AES, 10 bytes TDES).
        #[arg(long, value_name = "HEX")]
        ksn: String,
    },
    /// ISO 9564-1 PIN blocks: encode or decode formats 4 (AES), 0 and 3.
    Pinblock {
        /// What to do.
        #[command(subcommand)]
        action: PinblockAction,
    },
    /// Application cryptograms (EMV Book 2 §8.1).
    Arqc {
        /// What to do.
        #[command(subcommand)]
        action: ArqcAction,
    },
    /// Compute an ARPC (EMV Book 2 §8.2): method 1 with --arc, method 2 with --csu.
    Arpc {
        /// Card and key.
        #[command(flatten)]
        card: CardArgs,
        /// Application transaction counter (9F36), hex.
        #[arg(long, value_name = "HEX")]
        atc: String,
        /// The ARQC, hex.
        #[arg(long, value_name = "HEX")]
        arqc: String,
        /// Authorisation response code for method 1, hex (e.g. 3030).
        #[arg(long, value_name = "HEX", conflicts_with = "csu")]
        arc: Option<String>,
        /// Card status update for method 2, hex (4 bytes).
        #[arg(long, value_name = "HEX")]
        csu: Option<String>,
    },
}

/// `pinblock` actions.
#[derive(Debug, clap::Subcommand)]
pub enum PinblockAction {
    /// Build a PIN block and print it in hex.
    Encode {
        /// ISO 9564-1 format: 4 (AES, needs --key), 0 (clear, or under a 2TDEA --key) or 3
        /// (clear).
        #[arg(long)]
        format: u8,
        /// Key, hex: AES for format 4, 2TDEA for format 0.
        #[arg(long, value_name = "HEX")]
        key: Option<String>,
        /// The PIN digits (4-12).
        #[arg(long)]
        pin: String,
        /// The PAN digits.
        #[arg(long)]
        pan: String,
        /// Fixed 8-byte random fill, hex, to reproduce published vectors (format 4).
        #[arg(long, value_name = "HEX")]
        fill: Option<String>,
    },
    /// Decode a PIN block and print the PIN.
    Decode {
        /// ISO 9564-1 format: 4, 0 or 3.
        #[arg(long)]
        format: u8,
        /// Key, hex: AES for format 4, 2TDEA for format 0.
        #[arg(long, value_name = "HEX")]
        key: Option<String>,
        /// The PIN block, hex.
        #[arg(long, value_name = "HEX")]
        block: String,
        /// The PAN digits.
        #[arg(long)]
        pan: String,
    },
}

/// `arqc` actions.
#[derive(Debug, clap::Subcommand)]
pub enum ArqcAction {
    /// Verify an ARQC with the issuer master key.
    Verify {
        /// Card and key.
        #[command(flatten)]
        card: CardArgs,
        /// Transaction data.
        #[command(flatten)]
        data: TransactionArgs,
        /// The ARQC to verify, hex.
        #[arg(long, value_name = "HEX")]
        arqc: String,
    },
    /// Generate the cryptogram a card with this key would return.
    Generate {
        /// Card and key.
        #[command(flatten)]
        card: CardArgs,
        /// Transaction data.
        #[command(flatten)]
        data: TransactionArgs,
    },
}

/// The card's key reference.
#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// Cryptogram version: 10, 18 (Visa), 16, 17 (Mastercard) or csk (EMV common session key).
    #[arg(long)]
    cvn: String,
    /// Issuer master key for application cryptograms (IMK-AC), hex (16 bytes).
    #[arg(long, value_name = "HEX")]
    imk: String,
    /// The PAN digits.
    #[arg(long)]
    pan: String,
    /// PAN sequence number (5F34), hex byte.
    #[arg(long, value_name = "HEX", default_value = "00")]
    psn: String,
}

/// The Book 2 minimum data set and the IAD, hex.
#[derive(Debug, clap::Args)]
pub struct TransactionArgs {
    /// 9F02 amount, authorised.
    #[arg(long, value_name = "HEX", default_value = "000000000000")]
    amount: String,
    /// 9F03 amount, other.
    #[arg(long, value_name = "HEX", default_value = "000000000000")]
    amount_other: String,
    /// 9F1A terminal country code.
    #[arg(long, value_name = "HEX", default_value = "0000")]
    country: String,
    /// 95 terminal verification results.
    #[arg(long, value_name = "HEX", default_value = "0000000000")]
    tvr: String,
    /// 5F2A transaction currency code.
    #[arg(long, value_name = "HEX", default_value = "0000")]
    currency: String,
    /// 9A transaction date, YYMMDD.
    #[arg(long, value_name = "HEX", default_value = "000000")]
    date: String,
    /// 9C transaction type.
    #[arg(long = "type", value_name = "HEX", default_value = "00")]
    transaction_type: String,
    /// 9F37 unpredictable number.
    #[arg(long, value_name = "HEX", default_value = "00000000")]
    un: String,
    /// 82 application interchange profile.
    #[arg(long, value_name = "HEX", default_value = "0000")]
    aip: String,
    /// 9F36 application transaction counter.
    #[arg(long, value_name = "HEX")]
    atc: String,
    /// 9F10 issuer application data.
    #[arg(long, value_name = "HEX", default_value = "")]
    iad: String,
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        eprintln!("hsm-sim: test-key tool: never use production keys or PINs here");
        match self {
            Self::Dukpt { bdk, ksn } => dukpt_keys(&bdk, &ksn),
            Self::Pinblock { action } => pinblock(action),
            Self::Arqc { action } => arqc(action),
            Self::Arpc {
                card,
                atc,
                arqc,
                arc,
                csu,
            } => {
                let (version, imk) = card.version_and_key()?;
                let mk = card.icc_master_key(version, &imk)?;
                let method = match (arc, csu) {
                    (Some(arc), None) => ArpcMethod::Method1 {
                        response_code: fixed(&arc, "--arc")?,
                    },
                    (None, Some(csu)) => ArpcMethod::Method2 {
                        card_status_update: fixed(&csu, "--csu")?,
                    },
                    _ => bail!("give --arc (method 1) or --csu (method 2)"),
                };
                let out = cryptogram::arpc(
                    version,
                    &mk,
                    fixed(&atc, "--atc")?,
                    fixed(&arqc, "--arqc")?,
                    method,
                )?;
                println!("ARPC {}", hex::encode_upper(out));
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn dukpt_keys(bdk_hex: &str, ksn_hex: &str) -> anyhow::Result<ExitCode> {
    let bdk = secret_hex(bdk_hex, "--bdk")?;
    let ksn = hex::decode(ksn_hex).context("--ksn is not hex")?;
    if let Ok(ksn) = <[u8; 12]>::try_from(ksn.as_slice()) {
        let ksn = Ksn::from_bytes(ksn);
        let bdk =
            AesKey::from_slice(&bdk).ok_or_else(|| anyhow!("AES BDK must be 16/24/32 bytes"))?;
        let ik = dukpt::derive_initial_key(&bdk, ksn.initial_key_id())?;
        let key_type = KeyType::for_length(ik.len()).unwrap_or(KeyType::Aes128);
        println!("scheme            AES DUKPT (ANSI X9.24-3-2017), {key_type:?}");
        println!("KSN               {}", hex::encode_upper(ksn.to_bytes()));
        println!("counter           {:08X}", ksn.counter());
        println!(
            "initial key       {}",
            hex::encode_upper(ik.expose_secret())
        );
        println!(
            "derivation key    {}",
            hex::encode_upper(dukpt::derive_transaction_key(&ik, ksn)?.expose_secret())
        );
        for (name, usage) in [
            ("PIN encryption   ", KeyUsage::PinEncryption),
            ("MAC generation   ", KeyUsage::MacGeneration),
            ("MAC verification ", KeyUsage::MacVerification),
            ("data encryption  ", KeyUsage::DataEncryptionEncrypt),
            ("data decryption  ", KeyUsage::DataEncryptionDecrypt),
        ] {
            let key = dukpt::derive_working_key(&ik, ksn, usage, key_type)?;
            println!("{name} {}", hex::encode_upper(key.expose_secret()));
        }
        match dukpt::next_ksn(ksn) {
            Ok(next) => println!("next KSN          {}", hex::encode_upper(next.to_bytes())),
            Err(e) => println!("next KSN          none ({e})"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ksn = TdesKsn(
        <[u8; 10]>::try_from(ksn.as_slice())
            .map_err(|_| anyhow!("KSN must be 12 (AES) or 10 (TDES) bytes"))?,
    );
    let bdk = TdesKey16::from_bytes(
        <[u8; 16]>::try_from(bdk.as_slice()).map_err(|_| anyhow!("TDES BDK must be 16 bytes"))?,
    );
    let ipek = tdes_dukpt::derive_ipek(&bdk, ksn);
    println!("scheme            TDES DUKPT (ANSI X9.24-1:2009)");
    println!("KSN               {}", hex::encode_upper(ksn.0));
    println!("counter           {:06X}", ksn.counter());
    println!(
        "IPEK              {}",
        hex::encode_upper(ipek.expose_secret())
    );
    println!(
        "transaction key   {}",
        hex::encode_upper(tdes_dukpt::derive_tdes_transaction_key(&ipek, ksn)?.expose_secret())
    );
    for (name, variant) in [
        ("PIN              ", TdesVariant::Pin),
        ("MAC request      ", TdesVariant::MacRequest),
        ("MAC response     ", TdesVariant::MacResponse),
        ("data request     ", TdesVariant::DataRequest),
    ] {
        let key = tdes_dukpt::derive_tdes_working_key(&ipek, ksn, variant)?;
        println!("{name} {}", hex::encode_upper(key.expose_secret()));
    }
    Ok(ExitCode::SUCCESS)
}

fn pinblock(action: PinblockAction) -> anyhow::Result<ExitCode> {
    match action {
        PinblockAction::Encode {
            format,
            key,
            pin,
            pan,
            fill,
        } => {
            let pin = Pin::from_ascii(pin.as_bytes())?;
            let block = match (format, key) {
                (4, Some(key)) => {
                    let key = aes_key(&key)?;
                    match fill {
                        Some(fill) => pin_block::encrypt_format4(
                            &key,
                            &pin,
                            &pan,
                            &mut FixedFill(fixed(&fill, "--fill")?),
                        )?
                        .to_vec(),
                        None => pin_block::encrypt_format4(&key, &pin, &pan, &mut OsFill)?.to_vec(),
                    }
                }
                (0, Some(key)) => {
                    pin_block::encrypt_format0_tdes(&tdes_key(&key)?, &pin, &pan)?.to_vec()
                }
                (0, None) => pin_block::encode_format0(&pin, &pan)?.to_vec(),
                (3, None) => pin_block::encode_format3(&pin, &pan, &mut OsFill)?.to_vec(),
                _ => bail!("supported: --format 4 with --key; 0 with or without --key; 3 without"),
            };
            println!("PIN block {}", hex::encode_upper(block));
        }
        PinblockAction::Decode {
            format,
            key,
            block,
            pan,
        } => {
            let pin = match (format, key) {
                (4, Some(key)) => {
                    pin_block::decrypt_format4(&aes_key(&key)?, &fixed(&block, "--block")?, &pan)?
                }
                (0, Some(key)) => pin_block::decrypt_format0_tdes(
                    &tdes_key(&key)?,
                    &fixed(&block, "--block")?,
                    &pan,
                )?,
                (0, None) => pin_block::decode_format0(&fixed(&block, "--block")?, &pan)?,
                (3, None) => pin_block::decode_format3(&fixed(&block, "--block")?, &pan)?,
                _ => bail!("supported: --format 4 with --key; 0 with or without --key; 3 without"),
            };
            let digits: Zeroizing<String> = Zeroizing::new(
                pin.expose_secret()
                    .iter()
                    .map(|d| char::from(b'0' + d))
                    .collect(),
            );
            println!("PIN {}", digits.as_str());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn arqc(action: ArqcAction) -> anyhow::Result<ExitCode> {
    let (card, data, expected) = match action {
        ArqcAction::Verify { card, data, arqc } => (card, data, Some(arqc)),
        ArqcAction::Generate { card, data } => (card, data, None),
    };
    let (version, imk) = card.version_and_key()?;
    let iad = hex::decode(&data.iad).context("--iad is not hex")?;
    let input = CryptogramInput {
        amount: fixed(&data.amount, "--amount")?,
        amount_other: fixed(&data.amount_other, "--amount-other")?,
        terminal_country: fixed(&data.country, "--country")?,
        tvr: fixed(&data.tvr, "--tvr")?,
        currency: fixed(&data.currency, "--currency")?,
        date: fixed(&data.date, "--date")?,
        transaction_type: u8::from_be_bytes(fixed(&data.transaction_type, "--type")?),
        unpredictable_number: fixed(&data.un, "--un")?,
        aip: fixed(&data.aip, "--aip")?,
        atc: fixed(&data.atc, "--atc")?,
        issuer_application_data: &iad,
    };
    let mk = card.icc_master_key(version, &imk)?;
    let computed = cryptogram::application_cryptogram(version, &mk, &input)?;
    println!(
        "data  {}",
        hex::encode_upper(cryptogram::cryptogram_data(version, &input)?)
    );
    println!("ARQC  {}", hex::encode_upper(computed));
    let Some(expected) = expected else {
        return Ok(ExitCode::SUCCESS);
    };
    let psn = card.psn()?;
    match cryptogram::verify_application_cryptogram(
        version,
        &imk,
        &card.pan,
        psn,
        &input,
        fixed(&expected, "--arqc")?,
    ) {
        Ok(()) => {
            println!("ARQC verifies");
            Ok(ExitCode::SUCCESS)
        }
        Err(CryptoError::CryptogramMismatch) => {
            println!("ARQC does NOT verify");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

impl CardArgs {
    fn version_and_key(&self) -> anyhow::Result<(CryptogramVersion, TdesKey16)> {
        let version = match self.cvn.to_ascii_lowercase().as_str() {
            "10" | "0a" => CryptogramVersion::VisaCvn10,
            "18" | "12" => CryptogramVersion::VisaCvn18,
            "16" => CryptogramVersion::MastercardCvn16,
            "17" => CryptogramVersion::MastercardCvn17,
            "csk" => CryptogramVersion::EmvCsk,
            other => bail!("unknown --cvn {other} (10, 18, 16, 17 or csk)"),
        };
        Ok((version, tdes_key(&self.imk)?))
    }

    fn psn(&self) -> anyhow::Result<u8> {
        Ok(u8::from_be_bytes(fixed(&self.psn, "--psn")?))
    }

    fn icc_master_key(
        &self,
        version: CryptogramVersion,
        imk: &TdesKey16,
    ) -> anyhow::Result<TdesKey16> {
        Ok(cryptogram::derive_icc_master_key(
            imk,
            &self.pan,
            self.psn()?,
            version.master_key_derivation(),
        )?)
    }
}

fn fixed<const N: usize>(hex_text: &str, name: &str) -> anyhow::Result<[u8; N]> {
    let bytes = hex::decode(hex_text).with_context(|| format!("{name} is not hex"))?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| anyhow!("{name} must be {N} bytes"))
}

fn secret_hex(hex_text: &str, name: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    hex::decode(hex_text)
        .map(Zeroizing::new)
        .map_err(|_| anyhow!("{name} is not hex"))
}

fn aes_key(hex_text: &str) -> anyhow::Result<AesKey> {
    AesKey::from_slice(&secret_hex(hex_text, "--key")?)
        .ok_or_else(|| anyhow!("AES --key must be 16, 24 or 32 bytes"))
}

fn tdes_key(hex_text: &str) -> anyhow::Result<TdesKey16> {
    let bytes = secret_hex(hex_text, "key")?;
    let array =
        <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| anyhow!("TDES key must be 16 bytes"))?;
    Ok(TdesKey16::from_bytes(array))
}

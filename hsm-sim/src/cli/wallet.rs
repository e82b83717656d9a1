//! `hsm-sim wallet`: the customer's wallet on a phone (`docs/qr-customer-code.md`). The PIN is
//! read from the first line of standard input, never from the command line.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use zeroize::Zeroizing;

use emv::api::merchant_code::PaymentStatus;

use crate::host::{merchant_code, pki, wallets};
use crate::wallet::api::{PayMerchantCode, WalletApi, WalletPayment};
use crate::wallet::device::Device;
use crate::wallet::offline::OfflineRequest;
use crate::wallet::{cpm, offline, scan, screen};

/// The wallet commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The customer's wallet: enrol its device key, show a code, pay a merchant's code, revoke
    /// a device.
    Wallet {
        /// What to do.
        #[command(subcommand)]
        action: Action,
    },
}

/// A wallet action.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Make the device key, register it at the host (through the host's data directory) and
    /// store it sealed under the PIN read from standard input.
    Enroll {
        /// The wallet's directory (the phone's storage).
        #[arg(long, value_name = "DIR")]
        wallet: PathBuf,
        /// The host's data directory.
        #[arg(long, value_name = "DIR")]
        host_data: PathBuf,
        /// The customer's phone number, for requests to pay (`+4915112345678`).
        #[arg(long, value_name = "PHONE")]
        alias: Option<String>,
    },
    /// Print a code to scan: the EMVCo consumer-presented code, or with --offline the signed
    /// offline code; with --png also draw it as a QR code picture. The PIN is read from
    /// standard input.
    ShowCode {
        /// The wallet's directory.
        #[arg(long, value_name = "DIR")]
        wallet: PathBuf,
        /// Also write the code as a QR code picture (PNG) to this file.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// The signed offline code instead of the consumer-presented code.
        #[arg(long)]
        offline: bool,
        /// Offline code: the largest amount it pays, e.g. 50.00.
        #[arg(long, value_name = "AMOUNT", default_value = "50.00")]
        amount_cap: String,
        /// The currency (ISO 4217 numeric).
        #[arg(long, value_name = "CODE", default_value_t = 978)]
        currency: u16,
        /// Offline code: the validity in seconds.
        #[arg(long, value_name = "SECS", default_value_t = emv::qr::offline_code::DEFAULT_VALIDITY_SECS)]
        validity: u16,
        /// Offline code: the merchant's nonce (16 hex digits) shown by the terminal.
        #[arg(long, value_name = "HEX")]
        nonce: Option<String>,
        /// Offline code: the payment method (1 = the first account).
        #[arg(long, value_name = "N", default_value_t = 1)]
        method: u8,
        /// Offline code: the issue time (seconds since 1970) instead of now (tests).
        #[arg(long, value_name = "SECS", hide = true)]
        issued_at: Option<u32>,
    },
    /// Pay the merchant's code in a picture (PNG) over the host's API: the PIN read from
    /// standard input unlocks the device key that signs the customer's consent.
    ScanAndPay {
        /// The picture of the merchant's code.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The wallet's directory.
        #[arg(long, value_name = "DIR")]
        wallet: PathBuf,
        /// The host's API (HOST:PORT).
        #[arg(long, value_name = "ADDR", default_value = DEFAULT_API)]
        api: String,
        /// Decimals of the code's currency.
        #[arg(long, value_name = "N", default_value_t = 2)]
        exponent: u32,
    },
    /// Pay a merchant's code by its short code (`1234 5678 9012`), for a phone without a
    /// camera. The PIN is read from standard input.
    PayShortCode {
        /// The short code shown under the merchant's code.
        #[arg(value_name = "CODE")]
        code: String,
        /// The wallet's directory.
        #[arg(long, value_name = "DIR")]
        wallet: PathBuf,
        /// The host's API (HOST:PORT).
        #[arg(long, value_name = "ADDR", default_value = DEFAULT_API)]
        api: String,
    },
    /// List the requests to pay waiting for this wallet: merchant, amount, reference. The PIN
    /// is read from standard input.
    Inbox {
        /// The wallet's directory.
        #[arg(long, value_name = "DIR")]
        wallet: PathBuf,
        /// The host's API (HOST:PORT).
        #[arg(long, value_name = "ADDR", default_value = DEFAULT_API)]
        api: String,
    },
    /// Confirm a request to pay (signed with the device key the PIN unlocks); waits until the
    /// merchant's terminal has completed the payment.
    Confirm(AnswerArgs),
    /// Decline a request to pay.
    Decline(AnswerArgs),
    /// Revoke an enrolled device at the host (its codes are refused from now on).
    Revoke {
        /// The host's data directory.
        #[arg(long, value_name = "DIR")]
        host_data: PathBuf,
        /// The device ID (16 hex digits, printed by enroll).
        #[arg(long, value_name = "ID")]
        device: String,
    },
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let Self::Wallet { action } = self;
        let confirm = matches!(action, Action::Confirm(_));
        match action {
            Action::Enroll {
                wallet,
                host_data,
                alias,
            } => {
                let pin = read_pin()?;
                let device = Device::create(&wallet, &pin, |id, key| {
                    wallets::register(&host_data, id, key)
                        .map(|e| (e.payer_token, e.certificate))
                        .map_err(|e| e.to_string())
                })?;
                // The app is given the host CA that its API's certificate chains to.
                let ca = pki::HostCa::load_or_create(&host_data)?;
                let path = wallet.join(HOST_CA_FILE);
                std::fs::write(&path, ca.cert_pem())
                    .with_context(|| format!("writing {}", path.display()))?;
                if let Some(alias) = alias {
                    wallets::set_alias(&host_data, device.id_hex(), &alias)?;
                }
                println!("device {}", device.id_hex());
                Ok(ExitCode::SUCCESS)
            }
            Action::ShowCode {
                wallet,
                png,
                offline: false,
                currency,
                ..
            } => {
                let mut device = Device::load(&wallet, &read_pin()?)?;
                show(&cpm::show_code(&mut device, currency)?, png.as_deref())
            }
            Action::ShowCode {
                wallet,
                png,
                offline: true,
                amount_cap,
                currency,
                validity,
                nonce,
                method,
                issued_at,
            } => {
                let nonce = nonce
                    .map(|n| {
                        hex::decode(&n)
                            .ok()
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .context("--nonce must be 16 hex digits")
                    })
                    .transpose()?;
                let amount_cap = parse_amount(&amount_cap).context("--amount-cap")?;
                let mut device = Device::load(&wallet, &read_pin()?)?;
                let request = OfflineRequest {
                    method,
                    amount_cap,
                    currency,
                    validity_secs: validity,
                    nonce,
                    issued_at,
                };
                show(&offline::show_code(&mut device, &request)?, png.as_deref())
            }
            Action::ScanAndPay {
                file,
                wallet,
                api,
                exponent,
            } => {
                let payment = scan::scan_file(&file, exponent)?;
                let client = wallet_api(&wallet, &api)?;
                println!(
                    "pay {} to terminal {} (reference {})?",
                    emv::qr::mpm::format_amount(payment.amount, exponent),
                    payment.terminal_id,
                    payment.reference
                );
                let device = Device::load(&wallet, &read_pin()?)?;
                let answer =
                    client.pay_merchant_code(&PayMerchantCode::scanned(&device, &payment))?;
                report(&answer, exponent)
            }
            Action::PayShortCode { code, wallet, api } => {
                let token = merchant_code::parse_short_code(&code)
                    .context("a short code is twelve digits, such as 1234 5678 9012")?;
                let client = wallet_api(&wallet, &api)?;
                let device = Device::load(&wallet, &read_pin()?)?;
                let answer = client.pay_merchant_code(&PayMerchantCode::typed(&device, token))?;
                report(&answer, 2)
            }
            Action::Inbox { wallet, api } => {
                let client = wallet_api(&wallet, &api)?;
                let device = Device::load(&wallet, &read_pin()?)?;
                let waiting = client.inbox(&device)?;
                if waiting.is_empty() {
                    println!("no request to pay");
                }
                for r in waiting {
                    println!(
                        "{}  {}  {}  (terminal {})",
                        r.reference,
                        emv::qr::mpm::format_amount(r.amount, 2),
                        emv::display::sanitize(&r.merchant),
                        r.terminal_id
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Action::Confirm(AnswerArgs {
                reference,
                wallet,
                api,
            })
            | Action::Decline(AnswerArgs {
                reference,
                wallet,
                api,
            }) => {
                let client = wallet_api(&wallet, &api)?;
                let device = Device::load(&wallet, &read_pin()?)?;
                let answer = client.answer(&device, &reference, confirm)?;
                if confirm {
                    report(&answer, 2)
                } else {
                    println!("declined: the merchant is told");
                    Ok(ExitCode::SUCCESS)
                }
            }
            Action::Revoke { host_data, device } => {
                wallets::revoke(&host_data, &device)?;
                println!("device {device} revoked");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// Which request to answer, from which wallet.
#[derive(Debug, clap::Args)]
pub struct AnswerArgs {
    /// The request's reference (from the inbox).
    #[arg(value_name = "REFERENCE")]
    reference: String,
    /// The wallet's directory.
    #[arg(long, value_name = "DIR")]
    wallet: PathBuf,
    /// The host's API (HOST:PORT).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_API)]
    api: String,
}

/// The host's API when none is named: `hsm-sim serve`'s default.
const DEFAULT_API: &str = "127.0.0.1:8443";
/// The host CA in the wallet's directory, copied there at enrolment.
const HOST_CA_FILE: &str = "host-ca.pem";

fn wallet_api(wallet: &std::path::Path, api: &str) -> anyhow::Result<WalletApi> {
    let path = wallet.join(HOST_CA_FILE);
    let ca = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (enrol the wallet again)", path.display()))?;
    Ok(WalletApi::new(api, &ca)?)
}

/// Prints where the payment ended; succeeds only when it was paid.
fn report(answer: &WalletPayment, exponent: u32) -> anyhow::Result<ExitCode> {
    let amount = emv::qr::mpm::format_amount(answer.amount, exponent);
    println!(
        "{} {amount} to terminal {} (reference {})",
        match answer.status {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Cancelled => "cancelled by the merchant",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Reversed => "reversed by the merchant's terminal, nothing charged",
            _ => "confirmed, the merchant's terminal has not completed",
        },
        answer.terminal_id,
        answer.reference
    );
    Ok(if answer.status == PaymentStatus::Paid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_pin() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the PIN from standard input")?;
    Ok(Zeroizing::new(line.trim().to_owned()))
}

/// `12.50` → 1250 (two decimals at most).
fn parse_amount(text: &str) -> anyhow::Result<u32> {
    let (units, cents) = match text.split_once('.') {
        Some((u, c)) if c.len() <= 2 && !c.is_empty() => (u, format!("{c:0<2}")),
        None => (text, "00".to_owned()),
        _ => anyhow::bail!("{text:?} is not an amount like 12.50"),
    };
    let value: u32 = format!("{units}{cents}")
        .parse()
        .with_context(|| format!("{text:?} is not an amount like 12.50"))?;
    Ok(value)
}

/// Prints the code's text, and writes its picture to `png` if asked.
fn show(code: &str, png: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if let Some(path) = png {
        screen::write_code_png(code, path)?;
    }
    println!("{code}");
    Ok(ExitCode::SUCCESS)
}

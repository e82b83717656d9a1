//! EMVCo QR codes (EMV QRCPS): the merchant-presented code (MPM) and its CRC.
pub mod crc;
pub mod mpm;

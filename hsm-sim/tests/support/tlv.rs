//! The card tests' view of BER-TLV, on the kernel's parser (`emv::tlv`): the objects of a
//! response, the value of a tag (a template's content re-encoded), and every primitive object
//! depth first.
#![allow(dead_code)] // Each test binary uses a part of it.

use emv::tlv::{self, Tag, Tlv, Value};

/// The objects of `data`, which must be well-formed.
pub(crate) fn objects(data: &[u8]) -> Vec<Tlv> {
    tlv::parse(data).expect("well-formed BER-TLV")
}

/// The value of the first object with `tag` in `data`, depth first.
pub(crate) fn find(data: &[u8], tag: u32) -> Option<Vec<u8>> {
    tlv::find(&objects(data), Tag::new(tag)).map(value)
}

/// A primitive object's bytes, or a template's objects encoded again.
pub(crate) fn value(object: &Tlv) -> Vec<u8> {
    match object.value() {
        Value::Primitive(bytes) => bytes.to_vec(),
        Value::Constructed(children) => children
            .iter()
            .flat_map(|c| c.to_bytes().expect("encodable"))
            .collect(),
    }
}

/// Every primitive object of `data`, depth first: its tag number and value.
pub(crate) fn flatten(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    fn walk(list: &[Tlv], out: &mut Vec<(u32, Vec<u8>)>) {
        for object in list {
            match object.bytes() {
                Some(bytes) => out.push((object.tag().number(), bytes.to_vec())),
                None => walk(object.children(), out),
            }
        }
    }
    let mut out = Vec::new();
    walk(&objects(data), &mut out);
    out
}

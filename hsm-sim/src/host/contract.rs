//! The message contract of the acquirer link (`docs/iso8583.md` §4): for every message type,
//! which data elements it carries, as one table of `M` mandatory, `C` conditional, `E` echoed
//! from the request and `-` absent.
//!
//! This table is the one in the document, cell for cell (a test parses the document's table and
//! compares). The host builds every response from it ([`echoed`]: the echo rule of a response
//! type), and [`check_response`] tells whether a response keeps it, for tests and third-party
//! clients. It depends on nothing but the ISO 8583 message types, so it can live next to the
//! codec.

use core::fmt;

use crate::iso8583::{Message, Mti};

use self::Presence::{Absent as A, Conditional as C, Echoed as E, Mandatory as M};

/// Whether a message type carries a data element (a cell of the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// `M`: always present.
    Mandatory,
    /// `C`: present under the condition the note names (empty: see the message's section).
    Conditional(&'static str),
    /// `E`: in a response, the request's value, present exactly when the request has it.
    Echoed,
    /// `-`: never present.
    Absent,
}

impl fmt::Display for Presence {
    /// The cell as written in the document: `M`, `E`, `-`, `C` or `C (note)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mandatory => f.write_str("M"),
            Self::Echoed => f.write_str("E"),
            Self::Absent => f.write_str("-"),
            Self::Conditional("") => f.write_str("C"),
            Self::Conditional(note) => write!(f, "C ({note})"),
        }
    }
}

/// A column of the table: the message types it describes and its heading in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The heading, e.g. `0110/0210`.
    pub heading: &'static str,
    /// The message types of the column (repeats included).
    pub types: &'static [Mti],
}

/// A row of the table: one data element, or several that share their cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The label in the document's first column, e.g. `7, 11, 41` or `74-77, 86-89, 97`.
    pub label: &'static str,
    /// The data elements the row describes.
    pub elements: &'static [u8],
    /// One cell per entry of [`COLUMNS`].
    pub cells: [Presence; COLUMN_COUNT],
}

/// A way in which a response breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The data element (0 for the MTI).
    pub element: u8,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a data element of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The response MTI is not the request's response MTI.
    WrongResponseType,
    /// A mandatory element is missing.
    Missing,
    /// An element the message type never carries is present.
    Unexpected,
    /// An echoed element differs from the request (or is present without being in it, or the
    /// reverse).
    NotEchoed,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem {
            Problem::WrongResponseType => f.write_str("wrong response MTI"),
            Problem::Missing => write!(f, "DE {} missing", self.element),
            Problem::Unexpected => write!(f, "DE {} present", self.element),
            Problem::NotEchoed => write!(f, "DE {} not echoed", self.element),
        }
    }
}

/// The presence of data element `element` in message type `mti`; `None` if the contract does
/// not know the message type. An element without a row is [`Presence::Absent`].
pub fn presence(mti: Mti, element: u8) -> Option<Presence> {
    let column = column(mti)?;
    Some(
        TABLE
            .iter()
            .find(|row| row.elements.contains(&element))
            .and_then(|row| row.cells.get(column).copied())
            .unwrap_or(Presence::Absent),
    )
}

/// The echo rule of a response type: the elements it copies from its request.
pub fn echoed(response: Mti) -> impl Iterator<Item = u8> {
    let column = column(response);
    TABLE
        .iter()
        .filter(move |row| column.and_then(|c| row.cells.get(c)) == Some(&Presence::Echoed))
        .flat_map(|row| row.elements.iter().copied())
}

/// Checks `response` against the contract for `request`: its MTI, mandatory elements present,
/// absent elements absent, echoed elements equal to the request's. Conditional elements are not
/// checked (their conditions are the issuer's). Empty when the response keeps the contract.
pub fn check_response(request: &Message, response: &Message) -> Vec<Violation> {
    let mut out = Vec::new();
    let expected = request.mti().original().response();
    if expected != Some(response.mti()) || column(response.mti()).is_none() {
        out.push(Violation {
            element: 0,
            problem: Problem::WrongResponseType,
        });
        return out;
    }
    for element in 2..=128u8 {
        let problem = match presence(response.mti(), element) {
            Some(Presence::Mandatory) if !response.has(element) => Some(Problem::Missing),
            Some(Presence::Absent) | None if response.has(element) => Some(Problem::Unexpected),
            Some(Presence::Echoed) if response.field(element) != request.field(element) => {
                Some(Problem::NotEchoed)
            }
            _ => None,
        };
        if let Some(problem) = problem {
            out.push(Violation { element, problem });
        }
    }
    out
}

/// The column of a message type.
fn column(mti: Mti) -> Option<usize> {
    COLUMNS.iter().position(|c| c.types.contains(&mti))
}

/// The number of columns (message type groups) of the table.
pub const COLUMN_COUNT: usize = 10;

/// The table's columns, in the document's order.
pub const COLUMNS: [Column; COLUMN_COUNT] = [
    Column {
        heading: "0100/0200",
        types: &[Mti::AUTHORIZATION_REQUEST, Mti::FINANCIAL_REQUEST],
    },
    Column {
        heading: "0110/0210",
        types: &[Mti::AUTHORIZATION_RESPONSE, Mti::FINANCIAL_RESPONSE],
    },
    Column {
        heading: "0220/0221",
        types: &[Mti::FINANCIAL_ADVICE, Mti::FINANCIAL_ADVICE_REPEAT],
    },
    Column {
        heading: "0230",
        types: &[Mti::FINANCIAL_ADVICE_RESPONSE],
    },
    Column {
        heading: "0400/0401 0420/0421",
        types: &[
            Mti::REVERSAL_REQUEST,
            Mti::REVERSAL_REQUEST_REPEAT,
            Mti::REVERSAL_ADVICE,
            Mti::REVERSAL_ADVICE_REPEAT,
        ],
    },
    Column {
        heading: "0410/0430",
        types: &[Mti::REVERSAL_RESPONSE, Mti::REVERSAL_ADVICE_RESPONSE],
    },
    Column {
        heading: "0500",
        types: &[Mti::RECONCILIATION_REQUEST],
    },
    Column {
        heading: "0510",
        types: &[Mti::RECONCILIATION_RESPONSE],
    },
    Column {
        heading: "0800",
        types: &[Mti::NETWORK_REQUEST],
    },
    Column {
        heading: "0810",
        types: &[Mti::NETWORK_RESPONSE],
    },
];

/// The table (`docs/iso8583.md` §4), rows in ascending data element order.
pub const TABLE: &[Row] = &[
    Row {
        label: "2",
        elements: &[2],
        cells: [C(""), A, C(""), A, C(""), A, A, A, A, A],
    },
    Row {
        label: "3",
        elements: &[3],
        cells: [M, E, M, E, M, E, A, A, A, A],
    },
    Row {
        label: "4",
        elements: &[4],
        cells: [M, E, M, E, M, E, A, A, A, A],
    },
    Row {
        label: "7, 11, 41",
        elements: &[7, 11, 41],
        cells: [M, E, M, E, M, E, M, E, M, E],
    },
    Row {
        label: "12, 13",
        elements: &[12, 13],
        cells: [M, E, M, E, C(""), E, A, A, A, A],
    },
    Row {
        label: "14",
        elements: &[14],
        cells: [C(""), A, C(""), A, A, A, A, A, A, A],
    },
    Row {
        label: "15",
        elements: &[15],
        cells: [A, A, A, A, A, A, A, C(RECONCILED), A, A],
    },
    Row {
        label: "18",
        elements: &[18],
        cells: [C(""), E, C(""), E, A, A, A, A, A, A],
    },
    Row {
        label: "22",
        elements: &[22],
        cells: [M, E, M, E, C(""), A, A, A, A, A],
    },
    Row {
        label: "23",
        elements: &[23],
        cells: [C(""), A, C(""), A, A, A, A, A, A, A],
    },
    Row {
        label: "25",
        elements: &[25],
        cells: [C("`51` card check"), E, A, A, A, A, A, A, A, A],
    },
    Row {
        label: "32",
        elements: &[32],
        cells: [C(""), A, C(""), A, C(""), A, C(""), A, A, A],
    },
    Row {
        label: "35",
        elements: &[35],
        cells: [C(""), A, C(""), A, A, A, A, A, A, A],
    },
    Row {
        label: "37",
        elements: &[37],
        cells: [A, M, A, M, A, M, A, A, A, A],
    },
    Row {
        label: "38",
        elements: &[38],
        cells: [A, C("approved, not a void"), A, A, A, A, A, A, A, A],
    },
    Row {
        label: "39",
        elements: &[39],
        cells: [A, M, A, M, A, M, A, M, A, M],
    },
    Row {
        label: "42",
        elements: &[42],
        cells: [M, E, M, E, C(""), E, C(""), E, A, A],
    },
    Row {
        label: "43",
        elements: &[43],
        cells: [C(""), A, C(""), A, A, A, A, A, A, A],
    },
    Row {
        label: "49",
        elements: &[49],
        cells: [M, E, M, E, M, E, A, A, A, A],
    },
    Row {
        label: "52",
        elements: &[52],
        cells: [A, A, A, A, A, A, A, A, A, A],
    },
    Row {
        label: "54",
        elements: &[54],
        cells: [C(""), E, C(""), E, A, A, A, A, A, A],
    },
    Row {
        label: "55",
        elements: &[55],
        cells: [C("chip"), C("`91`"), C("chip, TC"), A, C(""), A, A, A, A, A],
    },
    Row {
        label: "60",
        elements: &[60],
        cells: [C(""), A, C(""), A, A, A, M, E, A, A],
    },
    Row {
        label: "61",
        elements: &[61],
        cells: [C(MAC), A, C(MAC), A, C(MAC), A, C(MAC), A, C(MAC), A],
    },
    Row {
        label: "62, 63",
        elements: &[62, 63],
        cells: [C("online PIN"), A, A, A, A, A, A, A, A, A],
    },
    Row {
        label: "64/128",
        elements: &[64, 128],
        cells: [
            C(WITH_61),
            C(MACED),
            C(WITH_61),
            C(MACED),
            C(WITH_61),
            C(MACED),
            C(WITH_61),
            C(MACED),
            C(WITH_61),
            C(MACED),
        ],
    },
    Row {
        label: "66",
        elements: &[66],
        cells: [A, A, A, A, A, A, A, C(RECONCILED), A, A],
    },
    Row {
        label: "70",
        elements: &[70],
        cells: [A, A, A, A, A, A, A, A, M, E],
    },
    Row {
        label: "74-77, 86-89, 97",
        elements: &[74, 75, 76, 77, 86, 87, 88, 89, 97],
        cells: [A, A, A, A, A, A, M, C(RECONCILED), A, A],
    },
    Row {
        label: "90",
        elements: &[90],
        cells: [
            C("void, refund of a sale"),
            A,
            C("completion"),
            A,
            M,
            A,
            A,
            A,
            A,
            A,
        ],
    },
    Row {
        label: "95",
        elements: &[95],
        cells: [A, A, A, A, C(""), A, A, A, A, A],
    },
    Row {
        label: "104",
        elements: &[104],
        cells: [C(OFFLINE_CODE), A, C(OFFLINE_CODE), A, A, A, A, A, A, A],
    },
    Row {
        label: "105",
        elements: &[105],
        cells: [C(MERCHANT_CODE), A, A, A, A, A, A, A, A, A],
    },
    Row {
        label: "106",
        elements: &[106],
        cells: [C(ATTESTED), A, A, A, A, A, A, A, A, A],
    },
];

/// The condition of DE 104 in a request.
const OFFLINE_CODE: &str = "offline code";
/// The condition of DE 105 in a request.
const MERCHANT_CODE: &str = "merchant's code";

/// The condition of DE 106 in a request.
const ATTESTED: &str = "activated terminal";

/// The condition of DE 61 in a request.
const MAC: &str = "MAC";
/// The condition of the MAC field in a request.
const WITH_61: &str = "with 61";
/// The condition of the MAC field in a response.
const MACED: &str = "MAC verified";
/// The condition of the host's totals in a 0510.
const RECONCILED: &str = "reconciled";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ascending_and_each_element_has_one_row() {
        let firsts: Vec<u8> = TABLE
            .iter()
            .filter_map(|r| r.elements.first().copied())
            .collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
        let mut all: Vec<u8> = TABLE.iter().flat_map(|r| r.elements.to_vec()).collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn every_message_type_has_one_column_and_responses_pair_with_requests() {
        for (i, c) in COLUMNS.iter().enumerate() {
            for &mti in c.types {
                assert_eq!(column(mti), Some(i), "{mti}");
                if let Some(response) = mti.original().response() {
                    assert_eq!(column(response), Some(i + 1), "{mti}");
                }
            }
        }
    }

    #[test]
    fn the_echo_rules_differ_by_response_type() {
        let of = |mti| echoed(mti).collect::<Vec<_>>();
        assert_eq!(
            of(Mti::FINANCIAL_RESPONSE),
            [3, 4, 7, 11, 41, 12, 13, 18, 22, 25, 42, 49, 54]
        );
        assert_eq!(
            of(Mti::REVERSAL_RESPONSE),
            [3, 4, 7, 11, 41, 12, 13, 42, 49]
        );
        assert_eq!(of(Mti::RECONCILIATION_RESPONSE), [7, 11, 41, 42, 60]);
        assert_eq!(of(Mti::NETWORK_RESPONSE), [7, 11, 41, 70]);
        assert_eq!(of(Mti::FINANCIAL_REQUEST), Vec::<u8>::new());
    }

    #[test]
    fn a_response_that_echoes_an_absent_field_is_a_violation() {
        let request = Message::new(Mti::REVERSAL_REQUEST)
            .with(7, "1203101010")
            .with(11, "000001")
            .with(22, "071")
            .with(41, "T0000001");
        let mut response = Message::new(Mti::REVERSAL_RESPONSE)
            .with(7, "1203101010")
            .with(11, "000001")
            .with(37, "000000000001")
            .with(39, "00")
            .with(41, "T0000001");
        assert_eq!(check_response(&request, &response), vec![]);
        response.set(22, "071");
        response.remove(37);
        response.set(11, "000002");
        let problems: Vec<_> = check_response(&request, &response)
            .iter()
            .map(|v| (v.element, v.problem))
            .collect();
        assert_eq!(
            problems,
            [
                (11, Problem::NotEchoed),
                (22, Problem::Unexpected),
                (37, Problem::Missing)
            ]
        );
        let wrong = Message::new(Mti::FINANCIAL_RESPONSE);
        assert_eq!(
            check_response(&request, &wrong)[0].problem,
            Problem::WrongResponseType
        );
    }
}

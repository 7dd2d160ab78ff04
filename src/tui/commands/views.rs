//! The views of the command table the rest of the console reads: the row of a key action,
//! every key binding (one per action, checked when compiling) and every palette command.

use super::{Binding, PaletteEntry, Row, TABLE, bind};
use crate::tui::keymap::Action;

/// The row of the key action `a` (every action has one: [`BINDINGS`] checks it).
pub fn row_of(a: Action) -> &'static Row {
    TABLE
        .iter()
        .find(|r| r.key.is_some_and(|b| b.action == a))
        .unwrap_or(&TABLE[0])
}

/// Every key binding, one per [`Action`], in the order the actions are declared (the order
/// help lists keys). A missing or doubled action is a compile error.
pub const BINDINGS: &[Binding] = &KEY_ROWS;

/// Every palette command, in table order.
pub const COMMANDS: &[PaletteEntry] = &PALETTE;

const KEY_ROWS: [Binding; Action::COUNT] = {
    let mut out = [bind(Action::Quit, "", &[], ""); Action::COUNT];
    let mut seen = [false; Action::COUNT];
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(b) = TABLE[i].key {
            let k = b.action as usize;
            assert!(!seen[k], "an action has two rows in the command table");
            out[k] = b;
            seen[k] = true;
        }
        i += 1;
    }
    let mut k = 0;
    while k < Action::COUNT {
        assert!(seen[k], "an action has no row in the command table");
        k += 1;
    }
    out
};

/// How many rows have a palette command.
const PALETTE_ROWS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if TABLE[i].palette.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

const PALETTE: [PaletteEntry; PALETTE_ROWS] = {
    let Some(first) = TABLE[0].palette else {
        panic!("the command table starts with a palette command");
    };
    let mut out = [first; PALETTE_ROWS];
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(p) = TABLE[i].palette {
            out[n] = p;
            n += 1;
        }
        i += 1;
    }
    out
};

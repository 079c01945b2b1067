//! Excel workbooks, read by calamine: one section per sheet, headed by its name, one line per
//! row with ` | ` between its cells' values. Cells are read one by one as the sheet lists them
//! (never as a dense grid, which a single cell far out would make huge); the archive's bounds
//! were checked by [`Package`] first, and zip holds each part to the size it declares.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::Package;
use crate::text::ExtractError;

pub(super) fn text(package: &Package<'_>, bytes: &[u8]) -> Result<String, ExtractError> {
    let filename = package.filename();
    let unreadable = |e: calamine::XlsxError| {
        ExtractError::Invalid(format!(
            "'{filename}' is not a readable Excel workbook: {e}"
        ))
    };
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let mut out = super::Text::default();
    for name in workbook.sheet_names() {
        let mut cells = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
        out.heading(2, &format!("Sheet: {name}"));
        let mut row: Option<u32> = None;
        let mut line: Vec<String> = Vec::new();
        while let Some(cell) = cells.next_cell().map_err(unreadable)? {
            let (r, _) = cell.get_position();
            if row != Some(r) {
                flush(&mut out, &mut line);
                row = Some(r);
            }
            let value = Data::from(cell.get_value().clone()).to_string();
            let value = value.trim();
            if !value.is_empty() {
                line.push(value.replace(['\n', '\r'], " "));
            }
        }
        flush(&mut out, &mut line);
    }
    Ok(out.finish())
}

fn flush(out: &mut super::Text, line: &mut Vec<String>) {
    if !line.is_empty() {
        out.row(&line.join(" | "));
        line.clear();
    }
}

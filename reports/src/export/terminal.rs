//! The terminal table: the environment on top, one row per test and rate, then why tests
//! failed, were skipped or were interrupted.
//!
//! It fits the terminal (80 columns when the output is not a terminal): when the full table is
//! too wide, it leaves out the least useful columns first (parameters, file size, inter-token
//! latency…), then cuts status reasons to the bare status (they are listed in full under the
//! table anyway), and says which columns it left out. Statuses are coloured only when asked
//! (on a terminal), so captured output holds no escape codes.

use super::Exporter;
use crate::table::{Column, Reasons, Table};
use comfy_table::{Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement};
use edgebench_harness::schema::{Status, TestRecord};

/// Only a line under the header; columns are set apart by padding.
const PRESET: &str = "     ─             ";

/// Status reasons in the table are cut to this many characters.
const REASON_CHARS: usize = 20;

/// What to give up, in order, until the table fits.
const DEGRADE: &[Step] = &[
    Step::Hide(Column::Params),
    Step::Hide(Column::Size),
    Step::Hide(Column::Itl),
    Step::BareStatus,
    Step::Hide(Column::Ttft),
    Step::Hide(Column::Temp),
    Step::Hide(Column::Threads),
    Step::Hide(Column::Energy),
    Step::Hide(Column::Encoder),
    Step::Hide(Column::Rss),
];

#[derive(Clone, Copy)]
enum Step {
    Hide(Column),
    BareStatus,
}

pub struct TerminalExporter {
    width: usize,
    color: bool,
}

impl TerminalExporter {
    /// A table at most `width` columns wide, without colour.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            color: false,
        }
    }

    /// Colour the status column (ANSI escape codes).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// For printing to stdout: its width when it is a terminal, else 80; colour when it is a
    /// terminal and `NO_COLOR` is not set.
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let width = if tty {
            comfy_table::Table::new().width().map_or(80, usize::from)
        } else {
            80
        };
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::new(width).with_color(tty && !no_color)
    }
}

impl Exporter for TerminalExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let mut out = String::new();
        if tests.is_empty() {
            out.push_str("No results.\n");
            return Ok(out);
        }
        let table = Table::new(tests);
        for caption in table.captions() {
            push_wrapped(&mut out, &caption, self.width, "");
        }
        out.push('\n');
        let (rendered, hidden) = self.fit(&table);
        out.push_str(&rendered);
        out.push('\n');
        if !hidden.is_empty() {
            let names: Vec<String> = hidden.iter().map(|c| c.header_line()).collect();
            let line = format!(
                "Left out to fit {} columns: {} (the markdown and csv formats have every column).",
                self.width,
                names.join(", ")
            );
            push_wrapped(&mut out, &line, self.width, "");
        }
        let notes = table.notes();
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                push_wrapped(&mut out, &format!("- {note}"), self.width, "  ");
            }
        }
        Ok(out)
    }
}

impl TerminalExporter {
    /// The table as wide as it can be within the width, and the columns it left out.
    ///
    /// The layout is chosen on a probe: the few rows that hold the widest cell of some column
    /// lay out as wide as the whole table, so trying each step costs a few rows, not thousands;
    /// the whole table is rendered once, in the chosen layout.
    fn fit(&self, table: &Table) -> (String, Vec<Column>) {
        let probe = probe(table);
        let mut columns = table.columns.clone();
        let mut hidden = Vec::new();
        let mut reasons = Reasons::Shortened(REASON_CHARS);
        let mut steps = DEGRADE.iter();
        loop {
            let plain = render(&probe, &columns, reasons, false, Layout::Natural);
            if max_width(&plain) <= self.width {
                return (
                    self.whole(table, &columns, reasons, Layout::Natural),
                    hidden,
                );
            }
            let Some(step) = steps.next() else { break };
            match *step {
                Step::Hide(c) => {
                    if let Some(i) = columns.iter().position(|&k| k == c) {
                        columns.remove(i);
                        hidden.push(c);
                    }
                }
                Step::BareStatus => reasons = Reasons::Hidden,
            }
        }
        // Still too wide (very long names): wrap the names, then, if that is not enough,
        // every cell.
        let mut layout = Layout::WrapNames(self.width);
        if max_width(&render(&probe, &columns, reasons, false, layout)) > self.width {
            layout = Layout::WrapAll(self.width);
        }
        (self.whole(table, &columns, reasons, layout), hidden)
    }

    /// The whole table in the chosen layout, coloured when colour is on (colour takes no
    /// width).
    fn whole(&self, table: &Table, columns: &[Column], reasons: Reasons, layout: Layout) -> String {
        render(table, columns, reasons, self.color, layout)
    }
}

/// The rows of `table` that hold the widest cell of some column (in either status form) or
/// its tallest: a table of these lays out to the width of the whole table.
fn probe<'a>(table: &Table<'a>) -> Table<'a> {
    let mut keep = std::collections::BTreeSet::new();
    for &c in &table.columns {
        for reasons in [Reasons::Shortened(REASON_CHARS), Reasons::Hidden] {
            let widest = table.rows.iter().enumerate().max_by_key(|(_, row)| {
                table.cell_with(row, c, reasons).map_or(1, |text| {
                    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
                })
            });
            if let Some((i, _)) = widest {
                keep.insert(i);
            }
        }
    }
    Table {
        rows: keep.into_iter().map(|i| table.rows[i]).collect(),
        columns: table.columns.clone(),
        mark_synthetic: table.mark_synthetic,
        histories: Vec::new(),
    }
}

/// How cells may be laid out.
#[derive(Clone, Copy)]
enum Layout {
    /// Every cell on one line.
    Natural,
    /// Device, model and target names wrapped to fit this width.
    WrapNames(usize),
    /// Any cell wrapped to fit this width.
    WrapAll(usize),
}

fn render(
    table: &Table,
    columns: &[Column],
    reasons: Reasons,
    color: bool,
    layout: Layout,
) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(PRESET).force_no_tty();
    match layout {
        Layout::WrapNames(width) | Layout::WrapAll(width) => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(u16::try_from(width).unwrap_or(u16::MAX));
        }
        Layout::Natural => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    if color {
        // Style the text only, so padding stays plain and trailing spaces can be trimmed.
        t.enforce_styling().style_text_only();
    }
    t.set_header(columns.iter().map(|&c| Cell::new(header(c))));
    for row in &table.rows {
        t.add_row(columns.iter().map(|&c| {
            let text = table
                .cell_with(row, c, reasons)
                .unwrap_or_else(|| "-".into());
            let cell = Cell::new(text);
            match (c, color) {
                (Column::Status, true) => cell.fg(status_color(&row.test.status)),
                _ => cell,
            }
        }));
    }
    for (i, c) in columns.iter().enumerate() {
        if let Some(column) = t.column_mut(i) {
            // Two spaces between columns, none after the last.
            column.set_padding((0, if i + 1 == columns.len() { 0 } else { 2 }));
            if c.numeric() {
                column.set_cell_alignment(CellAlignment::Right);
            }
            let name = matches!(c, Column::Device | Column::Model | Column::Target);
            if matches!(layout, Layout::WrapNames(_)) && !name {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
    }
    t.trim_fmt()
}

/// Header with the unit on a second line, to keep numeric columns narrow.
fn header(c: Column) -> String {
    match (c, c.header()) {
        (Column::Threads, _) => "thr".into(),
        (_, (name, "")) => name.into(),
        (_, (name, unit)) => format!("{name}\n{unit}"),
    }
}

fn status_color(status: &Status) -> Color {
    match status {
        Status::Ok => Color::Green,
        Status::Failed { .. } => Color::Red,
        Status::Skipped { .. } => Color::Yellow,
        Status::Interrupted { .. } => Color::Magenta,
    }
}

fn max_width(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Append `text` word-wrapped to `width`, continuation lines starting with `indent`. A word
/// longer than a line is cut.
fn push_wrapped(out: &mut String, text: &str, width: usize, indent: &str) {
    let width = width.max(indent.chars().count() + 10);
    let mut line = String::new();
    let mut empty = true; // no word on `line` yet (only the indent)
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let used = line.chars().count();
            let sep = usize::from(!empty);
            if used + sep + word.chars().count() <= width {
                if !empty {
                    line.push(' ');
                }
                line.push_str(&word);
                empty = false;
                break;
            }
            if !empty {
                out.push_str(&std::mem::replace(&mut line, indent.to_string()));
                out.push('\n');
                empty = true;
                continue;
            }
            // Wider than a whole line: cut it.
            let room = width - used;
            line.extend(word.chars().take(room));
            word = word.chars().skip(room).collect();
            out.push_str(&std::mem::replace(&mut line, indent.to_string()));
            out.push('\n');
            if word.is_empty() {
                break;
            }
        }
    }
    if !empty {
        out.push_str(&line);
        out.push('\n');
    }
}

//! Markdown: the results table as a GitHub table (every column that has a value), the
//! environment above it and the reasons for failed, skipped and interrupted tests under it.

use super::Exporter;
use crate::table::{Column, Table};
use edgebench_harness::schema::TestRecord;

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let table = Table::new(tests);
        let mut out = String::new();
        for caption in table.captions() {
            out.push_str(&escape(&caption));
            out.push_str("\n\n");
        }
        let header: Vec<String> = table.columns.iter().map(|c| c.header_line()).collect();
        let body: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .map(|&c| escape(&table.cell(row, c).unwrap_or_else(|| "-".into())))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..table.columns.len())
            .map(|i| {
                body.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&table.columns)
                .zip(&widths)
                .map(|((cell, column), &width)| pad(cell, width, column.numeric()))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        out.push_str(&line(&header));
        let rule: Vec<String> = table
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, &w)| rule(w, *c))
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in &body {
            out.push_str(&line(row));
        }
        let notes = table.notes();
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                out.push_str(&format!("- {}\n", escape(&note)));
            }
        }
        Ok(out)
    }
}

/// `:----` (left) or `----:` (right) under a column `width` wide, with the padding spaces.
fn rule(width: usize, column: Column) -> String {
    let dashes = "-".repeat(width + 1);
    if column.numeric() {
        format!("{dashes}:")
    } else {
        format!(":{dashes}")
    }
}

fn pad(cell: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(cell.chars().count()));
    if right {
        format!("{fill}{cell}")
    } else {
        format!("{cell}{fill}")
    }
}

/// Characters that would end a cell or start emphasis.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
}

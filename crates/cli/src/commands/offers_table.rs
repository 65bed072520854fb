//! The offers table of `dstack apply` and `dstack offer` (config-cli.md §15.1).

use comfy_table::Table;
use dstack_core::offers::{InstanceAvailability, InstanceOfferWithAvailability};

use crate::output::{format_price, grey, table};

/// `aws (us-east-1)`; the internal `remote` backend shows as `ssh`.
pub fn backend_place(backend: &str, region: &str) -> String {
    let backend = if backend == "remote" { "ssh" } else { backend };
    format!("{backend} ({region})")
}

fn availability(offer: &InstanceOfferWithAvailability) -> String {
    match offer.availability {
        InstanceAvailability::Available | InstanceAvailability::Unknown => String::new(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|value| value.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default(),
    }
}

/// The offers, numbered from 1; `grey_tail` greys every row after the first, as apply does.
/// When there are more offers than shown, a `...` row and the `Shown N of M offers` footer
/// follow.
pub fn offers_table(
    offers: &[InstanceOfferWithAvailability],
    total: u64,
    max_price: Option<f64>,
    grey_tail: bool,
) -> (Table, Option<String>) {
    let mut rows = table(["#", "BACKEND", "RESOURCES", "INSTANCE TYPE", "PRICE", ""]);
    for (index, offer) in offers.iter().enumerate() {
        let mut instance_type = offer.instance.name.clone();
        if offer.total_blocks > 1 {
            instance_type.push_str(&format!(" ({}/{})", offer.blocks, offer.total_blocks));
        }
        let spot = if offer.instance.resources.spot {
            " (spot)"
        } else {
            ""
        };
        let cells = [
            (index + 1).to_string(),
            backend_place(&offer.backend.to_string(), &offer.region),
            offer.instance.resources.to_string(),
            instance_type,
            format!("{}{spot}", format_price(offer.price)),
            availability(offer),
        ];
        if grey_tail && index > 0 {
            rows.add_row(cells.into_iter().map(grey));
        } else {
            rows.add_row(cells);
        }
    }
    let footer = (total > offers.len() as u64).then(|| {
        rows.add_row(["..."]);
        let max = max_price.map(format_price).unwrap_or_default();
        format!(" Shown {} of {total} offers, {max}max", offers.len())
    });
    (rows, footer)
}

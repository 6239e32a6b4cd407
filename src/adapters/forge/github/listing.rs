//! Listings of many pages, read by the `Link` header, and as conditional requests: the
//! validator of a listing holds the `ETag` of every page, so that asking again costs one `304`
//! per page (free on GitHub) while nothing changed.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::errors::{Subject, accepted};
use super::http::{Http, Reply, Request};
use crate::ports::forge::{ForgeError, ForgeResult, Listing, Validator};

/// Items per page: GitHub's most.
pub const PER_PAGE: usize = 100;
/// `PER_PAGE` as a request's `per_page`.
pub const PER_PAGE_TEXT: &str = "100";
/// A listing longer than this many pages is refused rather than read forever.
const MAX_PAGES: usize = 1000;

/// One page as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PageTag {
    url: String,
    etag: Option<String>,
}

/// What a listing's validator holds: which listing, and every page's tag. When the last page
/// is full, the page after it (empty) is a page too: a listing that grows by a page changes it,
/// where the full page could stay the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pages {
    listing: String,
    pages: Vec<PageTag>,
}

impl Pages {
    fn validator(&self) -> Validator {
        Validator::new(serde_json::to_string(self).expect("page tags serialise"))
    }

    /// The pages `known` holds, if it was issued for `listing`.
    fn of(known: Option<&Validator>, listing: &str) -> Option<Self> {
        let pages: Self = serde_json::from_str(known?.as_str()).ok()?;
        (pages.listing == listing && !pages.pages.is_empty()).then_some(pages)
    }
}

/// The URL of page `page` of the listing that starts at `first`.
fn page_url(first: &str, page: usize) -> String {
    let separator = if first.contains('?') { '&' } else { '?' };
    format!("{first}{separator}page={page}")
}

/// Every item of the listing at `first` (whose query names `per_page`), page after page.
pub async fn all<T: DeserializeOwned>(
    http: &Http,
    first: String,
    subject: Subject<'_>,
) -> ForgeResult<Vec<T>> {
    Ok(read_pages(http, first, subject, None).await?.0)
}

/// The listing at `first`, unless every page of it answers "not modified" to the tags that
/// `known` holds. `listing` names the listing (its filter), so that a validator issued for
/// another one is not used.
pub async fn if_changed<T: DeserializeOwned>(
    http: &Http,
    listing: &str,
    first: String,
    subject: Subject<'_>,
    known: Option<&Validator>,
) -> ForgeResult<Listing<T>> {
    let mut reread_from = None;
    if let Some(known) = Pages::of(known, listing) {
        for (index, tag) in known.pages.iter().enumerate() {
            let mut request = Request::get(tag.url.clone());
            request.if_none_match = tag.etag.clone();
            let reply = accepted(http.send(&request).await?, subject)?;
            if reply.status != http::StatusCode::NOT_MODIFIED {
                // The first page's answer starts the new reading; a later page's would need
                // the pages before it again, which a 304 did not send.
                reread_from = (index == 0).then_some(reply);
                break;
            }
            if index + 1 == known.pages.len() {
                return Ok(Listing::NotModified);
            }
        }
    }
    let (items, pages) = read_pages(http, first, subject, reread_from).await?;
    Ok(Listing::Modified {
        items,
        validator: Pages {
            listing: listing.to_owned(),
            pages,
        }
        .validator(),
    })
}

/// Reads the listing from `first` to its last page (or the empty page after a full last one),
/// starting with `first_reply` if the first page was read already.
async fn read_pages<T: DeserializeOwned>(
    http: &Http,
    first: String,
    subject: Subject<'_>,
    mut first_reply: Option<Reply>,
) -> ForgeResult<(Vec<T>, Vec<PageTag>)> {
    let mut items = Vec::new();
    let mut pages = Vec::new();
    let mut url = first.clone();
    loop {
        let reply = match first_reply.take() {
            Some(reply) => reply,
            None => accepted(http.send(&Request::get(url.clone())).await?, subject)?,
        };
        if reply.status == http::StatusCode::NOT_MODIFIED {
            return Err(ForgeError::Backend(format!(
                "GitHub answered an unconditional request for {url} with 304"
            )));
        }
        let page: Vec<T> = reply.json()?;
        let full = page.len() >= PER_PAGE;
        items.extend(page);
        pages.push(PageTag {
            url,
            etag: reply.etag(),
        });
        url = match reply.next_page() {
            Some(next) => next,
            None if full => page_url(&first, pages.len() + 1),
            None => break,
        };
        if pages.len() >= MAX_PAGES {
            return Err(ForgeError::Backend(format!(
                "the listing {first} runs past {MAX_PAGES} pages"
            )));
        }
    }
    Ok((items, pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(listing: &str, etags: &[&str]) -> Pages {
        Pages {
            listing: listing.to_owned(),
            pages: etags
                .iter()
                .enumerate()
                .map(|(i, etag)| PageTag {
                    url: format!("http://h/l?page={}", i + 1),
                    etag: Some((*etag).to_owned()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_validator_holds_every_pages_tag_for_its_listing_only() {
        let known = pages("issues open", &["\"a\"", "\"b\"", "\"c\""]);
        let validator = known.validator();
        assert_eq!(Pages::of(Some(&validator), "issues open"), Some(known));
        assert_eq!(Pages::of(Some(&validator), "issues all"), None);
        assert_eq!(
            Pages::of(Some(&Validator::new("junk")), "issues open"),
            None
        );
        assert_eq!(Pages::of(None, "issues open"), None);
        assert_ne!(
            validator,
            pages("issues open", &["\"a\"", "\"b\""]).validator(),
            "a page fewer is another validator"
        );
    }

    #[test]
    fn page_urls_extend_the_query() {
        assert_eq!(
            page_url("http://h/l?state=open", 2),
            "http://h/l?state=open&page=2"
        );
        assert_eq!(page_url("http://h/l", 3), "http://h/l?page=3");
    }
}

//! Following one named object (a Pod, a Node) through the API server's watch until a decision
//! function says what its state means.
//!
//! One watch per object, narrowed by `fieldSelector=metadata.name=<name>` and resumed from the last
//! resource version seen, so no change is missed between a create or patch and the watch. A watch
//! the server closes (its timeout, a proxy) is reopened from where it stopped; a `410 Gone` (the
//! version is too old) falls back to one GET. Deadlines are the caller's (`tokio::time::timeout`
//! around the whole call).

use std::fmt::Debug;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use kube::api::{Api, WatchEvent, WatchParams};
use kube::core::Resource;
use serde::de::DeserializeOwned;

/// Server-side timeout of one watch request, seconds (the API server caps watches; kube's default).
pub const WATCH_TIMEOUT_S: u32 = 290;

/// Pause before reopening a watch that ended without any event, so that a proxy closing watches
/// at once does not turn into a busy loop against the API server.
const EMPTY_WATCH_PAUSE: Duration = Duration::from_secs(1);

/// What the watch saw.
#[derive(Debug)]
pub enum Seen<'a, K> {
    /// The object now looks like this.
    Present(&'a K),
    /// The object was deleted; this was its last state.
    Deleted(&'a K),
    /// The object does not exist (found by the GET after a `410 Gone`).
    Missing,
}

/// Watch `name` from resource version `rv` (updated as events arrive) until `decide` returns
/// `Some`. `decide` should answer `Some` for [`Seen::Deleted`] and [`Seen::Missing`]: the watch
/// otherwise goes on waiting for the object to come back.
pub async fn watch_until<K, T>(
    api: &Api<K>,
    name: &str,
    rv: &mut String,
    mut decide: impl FnMut(Seen<'_, K>) -> Option<T>,
) -> Result<T, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(WATCH_TIMEOUT_S);
    loop {
        let mut events = api.watch(&params, rv).await?.boxed();
        let mut any = false;
        while let Some(event) = events.try_next().await? {
            any = true;
            match event {
                WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                    remember(rv, &obj);
                    if let Some(out) = decide(Seen::Present(&obj)) {
                        return Ok(out);
                    }
                }
                WatchEvent::Deleted(obj) => {
                    remember(rv, &obj);
                    if let Some(out) = decide(Seen::Deleted(&obj)) {
                        return Ok(out);
                    }
                }
                WatchEvent::Bookmark(b) => *rv = b.metadata.resource_version,
                WatchEvent::Error(status) if status.code == 410 => {
                    match api.get_opt(name).await? {
                        Some(obj) => {
                            remember(rv, &obj);
                            if let Some(out) = decide(Seen::Present(&obj)) {
                                return Ok(out);
                            }
                        }
                        None => {
                            if let Some(out) = decide(Seen::Missing) {
                                return Ok(out);
                            }
                        }
                    }
                    break;
                }
                WatchEvent::Error(status) => return Err(kube::Error::Api(status)),
            }
        }
        if !any {
            tokio::time::sleep(EMPTY_WATCH_PAUSE).await;
        }
    }
}

fn remember<K: Resource>(rv: &mut String, obj: &K) {
    if let Some(v) = &obj.meta().resource_version {
        v.clone_into(rv);
    }
}

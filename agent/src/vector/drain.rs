//! The outbox drain: a task that takes the oldest outbox work, embeds it, upserts it into
//! Chroma and acknowledges it, in batches of `batch_size`. A failure leaves the work in the
//! outbox and waits `retry_initial_ms`, doubling up to `retry_max_ms`, before trying again, so
//! an outage delays writes and loses none. While the outbox is empty it checks Chroma's
//! heartbeat every few seconds so `/health` tells the truth without traffic.

use super::link::ChromaLink;
use super::{Collection, Record};
use crate::embed::Embedder;
use crate::store::{OutboxWork, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often an empty outbox is looked at again.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How often the heartbeat is checked while there is nothing to send.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// Start draining `store`'s outbox into `link`'s Chroma until `shutdown` turns true.
pub fn spawn(
    link: ChromaLink,
    store: Arc<Store>,
    embedder: Arc<dyn Embedder>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(drain(link, store, embedder, shutdown))
}

/// Sleep for `wait`, or less if shutdown comes first; returns whether to stop.
async fn pause(shutdown: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => *shutdown.borrow(),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

async fn drain(link: ChromaLink, store: Arc<Store>, embedder: Arc<dyn Embedder>, mut shutdown: watch::Receiver<bool>) {
    let config = link.client().config().clone();
    let initial = Duration::from_millis(config.retry_initial_ms);
    let max = Duration::from_millis(config.retry_max_ms);
    let mut backoff = initial;
    let mut checked = None::<Instant>;
    while !*shutdown.borrow() {
        let (batch, from) = (config.batch_size, store.clone());
        let taken = tokio::task::spawn_blocking(move || (from.outbox_next(batch), from.outbox_depth())).await;
        let (work, depth) = match taken {
            Ok(pair) => pair,
            Err(e) => {
                tracing::error!(error = %e, "outbox read task failed");
                (Ok(None), Ok(Default::default()))
            }
        };
        if let Ok(depth) = depth {
            link.set_outbox(depth);
        }
        let work = match work {
            Ok(Some(work)) => work,
            Ok(None) => {
                if checked.is_none_or(|at| at.elapsed() >= HEARTBEAT_EVERY) {
                    checked = Some(Instant::now());
                    // Connecting again finds the collections; one deleted meanwhile is made
                    // again, and refilled below.
                    let alive = match link.client().heartbeat().await {
                        Ok(()) => link.client().reconnect().await,
                        Err(e) => Err(e),
                    };
                    match alive {
                        Ok(()) => link.succeeded(0),
                        Err(e) => link.failed(&e.to_string()),
                    }
                }
                refill_new_collections(&link, &store).await;
                if pause(&mut shutdown, IDLE_POLL).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox; retrying");
                if pause(&mut shutdown, max.min(Duration::from_secs(1))).await {
                    break;
                }
                continue;
            }
        };
        let sent = send(&link, embedder.clone(), work, store.clone()).await;
        refill_new_collections(&link, &store).await;
        match sent {
            Ok(()) => backoff = initial,
            Err(error) => {
                link.failed(&error);
                tracing::debug!(error, wait_ms = backoff.as_millis() as u64, "chroma write failed; will retry");
                checked = Some(Instant::now());
                if pause(&mut shutdown, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(max);
            }
        }
    }
}

/// After a new connection to Chroma: queue again what the store holds for each collection
/// Chroma made anew since the agent last saw it (deleted, or Chroma's data lost or replaced).
async fn refill_new_collections(link: &ChromaLink, store: &Arc<Store>) {
    let Some(ids) = link.client().take_new_collections() else { return };
    let (noted, from) = (ids.clone(), store.clone());
    let compared = tokio::task::spawn_blocking(move || from.chroma_collections_seen(&noted)).await;
    match compared {
        Ok(Ok(resent)) if !resent.collections.is_empty() => {
            let names: Vec<String> =
                resent.collections.iter().map(|c| link.client().config().collection_name(*c)).collect();
            tracing::warn!(
                collections = %names.join(", "),
                events = %resent.events.map_or("none".to_owned(), |(first, last)| format!("ids {first} to {last}")),
                summaries = resent.summaries,
                "chroma has new collections (deleted, or its data was lost or replaced); sending everything \
                 this store still holds to them again"
            );
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot compare chroma's collections with those seen before; will retry");
            link.client().return_new_collections(ids);
        }
        Err(e) => {
            tracing::error!(error = %e, "collection check task failed; will retry");
            link.client().return_new_collections(ids);
        }
    }
}

/// Embed `work`, upsert it collection by collection, then acknowledge it in the outbox.
async fn send(
    link: &ChromaLink,
    embedder: Arc<dyn Embedder>,
    work: OutboxWork,
    store: Arc<Store>,
) -> Result<(), String> {
    let OutboxWork { records, ack } = work;
    let count = records.len() as u64;
    let embedded = tokio::task::spawn_blocking(move || {
        let mut by_collection: Vec<(Collection, Vec<Record>, Vec<Vec<f32>>)> = Vec::new();
        for (collection, record) in records {
            let embedding = embedder.embed(&record.document);
            match by_collection.iter_mut().find(|(c, _, _)| *c == collection) {
                Some((_, rs, es)) => {
                    rs.push(record);
                    es.push(embedding);
                }
                None => by_collection.push((collection, vec![record], vec![embedding])),
            }
        }
        by_collection
    })
    .await
    .map_err(|e| format!("embedding task failed: {e}"))?;
    for (collection, records, embeddings) in embedded {
        let refs: Vec<&Record> = records.iter().collect();
        link.client().upsert(collection, &refs, embeddings).await.map_err(|e| e.to_string())?;
    }
    tokio::task::spawn_blocking(move || store.outbox_ack(&ack))
        .await
        .map_err(|e| format!("outbox task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    link.succeeded(count);
    Ok(())
}

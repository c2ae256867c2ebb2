//! A collection that vanishes from Chroma (deleted by hand, or Chroma's data lost) is made
//! again on the next connection and refilled with everything the agent's store still holds,
//! not only what arrives afterwards.

use super::{Chroma, agent_config, drained, ingest, wait_until};
use crate::agent::Agent;
use crate::http::request;

/// Delete `collection` through Chroma's own API.
fn delete_collection(chroma: &Chroma, collection: &str) {
    let path = format!("/api/v2/tenants/default_tenant/databases/default_database/collections/{collection}");
    let (status, body) = request(chroma.addr, "DELETE", &path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(chroma.count(collection), 0, "{collection} is gone");
}

#[test]
fn a_collection_deleted_from_chroma_is_made_again_with_everything_the_store_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    // The store keeps the 2025 test logs (the usual test config lets retention delete them as
    // soon as Chroma has them), and windows of a second give summaries without waiting.
    let config = agent_config(&chroma, "refill").replace("retention_interval_secs = 1", "retention_days = 36500")
        + "[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"1s\"\n";
    let agent = Agent::start(dir.path(), &config);
    ingest(&agent, 0..200);
    let summaries = || {
        let (status, body) = request(agent.addr, "GET", "/api/v1/summaries?limit=1000", None);
        assert_eq!(status, 200, "{body}");
        body["summaries"].as_array().unwrap().len() as u64
    };
    wait_until("the first logs and a summary in Chroma", || {
        drained(&agent) && chroma.count("refill-logs") == 200 && summaries() > 0
    });
    wait_until("every summary in Chroma", || drained(&agent) && chroma.count("refill-summaries") == summaries());
    let anomalies = chroma.count("refill-anomalies");
    assert!(anomalies > 0, "the test logs hold anomalies (every tenth is a 500 on /api/checkout)");

    // Deleted while the agent has nothing to send: noticed on its idle heartbeat.
    delete_collection(&chroma, "refill-logs");
    delete_collection(&chroma, "refill-summaries");
    wait_until("the logs and summaries sent again", || {
        drained(&agent) && chroma.count("refill-logs") == 200 && chroma.count("refill-summaries") == summaries()
    });
    assert_eq!(chroma.count("refill-anomalies"), anomalies, "the anomalies were upserted again, not added twice");

    // Deleted under a stream of writes: the failed write reconnects, and the refill comes with it.
    delete_collection(&chroma, "refill-anomalies");
    ingest(&agent, 200..300);
    wait_until("every log and anomaly, old and new", || {
        drained(&agent) && chroma.count("refill-logs") == 300 && chroma.count("refill-anomalies") > anomalies
    });
}

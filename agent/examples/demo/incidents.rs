//! The incidents the demo injects into normal traffic, one after another: each runs for a
//! while, adds its own requests (or changes the normal ones), and is announced on the terminal
//! so the dashboard can be watched reacting.

use crate::traffic::{Clients, Request, normal};
use fastrand::Rng;
use std::time::Duration;

/// One kind of incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// One client probes for known-vulnerable paths, fast, with a scanner's User-Agent.
    VulnerabilityScan,
    /// The checkout and cart API fail with 5xx for everyone.
    ErrorBurst,
    /// The search page answers in seconds and often times out (504).
    SlowEndpoint,
    /// One client tries many logins per second, nearly all refused.
    CredentialStuffing,
    /// Five times the usual traffic (a newsletter went out).
    TrafficSpike,
}

/// The order the demo plays them in, again and again.
pub const SCHEDULE: [Incident; 5] = [
    Incident::VulnerabilityScan,
    Incident::ErrorBurst,
    Incident::SlowEndpoint,
    Incident::CredentialStuffing,
    Incident::TrafficSpike,
];

const SCANNER_IP: &str = "203.0.113.250";
const STUFFER_IP: &str = "198.51.100.251";

const PROBES: &[&str] = &[
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/wp-admin/setup-config.php",
    "/phpmyadmin/index.php",
    "/admin/config.php",
    "/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id)",
    "/index.php?id=1%27%20OR%20%271%27=%271",
    "/../../../../etc/passwd",
    "/server-status",
    "/actuator/env",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    "/backup.sql",
    "/api/v1/users?sort=(select%20sleep(5))",
];

impl Incident {
    /// How long it lasts.
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Incident::VulnerabilityScan => 15,
            Incident::ErrorBurst => 12,
            Incident::SlowEndpoint => 20,
            Incident::CredentialStuffing => 20,
            Incident::TrafficSpike => 15,
        })
    }

    /// What the terminal says when it starts.
    pub fn describe(self) -> String {
        match self {
            Incident::VulnerabilityScan => format!("vulnerability scan from {SCANNER_IP} (Nikto, ~10 probes/s)"),
            Incident::ErrorBurst => "error burst: /api/v1/checkout and /api/v1/cart answer 5xx".to_owned(),
            Incident::SlowEndpoint => "slow endpoint: /search takes 3-9 s, a third time out with 504".to_owned(),
            Incident::CredentialStuffing => format!("credential stuffing: {STUFFER_IP} tries ~8 logins/s"),
            Incident::TrafficSpike => "traffic spike: 5x the usual requests (a newsletter went out)".to_owned(),
        }
    }

    /// How many times the normal rate runs during it.
    pub fn rate_factor(self) -> u32 {
        if self == Incident::TrafficSpike { 5 } else { 1 }
    }

    /// Change a normal request the way this incident would.
    pub fn bend(self, rng: &mut Rng, request: &mut Request) {
        match self {
            // Checkout and cart (`/api/v1/c...`) always fail; one in ten other API calls too.
            Incident::ErrorBurst
                if request.is_api() && (request.url.starts_with("/api/v1/c") || rng.u32(..10) == 0) =>
            {
                request.status = [500, 502, 503][rng.usize(..3)];
                request.bytes = 90 + rng.u64(..40);
            }
            Incident::SlowEndpoint if request.url.starts_with("/search") || request.url.starts_with("/category") => {
                request.latency_s = 3.0 + rng.f64() * 6.0;
                if rng.u32(..3) == 0 {
                    request.status = 504;
                    request.bytes = 160;
                }
            }
            _ => {}
        }
    }

    /// The incident's own requests for one tick of `tick`.
    pub fn extra(self, rng: &mut Rng, clients: &Clients, tick: Duration) -> Vec<Request> {
        let per_tick = |per_second: f64| (per_second * tick.as_secs_f64()).round() as usize;
        match self {
            Incident::VulnerabilityScan => (0..per_tick(10.0))
                .map(|_| {
                    let url = PROBES[rng.usize(..PROBES.len())];
                    Request {
                        ip: SCANNER_IP.to_owned(),
                        method: if rng.u32(..5) == 0 { "POST" } else { "GET" },
                        url: url.to_owned(),
                        status: [404, 404, 404, 403, 400][rng.usize(..5)],
                        bytes: 150 + rng.u64(..30),
                        user_agent: "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)".to_owned(),
                        referer: "-",
                        latency_s: 0.001,
                    }
                })
                .collect(),
            Incident::CredentialStuffing => (0..per_tick(8.0))
                .map(|_| Request {
                    ip: STUFFER_IP.to_owned(),
                    method: "POST",
                    url: "/api/v1/login".to_owned(),
                    status: if rng.u32(..40) == 0 { 200 } else { 401 },
                    bytes: 120,
                    user_agent: "python-requests/2.32.3".to_owned(),
                    referer: "-",
                    latency_s: 0.09,
                })
                .collect(),
            // The others change normal traffic: a few more checkout attempts, retried.
            Incident::ErrorBurst => (0..per_tick(4.0))
                .map(|_| {
                    let mut request = normal(rng, clients);
                    request.method = "POST";
                    request.url = "/api/v1/checkout".to_owned();
                    request
                })
                .collect(),
            Incident::SlowEndpoint | Incident::TrafficSpike => Vec::new(),
        }
    }
}

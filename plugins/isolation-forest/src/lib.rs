mod forest;
mod rng;

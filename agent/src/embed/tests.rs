use super::*;

fn distance(e: &dyn Embedder, a: &str, b: &str) -> f32 {
    cosine_distance(&e.embed(a), &e.embed(b))
}

#[test]
fn similar_texts_are_nearer_than_unrelated_ones() {
    let e = HashedNgrams::default();
    let login_fail = "POST /login 401 from 10.0.0.7: invalid password for user admin";
    let login_fail2 = "POST /login 401 from 10.0.0.9: invalid password for user root";
    let image = "GET /static/img/logo.png 200 12044 bytes Mozilla/5.0";
    assert!(distance(&e, login_fail, login_fail2) < distance(&e, login_fail, image));
    // A question finds the lines about its subject.
    let question = "failed logins";
    assert!(distance(&e, question, login_fail) < distance(&e, question, image));
    // Morphology: trigrams bring "logins" near "login" although the words differ.
    assert!(distance(&e, "logins", "login") < distance(&e, "logins", "images"));
}

#[test]
fn embedding_is_deterministic_across_instances() {
    let text = "GET /api/v1/data 500 from 192.168.1.1 \"Mozilla/5.0\"";
    let a = HashedNgrams::default().embed(text);
    let b = HashedNgrams::default().embed(text);
    assert_eq!(a, b);
    // Pinned values: a change to the hashing changes stored vectors and must rename the embedder.
    let first: Vec<(usize, f32)> = a.iter().copied().enumerate().filter(|(_, x)| *x != 0.0).take(3).collect();
    let pinned = [(13, -0.206_243_71), (19, -0.072_185_29), (21, -0.072_185_29)];
    for ((i, x), (want_i, want_x)) in first.into_iter().zip(pinned) {
        assert_eq!(i, want_i);
        assert!((x - want_x).abs() < 1e-6, "bucket {i}: {x} != {want_x}");
    }
    assert_eq!(HashedNgrams::default().name(), "hashed-ngrams-v1-384");
}

#[test]
fn vectors_are_unit_length_with_the_configured_dimension() {
    for dim in [16, 256, 384] {
        let e = HashedNgrams::new(dim);
        let v = e.embed("Anything unusual today? 500s on /checkout");
        assert_eq!(v.len(), dim);
        assert_eq!(e.dimension(), dim);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn text_without_features_embeds_to_zeros_at_distance_one() {
    let e = HashedNgrams::default();
    let v = e.embed(" -- // .. ");
    assert!(v.iter().all(|x| *x == 0.0));
    assert_eq!(cosine_distance(&v, &e.embed("login")), 1.0);
}

#[test]
fn repeated_words_count_sublinearly() {
    let e = HashedNgrams::default();
    let once = e.embed("error timeout");
    let many = e.embed("error error error error error error error error timeout");
    // Linear counts would make "timeout" almost vanish from the second vector.
    let timeout = e.embed("timeout");
    let share = 1.0 - cosine_distance(&many, &timeout);
    assert!(share > 0.2, "timeout's share of the repeated text: {share}");
    assert!(cosine_distance(&once, &many) < 0.5);
}

//! Every example's flow runs against an embedded relay-mock (what `cargo run --example NAME`
//! does without `SIGNALWIRE_*` variables), so CI proves they work, not only that they build.

#[allow(dead_code)]
#[path = "../examples/consumer.rs"]
mod consumer;

macro_rules! runs {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            if let Err(e) = $name::support::run($name::support::Backend::Mock, $name::run).await {
                panic!("example {} failed: {e}", stringify!($name));
            }
        }
    )*};
}

runs!(consumer);
